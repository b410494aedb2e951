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
//! - [`reconcile`]: the decision table of `CheckPayment` (below).
//!
//! # Running
//! `posgate-delivery --config posgate.toml` (or `POSGATE_CONFIG=posgate.toml`) reads only
//! `[delivery] listen` (default `127.0.0.1:50062`; `POSGATE_DELIVERY__LISTEN` overrides it) and
//! `[auth]`. Restaurants are declared in the registry, not here: a `[delivery.restaurants]`
//! section is refused. Logging follows `RUST_LOG` (default `info`). The client secret and the
//! tokens are never logged.
//!
//! # Connection settings
//! A restaurant's connection carries `client_secret` among its secrets, everything else among
//! its settings, the currency scale as its own field. What each setting is and its default are
//! written once, in [`settings::SETTINGS`] (what `Describe` reports): the OAuth2 client
//! credentials, the r_keeper currency of the `/pay` lines, the URLs (`auth_url` implied only by
//! the production `base_url`), the `paidAt` offset, what `ListBills` searches, the read and
//! write timeouts (White Server waits ≤ 180 s) and the settle margin, and `ca_pem`.
//!
//! `client_secret_file`, `ca_file` and `currency_scale` (of the retired static sections) are
//! refused with directions. A bad connection is `INVALID_ARGUMENT` `connection: setting
//! "<name>" ...`, never quoting a secret. What is built from a connection (HTTP client, token
//! cache) is kept while it is unchanged.
//!
//! # Outcomes
//! - `GetBill`: `total` is the order's `amount` (after discounts). Status ids below 4 →
//!   `NOT_READY`, 11 → `CLOSED`, 12 → `CANCELED`, every other → `OPEN`. r_k Delivery's
//!   documented answers show **no paid state**: `paid`/`amount_due` come from `payments[]`,
//!   `paidAmount`, `isPaid` or another indicator of [`wire::PAID_STATE_KEYS`] when an answer
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
//! - `CheckPayment` never posts; it decides by the table below.
//! - `ListBills`: the order search with `includeStatusIds` 4–10 and 13 (repeated parameter),
//!   `fromDate` = now − `list_lookback_hours`, filtered by `restaurant_guid` and the table
//!   (`tableCode`); if r_k Delivery has no search (404/405/501) or `list_bills = false`: an
//!   empty list with a failure saying so.
//!
//! # Deciding an unknown outcome (`CheckPayment`)
//! A `/pay` whose answer was lost, or that timed out inside r_k Delivery
//! (`ERR_EXTERNAL_ERROR_WS` "Request timed out"), is decided here rather than handed to a
//! person hours later. The order is read (`GET .../orders/{id}`) and every indicator it carries
//! is used (status id; without one a closed flag, `completedAt`/`closedAt` or the status name;
//! `payments[]`, a paid amount, an amount due, a paid flag or a payment status, under the
//! names in [`wire::PAID_STATE_KEYS`]). When the order does not tell and the payment asked to
//! close (`CheckPaymentRequest.close`; the payment service closes after paying), `/complete`
//! is a safe probe: r_keeper completes only a fully paid order. One table,
//! [`reconcile::decide`], first matching row wins:
//!
//! | # | evidence | outcome |
//! |---|---|---|
//! | 1 | the order cannot be read | `UNKNOWN` (the read failure attached) |
//! | 2 | paid state: paid grew by ≥ the amount (a payment of 0: a payment line or a paid flag) | `APPLIED`, `bill_closed` if the order is completed |
//! | 3 | paid state: changed by another amount, or nothing to compare with | `UNKNOWN` (a foreign change: a person decides) |
//! | 4 | completed since the read before posting (r_k Delivery completes only paid orders) | `APPLIED` + `bill_closed` |
//! | 5 | paid state: unchanged, nothing paid, paid flag false | `NOT_APPLIED` |
//! | 6 | cancelled, no paid state | `UNKNOWN` |
//! | 7 | open, no paid state, the payment did not ask to close | `UNKNOWN` |
//! | 7′ | open, no paid state, close asked | ask `/complete`, then rows 8–10 |
//! | 8 | `/complete` succeeded (or was refused and the order is completed after all) | `APPLIED` + `bill_closed` |
//! | 9 | `/complete` refused as not fully paid: `rk7_close_order` naming no other reason, r_keeper `[3071]`, or a not-paid text in any of RU/UK/EN ([`classify::says_not_paid`]) | `NOT_APPLIED` (the `/complete` failure attached) |
//! | 10 | `/complete` failed otherwise: timeout, lock, shift, printer, kitchen tickets, 5xx, HTML page, no connection | `UNKNOWN` (asked again at the next check) |
//!
//! Rows 2, 3 and 5 compare the paid amount before and after by the one "was it applied?"
//! comparison every POS uses ([`posgate_core::pos::judge_posting`]); what only r_k Delivery
//! has (no paid state at all, a payment of 0, completion as proof, the `/complete` probe) is
//! this table's.
//!
//! `NOT_APPLIED` is believed by the payment service only after the settle time, so a late
//! apply (the next check's `/complete` then succeeds, row 8) is never followed by a second
//! `/pay`.
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
