//! Expirenza's wire formats: the operation frames that arrive over the WebSocket, the
//! callback bodies posted back, the callback signature and the error body.
//!
//! Money is parsed exactly (serde_json's `arbitrary_precision` keeps a number's text;
//! `129.20` becomes `Decimal 129.20`, never an `f64`) and written as JSON numbers with the
//! exact decimal text.

use std::collections::BTreeMap;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use posgate_core::request::is_unsafe_char;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use sha2::Sha256;

/// How far into an unreadable frame we look for `rID`/`operation`/`billId`.
pub const SCAN_PREFIX_BYTES: usize = 8 * 1024;
/// Longest rID we echo back.
pub const MAX_RID_LEN: usize = 200;

/// Operation names (WS `operation`) and callback paths (`/callback/<operation>`).
pub mod op {
    pub const PAY_BILL: &str = "payBill";
    pub const GET_BILL: &str = "getBill";
    pub const CHECK_WORK: &str = "checkWork";
    pub const VERSION_INFO: &str = "versionInfo";
    pub const SET_SETTINGS: &str = "setSettings";
}

// ------------------------------------------------------------------------------------------
// Operation frames.
// ------------------------------------------------------------------------------------------

/// One operation frame, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub rid: String,
    pub operation: Operation,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    PayBill(PayBillOp),
    GetBill(GetBillOp),
    CheckWork,
    VersionInfo,
    /// Settings pushed by Expirenza; no reply is expected.
    SetSettings,
    /// An operation posgate does not implement (menu, tables, orders from the menu, ...).
    Unsupported(String),
}

impl Operation {
    pub fn name(&self) -> &str {
        match self {
            Operation::PayBill(_) => op::PAY_BILL,
            Operation::GetBill(_) => op::GET_BILL,
            Operation::CheckWork => op::CHECK_WORK,
            Operation::VersionInfo => op::VERSION_INFO,
            Operation::SetSettings => op::SET_SETTINGS,
            Operation::Unsupported(name) => name,
        }
    }
}

/// `payBill`: the guest has paid `sum` (+ `tips`) for `billId`.
#[derive(Debug, Clone, PartialEq)]
pub struct PayBillOp {
    pub bill_id: String,
    pub sum: Decimal,
    /// Zero when absent or null.
    pub tips: Decimal,
    /// `fiscalData` key/value pairs (repeated keys joined with "; ").
    pub fiscal_data: BTreeMap<String, String>,
    /// Problems with optional fields that were skipped (logged, never fatal).
    pub warnings: Vec<String>,
}

/// `getBill`: by the bill (QR on the precheck) or by the table (QR on the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetBillOp {
    ByBill(String),
    ByTable(String),
}

/// A frame that could not be used. `rid`/`operation` are set when they could be read (even
/// from a truncated or oversized frame), so the frame can still be answered with a FAIL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct FrameError {
    pub rid: Option<String>,
    pub operation: Option<String>,
    pub bill_id: Option<String>,
    pub reason: String,
}

impl FrameError {
    fn new(reason: impl Into<String>) -> Self {
        FrameError {
            rid: None,
            operation: None,
            bill_id: None,
            reason: reason.into(),
        }
    }
}

/// Parses an operation frame. Frames longer than `max_bytes` are refused without parsing.
pub fn parse_frame(text: &str, max_bytes: usize) -> Result<Frame, FrameError> {
    if text.len() > max_bytes {
        let mut e = scan(text);
        e.reason = format!(
            "frame of {} bytes exceeds the limit of {max_bytes} bytes",
            text.len()
        );
        return Err(e);
    }
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(err) => {
            let mut e = scan(text);
            e.reason = format!("frame is not valid JSON ({err})");
            return Err(e);
        }
    };
    let Value::Object(obj) = v else {
        return Err(FrameError::new("frame is not a JSON object"));
    };
    let mut err = FrameError::new("");
    err.operation = obj
        .get("operation")
        .and_then(Value::as_str)
        .map(str::to_string);
    err.bill_id = obj
        .get("billId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let rid = match obj.get("rID") {
        // Still answerable (the rID is echoed as it came), but read no further.
        Some(Value::String(s)) if s.chars().any(is_unsafe_char) => {
            return Err(FrameError {
                rid: Some(s.clone()),
                reason: "rID has control or bidirectional-override characters".into(),
                ..err
            });
        }
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= MAX_RID_LEN => s.clone(),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(FrameError {
                reason: "rID is empty".into(),
                ..err
            });
        }
        Some(Value::String(_)) => {
            return Err(FrameError {
                reason: format!("rID is longer than {MAX_RID_LEN} characters"),
                ..err
            });
        }
        // A number is echoed as its text so the frame can still be answered.
        Some(Value::Number(n)) => {
            return Err(FrameError {
                rid: Some(n.to_string()),
                reason: "rID must be a string, got a number".into(),
                ..err
            });
        }
        Some(other) => {
            return Err(FrameError {
                reason: format!("rID must be a string, got {}", kind(other)),
                ..err
            });
        }
        None => {
            return Err(FrameError {
                reason: "rID is missing".into(),
                ..err
            });
        }
    };
    err.rid = Some(rid.clone());
    let fail = |reason: String| FrameError {
        reason,
        ..err.clone()
    };
    let operation = match obj.get("operation") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        Some(Value::String(_)) | None => return Err(fail("operation is missing".into())),
        Some(other) => {
            return Err(fail(format!(
                "operation must be a string, got {}",
                kind(other)
            )));
        }
    };
    let operation = match operation {
        op::PAY_BILL => Operation::PayBill(parse_pay_bill(&obj).map_err(fail)?),
        op::GET_BILL => Operation::GetBill(parse_get_bill(&obj).map_err(fail)?),
        op::CHECK_WORK => Operation::CheckWork,
        op::VERSION_INFO => Operation::VersionInfo,
        op::SET_SETTINGS => Operation::SetSettings,
        other => Operation::Unsupported(other.to_string()),
    };
    Ok(Frame { rid, operation })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn id_field(obj: &serde_json::Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Err(format!("{name} is empty")),
        Some(Value::String(s)) if s.len() > MAX_RID_LEN => {
            Err(format!("{name} is longer than {MAX_RID_LEN} characters"))
        }
        Some(Value::String(s)) if s.chars().any(is_unsafe_char) => Err(format!(
            "{name} has control or bidirectional-override characters"
        )),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(format!("{name} must be a string, got {}", kind(other))),
    }
}

/// Money from a JSON number (exact) or, leniently, a string with a dot.
pub fn money_from_json(v: &Value) -> Option<Decimal> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || s.contains(',') || s.contains(['e', 'E']) {
                return None;
            }
            s.to_string()
        }
        _ => return None,
    };
    Decimal::from_str(&text)
        .ok()
        .or_else(|| Decimal::from_scientific(&text).ok())
}

fn money_field(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Decimal, String> {
    match obj.get(name) {
        None | Some(Value::Null) if required => Err(format!("{name} is missing")),
        None | Some(Value::Null) => Ok(Decimal::ZERO),
        Some(v) => {
            let d = money_from_json(v)
                .ok_or_else(|| format!("{name} must be a number like 129.20, got {v}"))?;
            if d.is_sign_negative() && !d.is_zero() {
                return Err(format!("{name} is negative ({d})"));
            }
            Ok(d)
        }
    }
}

fn parse_pay_bill(obj: &serde_json::Map<String, Value>) -> Result<PayBillOp, String> {
    let bill_id = id_field(obj, "billId")?.ok_or_else(|| "billId is missing".to_string())?;
    let sum = money_field(obj, "sum", true)?;
    let tips = money_field(obj, "tips", false)?;
    let mut warnings = Vec::new();
    let mut fiscal_data = BTreeMap::new();
    match obj.get("fiscalData") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let key = item.get("key").and_then(scalar_text);
                let value = item.get("value").and_then(scalar_text);
                match (key, value) {
                    (Some(k), Some(v)) if !k.is_empty() => {
                        fiscal_data
                            .entry(k)
                            .and_modify(|old: &mut String| {
                                old.push_str("; ");
                                old.push_str(&v);
                            })
                            .or_insert(v);
                    }
                    _ => warnings.push(format!(
                        "fiscalData[{i}] is not {{\"key\": \"...\", \"value\": \"...\"}}; skipped"
                    )),
                }
            }
        }
        Some(other) => warnings.push(format!(
            "fiscalData must be an array, got {}; ignored",
            kind(other)
        )),
    }
    Ok(PayBillOp {
        bill_id,
        sum,
        tips,
        fiscal_data,
        warnings,
    })
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parse_get_bill(obj: &serde_json::Map<String, Value>) -> Result<GetBillOp, String> {
    if let Some(bill) = id_field(obj, "billId")? {
        return Ok(GetBillOp::ByBill(bill));
    }
    match obj.get("tableNumber") {
        None | Some(Value::Null) => Err("neither billId nor tableNumber is given".into()),
        Some(Value::String(s)) if s.trim().is_empty() => Err("tableNumber is empty".into()),
        Some(Value::String(s)) if s.len() > MAX_RID_LEN => Err("tableNumber is too long".into()),
        Some(Value::String(s)) => Ok(GetBillOp::ByTable(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(GetBillOp::ByTable(n.to_string())),
        Some(other) => Err(format!("tableNumber must be a string, got {}", kind(other))),
    }
}

/// Finds `"<key>": "<string>"` in the first [`SCAN_PREFIX_BYTES`] of a frame that is not
/// usable JSON (truncated, oversized).
pub fn scan_string_field(text: &str, key: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let end = bytes.len().min(SCAN_PREFIX_BYTES);
    let hay = &bytes[..end];
    let needle = format!("\"{key}\"");
    let needle = needle.as_bytes();
    let mut from = 0;
    while from + needle.len() <= hay.len() {
        let pos = hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)?
            + from;
        let mut i = pos + needle.len();
        while i < hay.len() && hay[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < hay.len() && hay[i] == b':' {
            i += 1;
            while i < hay.len() && hay[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < hay.len() && hay[i] == b'"' {
                // Find the closing quote (skipping escapes), then let serde unescape.
                let start = i;
                let mut j = i + 1;
                while j < hay.len() {
                    match hay[j] {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                if j < hay.len() {
                    let lit = std::str::from_utf8(&hay[start..=j]).ok()?;
                    let s: String = serde_json::from_str(lit).ok()?;
                    if !s.trim().is_empty() && s.len() <= MAX_RID_LEN {
                        return Some(s);
                    }
                }
                return None;
            }
        }
        from = pos + 1;
    }
    None
}

fn scan(text: &str) -> FrameError {
    FrameError {
        rid: scan_string_field(text, "rID"),
        operation: scan_string_field(text, "operation"),
        bill_id: scan_string_field(text, "billId"),
        reason: String::new(),
    }
}

// ------------------------------------------------------------------------------------------
// Callback bodies. Field names and shapes as in Expirenza's docs (seed 004, getbill/paybill
// pages); fields are declared in alphabetical order like the documented samples.
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Success,
    Fail,
}

/// A dish line of a guest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CbDish {
    pub category: String,
    #[serde(rename = "categoryId")]
    pub category_id: String,
    #[serde(rename = "checkNumber")]
    pub check_number: String,
    pub count: Number,
    #[serde(rename = "dishId")]
    pub dish_id: String,
    #[serde(rename = "linkedTo")]
    pub linked_to: String,
    pub name: String,
    #[serde(rename = "orderNumber", skip_serializing_if = "Option::is_none")]
    pub order_number: Option<i64>,
    #[serde(rename = "positionId")]
    pub position_id: String,
    pub sum: Number,
    #[serde(rename = "taxCategory")]
    pub tax_category: String,
    #[serde(rename = "taxCategoryId")]
    pub tax_category_id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CbGuest {
    pub dishes: Vec<CbDish>,
    pub name: String,
}

/// `/callback/payBill`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayBillCallback {
    #[serde(rename = "billId")]
    pub bill_id: String,
    pub guests: Vec<CbGuest>,
    #[serde(rename = "orderNumber", skip_serializing_if = "Option::is_none")]
    pub order_number: Option<i64>,
    #[serde(rename = "rID")]
    pub rid: String,
    #[serde(rename = "stackTraceMessage", skip_serializing_if = "Option::is_none")]
    pub stack_trace_message: Option<String>,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiter: Option<String>,
    #[serde(rename = "waiterId", skip_serializing_if = "Option::is_none")]
    pub waiter_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discounts {
    pub list: Vec<Value>,
}

/// An order in `/callback/getBill`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CbOrder {
    #[serde(rename = "billId")]
    pub bill_id: String,
    #[serde(rename = "bonusSum")]
    pub bonus_sum: Number,
    pub discounts: Discounts,
    pub guests: Vec<CbGuest>,
    #[serde(rename = "isBanquetOrder")]
    pub is_banquet_order: bool,
    #[serde(rename = "isDelivery")]
    pub is_delivery: bool,
    #[serde(rename = "orderNumber", skip_serializing_if = "Option::is_none")]
    pub order_number: Option<i64>,
    #[serde(rename = "rawSum")]
    pub raw_sum: Number,
    #[serde(rename = "splitAvailable")]
    pub split_available: bool,
    /// NEW (no precheck), BILL (precheck printed), PAYED.
    pub state: String,
    #[serde(rename = "tableId")]
    pub table_id: String,
    #[serde(rename = "totalSum")]
    pub total_sum: Number,
    pub waiter: String,
    #[serde(rename = "waiterId")]
    pub waiter_id: String,
}

/// `/callback/getBill`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetBillCallback {
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(rename = "errorMessage", skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub orders: Vec<CbOrder>,
    #[serde(rename = "rID")]
    pub rid: String,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substate: Option<String>,
    #[serde(rename = "tableNumber", skip_serializing_if = "Option::is_none")]
    pub table_number: Option<Value>,
}

/// `/callback/checkWork`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckWorkCallback {
    /// `yyyy.MM.dd HH:mm:ss` (UTC).
    #[serde(rename = "dateTime")]
    pub date_time: String,
    #[serde(rename = "rID")]
    pub rid: String,
    #[serde(rename = "readyToWork")]
    pub ready_to_work: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub available: bool,
    pub feature: String,
    pub implemented: bool,
}

/// `/callback/versionInfo` (the newer format, with `implementedFeatures`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfoCallback {
    #[serde(rename = "additionalInfo")]
    pub additional_info: BTreeMap<String, String>,
    /// RFC 3339, UTC.
    #[serde(rename = "eventTime")]
    pub event_time: String,
    #[serde(rename = "implementedFeatures")]
    pub implemented_features: Vec<Feature>,
    #[serde(rename = "partnerId")]
    pub partner_id: String,
    /// Must increase with every release: major·10000 + minor·100 + patch.
    #[serde(rename = "pluginVersion")]
    pub plugin_version: u64,
    #[serde(rename = "rID")]
    pub rid: String,
    #[serde(
        rename = "restaurantLicenseDateEnd",
        skip_serializing_if = "Option::is_none"
    )]
    pub restaurant_license_date_end: Option<String>,
    #[serde(rename = "restaurantVersion")]
    pub restaurant_version: String,
    #[serde(rename = "updateInfo")]
    pub update_info: Vec<Value>,
}

/// Expirenza's callback error body (HTTP 400/500).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    #[serde(rename = "errCode")]
    pub err_code: Value,
    #[serde(rename = "errText")]
    pub err_text: Option<String>,
    #[serde(rename = "errTitle")]
    pub err_title: Option<String>,
    #[serde(rename = "errType")]
    pub err_type: Option<String>,
    #[serde(rename = "fieldErrors")]
    pub field_errors: Vec<FieldErrorBody>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldErrorBody {
    pub field: String,
    pub message: String,
}

impl ErrorBody {
    /// Reads an error body leniently (None if it is not one).
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        serde_json::from_slice(body).ok()
    }

    /// One line for the logs.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.err_title {
            s.push_str(t);
        }
        if let Some(t) = &self.err_text {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(t);
        }
        for f in &self.field_errors {
            s.push_str(&format!(" [{}: {}]", f.field, f.message));
        }
        s
    }
}

/// A decimal as a JSON number keeping its exact text (`978.00`).
pub fn number(d: Decimal) -> Number {
    Number::from_str(&d.to_string()).unwrap_or_else(|_| Number::from(0))
}

/// A decimal string from posgate (`"978.00"`) as a JSON number; `0` if unreadable.
pub fn number_text(s: &str) -> Number {
    Decimal::from_str(s.trim())
        .map(number)
        .unwrap_or_else(|_| Number::from(0))
}

// ------------------------------------------------------------------------------------------
// Signature.
// ------------------------------------------------------------------------------------------

/// `Base64(HMAC-SHA256(key = secret, msg = body))`, over the exact bytes sent.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; the error arm cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    B64.encode(mac.finalize().into_bytes())
}

/// Checks a signature in constant time.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(raw) = B64.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&raw).is_ok()
}

/// `Authorization: Basic base64(restoId:secretKey)`.
pub fn basic_auth(resto_id: &str, secret: &str) -> String {
    format!("Basic {}", B64.encode(format!("{resto_id}:{secret}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn parses_the_documented_pay_bill_exactly() {
        let text = r#"{
            "rID" : "2021-03-13 00:32:04.942046#UP57RxE",
            "operation" : "payBill",
            "billId" : "5B100B39-CE42-4F3D-8770-807A28CA0500",
            "sum" : 129.20,
            "tips" : 19.24,
            "fiscalData":[
                {"key":"ЕКВАЙЕР", "value":"Universal Bank"},
                {"key":"...", "value":"..."}
            ]
        }"#;
        let f = parse_frame(text, 1 << 20).unwrap();
        assert_eq!(f.rid, "2021-03-13 00:32:04.942046#UP57RxE");
        let Operation::PayBill(p) = f.operation else {
            panic!("not payBill")
        };
        assert_eq!(p.bill_id, "5B100B39-CE42-4F3D-8770-807A28CA0500");
        assert_eq!(p.sum, dec("129.20"));
        assert_eq!(p.sum.to_string(), "129.20", "exact text, no float");
        assert_eq!(p.tips, dec("19.24"));
        assert_eq!(p.fiscal_data["ЕКВАЙЕР"], "Universal Bank");
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn both_rid_forms_and_other_operations() {
        let f = parse_frame(
            r#"{"rID":"bfe786d3ec61467ab7a17d747e7341d9","operation":"getBill","tableNumber":"12"}"#,
            1024,
        )
        .unwrap();
        assert_eq!(f.rid, "bfe786d3ec61467ab7a17d747e7341d9");
        assert_eq!(
            f.operation,
            Operation::GetBill(GetBillOp::ByTable("12".into()))
        );
        let f = parse_frame(r#"{"rID":"a","operation":"getBill","tableNumber":7}"#, 1024).unwrap();
        assert_eq!(
            f.operation,
            Operation::GetBill(GetBillOp::ByTable("7".into()))
        );
        let f = parse_frame(r#"{"rID":"a","operation":"getBill","billId":"B-1"}"#, 1024).unwrap();
        assert_eq!(
            f.operation,
            Operation::GetBill(GetBillOp::ByBill("B-1".into()))
        );
        let f = parse_frame(r#"{"rID":"a","operation":"checkWork"}"#, 1024).unwrap();
        assert_eq!(f.operation, Operation::CheckWork);
        let f = parse_frame(r#"{"rID":"a","operation":"menuInfo"}"#, 1024).unwrap();
        assert_eq!(f.operation, Operation::Unsupported("menuInfo".into()));
    }

    #[test]
    fn control_and_bidi_characters_in_ids_are_refused() {
        for bad in ["B-1\\nforged", "B\\u202e1", "B\\u00001", "B\\u20661"] {
            for frame in [
                format!(r#"{{"rID":"r1","operation":"payBill","billId":"{bad}","sum":"1.00"}}"#),
                format!(r#"{{"rID":"r1","operation":"getBill","billId":"{bad}"}}"#),
            ] {
                let e = parse_frame(&frame, 4096).expect_err(&frame);
                assert!(e.reason.contains("billId has control"), "{frame}: {e:?}");
                assert_eq!(e.rid.as_deref(), Some("r1"), "still answerable");
            }
            let frame = format!(r#"{{"rID":"r{bad}","operation":"getBill","billId":"B-1"}}"#);
            let e = parse_frame(&frame, 4096).expect_err(&frame);
            assert!(e.reason.contains("rID has control"), "{frame}: {e:?}");
            assert!(e.rid.is_some(), "echoed as it came, to be answered FAIL");
        }
        // Any script is fine.
        assert!(
            parse_frame(
                r#"{"rID":"r1","operation":"getBill","billId":"Стіл-12"}"#,
                4096
            )
            .is_ok()
        );
    }

    #[test]
    fn malformed_frames_name_the_problem_and_keep_the_rid() {
        let cases = [
            (
                r#"{"rID":"r1","operation":"payBill","sum":10}"#,
                "billId is missing",
            ),
            (
                r#"{"rID":"r1","operation":"payBill","billId":"b"}"#,
                "sum is missing",
            ),
            (
                r#"{"rID":"r1","operation":"payBill","billId":"b","sum":"abc"}"#,
                "sum must be a number",
            ),
            (
                r#"{"rID":"r1","operation":"payBill","billId":"b","sum":true}"#,
                "sum must be a number",
            ),
            (
                r#"{"rID":"r1","operation":"payBill","billId":"b","sum":-5}"#,
                "sum is negative",
            ),
            (
                r#"{"rID":"r1","operation":"payBill","billId":42,"sum":1}"#,
                "billId must be a string",
            ),
            (
                r#"{"rID":"r1","operation":"payBill","billId":"b","sum":1,"tips":"x"}"#,
                "tips must be a number",
            ),
            (r#"{"rID":"r1","operation":"getBill"}"#, "neither billId"),
            (
                r#"{"rID":"r1","operation":5}"#,
                "operation must be a string",
            ),
            (r#"{"rID":"r1"}"#, "operation is missing"),
        ];
        for (text, want) in cases {
            let e = parse_frame(text, 1024).unwrap_err();
            assert_eq!(e.rid.as_deref(), Some("r1"), "{text}");
            assert!(e.reason.contains(want), "{text}: {}", e.reason);
        }
        let e = parse_frame(r#"{"operation":"payBill"}"#, 1024).unwrap_err();
        assert_eq!(e.rid, None);
        assert_eq!(e.operation.as_deref(), Some("payBill"));
        let e = parse_frame(r#"{"rID":12,"operation":"payBill"}"#, 1024).unwrap_err();
        assert_eq!(e.rid.as_deref(), Some("12"));
        let e = parse_frame("[1,2]", 1024).unwrap_err();
        assert_eq!(e.rid, None);
        let e = parse_frame("", 1024).unwrap_err();
        assert!(e.reason.contains("not valid JSON"));
    }

    #[test]
    fn truncated_and_huge_frames_are_scanned_for_the_rid() {
        let e = parse_frame(
            r#"{"rID":"x\"4","operation":"payBill","billId":"B7","sum":"#,
            1024,
        )
        .unwrap_err();
        assert_eq!(e.rid.as_deref(), Some("x\"4"));
        assert_eq!(e.operation.as_deref(), Some("payBill"));
        assert_eq!(e.bill_id.as_deref(), Some("B7"));
        assert!(e.reason.contains("not valid JSON"));
        let huge = format!(
            r#"{{"rID" : "big-1", "operation":"payBill","billId":"B","pad":"{}"}}"#,
            "x".repeat(5000)
        );
        let e = parse_frame(&huge, 4096).unwrap_err();
        assert_eq!(e.rid.as_deref(), Some("big-1"));
        assert!(
            e.reason.contains("exceeds the limit of 4096 bytes"),
            "{}",
            e.reason
        );
        assert_eq!(scan_string_field("garbage \"rID\": 5", "rID"), None);
        assert_eq!(
            scan_string_field("\"rID\"\"rID\":\"ok\"", "rID").as_deref(),
            Some("ok")
        );
    }

    #[test]
    fn optional_field_problems_are_warnings() {
        let f = parse_frame(
            r#"{"rID":"r","operation":"payBill","billId":"b","sum":1,"tips":null,"fiscalData":[{"key":"k"},{"key":"a","value":1},{"key":"a","value":"2"}]}"#,
            1024,
        )
        .unwrap();
        let Operation::PayBill(p) = f.operation else {
            panic!()
        };
        assert_eq!(p.tips, Decimal::ZERO);
        assert_eq!(p.fiscal_data["a"], "1; 2");
        assert_eq!(p.warnings.len(), 1);
        let f = parse_frame(
            r#"{"rID":"r","operation":"payBill","billId":"b","sum":"12.50","fiscalData":"x"}"#,
            1024,
        )
        .unwrap();
        let Operation::PayBill(p) = f.operation else {
            panic!()
        };
        assert_eq!(p.sum, dec("12.50"));
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn signature_matches_the_documented_recipe() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), Base64.
        let sig = sign("key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(sig, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
        assert!(verify(
            "key",
            b"The quick brown fox jumps over the lazy dog",
            &sig
        ));
        assert!(!verify(
            "key",
            b"The quick brown fox jumps over the lazy dog ",
            &sig
        ));
        assert!(!verify(
            "other",
            b"The quick brown fox jumps over the lazy dog",
            &sig
        ));
        assert!(!verify("key", b"x", "not base64!"));
        assert_eq!(basic_auth("r1", "s"), "Basic cjE6cw==");
    }

    #[test]
    fn pay_bill_callback_has_the_documented_shape() {
        let cb = PayBillCallback {
            bill_id: "B".into(),
            guests: vec![CbGuest {
                name: "Гость 1".into(),
                dishes: vec![CbDish {
                    category: String::new(),
                    category_id: String::new(),
                    check_number: String::new(),
                    count: number(dec("1.5")),
                    dish_id: "1001".into(),
                    linked_to: String::new(),
                    name: "Борщ".into(),
                    order_number: Some(235),
                    position_id: "1-1".into(),
                    sum: number(dec("390.00")),
                    tax_category: String::new(),
                    tax_category_id: String::new(),
                    kind: "dish".into(),
                }],
            }],
            order_number: Some(235),
            rid: "r".into(),
            stack_trace_message: Some("why".into()),
            state: State::Fail,
            substate: Some("BILL_IN_USE".into()),
            waiter: Some("Петро".into()),
            waiter_id: Some("7".into()),
        };
        let text = serde_json::to_string(&cb).unwrap();
        assert!(text.contains(r#""sum":390.00"#), "{text}");
        assert!(text.contains(r#""count":1.5"#), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        for k in [
            "billId",
            "guests",
            "orderNumber",
            "rID",
            "stackTraceMessage",
            "state",
            "substate",
            "waiter",
            "waiterId",
        ] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["state"], "FAIL");
        assert!(v["guests"].is_array());
        assert!(v["orderNumber"].is_i64());
        assert_eq!(v["guests"][0]["dishes"][0]["type"], "dish");
        let back: PayBillCallback = serde_json::from_str(&text).unwrap();
        assert_eq!(back, cb);
    }

    #[test]
    fn error_body_is_read_leniently() {
        let e = ErrorBody::parse(
            br#"{"errCode":{},"errText":"Bad signature","errTitle":"Error","errType":"FULLSCREEN","fieldErrors":[{"field":"signature","message":"mismatch"}]}"#,
        )
        .unwrap();
        assert_eq!(e.summary(), "Error: Bad signature [signature: mismatch]");
        assert!(ErrorBody::parse(b"").is_none());
    }
}
