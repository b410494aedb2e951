//! Data model of the r_k Delivery simulator (API clients, restaurants, orders, faults, ledger).
//!
//! All types (de)serialise with **snake_case** field names (the Rust names); money is a
//! [`Decimal`] written as a string (`"1290.00"`) and read from a string or a JSON number.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::util::decimal as dec;

/// Language of the r_keeper (`RkInternal: ...`) texts and of the status names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

/// An API client (an "order source") allowed to take OAuth2 client-credentials tokens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimClient {
    pub client_id: String,
    pub client_secret: String,
    /// `expires_in` of the tokens issued to this client, in seconds.
    #[serde(default = "default_lifetime")]
    pub token_lifetime_s: u64,
}

fn default_lifetime() -> u64 {
    3600
}

impl SimClient {
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        SimClient {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_lifetime_s: default_lifetime(),
        }
    }

    /// Builder: a short token lifetime, to exercise refreshing.
    pub fn with_token_lifetime_s(mut self, s: u64) -> Self {
        self.token_lifetime_s = s;
        self
    }
}

/// A restaurant of the corporation, with its r_keeper currencies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRestaurant {
    /// r_k Delivery `restaurantId` (a GUID).
    pub restaurant_id: String,
    #[serde(default)]
    pub name: String,
    /// r_keeper currency GUIDs accepted by `/pay` (`code`).
    #[serde(default)]
    pub currencies: Vec<String>,
    #[serde(default)]
    pub language: Lang,
    /// Whether the order JSON shows the simulator's paid-state extension (`payments[]`,
    /// `isPaid`). `false` plays the documented API, which shows no paid state.
    #[serde(default = "yes")]
    pub expose_payments: bool,
    /// Auto-accept: orders created through the API move from New (1) to Transferred to the
    /// kitchen (4) after this many milliseconds. `None`: an operator moves them.
    #[serde(default)]
    pub auto_accept_ms: Option<u64>,
    /// Cash station number used in r_keeper texts.
    #[serde(default = "default_station")]
    pub cash_station: i64,
}

fn yes() -> bool {
    true
}

fn default_station() -> i64 {
    15
}

impl SimRestaurant {
    /// A restaurant with one currency, Russian texts, paid state exposed, no auto-accept.
    pub fn new(restaurant_id: impl Into<String>, currency_guid: impl Into<String>) -> Self {
        SimRestaurant {
            restaurant_id: restaurant_id.into(),
            name: String::new(),
            currencies: vec![currency_guid.into()],
            language: Lang::Ru,
            expose_payments: true,
            auto_accept_ms: None,
            cash_station: default_station(),
        }
    }

    pub fn with_language(mut self, l: Lang) -> Self {
        self.language = l;
        self
    }

    pub fn with_expose_payments(mut self, on: bool) -> Self {
        self.expose_payments = on;
        self
    }
}

/// Order status ids (`orderStatusId`), fixed by r_k Delivery; names are per corporation.
pub mod status {
    pub const NEW: u8 = 1;
    pub const CONFIRMED: u8 = 2;
    pub const TAKEN: u8 = 3;
    /// The order is in r_keeper from here on and can be paid.
    pub const TRANSFERRED_TO_KITCHEN: u8 = 4;
    pub const BEING_PREPARED: u8 = 5;
    pub const READY: u8 = 6;
    pub const ASSEMBLY: u8 = 7;
    pub const ASSEMBLED: u8 = 8;
    pub const WITH_COURIER: u8 = 9;
    pub const IN_TRANSIT: u8 = 10;
    /// Terminal: paid and handed over.
    pub const COMPLETED: u8 = 11;
    /// Terminal; reachable from any status.
    pub const CANCELLED: u8 = 12;
    pub const DELIVERED: u8 = 13;

    /// Every id, in flow order (13 sits between 10 and 11).
    pub const ALL: [u8; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 11, 12];

    pub fn is_final(id: u8) -> bool {
        id == COMPLETED || id == CANCELLED
    }

    /// Whether the order is in r_keeper (transferred to the kitchen or later, not final).
    pub fn in_pos(id: u8) -> bool {
        id >= TRANSFERRED_TO_KITCHEN && !is_final(id)
    }

    pub fn is_known(id: u8) -> bool {
        ALL.contains(&id)
    }
}

/// An r_k Delivery order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOrder {
    /// Numeric string id used in paths. Empty = generated (sequential) when added.
    #[serde(default)]
    pub order_id: String,
    /// Internal uuid (`id`). Empty = generated.
    #[serde(default)]
    pub id: String,
    /// r_k Delivery restaurant GUID. Empty = the first restaurant, when added.
    #[serde(default)]
    pub restaurant_id: String,
    #[serde(default = "new_status")]
    pub status_id: u8,
    /// Amount to pay (after discounts).
    #[serde(with = "dec")]
    pub amount: Decimal,
    /// Amount before discounts; `None` = `amount`.
    #[serde(default, with = "opt_dec")]
    pub full_amount: Option<Decimal>,
    #[serde(default)]
    pub table_code: String,
    /// `delivery` | `pickup`.
    #[serde(default = "pickup")]
    pub expedition_type: String,
    #[serde(default)]
    pub dishes: Vec<SimDish>,
    /// Applied `/pay` lines.
    #[serde(default)]
    pub payments: Vec<SimPayment>,
    /// Auto-accept: New → Transferred to the kitchen this many ms after the order was added.
    #[serde(default)]
    pub auto_advance_ms: Option<u64>,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
}

fn new_status() -> u8 {
    status::NEW
}

fn pickup() -> String {
    "pickup".into()
}

impl SimOrder {
    /// An order of `amount` at `status_id`, no dishes, for the first restaurant.
    pub fn new(status_id: u8, amount: Decimal) -> Self {
        SimOrder {
            order_id: String::new(),
            id: String::new(),
            restaurant_id: String::new(),
            status_id,
            amount,
            full_amount: None,
            table_code: String::new(),
            expedition_type: pickup(),
            dishes: Vec::new(),
            payments: Vec::new(),
            auto_advance_ms: None,
            created_at: String::new(),
            updated_at: String::new(),
            completed_at: None,
        }
    }

    pub fn with_order_id(mut self, id: impl Into<String>) -> Self {
        self.order_id = id.into();
        self
    }

    pub fn with_restaurant(mut self, restaurant_id: impl Into<String>) -> Self {
        self.restaurant_id = restaurant_id.into();
        self
    }

    pub fn with_table(mut self, table: impl Into<String>) -> Self {
        self.table_code = table.into();
        self
    }

    pub fn with_dish(mut self, d: SimDish) -> Self {
        self.dishes.push(d);
        self
    }

    pub fn with_full_amount(mut self, full: Decimal) -> Self {
        self.full_amount = Some(full);
        self
    }

    /// Builder: auto-accept after `ms` milliseconds.
    pub fn auto_advance_after_ms(mut self, ms: u64) -> Self {
        self.auto_advance_ms = Some(ms);
        self
    }

    /// Sum of the applied `/pay` lines.
    pub fn paid(&self) -> Decimal {
        self.payments
            .iter()
            .fold(Decimal::ZERO, |a, p| a.saturating_add(p.amount))
    }

    /// Paid in full: at least one `/pay` line and nothing left to pay.
    pub fn is_paid(&self) -> bool {
        !self.payments.is_empty() && self.paid() >= self.amount
    }

    /// What is still to pay (never negative).
    pub fn due(&self) -> Decimal {
        self.amount.saturating_sub(self.paid()).max(Decimal::ZERO)
    }
}

impl Default for SimOrder {
    fn default() -> Self {
        SimOrder::new(status::NEW, Decimal::ZERO)
    }
}

/// A dish line (`dishList[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimDish {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(with = "dec")]
    pub price: Decimal,
    #[serde(with = "dec")]
    pub quantity: Decimal,
}

impl SimDish {
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        price: Decimal,
        quantity: Decimal,
    ) -> Self {
        SimDish {
            id: id.into(),
            name: name.into(),
            price,
            quantity,
        }
    }
}

/// One applied `/pay` line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimPayment {
    /// Currency GUID (`code`).
    pub code: String,
    #[serde(with = "dec")]
    pub amount: Decimal,
    #[serde(default)]
    pub paid_at: String,
    #[serde(default)]
    pub name: String,
}

/// What a ledger entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerKind {
    /// A `/pay` that was applied.
    Pay,
    /// A `/complete` that closed the order.
    Complete,
}

/// One applied write, in order: the ground truth for "exactly once".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub kind: LedgerKind,
    pub order_id: String,
    /// Sum of the lines (`Pay`); zero for `Complete`.
    #[serde(with = "dec")]
    pub amount: Decimal,
    /// The `/pay` lines (`Pay`).
    #[serde(default)]
    pub lines: Vec<SimPayment>,
    /// `requestId` of the HTTP exchange that applied it.
    pub request_id: String,
}

/// API endpoints, as named in faults and request counters.
pub mod endpoint {
    pub const TOKEN: &str = "token";
    pub const GET_ORDER: &str = "get_order";
    pub const SEARCH_ORDERS: &str = "search_orders";
    pub const CREATE_ORDER: &str = "create_order";
    pub const PAY: &str = "pay";
    pub const COMPLETE: &str = "complete";
}

/// A fault-injection rule. `order_id` `None` = any order; `endpoint` `None` = `pay` and
/// `complete` for r_keeper faults ([`FaultKind::is_order_state`]; `complete` only for
/// `CloseBlocked`), `pay` for the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    pub kind: FaultKind,
    /// How many matching requests it affects; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Fault {
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            order_id: None,
            endpoint: None,
            kind,
            times: None,
        }
    }

    pub fn for_order(mut self, order_id: impl Into<String>) -> Self {
        self.order_id = Some(order_id.into());
        self
    }

    /// One of [`endpoint`]'s names.
    pub fn for_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// What a fault does. JSON: unit variants are strings (`"ShiftClosed"`), the others objects
/// (`{"Latency": {"delay_ms": 500}}`).
///
/// *r_keeper faults* (`BillLocked`, `ShiftClosed`, `PrinterError`, `CloseBlocked`) answer
/// `ERR_EXTERNAL_ERROR_WS` with a `WS Error: ... RkInternal: ...` text in the restaurant's
/// language; they are checked where r_keeper would check them and count down only when they
/// fire. The others act when the request arrives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    /// The order is open on a cash station.
    BillLocked,
    ShiftClosed,
    PrinterError,
    /// Kitchen tickets not printed: `/complete` is refused.
    CloseBlocked,
    /// `ERR_EXTERNAL_ERROR_WS` "Request timed out"; nothing applied.
    RequestTimedOut,
    /// Applied in r_keeper, but r_k Delivery answers "Request timed out".
    TimedOutButApplied,
    /// Applied, then the connection drops before the answer is complete.
    AnswerLost,
    /// Applied at once, answered after `delay_ms` (the client may give up before).
    AnswerDelayed {
        delay_ms: u64,
    },
    /// Waits `delay_ms` before handling the request (the WSA round-trip); still applied
    /// after the wait even if the client gave up.
    Latency {
        delay_ms: u64,
    },
    /// HTTP 503 with an HTML body from a proxy; nothing applied.
    Unavailable,
    /// HTTP 429; nothing applied.
    RateLimited,
    /// HTTP 500 `ERR_INTERNAL_SERVER_ERROR`; nothing applied.
    InternalError,
    /// HTTP 307 to `location` instead of an answer; nothing applied (a moved server or a
    /// misconfigured proxy).
    Redirect {
        location: String,
    },
}

impl FaultKind {
    /// One example of every kind, with what it does (the control API index).
    pub fn examples() -> Vec<(FaultKind, &'static str)> {
        use FaultKind::*;
        vec![
            (
                BillLocked,
                "r_keeper: the order is open on a cash station (ERR_EXTERNAL_ERROR_WS)",
            ),
            (ShiftClosed, "r_keeper: the cashier's shift is closed"),
            (PrinterError, "r_keeper: the fiscal printer fails"),
            (
                CloseBlocked,
                "r_keeper: kitchen tickets not printed; /complete is refused",
            ),
            (
                RequestTimedOut,
                "ERR_EXTERNAL_ERROR_WS \"Request timed out\"; nothing applied",
            ),
            (
                TimedOutButApplied,
                "applied in r_keeper, but r_k Delivery answers \"Request timed out\"",
            ),
            (
                AnswerLost,
                "applied, then the connection drops before the answer is complete",
            ),
            (
                AnswerDelayed { delay_ms: 500 },
                "applied at once, answered after delay_ms",
            ),
            (
                Latency { delay_ms: 500 },
                "waits delay_ms before handling the request; applied after the wait even if the client gave up",
            ),
            (
                Unavailable,
                "HTTP 503 with an HTML body from a proxy; nothing applied",
            ),
            (RateLimited, "HTTP 429; nothing applied"),
            (
                InternalError,
                "HTTP 500 ERR_INTERNAL_SERVER_ERROR; nothing applied",
            ),
            (
                Redirect {
                    location: "http://elsewhere.invalid/orders".into(),
                },
                "HTTP 307 to location instead of an answer; nothing applied",
            ),
        ]
    }

    /// r_keeper faults are checked inside `/pay` and `/complete`.
    pub fn is_order_state(&self) -> bool {
        matches!(
            self,
            FaultKind::BillLocked
                | FaultKind::ShiftClosed
                | FaultKind::PrinterError
                | FaultKind::CloseBlocked
        )
    }
}

/// `Option<Decimal>` as an optional string, read from a string or a number.
pub(crate) mod opt_dec {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(d),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        match v {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => crate::util::decimal_from_json(&v)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("expected a decimal, got {v}"))),
        }
    }
}
