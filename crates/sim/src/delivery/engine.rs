//! What r_k Delivery (and the r_keeper behind it) does with a request, on the locked state,
//! and how orders are rendered as JSON.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::model::{
    FaultKind, Lang, LedgerEntry, LedgerKind, SimOrder, SimPayment, SimRestaurant, endpoint, status,
};
use super::state::State;
use super::texts;
use crate::util::{decimal_from_json, decimal_to_json};

/// An error answer: HTTP status + `{code, msg, requestId, errors}`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: String,
    pub msg: String,
    pub errors: Value,
}

pub(crate) const ERR_WS: &str = "ERR_EXTERNAL_ERROR_WS";
pub(crate) const ERR_CLOSE: &str = "rk7_close_order";
pub(crate) const ERR_NOT_FOUND: &str = "ERR_NOT_FOUND";
pub(crate) const ERR_VALIDATION: &str = "ERR_VALIDATION";
pub(crate) const ERR_STATUS: &str = "ERR_INVALID_ORDER_STATUS";
pub(crate) const ERR_NOT_IN_RESTAURANT: &str = "ERR_ORDER_NOT_IN_RESTAURANT";

impl ApiError {
    pub fn new(status: u16, code: &str, msg: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            msg: msg.into(),
            errors: Value::Null,
        }
    }

    /// An r_keeper refusal relayed through White Server.
    pub fn ws(agent_code: &str, rk_text: &str) -> Self {
        Self::new(400, ERR_WS, texts::ws_wrap(agent_code, rk_text))
    }

    pub fn not_found(order_id: &str) -> Self {
        Self::new(404, ERR_NOT_FOUND, texts::order_not_found(order_id))
    }

    /// ASP.NET-style model validation failure.
    pub fn validation(errors: Vec<(String, String)>) -> Self {
        let mut map = Map::new();
        for (field, msg) in errors {
            match map.get_mut(&field) {
                Some(Value::Array(a)) => a.push(Value::String(msg)),
                _ => {
                    map.insert(field, json!([msg]));
                }
            }
        }
        ApiError {
            status: 400,
            code: ERR_VALIDATION.into(),
            msg: "One or more validation errors occurred.".into(),
            errors: Value::Object(map),
        }
    }

    pub fn body(&self, request_id: &str) -> Value {
        json!({
            "code": self.code,
            "msg": self.msg,
            "requestId": request_id,
            "errors": self.errors,
        })
    }
}

/// Language and cash station of an order's restaurant (defaults if it is unknown).
pub(crate) fn lang_station(st: &State, o: &SimOrder) -> (Lang, i64) {
    st.restaurant(&o.restaurant_id)
        .map_or((Lang::Ru, 15), |r| (r.language, r.cash_station))
}

fn norm_code(c: &str) -> String {
    c.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

/// Whether an ISO-8601 date-time carries a UTC offset (`Z` or `±hh:mm` after the time).
pub(crate) fn has_offset(s: &str) -> bool {
    let s = s.trim();
    let Some((_, time)) = s.split_once('T') else {
        return false;
    };
    if time.ends_with('Z') || time.ends_with('z') {
        return true;
    }
    match time.rfind(['+', '-']) {
        Some(i) => {
            let off = &time[i + 1..];
            let digits: String = off.chars().filter(|c| *c != ':').collect();
            digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// Checks the `/pay` body: a non-empty JSON array of `{code, amount, paidAt, name?}`.
fn parse_pay_lines(body: &Value) -> Result<Vec<SimPayment>, ApiError> {
    let Value::Array(items) = body else {
        return Err(ApiError::validation(vec![(
            "$".into(),
            "The JSON value could not be converted to an array of payments.".into(),
        )]));
    };
    if items.is_empty() {
        return Err(ApiError::validation(vec![(
            "$".into(),
            "At least one payment is required.".into(),
        )]));
    }
    let mut errors = Vec::new();
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let f = |name: &str| format!("[{i}].{name}");
        let Some(obj) = item.as_object() else {
            errors.push((format!("[{i}]"), "A payment must be an object.".into()));
            continue;
        };
        let code = obj.get("code").and_then(Value::as_str).unwrap_or("").trim();
        if code.is_empty() {
            errors.push((f("code"), "The code field is required.".into()));
        }
        let amount = match obj.get("amount") {
            Some(v @ Value::Number(_)) => decimal_from_json(v),
            _ => None,
        };
        match amount {
            None => errors.push((f("amount"), "The amount field must be a number.".into())),
            Some(a) if a.is_sign_negative() && !a.is_zero() => {
                errors.push((f("amount"), "The amount must not be negative.".into()));
            }
            Some(_) => {}
        }
        let paid_at = obj.get("paidAt").and_then(Value::as_str).unwrap_or("");
        if paid_at.trim().is_empty() {
            errors.push((f("paidAt"), "The paidAt field is required.".into()));
        } else if !has_offset(paid_at) {
            errors.push((
                f("paidAt"),
                "The paidAt field must be an ISO-8601 date-time with a time zone offset.".into(),
            ));
        }
        let name = match obj.get("name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                errors.push((f("name"), "The name field must be a string.".into()));
                String::new()
            }
        };
        if let Some(amount) = amount {
            lines.push(SimPayment {
                code: code.to_string(),
                amount,
                paid_at: paid_at.to_string(),
                name,
            });
        }
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Refusals common to `/pay` and `/complete`: final status, not in r_keeper yet.
fn check_status(o: &SimOrder, lang: Lang) -> Result<(), ApiError> {
    if status::is_final(o.status_id) {
        return Err(ApiError::new(
            400,
            ERR_STATUS,
            texts::final_status(o.status_id),
        ));
    }
    if o.status_id < status::TRANSFERRED_TO_KITCHEN {
        return Err(ApiError::new(
            400,
            ERR_NOT_IN_RESTAURANT,
            texts::not_transferred(lang, &o.order_id, o.status_id),
        ));
    }
    Ok(())
}

/// r_keeper faults (locked, shift, printer, kitchen tickets) for this order and endpoint.
fn rk_fault(st: &mut State, ep: &str, o: &SimOrder) -> Result<(), ApiError> {
    let (lang, station) = lang_station(st, o);
    let Some(kind) = st.take_fault(ep, Some(&o.order_id), FaultKind::is_order_state) else {
        return Ok(());
    };
    let id = &o.order_id;
    Err(match kind {
        FaultKind::BillLocked => ApiError::ws("WsaOrderError", &texts::locked(lang, id, station)),
        FaultKind::ShiftClosed => ApiError::ws("WsaOrderError", &texts::shift_closed(lang, id)),
        FaultKind::PrinterError => {
            let (code, text) = texts::printer_error(lang, id);
            ApiError::ws(code, &text)
        }
        _ => ApiError::ws("WsaOrderError", &texts::kitchen_tickets(lang, id)),
    })
}

/// `PUT /orders/api/v1/orders/{orderId}/pay`.
pub(crate) fn pay(
    st: &mut State,
    order_id: &str,
    body: &Value,
    request_id: &str,
    now: &str,
) -> Result<(), ApiError> {
    let o = st
        .orders
        .get(order_id)
        .map(|e| e.order.clone())
        .ok_or_else(|| ApiError::not_found(order_id))?;
    let lines = parse_pay_lines(body)?;
    let (lang, station) = lang_station(st, &o);
    check_status(&o, lang)?;
    rk_fault(st, endpoint::PAY, &o)?;
    let currencies: Vec<String> = st
        .restaurant(&o.restaurant_id)
        .map(|r: &SimRestaurant| r.currencies.iter().map(|c| norm_code(c)).collect())
        .unwrap_or_default();
    if let Some(bad) = lines
        .iter()
        .find(|l| !currencies.contains(&norm_code(&l.code)))
    {
        return Err(ApiError::ws(
            "WsaOrderError",
            &texts::unknown_currency(lang, &bad.code),
        ));
    }
    let sum = lines
        .iter()
        .try_fold(Decimal::ZERO, |a, l| a.checked_add(l.amount))
        .ok_or_else(|| ApiError::ws("WsaOrderError", &texts::overpay(lang, station)))?;
    if o.is_paid() {
        return Err(ApiError::ws(
            "WsaOrderError",
            &texts::already_paid(lang, &o.order_id, station),
        ));
    }
    let due = o.due();
    if sum < due {
        return Err(ApiError::ws(
            "WsaOrderError",
            &texts::not_enough(lang, &o.order_id),
        ));
    }
    if sum > due {
        return Err(ApiError::ws(
            "WsaOrderError",
            &texts::overpay(lang, station),
        ));
    }
    if let Some(e) = st.orders.get_mut(order_id) {
        e.order.payments.extend(lines.iter().cloned());
        e.order.updated_at = now.to_string();
    }
    st.ledger.push(LedgerEntry {
        kind: LedgerKind::Pay,
        order_id: order_id.to_string(),
        amount: sum,
        lines,
        request_id: request_id.to_string(),
    });
    Ok(())
}

/// `PUT /orders/api/v1/orders/{orderId}/complete`.
pub(crate) fn complete(
    st: &mut State,
    order_id: &str,
    request_id: &str,
    now: &str,
) -> Result<(), ApiError> {
    let o = st
        .orders
        .get(order_id)
        .map(|e| e.order.clone())
        .ok_or_else(|| ApiError::not_found(order_id))?;
    let (lang, _) = lang_station(st, &o);
    check_status(&o, lang)?;
    rk_fault(st, endpoint::COMPLETE, &o)?;
    if !o.is_paid() {
        return Err(ApiError::new(
            500,
            ERR_CLOSE,
            texts::not_fully_paid(lang, &o.order_id),
        ));
    }
    if let Some(e) = st.orders.get_mut(order_id) {
        e.order.status_id = status::COMPLETED;
        e.order.completed_at = Some(now.to_string());
        e.order.updated_at = now.to_string();
    }
    st.ledger.push(LedgerEntry {
        kind: LedgerKind::Complete,
        order_id: order_id.to_string(),
        amount: Decimal::ZERO,
        lines: Vec::new(),
        request_id: request_id.to_string(),
    });
    Ok(())
}

/// `POST /orders/api/v1/orders`: validates and builds the order (status New).
pub(crate) fn create(st: &State, body: &Value) -> Result<SimOrder, ApiError> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let Some(obj) = body.as_object() else {
        return Err(ApiError::validation(vec![(
            "$".into(),
            "The request body must be an order object.".into(),
        )]));
    };
    let restaurant_id = obj
        .get("restaurantId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    let restaurant = st.restaurant(&restaurant_id).cloned();
    if restaurant_id.is_empty() {
        errors.push((
            "restaurantId".into(),
            "The restaurantId field is required.".into(),
        ));
    } else if restaurant.is_none() {
        errors.push(("restaurantId".into(), "Unknown restaurant.".into()));
    }
    let mut order = SimOrder::new(status::NEW, Decimal::ZERO);
    match obj.get("dishList") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, d) in items.iter().enumerate() {
                let id = d.get("id").and_then(Value::as_str).unwrap_or("").trim();
                let price = d.get("price").and_then(decimal_from_json);
                let qty = d.get("quantity").and_then(decimal_from_json);
                if id.is_empty() {
                    errors.push((
                        format!("dishList[{i}].id"),
                        "The id field is required.".into(),
                    ));
                }
                let (Some(price), Some(qty)) = (price, qty) else {
                    errors.push((
                        format!("dishList[{i}]"),
                        "price and quantity must be numbers.".into(),
                    ));
                    continue;
                };
                let name = d.get("name").and_then(Value::as_str).unwrap_or("");
                order
                    .dishes
                    .push(super::model::SimDish::new(id, name, price, qty));
            }
        }
        _ => errors.push(("dishList".into(), "The dishList must not be empty.".into())),
    }
    if let Some(exp) = obj.get("expectedAt").and_then(Value::as_str)
        && !has_offset(exp)
    {
        errors.push((
            "expectedAt".into(),
            "expectedAt must carry a time zone offset.".into(),
        ));
    }
    if let Some(t) = obj.get("expeditionType").and_then(Value::as_str) {
        if t != "delivery" && t != "pickup" {
            errors.push((
                "expeditionType".into(),
                "expeditionType must be delivery or pickup.".into(),
            ));
        }
        order.expedition_type = t.to_string();
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let amount = order
        .dishes
        .iter()
        .try_fold(Decimal::ZERO, |a, d| {
            a.checked_add(d.price.checked_mul(d.quantity)?)
        })
        .ok_or_else(|| {
            ApiError::validation(vec![("dishList".into(), "The amount is too large.".into())])
        })?;
    order.amount = amount.round_dp(2);
    order.restaurant_id = restaurant_id;
    order.table_code = obj
        .get("tableCode")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    order.auto_advance_ms = restaurant.and_then(|r| r.auto_accept_ms);
    Ok(order)
}

/// The order as `GET /orders/{orderId}` shows it (without the `result` wrapper).
pub(crate) fn order_json(st: &State, o: &SimOrder) -> Value {
    let r = st.restaurant(&o.restaurant_id);
    let lang = r.map_or(Lang::Ru, |r| r.language);
    let dishes: Vec<Value> = o
        .dishes
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "name": d.name,
                "price": decimal_to_json(d.price),
                "quantity": decimal_to_json(d.quantity),
                "measure": null,
                "ingredients": [],
            })
        })
        .collect();
    let mut v = json!({
        "orderId": o.order_id,
        "id": o.id,
        "orderExternalId": null,
        "originalOrderId": null,
        "orderStatusId": o.status_id,
        "orderStatusName": texts::status_name(lang, o.status_id),
        "fullAmount": decimal_to_json(o.full_amount.unwrap_or(o.amount)),
        "amount": decimal_to_json(o.amount),
        "deliveryAmount": decimal_to_json(Decimal::new(0, 2)),
        "changeFrom": null,
        "createdAt": o.created_at,
        "updatedAt": o.updated_at,
        "completedAt": o.completed_at,
        "expectedAt": o.created_at,
        "restaurantId": o.restaurant_id,
        "tableCode": if o.table_code.is_empty() { Value::Null } else { Value::String(o.table_code.clone()) },
        "expeditionType": o.expedition_type,
        "paymentTypeId": "card",
        "dishList": dishes,
        "flowContainsConfirmedStatus": false,
        "isLate": false,
        "isAttention": false,
    });
    if r.is_none_or(|r| r.expose_payments)
        && let Some(m) = v.as_object_mut()
    {
        // Simulator extension: the documented API shows no paid state.
        let payments: Vec<Value> = o
            .payments
            .iter()
            .map(|p| {
                json!({
                    "code": p.code,
                    "amount": decimal_to_json(p.amount),
                    "paidAt": p.paid_at,
                    "name": p.name,
                })
            })
            .collect();
        m.insert("payments".into(), Value::Array(payments));
        m.insert("isPaid".into(), Value::Bool(o.is_paid()));
    }
    v
}

/// Search filters of `GET /orders/api/v1/orders`.
#[derive(Debug, Default)]
pub(crate) struct Search {
    pub status_ids: Vec<u8>,
    pub restaurant_id: Option<String>,
    /// Simulator extension.
    pub table_code: Option<String>,
    pub q: Option<String>,
    pub descending: bool,
}

impl Search {
    pub fn from_query(pairs: &[(String, String)]) -> Result<Search, ApiError> {
        let mut s = Search::default();
        let mut errors = Vec::new();
        for (k, v) in pairs {
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "includestatusids" | "includestatusids[]" => {
                    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        match part.parse::<u8>() {
                            Ok(id) => s.status_ids.push(id),
                            Err(_) => errors.push((
                                "includeStatusIds".to_string(),
                                format!("The value '{part}' is not valid."),
                            )),
                        }
                    }
                }
                "restaurantid" if !v.is_empty() => s.restaurant_id = Some(v.to_string()),
                "tablecode" if !v.is_empty() => s.table_code = Some(v.to_string()),
                "q" if !v.is_empty() => s.q = Some(v.to_lowercase()),
                "sortorder" => s.descending = v.eq_ignore_ascii_case("desc"),
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(ApiError::validation(errors))
        }
    }

    pub fn matches(&self, o: &SimOrder) -> bool {
        (self.status_ids.is_empty() || self.status_ids.contains(&o.status_id))
            && self
                .restaurant_id
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case(&o.restaurant_id))
            && self
                .table_code
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(o.table_code.trim()))
            && self
                .q
                .as_deref()
                .is_none_or(|q| o.order_id.contains(q) || o.table_code.to_lowercase().contains(q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert!(has_offset("2022-04-05T15:12:58.658+03:00"));
        assert!(has_offset("2022-04-05T15:12:58Z"));
        assert!(has_offset("2022-04-05T15:12:58-0500"));
        assert!(!has_offset("2022-04-05T15:12:58.658"));
        assert!(!has_offset("2022-04-05"));
    }

    #[test]
    fn pay_lines_are_validated() {
        let ok: Value = serde_json::from_str(
            r#"[{"code":"c","amount":978.00,"paidAt":"2022-04-05T15:12:58.658+03:00","name":""}]"#,
        )
        .unwrap_or(Value::Null);
        let lines = parse_pay_lines(&ok).unwrap_or_default();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].amount, Decimal::new(97800, 2));
        let obj = json!({"code":"c","amount":1,"paidAt":"2022-04-05T15:12:58+03:00"});
        assert!(parse_pay_lines(&obj).is_err());
        let bad = json!([{"code":"","amount":"1.00","paidAt":"2022-04-05T15:12:58"}]);
        let e = parse_pay_lines(&bad)
            .err()
            .map(|e| e.errors)
            .unwrap_or(Value::Null);
        assert!(e.get("[0].code").is_some());
        assert!(e.get("[0].amount").is_some());
        assert!(e.get("[0].paidAt").is_some());
    }
}
