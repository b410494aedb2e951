//! The adapter over real gRPC against a canned Tillypad that answers like independent
//! implementations: other wording (Russian and English), error strings with 200 or 4xx/5xx,
//! error objects, plain text, windows-1251, HTML and empty bodies, success shapes with other
//! key spellings.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::stub::{Canned, Stub};
use common::*;
use posgate_proto::v1::*;
use posgate_sim::tillypad as sim;

const TAB: &str = "{8f0e6b52-3c1d-4a7e-9b20-00000000abcd}";

async fn one(stub: &Stub, req: PostPaymentRequest) -> PostPaymentResponse {
    let addr = stub.spawn().await;
    let mut c = adapter_for(&format!("http://{addr}"), &[]).await;
    c.post(req).await
}

#[tokio::test]
async fn request_shape() {
    let stub = Stub::on_json(|_| Canned::json(r#"{"DiscountSums":[],"AppliedDiscountSums":[]}"#));
    let addr = stub.spawn().await;
    let mut c = adapter_for(&format!("http://{addr}/tillypad-api/Client"), &[]).await;
    let r = c
        .post(pay_with(
            TP,
            TAB,
            "878.50",
            "100",
            &[
                ("delete_prechecks", "1"),
                ("points_type_id", "60D367B5-15D2-D24D-8A74-A28F40C8CB9D"),
            ],
        ))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let seen = &stub.seen()[0];
    assert_eq!(seen.path, "/tillypad-api/Client/pay-guest");
    assert_eq!(seen.query.as_deref(), Some("delete-prechecks=1"));
    assert!(
        seen.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(seen.raw.contains(r#""paySum":878.50"#), "{}", seen.raw);
    assert!(seen.raw.contains(r#""sum":100.00"#), "{}", seen.raw);
    let p = &seen.json["Payment"];
    assert_eq!(p["gest_ID"], "8f0e6b52-3c1d-4a7e-9b20-00000000abcd");
    assert_eq!(p["payType_ID"], sim::DEMO_PAY_TYPE_ID);
    assert_eq!(
        seen.json["DiscountSum"]["type_ID"],
        "60D367B5-15D2-D24D-8A74-A28F40C8CB9D"
    );
    assert_eq!(seen.json.as_object().unwrap().len(), 2);

    // No points: no DiscountSum; the restaurant's mode (0) is sent explicitly.
    let r = c.post(pay_req(TP, TAB, "10")).await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let seen = &stub.seen()[1];
    assert_eq!(seen.query.as_deref(), Some("delete-prechecks=0"));
    assert!(seen.json.get("DiscountSum").is_none());
    assert!(seen.raw.contains(r#""paySum":10.00"#), "{}", seen.raw);
}

/// Error texts as independent implementations send them: the JSON type decides, not the
/// status, and the raw text is kept.
#[tokio::test]
async fn error_texts_with_any_status() {
    let cases: &[(u16, &str, Substate)] = &[
        (
            200,
            "Сумма оплаты не совпадает с суммой счета",
            Substate::WrongRequestSum,
        ),
        (
            400,
            "Payment amount does not match the bill total",
            Substate::WrongRequestSum,
        ),
        (409, "Счёт уже передан на оплату", Substate::BillInUse),
        (
            422,
            "A precheck has already been printed for this bill",
            Substate::BillInUse,
        ),
        (
            500,
            "Операционный день закрыт",
            Substate::CashiersShiftClosed,
        ),
        (503, "No open shift", Substate::CashiersShiftClosed),
        (
            200,
            "Ошибка ККТ: закончилась бумага",
            Substate::PrinterError,
        ),
        (500, "The bill has already been paid", Substate::OtherError),
        (400, "payType_ID is required", Substate::OtherError),
        (200, "Что-то пошло не так", Substate::OtherError),
    ];
    for &(status, text, want) in cases {
        let body = serde_json::to_string(text).unwrap();
        let stub = Stub::always(status, "application/json", body.as_bytes());
        let r = one(&stub, pay_req(TP, TAB, "978.00")).await;
        assert_eq!(outcome(r.outcome), Outcome::Rejected, "{text}: {r:?}");
        let f = r.failure.unwrap();
        assert_eq!(f.substate, want as i32, "{text}: {f:?}");
        assert_eq!(f.pos_text, text, "raw text kept");
        assert_eq!(f.pos_code, format!("HTTP/{status}"));
        assert!(!f.transient);
    }
}

#[tokio::test]
async fn error_objects_plain_text_and_windows_1251() {
    // ASP.NET-style error object.
    let stub = Stub::always(
        500,
        "application/json",
        r#"{"Message": "Гостевой счет не найден"}"#.as_bytes(),
    );
    let r = one(&stub, pay_req(TP, TAB, "1")).await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    let f = r.failure.unwrap();
    assert!(f.not_found);
    assert_eq!(f.pos_text, "Гостевой счет не найден");

    // A recognised plain-text refusal.
    let stub = Stub::always(
        200,
        "text/plain; charset=utf-8",
        "Счет уже оплачен".as_bytes(),
    );
    let r = one(&stub, pay_req(TP, TAB, "1")).await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_text, "Счет уже оплачен");

    // windows-1251 JSON string: «Счет уже передан в оплату».
    let mut body = vec![b'"'];
    body.extend_from_slice(&[
        0xD1, 0xF7, 0xE5, 0xF2, 0x20, 0xF3, 0xE6, 0xE5, 0x20, 0xEF, 0xE5, 0xF0, 0xE5, 0xE4, 0xE0,
        0xED, 0x20, 0xE2, 0x20, 0xEE, 0xEF, 0xEB, 0xE0, 0xF2, 0xF3,
    ]);
    body.push(b'"');
    let stub = Stub::always(200, "application/json; charset=windows-1251", &body);
    let r = one(&stub, pay_req(TP, TAB, "1")).await;
    assert_eq!(substate(&r.failure), Substate::BillInUse, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_text, "Счет уже передан в оплату");

    // A text saying Tillypad itself timed out: it may have been applied.
    let stub = Stub::always(
        200,
        "application/json",
        "\"Timeout expired. The timeout period elapsed prior to completion of the operation\""
            .as_bytes(),
    );
    let r = one(&stub, pay_req(TP, TAB, "1")).await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
}

#[tokio::test]
async fn unreadable_bodies_by_status() {
    let cases: &[(u16, &str, &[u8], Outcome)] = &[
        (200, "application/json", b"", Outcome::Unknown),
        (
            200,
            "text/html",
            b"<html><body>OK</body></html>",
            Outcome::Unknown,
        ),
        (200, "text/plain", b"OK", Outcome::Unknown),
        (200, "application/json", b"{}", Outcome::Unknown),
        (200, "application/json", b"true", Outcome::Unknown),
        (
            502,
            "text/html",
            b"<html><h1>502 Bad Gateway</h1></html>",
            Outcome::Unknown,
        ),
        (504, "text/html", b"", Outcome::Unknown),
        (
            500,
            "application/json",
            br#"{"DiscountSums": []}"#,
            Outcome::Unknown,
        ),
        (
            404,
            "text/html",
            b"<html>Not Found</html>",
            Outcome::Rejected,
        ),
        (401, "text/plain", b"", Outcome::Rejected),
        (429, "text/plain", b"slow down", Outcome::NotApplied),
        (307, "text/html", b"", Outcome::Rejected),
    ];
    for &(status, ct, body, want) in cases {
        let stub = Stub::always(status, ct, body);
        let r = one(&stub, pay_req(TP, TAB, "978.00")).await;
        assert_eq!(
            outcome(r.outcome),
            want,
            "{status} {:?}: {r:?}",
            String::from_utf8_lossy(body)
        );
        let f = r.failure.unwrap();
        assert_eq!(f.pos_code, format!("HTTP/{status}"));
        assert!(!f.pos_text.is_empty());
        if want == Outcome::Rejected {
            assert_eq!(f.substate, Substate::OtherError as i32);
        }
        assert_eq!(stub.seen().len(), 1, "sent once, redirects not followed");
    }
}

#[tokio::test]
async fn success_shapes_of_other_implementations() {
    // Singular keys, camelCase, a single object, string sums, a BOM.
    let mut body = vec![0xEF, 0xBB, 0xBF];
    body.extend_from_slice(
        br#"{"discountSum": {"typeId": "A", "Sum": "100.00"},
            "appliedDiscountSum": {"typeId": "B", "Sum": "80.00"}}"#,
    );
    let stub = Stub::always(200, "application/json", &body);
    let r = one(&stub, pay_with(TP, TAB, "878.00", "100", &[])).await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    let d: BTreeMap<_, _> = r.details.into_iter().collect();
    assert_eq!(d["points_applied"], "80.00");
    assert!(d["points_mismatch"].contains("applied 80.00"), "{d:?}");
    let ap: serde_json::Value = serde_json::from_str(&d["applied_discount_sums"]).unwrap();
    assert_eq!(ap[0]["typeId"], "B");
}

#[tokio::test]
async fn a_slow_answer_past_the_timeout_is_unknown() {
    let stub = Stub::on_json(|_| {
        Canned::json(r#"{"DiscountSums":[],"AppliedDiscountSums":[]}"#)
            .delay(Duration::from_millis(2_500))
    });
    let r = one(&stub, pay_req(TP, TAB, "978.00")).await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "transport/timeout");
    assert_eq!(stub.seen().len(), 1, "sent once, never again");
}

#[tokio::test]
async fn a_redirect_is_refused_with_its_location_and_never_followed() {
    for status in [307, 308, 302] {
        let other =
            Stub::on_json(|_| Canned::json(r#"{"DiscountSums":[],"AppliedDiscountSums":[]}"#));
        let other_addr = other.spawn().await;
        let location = format!("http://{other_addr}/pay-guest?delete-prechecks=0");
        let loc = location.clone();
        let stub = Stub::on_json(move |_| Canned::redirect(status, loc.clone()));
        let r = one(&stub, pay_req(TP, TAB, "978.00")).await;
        assert_eq!(outcome(r.outcome), Outcome::Rejected, "{status}: {r:?}");
        let f = r.failure.unwrap();
        assert_eq!(f.substate, Substate::OtherError as i32);
        assert_eq!(f.pos_code, format!("HTTP/{status}"));
        assert!(f.pos_text.contains(&location), "{status}: {f:?}");
        assert_eq!(stub.seen().len(), 1, "{status}: sent once");
        assert!(
            other.seen().is_empty(),
            "{status}: nothing followed the redirect"
        );
    }
}
