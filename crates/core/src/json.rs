//! Lenient reading of POS answers (JSON), shared by every adapter, and money written into a
//! request exactly.
//!
//! posgate talks to independent implementations of each vendor's API: unknown fields are
//! ignored, missing or mistyped fields become `None`, ids may be strings or numbers, and money
//! may be a JSON number or a string with a dot. Money is parsed from the number's own text
//! (serde_json's `arbitrary_precision` keeps it), never through a float.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

/// Looks a key up in a JSON object: exact first, then ignoring ASCII case. Null is absent.
pub fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(key)
        .or_else(|| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// A string, number or bool as text; `None` for null, blank strings, objects and arrays.
pub fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Exact decimal from a JSON number or a string like `"978.00"` (dot separator; surrounding
/// spaces tolerated). Exponents are accepted on numbers only; commas never.
pub fn decimal_of(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => parse_decimal_text(&n.to_string(), true),
        Value::String(s) => parse_decimal_text(s.trim(), false),
        _ => None,
    }
}

fn parse_decimal_text(s: &str, allow_exponent: bool) -> Option<Decimal> {
    let body = s.strip_prefix('-').unwrap_or(s);
    let plain = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|b| *b == b'.').count() <= 1
        && !body.starts_with('.')
        && !body.ends_with('.');
    if plain {
        return Decimal::from_str(s).ok();
    }
    // A JSON number's text that is not plain has an exponent.
    if allow_exponent {
        return Decimal::from_scientific(s).ok();
    }
    None
}

/// An integer from a number or a string of digits.
pub fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A bool, or `"true"`/`"false"`/`"yes"`/`"no"`/`1`/`0`.
pub fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.to_string().as_str() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Money written as a JSON number with its exact text (`978.00` stays `978.00`, thanks to
/// serde_json's `arbitrary_precision`), never through a float.
pub fn decimal_to_json(d: Decimal) -> Value {
    let text = d.to_string();
    match serde_json::Number::from_str(&text) {
        Ok(n) => Value::Number(n),
        Err(_) => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_is_read_exactly_from_numbers_and_strings() {
        let v: Value = serde_json::from_str(r#"{"a": 978.00, "b": "1450.50", "c": 1e3}"#).unwrap();
        assert_eq!(decimal_of(&v["a"]).unwrap().to_string(), "978.00");
        assert_eq!(decimal_of(&v["b"]).unwrap().to_string(), "1450.50");
        assert_eq!(decimal_of(&v["c"]).unwrap(), Decimal::from(1000));
        for bad in [
            json!("1,50"),
            json!("1e3"),
            json!(".5"),
            json!("5."),
            json!(null),
            json!([1]),
        ] {
            assert_eq!(decimal_of(&bad), None, "{bad}");
        }
    }

    #[test]
    fn money_is_written_with_its_exact_text() {
        for text in ["978.00", "0.10", "-1.5", "12345678901234567890.1234"] {
            let v = decimal_to_json(text.parse().unwrap());
            assert!(v.is_number(), "{v}");
            assert_eq!(serde_json::to_string(&v).unwrap(), text);
            assert_eq!(decimal_of(&v).unwrap().to_string(), text);
        }
    }

    #[test]
    fn fields_and_scalars_are_read_leniently() {
        let v = json!({"OrderGuid": "g", "n": "42", "b": "yes", "z": null});
        assert_eq!(
            field(&v, "orderGuid").and_then(text_of).as_deref(),
            Some("g")
        );
        assert_eq!(field(&v, "n").and_then(int_of), Some(42));
        assert_eq!(field(&v, "b").and_then(bool_of), Some(true));
        assert!(field(&v, "z").is_none());
    }

    fn parsed(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn field_prefers_the_exact_key_and_ignores_nulls() {
        let v = json!({"id": 1, "ID": 2, "Name": "n", "gone": null});
        assert_eq!(field(&v, "id"), Some(&json!(1)));
        assert_eq!(field(&v, "ID"), Some(&json!(2)));
        assert_eq!(field(&v, "name"), Some(&json!("n")));
        assert_eq!(field(&v, "NAME"), Some(&json!("n")));
        assert_eq!(field(&v, "gone"), None);
        assert_eq!(field(&v, "GONE"), None);
        assert_eq!(field(&v, "missing"), None);
        assert_eq!(field(&v, "nam"), None);
        for not_object in [json!([{"id": 1}]), json!("id"), json!(1), json!(null)] {
            assert_eq!(field(&not_object, "id"), None);
        }
    }

    #[test]
    fn text_of_every_kind() {
        assert_eq!(text_of(&json!(" g1 ")).as_deref(), Some("g1"));
        assert_eq!(text_of(&json!("")), None);
        assert_eq!(text_of(&json!("  ")), None);
        assert_eq!(text_of(&parsed("978.00")).as_deref(), Some("978.00"));
        assert_eq!(text_of(&json!(-7)).as_deref(), Some("-7"));
        assert_eq!(text_of(&json!(true)).as_deref(), Some("true"));
        assert_eq!(text_of(&json!(false)).as_deref(), Some("false"));
        for none in [json!(null), json!([1]), json!({"a": 1})] {
            assert_eq!(text_of(&none), None, "{none}");
        }
    }

    #[test]
    fn decimal_of_every_form() {
        let cases: [(Value, Option<&str>); 20] = [
            (parsed("978.00"), Some("978.00")),
            (parsed("0"), Some("0")),
            (parsed("-5.25"), Some("-5.25")),
            (parsed("1e3"), Some("1000")),
            (parsed("1E3"), Some("1000")),
            (parsed("1.5e2"), Some("150")),
            (parsed("-2e-2"), Some("-0.02")),
            (parsed("1e400"), None),
            (json!(" 978.50 "), Some("978.50")),
            (json!("-1.5"), Some("-1.5")),
            (json!("007"), Some("7")),
            (json!("-"), None),
            (json!(""), None),
            (json!("1.2.3"), None),
            (json!("1e3"), None),
            (json!("1.5x"), None),
            (json!("--1"), None),
            (json!("123456789012345678901234567890"), None),
            (json!(true), None),
            (json!({"v": 1}), None),
        ];
        for (v, want) in cases {
            assert_eq!(
                decimal_of(&v).map(|d| d.normalize()),
                want.map(|w| Decimal::from_str(w).unwrap().normalize()),
                "{v}"
            );
        }
        // The scale is the number's own, never through a float.
        assert_eq!(decimal_of(&parsed("0.10")).unwrap().to_string(), "0.10");
        assert_eq!(decimal_of(&json!("0.30")).unwrap().to_string(), "0.30");
    }

    #[test]
    fn int_of_every_form() {
        let cases: [(Value, Option<i64>); 10] = [
            (json!(42), Some(42)),
            (json!(-7), Some(-7)),
            (json!(" 42 "), Some(42)),
            (json!("-3"), Some(-3)),
            (parsed("1.5"), None),
            (parsed("18446744073709551615"), None),
            (json!("4.2"), None),
            (json!("x"), None),
            (json!(true), None),
            (json!(null), None),
        ];
        for (v, want) in cases {
            assert_eq!(int_of(&v), want, "{v}");
        }
    }

    #[test]
    fn bool_of_every_form() {
        let cases: [(Value, Option<bool>); 20] = [
            (json!(true), Some(true)),
            (json!(false), Some(false)),
            (json!("true"), Some(true)),
            (json!(" TRUE "), Some(true)),
            (json!("Yes"), Some(true)),
            (json!("1"), Some(true)),
            (json!("false"), Some(false)),
            (json!("False"), Some(false)),
            (json!(" no"), Some(false)),
            (json!("0"), Some(false)),
            (json!("maybe"), None),
            (json!(""), None),
            (json!(1), Some(true)),
            (json!(0), Some(false)),
            (json!(2), None),
            (json!(-1), None),
            (parsed("1.0"), None),
            (json!(null), None),
            (json!([true]), None),
            (json!({"isPaid": true}), None),
        ];
        for (v, want) in cases {
            assert_eq!(bool_of(&v), want, "{v}");
        }
    }
}
