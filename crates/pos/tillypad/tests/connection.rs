//! Stateless serving: the adapter keeps no restaurants and serves each one given only by the
//! `connection` of each request, over real gRPC against the Tillypad simulator.

mod common;

use std::net::SocketAddr;

use common::*;
use posgate_pos_kit::testkit::{close_req, describe_req, get_bill_req, https_front, list_req};
use posgate_proto::v1::*;
use posgate_sim::tillypad::{self as sim, TillypadSim};
use tonic::Code;

/// A connection to the Tillypad at `base`: the demo pay type, fast timings, `extra` on top.
fn connection(base: &str, extra: &[(&str, &str)], version: u64) -> PosConnection {
    let mut settings = vec![("default_pay_type_id", sim::DEMO_PAY_TYPE_ID)];
    settings.extend_from_slice(extra);
    common::connection(base, &settings, version)
}

fn base(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// A Tillypad simulator with the demo tabs.
async fn tillypad() -> (TillypadSim, SocketAddr) {
    let sim = TillypadSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    (sim, addr)
}

async fn pay_via(
    c: &mut Client,
    restaurant: &str,
    conn: &PosConnection,
    bill: &str,
    amount: &str,
) -> PostPaymentResponse {
    c.post(pay_req(restaurant, bill, amount).via(conn)).await
}

async fn describe_via(c: &mut Client, restaurant: &str, conn: &PosConnection) -> DescribeResponse {
    let req = describe_req(restaurant).via(conn);
    c.describe(req).await.unwrap().into_inner()
}

#[tokio::test]
async fn a_restaurant_given_only_by_its_connection_is_served() {
    let (sim, addr) = tillypad().await;
    let mut c = start_adapter().await;
    let mut conn = connection(&base(addr), &[], 7);
    conn.currency_scale = 3;

    // Describe: the restaurant's scale from the connection, the settings table.
    let d = describe_via(&mut c, "reg-1", &conn).await;
    assert_eq!(d.pos_kind, "tillypad");
    assert_eq!(d.currency_scale, 3);
    assert!(d.cannot_read_bills);
    let names: Vec<&str> = d.settings.iter().map(|s| s.name.as_str()).collect();
    // Its own table, then the settings every POS kind takes (the kit's).
    let table: Vec<&str> = posgate_tillypad::SETTINGS
        .iter()
        .chain(posgate_pos_kit::COMMON_SETTINGS)
        .map(|s| s.name)
        .collect();
    assert_eq!(names, table);
    let base_url = d.settings.iter().find(|s| s.name == "base_url").unwrap();
    assert!(base_url.required && !base_url.secret);
    assert!(base_url.description.contains("/pay-guest"));
    assert!(d.settings.iter().all(|s| !s.description.is_empty()));
    conn.currency_scale = 2;

    // GetBill / ListBills: answered for the restaurant (Tillypad cannot read a tab).
    let g = c.try_get_bill(get_bill_req("reg-1", sim::DEMO_TAB_978).via(&conn));
    match g.await.unwrap() {
        adapter_get_bill_response::Result::Failure(f) => {
            assert_eq!(f.pos_code, "tillypad/unsupported")
        }
        other => panic!("{other:?}"),
    }
    let l = c
        .list_bills(list_req("reg-1", "12").via(&conn))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(l.failure.unwrap().pos_code, "tillypad/unsupported");

    // PostPayment: booked once in the simulator's ledger; again → refused, still once.
    let r = pay_via(&mut c, "reg-1", &conn, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].gest_id, sim::DEMO_TAB_978);
    assert_eq!(ledger[0].pay_type_id, sim::DEMO_PAY_TYPE_ID);
    let again = pay_via(&mut c, "reg-1", &conn, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(again.outcome), Outcome::Rejected, "{again:?}");
    assert_eq!(sim.ledger().len(), 1);

    // CloseBill / CheckPayment: answered without calling Tillypad.
    let cl = c
        .close_bill(close_req("reg-1", sim::DEMO_TAB_978).via(&conn))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cl.failure.unwrap().pos_code, "tillypad/no-close-step");
    let chk = c
        .check(check_req("reg-1", sim::DEMO_TAB_978, "978.00").via(&conn))
        .await;
    assert_eq!(outcome(chk.outcome), Outcome::Unknown);
    assert!(chk.evidence.contains("978.00"), "{}", chk.evidence);
    assert_eq!(sim.requests("/pay-guest"), 2, "only the two postings");

    // Without its connection the restaurant is unknown: the adapter keeps no list.
    let e = c
        .post_payment(pay_req("reg-1", sim::DEMO_TAB_POINTS, "2300.00"))
        .await
        .unwrap_err();
    assert_invalid(&e, "connection: is required");
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn a_changed_connection_is_used_at_once() {
    let (sim_a, addr_a) = tillypad().await;
    let (sim_b, addr_b) = tillypad().await;
    let mut c = start_adapter().await;

    let v1 = connection(&base(addr_a), &[], 1);
    let r = pay_via(&mut c, "reg-1", &v1, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim_a.ledger().len(), 1);

    // Another Tillypad for the same restaurant (version 2): the next call goes there.
    let v2 = connection(&base(addr_b), &[], 2);
    let r = pay_via(&mut c, "reg-1", &v2, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim_a.ledger().len(), 1);
    assert_eq!(sim_b.ledger().len(), 1);

    // Another setting at the same version is used too (the cache keys on the whole
    // connection): delete_prechecks 2 cancels the unpaid precheck and pays.
    let v2b = connection(&base(addr_b), &[("delete_prechecks", "2")], 2);
    let r = pay_via(&mut c, "reg-1", &v2, sim::DEMO_TAB_PRECHECK, "640.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "mode 0: {r:?}");
    let r = pay_via(&mut c, "reg-1", &v2b, sim::DEMO_TAB_PRECHECK, "640.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let booked = sim_b.ledger_of(sim::DEMO_TAB_PRECHECK);
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].delete_prechecks, 2);

    // Back to A with a bad setting: refused, and nothing sent anywhere.
    let bad = connection(&base(addr_a), &[("default_pay_type_id", "card")], 3);
    let e = c
        .post_payment(pay_req("reg-1", sim::DEMO_TAB_POINTS, "2300.00").via(&bad))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message()
            .starts_with("connection: setting \"default_pay_type_id\""),
        "{}",
        e.message()
    );
    assert_eq!(sim_a.requests("/pay-guest"), 1);
    assert_eq!(sim_b.requests("/pay-guest"), 3);
}

#[tokio::test]
async fn a_bad_connection_is_invalid_argument_naming_the_setting() {
    let (sim, addr) = tillypad().await;
    let mut c = start_adapter().await;
    let good = connection(&base(addr), &[], 1);

    let mut missing = good.clone();
    missing.settings.remove("base_url");
    let mut secret = good.clone();
    secret.settings.remove("base_url");
    secret
        .secrets
        .insert("base_url".into(), "http://SECRET-relay:8059".into());
    let mut token = good.clone();
    token.secrets.insert("api_token".into(), "SECRET-42".into());
    let mut scale = good.clone();
    scale.currency_scale = 40;
    let with = |k: &str, v: &str| good.clone().set(k, v);
    let cases = [
        (missing, "connection: setting \"base_url\" is required"),
        (
            with("base_url", "10.0.0.5:8090"),
            "connection: setting \"base_url\" must start with",
        ),
        (
            with("object_id", "199990246"),
            "connection: setting \"object_id\" is unknown to Tillypad",
        ),
        (
            with("points_field", "Bonus"),
            "connection: setting \"points_field\"",
        ),
        (
            with("delete_prechecks", "5"),
            "connection: setting \"delete_prechecks\"",
        ),
        (
            with("request_timeout_ms", "soon"),
            "connection: setting \"request_timeout_ms\"",
        ),
        (
            with("ca_file", "/etc/ssl/pos.pem"),
            "connection: setting \"ca_file\" is unknown to Tillypad",
        ),
        (
            with("ca_pem", "-----BEGIN CERTIFICATE-----\nnope\n"),
            "connection: setting \"ca_pem\"",
        ),
        (secret, "connection: setting \"base_url\" is not a secret"),
        (token, "connection: setting \"api_token\" is unknown"),
        (scale, "connection.currency_scale: must be at most"),
    ];
    for (conn, want) in cases {
        for call in 0..2 {
            let e = if call == 0 {
                c.describe(describe_req("reg-1").via(&conn))
                    .await
                    .unwrap_err()
            } else {
                c.post_payment(pay_req("reg-1", sim::DEMO_TAB_978, "978.00").via(&conn))
                    .await
                    .unwrap_err()
            };
            assert_eq!(e.code(), Code::InvalidArgument, "{want}: {e:?}");
            assert!(e.message().starts_with(want), "{want}: {}", e.message());
            assert!(!e.message().contains("SECRET"), "{}", e.message());
        }
    }
    // A connection needs a restaurant id to be kept under.
    let e = c.describe(describe_req(" ").via(&good)).await.unwrap_err();
    assert_invalid(&e, "restaurant_id");
    assert_eq!(sim.requests("/pay-guest"), 0, "nothing sent");

    // After all that, the good connection serves at once.
    let r = pay_via(&mut c, "reg-1", &good, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
}

#[tokio::test]
async fn two_restaurants_on_one_replica_stay_apart() {
    let (sim_a, addr_a) = tillypad().await;
    let (sim_b, addr_b) = tillypad().await;
    // A third, whose own connection the client sends for `TP` unless a request carries another.
    let (sim_s, addr_s) = tillypad().await;
    let mut c = adapter_for(&base(addr_s), &[]).await;

    let one = connection(&base(addr_a), &[], 1);
    // The second books with the tab's prepaid pay type: no default pay type, prepaid allowed.
    let mut two = connection(&base(addr_b), &[("allow_prepaid_pay_type", "true")], 1);
    two.settings.remove("default_pay_type_id");

    // The same tab id in both Tillypads, paid through each restaurant, interleaved.
    let r = pay_via(&mut c, "one", &one, sim::DEMO_TAB_PREPAID, "1450.50").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let r = pay_via(&mut c, "two", &two, sim::DEMO_TAB_PREPAID, "1450.50").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let r = c.pay(TP, sim::DEMO_TAB_PREPAID, "1450.50").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let r = pay_via(&mut c, "one", &one, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");

    let a = sim_a.ledger();
    let b = sim_b.ledger();
    assert_eq!(a.len(), 2, "{a:?}");
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(sim_s.ledger().len(), 1);
    assert!(
        a.iter().all(|e| e.pay_type_id == sim::DEMO_PAY_TYPE_ID),
        "{a:?}"
    );
    assert_eq!(
        b[0].pay_type_id,
        sim::DEMO_PREPAID_PAY_TYPE_ID,
        "the tab's own"
    );
    assert!(sim_b.tab(sim::DEMO_TAB_978).is_some_and(|t| !t.is_closed()));

    // A request naming that restaurant's id with another connection uses that connection.
    let to_b = connection(&base(addr_b), &[], 1);
    let r = pay_via(&mut c, TP, &to_b, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim_b.ledger().len(), 2);
    assert_eq!(sim_s.ledger().len(), 1);
    // ...and with its own, its own Tillypad as before.
    let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim_s.ledger().len(), 2);
    assert_eq!(sim_b.ledger().len(), 2);
}

#[tokio::test]
async fn a_connection_with_its_own_ca_reaches_a_tls_tillypad() {
    let (sim, addr) = tillypad().await;
    let (ca, url) = https_front(addr).await;
    let mut c = start_adapter().await;

    // Not trusting the POS's own CA: refused at the handshake, nothing booked.
    let untrusted = connection(&url, &[], 1);
    let r = pay_via(&mut c, "tls", &untrusted, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "transport/tls");
    assert_eq!(sim.ledger().len(), 0);

    // The same restaurant, its CA sent inline as ca_pem: paid once.
    let trusted = connection(&url, &[("ca_pem", &ca.ca_pem)], 2);
    let r = pay_via(&mut c, "tls", &trusted, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger().len(), 1);
}
