//! Restaurants sent with each call (`PosConnection`): an adapter with no restaurants of its own
//! serves any restaurant from the connection alone, against the WSA simulator over real HTTP
//! and real gRPC.

mod common;

use std::collections::HashMap;

use common::*;
use posgate_pos_kit::testkit::{close_req, describe_req, list_req};
use posgate_proto::v1::*;
use posgate_sim::wsa::{self as sim, WsaSim};
use tonic::Code;

fn v2_conn(addr: std::net::SocketAddr) -> PosConnection {
    let base = format!("http://{addr}");
    let (token, object) = (sim::DEMO_TOKEN, sim::DEMO_OBJECT_ID);
    connection(&base, token, object, "v2", &[("cash_station_id", "3")])
}

fn v1_conn(addr: std::net::SocketAddr) -> PosConnection {
    let base = format!("http://{addr}");
    let (token, object) = (sim::DEMO_V1_TOKEN, sim::DEMO_V1_OBJECT_ID);
    connection(&base, token, object, "v1", &[("cash_station_id", "3")])
}

/// The demo simulator and an adapter, with a client that sends only what each test gives.
async fn start_stateless() -> (WsaSim, std::net::SocketAddr, Client) {
    let sim = WsaSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    (sim, addr, start_adapter(HashMap::new()).await)
}

async fn close_with(
    c: &mut Client,
    id: &str,
    bill: &str,
    conn: &PosConnection,
) -> AdapterCloseBillResponse {
    let req = close_req(id, bill).via(conn);
    c.close_bill(req).await.unwrap().into_inner()
}

#[tokio::test]
async fn a_restaurant_given_only_by_its_connection_is_served() {
    let (sim, addr, mut c) = start_stateless().await;
    let conn = v2_conn(addr);

    // Without the connection the adapter knows no restaurant: Describe says only what it is
    // and which settings it takes; anything about a bill is refused.
    let d = c.try_describe(describe_req("r1")).await.unwrap();
    assert_eq!(d.pos_kind, "r_keeper_wsa");
    assert!(
        d.settings
            .iter()
            .any(|s| s.name == "base_url" && s.required)
    );
    assert_eq!((d.amount_rule, d.currency_scale), (0, 0), "{d:?}");
    let e = c
        .get_bill(get_bill_req("r1", sim::DEMO_ORDER_978))
        .await
        .unwrap_err();
    assert_invalid(&e, "connection: is required");

    let d = c.try_describe(describe_req("r1").via(&conn)).await.unwrap();
    assert_eq!(d.pos_kind, "r_keeper_wsa");
    assert_eq!(d.amount_rule, AmountRule::Exact as i32);
    assert!(!d.separate_close_step);
    assert!(!d.supports_tips, "no tips_currency_guid in this connection");
    assert_eq!(d.currency_scale, 2);
    assert_eq!(d.reconcile_settle_ms, 1_700, "the connection's timings");
    let token = d
        .settings
        .iter()
        .find(|s| s.name == "token")
        .expect("token listed");
    assert!(token.required && token.secret, "{token:?}");
    let object_id = d.settings.iter().find(|s| s.name == "object_id").unwrap();
    assert!(object_id.required && !object_id.secret);
    assert!(d.settings.iter().any(|s| s.name == "ca_pem" && !s.required));

    let before = c
        .bill_of(get_bill_req("r1", sim::DEMO_ORDER_978).via(&conn))
        .await;
    assert_eq!(before.total, "978.00");
    assert_eq!(before.restaurant_id, "r1");
    assert_eq!(before.currency, sim::DEMO_CURRENCY_GUID);

    let r = c
        .try_post(pay_req("r1", sim::DEMO_ORDER_978, "978.00").via(&conn))
        .await
        .unwrap();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].object_id, sim::DEMO_OBJECT_ID);
    assert_eq!(ledger[0].amount, dec("978.00"));
    assert_eq!(ledger[0].task_guid, r.pos_reference);

    let cl = close_with(&mut c, "r1", sim::DEMO_ORDER_978, &conn).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");

    let ck = c
        .check(CheckPaymentRequest {
            pos_reference: r.pos_reference.clone(),
            bill_before: Some(before),
            ..check_req("r1", sim::DEMO_ORDER_978, "978.00").via(&conn)
        })
        .await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert_eq!(sim.ledger().len(), 1, "booked once");

    let listed = c.list_of(list_req("r1", "").via(&conn)).await;
    assert!(listed.failure.is_none(), "{listed:?}");
    assert!(
        listed
            .bills
            .iter()
            .all(|b| b.bill_id != sim::DEMO_ORDER_978),
        "closed orders are not listed"
    );
    assert!(
        listed
            .bills
            .iter()
            .any(|b| b.bill_id == sim::DEMO_ORDER_2300)
    );
}

#[tokio::test]
async fn a_changed_connection_is_used_at_once() {
    let (sim, addr, mut c) = start_stateless().await;
    // A wrong token: White Server refuses it.
    let base = format!("http://{addr}");
    let wrong = connection(&base, "not-the-token", sim::DEMO_OBJECT_ID, "v2", &[]);
    match c
        .try_get_bill(get_bill_req("r1", sim::DEMO_ORDER_978).via(&wrong))
        .await
        .unwrap()
    {
        adapter_get_bill_response::Result::Failure(f) => {
            assert!(f.pos_code.contains("AuthFailed"), "{f:?}")
        }
        other => panic!("expected AuthFailed, got {other:?}"),
    }
    // The right token, same restaurant id and version: used at once.
    let right = v2_conn(addr);
    assert_eq!(
        c.bill_of(get_bill_req("r1", sim::DEMO_ORDER_978).via(&right))
            .await
            .total,
        "978.00"
    );
    // Another object id and token (the v1 restaurant): its orders, its rules.
    let mut other = v1_conn(addr);
    other.version = 2;
    assert_eq!(
        c.bill_of(get_bill_req("r1", sim::DEMO_V1_ORDER_1000).via(&other))
            .await
            .total,
        "1000.00"
    );
    let d = c
        .try_describe(describe_req("r1").via(&other))
        .await
        .unwrap();
    assert_eq!(d.amount_rule, AmountRule::UpToDue as i32);
    match c
        .try_get_bill(get_bill_req("r1", sim::DEMO_ORDER_978).via(&other))
        .await
        .unwrap()
    {
        adapter_get_bill_response::Result::Failure(f) => assert!(f.not_found, "{f:?}"),
        other => panic!("the v2 restaurant's order is not the v1 one's: {other:?}"),
    }
    // And the currency scale changes with the connection too.
    let mut scale3 = right.clone();
    scale3.currency_scale = 3;
    assert_eq!(
        c.bill_of(get_bill_req("r1", sim::DEMO_ORDER_978).via(&scale3))
            .await
            .total,
        "978.000"
    );
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn a_bad_connection_is_invalid_argument_naming_the_setting() {
    let (sim, addr, mut c) = start_stateless().await;
    let good = v2_conn(addr);
    let mut no_object = good.clone();
    no_object.settings.remove("object_id");
    let mut bad_number = good.clone();
    bad_number
        .settings
        .insert("object_id".into(), "SECRET-looking-1".into());
    let mut token_in_plain = good.clone();
    let token = token_in_plain.secrets.remove("token").unwrap();
    token_in_plain.settings.insert("token".into(), token);
    let mut token_file = good.clone();
    token_file
        .settings
        .insert("token_file".into(), "/run/secrets/x".into());
    let mut bad_ca = good.clone();
    bad_ca.settings.insert(
        "ca_pem".into(),
        "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n".into(),
    );
    let mut no_token = good.clone();
    no_token.secrets.clear();
    let mut unknown = good.clone();
    unknown.settings.insert("objectid".into(), "1".into());
    let cases = [
        (no_object, "object_id"),
        (bad_number, "object_id"),
        (token_in_plain, "token"),
        (token_file, "token_file"),
        (bad_ca, "ca_pem"),
        (no_token, "token"),
        (unknown, "objectid"),
    ];
    for (conn, name) in cases {
        let e = c
            .try_post(pay_req("r1", sim::DEMO_ORDER_978, "978.00").via(&conn))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{name}: {e:?}");
        assert!(
            e.message().starts_with("connection: "),
            "{name}: {}",
            e.message()
        );
        assert!(e.message().contains(name), "{name}: {}", e.message());
        assert!(!e.message().contains(sim::DEMO_TOKEN), "{}", e.message());
        assert!(!e.message().contains("SECRET-looking"), "{}", e.message());
        let e = c
            .try_describe(describe_req("r1").via(&conn))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{name}: {e:?}");
        let e = c
            .try_get_bill(get_bill_req("r1", sim::DEMO_ORDER_978).via(&conn))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{name}: {e:?}");
    }
    let mut no_object = good.clone();
    no_object.settings.remove("object_id");
    let e = c
        .try_describe(describe_req("r1").via(&no_object))
        .await
        .unwrap_err();
    assert_eq!(e.message(), "connection: setting \"object_id\" is required");
    assert!(sim.ledger().is_empty());
    assert_eq!(sim.requests("PayOrder"), 0, "nothing reached the POS");
    // A bad connection leaves the good one working.
    assert_eq!(
        c.bill_of(get_bill_req("r1", sim::DEMO_ORDER_978).via(&good))
            .await
            .total,
        "978.00"
    );
}

#[tokio::test]
async fn two_restaurants_on_one_replica_stay_apart() {
    let (sim, addr, mut c) = start_stateless().await;
    let (a, b) = (v2_conn(addr), v1_conn(addr));
    assert_eq!(
        c.try_describe(describe_req("a").via(&a))
            .await
            .unwrap()
            .amount_rule,
        AmountRule::Exact as i32
    );
    assert_eq!(
        c.try_describe(describe_req("b").via(&b))
            .await
            .unwrap()
            .amount_rule,
        AmountRule::UpToDue as i32
    );
    // Each sees only its own orders.
    match c
        .try_get_bill(get_bill_req("b", sim::DEMO_ORDER_978).via(&b))
        .await
        .unwrap()
    {
        adapter_get_bill_response::Result::Failure(f) => assert!(f.not_found, "{f:?}"),
        other => panic!("b must not see a's order: {other:?}"),
    }
    let ra = c
        .try_post(pay_req("a", sim::DEMO_ORDER_978, "978.00").via(&a))
        .await
        .unwrap();
    assert_eq!(outcome(ra.outcome), Outcome::Applied, "{ra:?}");
    // v1: a prepayment, the order stays open and CloseBill says it is not closed yet.
    let rb = c
        .try_post(pay_req("b", sim::DEMO_V1_ORDER_1000, "300.00").via(&b))
        .await
        .unwrap();
    assert_eq!(outcome(rb.outcome), Outcome::Applied, "{rb:?}");
    assert!(!rb.bill_closed);
    let cl = close_with(&mut c, "b", sim::DEMO_V1_ORDER_1000, &b).await;
    assert_eq!(outcome(cl.outcome), Outcome::Rejected, "{cl:?}");
    assert_eq!(substate(&cl.failure), Substate::CloseOrderBlocked);
    let mut ledger: Vec<_> = sim
        .ledger()
        .into_iter()
        .map(|e| (e.object_id, e.order_guid, e.amount))
        .collect();
    ledger.sort();
    assert_eq!(
        ledger,
        vec![
            (
                sim::DEMO_OBJECT_ID,
                sim::DEMO_ORDER_978.to_string(),
                dec("978.00")
            ),
            (
                sim::DEMO_V1_OBJECT_ID,
                sim::DEMO_V1_ORDER_1000.to_string(),
                dec("300.00")
            ),
        ]
    );
    assert_eq!(
        c.bill_of(get_bill_req("b", sim::DEMO_V1_ORDER_1000).via(&b))
            .await
            .amount_due,
        "700.00"
    );
    assert_eq!(
        c.bill_of(get_bill_req("a", sim::DEMO_ORDER_978).via(&a))
            .await
            .status,
        BillStatus::Closed as i32
    );
}
