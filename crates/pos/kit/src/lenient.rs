//! Lenient reading of POS answers, written once for every connector.
//!
//! Why it exists: posgate talks to independent implementations of each vendor's API. The same
//! field comes under several names and in any case, ids are numbers or strings, money is a
//! JSON number or a string, a list is sometimes one object, bodies come with a BOM or in
//! windows-1251, and an error may be an HTML page. Each connector used to write these readers
//! again; with them here a connector's `wire.rs` declares its field names as tables.
//!
//! - scalars ([`text_of`], [`decimal_of`], [`int_of`], [`bool_of`], [`strict_bool`]) and a
//!   field under any of several names ([`text_at`], [`decimal_at`], [`strict_bool_at`],
//!   [`list_at`]), nested ([`path`]), or by a normalised key ([`norm_key`], [`find_norm`]);
//! - serde helpers that never fail on a bad value ([`de`]) and money written exactly
//!   ([`ser_decimal_number`], [`decimal_to_json`]);
//! - bodies: [`decode`] (UTF-8 with or without a BOM, else windows-1251), [`snippet`] for
//!   failure texts, [`looks_like_html`], [`json_kind`];
//! - lists wherever an answer keeps them ([`list_in`]) and a REST error body ([`ErrorBody`]);
//! - GUIDs as r_keeper and Tillypad write them ([`is_guid`], [`guid_text`], [`same_guid`]).
//!
//! Money is parsed from the number's own text (serde_json's `arbitrary_precision` keeps it),
//! never through a float.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

pub use posgate_core::json::{bool_of, decimal_of, decimal_to_json, field, int_of, text_of};

/// The first of `keys` present (any ASCII case, not null).
pub fn first_field<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| field(v, k))
}

/// The text of the first of `keys` that has one.
pub fn text_at(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| field(v, k).and_then(text_of))
}

/// The exact decimal of the first of `keys` that has one.
pub fn decimal_at(v: &Value, keys: &[&str]) -> Option<Decimal> {
    keys.iter().find_map(|k| field(v, k).and_then(decimal_of))
}

/// A strict boolean: `true`/`false`, also as strings; `1` or `"yes"` are not (a field named
/// `paid` may hold an amount).
pub fn strict_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The strict boolean of the first of `keys` that has one.
pub fn strict_bool_at(v: &Value, keys: &[&str]) -> Option<bool> {
    keys.iter().find_map(|k| field(v, k).and_then(strict_bool))
}

/// The array under the first of `keys` that holds one.
pub fn list_at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Vec<Value>> {
    keys.iter()
        .find_map(|k| field(v, k).and_then(Value::as_array))
}

/// A nested field: `path(v, &["error", "wsError", "code"])`, each step in any ASCII case.
pub fn path<'a>(v: &'a Value, steps: &[&str]) -> Option<&'a Value> {
    steps.iter().try_fold(v, |v, k| field(v, k))
}

/// A key as [`find_norm`] compares it: lower case, no `_` or `-`, no trailing `s`
/// (`AppliedDiscountSums`, `appliedDiscountSum`, `applied_discount_sums` are one key).
pub fn norm_key(k: &str) -> String {
    let k: String = k
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    k.strip_suffix('s').map(str::to_string).unwrap_or(k)
}

/// The first entry of an object whose [`norm_key`] is one of `wanted` (already normalised).
pub fn find_norm<'a>(o: &'a Map<String, Value>, wanted: &[&str]) -> Option<(&'a str, &'a Value)> {
    o.iter()
        .find(|(k, _)| wanted.contains(&norm_key(k).as_str()))
        .map(|(k, v)| (k.as_str(), v))
}

/// serde helpers for `#[serde(deserialize_with = ...)]` that never fail on a bad value: a
/// missing, null or mistyped field is `None` (or empty), whatever else the answer holds.
pub mod de {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};

    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(text_of))
    }

    /// Money or quantity: JSON number or dotted string → exact `Decimal`.
    pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?
            .as_ref()
            .and_then(decimal_of))
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?.as_ref().and_then(bool_of))
    }

    pub fn opt_struct<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(Option::<Value>::deserialize(d)?.and_then(|v| T::deserialize(v).ok()))
    }

    /// An array whose unreadable elements are skipped; anything but an array is empty.
    pub fn vec<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(opt_vec(d)?.unwrap_or_default())
    }

    /// [`vec`], but `None` when the field is not an array.
    pub fn opt_vec<'de, D: Deserializer<'de>, T: DeserializeOwned>(
        d: D,
    ) -> Result<Option<Vec<T>>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::Array(items)) => Some(
                items
                    .into_iter()
                    .filter_map(|v| T::deserialize(v).ok())
                    .collect(),
            ),
            _ => None,
        })
    }
}

/// Writes a decimal as a JSON number with its digits as they are (needs serde_json's
/// `arbitrary_precision`, on in the workspace): `978.00`, never `978.0000001`.
pub fn ser_decimal_number<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let n = serde_json::Number::from_str(&d.to_string()).map_err(S::Error::custom)?;
    n.serialize(s)
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

/// Longest body snippet a failure text quotes.
pub const SNIPPET: usize = 300;

/// The start of a body for a failure text: one line (control characters as spaces), at most
/// [`SNIPPET`] characters, trimmed.
pub fn snippet(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(SNIPPET)
        .collect();
    one_line.trim().to_string()
}

/// Whether a body is an HTML page (a proxy's or a web server's error page).
pub fn looks_like_html(s: &str) -> bool {
    let t = s.trim_start().to_ascii_lowercase();
    t.starts_with('<') || t.contains("<html") || t.contains("<body")
}

/// What kind of JSON value this is, for failure texts.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A GUID without its braces, trimmed: `{8F0E…}` → `8F0E…`.
pub fn guid_text(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('{')
        .and_then(|x| x.strip_suffix('}'))
        .unwrap_or(s)
        .to_string()
}

/// Whether `s` is a GUID (`8-4-4-4-12` hex digits, optionally in braces).
pub fn is_guid(s: &str) -> bool {
    let s = guid_text(s);
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    parts.len() == lens.len()
        && parts
            .iter()
            .zip(lens)
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Compares GUIDs the way r_keeper and Tillypad write them: braces and case do not matter.
pub fn same_guid(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .to_string()
    };
    norm(a).eq_ignore_ascii_case(&norm(b))
}

/// A list as an answer gives it: the value itself when it is an array, else the first list
/// under one of `keys` (`{"items": [...]}`).
pub fn list_in(v: &Value, keys: &[&str]) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) => Some(a.clone()),
        Value::Object(_) => list_at(v, keys).cloned(),
        _ => None,
    }
}

/// A REST API's JSON error body: `{code, msg, requestId, errors}` under the names independent
/// implementations use (ASP.NET's problem details `title`/`detail`/`traceId` among them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub msg: Option<String>,
    /// The server's id of the exchange, for its support.
    pub request_id: Option<String>,
    /// Validation details, as JSON text.
    pub errors: Option<String>,
}

impl ErrorBody {
    /// Reads an error body; `None` unless it is a JSON object with a code or a message.
    pub fn parse(bytes: &[u8]) -> Option<ErrorBody> {
        let v: Value = serde_json::from_slice(bytes).ok()?;
        ErrorBody::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Option<ErrorBody> {
        if !v.is_object() {
            return None;
        }
        let errors = field(v, "errors").and_then(|e| match e {
            Value::Object(m) if m.is_empty() => None,
            Value::Array(a) if a.is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        });
        let b = ErrorBody {
            code: text_at(v, &["code", "errorCode"]),
            msg: text_at(
                v,
                &["msg", "message", "detail", "title", "error_description"],
            ),
            request_id: text_at(v, &["requestId", "traceId"]),
            errors,
        };
        (b.code.is_some() || b.msg.is_some()).then_some(b)
    }

    /// The message, with the validation details when there are any.
    pub fn text(&self) -> String {
        let msg = self.msg.clone().unwrap_or_default();
        match &self.errors {
            Some(e) if msg.is_empty() => e.clone(),
            Some(e) => format!("{msg} {e}"),
            None => msg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_under_several_names_and_paths() {
        let v = json!({"Amount": "12.50", "orderId": 7, "isPaid": "TRUE", "paid": 1,
                       "list": [1], "error": {"wsError": {"Code": "NotFound"}}});
        assert_eq!(text_at(&v, &["id", "orderid"]).as_deref(), Some("7"));
        assert_eq!(
            decimal_at(&v, &["sum", "amount"]),
            Some("12.50".parse().unwrap())
        );
        assert_eq!(
            strict_bool_at(&v, &["paid", "isPaid"]),
            Some(true),
            "1 is no bool"
        );
        assert_eq!(list_at(&v, &["orderId", "list"]).map(Vec::len), Some(1));
        assert_eq!(
            path(&v, &["error", "wsError", "code"])
                .and_then(text_of)
                .as_deref(),
            Some("NotFound")
        );
        assert!(path(&v, &["error", "agentError", "code"]).is_none());
        assert!(first_field(&v, &["nope"]).is_none());
    }

    #[test]
    fn normalised_keys() {
        for k in [
            "AppliedDiscountSums",
            "appliedDiscountSum",
            "applied_discount_sums",
        ] {
            assert_eq!(norm_key(k), "applieddiscountsum", "{k}");
        }
        let o = json!({"Error_Message": "x", "b": 1});
        let found = find_norm(o.as_object().unwrap(), &["errormessage"]);
        assert_eq!(found.map(|(k, _)| k), Some("Error_Message"));
    }

    #[test]
    fn serde_helpers_never_fail() {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct S {
            #[serde(deserialize_with = "de::opt_string")]
            s: Option<String>,
            #[serde(deserialize_with = "de::opt_decimal")]
            d: Option<Decimal>,
            #[serde(deserialize_with = "de::opt_bool")]
            b: Option<bool>,
            #[serde(deserialize_with = "de::vec")]
            v: Vec<u8>,
            #[serde(deserialize_with = "de::opt_vec")]
            o: Option<Vec<u8>>,
        }
        let s: S = serde_json::from_value(
            json!({"s": 5, "d": "1.50", "b": "yes", "v": [1, "x", 2], "o": {}}),
        )
        .unwrap();
        assert_eq!(s.s.as_deref(), Some("5"));
        assert_eq!(s.d, Some("1.50".parse().unwrap()));
        assert_eq!((s.b, s.v, s.o), (Some(true), vec![1, 2], None));
        let s: S = serde_json::from_value(json!({"s": [], "d": "1,5", "b": 7, "v": "x"})).unwrap();
        assert_eq!((s.s, s.d, s.b, s.v.len()), (None, None, None, 0));
    }

    #[test]
    fn money_is_serialized_with_its_digits() {
        #[derive(Serialize)]
        struct L {
            #[serde(serialize_with = "ser_decimal_number")]
            amount: Decimal,
        }
        let l = L {
            amount: "978.00".parse().unwrap(),
        };
        assert_eq!(serde_json::to_string(&l).unwrap(), r#"{"amount":978.00}"#);
    }

    #[test]
    fn bodies_are_decoded_and_quoted() {
        assert_eq!(decode(b"\xEF\xBB\xBF\"ok\""), "\"ok\"");
        // «Смена закрыта» in windows-1251.
        assert_eq!(
            decode(b"\xD1\xec\xe5\xed\xe0 \xe7\xe0\xea\xf0\xfb\xf2\xe0"),
            "Смена закрыта"
        );
        assert_eq!(decode(b"\xA8\xB8\x88"), "Ёё€");
        assert_eq!(snippet(" a\r\nb "), "a  b");
        assert_eq!(snippet(&"x".repeat(1000)).len(), SNIPPET);
        assert!(looks_like_html("  <!DOCTYPE html>"));
        assert!(looks_like_html("Error <html>"));
        assert!(!looks_like_html("Смена закрыта"));
        assert_eq!(json_kind(&json!([1])), "array");
        assert_eq!(json_kind(&json!(null)), "null");
    }

    #[test]
    fn guids() {
        assert!(is_guid("{8F0E6B52-3C1D-4A7E-9B20-000000000978}"));
        assert!(is_guid(" 8f0e6b52-3c1d-4a7e-9b20-000000000978 "));
        assert!(!is_guid("8F0E6B52-3C1D-4A7E-9B20-00000000097"));
        assert!(!is_guid("8F0E6B52-3C1D-4A7E-9B20-00000000097X"));
        assert!(!is_guid("12"));
        assert_eq!(guid_text(" {A-B} "), "A-B");
        assert!(same_guid("{ABC}", " abc "));
        assert!(!same_guid("abc", "abd"));
    }

    #[test]
    fn rest_error_bodies_and_problem_details() {
        let e = ErrorBody::parse(
            br#"{"code": "ERR_EXTERNAL_ERROR_WS", "msg": "WS Error: x", "requestId": "0HM:1", "errors": null}"#,
        )
        .unwrap();
        assert_eq!(e.code.as_deref(), Some("ERR_EXTERNAL_ERROR_WS"));
        assert_eq!(e.request_id.as_deref(), Some("0HM:1"));
        assert_eq!(e.text(), "WS Error: x");
        let e = ErrorBody::parse(
            br#"{"code": "ERR_VALIDATION", "msg": "bad", "errors": {"[0].paidAt": ["no tz"]}}"#,
        )
        .unwrap();
        assert_eq!(e.text(), r#"bad {"[0].paidAt":["no tz"]}"#);
        let e = ErrorBody::parse(br#"{"title": "Bad", "traceId": "t1", "errors": []}"#).unwrap();
        assert_eq!(
            (e.msg.as_deref(), e.request_id.as_deref()),
            (Some("Bad"), Some("t1"))
        );
        assert_eq!(e.errors, None, "an empty list is no details");
        assert!(ErrorBody::parse(b"<html>").is_none());
        assert!(ErrorBody::parse(br#"{"result": {}}"#).is_none());
        assert!(ErrorBody::parse(b"[]").is_none());
    }

    #[test]
    fn lists_wherever_an_answer_keeps_them() {
        let keys = &["items", "orders"];
        assert_eq!(list_in(&json!([1, 2]), keys).map(|l| l.len()), Some(2));
        assert_eq!(
            list_in(&json!({"Orders": [1]}), keys).map(|l| l.len()),
            Some(1)
        );
        assert_eq!(list_in(&json!({"other": [1]}), keys), None);
        assert_eq!(list_in(&json!("x"), keys), None);
    }
}
