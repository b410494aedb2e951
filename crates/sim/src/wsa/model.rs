//! Data model of the WSA simulator (restaurants, orders, faults, ledger).
//!
//! All types (de)serialise with **snake_case** field names (the Rust names); money is a
//! [`Decimal`] written as a string (`"978.00"`) and read from a string or a JSON number.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::util::decimal as dec;

/// WSA agent generation installed in the restaurant; changes PayOrder semantics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentVersion {
    /// PayOrder adds prepayments; CompleteOrder unsupported.
    V1,
    /// PayOrder is a real payment of exactly the amount due.
    #[default]
    V2,
}

/// Language of the r_keeper (`RkInternal: ...`) error texts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

/// A restaurant (an `objectId` in UCS licensing) with its WSA agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRestaurant {
    pub object_id: i64,
    #[serde(default)]
    pub agent_version: AgentVersion,
    /// Aggregator token accepted for this restaurant (`AggregatorAuthentication` header).
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub currencies: Vec<SimCurrency>,
    #[serde(default = "yes")]
    pub shift_open: bool,
    #[serde(default = "yes")]
    pub printer_ok: bool,
    #[serde(default)]
    pub language: Lang,
    /// How long an async task stays `AwaitingAnswer` before the agent executes it.
    #[serde(default)]
    pub async_delay_ms: u64,
    /// `false` = a buggy POS that accepts overpayment.
    #[serde(default = "yes")]
    pub enforce_amounts: bool,
}

fn yes() -> bool {
    true
}

impl SimRestaurant {
    /// A restaurant with one non-tips currency named "Card", shift open, printer ok,
    /// Russian texts, no async delay, amounts enforced.
    pub fn new(
        object_id: i64,
        agent_version: AgentVersion,
        token: impl Into<String>,
        currency_guid: impl Into<String>,
    ) -> Self {
        Self {
            object_id,
            agent_version,
            token: token.into(),
            currencies: vec![SimCurrency::new(currency_guid, "Card")],
            shift_open: true,
            printer_ok: true,
            language: Lang::Ru,
            async_delay_ms: 0,
            enforce_amounts: true,
        }
    }

    /// Builder: adds a currency.
    pub fn with_currency(mut self, c: SimCurrency) -> Self {
        self.currencies.push(c);
        self
    }

    /// Builder: sets the error-text language.
    pub fn with_language(mut self, l: Lang) -> Self {
        self.language = l;
        self
    }

    /// Builder: sets the async delay.
    pub fn with_async_delay_ms(mut self, ms: u64) -> Self {
        self.async_delay_ms = ms;
        self
    }
}

impl Default for SimRestaurant {
    fn default() -> Self {
        Self {
            object_id: 0,
            agent_version: AgentVersion::V2,
            token: String::new(),
            currencies: Vec::new(),
            shift_open: true,
            printer_ok: true,
            language: Lang::Ru,
            async_delay_ms: 0,
            enforce_amounts: true,
        }
    }
}

/// An r_keeper currency (payment type) identified by GUID.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimCurrency {
    pub guid: String,
    #[serde(default)]
    pub name: String,
    /// Payments in a tips currency are recorded but do not count toward the order.
    #[serde(default)]
    pub tips: bool,
}

impl SimCurrency {
    pub fn new(guid: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            guid: guid.into(),
            name: name.into(),
            tips: false,
        }
    }

    pub fn tips(guid: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            guid: guid.into(),
            name: name.into(),
            tips: true,
        }
    }
}

/// Order status values as r_keeper spells them.
pub mod status {
    pub const CREATED: &str = "Created";
    /// Sic: the product spells it this way.
    pub const COMPLITED: &str = "Complited";
    pub const CANCELED: &str = "Canceled";
}

/// An order on the cash server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimOrder {
    pub object_id: i64,
    /// Empty = generate a new GUID when added.
    #[serde(default)]
    pub guid: String,
    #[serde(with = "dec")]
    pub total: Decimal,
    /// Sum of applied non-tips payments/prepayments.
    #[serde(with = "dec", default)]
    pub prepaid: Decimal,
    /// "Created" | "Complited" | "Canceled".
    #[serde(default = "created")]
    pub status: String,
    #[serde(default)]
    pub bill_printed: bool,
    #[serde(default)]
    pub table_code: String,
    #[serde(default)]
    pub order_number: String,
    #[serde(default)]
    pub waiter_id: i64,
    #[serde(default)]
    pub waiter_name: String,
    #[serde(default)]
    pub guests: Vec<SimGuest>,
    #[serde(default)]
    pub payments: Vec<AppliedPayment>,
    /// Station that currently holds the order open (BILL_IN_USE).
    #[serde(default)]
    pub locked_by_station: Option<i64>,
}

fn created() -> String {
    status::CREATED.to_string()
}

impl SimOrder {
    /// An open order with the given total, no guests/dishes, table "1".
    pub fn new(object_id: i64, total: Decimal) -> Self {
        Self {
            object_id,
            guid: String::new(),
            total,
            prepaid: Decimal::ZERO,
            status: created(),
            bill_printed: false,
            table_code: "1".to_string(),
            order_number: String::new(),
            waiter_id: 1,
            waiter_name: String::new(),
            guests: Vec::new(),
            payments: Vec::new(),
            locked_by_station: None,
        }
    }

    /// Builder: fixed GUID.
    pub fn with_guid(mut self, guid: impl Into<String>) -> Self {
        self.guid = guid.into();
        self
    }

    /// Builder: adds a guest.
    pub fn with_guest(mut self, g: SimGuest) -> Self {
        self.guests.push(g);
        self
    }

    /// Builder: sets the already-paid amount.
    pub fn with_prepaid(mut self, prepaid: Decimal) -> Self {
        self.prepaid = prepaid;
        self
    }

    /// Builder: marks the order as locked by a station.
    pub fn locked_by(mut self, station: i64) -> Self {
        self.locked_by_station = Some(station);
        self
    }

    /// Amount still to pay (never negative; 0 once closed).
    pub fn unpaid(&self) -> Decimal {
        let zero = Decimal::new(0, self.total.scale());
        if self.status == status::COMPLITED {
            return zero;
        }
        self.total.saturating_sub(self.prepaid).max(zero)
    }

    /// `true` unless the order is still open ("Created").
    pub fn is_finished(&self) -> bool {
        self.status != status::CREATED
    }
}

impl Default for SimOrder {
    fn default() -> Self {
        Self::new(0, Decimal::ZERO)
    }
}

/// A guest (seat) of an order. WSA has no native guest split; the simulator exposes
/// guests as the extra `guests[]` field of the order JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimGuest {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub dishes: Vec<SimDish>,
}

impl SimGuest {
    pub fn new(name: impl Into<String>, dishes: Vec<SimDish>) -> Self {
        Self {
            name: name.into(),
            dishes,
        }
    }
}

/// A dish line.
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
        Self {
            id: id.into(),
            name: name.into(),
            price,
            quantity,
        }
    }
}

/// A payment line applied to an order (`appliedPayments[]` in WSA v2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPayment {
    /// Line GUID (r_keeper `line_Guid`).
    pub guid: String,
    #[serde(with = "dec")]
    pub amount: Decimal,
    /// Currency GUID.
    pub currency: String,
}

/// One applied payment line, in application order (tips lines included).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// `taskGuid` of the PayOrder task that applied it.
    pub task_guid: String,
    pub object_id: i64,
    pub order_guid: String,
    #[serde(with = "dec")]
    pub amount: Decimal,
    pub currency: String,
    pub card_code_present: bool,
}

/// A fault-injection rule. Matching: `object_id` / `order_guid` `None` = any;
/// `task_type` `None` = `PayOrder` for transport faults, `PayOrder` and `CompleteOrder` for
/// order-state faults (see [`FaultKind`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub object_id: Option<i64>,
    #[serde(default)]
    pub order_guid: Option<String>,
    #[serde(default)]
    pub task_type: Option<String>,
    pub kind: FaultKind,
    /// How many matching tasks it affects; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl Fault {
    /// A rule for any restaurant/order, default task type, until cleared.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            object_id: None,
            order_guid: None,
            task_type: None,
            kind,
            times: None,
        }
    }

    pub fn for_object(mut self, object_id: i64) -> Self {
        self.object_id = Some(object_id);
        self
    }

    pub fn for_order(mut self, order_guid: impl Into<String>) -> Self {
        self.order_guid = Some(order_guid.into());
        self
    }

    pub fn for_task(mut self, task_type: impl Into<String>) -> Self {
        self.task_type = Some(task_type.into());
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// What a fault does. JSON: unit variants are strings (`"BillLocked"`), the others objects
/// (`{"Slow": {"delay_ms": 500}}`, `{"Redirect": {"location": "http://..."}}`).
///
/// *Order-state faults* (`BillLocked`, `ShiftClosed`, `PrinterError`, `CloseBlocked`) are
/// evaluated only by PayOrder/CompleteOrder, at the point where the real POS would check
/// that condition, and count down only when they actually fire. *Transport faults* (the
/// rest) are evaluated when the task is received, for whatever task type they name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultKind {
    BillLocked,
    ShiftClosed,
    PrinterError,
    /// Kitchen tickets not printed: blocks a PayOrder that would close the order, and
    /// CompleteOrder.
    CloseBlocked,
    /// Agent offline: nothing applied; `wsError Timeout` after the task's timeout.
    AgentTimeout,
    /// Applied, but the answer never arrives: `wsError Timeout` after the task's timeout.
    AnswerLost,
    /// Executed and answered after a delay (if longer than the timeout: Timeout answer,
    /// but still applied later).
    Slow {
        delay_ms: u64,
    },
    TaskLimitExceeded,
    InternalError,
    AuthFailed,
    /// The task never runs (nothing applied); its own answer carries this White Server
    /// error: the sync answer, or, in async mode, the stored answer `GetTaskResponse`
    /// returns (with the task's `responseCommon`) after an ordinary ack.
    StoredWsError(StoredWsError),
    /// HTTP 307 to `location` instead of an answer; nothing applied (a moved server or a
    /// misconfigured proxy).
    Redirect {
        location: String,
    },
    /// A proxy's HTML error page with `status` (a 5xx); nothing applied.
    Html {
        status: u16,
    },
}

/// White Server errors a task's stored answer can carry (see [`FaultKind::StoredWsError`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoredWsError {
    License,
    AuthFailed,
    BadRequest,
    WsAgentNotSelected,
}

impl FaultKind {
    /// One example of every kind, with what it does (the control API index).
    pub fn examples() -> Vec<(FaultKind, &'static str)> {
        use FaultKind::*;
        vec![
            (
                BillLocked,
                "order state: the order is open on a cash station (PayOrder/CompleteOrder refused)",
            ),
            (ShiftClosed, "order state: the cashier's shift is closed"),
            (PrinterError, "order state: the fiscal printer fails"),
            (
                CloseBlocked,
                "order state: kitchen tickets not printed; blocks a PayOrder that would close the order, and CompleteOrder",
            ),
            (
                AgentTimeout,
                "agent offline: nothing applied; wsError Timeout after the task's timeout",
            ),
            (
                AnswerLost,
                "applied, but the answer never arrives: wsError Timeout after the task's timeout",
            ),
            (
                Slow { delay_ms: 500 },
                "executed and answered after delay_ms (longer than the timeout: Timeout answer, still applied later)",
            ),
            (TaskLimitExceeded, "the task is refused: too many tasks"),
            (
                InternalError,
                "the task fails with an internal error; nothing applied",
            ),
            (AuthFailed, "the request is refused as unauthenticated"),
            (
                StoredWsError(self::StoredWsError::License),
                "the task is acknowledged but never runs: its own answer (sync, or stored for GetTaskResponse) carries this wsError (License, AuthFailed, BadRequest, WsAgentNotSelected)",
            ),
            (
                Redirect {
                    location: "http://elsewhere.invalid/wsserverlp".into(),
                },
                "HTTP 307 to location instead of an answer; nothing applied",
            ),
            (
                Html { status: 502 },
                "a proxy's HTML error page with status; nothing applied",
            ),
        ]
    }

    /// Faults answered at the HTTP level, before the task is looked at.
    pub fn is_http_answer(&self) -> bool {
        matches!(self, FaultKind::Redirect { .. } | FaultKind::Html { .. })
    }

    /// Order-state faults are checked inside PayOrder/CompleteOrder.
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
