//! posgate's POS connector for r_keeper through UCS White Server API v2 ("WSA" tasks), served
//! as the `posgate.v1.PosAdapter` gRPC contract by the adapter kit.
//!
//! - `GetBill`: GetOrder, falling back to GetOrderList for the totals; `ListBills`:
//!   GetOrderList, then GetOrder for each open order.
//! - `PostPayment`: PayOrder, one payment line per tender (in `currency_guid` unless the tender
//!   names its currency), tips as their own line in `tips_currency_guid` (not booked without it).
//! - `CloseBill`: CompleteOrder on agent v2; on agent v1 (there is no CompleteOrder) a read-only
//!   confirmation, since r_keeper closes a v1 order itself once its prepayments cover the total.
//! - `CheckPayment`: GetTaskResponse of the PayOrder's taskGuid, then the order now compared
//!   with the bill read before posting (`posgate_core::pos::judge_posting`). Never posts. With
//!   `awaiting_task` (the caller follows a posting answered `PENDING`): one GetTaskResponse of
//!   the task, read exactly as the posting's own answer.
//!
//! In async mode a caller that follows the task itself (`may_answer_pending`: posgate's payment
//! service) gets `PENDING` and the PayOrder's taskGuid once White Server has the task, and the
//! call holds nothing while the agent works; otherwise the adapter polls until the answer.
//!
//! Stateless: posgate's payment service owns the state and the exactly-once logic, and sends
//! each restaurant's connection with every call.
//!
//! # Modules
//! - [`settings`]: the connection settings table ([`settings::SETTINGS`], what `Describe`
//!   reports) and their reading into [`WsaSettings`].
//! - [`connector`]: [`WsaConnector`], the kit's `PosConnector` for WSA.
//! - [`client`]: the WSA HTTP client (sync and async task modes, polling, lenient answers).
//! - [`classify`] (from `posgate-rkeeper`): the one table that maps WSA errors to posgate's six
//!   substates.
//! - [`wire`]: request bodies and lenient answer parsing (money never through floats).
//!
//! # Connection settings
//! `base_url`, `token` (secret), `object_id`, `agent_version` (`v1` prepayments | `v2` exact
//! payment closes), `currency_guid` are required; `tips_currency_guid`, `ca_pem`,
//! `cash_station_id`, `cashier_id`, `mode` (`async` | `sync`), `task_timeout_s` (1..=180),
//! `poll_interval_ms`, `timeout_margin_ms` are optional. The scale of amounts is
//! `connection.currency_scale`. A bad connection is `INVALID_ARGUMENT`
//! `connection: setting "<name>" ...`, never quoting a value. The token and loyalty card codes
//! are never logged.
//!
//! # Outcomes
//! - `PostPayment`: a `taskResponse` → `APPLIED`; a WSA refusal → `REJECTED` with the substate
//!   and the POS's code (`AgentError/WsaOrderError`) and text verbatim; wsError `Timeout`, no
//!   answer by the deadline, or a transport failure after sending → `UNKNOWN`;
//!   `TaskLimitExceeded`, `InternalError`, connection refused → `NOT_APPLIED`. `pos_reference`
//!   is the PayOrder `taskGuid` whenever known. `PENDING` (async mode, asked for): the task
//!   runs; `poll_interval_ms` is the restaurant's.
//! - `CheckPayment` with `awaiting_task`: the task's answer as above, `PENDING` while it runs
//!   (`AwaitingAnswer`, not stored yet, or a poll that failed in passing), `UNKNOWN` when its
//!   answer cannot be read (a refused poll, an answer about another task).
//! - `CloseBill`, agent v1: `Complited` → `APPLIED`, otherwise `REJECTED` `CLOSE_ORDER_BLOCKED`
//!   (retried by posgate). `Describe` reports `separate_close_step = true`, `UP_TO_DUE` for v1,
//!   and `reconcile_settle_ms` = the task timeout plus the margin.
//!
//! # Running
//! `posgate-wsa --config posgate.toml` reads `[wsa] listen` (default `127.0.0.1:50061`) and
//! `[auth]`; `POSGATE_WSA__LISTEN` overrides it. Logging follows `RUST_LOG` (default `info`).
#![forbid(unsafe_code)]

/// The r_keeper error classifier, shared with the r_k Delivery adapter.
pub use posgate_rkeeper::classify;
pub mod client;
pub mod connector;
pub mod settings;
pub mod wire;

pub use connector::{POS_KIND, WsaConnector};
pub use posgate_rkeeper::{Verdict, classify_rk_text, classify_ws_error};
pub use settings::{AgentVersion, TaskMode, WsaSettings};
