//! The test kit's own machinery (every POS crate's tests lean on it): the canned HTTP POS
//! records what it received and answers as told, connections are built and edited as said, the
//! client sends the connection named for a request's restaurant, and a POS's refusal table is
//! read row by row.
#![cfg(all(feature = "testkit", feature = "conformance"))]

use std::time::{Duration, Instant};

use posgate_pos_kit::conformance::{Unsupported, refusal};
use posgate_pos_kit::testkit::stub::{Canned, Stub};
use posgate_pos_kit::testkit::{
    Client, ConnectionExt, PAYMENT_ID, Via, check_req, close_req, connection, dec, get_bill_req,
    pay_req,
};
use posgate_proto::v1::Substate;

#[tokio::test]
async fn a_stub_records_every_request_and_answers_as_told() {
    let stub = Stub::new(|seen| {
        if seen.is("GET", "/slow") {
            Canned::json("{}").delay(Duration::from_millis(300))
        } else if seen.json["move"] == true {
            Canned::redirect(307, "http://elsewhere.example/pay")
        } else {
            Canned::html(502, "<html>Bad Gateway</html>")
        }
    });
    let addr = stub.spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let r = http
        .post(format!("http://{addr}/api/pay?mode=1"))
        .header("x-token", "t-1")
        .body(r#"{"move": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(r.headers()["location"], "http://elsewhere.example/pay");

    let r = http
        .put(format!("http://{addr}/other"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["content-type"], "text/html");
    assert_eq!(r.text().await.unwrap(), "<html>Bad Gateway</html>");

    let started = Instant::now();
    let r = http
        .get(format!("http://{addr}/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    let seen = stub.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[0].is("POST", "/pay"));
    assert_eq!(seen[0].path, "/api/pay");
    assert_eq!(seen[0].query.as_deref(), Some("mode=1"));
    assert_eq!(seen[0].headers["x-token"], "t-1");
    assert_eq!(seen[0].json["move"], true);
    assert_eq!(seen[1].raw, "not json");
    assert!(seen[1].json.is_null());
    assert_eq!(seen[2].query, None);
    assert_eq!(stub.count("PUT", "/other"), 1);
    assert_eq!(stub.count("POST", "/other"), 0);
    assert_eq!(stub.seen_where(|s| s.method == "GET").len(), 1);
}

#[tokio::test]
async fn a_stub_can_answer_by_the_json_body_or_always_alike() {
    let by_body = Stub::on_json(|body| Canned::json(body["echo"].to_string()));
    let always = Stub::always(429, "text/plain", b"slow down");
    let (a, b) = (by_body.spawn().await, always.spawn().await);
    let http = reqwest::Client::new();
    let r = http
        .post(format!("http://{a}/"))
        .body(r#"{"echo": "hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), r#""hi""#);
    let r = http.get(format!("http://{b}/x")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.text().await.unwrap(), "slow down");
}

#[test]
fn connections_are_built_and_edited_as_said() {
    let c = connection(
        &[("base_url", "http://pos"), ("mode", "sync")],
        &[("token", "t")],
    );
    assert_eq!(c.settings["base_url"], "http://pos");
    assert_eq!(c.secrets["token"], "t");
    assert_eq!((c.currency_scale, c.version), (2, 1));

    let edited = c
        .clone()
        .set("mode", "async")
        .set_all(&[("cash_station_id", "3")])
        .unset("base_url")
        .set_secret("token", "t2")
        .at_version(7)
        .trusting(Some("PEM"));
    assert_eq!(edited.settings["mode"], "async");
    assert_eq!(edited.settings["cash_station_id"], "3");
    assert!(!edited.settings.contains_key("base_url"));
    assert_eq!(edited.secrets["token"], "t2");
    assert_eq!(edited.version, 7);
    assert_eq!(edited.settings["ca_pem"], "PEM");
    assert!(!c.clone().trusting(None).settings.contains_key("ca_pem"));
}

#[test]
fn requests_are_the_payment_services_and_carry_a_connection_only_via() {
    let conn = connection(&[("base_url", "http://pos")], &[]);
    let pay = pay_req("r1", "b1", "978.00");
    assert_eq!(
        (pay.restaurant_id.as_str(), pay.bill_id.as_str()),
        ("r1", "b1")
    );
    assert_eq!(
        (pay.payment_id.as_str(), pay.amount.as_str()),
        (PAYMENT_ID, "978.00")
    );
    assert!(pay.connection.is_none());
    assert_eq!(pay.via(&conn).connection, Some(conn.clone()));
    assert_eq!(
        get_bill_req("r1", "b1").via(&conn).connection,
        Some(conn.clone())
    );
    let check = check_req("r1", "b1", "1.00");
    assert!(!check.close && check.bill_before.is_none() && check.pos_reference.is_empty());
    assert_eq!(close_req("r1", "b1").payment_id, PAYMENT_ID);
    assert_eq!(dec("978.00").to_string(), "978.00");
}

#[test]
fn a_refusal_table_is_read_row_by_row() {
    const TABLE: &[(Substate, &str)] = &[
        (Substate::PrinterError, "printer"),
        (Substate::BillInUse, "locked"),
    ];
    let why_not = |s| format!("no {s:?} here");
    assert_eq!(refusal(TABLE, Substate::BillInUse, why_not), Ok("locked"));
    assert_eq!(
        refusal(TABLE, Substate::WrongRequestSum, why_not),
        Err(Unsupported::because("no WrongRequestSum here"))
    );
}

#[tokio::test]
async fn the_client_sends_the_connection_named_for_the_restaurant_else_the_one_for_any() {
    let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
    let raw = posgate_proto::v1::pos_adapter_client::PosAdapterClient::new(channel);
    let (a, b, any) = (
        connection(&[("base_url", "http://a")], &[]),
        connection(&[("base_url", "http://b")], &[]),
        connection(&[("base_url", "http://any")], &[]),
    );
    let c = Client::new(raw, "127.0.0.1:9".parse().unwrap()).with("a", a.clone());
    assert_eq!(c.connection_of("a"), Some(a.clone()));
    assert_eq!(c.connection_of("z"), None);
    let c = c.with_all([("b", b.clone())]).for_any(any.clone());
    assert_eq!(c.connection_of("a"), Some(a));
    assert_eq!(c.connection_of("b"), Some(b));
    assert_eq!(c.connection_of("z"), Some(any));
    assert_eq!(c.url(), "http://127.0.0.1:9");
}
