//! posgate's POS adapter for r_keeper through UCS White Server API v2 ("WSA" tasks).
//!
//! Serves the `posgate.v1.PosAdapter` gRPC contract: `Describe`, `GetBill` (GetOrder, falling
//! back to GetOrderList for totals), `PostPayment` (PayOrder), `CloseBill` (CompleteOrder on
//! agent v2; a read-only confirmation on agent v1) and `CheckPayment` (GetTaskResponse, then
//! the order compared with the bill read before posting). Stateless: posgate's payment service
//! owns the state and the exactly-once logic.
//!
//! # Modules
//! - [`config`]: settings per restaurant; [`load_config`] reads TOML + environment.
//! - [`connection`]: a restaurant sent with each call (`PosConnection`), read into the same
//!   settings; the one table of connection settings that `Describe` reports.
//! - [`client`]: the WSA HTTP client (sync and async task modes, polling, lenient answers).
//! - [`classify`] (from `posgate-rkeeper`): the one table that maps WSA errors to posgate's six substates.
//! - [`wire`]: request bodies and lenient answer parsing (money never through floats).
//! - [`service`]: the gRPC service [`WsaAdapter`] and [`serve`].
//!
//! # Configuration
//! `posgate-wsa --config posgate.toml` (or `POSGATE_CONFIG=posgate.toml`) reads:
//!
//! ```toml
//! [wsa]
//! listen = "127.0.0.1:50061"            # default
//!
//! [wsa.restaurants.demo]                # "demo" = posgate's restaurant_id
//! base_url = "https://ws.ucs.ru"        # + /wsserverlp/api/v2/aggregators/Create
//! token = "..."                         # AggregatorAuthentication, sent raw; or:
//! # token_file = "/run/secrets/wsa_token"
//! object_id = 199990246                 # restaurant code in UCS licensing
//! agent_version = "v2"                  # "v1" (prepayments) | "v2" (exact payment closes)
//! currency_guid = "{...}"               # r_keeper currency GUID for payments
//! # tips_currency_guid = "{...}"        # if set, tips are a separate payment line; else not booked
//! # ca_file = "/etc/posgate/wsa-ca.pem"  # the POS server's own CA (PEM); or ca_pem = "..." inline
//! # currency_scale = 2
//! # cash_station_id = 3
//! # cashier_id = 12
//! # mode = "async"                      # "async" (submit + poll GetTaskResponse) | "sync"
//! # task_timeout_s = 120                # params.<mode>.timeout, clamped to 1..=180
//! # poll_interval_ms = 500
//! # timeout_margin_ms = 5000            # extra wait on top of task_timeout_s
//! ```
//!
//! Every key can be overridden from the environment with the prefix `POSGATE_WSA__` and `__`
//! between nesting levels, e.g. `POSGATE_WSA__LISTEN=0.0.0.0:50061`,
//! `POSGATE_WSA__RESTAURANTS__DEMO__TOKEN=...`. Logging follows `RUST_LOG` (default `info`).
//! The token and loyalty card codes are never logged.
//!
//! # Restaurants sent with each call
//! A request that carries `connection` is served from it alone (settings and secrets by
//! [`connection::SETTINGS`], the scale from `connection.currency_scale`), whether or not the
//! restaurant is also configured here; what is built from it (checked settings, HTTP client)
//! is kept while the connection is unchanged. A bad connection is `INVALID_ARGUMENT`
//! `connection: setting "<name>" ...`. Without `connection`, `[wsa.restaurants]` is used.
//!
//! # Outcomes
//! - `PostPayment`: a `taskResponse` → `APPLIED`; a WSA refusal → `REJECTED` with the
//!   substate and the POS's code (`AgentError/WsaOrderError`) and text verbatim; wsError
//!   `Timeout`, no answer by the deadline, or a transport failure after sending → `UNKNOWN`;
//!   `TaskLimitExceeded`, `InternalError`, connection refused → `NOT_APPLIED`.
//!   `pos_reference` is the PayOrder `taskGuid` whenever known.
//! - `CloseBill`, agent v1: there is no CompleteOrder on v1 (a v2-only method); r_keeper
//!   closes a v1 order itself once its prepayments cover the total. CloseBill therefore only
//!   reads the order: `Complited` → `APPLIED`, otherwise `REJECTED` `CLOSE_ORDER_BLOCKED`
//!   (retried by posgate). `Describe` reports `separate_close_step = true`, `UP_TO_DUE`.
#![forbid(unsafe_code)]

/// The r_keeper error classifier, shared with the r_k Delivery adapter.
pub use posgate_rkeeper::classify;
pub mod client;
pub mod config;
pub mod connection;
pub mod service;
pub mod wire;

pub use config::{AgentVersion, TaskMode, WsaAdapterConfig, WsaRestaurant, load_config};
pub use posgate_rkeeper::{Verdict, classify_rk_text, classify_ws_error};
pub use service::{POS_KIND, WsaAdapter, serve};
