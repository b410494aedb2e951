//! The WSA adapter over HTTPS, as every production White Server is: a restaurant whose server
//! has a certificate from its own authority pays through it when its connection's `ca_pem`
//! holds that CA, and is refused with the cause (nothing booked) when it does not.

mod common;

use std::collections::HashMap;

use common::*;
use posgate_pos_kit::testkit::https_front;
use posgate_proto::v1::{Outcome, PosConnection, Substate};
use posgate_sim::wsa::{self as sim, WsaSim};

/// The demo simulator behind TLS with a certificate of its own CA, and an adapter whose
/// restaurant `V2` reaches it (trusting that CA when `trust`).
async fn over_tls(trust: bool) -> (WsaSim, Client) {
    let sim = WsaSim::with_demo_data();
    let (ca, base) = https_front(sim.clone().spawn().await.unwrap()).await;
    let mut extra = vec![("mode", "sync")];
    if trust {
        extra.push(("ca_pem", &ca.ca_pem));
    }
    let conn = connection(&base, sim::DEMO_TOKEN, sim::DEMO_OBJECT_ID, "v2", &extra);
    let client = start_adapter(HashMap::from([(V2.to_string(), conn)])).await;
    (sim, client)
}

#[tokio::test]
async fn pays_over_https_trusting_the_restaurants_own_ca() {
    let (sim, mut c) = over_tls(true).await;
    let b = c.bill(V2, sim::DEMO_ORDER_978).await;
    assert_eq!(b.total, "978.00");
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_with_its_cause_and_nothing_is_booked() {
    let (sim, mut c) = over_tls(false).await;
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
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
    use posgate_proto::v1::adapter_get_bill_response::Result::{Bill, Failure};
    let sim = WsaSim::with_demo_data();
    let (ca, base) = https_front(sim.clone().spawn().await.unwrap()).await;
    let mut c = start_adapter(HashMap::new()).await;
    let (token, object) = (sim::DEMO_TOKEN, sim::DEMO_OBJECT_ID);
    let conn = connection(&base, token, object, "v2", &[("mode", "sync")]);
    let get = |conn: &PosConnection| get_bill_req(V2, sim::DEMO_ORDER_978).via(conn);
    // Without the CA: refused for the certificate.
    match c.try_get_bill(get(&conn)).await.unwrap() {
        Failure(f) => assert_eq!(f.pos_code, "transport/tls", "{f:?}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    // With it inline: read.
    let conn = conn.set("ca_pem", &ca.ca_pem);
    match c.try_get_bill(get(&conn)).await.unwrap() {
        Bill(b) => assert_eq!(b.total, "978.00"),
        other => panic!("expected the bill, got {other:?}"),
    }
}
