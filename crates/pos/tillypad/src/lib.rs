//! posgate's POS adapter for Tillypad XL: pays a guest tab with `POST /pay-guest`, optionally
//! redeeming bonus points, and answers the `posgate.v1.PosAdapter` gRPC contract.
//!
//! Built to the vendor's documentation (Tillypad help "Оплата гостевого счета", seed 003), not
//! to posgate's simulator: independent Tillypad implementations word errors differently, in
//! Russian or English, and answer with different HTTP statuses, so errors are classified by
//! one table of text fragments ([`classify`]) and the raw text is always kept.
//!
//! # Modules
//! - [`connector`]: [`TillypadConnector`], Tillypad as the adapter kit's `PosConnector` (the
//!   kit's `AdapterServer` serves it as the `posgate.v1.PosAdapter` gRPC contract).
//! - [`settings`]: a restaurant's settings, read from its connection; [`SETTINGS`] is the one
//!   table of them.
//! - [`client`]: the `/pay-guest` HTTP client (fresh connection per call, lenient answers).
//! - [`classify`]: the one table that maps Tillypad error texts to posgate's six substates.
//! - [`wire`]: the request body and lenient answer parsing (money never through floats).
//!
//! # Running
//! `posgate-tillypad --config posgate.toml` (or `POSGATE_CONFIG=posgate.toml`; `posgate up`
//! and `posgate serve tillypad` run the same) reads only where to listen and `[auth]`:
//!
//! ```toml
//! [tillypad]
//! listen = "127.0.0.1:50063"            # default; POSGATE_TILLYPAD__LISTEN overrides it
//! ```
//!
//! The adapter keeps no restaurants (a `[tillypad.restaurants]` section is refused): they are
//! declared in posgate's registry, and the payment service sends a restaurant's connection
//! with every call, so any replica serves any restaurant. Logging follows `RUST_LOG`.
//!
//! # A restaurant's connection
//! `connection.currency_scale` is the restaurant's scale; `connection.settings` (text, read as
//! the environment's: `"2"`, `"true"`) are the rows of [`SETTINGS`], each described there once
//! (the URL, `ca_pem`, the default pay and points types, the prepaid pay type, the points
//! field, the `delete-prechecks` mode of a first posting, the connect and request timeouts).
//!
//! Tillypad takes no credentials: `connection.secrets` must be empty. Any other name (e.g. the
//! retired static `ca_file`, `currency_scale`) is refused. A bad connection is
//! `INVALID_ARGUMENT` `connection: setting "<name>" ...`, naming the setting and never quoting
//! a value. What is built from a connection (the checked settings, the HTTP client) is kept
//! while it is unchanged. `Describe` lists the settings (name, required, secret, description).
//!
//! # `delete-prechecks` (Tillypad's documented meaning)
//! - `0` — don't delete: the points discount applies only to the part of the tab not yet sent
//!   to payment (items already in a precheck get no discount). If every item is already in a
//!   precheck, Tillypad answers «Счет уже передан в оплату» (→ `BILL_IN_USE`).
//! - `1` — delete all prechecks: the discount applies to the whole tab. If any precheck is
//!   «Оплачен» (paid), Tillypad answers that the tab is already paid (→ `OTHER_ERROR`).
//! - `2` — delete unpaid prechecks: prechecks whose payment has not started are cancelled;
//!   the others are deleted if they have no receipts. Suits a tab whose bill was printed (a
//!   QR on the precheck) and is then paid online.
//!
//! The adapter always sends the flag explicitly. Which mode:
//! - the **first** posting of a payment (`PostPaymentRequest.attempt` 1, or 0 = not told):
//!   `pos_options.delete_prechecks`, else the restaurant's `delete_prechecks`;
//! - a **retry** (`attempt` ≥ 2, after Tillypad refused with e.g. `BILL_IN_USE` or
//!   `WRONG_REQUEST_SUM`, or could not be reached): `pos_options.retry_delete_prechecks`,
//!   else `0` (keep).
//!
//! Why: modes 1 and 2 cancel the cashier's prechecks. A refusal means someone is working on
//! the tab (a precheck in payment at a terminal, the tab open at a station, a changed
//! total); re-posting with mode 1/2 on every retry (25 times in 2 minutes were seen) would
//! cancel whatever the cashier prints again and again. With mode 0 a retry pays once the
//! cashier has released the tab or left items outside prechecks; while everything is in a
//! precheck Tillypad keeps answering «Счет уже передан в оплату» (`BILL_IN_USE`), and when
//! the retries run out the payment waits for a person — who can pay it with an explicit
//! mode. A caller that wants retries to cancel prechecks anyway says so per payment with
//! `retry_delete_prechecks`.
//!
//! # PostPayment
//! `POST <base_url>/pay-guest?delete-prechecks=N`, `Content-Type: application/json`:
//! `{"Payment": {"gest_ID": <bill_id>, "paySum": <amount>, "payType_ID": <pay type>},
//!   "DiscountSum": {"type_ID": <points type>, "sum": <points>}}`.
//!
//! - `bill_id` is the tab's `gest_ID` (a GUID; braces are dropped).
//! - `amount` is `paySum`, the money paid. Tillypad requires it to equal the tab's total less
//!   the points; the adapter cannot read the tab to check (there is no read call), so
//!   Tillypad checks it (→ `WRONG_REQUEST_SUM`).
//! - `points` (decimal string, empty/0 = none) becomes `DiscountSum.sum`; `type_ID` from
//!   `pos_options.points_type_id`, else `default_points_type_id`, else left out.
//! - The pay type: `pos_options.pay_type_id` (a GUID, or `"prepaid"` = send no `payType_ID`
//!   and let Tillypad use the tab's prepaid pay type), else the tenders' `tender_id` (one pay
//!   type per payment: several different ids are `INVALID_ARGUMENT`), else
//!   `default_pay_type_id`, else the tab's prepaid pay type when `allow_prepaid_pay_type`.
//!   With none of them the payment is `REJECTED` `OTHER_ERROR` (`tillypad/no-pay-type`)
//!   **without calling** Tillypad.
//! - Accepted `pos_options` keys: `delete_prechecks` and `retry_delete_prechecks` (`"0"`,
//!   `"1"`, `"2"`), `pay_type_id`, `points_type_id`. Any other key or value is
//!   `INVALID_ARGUMENT` naming `pos_options.<key>`.
//! - Tips cannot be booked (`paySum` must equal the tab); non-zero tips are reported in
//!   `details.tips_not_booked`. `fiscal_data` is not sent. `pos_reference` stays empty:
//!   Tillypad returns no id and the body has no field to stamp posgate's payment id in.
//!
//! Outcomes:
//! - Success (a 2xx with `{DiscountSums, AppliedDiscountSums}`) → `APPLIED`, `bill_closed`
//!   (a successful `/pay-guest` makes the receipt «Оплачен» and closes the tab). `details`:
//!   `delete_prechecks`, `pay_type_id`, `points_requested`, `points_type_id`,
//!   `discount_sums` and `applied_discount_sums` (compact JSON as received),
//!   `points_applied`, and `points_mismatch` — a plain note whenever the points applied
//!   differ from those requested, or `AppliedDiscountSums` is absent (per the docs: the points
//!   discount is not set up) although points were requested. Reported, never hidden: the tab
//!   may be underpaid by the difference.
//! - An error text (a bare JSON string, whatever the HTTP status: 200 and 4xx/5xx alike; also
//!   `{"Message": …}`-style objects and recognised plain-text bodies) → `REJECTED` with the
//!   substate from [`classify`]: sum differs → `WRONG_REQUEST_SUM`; already sent to payment /
//!   precheck printed / tab locked → `BILL_IN_USE`; business day or shift closed →
//!   `CASHIERS_SHIFT_CLOSED`; fiscal printer → `PRINTER_ERROR`; missing pay type, already
//!   paid, tab closed, tab not found (`not_found`), anything unknown → `OTHER_ERROR`. A text
//!   that says Tillypad itself timed out → `UNKNOWN`. `pos_code` is `HTTP/<status>`,
//!   `pos_text` the text verbatim.
//! - Connection refused or connect timeout (nothing sent) → `NOT_APPLIED`.
//! - Timeout, reset or an unreadable body after sending (2xx/5xx with HTML, empty or another
//!   shape) → `UNKNOWN`. A 4xx without an error text → `REJECTED` `OTHER_ERROR`; 429 →
//!   `NOT_APPLIED`. Redirects are never followed (a 3xx → `REJECTED` `OTHER_ERROR`: fix
//!   `base_url`).
//!
//! # The unknown-outcome policy: never post twice, a person decides
//! Tillypad has no documented call to read a guest tab, its receipts or a payment's status,
//! and `/pay-guest` is not idempotent (a second call on a paid tab is refused, on a still-open
//! tab it would pay again). So an unknown outcome cannot be reconciled by reading:
//! - `Describe` reports `cannot_read_bills = true`: the payment service skips its GetBill
//!   amount check (Tillypad enforces the exact sum itself) and, on `UNKNOWN`, hands the
//!   payment to a person (needs attention) instead of re-posting.
//! - `CheckPayment` never writes: it answers `UNKNOWN` with `tillypad/unverifiable` and
//!   evidence telling staff what to look for in Tillypad.
//! - `GetBill` and `ListBills` answer a failure `OTHER_ERROR` `tillypad/unsupported`.
//! - `CloseBill` answers `REJECTED` `OTHER_ERROR` `tillypad/no-close-step`: paying closes the
//!   tab, there is no separate close (`separate_close_step = false`, so the payment service
//!   does not call it).
//!
//! `Describe`: `pos_kind "tillypad"`, `separate_close_step false`, `amount_rule EXACT`,
//! `supports_points true`, `supports_tips false`, `supports_fiscal_data false`,
//! `cannot_read_bills true`, `currency_scale` from the connection, `settings`
//! from [`SETTINGS`].
#![forbid(unsafe_code)]

pub mod classify;
pub mod client;
pub mod connector;
pub mod settings;
pub mod wire;

pub use classify::{Classified, Verdict, classify_text};
pub use connector::{POS_KIND, POS_OPTION_KEYS, PREPAID, TillypadConnector};
pub use settings::{DeletePrechecks, SETTINGS, TillypadSettings};
pub use wire::PointsField;
