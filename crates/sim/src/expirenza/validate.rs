//! Callback checks: the signature over the raw body bytes and the documented payload shapes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The six payBill FAIL substates.
pub const PAY_BILL_SUBSTATES: [&str; 6] = [
    "WRONG_REQUEST_SUM",
    "CASHIERS_SHIFT_CLOSED",
    "PRINTER_ERROR",
    "CLOSE_ORDER_BLOCKED",
    "BILL_IN_USE",
    "OTHER_ERROR",
];
/// The getBill FAIL substates.
pub const GET_BILL_SUBSTATES: [&str; 2] = ["TABLE_NOT_FOUND", "ORDER_NOT_FOUND"];

/// `Base64(HMAC-SHA256(secret, body))`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    B64.encode(mac.finalize().into_bytes())
}

/// Checks `signature` against the exact `body` bytes (constant time).
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

/// Decodes `Authorization: Basic base64(user:pass)`.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let rest = header.trim();
    let b64 = rest
        .strip_prefix("Basic ")
        .or_else(|| rest.strip_prefix("basic "))?;
    let raw = B64.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Expirenza's error body: `{errCode, errText, errTitle, errType, fieldErrors}`.
pub fn error_body(title: &str, text: &str, field_errors: &[(String, String)]) -> Value {
    json!({
        "errCode": {},
        "errText": text,
        "errTitle": title,
        "errType": "FULLSCREEN",
        "fieldErrors": field_errors
            .iter()
            .map(|(f, m)| json!({"field": f, "message": m}))
            .collect::<Vec<_>>(),
    })
}

type Errors = Vec<(String, String)>;

fn err(errors: &mut Errors, field: &str, message: impl Into<String>) {
    errors.push((field.to_string(), message.into()));
}

fn opt_string(v: &Value, field: &str, path: &str, errors: &mut Errors) {
    if let Some(x) = v.get(field)
        && !x.is_string()
        && !x.is_null()
    {
        err(errors, &format!("{path}{field}"), "must be a string");
    }
}

fn req_string(v: &Value, field: &str, path: &str, errors: &mut Errors) {
    match v.get(field) {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(Value::String(_)) => err(errors, &format!("{path}{field}"), "must not be empty"),
        Some(_) => err(errors, &format!("{path}{field}"), "must be a string"),
        None => err(errors, &format!("{path}{field}"), "is required"),
    }
}

fn opt_number(v: &Value, field: &str, path: &str, errors: &mut Errors) {
    if let Some(x) = v.get(field)
        && !x.is_number()
    {
        err(errors, &format!("{path}{field}"), "must be a JSON number");
    }
}

fn opt_int(v: &Value, field: &str, path: &str, errors: &mut Errors) {
    if let Some(x) = v.get(field)
        && !(x.is_i64() || x.is_u64())
    {
        err(errors, &format!("{path}{field}"), "must be an integer");
    }
}

fn state(v: &Value, substates: &[&str], errors: &mut Errors) {
    match v.get("state").and_then(Value::as_str) {
        Some("SUCCESS") => {}
        Some("FAIL") => match v.get("substate") {
            Some(Value::String(s)) if substates.contains(&s.as_str()) => {}
            Some(Value::String(s)) => err(
                errors,
                "substate",
                format!("{s:?} is not one of {}", substates.join(", ")),
            ),
            _ => err(errors, "substate", "is required when state is FAIL"),
        },
        Some(other) => err(errors, "state", format!("{other:?} is not SUCCESS or FAIL")),
        None => err(errors, "state", "is required"),
    }
}

fn guests(v: &Value, path: &str, errors: &mut Errors) {
    match v.get("guests") {
        None => {}
        Some(Value::Array(gs)) => {
            for (i, g) in gs.iter().enumerate() {
                let gp = format!("{path}guests[{i}].");
                if !g.is_object() {
                    err(errors, &format!("{path}guests[{i}]"), "must be an object");
                    continue;
                }
                opt_string(g, "name", &gp, errors);
                match g.get("dishes") {
                    None => {}
                    Some(Value::Array(ds)) => {
                        for (j, d) in ds.iter().enumerate() {
                            let dp = format!("{gp}dishes[{j}].");
                            for f in ["count", "sum"] {
                                opt_number(d, f, &dp, errors);
                            }
                            opt_int(d, "orderNumber", &dp, errors);
                            for f in [
                                "category",
                                "categoryId",
                                "checkNumber",
                                "dishId",
                                "linkedTo",
                                "name",
                                "positionId",
                                "taxCategory",
                                "taxCategoryId",
                                "type",
                            ] {
                                opt_string(d, f, &dp, errors);
                            }
                        }
                    }
                    Some(_) => err(errors, &format!("{gp}dishes"), "must be an array"),
                }
            }
        }
        Some(_) => err(errors, &format!("{path}guests"), "must be an array"),
    }
}

/// Checks a callback body for `operation`; returns the field errors.
pub fn check(operation: &str, v: &Value) -> Errors {
    let mut errors = Vec::new();
    if !v.is_object() {
        err(&mut errors, "", "body must be a JSON object");
        return errors;
    }
    req_string(v, "rID", "", &mut errors);
    match operation {
        "payBill" => {
            // Echoes the request's billId (empty only when the request had none).
            if !v.get("billId").is_some_and(Value::is_string) {
                err(&mut errors, "billId", "is required (a string)");
            }
            state(v, &PAY_BILL_SUBSTATES, &mut errors);
            opt_int(v, "orderNumber", "", &mut errors);
            for f in ["stackTraceMessage", "waiter", "waiterId"] {
                opt_string(v, f, "", &mut errors);
            }
            guests(v, "", &mut errors);
        }
        "getBill" => {
            state(v, &GET_BILL_SUBSTATES, &mut errors);
            for f in ["errorCode", "errorMessage"] {
                opt_string(v, f, "", &mut errors);
            }
            if let Some(t) = v.get("tableNumber")
                && !(t.is_i64() || t.is_u64() || t.is_string())
            {
                err(&mut errors, "tableNumber", "must be an integer");
            }
            match v.get("orders") {
                None => {}
                Some(Value::Array(os)) => {
                    for (i, o) in os.iter().enumerate() {
                        let p = format!("orders[{i}].");
                        req_string(o, "billId", &p, &mut errors);
                        for f in ["totalSum", "rawSum", "bonusSum"] {
                            opt_number(o, f, &p, &mut errors);
                        }
                        opt_int(o, "orderNumber", &p, &mut errors);
                        for f in ["waiter", "waiterId", "state", "tableId"] {
                            opt_string(o, f, &p, &mut errors);
                        }
                        guests(o, &p, &mut errors);
                    }
                }
                Some(_) => err(&mut errors, "orders", "must be an array"),
            }
            if v.get("state").and_then(Value::as_str) == Some("SUCCESS")
                && v.get("orders").and_then(Value::as_array).is_none()
            {
                err(&mut errors, "orders", "is required when state is SUCCESS");
            }
        }
        "checkWork" => {
            match v.get("dateTime").and_then(Value::as_str) {
                Some(s) if is_expirenza_time(s) => {}
                Some(s) => err(
                    &mut errors,
                    "dateTime",
                    format!("{s:?} is not yyyy.MM.dd HH:mm:ss"),
                ),
                None => err(&mut errors, "dateTime", "is required"),
            }
            if !v.get("readyToWork").is_some_and(Value::is_boolean) {
                err(&mut errors, "readyToWork", "must be a boolean");
            }
        }
        "versionInfo" => {
            opt_int(v, "pluginVersion", "", &mut errors);
            match v.get("implementedFeatures") {
                None => {}
                Some(Value::Array(fs)) => {
                    for (i, f) in fs.iter().enumerate() {
                        let p = format!("implementedFeatures[{i}].");
                        req_string(f, "feature", &p, &mut errors);
                        for b in ["available", "implemented"] {
                            if !f.get(b).is_some_and(Value::is_boolean) {
                                err(&mut errors, &format!("{p}{b}"), "must be a boolean");
                            }
                        }
                    }
                }
                Some(_) => err(&mut errors, "implementedFeatures", "must be an array"),
            }
        }
        _ => {}
    }
    errors
}

fn is_expirenza_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'.',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_over_raw_bytes() {
        let body = br#"{ "rID" : "a" }"#;
        let sig = sign("secret", body);
        assert!(verify("secret", body, &sig));
        // The same JSON re-serialised is other bytes: the signature does not match.
        assert!(!verify("secret", br#"{"rID":"a"}"#, &sig));
        assert!(!verify("other", body, &sig));
        assert_eq!(
            basic_credentials("Basic cjE6cw=="),
            Some(("r1".into(), "s".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
    }

    #[test]
    fn pay_bill_shapes() {
        let ok = json!({"rID":"r","billId":"b","state":"FAIL","substate":"BILL_IN_USE","guests":[],"orderNumber":5});
        assert!(check("payBill", &ok).is_empty());
        let bad = json!({"rID":"r","billId":"b","state":"FAIL","guests":{},"orderNumber":"5"});
        let e = check("payBill", &bad);
        let fields: Vec<_> = e.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["substate", "orderNumber", "guests"]);
        let bad = json!({"rID":"r","billId":"b","state":"SUCCESS","guests":[{"name":"g","dishes":[{"sum":"1.00"}]}]});
        assert_eq!(check("payBill", &bad)[0].0, "guests[0].dishes[0].sum");
        assert!(
            check(
                "checkWork",
                &json!({"rID":"r","dateTime":"2024.01.02 03:04:05","readyToWork":true})
            )
            .is_empty()
        );
        assert!(
            !check(
                "checkWork",
                &json!({"rID":"r","dateTime":"2024-01-02T03:04:05Z","readyToWork":true})
            )
            .is_empty()
        );
        assert!(
            !check(
                "getBill",
                &json!({"rID":"r","state":"FAIL","substate":"BILL_IN_USE"})
            )
            .is_empty()
        );
    }
}
