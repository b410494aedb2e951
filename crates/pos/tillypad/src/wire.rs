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
use posgate_pos_kit::lenient::{
    decimal_of, decimal_to_json, find_norm, json_kind, looks_like_html, snippet,
};
pub use posgate_pos_kit::lenient::{decode, guid_text, is_guid};
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

/// Keys of an error object's message, as [`find_norm`] compares them (`Error_Message`,
/// `errors` and `ErrorMessage` are found too).
const ERROR_KEYS: &[&str] = &[
    "error",
    "message",
    "errormessage",
    "errtext",
    "errortext",
    "exceptionmessage",
    "exception",
    "detail",
];

/// Text of an error object's message (a string, or compact JSON of anything else).
fn error_text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) if a.len() == 1 => a.first().map(error_text_of).unwrap_or_default(),
        Value::Object(o) => find_norm(o, ERROR_KEYS)
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
            let find = |want: &str| find_norm(&o, &[want]).map(|(_, v)| as_list(v));
            let discount_sums = find("discountsum");
            let applied_discount_sums = find("applieddiscountsum");
            if discount_sums.is_some() || applied_discount_sums.is_some() {
                return Answer::Success {
                    discount_sums,
                    applied_discount_sums,
                };
            }
            if let Some((_, v)) = find_norm(&o, ERROR_KEYS) {
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
            .and_then(|o| find_norm(o, &["sum"]))
            .and_then(|(_, v)| decimal_of(v))
            .ok_or_else(|| format!("no readable sum in {line}"))?;
        total = total
            .checked_add(sum)
            .ok_or_else(|| "the sums overflow".to_string())?;
    }
    Ok(total)
}
