//! The rules of `/pay-guest` and `/post-guest`, over the state (no I/O).

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::model::{
    DiscountLine, FaultKind, LedgerEntry, PrecheckStatus, SimItem, SimPrecheck, SimReceipt, SimTab,
    tab_state,
};
use super::state::{State, norm_id};
use super::texts::Text;
use crate::util::{decimal_from_json, decimal_to_json};

/// A parsed `/pay-guest` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PayRequest {
    pub gest_id: String,
    /// `None`: only the discount is recalculated; no precheck or receipt is made.
    pub pay_sum: Option<Decimal>,
    pub pay_type_id: Option<String>,
    /// `DiscountSum` (or, failing that, `GuestDiscountPoints`).
    pub discount: Option<DiscountLine>,
}

pub(crate) fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s.trim()).is_ok()
}

/// A GUID field: absent, `null` or `""` → `None`; a GUID → `Some`; anything else → error.
fn guid_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, Text> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) if is_guid(s) => Ok(Some(norm_id(s))),
        Some(_) => Err(Text::BadRequest),
    }
}

fn decimal_field(obj: &Map<String, Value>, key: &str) -> Result<Option<Decimal>, Text> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => decimal_from_json(v).map(Some).ok_or(Text::BadRequest),
    }
}

/// Parses the `delete-prechecks` query value: absent → 0.
pub(crate) fn parse_mode(v: Option<&str>) -> Result<u8, Text> {
    match v.map(str::trim) {
        None | Some("") => Ok(0),
        Some("0") => Ok(0),
        Some("1") => Ok(1),
        Some("2") => Ok(2),
        Some(_) => Err(Text::BadDeletePrechecks),
    }
}

/// Parses the body `{"Payment": {gest_ID, paySum?, payType_ID?}, "DiscountSum"?: {type_ID?, sum}}`.
/// Field names are matched exactly, as the vendor spells them.
pub(crate) fn parse_pay(body: &Value) -> Result<PayRequest, Text> {
    let obj = body.as_object().ok_or(Text::BadRequest)?;
    let payment = obj
        .get("Payment")
        .and_then(Value::as_object)
        .ok_or(Text::BadRequest)?;
    let gest_id = guid_field(payment, "gest_ID")?.ok_or(Text::BadRequest)?;
    let pay_sum = decimal_field(payment, "paySum")?;
    if pay_sum.is_some_and(|s| s.is_sign_negative()) {
        return Err(Text::BadRequest);
    }
    let pay_type_id = guid_field(payment, "payType_ID")?;
    let discount_obj = match (obj.get("DiscountSum"), obj.get("GuestDiscountPoints")) {
        (Some(Value::Object(d)), _) => Some(d),
        (None | Some(Value::Null), Some(Value::Object(d))) => Some(d),
        (None | Some(Value::Null), None | Some(Value::Null)) => None,
        _ => return Err(Text::BadRequest),
    };
    let discount = match discount_obj {
        None => None,
        Some(d) => {
            let sum = decimal_field(d, "sum")?.ok_or(Text::BadRequest)?;
            if sum.is_sign_negative() {
                return Err(Text::BadRequest);
            }
            Some(DiscountLine {
                type_id: guid_field(d, "type_ID")?,
                sum,
            })
        }
    };
    Ok(PayRequest {
        gest_id,
        pay_sum,
        pay_type_id,
        discount,
    })
}

fn line_json(type_id: Option<&str>, sum: Decimal) -> Value {
    json!({ "type_ID": type_id, "sum": decimal_to_json(sum) })
}

/// Executes `/pay-guest` atomically: checks everything first, then applies. Returns the
/// success body `{DiscountSums, AppliedDiscountSums?}` or the error text.
pub(crate) fn pay_guest(st: &mut State, mode: u8, req: &PayRequest) -> Result<Value, Text> {
    let settings = st.settings.clone();
    let tab = st.tab(&req.gest_id).ok_or(Text::TabNotFound)?.clone();
    if !settings.business_day_open {
        return Err(Text::BusinessDayClosed);
    }
    if tab.is_closed() {
        return Err(Text::TabClosed);
    }

    // Pay type: the request's, else the tab's prepaid one.
    if let Some(pt) = &req.pay_type_id
        && !settings.pay_types.is_empty()
        && !settings.pay_types.iter().any(|p| norm_id(&p.id) == *pt)
    {
        return Err(Text::UnknownPayType);
    }
    let pay_type = req
        .pay_type_id
        .clone()
        .or_else(|| tab.prepaid_pay_type_id.as_deref().map(norm_id))
        .ok_or(Text::NoPayType)?;

    // Points type: the request's, else the module's default.
    let points_type = match &req.discount {
        None => None,
        Some(d) => {
            let type_id = d
                .type_id
                .clone()
                .or_else(|| settings.default_points_type_id.as_deref().map(norm_id));
            let known = type_id.as_deref().and_then(|t| {
                settings
                    .points_types
                    .iter()
                    .find(|p| norm_id(&p.type_id) == t)
            });
            if type_id.is_some() && known.is_none() && !settings.points_types.is_empty() {
                return Err(Text::UnknownPointsType);
            }
            Some((type_id, known.map(|k| norm_id(&k.discount_type_id))))
        }
    };

    // Prechecks, per delete-prechecks.
    let in_paid = |t: &SimTab, i: usize| {
        t.prechecks
            .iter()
            .any(|p| p.status == PrecheckStatus::Paid && p.items.contains(&i))
    };
    let all: Vec<usize> = (0..tab.items.len()).collect();
    let not_paid: Vec<usize> = all.iter().copied().filter(|&i| !in_paid(&tab, i)).collect();
    let scope: Vec<usize> = match mode {
        // Don't delete: the discount reaches only what is not in a precheck.
        0 => {
            let unsent = tab.unsent_items();
            if unsent.is_empty() {
                return Err(Text::AlreadyInPayment);
            }
            unsent
        }
        // Delete all prechecks: refused if any is paid.
        1 => {
            if tab
                .prechecks
                .iter()
                .any(|p| p.status == PrecheckStatus::Paid)
            {
                return Err(Text::AlreadyPaid);
            }
            all
        }
        // Delete unpaid prechecks (and the others without receipts): paid ones stay.
        _ => {
            if not_paid.is_empty() {
                return Err(Text::AlreadyPaid);
            }
            not_paid.clone()
        }
    };
    let due = tab.sum_of(&not_paid);
    let declared = req.discount.as_ref().map_or(Decimal::ZERO, |d| d.sum);
    let applied = if req.discount.is_some() && settings.points_enabled {
        let mut a = declared.min(tab.sum_of(&scope));
        if let Some(cap) = tab.points_available {
            a = a.min(cap.max(Decimal::ZERO));
        }
        Some(a)
    } else {
        None
    };

    if let Some(pay_sum) = req.pay_sum {
        // The sum paid must equal the tab's total less the points declared.
        let required = due.checked_sub(declared).unwrap_or(Decimal::NEGATIVE_ONE);
        if required.is_sign_negative() || pay_sum.round_dp(2) != required.round_dp(2) {
            return Err(Text::SumDiffers);
        }
        if st
            .take_fault("/pay-guest", Some(&req.gest_id), |k| {
                matches!(k, FaultKind::PrinterError)
            })
            .is_some()
        {
            return Err(Text::PrinterError);
        }
    }

    // Apply.
    let seq = st.next_seq();
    let precheck_id = norm_id(&uuid::Uuid::new_v4().to_string());
    let receipt_id = norm_id(&uuid::Uuid::new_v4().to_string());
    let Some(t) = st.tab_mut(&req.gest_id) else {
        return Err(Text::TabNotFound);
    };
    match mode {
        0 => {}
        1 => t.prechecks.clear(),
        _ => t.prechecks.retain(|p| p.status == PrecheckStatus::Paid),
    }
    if let Some(d) = &req.discount {
        t.discount_note = Some(d.sum);
    }
    t.points_applied = applied.unwrap_or(Decimal::ZERO);
    let mut entry = None;
    if let Some(pay_sum) = req.pay_sum {
        let unsent = t.unsent_items();
        // Prechecks left unpaid (mode 0) are paid by this payment too.
        for p in t.prechecks.iter_mut() {
            p.status = PrecheckStatus::Paid;
        }
        t.prechecks.push(SimPrecheck {
            id: precheck_id.clone(),
            items: unsent,
            status: PrecheckStatus::Paid,
        });
        t.receipts.push(SimReceipt {
            id: receipt_id.clone(),
            precheck_id: precheck_id.clone(),
            pay_type_id: pay_type.clone(),
            sum: pay_sum,
            source: "pay-guest".into(),
        });
        t.state = tab_state::CLOSED;
        if req.pay_type_id.is_some() {
            t.prepaid_pay_type_id = Some(pay_type.clone());
        }
        entry = Some(LedgerEntry {
            seq,
            gest_id: t.gest_id.clone(),
            pay_sum,
            pay_type_id: pay_type,
            delete_prechecks: mode,
            discount: req.discount.as_ref().map(|d| DiscountLine {
                type_id: points_type.as_ref().and_then(|p| p.0.clone()),
                sum: d.sum,
            }),
            applied: applied.map(|a| DiscountLine {
                type_id: points_type.as_ref().and_then(|p| p.1.clone()),
                sum: a,
            }),
            precheck_id,
            receipt_id,
        });
    }
    if let Some(e) = entry {
        st.ledger.push(e);
    }

    let mut out = Map::new();
    let (requested_type, applied_type) = points_type.clone().unwrap_or((None, None));
    out.insert(
        "DiscountSums".into(),
        Value::Array(
            req.discount
                .iter()
                .map(|d| line_json(requested_type.as_deref(), d.sum))
                .collect(),
        ),
    );
    if settings.points_enabled {
        out.insert(
            "AppliedDiscountSums".into(),
            Value::Array(
                applied
                    .iter()
                    .map(|a| line_json(applied_type.as_deref(), *a))
                    .collect(),
            ),
        );
    }
    Ok(Value::Object(out))
}

/// Parses a `/post-guest` body into a tab. GUID fields must be GUIDs (or empty); items come
/// from `orders[].orderItems[]` (`orit_mitm_ID`, `orit_Price`, `orit_Count`; numbers or
/// numeric strings).
pub(crate) fn parse_post_guest(body: &Value) -> Result<SimTab, Text> {
    let obj = body.as_object().ok_or(Text::BadRequest)?;
    for key in ["gest_dvsn_ID", "gest_ID"] {
        guid_field(obj, key)?;
    }
    let state = match obj.get("gest_gsst_ID") {
        None | Some(Value::Null) => tab_state::OPEN,
        Some(v) => decimal_from_json(v)
            .filter(|d| d.fract().is_zero())
            .and_then(|d| i64::try_from(d).ok())
            .ok_or(Text::BadRequest)?,
    };
    // guestDeliveries: an object (as clients send it) or an array of them.
    let delivery = match obj.get("guestDeliveries") {
        Some(Value::Object(d)) => Some(d.clone()),
        Some(Value::Array(a)) => a.first().and_then(Value::as_object).cloned(),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Text::BadRequest),
    };
    let mut prepaid = None;
    if let Some(d) = &delivery {
        prepaid = guid_field(d, "gsdlv_pytp_ID_Prepaid")?;
        guid_field(d, "gsdlv_cncpt_ID")?;
    }
    let mut items = Vec::new();
    let orders = match obj.get("orders") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(Text::BadRequest),
    };
    for order in &orders {
        let order = order.as_object().ok_or(Text::BadRequest)?;
        let lines = match order.get("orderItems") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a.clone(),
            Some(_) => return Err(Text::BadRequest),
        };
        for line in &lines {
            let line = line.as_object().ok_or(Text::BadRequest)?;
            let menu_item = guid_field(line, "orit_mitm_ID")?.ok_or(Text::BadRequest)?;
            guid_field(line, "orit_mvtp_ID")?;
            let price = decimal_field(line, "orit_Price")?.ok_or(Text::BadRequest)?;
            let count = decimal_field(line, "orit_Count")?.unwrap_or(Decimal::ONE);
            if price.is_sign_negative() || count <= Decimal::ZERO {
                return Err(Text::BadRequest);
            }
            items.push(SimItem::new(menu_item, "", price, count));
        }
    }
    let mut tab = SimTab::new(items);
    tab.state = state;
    tab.prepaid_pay_type_id = prepaid;
    if let Some(Value::String(name)) = obj.get("gest_Name") {
        tab.name = name.clone();
    }
    Ok(tab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_pay_body_exactly() {
        let body: Value = serde_json::from_str(
            r#"{"Payment": {"gest_ID": "{8f0e6b52-3c1d-4a7e-9b20-000000000978}", "paySum": 878.00,
                 "payType_ID": "3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01"},
                "DiscountSum": {"sum": "100"}}"#,
        )
        .unwrap_or(Value::Null);
        let r = parse_pay(&body).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.gest_id, "8F0E6B52-3C1D-4A7E-9B20-000000000978");
        assert_eq!(r.pay_sum, Some(Decimal::new(87800, 2)));
        assert_eq!(r.discount.map(|d| d.sum), Some(Decimal::new(100, 0)));
        // Another spelling of the names is not Tillypad's.
        let body: Value = serde_json::from_str(
            r#"{"payment": {"gest_ID": "8F0E6B52-3C1D-4A7E-9B20-000000000978"}}"#,
        )
        .unwrap_or(Value::Null);
        assert_eq!(parse_pay(&body), Err(Text::BadRequest));
        let body: Value =
            serde_json::from_str(r#"{"Payment": {"gest_ID": "8F0E6B52", "paySum": 1}}"#)
                .unwrap_or(Value::Null);
        assert_eq!(parse_pay(&body), Err(Text::BadRequest));
        let body: Value = serde_json::from_str(
            r#"{"Payment": {"gest_ID": "8F0E6B52-3C1D-4A7E-9B20-000000000978", "paySum": "1,5"}}"#,
        )
        .unwrap_or(Value::Null);
        assert_eq!(parse_pay(&body), Err(Text::BadRequest));
    }

    #[test]
    fn modes_parse() {
        assert_eq!(parse_mode(None), Ok(0));
        assert_eq!(parse_mode(Some("2")), Ok(2));
        assert_eq!(parse_mode(Some("3")), Err(Text::BadDeletePrechecks));
    }
}
