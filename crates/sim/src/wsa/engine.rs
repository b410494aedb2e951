//! Task execution ("the agent + cash server") and WSA JSON rendering.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::model::{
    AgentVersion, AppliedPayment, FaultKind, LedgerEntry, SimOrder, SimRestaurant, StoredWsError,
    status,
};
use super::state::{OrderEntry, State, norm_guid};
use super::task::{COMPLETE_ORDER, PAY_ORDER, PaymentLine, TaskKind};
use super::texts;
use crate::util::decimal_to_json;

/// Cash station used in texts when the request names none.
pub const DEFAULT_CASH_STATION: i64 = 1;
/// Station reported by a `BillLocked` fault when the order itself names none.
pub const DEFAULT_LOCK_STATION: i64 = 2;

/// An error answer (`error` branch of the envelope).
#[derive(Clone, Debug)]
pub(crate) enum TaskError {
    Ws {
        code: &'static str,
        ext_code: Option<&'static str>,
        desc: String,
    },
    Agent {
        code: &'static str,
        desc: String,
    },
}

impl TaskError {
    pub fn ws(code: &'static str, desc: impl Into<String>) -> Self {
        TaskError::Ws {
            code,
            ext_code: None,
            desc: desc.into(),
        }
    }

    pub fn agent(code: &'static str, desc: impl Into<String>) -> Self {
        TaskError::Agent {
            code,
            desc: desc.into(),
        }
    }

    pub fn order(desc: impl Into<String>) -> Self {
        Self::agent("WsaOrderError", desc)
    }

    pub fn bad_request() -> Self {
        Self::ws("BadRequest", "InvalidRequestStructure")
    }

    pub fn license(object_id: Option<i64>) -> Self {
        TaskError::Ws {
            code: "License",
            ext_code: Some("WsAgent"),
            desc: match object_id {
                Some(id) => format!("WsAgent license not found for object {id}"),
                None => "WsAgent license not found".to_string(),
            },
        }
    }

    /// The error a [`StoredWsError`] fault puts in a task's answer.
    pub fn stored(e: StoredWsError, object_id: i64) -> Self {
        match e {
            StoredWsError::License => Self::license(Some(object_id)),
            StoredWsError::AuthFailed => Self::ws("AuthFailed", "Authentication failed"),
            StoredWsError::BadRequest => Self::bad_request(),
            StoredWsError::WsAgentNotSelected => Self::ws(
                "WsAgentNotSelected",
                "Several agents are registered and none is selected",
            ),
        }
    }

    pub fn timeout(timeout_s: u64) -> Self {
        Self::ws(
            "Timeout",
            format!("Agent did not respond within {timeout_s} s"),
        )
    }

    pub fn to_json(&self) -> Value {
        match self {
            TaskError::Ws {
                code,
                ext_code,
                desc,
            } => {
                let mut ws = Map::new();
                ws.insert("code".into(), json!(code));
                if let Some(ext) = ext_code {
                    ws.insert("extCode".into(), json!(ext));
                }
                ws.insert("desc".into(), json!(desc));
                json!({ "wsError": ws })
            }
            TaskError::Agent { code, desc } => json!({
                "wsError": { "code": "AgentError", "desc": "Agent returned an error" },
                "agentError": { "code": code, "desc": desc },
            }),
        }
    }
}

/// `responseCommon` of a task.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub task_guid: String,
    pub task_type: String,
    pub object_id: Option<i64>,
    pub agent_guid: Option<String>,
}

impl Common {
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("taskGuid".into(), json!(self.task_guid));
        m.insert("taskType".into(), json!(self.task_type));
        if let Some(id) = self.object_id {
            m.insert("objectId".into(), json!(id));
        }
        if let Some(a) = &self.agent_guid {
            m.insert("agentGuid".into(), json!(a));
        }
        Value::Object(m)
    }
}

/// Full response envelope.
pub(crate) fn envelope(common: &Common, outcome: &Result<Value, TaskError>) -> Value {
    match outcome {
        Ok(resp) => json!({ "responseCommon": common.to_json(), "taskResponse": resp }),
        Err(e) => json!({ "responseCommon": common.to_json(), "error": e.to_json() }),
    }
}

/// Ack of an async task: `responseCommon` only.
pub(crate) fn ack(common: &Common) -> Value {
    json!({ "responseCommon": common.to_json() })
}

fn money(d: Decimal) -> Value {
    decimal_to_json(d)
}

fn pay_type(rest: &SimRestaurant, currency: &str) -> &'static str {
    let name = rest
        .currencies
        .iter()
        .find(|c| norm_guid(&c.guid) == norm_guid(currency))
        .map(|c| c.name.to_lowercase())
        .unwrap_or_default();
    if name.contains("cash") || name.contains("нал") {
        "Cash"
    } else if name.contains("card") || name.contains("карт") {
        "Card"
    } else {
        "Unknown"
    }
}

fn price_json(o: &SimOrder) -> Value {
    json!({ "total": money(o.total), "summToPay": money(o.unpaid()) })
}

fn status_json(o: &SimOrder) -> Value {
    json!({ "value": o.status, "isBillPrinted": o.bill_printed })
}

fn product_json(d: &super::model::SimDish) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "price": money(d.price),
        "quantity": money(d.quantity),
    })
}

/// The full `order` object (GetOrder, PayOrder with isFullOrderRequired).
pub(crate) fn full_order_json(rest: &SimRestaurant, e: &OrderEntry) -> Value {
    let o = &e.order;
    let mut m = Map::new();
    m.insert("orderGuid".into(), json!(o.guid));
    m.insert("createdAt".into(), json!(e.created_at));
    m.insert("status".into(), status_json(o));
    if rest.agent_version == AgentVersion::V2 {
        m.insert("waiterId".into(), json!(o.waiter_id));
    }
    if !o.waiter_name.is_empty() {
        m.insert("waiterName".into(), json!(o.waiter_name));
    }
    m.insert("tableCode".into(), json!(o.table_code));
    if !o.order_number.is_empty() {
        m.insert("orderNumber".into(), json!(o.order_number));
    }
    m.insert("personsQuantity".into(), json!(o.guests.len().max(1)));
    let products: Vec<Value> = o
        .guests
        .iter()
        .flat_map(|g| g.dishes.iter().map(product_json))
        .collect();
    m.insert("products".into(), Value::Array(products));
    if rest.agent_version == AgentVersion::V2 {
        let applied: Vec<Value> = o
            .payments
            .iter()
            .map(|p| {
                json!({
                    "amount": money(p.amount),
                    "guid": p.guid,
                    "payType": pay_type(rest, &p.currency),
                })
            })
            .collect();
        m.insert("appliedPayments".into(), Value::Array(applied));
    }
    m.insert("price".into(), price_json(o));
    let guests: Vec<Value> = o
        .guests
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "products": g.dishes.iter().map(product_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    m.insert("guests".into(), Value::Array(guests));
    Value::Object(m)
}

fn list_entry_json(e: &OrderEntry) -> Value {
    let o = &e.order;
    json!({
        "orderGuid": o.guid,
        "tableCode": o.table_code,
        "waiterId": o.waiter_id,
        "sum": money(o.total),
        "unpaid": money(o.unpaid()),
        "isFinished": o.is_finished(),
        "openTime": e.created_at,
        "isReserve": false,
    })
}

/// Runs one agent task against the state (atomically: the caller holds the lock).
pub(crate) fn execute(
    st: &mut State,
    task_guid: &str,
    task_type: &str,
    object_id: i64,
    kind: &TaskKind,
) -> Result<Value, TaskError> {
    let rest = st
        .restaurants
        .get(&object_id)
        .map(|r| r.cfg.clone())
        .ok_or_else(|| TaskError::license(Some(object_id)))?;
    let lang = rest.language;
    match kind {
        TaskKind::GetOrder { order_guid } => {
            let g = order_guid
                .as_deref()
                .filter(|g| !g.trim().is_empty())
                .ok_or_else(|| {
                    TaskError::agent(
                        "WsaNoOneGuidSpecifiedForOrderSearching",
                        texts::no_guid(lang),
                    )
                })?;
            let e = st
                .order(object_id, g)
                .ok_or_else(|| TaskError::order(texts::order_not_found(lang)))?;
            Ok(json!({ "order": full_order_json(&rest, e) }))
        }
        TaskKind::GetOrderState { order_guid } => {
            let g = order_guid
                .as_deref()
                .filter(|g| !g.trim().is_empty())
                .ok_or_else(|| {
                    TaskError::agent(
                        "WsaNoOneGuidSpecifiedForOrderSearching",
                        texts::no_guid(lang),
                    )
                })?;
            let e = st
                .order(object_id, g)
                .ok_or_else(|| TaskError::order(texts::order_not_found(lang)))?;
            Ok(json!({ "order": { "orderGuid": e.order.guid, "status": status_json(&e.order) } }))
        }
        TaskKind::GetOrderList {
            table_code,
            with_closed,
        } => {
            if rest.agent_version == AgentVersion::V1 {
                return Err(TaskError::agent(
                    "WsaCommandNotSupported",
                    texts::not_supported(lang, task_type),
                ));
            }
            let mut entries: Vec<&OrderEntry> = st
                .orders
                .values()
                .filter(|e| e.order.object_id == object_id)
                .filter(|e| *with_closed || !e.order.is_finished())
                .filter(|e| match table_code {
                    Some(t) => e.order.table_code == *t,
                    None => true,
                })
                .collect();
            entries.sort_by_key(|e| e.seq);
            let orders: Vec<Value> = entries.into_iter().map(list_entry_json).collect();
            Ok(json!({ "orders": orders }))
        }
        TaskKind::PayOrder {
            order_guid,
            payments,
            cash_station_id,
            full,
        } => pay_order(
            st,
            &rest,
            task_guid,
            order_guid,
            payments,
            cash_station_id.unwrap_or(DEFAULT_CASH_STATION),
            *full,
        ),
        TaskKind::CompleteOrder { order_guid } => complete_order(st, &rest, order_guid),
    }
}

/// Checks shared by writes: closed, locked, shift, printer.
fn write_preconditions(
    st: &mut State,
    rest: &SimRestaurant,
    order: &SimOrder,
    task_type: &str,
) -> Result<(), TaskError> {
    let lang = rest.language;
    let oid = Some(rest.object_id);
    let g = order.guid.as_str();
    if order.status == status::CANCELED {
        return Err(TaskError::order(texts::order_canceled(lang, g)));
    }
    if order.status == status::COMPLITED {
        return Err(TaskError::order(texts::order_closed(lang, g)));
    }
    if let Some(station) = order.locked_by_station {
        return Err(TaskError::order(texts::locked(lang, g, station)));
    }
    if st
        .take_fault(oid, Some(g), task_type, |k| *k == FaultKind::BillLocked)
        .is_some()
    {
        return Err(TaskError::order(texts::locked(
            lang,
            g,
            DEFAULT_LOCK_STATION,
        )));
    }
    if !rest.shift_open
        || st
            .take_fault(oid, Some(g), task_type, |k| *k == FaultKind::ShiftClosed)
            .is_some()
    {
        return Err(TaskError::order(texts::shift_closed(lang, g)));
    }
    if !rest.printer_ok
        || st
            .take_fault(oid, Some(g), task_type, |k| *k == FaultKind::PrinterError)
            .is_some()
    {
        let (code, desc) = texts::printer_error(lang, g);
        return Err(TaskError::agent(code, desc));
    }
    Ok(())
}

fn pay_order(
    st: &mut State,
    rest: &SimRestaurant,
    task_guid: &str,
    order_guid: &str,
    payments: &[PaymentLine],
    station: i64,
    full: bool,
) -> Result<Value, TaskError> {
    let lang = rest.language;
    let object_id = rest.object_id;
    let order = st
        .order(object_id, order_guid)
        .map(|e| e.order.clone())
        .ok_or_else(|| TaskError::order(texts::order_not_found(lang)))?;
    write_preconditions(st, rest, &order, PAY_ORDER)?;

    // Currencies and amounts.
    let mut counted = Decimal::ZERO;
    let mut lines = Vec::with_capacity(payments.len());
    for p in payments {
        let cur = rest
            .currencies
            .iter()
            .find(|c| norm_guid(&c.guid) == norm_guid(&p.currency))
            .ok_or_else(|| TaskError::order(texts::unknown_currency(lang, &p.currency)))?;
        if p.amount < Decimal::ZERO {
            return Err(TaskError::order(texts::invalid_amount(lang)));
        }
        if !cur.tips {
            counted = counted
                .checked_add(p.amount)
                .ok_or_else(|| TaskError::order(texts::invalid_amount(lang)))?;
        }
        lines.push((cur.guid.clone(), p));
    }

    let due = order.unpaid();
    let closes = match rest.agent_version {
        AgentVersion::V2 => {
            if counted < due {
                return Err(TaskError::order(texts::not_enough(lang)));
            }
            if counted > due && rest.enforce_amounts {
                return Err(TaskError::order(texts::overpay_v2(lang, station)));
            }
            true
        }
        AgentVersion::V1 => {
            let after = order
                .prepaid
                .checked_add(counted)
                .ok_or_else(|| TaskError::order(texts::invalid_amount(lang)))?;
            if after > order.total && rest.enforce_amounts {
                return Err(TaskError::order(texts::overpay_v1(lang)));
            }
            after >= order.total
        }
    };
    if closes
        && st
            .take_fault(Some(object_id), Some(&order.guid), PAY_ORDER, |k| {
                *k == FaultKind::CloseBlocked
            })
            .is_some()
    {
        return Err(TaskError::order(texts::close_blocked(lang, &order.guid)));
    }

    // Apply.
    let entry = st
        .order_mut(object_id, order_guid)
        .ok_or_else(|| TaskError::order(texts::order_not_found(lang)))?;
    let mut ledger = Vec::with_capacity(lines.len());
    for (currency, p) in &lines {
        entry.order.payments.push(AppliedPayment {
            guid: uuid::Uuid::new_v4().to_string(),
            amount: p.amount,
            currency: currency.clone(),
        });
        ledger.push(LedgerEntry {
            task_guid: task_guid.to_string(),
            object_id,
            order_guid: entry.order.guid.clone(),
            amount: p.amount,
            currency: currency.clone(),
            card_code_present: p.card_code.is_some(),
        });
    }
    entry.order.prepaid = entry.order.prepaid.saturating_add(counted);
    if closes {
        entry.order.status = status::COMPLITED.to_string();
    }
    let resp = if full {
        full_order_json(rest, entry)
    } else {
        json!({ "status": status_json(&entry.order), "price": price_json(&entry.order) })
    };
    st.ledger.extend(ledger);
    Ok(json!({ "order": resp }))
}

fn complete_order(
    st: &mut State,
    rest: &SimRestaurant,
    order_guid: &str,
) -> Result<Value, TaskError> {
    let lang = rest.language;
    let object_id = rest.object_id;
    if rest.agent_version == AgentVersion::V1 {
        return Err(TaskError::agent(
            "WsaCommandNotSupported",
            texts::not_supported(lang, COMPLETE_ORDER),
        ));
    }
    let order = st
        .order(object_id, order_guid)
        .map(|e| e.order.clone())
        .ok_or_else(|| TaskError::order(texts::order_not_found(lang)))?;
    if order.status == status::COMPLITED {
        // Idempotent: closing a closed order succeeds.
        return Ok(json!({ "order": { "price": { "total": money(order.total) } } }));
    }
    write_preconditions(st, rest, &order, COMPLETE_ORDER)?;
    if order.prepaid < order.total {
        return Err(TaskError::order(texts::not_fully_paid(lang)));
    }
    if st
        .take_fault(Some(object_id), Some(&order.guid), COMPLETE_ORDER, |k| {
            *k == FaultKind::CloseBlocked
        })
        .is_some()
    {
        return Err(TaskError::order(texts::close_blocked(lang, &order.guid)));
    }
    let entry = st
        .order_mut(object_id, order_guid)
        .ok_or_else(|| TaskError::order(texts::order_not_found(lang)))?;
    entry.order.status = status::COMPLITED.to_string();
    Ok(json!({ "order": { "price": { "total": money(entry.order.total) } } }))
}
