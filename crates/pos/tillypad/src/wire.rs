//! The `/pay-guest` request body and lenient reading of its answers. Money never goes through
//! floats: amounts are written as JSON numbers with their exact decimal text (serde_json's
//! `arbitrary_precision`) and read back exactly.
//!
//! Request (seed 003; field names exactly as the vendor spells them):
//! ```json
//! {"Payment": {"gest_ID": "8F0E…", "paySum": 878.00, "payType_ID": "3E2A…"},
//!  "DiscountSum": {"type_ID": "60D3…", "sum": 100.00}}
//! ```
//! `payType_ID` is left out when the tab's prepaid pay type (`gsdlv_pytp_ID_Prepaid`) is to
//! be used; `DiscountSum` is left out when no points are redeemed, and its `type_ID` when
//! Tillypad's module settings are to supply it.
//!
//! Answer: `{"DiscountSums": [{type_ID, sum}], "AppliedDiscountSums": [{type_ID, sum}]}` on
//! success, or `"<error text>"` (a bare JSON string). Independent implementations vary, so
//! [`parse_answer`] also takes: a UTF-8 BOM, windows-1251 bodies, singular or camelCase keys,
//! a single object instead of a list, sums as strings, error objects
//! (`{"Message": "…"}`, `{"error": "…"}`), plain-text, HTML and empty bodies.

use posgate_core::Money;
use posgate_core::json::{decimal_of, decimal_to_json};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Which body key carries the redeemed points. The vendor's page names the body parameters
/// `Payment` and `DiscountSum`, and its curl example `Payment` and `GuestDiscountPoints`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum PointsField {
    #[default]
    DiscountSum,
    GuestDiscountPoints,
}

impl PointsField {
    pub fn key(self) -> &'static str {
        match self {
            PointsField::DiscountSum => "DiscountSum",
            PointsField::GuestDiscountPoints => "GuestDiscountPoints",
        }
    }
}

/// Whether `s` is a GUID (`8-4-4-4-12` hex digits, optionally in braces).
pub fn is_guid(s: &str) -> bool {
    let s = s.trim();
    let s = s
        .strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s);
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    parts.len() == lens.len()
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A GUID as sent to Tillypad: trimmed, without braces.
pub fn guid_text(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s)
        .to_string()
}

/// What `/pay-guest` is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayGuest {
    pub gest_id: String,
    pub pay_sum: Money,
    /// `None`: the tab's prepaid pay type.
    pub pay_type_id: Option<String>,
    /// `(type_ID, sum)`; `type_ID` `None`: from Tillypad's module settings.
    pub points: Option<(Option<String>, Money)>,
    pub points_field: PointsField,
}

impl PayGuest {
    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut payment = Map::new();
        payment.insert("gest_ID".into(), Value::String(guid_text(&self.gest_id)));
        payment.insert("paySum".into(), decimal_to_json(self.pay_sum.value()));
        if let Some(pt) = &self.pay_type_id {
            payment.insert("payType_ID".into(), Value::String(guid_text(pt)));
        }
        let mut body = Map::new();
        body.insert("Payment".into(), Value::Object(payment));
        if let Some((type_id, sum)) = &self.points {
            let mut d = Map::new();
            if let Some(t) = type_id {
                d.insert("type_ID".into(), Value::String(guid_text(t)));
            }
            d.insert("sum".into(), decimal_to_json(sum.value()));
            body.insert(self.points_field.key().into(), Value::Object(d));
        }
        Value::Object(body)
    }
}

/// A `/pay-guest` answer, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The success object. Each list as received (`None`: the key is absent).
    Success {
        discount_sums: Option<Value>,
        applied_discount_sums: Option<Value>,
    },
    /// An error: a JSON string, an error object's message, or a plain-text body.
    Error { text: String, plain: bool },
    /// Nothing we can read: HTML, empty, another JSON shape.
    Unreadable { why: String, snippet: String },
}

const ERROR_KEYS: &[&str] = &[
    "error",
    "errors",
    "message",
    "errormessage",
    "error_message",
    "errtext",
    "errortext",
    "exceptionmessage",
    "exception",
    "detail",
];

/// Normalises a key: lower case, no `_`, no trailing `s` (`AppliedDiscountSums`,
/// `appliedDiscountSum`, `applied_discount_sums` are one key).
fn norm_key(k: &str) -> String {
    let k: String = k
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    k.strip_suffix('s').map(str::to_string).unwrap_or(k)
}

/// Decodes a body: UTF-8 (a BOM dropped), else windows-1251 (what Russian Windows software
/// sends when it does not send UTF-8).
pub fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| cp1251(b)).collect(),
    }
}

fn cp1251(b: u8) -> char {
    const HIGH: [u16; 64] = [
        0x0402, 0x0403, 0x201A, 0x0453, 0x201E, 0x2026, 0x2020, 0x2021, 0x20AC, 0x2030, 0x0409,
        0x2039, 0x040A, 0x040C, 0x040B, 0x040F, 0x0452, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0xFFFD, 0x2122, 0x0459, 0x203A, 0x045A, 0x045C, 0x045B, 0x045F, 0x00A0,
        0x040E, 0x045E, 0x0408, 0x00A4, 0x0490, 0x00A6, 0x00A7, 0x0401, 0x00A9, 0x0404, 0x00AB,
        0x00AC, 0x00AD, 0x00AE, 0x0407, 0x00B0, 0x00B1, 0x0406, 0x0456, 0x0491, 0x00B5, 0x00B6,
        0x00B7, 0x0451, 0x2116, 0x0454, 0x00BB, 0x0458, 0x0405, 0x0455, 0x0457,
    ];
    let code = match b {
        0x00..=0x7F => u32::from(b),
        0x80..=0xBF => u32::from(HIGH[usize::from(b - 0x80)]),
        // А..я are contiguous.
        _ => 0x0410 + u32::from(b - 0xC0),
    };
    char::from_u32(code).unwrap_or('\u{FFFD}')
}

fn snippet(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    one_line.trim().to_string()
}

fn looks_like_html(s: &str) -> bool {
    let t = s.trim_start().to_ascii_lowercase();
    t.starts_with('<') || t.contains("<html") || t.contains("<body")
}

/// Text of an error object's message (a string, or compact JSON of anything else).
fn error_text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) if a.len() == 1 => a.first().map(error_text_of).unwrap_or_default(),
        Value::Object(o) => o
            .iter()
            .find(|(k, _)| ERROR_KEYS.contains(&norm_key(k).as_str()))
            .map(|(_, v)| error_text_of(v))
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

/// Reads an answer body (any status).
pub fn parse_answer(bytes: &[u8]) -> Answer {
    let text = decode(bytes);
    if text.trim().is_empty() {
        return Answer::Unreadable {
            why: "empty body".into(),
            snippet: String::new(),
        };
    }
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::String(s)) => Answer::Error {
            text: s,
            plain: false,
        },
        Ok(Value::Object(o)) => {
            let find = |want: &str| {
                o.iter()
                    .find(|(k, _)| norm_key(k) == want)
                    .map(|(_, v)| as_list(v))
            };
            let discount_sums = find("discountsum");
            let applied_discount_sums = find("applieddiscountsum");
            if discount_sums.is_some() || applied_discount_sums.is_some() {
                return Answer::Success {
                    discount_sums,
                    applied_discount_sums,
                };
            }
            if let Some((_, v)) = o
                .iter()
                .find(|(k, _)| ERROR_KEYS.contains(&norm_key(k).as_str()))
            {
                return Answer::Error {
                    text: error_text_of(v),
                    plain: false,
                };
            }
            Answer::Unreadable {
                why: "a JSON object without DiscountSums or AppliedDiscountSums".into(),
                snippet: snippet(&text),
            }
        }
        Ok(other) => Answer::Unreadable {
            why: format!("unexpected JSON {}", json_kind(&other)),
            snippet: snippet(&text),
        },
        Err(_) if looks_like_html(&text) => Answer::Unreadable {
            why: "an HTML page".into(),
            snippet: snippet(&text),
        },
        Err(_) => Answer::Error {
            text: text.trim().to_string(),
            plain: true,
        },
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A list as received; a single object becomes a one-element list, `null` an empty one.
fn as_list(v: &Value) -> Value {
    match v {
        Value::Array(_) => v.clone(),
        Value::Null => Value::Array(Vec::new()),
        other => Value::Array(vec![other.clone()]),
    }
}

/// Σ `sum` of a `[{type_ID, sum}]` list; `Err` names what could not be read.
pub fn sum_of_lines(list: &Value) -> Result<Decimal, String> {
    let Value::Array(lines) = list else {
        return Err(format!("not a list: {list}"));
    };
    let mut total = Decimal::ZERO;
    for line in lines {
        let sum = line
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| norm_key(k) == "sum"))
            .and_then(|(_, v)| decimal_of(v))
            .ok_or_else(|| format!("no readable sum in {line}"))?;
        total = total
            .checked_add(sum)
            .ok_or_else(|| "the sums overflow".to_string())?;
    }
    Ok(total)
}
