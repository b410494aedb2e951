//! posgate's POS adapter for r_k Delivery (`delivery.ucs.ru`): website and delivery orders
//! that reached the r_keeper cash register are paid (`PUT …/pay`) and then closed
//! (`PUT …/complete`) in both r_keeper and r_k Delivery.
//!
//! [`DeliveryConnector`] is its `PosConnector`, served by the adapter kit's one
//! `posgate.v1.PosAdapter` server: `Describe`, `GetBill` (`GET /orders/api/v1/orders/{orderId}`),
//! `ListBills` (the order search), `PostPayment` (`/pay`), `CloseBill` (`/complete`) and
//! `CheckPayment` (the order read again and compared with the bill read before posting;
//! `/complete` as a probe when the order does not tell). Stateless apart from each restaurant's
//! cached OAuth2 token: posgate's payment service owns the state and the exactly-once logic,
//! and sends each restaurant's connection with every call, so any replica serves any
//! restaurant.
//!
//! # Modules
//! - [`settings`]: a restaurant's settings, named once in [`settings::SETTINGS`] (what
//!   `Describe` reports), read from its connection.
//! - [`connector`]: [`DeliveryConnector`]: the five calls, orders as bills.
//! - [`client`]: the HTTP client (bearer token from the kit's OAuth2 client credentials
//!   (`posgate_pos_kit::oauth`), one refresh on 401, timeouts per call kind).
//! - [`classify`]: the table that maps r_k Delivery answers to posgate's outcomes; r_keeper's
//!   texts inside them go through the one shared classifier, [`classify_rk_text`].
//! - [`wire`]: the `/pay` body and lenient reading of orders and errors (money never through
//!   floats); every paid/closed indicator an order may carry.
//! - [`reconcile`]: the decision table of `CheckPayment`.
//!
//! # Running
//! `posgate-delivery` is the kit's adapter process ([`posgate_pos_kit::run`]): its section is
//! `[delivery]`, listening on `127.0.0.1:50062` by default. The client secret and the tokens are
//! never logged.
//!
//! # Connection settings
//! What a connection carries, and what it must not, is written once in [`settings`] (what
//! `Describe` reports). A bad connection is `INVALID_ARGUMENT` `connection: setting "<name>" ...`,
//! never quoting a secret; what is built from a connection (HTTP client, token cache) is kept
//! while it is unchanged.
//!
//! # Outcomes
//! - `GetBill`: `total` is the order's `amount` (after discounts). Status ids below 4 →
//!   `NOT_READY`, 11 → `CLOSED`, 12 → `CANCELED`, every other → `OPEN`. r_k Delivery's
//!   documented answers show **no paid state**: `paid`/`amount_due` come from `payments[]`,
//!   `paidAmount`, `isPaid` or another indicator of [`wire::paid_state_keys`] when an answer
//!   has them (the simulator does); otherwise an open order counts as unpaid
//!   (`amount_due = amount`) and a completed one as paid.
//! - `PostPayment` reads the order first: below status 4 → `NOT_APPLIED` (not in r_keeper yet;
//!   auto-accept may move it; `/pay` is not called); 11/12 → `REJECTED` `OTHER_ERROR`. Then
//!   one `/pay` line per tender (default: the restaurant's currency), `paidAt` now with
//!   `utc_offset`. 2xx → `APPLIED` (`bill_closed = false`: `/complete` closes); an r_keeper
//!   refusal → `REJECTED` with its substate; "Request timed out", HTTP timeouts, 5xx and a
//!   connection lost after sending → `UNKNOWN`; no connection, 429, auth server down →
//!   `NOT_APPLIED`. `pos_reference` is r_k Delivery's `requestId` when it gave one (error
//!   body or `x-request-id`); failure texts carry it too.
//! - `CloseBill`: an order already completed → `APPLIED` (idempotent); `/complete` of an
//!   unpaid order (`rk7_close_order` "not fully paid") → `REJECTED` `CLOSE_ORDER_BLOCKED`.
//! - `Describe.reconcile_settle_ms` = `write_timeout_ms` + `settle_margin_ms`: how long an
//!   unanswered `/pay` may still be applied by r_k Delivery and White Server.
//! - `CheckPayment` never posts. A `/pay` whose answer was lost, or that timed out inside
//!   r_k Delivery (`ERR_EXTERNAL_ERROR_WS` "Request timed out"), is decided by one table rather
//!   than handed to a person hours later: [`reconcile`] lists its rows.
//! - `ListBills`: the order search with `includeStatusIds` 4–10 and 13 (repeated parameter),
//!   `fromDate` = now − `list_lookback_hours`, filtered by `restaurant_guid` and the table
//!   (`tableCode`); if r_k Delivery has no search (404/405/501) or `list_bills = false`: an
//!   empty list with a failure saying so.
#![forbid(unsafe_code)]

pub mod classify;
pub mod client;
pub mod connector;
pub mod reconcile;
pub mod settings;
pub mod wire;

pub use connector::{DeliveryConnector, POS_KIND};
pub use posgate_rkeeper::{Verdict, classify_rk_text};
pub use settings::DeliverySettings;
