//! `GET /_sim/<name>/`: each simulator describes its own control API — every endpoint, its
//! method, what it does, an example body, and an example rule for every fault kind — so
//! driving a simulator by hand does not need its source. The fault examples are built from
//! the fault types themselves ([`variant_names`] lets a test check that none is missing and
//! that each example is accepted by the faults endpoint).

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// One control endpoint; `path` is relative to the simulator's control prefix.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub does: &'static str,
    pub body: Option<Value>,
}

/// An endpoint without a body.
pub fn endpoint(method: &'static str, path: &'static str, does: &'static str) -> Endpoint {
    Endpoint {
        method,
        path,
        does,
        body: None,
    }
}

/// The fault-rule endpoints the WSA, r_k Delivery and Tillypad simulators share (their
/// `control::mount` serves them the same way).
pub fn fault_rule_endpoints() -> [Endpoint; 3] {
    [
        endpoint(
            "POST",
            "/faults",
            "adds a fault rule (Fault) → it; see faults.kinds",
        ),
        endpoint("GET", "/faults", "→ [Fault] with the remaining times"),
        endpoint("DELETE", "/faults", "clears every fault → {\"ok\": true}"),
    ]
}

impl Endpoint {
    /// With an example body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// An example of one fault kind: the body to post to the faults endpoint.
pub struct FaultExample {
    pub kind: String,
    pub does: &'static str,
    pub body: Value,
}

/// The example of a fault rule: `rule` serialized, its kind read from its `kind` field.
pub fn fault_example<T: serde::Serialize>(rule: &T, does: &'static str) -> FaultExample {
    let body = serde_json::to_value(rule).unwrap_or_default();
    FaultExample {
        kind: kind_name(&body["kind"]),
        does,
        body,
    }
}

/// The index document of one simulator.
pub fn index(
    name: &str,
    prefix: &str,
    about: &str,
    endpoints: Vec<Endpoint>,
    faults_how: &str,
    faults: Vec<FaultExample>,
) -> Value {
    let endpoints: Vec<Value> = endpoints
        .into_iter()
        .map(|e| {
            let path = if e.path.is_empty() {
                format!("{prefix}/")
            } else {
                format!("{prefix}{}", e.path)
            };
            let mut v = json!({ "method": e.method, "path": path, "does": e.does });
            if let Some(b) = e.body {
                v["example_body"] = b;
            }
            v
        })
        .collect();
    let kinds: Vec<Value> = faults
        .into_iter()
        .map(|f| json!({ "kind": f.kind, "does": f.does, "example_body": f.body }))
        .collect();
    json!({
        "simulator": name,
        "about": about,
        "control_prefix": prefix,
        "conventions": "JSON bodies, snake_case field names; money as decimal strings (numbers also accepted); errors are {\"error\": \"...\"} with 400/404",
        "endpoints": endpoints,
        "faults": { "how": faults_how, "kinds": kinds },
    })
}

/// The name of a serialized enum value: `"Dropped"` → `Dropped`, `{"Slow": {...}}` → `Slow`.
pub fn kind_name(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
        other => other.to_string(),
    }
}

/// Every variant name of an externally tagged serde enum, read from serde's own "unknown
/// variant" message (so it follows the enum without a list kept by hand).
pub fn variant_names<T: DeserializeOwned>() -> Vec<String> {
    let Err(e) = serde_json::from_value::<T>(json!("\u{1}no such variant")) else {
        return Vec::new();
    };
    let msg = e.to_string();
    let Some(tail) = msg
        .split_once("expected one of ")
        .or_else(|| msg.split_once("expected "))
        .map(|(_, t)| t)
    else {
        return Vec::new();
    };
    tail.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    enum E {
        A,
        B { x: u8 },
        C(u8),
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    enum One {
        Only,
    }

    #[test]
    fn variant_names_follow_the_enum() {
        assert_eq!(variant_names::<E>(), ["A", "B", "C"]);
        assert_eq!(variant_names::<One>(), ["Only"]);
        assert_eq!(kind_name(&json!({"B": {"x": 1}})), "B");
        assert_eq!(kind_name(&json!("A")), "A");
    }
}
