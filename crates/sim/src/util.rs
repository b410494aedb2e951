//! Helpers shared by the simulators.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Number, Value};

/// Parses a money/quantity value given either as a JSON number or as a string with a dot
/// decimal separator (`"449.35"`). Exact: never goes through `f64`. Scientific notation
/// (`1e2`) is accepted for numbers. Returns `None` for anything else (`"449,35"`, `true`, ...).
pub fn decimal_from_json(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => parse_decimal_text(&n.to_string()),
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || s.contains(',') {
                return None;
            }
            parse_decimal_text(s)
        }
        _ => None,
    }
}

fn parse_decimal_text(s: &str) -> Option<Decimal> {
    Decimal::from_str(s)
        .ok()
        .or_else(|| Decimal::from_scientific(s).ok())
}

/// Renders a decimal as a JSON number that keeps its exact text (`978.00` stays `978.00`;
/// relies on serde_json's `arbitrary_precision`).
pub fn decimal_to_json(d: Decimal) -> Value {
    let text = d.to_string();
    match Number::from_str(&text) {
        Ok(n) => Value::Number(n),
        Err(_) => Value::String(text),
    }
}

/// `#[serde(with = "posgate_sim::util::decimal")]`: serialises a [`Decimal`] as a string
/// (`"978.00"`), deserialises from a string **or** a JSON number, exactly.
pub mod decimal {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(d)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        super::decimal_from_json(&v).ok_or_else(|| {
            D::Error::custom(format!(
                "expected a decimal number or a string like \"12.34\", got {v}"
            ))
        })
    }
}

/// A body that fails once the headers are out: the client sees the connection break without
/// a (complete) answer — the "answer lost" faults.
pub fn lost_answer_body() -> axum::body::Body {
    let stream = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated lost answer",
        ))
    });
    axum::body::Body::from_stream(stream)
}

/// Binds `127.0.0.1:0`, runs `serve` on it in the background (logging if it stops with an
/// error) and returns the address: what every simulator's `spawn` does.
pub async fn spawn_on_loopback<F, Fut>(
    name: &'static str,
    serve: F,
) -> std::io::Result<std::net::SocketAddr>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener).await {
            tracing::error!(error = %e, "{name} stopped");
        }
    });
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_exact() {
        let v: Value = serde_json::from_str("978.00").unwrap_or(Value::Null);
        assert_eq!(decimal_from_json(&v), Some(Decimal::new(97800, 2)));
        assert_eq!(
            decimal_to_json(Decimal::new(97800, 2)).to_string(),
            "978.00"
        );
        assert_eq!(
            decimal_from_json(&Value::String("449.35".into())),
            Some(Decimal::new(44935, 2))
        );
        assert_eq!(decimal_from_json(&Value::String("449,35".into())), None);
        let v: Value = serde_json::from_str("1e2").unwrap_or(Value::Null);
        assert_eq!(decimal_from_json(&v), Some(Decimal::new(100, 0)));
    }
}
