//! Stateless serving: an adapter with no static restaurants serves restaurants given only by
//! the `connection` each request carries (issue 11), against the r_k Delivery simulator over
//! real HTTP and the adapter over real gRPC.

mod common;

use common::*;
use posgate_pos_kit::testkit::{close_req, describe_req, https_front, list_req};
use posgate_proto::v1::*;
use posgate_sim::delivery::{
    self as sim, DeliverySim, SimClient, SimOrder, SimRestaurant, endpoint, status,
};
use tonic::Code;

/// A second r_k Delivery (another corporation): its own client, restaurant, currency, and an
/// order with the same id as the demo's 1290.00 one but of 500.00.
const B_CLIENT: &str = "b-order-source";
const B_SECRET: &str = "b-secret-VALUE-77";
const B_RESTAURANT: &str = "0f5e2d1c-aaaa-4bbb-8ccc-111122223333";
const B_CURRENCY: &str = "A1B2C3D4-0000-4000-8000-00000000000B";

fn sim_b() -> DeliverySim {
    let s = DeliverySim::new();
    s.add_client(SimClient::new(B_CLIENT, B_SECRET));
    s.add_restaurant(SimRestaurant::new(B_RESTAURANT, B_CURRENCY));
    s.add_order(
        SimOrder::new(status::TRANSFERRED_TO_KITCHEN, dec("500.00"))
            .with_order_id(sim::DEMO_ORDER_1290)
            .with_restaurant(B_RESTAURANT)
            .with_table("7"),
    );
    s
}

/// The connection the registry would send for a restaurant on the r_k Delivery at `base`.
fn conn(base: &str, client_id: &str, secret: &str, currency: &str) -> PosConnection {
    restaurant(base, client_id, secret).set("currency_guid", currency)
}

fn conn_a(addr: std::net::SocketAddr) -> PosConnection {
    sim_connection(addr)
}

fn conn_b(addr: std::net::SocketAddr) -> PosConnection {
    conn(&format!("http://{addr}"), B_CLIENT, B_SECRET, B_CURRENCY)
}

/// An adapter, and a client that sends only the connections a test gives.
async fn stateless_adapter() -> Client {
    start_adapter_with(None, posgate_grpc::AuthConfig::disabled()).await
}

#[tokio::test]
async fn a_restaurant_given_only_by_its_connection_is_served_end_to_end() {
    let a = DeliverySim::with_demo_data();
    let addr = a.clone().spawn().await.unwrap();
    let mut c = stateless_adapter().await;
    let cn = conn_a(addr);
    let o = sim::DEMO_ORDER_1290;

    // Without a connection the restaurant is unknown: nothing static names it. Describe then
    // tells only what this POS is and which settings it takes.
    let e = c.get_bill(get_bill_req("r1", o)).await.unwrap_err();
    assert_invalid(&e, "connection: is required");
    let schema = c.try_describe(describe_req("r1")).await.unwrap();
    assert_eq!(schema.pos_kind, "r_keeper_delivery");
    assert_eq!(schema.currency_scale, 0, "no restaurant described");

    let d = c.try_describe(describe_req("r1").via(&cn)).await.unwrap();
    assert_eq!(d.pos_kind, "r_keeper_delivery");
    assert!(d.separate_close_step);
    assert_eq!(d.currency_scale, 2);
    assert_eq!(
        d.reconcile_settle_ms,
        800 + posgate_delivery::settings::DEFAULT_SETTLE_MARGIN_MS,
        "the connection's write_timeout_ms"
    );
    // The schema: every connection setting once, static-only ones left out.
    assert_eq!(d.settings, schema.settings);
    let names: Vec<&str> = d.settings.iter().map(|s| s.name.as_str()).collect();
    for must in [
        "base_url",
        "auth_url",
        "client_id",
        "client_secret",
        "currency_guid",
        "ca_pem",
    ] {
        assert!(names.contains(&must), "{must} in {names:?}");
    }
    for never in ["client_secret_file", "ca_file", "currency_scale"] {
        assert!(!names.contains(&never), "{never} in {names:?}");
    }
    let secret: Vec<&str> = d
        .settings
        .iter()
        .filter(|s| s.secret)
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(secret, ["client_secret"]);
    let mut required: Vec<&str> = d
        .settings
        .iter()
        .filter(|s| s.required)
        .map(|s| s.name.as_str())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["client_id", "client_secret", "currency_guid"]);
    assert!(d.settings.iter().all(|s| !s.description.is_empty()));

    let b = c.bill_of(get_bill_req("r1", o).via(&cn)).await;
    assert_eq!(
        (b.restaurant_id.as_str(), b.total.as_str()),
        ("r1", "1290.00")
    );
    assert_eq!(b.amount_due, "1290.00");
    assert_eq!(b.currency, sim::DEMO_CURRENCY_GUID);

    let r = c
        .try_post(pay_req("r1", o, "1290.00").via(&cn))
        .await
        .unwrap();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let ledger = a.ledger();
    assert_eq!(ledger.len(), 1, "booked once");
    assert_eq!(ledger[0].amount, dec("1290.00"));
    assert_eq!(ledger[0].lines[0].code, sim::DEMO_CURRENCY_GUID);
    assert!(ledger[0].lines[0].paid_at.ends_with("+03:00"));

    let cl = c
        .close_bill(close_req("r1", o).via(&cn))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert_eq!(a.order(o).unwrap().status_id, status::COMPLETED);

    let ck = c
        .check(CheckPaymentRequest {
            pos_reference: r.pos_reference.clone(),
            bill_before: Some(b),
            close: true,
            ..check_req("r1", o, "1290.00").via(&cn)
        })
        .await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(ck.bill_closed);

    let listed = c.list_of(list_req("r1", "").via(&cn)).await;
    assert!(listed.failure.is_none(), "{listed:?}");
    assert!(
        listed
            .bills
            .iter()
            .all(|b| b.restaurant_id == "r1" && b.bill_id != o)
    );

    assert_eq!(
        (a.pays(o), a.completes(o)),
        (1, 1),
        "paid once, completed once"
    );
    // What was built from the connection was kept: one token for every call.
    assert_eq!(a.tokens_issued(), 1);
}

#[tokio::test]
async fn a_changed_connection_is_used_at_once() {
    let a = DeliverySim::with_demo_data();
    let b = sim_b();
    let (addr_a, addr_b) = (
        a.clone().spawn().await.unwrap(),
        b.clone().spawn().await.unwrap(),
    );
    let mut c = stateless_adapter().await;
    let o = sim::DEMO_ORDER_1290;

    let v1 = conn_a(addr_a);
    assert_eq!(
        c.bill_of(get_bill_req("r1", o).via(&v1)).await.total,
        "1290.00"
    );
    // The restaurant moved to another r_k Delivery (new URL, client, currency).
    let mut v2 = conn_b(addr_b);
    v2.version = 2;
    let bill = c.bill_of(get_bill_req("r1", o).via(&v2)).await;
    assert_eq!((bill.total.as_str(), bill.table.as_str()), ("500.00", "7"));
    assert_eq!(bill.currency, B_CURRENCY);
    let r = c
        .try_post(pay_req("r1", o, "500.00").via(&v2))
        .await
        .unwrap();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(
        (a.pays(o), b.pays(o)),
        (0, 1),
        "booked where the connection points now"
    );
    assert_eq!(b.ledger()[0].lines[0].code, B_CURRENCY);

    // Another secret at the same version: used at once (refused by the token server), and
    // nothing is posted.
    let tokens = b.tokens_issued();
    let mut wrong = v2.clone();
    wrong
        .secrets
        .insert("client_secret".into(), "revoked-secret".into());
    match c
        .try_get_bill(get_bill_req("r1", o).via(&wrong))
        .await
        .unwrap()
    {
        adapter_get_bill_response::Result::Failure(f) => {
            assert_eq!(f.pos_code, "auth/invalid_client", "{f:?}");
            assert!(!f.pos_text.contains("revoked-secret"), "{f:?}");
        }
        other => panic!("a refused secret read a bill: {other:?}"),
    }
    let r = c
        .try_post(pay_req("r1", o, "500.00").via(&wrong))
        .await
        .unwrap();
    assert_ne!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(b.pays(o), 1);
    assert_eq!(b.tokens_issued(), tokens, "no token for the wrong secret");
    // Back to the good one: a new token, served again.
    assert_eq!(
        c.bill_of(get_bill_req("r1", o).via(&v2)).await.paid,
        "500.00"
    );
    assert_eq!(b.tokens_issued(), tokens + 1);
}

#[tokio::test]
async fn a_bad_connection_is_invalid_argument_naming_the_setting_never_quoting_a_secret() {
    let a = DeliverySim::with_demo_data();
    let addr = a.clone().spawn().await.unwrap();
    let mut c = stateless_adapter().await;
    let good = conn_a(addr);
    type Edit = fn(&mut PosConnection);
    let cases: [(&str, Edit); 7] = [
        ("client_id", |c| {
            c.settings.remove("client_id");
        }),
        ("client_secret", |c| {
            c.secrets.clear();
        }),
        ("client_secret", |c| {
            // A secret among the plain settings (they may be shown and logged).
            let s = c.secrets.remove("client_secret").unwrap();
            c.settings.insert("client_secret".into(), s);
        }),
        ("read_timeout_ms", |c| {
            c.settings
                .insert("read_timeout_ms".into(), sim::DEMO_CLIENT_SECRET.into());
        }),
        ("object_id", |c| {
            c.settings.insert("object_id".into(), "199990246".into());
        }),
        ("client_secret_file", |c| {
            c.secrets
                .insert("client_secret_file".into(), "/etc/shadow".into());
        }),
        ("auth_url", |c| {
            c.settings.remove("auth_url");
        }),
    ];
    for (name, edit) in cases {
        let mut bad = good.clone();
        edit(&mut bad);
        let e = c
            .try_get_bill(get_bill_req("r1", sim::DEMO_ORDER_1290).via(&bad))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{name}: {e:?}");
        let m = e.message();
        assert!(m.starts_with("connection: "), "{name}: {m}");
        assert!(
            m.contains(&format!("\"{name}\"")) || m.contains(&format!("`{name}`")),
            "{name}: {m}"
        );
        assert!(!m.contains(sim::DEMO_CLIENT_SECRET), "{name}: {m}");
        // Every call refuses it alike, PostPayment before anything is sent.
        let e = c
            .try_post(pay_req("r1", sim::DEMO_ORDER_1290, "1290.00").via(&bad))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{name}");
        let e = c
            .try_describe(describe_req("r1").via(&bad))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{name}");
    }
    assert_eq!(a.requests(endpoint::PAY), 0);
    assert_eq!(
        a.tokens_issued(),
        0,
        "no bad connection reached r_k Delivery"
    );
    // A connection without a restaurant id is refused too.
    let e = c
        .try_get_bill(get_bill_req(" ", sim::DEMO_ORDER_1290).via(&good))
        .await
        .unwrap_err();
    assert_invalid(&e, "restaurant_id");
    // The good one still works after all that.
    assert_eq!(
        c.bill_of(get_bill_req("r1", sim::DEMO_ORDER_1290).via(&good))
            .await
            .total,
        "1290.00"
    );
}

#[tokio::test]
async fn two_restaurants_on_one_replica_stay_apart() {
    let a = DeliverySim::with_demo_data();
    let b = sim_b();
    let (addr_a, addr_b) = (
        a.clone().spawn().await.unwrap(),
        b.clone().spawn().await.unwrap(),
    );
    let mut c = stateless_adapter().await;
    let o = sim::DEMO_ORDER_1290;
    let (ca, cb) = (conn_a(addr_a), conn_b(addr_b));

    // Interleaved: each restaurant reads and books only in its own r_k Delivery.
    let ba = c.bill_of(get_bill_req("ra", o).via(&ca)).await;
    let bb = c.bill_of(get_bill_req("rb", o).via(&cb)).await;
    assert_eq!(
        (ba.restaurant_id.as_str(), ba.total.as_str()),
        ("ra", "1290.00")
    );
    assert_eq!(
        (bb.restaurant_id.as_str(), bb.total.as_str()),
        ("rb", "500.00")
    );
    let r = c
        .try_post(pay_req("rb", o, "500.00").via(&cb))
        .await
        .unwrap();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!((a.ledger().len(), b.ledger().len()), (0, 1));
    // A's amount at B would be refused by B; at A it is booked at A only.
    let r = c
        .try_post(pay_req("ra", o, "1290.00").via(&ca))
        .await
        .unwrap();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!((a.ledger().len(), b.ledger().len()), (1, 1));
    assert_eq!(a.ledger()[0].lines[0].code, sim::DEMO_CURRENCY_GUID);
    assert_eq!(b.ledger()[0].lines[0].code, B_CURRENCY);
    assert_eq!(
        c.bill_of(get_bill_req("ra", o).via(&ca)).await.amount_due,
        "0.00"
    );
    assert_eq!(
        c.bill_of(get_bill_req("rb", o).via(&cb)).await.amount_due,
        "0.00"
    );
    // Each kept its own token: one per r_k Delivery for all these calls.
    assert_eq!((a.tokens_issued(), b.tokens_issued()), (1, 1));
}

#[tokio::test]
async fn a_connection_trusts_its_inline_ca_bundle() {
    let a = DeliverySim::with_demo_data();
    let (ca, base) = https_front(a.clone().spawn().await.unwrap()).await;
    let mut c = stateless_adapter().await;
    let cn = restaurant(&base, sim::DEMO_CLIENT_ID, sim::DEMO_CLIENT_SECRET);
    // Without the bundle the server's certificate is not trusted.
    match c
        .try_get_bill(get_bill_req("r1", sim::DEMO_ORDER_1290).via(&cn))
        .await
        .unwrap()
    {
        adapter_get_bill_response::Result::Failure(f) => {
            assert_eq!(f.pos_code, "auth/transport/tls", "{f:?}")
        }
        other => panic!("an unknown CA was trusted: {other:?}"),
    }
    assert_eq!(a.tokens_issued(), 0);
    // The registry adds the bundle: trusted at once.
    let cn = cn.set("ca_pem", &ca.ca_pem).at_version(2);
    assert_eq!(
        c.bill_of(get_bill_req("r1", sim::DEMO_ORDER_1290).via(&cn))
            .await
            .total,
        "1290.00"
    );
    assert_eq!(a.tokens_issued(), 1);
}
