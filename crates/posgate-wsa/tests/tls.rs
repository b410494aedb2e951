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
