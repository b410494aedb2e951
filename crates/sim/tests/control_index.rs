//! `GET /_sim/<name>/` describes each simulator's control API: every fault kind of the
//! simulator's own fault type is listed, each example body is accepted by the faults
//! endpoint, and every listed GET endpoint without parameters answers.

use posgate_sim::all::Simulators;
use posgate_sim::index::variant_names;
use posgate_sim::{delivery, expirenza, tillypad, wsa};
use serde_json::{Value, json};

#[tokio::test]
async fn every_simulator_describes_its_control_api_and_every_fault_kind() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        Simulators::with_demo_data().serve_with_shutdown(listener, std::future::pending()),
    );
    let http = reqwest::Client::new();
    let base = format!("http://{addr}");

    // Fault kinds per simulator, from the fault types themselves.
    let expirenza_kinds: Vec<String> = serde_json::to_value(expirenza::SimFaults::default())
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "delay_frames_ms")
        .cloned()
        .collect();
    let sims = [
        (
            "wsa",
            variant_names::<wsa::FaultKind>(),
            wsa::control_index(),
        ),
        (
            "delivery",
            variant_names::<delivery::FaultKind>(),
            delivery::control_index(),
        ),
        (
            "tillypad",
            variant_names::<tillypad::FaultKind>(),
            tillypad::control_index(),
        ),
        ("expirenza", expirenza_kinds, expirenza::control_index()),
    ];
    for (name, kinds, built) in sims {
        assert!(kinds.len() >= 4, "{name}: {kinds:?}");
        for path in [format!("/_sim/{name}/"), format!("/_sim/{name}")] {
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            let index: Value = r.json().await.unwrap();
            assert_eq!(index, built, "{path}");
        }
        assert_eq!(built["simulator"], name);

        let listed: Vec<&str> = built["faults"]["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kind"].as_str().unwrap())
            .collect();
        for k in &kinds {
            assert!(
                listed.contains(&k.as_str()),
                "{name}: fault kind {k} missing: {listed:?}"
            );
        }
        assert_eq!(listed.len(), kinds.len(), "{name}: {listed:?} vs {kinds:?}");

        // Each example is accepted as it stands, and shows up among the faults.
        for k in built["faults"]["kinds"].as_array().unwrap() {
            assert!(!k["does"].as_str().unwrap().is_empty());
            let r = http
                .post(format!("{base}/_sim/{name}/faults"))
                .json(&k["example_body"])
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_success(),
                "{name} {}: {}",
                k["kind"],
                r.status()
            );
            let now: Value = http
                .get(format!("{base}/_sim/{name}/faults"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let seen = match &now {
                Value::Array(rules) => rules.iter().any(|r| r == &k["example_body"]),
                other => other == &k["example_body"],
            };
            assert!(seen, "{name} {}: {now}", k["kind"]);
        }
        // The shared control routes answer alike in every simulator.
        let r = http
            .delete(format!("{base}/_sim/{name}/faults"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"ok": true}),
            "{name}"
        );
        let now: Value = http
            .get(format!("{base}/_sim/{name}/faults"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let none_left = match &now {
            Value::Array(rules) => rules.is_empty(),
            Value::Object(counters) => counters.values().all(|c| c == &json!(0)),
            _ => false,
        };
        assert!(none_left, "{name}: {now}");
        let r = http
            .post(format!("{base}/_sim/{name}/faults"))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{name}");
        let err = r.json::<Value>().await.unwrap()["error"].clone();
        assert!(
            err.as_str()
                .is_some_and(|e| e.starts_with("invalid JSON body: ")),
            "{name}: {err}"
        );
        let r = http
            .post(format!("{base}/_sim/{name}/reset"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"ok": true}),
            "{name}"
        );

        // Every endpoint is under the prefix; the plain GETs answer.
        for e in built["endpoints"].as_array().unwrap() {
            let path = e["path"].as_str().unwrap();
            assert!(path.starts_with(&format!("/_sim/{name}/")), "{path}");
            assert!(!e["does"].as_str().unwrap().is_empty(), "{path}");
            if e["method"] == "GET" && !path.contains('{') {
                let r = http.get(format!("{base}{path}")).send().await.unwrap();
                assert!(r.status().is_success(), "GET {path}: {}", r.status());
            }
        }
    }
}
