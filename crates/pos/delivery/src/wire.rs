//! r_k Delivery JSON on the wire: the `/pay` body and a lenient reading of orders (errors are
//! the kit's REST error body).
//!
//! Answers are read leniently: unknown fields are ignored, missing or mistyped fields become
//! `None`, ids may be strings or numbers, money may be a JSON number or a string with a dot.
//! Money is parsed from the number's text (serde_json's `arbitrary_precision` keeps it) and
//! written as a JSON number with its exact decimal text, never through a float.

use posgate_pos_kit::lenient::{
    decimal_at, list_at, list_in, ser_decimal_number, strict_bool_at, text_at as text_field,
};
use posgate_pos_kit::words::{first_said, normalize, says};
use rust_decimal::Decimal;
use serde_json::Value;

/// The lenient readers, and the error body every REST answer may carry, are the kit's.
pub use posgate_pos_kit::lenient::{
    ErrorBody, bool_of, decimal_of, decimal_to_json, field, int_of, strict_bool, text_of,
};

// ------------------------------------------------------------------------------------------
// Orders.
// ------------------------------------------------------------------------------------------

/// Status ids r_k Delivery fixes for every corporation.
pub mod status {
    /// From here on the order is in r_keeper and can be paid.
    pub const TRANSFERRED_TO_KITCHEN: i64 = 4;
    /// Terminal: paid and handed over.
    pub const COMPLETED: i64 = 11;
    /// Terminal, reachable from any status.
    pub const CANCELLED: i64 = 12;
}

/// A dish line (`dishList[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DishLine {
    pub id: Option<String>,
    pub name: Option<String>,
    pub price: Option<Decimal>,
    pub quantity: Option<Decimal>,
    /// The line's own total, when the answer has one.
    pub amount: Option<Decimal>,
}

/// An r_k Delivery order, as much of it as posgate uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Order {
    pub order_id: Option<String>,
    pub status_id: Option<i64>,
    pub status_name: Option<String>,
    /// Amount to pay (after discounts).
    pub amount: Option<Decimal>,
    /// Amount before discounts.
    pub full_amount: Option<Decimal>,
    pub table_code: Option<String>,
    pub restaurant_id: Option<String>,
    /// `completedAt`/`closedAt`.
    pub completed_at: Option<String>,
    pub dishes: Vec<DishLine>,
    /// Paid-state indicators. The documented API has none; some installations (and the
    /// simulator) show some of them, under one of the names in [`paid_state_keys`].
    pub payments: Option<Vec<Decimal>>,
    pub paid_amount: Option<Decimal>,
    /// What is still to pay, when the answer says so.
    pub due_amount: Option<Decimal>,
    /// A paid flag, or a payment status read as one.
    pub is_paid: Option<bool>,
    /// A closed/completed flag (`isClosed`, `completed`, ...).
    pub closed_flag: Option<bool>,
}

/// Where answers keep each indicator: every key is tried (any ASCII case), first found wins.
/// Real installations are not documented to carry any paid state; these are the names seen
/// in public clients, other vendors' APIs and the simulator.
pub mod paid_state_keys {
    pub const PAYMENTS: &[&str] = &["payments", "paymentList", "paymentsList", "payList"];
    pub const PAID_AMOUNT: &[&str] = &[
        "paidAmount",
        "paidSum",
        "sumPaid",
        "totalPaid",
        "amountPaid",
        "paymentsAmount",
        "paymentsSum",
        "paid",
    ];
    pub const DUE_AMOUNT: &[&str] = &[
        "amountDue",
        "dueAmount",
        "leftToPay",
        "remainingAmount",
        "unpaidAmount",
        "amountLeft",
    ];
    /// Strict booleans (`true`/`false`, also as strings) only: `"paid": 1` is an amount.
    pub const PAID_FLAG: &[&str] = &[
        "isPaid",
        "paid",
        "isPayed",
        "payed",
        "isFullyPaid",
        "fullyPaid",
    ];
    /// Text read by [`super::payment_status_says_paid`].
    pub const PAYMENT_STATUS: &[&str] =
        &["paymentStatus", "paymentState", "payStatus", "paidStatus"];
    pub const CLOSED_FLAG: &[&str] = &["isClosed", "closed", "isCompleted", "completed"];
    pub const CLOSED_AT: &[&str] = &["completedAt", "closedAt"];
}

/// Keys of the status id: the documented ones (a number), then others (a number, or an
/// object with an `id`); and the keys of its name.
const DOCUMENTED_STATUS_KEYS: &[&str] = &["orderStatusId", "statusId"];
const OTHER_STATUS_KEYS: &[&str] = &["orderStatus", "status"];
const STATUS_NAME_KEYS: &[&str] = &[
    "orderStatusName",
    "statusName",
    "orderStatus",
    "status",
    "state",
];

/// A payment status as a paid flag: "PAID"/"оплачен"/"сплачено" → true; "UNPAID"/"not paid"/
/// "не оплачен"/"не сплачено" → false; anything else (partly, pending, ...) says nothing.
pub fn payment_status_says_paid(text: &str) -> Option<bool> {
    const UNPAID: &[&str] = &[
        "unpaid",
        "not paid",
        "not_paid",
        "notpaid",
        "не оплач",
        "неоплач",
        "не сплач",
        "несплач",
    ];
    const PARTLY: &[&str] = &["part", "частич", "частков", "pending", "ожида", "очіку"];
    const PAID: &[&str] = &["paid", "payed", "оплачен", "сплачен"];
    let rows: &[(&[&str], Option<bool>)] =
        &[(UNPAID, Some(false)), (PARTLY, None), (PAID, Some(true))];
    first_said(&normalize(text.trim()), rows).flatten()
}

/// What a status name says when the answer has no status id: completed or cancelled.
fn status_name_says(name: &str) -> (bool, bool) {
    const COMPLETED: &[&str] = &[
        "complete",
        "closed",
        "finished",
        "выполнен",
        "завершен",
        "закрыт",
        "виконан",
        "закрит",
    ];
    const NEGATED: &[&str] = &["incomplete", "not ", "не ", "uncomplete", "unclosed"];
    const CANCELLED: &[&str] = &["cancel", "отмен", "скасов", "анулю", "аннулир"];
    let n = normalize(name);
    (
        says(&n, COMPLETED) && !says(&n, NEGATED),
        says(&n, CANCELLED),
    )
}

fn status_id_of(v: &Value) -> Option<i64> {
    DOCUMENTED_STATUS_KEYS
        .iter()
        .chain(OTHER_STATUS_KEYS)
        .find_map(|k| {
            let s = field(v, k)?;
            int_of(s).or_else(|| field(s, "id").and_then(int_of))
        })
}

fn status_name_of(v: &Value) -> Option<String> {
    STATUS_NAME_KEYS.iter().find_map(|k| {
        let s = field(v, k)?;
        match s {
            Value::String(_) if int_of(s).is_none() => text_of(s),
            Value::Object(_) => text_field(s, &["name", "title"]),
            _ => None,
        }
    })
}

/// What the order says about money already paid into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paid {
    /// This much is paid (from the answer's paid-state fields, or a completed order).
    Known(Decimal),
    /// The answer shows no paid state.
    NotShown,
}

impl Order {
    /// Reads a `GET /orders/{id}` answer: `{"result": {...}}`, or the order at the top level.
    pub fn from_answer(v: &Value) -> Option<Order> {
        match field(v, "result") {
            Some(r) if r.is_object() => Order::from_value(r),
            _ => Order::from_value(v),
        }
    }

    /// Reads one order object; `None` unless it has an id, a status id under its documented
    /// names (a bare `status`, as in an error body, does not count) or an amount.
    pub fn from_value(v: &Value) -> Option<Order> {
        if !v.is_object() {
            return None;
        }
        use paid_state_keys as keys;
        let dishes = list_at(v, &["dishList", "dishes"])
            .into_iter()
            .flatten()
            .filter(|d| d.is_object())
            .map(|d| DishLine {
                id: text_field(d, &["id", "dishId"]),
                name: text_field(d, &["name"]),
                price: decimal_at(d, &["price"]),
                quantity: decimal_at(d, &["quantity", "count"]),
                amount: decimal_at(d, &["amount", "sum", "totalPrice"]),
            })
            .collect();
        let payments = list_at(v, keys::PAYMENTS).map(|items| {
            items
                .iter()
                .map(|p| decimal_at(p, &["amount", "sum"]).unwrap_or(Decimal::ZERO))
                .collect()
        });
        let is_paid = strict_bool_at(v, keys::PAID_FLAG).or_else(|| {
            text_field(v, keys::PAYMENT_STATUS)
                .as_deref()
                .and_then(payment_status_says_paid)
        });
        let o = Order {
            order_id: text_field(v, &["orderId"]),
            status_id: status_id_of(v),
            status_name: status_name_of(v),
            amount: decimal_at(v, &["amount"]),
            full_amount: decimal_at(v, &["fullAmount"]),
            table_code: text_field(v, &["tableCode"]),
            restaurant_id: text_field(v, &["restaurantId"]),
            completed_at: text_field(v, keys::CLOSED_AT),
            dishes,
            payments,
            paid_amount: decimal_at(v, keys::PAID_AMOUNT),
            due_amount: decimal_at(v, keys::DUE_AMOUNT),
            is_paid,
            closed_flag: strict_bool_at(v, keys::CLOSED_FLAG),
        };
        let documented_status = DOCUMENTED_STATUS_KEYS
            .iter()
            .any(|k| field(v, k).and_then(int_of).is_some());
        (o.order_id.is_some() || documented_status || o.amount.is_some()).then_some(o)
    }

    /// Completed (closed in r_keeper and r_k Delivery): status 11; without a status id, a
    /// closed flag, a completion time or a status name saying so.
    pub fn is_completed(&self) -> bool {
        match self.status_id {
            Some(id) => id == status::COMPLETED,
            None => {
                self.closed_flag == Some(true)
                    || self.completed_at.is_some()
                    || self
                        .status_name
                        .as_deref()
                        .is_some_and(|n| status_name_says(n).0)
            }
        }
    }

    /// Cancelled: status 12; without a status id, a status name saying so.
    pub fn is_cancelled(&self) -> bool {
        match self.status_id {
            Some(id) => id == status::CANCELLED,
            None => self
                .status_name
                .as_deref()
                .is_some_and(|n| status_name_says(n).1),
        }
    }

    /// Not in r_keeper yet (status below "transferred to the kitchen", not cancelled).
    pub fn is_not_transferred(&self) -> bool {
        self.status_id
            .is_some_and(|s| s < status::TRANSFERRED_TO_KITCHEN && s != status::CANCELLED)
    }

    /// The status as text: its name, else its id.
    pub fn status_text(&self) -> String {
        match (&self.status_name, self.status_id) {
            (Some(n), _) => n.clone(),
            (None, Some(id)) => format!("status {id}"),
            (None, None) => "unknown status".into(),
        }
    }

    /// The status for messages: `"Transferred to the kitchen" (4)`.
    pub fn status_label(&self) -> String {
        match (&self.status_name, self.status_id) {
            (Some(n), Some(id)) => format!("\"{n}\" ({id})"),
            _ => self.status_text(),
        }
    }

    /// Whether the answer lists payments (even of 0, as a fully discounted order gets).
    pub fn has_payment_lines(&self) -> Option<bool> {
        self.payments.as_ref().map(|p| !p.is_empty())
    }

    /// Whether the answer carries any paid-state indicator.
    pub fn shows_paid_state(&self) -> bool {
        self.payments.is_some()
            || self.paid_amount.is_some()
            || self.due_amount.is_some()
            || self.is_paid.is_some()
    }

    /// Money already paid into the order, as far as the answer tells, by [`PAID_FROM`].
    pub fn paid(&self) -> Paid {
        PAID_FROM
            .iter()
            .find_map(|from| from(self))
            .map_or(Paid::NotShown, Paid::Known)
    }
}

/// Where the money already paid into an order is read from, first found wins.
pub const PAID_FROM: &[fn(&Order) -> Option<Decimal>] = &[
    // Payment lines, summed.
    |o| o.payments.as_deref().map(saturating_sum),
    // A paid amount.
    |o| o.paid_amount,
    // The amount less what is due.
    |o| Some(o.amount?.checked_sub(o.due_amount?)?.max(Decimal::ZERO)),
    // A paid flag: all of the amount, or nothing.
    |o| Some(if o.is_paid? { o.amount? } else { Decimal::ZERO }),
    // A completed order: all of the amount.
    |o| o.amount.filter(|_| o.is_completed()),
];

/// Σ `lines`, never past the largest amount.
fn saturating_sum(lines: &[Decimal]) -> Decimal {
    lines
        .iter()
        .fold(Decimal::ZERO, |a, d| a.saturating_add(*d))
}

/// Orders in a search answer: `result` as an array, or `result.{items|orders|list|data|
/// content|results}`, or a bare array.
pub fn orders_of_search(v: &Value) -> Option<Vec<Value>> {
    const LIST_KEYS: &[&str] = &["items", "orders", "list", "data", "content", "results"];
    list_in(field(v, "result").unwrap_or(v), LIST_KEYS)
}

// ------------------------------------------------------------------------------------------
// Requests.
// ------------------------------------------------------------------------------------------

/// One `/pay` line, written as `{code, amount, paidAt, name}` in the documented order,
/// the amount an exact number.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PayLine {
    /// r_keeper currency GUID.
    pub code: String,
    #[serde(serialize_with = "ser_decimal_number")]
    pub amount: Decimal,
    #[serde(rename = "paidAt")]
    pub paid_at: String,
    pub name: String,
}

/// The `/pay` body: a JSON array of lines.
pub fn pay_body(lines: &[PayLine]) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(lines)
}
