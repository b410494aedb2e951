//! posgate's POS adapter for r_k Delivery (`delivery.ucs.ru`): website and delivery orders
//! that reached the r_keeper cash register are paid (`PUT …/pay`) and then closed
//! (`PUT …/complete`) in both r_keeper and r_k Delivery.
//!
//! Serves the `posgate.v1.PosAdapter` gRPC contract: `Describe`, `GetBill`
//! (`GET /orders/api/v1/orders/{orderId}`), `ListBills` (the order search), `PostPayment`
//! (`/pay`), `CloseBill` (`/complete`) and `CheckPayment` (the order read again and compared
//! with the bill read before posting; `/complete` as a probe when the order does not tell).
//! Stateless apart from each restaurant's cached OAuth2 token: posgate's payment service owns
//! the state and the exactly-once logic. A request carrying a `connection` (the restaurant's
//! settings from the payment service's registry) is served from it, so any replica serves any
//! restaurant; without one, the static `[delivery.restaurants.<id>]` section names it.
//!
//! # Modules
//! - [`config`]: settings per restaurant, named once in [`config::SETTINGS`] (what `Describe`
//!   reports); [`load_config`] reads TOML + environment, [`DeliveryRestaurant::from_connection`]
//!   a request's connection.
//! - [`auth`]: OAuth2 client credentials, the token cached until shortly before it expires.
//! - [`client`]: the HTTP client (bearer token, one refresh on 401, timeouts per call kind).
//! - [`classify`]: the table that maps r_k Delivery answers to posgate's outcomes; r_keeper's
//!   texts inside them go through the one shared classifier, [`classify_rk_text`].
//! - [`wire`]: the `/pay` body and lenient reading of orders and errors (money never through
//!   floats); every paid/closed indicator an order may carry.
//! - [`reconcile`]: the decision table of `CheckPayment` (below).
//! - [`service`]: the gRPC service [`DeliveryAdapter`] and [`serve`].
//!
//! # Configuration
//! `posgate-delivery --config posgate.toml` (or `POSGATE_CONFIG=posgate.toml`) reads:
//!
//! ```toml
//! [delivery]
//! listen = "127.0.0.1:50062"                 # default
//!
//! [delivery.restaurants.dl]                  # "dl" = posgate's restaurant_id
//! base_url = "https://delivery.ucs.ru"       # default; + /orders/api/v1/orders/...
//! # auth_url = "https://auth-delivery.ucs.ru" # + /connect/token; implied only by the production
//!                                            # base_url, required for any other
//! client_id = "..."
//! client_secret = "..."                      # or: client_secret_file = "/run/secrets/dl"
//! currency_guid = "16D72549-14D8-4F31-9E2A-0A833D4F5EED"  # r_keeper currency of /pay lines
//! # currency_name = ""                       # `name` of the /pay lines
//! # currency_scale = 2                      # a connection carries its own currency_scale
//! # ca_file = "/etc/posgate/dl-ca.pem"       # or ca_pem = "-----BEGIN CERTIFICATE-----..."
//! # utc_offset = "+03:00"                    # offset `paidAt` is written in (default +00:00)
//! # scopes = "orders"
//! # restaurant_guid = "..."                  # r_k Delivery restaurantId: ListBills filter
//! # list_bills = true
//! # list_lookback_hours = 24
//! # read_timeout_ms = 30000                  # GET and the token request
//! # write_timeout_ms = 190000                # /pay and /complete (White Server waits ≤ 180 s)
//! # settle_margin_ms = 30000                 # Describe.reconcile_settle_ms = write_timeout_ms + this
//! ```
//!
//! Every key can be overridden from the environment with the prefix `POSGATE_DELIVERY__` and
//! `__` between nesting levels, e.g. `POSGATE_DELIVERY__RESTAURANTS__DL__CLIENT_SECRET=...`.
//! Logging follows `RUST_LOG` (default `info`). The client secret and the tokens are never
//! logged.
//!
//! A `connection` carries the same settings as text (`client_secret` among its secrets,
//! `currency_scale` as its own field); `client_secret_file` and `ca_file` name files on the
//! adapter's host and are refused there (`ca_pem` carries the bundle inline). A bad one is
//! `INVALID_ARGUMENT` `connection: setting "<name>" ...`, never quoting a value. What is built
//! from a connection (HTTP client, token cache) is kept while it is unchanged.
//!
//! # Outcomes
//! - `GetBill`: `total` is the order's `amount` (after discounts). Status ids below 4 →
//!   `NOT_READY`, 11 → `CLOSED`, 12 → `CANCELED`, every other → `OPEN`. r_k Delivery's
//!   documented answers show **no paid state**: `paid`/`amount_due` come from `payments[]`,
//!   `paidAmount`, `isPaid` or another indicator of [`wire::PAID_STATE_KEYS`] when an answer
//!   has them (the simulator does); otherwise an open
//!   order counts as unpaid (`amount_due = amount`) and a completed one as paid.
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
//! `NOT_APPLIED` is believed by the payment service only after the settle time, so a late
//! apply (the next check's `/complete` then succeeds, row 8) is never followed by a second
//! `/pay`.
#![forbid(unsafe_code)]

pub mod auth;
pub mod classify;
pub mod client;
pub mod config;
pub mod reconcile;
pub mod service;
pub mod wire;

pub use config::{DeliveryAdapterConfig, DeliveryRestaurant, load_config};
pub use posgate_rkeeper::{Verdict, classify_rk_text};
pub use service::{DeliveryAdapter, POS_KIND, serve};
