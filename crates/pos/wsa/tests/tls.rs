//! The WSA adapter over HTTPS, as every production White Server is: a restaurant whose server
//! has a certificate from its own authority pays through it when its `ca_file` names that CA,
//! and is refused with the cause (nothing booked) when it does not.

mod common;

use common::*;
use posgate_proto::v1::{Outcome, Substate};
use posgate_sim::tls::{TestCa, front};
use posgate_sim::wsa::{self as sim, WsaSim};
use posgate_wsa::{AgentVersion, WsaAdapterConfig};

async fn over_tls(ca_file: Option<std::path::PathBuf>) -> (WsaSim, Client) {
    let ca = TestCa::new();
    let sim = WsaSim::with_demo_data();
    let plain = sim.clone().spawn().await.unwrap();
    let tls = front(plain, &ca).await;
    let mut r = restaurant(
        &format!("https://localhost:{}", tls.port()),
        sim::DEMO_TOKEN,
        sim::DEMO_OBJECT_ID,
        AgentVersion::V2,
    );
    r.mode = posgate_wsa::TaskMode::Sync;
    r.ca_file = ca_file.inspect(|f| std::fs::write(f, &ca.ca_pem).unwrap());
    let mut restaurants = std::collections::BTreeMap::new();
    restaurants.insert(V2.to_string(), r);
    let client = start_adapter(WsaAdapterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        restaurants,
        auth: posgate_grpc::AuthConfig::disabled(),
    })
    .await;
    (sim, client)
}

fn ca_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("posgate-wsa-ca-{}-{name}.pem", std::process::id()))
}

#[tokio::test]
async fn pays_over_https_trusting_the_restaurants_own_ca() {
    let (sim, mut c) = over_tls(Some(ca_path("trusted"))).await;
    let b = bill(&mut c, V2, sim::DEMO_ORDER_978).await;
    assert_eq!(b.total, "978.00");
    let r = pay(&mut c, V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_with_its_cause_and_nothing_is_booked() {
    let (sim, mut c) = over_tls(None).await;
    let r = pay(&mut c, V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    let f = r.failure.unwrap();
    assert_eq!(f.pos_code, "transport/tls", "{f:?}");
    assert!(f.pos_text.contains("invalid peer certificate"), "{f:?}");
    assert!(!f.transient, "not retried forever: {f:?}");
    assert!(sim.ledger().is_empty());
    assert_eq!(sim.requests("PayOrder"), 0, "nothing reached the POS");
}

#[tokio::test]
async fn a_ca_sent_inline_in_the_connection_is_trusted() {
    use posgate_proto::v1::{AdapterGetBillRequest, adapter_get_bill_response};
    let ca = TestCa::new();
    let sim = WsaSim::with_demo_data();
    let plain = sim.clone().spawn().await.unwrap();
    let tls = front(plain, &ca).await;
    let mut cfg = sim_config(plain);
    cfg.restaurants.clear();
    let mut c = start_adapter(cfg).await;
    let mut conn = posgate_proto::v1::PosConnection {
        settings: [
            ("base_url", format!("https://localhost:{}", tls.port())),
            ("object_id", sim::DEMO_OBJECT_ID.to_string()),
            ("agent_version", "v2".into()),
            ("currency_guid", sim::DEMO_CURRENCY_GUID.into()),
            ("mode", "sync".into()),
            ("task_timeout_s", "1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
        secrets: [("token".to_string(), sim::DEMO_TOKEN.to_string())].into(),
        currency_scale: 2,
        version: 1,
    };
    let get = |conn: posgate_proto::v1::PosConnection| AdapterGetBillRequest {
        restaurant_id: V2.into(),
        bill_id: sim::DEMO_ORDER_978.into(),
        connection: Some(conn),
    };
    // Without the CA: refused for the certificate.
    match c
        .get_bill(get(conn.clone()))
        .await
        .unwrap()
        .into_inner()
        .result
    {
        Some(adapter_get_bill_response::Result::Failure(f)) => {
            assert_eq!(f.pos_code, "transport/tls", "{f:?}")
        }
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    // With it inline: read.
    conn.settings.insert("ca_pem".into(), ca.ca_pem.clone());
    match c.get_bill(get(conn)).await.unwrap().into_inner().result {
        Some(adapter_get_bill_response::Result::Bill(b)) => assert_eq!(b.total, "978.00"),
        other => panic!("expected the bill, got {other:?}"),
    }
}

#[test]
fn a_ca_file_the_tls_stack_cannot_take_is_named_at_start() {
    let path = ca_path("malformed");
    std::fs::write(
        &path,
        "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let mut r = restaurant(
        "https://localhost:1",
        sim::DEMO_TOKEN,
        sim::DEMO_OBJECT_ID,
        AgentVersion::V2,
    );
    r.ca_file = Some(path);
    let mut restaurants = std::collections::BTreeMap::new();
    restaurants.insert(V2.to_string(), r);
    let e = posgate_wsa::WsaAdapter::new(WsaAdapterConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        restaurants,
        auth: posgate_grpc::AuthConfig::disabled(),
    })
    .err()
    .expect("refused");
    let e = e.to_string();
    assert!(e.contains("restaurant demo: ca_file"), "{e}");
}
