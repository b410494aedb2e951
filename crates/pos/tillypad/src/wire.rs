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

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s, 2).unwrap()
    }

    #[test]
    fn body_has_the_vendor_names_and_exact_numbers() {
        let p = PayGuest {
            gest_id: "{8f0e6b52-3c1d-4a7e-9b20-000000000978}".into(),
            pay_sum: m("878"),
            pay_type_id: Some("3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01".into()),
            points: Some((None, m("100.5"))),
            points_field: PointsField::DiscountSum,
        };
        let b = p.body();
        let want: Value = serde_json::from_str(
            r#"{"DiscountSum":{"sum":100.50},"Payment":{"gest_ID":"8f0e6b52-3c1d-4a7e-9b20-000000000978","payType_ID":"3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01","paySum":878.00}}"#,
        )
        .unwrap();
        assert_eq!(b, want);
        // Exact decimal text on the wire.
        let text = b.to_string();
        assert!(text.contains(r#""paySum":878.00"#), "{text}");
        assert!(text.contains(r#""sum":100.50"#), "{text}");
        let p = PayGuest {
            pay_type_id: None,
            points: Some((Some("60D367B5-15D2-D24D-8A74-A28F40C8CB9D".into()), m("1"))),
            points_field: PointsField::GuestDiscountPoints,
            ..p
        };
        let b = p.body();
        assert!(b["Payment"].get("payType_ID").is_none());
        assert_eq!(
            b["GuestDiscountPoints"]["type_ID"],
            "60D367B5-15D2-D24D-8A74-A28F40C8CB9D"
        );
        assert!(b.get("DiscountSum").is_none());
    }

    #[test]
    fn guids() {
        assert!(is_guid("8F0E6B52-3C1D-4A7E-9B20-000000000978"));
        assert!(is_guid("{8f0e6b52-3c1d-4a7e-9b20-000000000978}"));
        assert!(!is_guid("8F0E6B52-3C1D-4A7E-9B20-00000000097"));
        assert!(!is_guid("8F0E6B52-3C1D-4A7E-9B20-00000000097Z"));
        assert!(!is_guid("42"));
    }

    #[test]
    fn success_shapes() {
        let a = parse_answer(
            br#"{"DiscountSums":[{"type_ID":"60D367B5-15D2-D24D-8A74-A28F40C8CB9D","sum":20}],
                 "AppliedDiscountSums":[{"type_ID":"0412C97B-AF11-2447-88D9-B40FA0EB996D","sum":20.00}]}"#,
        );
        let Answer::Success {
            discount_sums: Some(d),
            applied_discount_sums: Some(ap),
        } = a
        else {
            panic!("{a:?}")
        };
        assert_eq!(sum_of_lines(&d), Ok(Decimal::new(20, 0)));
        assert_eq!(ap[0]["type_ID"], "0412C97B-AF11-2447-88D9-B40FA0EB996D");
        assert!(ap.to_string().contains(r#""sum":20.00"#), "{ap}");
        // Singular, camelCase, a single object, string sums; AppliedDiscountSum absent.
        let a = parse_answer(br#"{"discountSum": {"typeId": "x", "Sum": "15.50"}}"#);
        let Answer::Success {
            discount_sums: Some(d),
            applied_discount_sums: None,
        } = a
        else {
            panic!("{a:?}")
        };
        assert_eq!(sum_of_lines(&d), Ok(Decimal::new(1550, 2)));
        // With a BOM.
        let mut b = vec![0xEF, 0xBB, 0xBF];
        b.extend_from_slice(br#"{"DiscountSums": [], "AppliedDiscountSums": []}"#);
        assert!(matches!(parse_answer(&b), Answer::Success { .. }));
    }

    #[test]
    fn error_shapes() {
        let e = |b: &[u8]| match parse_answer(b) {
            Answer::Error { text, .. } => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            e("\"Счет уже передан в оплату\"".as_bytes()),
            "Счет уже передан в оплату"
        );
        assert_eq!(
            e(br#"{"Message": "An error has occurred."}"#),
            "An error has occurred."
        );
        assert_eq!(e(br#"{"error": {"message": "bad"}}"#), "bad");
        assert_eq!(
            e("Счет уже оплачен".as_bytes()),
            "Счет уже оплачен",
            "plain text"
        );
        // windows-1251: «Счет уже оплачен».
        let cp = [
            0xD1, 0xF7, 0xE5, 0xF2, 0x20, 0xF3, 0xE6, 0xE5, 0x20, 0xEE, 0xEF, 0xEB, 0xE0, 0xF7,
            0xE5, 0xED,
        ];
        let mut quoted = vec![b'"'];
        quoted.extend_from_slice(&cp);
        quoted.push(b'"');
        assert_eq!(e(&quoted), "Счет уже оплачен");
        assert_eq!(decode(&[0xA8, 0xB8, 0xB9]), "Ёё№");
    }

    #[test]
    fn unreadable_shapes() {
        for b in [
            &b""[..],
            b"   ",
            b"<html><body>502 Bad Gateway</body></html>",
            b"null",
            b"[1]",
            b"{}",
            b"{\"result\": \"ok\"}",
        ] {
            assert!(
                matches!(parse_answer(b), Answer::Unreadable { .. }),
                "{:?}",
                String::from_utf8_lossy(b)
            );
        }
    }

    #[test]
    fn sums_never_through_floats() {
        let v: Value = serde_json::from_str(r#"[{"sum": 0.1}, {"sum": "0.2"}]"#).unwrap();
        assert_eq!(sum_of_lines(&v), Ok(Decimal::new(3, 1)));
        let v: Value = serde_json::from_str(r#"[{"sum": "1,5"}]"#).unwrap();
        assert!(sum_of_lines(&v).is_err());
    }
}
