//! The adapter over real gRPC against a canned r_k Delivery that answers like independent
//! implementations: other wording and status codes, errors inside 2xx answers, ASP.NET
//! problem details, orders without the `result` wrapper, proxies with HTML errors, tokens
//! refused or revoked, answers that never come.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::stub::{Canned, Seen, Stub, Tokens, is_token, token_answer};
use common::*;
use posgate_proto::v1::*;
use posgate_sim::delivery::DEMO_CURRENCY_GUID;

const CLIENT: &str = "stub-client";
const SECRET: &str = "stub-secret-SECRET-123";

fn order_978(status: u8) -> Canned {
    Canned::json(format!(
        r#"{{"result": {{"orderId": "102", "orderStatusId": {status}, "orderStatusName": "Передан на кухню",
            "amount": 978.00, "fullAmount": 978.00, "tableCode": "5",
            "dishList": [{{"id": "d1", "name": "Борщ", "price": 489.00, "quantity": 2}}]}}}}"#
    ))
}

/// Token and GET order answered; everything else by `f`.
fn stub_with(f: impl Fn(&Seen) -> Canned + Send + Sync + 'static) -> Stub {
    Stub::new(move |s| {
        if is_token(s) {
            token_answer("tok-1", 3600)
        } else if s.method.as_str() == "GET" && s.path.ends_with("/orders/102") {
            order_978(4)
        } else {
            f(s)
        }
    })
}

async fn adapter(stub: &Stub) -> Client {
    let addr = stub.spawn().await;
    let r = restaurant(&format!("http://{addr}"), CLIENT, SECRET).set("currency_name", "Online");
    start_adapter(r).await
}

#[tokio::test]
async fn request_shapes_token_form_bearer_and_exact_pay_body() {
    let stub = stub_with(|_| Canned::json(r#"{"result": {}}"#));
    let mut c = adapter(&stub).await;
    let r = c.pay(DL, "102", "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(r.pos_reference, "", "no requestId on a plain success");
    let cl = c.close(DL, "102").await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");

    let seen = stub.seen();
    let token: Vec<&Seen> = seen.iter().filter(|s| is_token(s)).collect();
    assert_eq!(token.len(), 1, "one token for every call");
    let t = token[0];
    assert_eq!(t.method.as_str(), "POST");
    assert_eq!(
        t.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    for part in [
        format!("client_id={CLIENT}"),
        format!("client_secret={SECRET}"),
        "grant_type=client_credentials".to_string(),
        "scopes=orders".to_string(),
    ] {
        assert!(t.raw.split('&').any(|p| p == part), "{part} in {}", t.raw);
    }
    let get = seen
        .iter()
        .find(|s| s.is("GET", "/orders/api/v1/orders/102"))
        .unwrap();
    assert_eq!(get.headers["authorization"], "Bearer tok-1");
    let p = seen
        .iter()
        .find(|s| s.is("PUT", "/orders/api/v1/orders/102/pay"))
        .unwrap();
    assert_eq!(p.headers["authorization"], "Bearer tok-1");
    assert_eq!(p.headers["content-type"], "application/json; charset=utf-8");
    let prefix = format!(r#"[{{"code":"{DEMO_CURRENCY_GUID}","amount":978.00,"paidAt":""#);
    assert!(p.raw.starts_with(&prefix), "{}", p.raw);
    assert!(p.raw.ends_with(r#"+03:00","name":"Online"}]"#), "{}", p.raw);
    let paid_at = &p.raw[prefix.len()..prefix.len() + 29];
    assert_eq!(paid_at.len(), 29, "2022-04-05T15:12:58.658+03:00");
    assert_eq!(&paid_at[10..11], "T");
    let comp = seen
        .iter()
        .find(|s| s.is("PUT", "/orders/api/v1/orders/102/complete"))
        .unwrap();
    assert!(comp.raw.is_empty());
    // Neither the secret nor the token in anything but the token request and the headers.
    assert!(!p.raw.contains(SECRET) && !p.raw.contains("tok-1"));
}

#[tokio::test]
async fn wording_status_and_shape_variants() {
    type Case = (u16, &'static str, Outcome, Option<Substate>);
    let cases: Vec<Case> = vec![
        (
            500,
            r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"WS Error: Error Code: WsaOrderError. RkInternal: Cash station [3373] There is not enough money to fully pay the order.","requestId":"0HMGNRL7KKKDF:00000001","errors":null}"#,
            Outcome::Rejected,
            Some(Substate::WrongRequestSum),
        ),
        (
            422,
            r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"WS Error: Error Code: WsaOrderError. RkInternal: Order is locked by station [5]"}"#,
            Outcome::Rejected,
            Some(Substate::BillInUse),
        ),
        (
            400,
            r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"WS Error: Error Code: WsaOrderError. RkInternal: Смена закрыта"}"#,
            Outcome::Rejected,
            Some(Substate::CashiersShiftClosed),
        ),
        // An error inside a 200.
        (
            200,
            r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"RkInternal: Принтер не отвечает","requestId":"r-200"}"#,
            Outcome::Rejected,
            Some(Substate::PrinterError),
        ),
        (
            400,
            r#"{"code":"ERR_VALIDATION","msg":"One or more validation errors occurred.","errors":{"[0].paidAt":["bad"]}}"#,
            Outcome::Rejected,
            Some(Substate::OtherError),
        ),
        // ASP.NET problem details.
        (
            400,
            r#"{"type":"https://tools.ietf.org/html/rfc7231#section-6.5.1","title":"One or more validation errors occurred.","status":400,"errors":{"$":["The JSON value could not be converted."]},"traceId":"00-abc-01"}"#,
            Outcome::Rejected,
            Some(Substate::OtherError),
        ),
        (
            400,
            r#"{"code":"ERR_INVALID_ORDER_STATUS","msg":"Order have FINAL 11 status"}"#,
            Outcome::Rejected,
            Some(Substate::OtherError),
        ),
        (
            504,
            r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"Request timed out","requestId":"r-504"}"#,
            Outcome::Unknown,
            None,
        ),
        (
            400,
            r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"WS Error: Error Code: Timeout. Истекло время ожидания ответа от агента"}"#,
            Outcome::Unknown,
            None,
        ),
        (
            502,
            "<html><body>Bad Gateway</body></html>",
            Outcome::Unknown,
            None,
        ),
        (
            500,
            r#"{"code":"ERR_INTERNAL","msg":"boom"}"#,
            Outcome::Unknown,
            None,
        ),
        (429, "", Outcome::NotApplied, None),
        (
            404,
            r#"{"code":"ERR_NOT_FOUND","msg":"Order 102 not found"}"#,
            Outcome::Rejected,
            Some(Substate::OtherError),
        ),
        (200, "", Outcome::Applied, None),
        (204, "", Outcome::Applied, None),
    ];
    let current: Arc<Mutex<(u16, String)>> = Arc::new(Mutex::new((200, String::new())));
    let cur = current.clone();
    let stub = stub_with(move |_| {
        let (status, body) = cur.lock().unwrap().clone();
        if body.starts_with('<') {
            Canned::html(status, body)
        } else {
            Canned::json(body).status(status)
        }
    });
    let mut c = adapter(&stub).await;
    for (status, body, want, sub) in cases {
        *current.lock().unwrap() = (status, body.to_string());
        let r = c.pay(DL, "102", "978.00").await;
        assert_eq!(outcome(r.outcome), want, "{status} {body}: {r:?}");
        if let Some(s) = sub {
            assert_eq!(substate(&r.failure), s, "{status} {body}: {r:?}");
        }
        if want != Outcome::Applied {
            let f = r.failure.as_ref().unwrap();
            assert!(!f.pos_text.is_empty());
            if body.contains("requestId") || body.contains("traceId") {
                assert!(f.pos_text.contains("(requestId "), "{}", f.pos_text);
                assert!(!r.pos_reference.is_empty());
            }
            if body.contains("[0].paidAt") {
                assert!(f.pos_text.contains("[0].paidAt"), "{}", f.pos_text);
            }
            if status == 404 {
                assert!(f.not_found);
            }
        }
    }
}

#[tokio::test]
async fn a_401_on_pay_refreshes_the_token_once_and_pays_once() {
    let pays = Arc::new(AtomicUsize::new(0));
    let p = pays.clone();
    let stub = stub_with(move |_| {
        if p.fetch_add(1, Ordering::SeqCst) == 0 {
            Canned::json("").status(401)
        } else {
            Canned::json(r#"{"result": {}}"#)
        }
    });
    let mut c = adapter(&stub).await;
    let r = c.pay(DL, "102", "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(stub.count("PUT", "/pay"), 2);
    assert_eq!(stub.tokens(), 2);

    // Refused again with a fresh token: a clear failure, and no loop.
    let stub = stub_with(|_| Canned::json("").status(401));
    let mut c = adapter(&stub).await;
    let r = c.pay(DL, "102", "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    let f = r.failure.unwrap();
    assert_eq!(f.pos_code, "HTTP/401");
    assert!(
        f.pos_text.contains("freshly issued token"),
        "{}",
        f.pos_text
    );
    assert_eq!(stub.count("PUT", "/pay"), 2);
    assert_eq!(stub.tokens(), 2);
}

#[tokio::test]
async fn token_endpoint_failures() {
    for (status, body, want, code) in [
        (500, "oops", Outcome::NotApplied, "auth/HTTP/500"),
        (
            200,
            r#"{"token_type":"Bearer"}"#,
            Outcome::NotApplied,
            "auth/no_token",
        ),
        (
            400,
            r#"{"error":"invalid_scope"}"#,
            Outcome::Rejected,
            "auth/invalid_scope",
        ),
        (401, "", Outcome::Rejected, "auth/refused"),
    ] {
        let stub = Stub::new(move |s| {
            if is_token(s) {
                Canned::json(body).status(status)
            } else {
                Canned::json(r#"{"result": {}}"#)
            }
        });
        let mut c = adapter(&stub).await;
        let r = c.pay(DL, "102", "978.00").await;
        assert_eq!(outcome(r.outcome), want, "{status} {body}: {r:?}");
        assert_eq!(r.failure.unwrap().pos_code, code);
        assert_eq!(stub.count("PUT", "/pay"), 0);
    }
    // No expires_in: a default lifetime; the token still works and is cached.
    let stub = Stub::new(|s| {
        if is_token(s) {
            Canned::json(r#"{"access_token":"t"}"#)
        } else {
            order_978(4)
        }
    });
    let mut c = adapter(&stub).await;
    c.bill(DL, "102").await;
    c.bill(DL, "102").await;
    assert_eq!(stub.tokens(), 1);
}

#[tokio::test]
async fn order_answer_variants() {
    let body: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let b = body.clone();
    let stub = Stub::new(move |s| {
        if is_token(s) {
            token_answer("t", 3600)
        } else {
            let body = b.lock().unwrap().clone();
            if body.starts_with('<') {
                Canned::html(200, body)
            } else {
                Canned::json(body)
            }
        }
    });
    let mut c = adapter(&stub).await;
    let set = |s: &str| *body.lock().unwrap() = s.to_string();
    // No `result` wrapper, ids and money as strings, no dishes, a paid amount shown.
    set(r#"{"orderId": 102, "orderStatusId": "5", "amount": "978.00", "paidAmount": "478.00"}"#);
    let b = c.bill(DL, "102").await;
    assert_eq!(
        (b.total.as_str(), b.paid.as_str(), b.amount_due.as_str()),
        ("978.00", "478.00", "500.00")
    );
    assert_eq!(b.status, BillStatus::Open as i32);
    assert_eq!(b.pos_status, "status 5");
    assert!(b.guests[0].dishes.is_empty());
    // More precise money than the currency is shown as it is, never rounded away.
    set(r#"{"result": {"orderId": "102", "orderStatusId": 4, "amount": 978.005}}"#);
    assert_eq!(c.bill(DL, "102").await.total, "978.005");
    // No amount: a passing failure (posgate retries), not a made-up total.
    set(r#"{"result": {"orderId": "102", "orderStatusId": 4}}"#);
    let f = c.bill_failure(DL, "102").await;
    assert_eq!(f.pos_code, "delivery/no_amount");
    assert!(f.transient);
    // Not an order at all.
    set("<html>maintenance</html>");
    let f = c.bill_failure(DL, "102").await;
    assert_eq!(f.pos_code, "delivery/unreadable_order");
    assert!(f.transient);
}

#[tokio::test]
async fn complete_variants() {
    // "Request timed out" on /complete: unknown (posgate retries the close on its own).
    let stub = stub_with(|_| {
        Canned::json(r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"Request timed out"}"#).status(500)
    });
    let mut c = adapter(&stub).await;
    let cl = c.close(DL, "102").await;
    assert_eq!(outcome(cl.outcome), Outcome::Unknown, "{cl:?}");

    // FINAL 11 because someone else completed it meanwhile: a success.
    let gets = Arc::new(AtomicUsize::new(0));
    let g = gets.clone();
    let stub = Stub::new(move |s| {
        if is_token(s) {
            token_answer("t", 3600)
        } else if s.method.as_str() == "GET" {
            if g.fetch_add(1, Ordering::SeqCst) == 0 {
                order_978(4)
            } else {
                order_978(11)
            }
        } else {
            Canned::json(r#"{"code":"ERR_INVALID_ORDER_STATUS","msg":"Order have FINAL 11 status","requestId":"x"}"#)
                .status(400)
        }
    });
    let mut c = adapter(&stub).await;
    let cl = c.close(DL, "102").await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert_eq!(gets.load(Ordering::SeqCst), 2);

    // Cancelled: refused without calling /complete.
    let stub = Stub::new(|s| {
        if is_token(s) {
            token_answer("t", 3600)
        } else {
            order_978(12)
        }
    });
    let mut c = adapter(&stub).await;
    let cl = c.close(DL, "102").await;
    assert_eq!(outcome(cl.outcome), Outcome::Rejected, "{cl:?}");
    assert_eq!(substate(&cl.failure), Substate::OtherError);
    assert_eq!(stub.count("PUT", "/complete"), 0);
}

#[tokio::test]
async fn a_pay_answer_that_never_comes_is_unknown_and_sent_once() {
    let stub = stub_with(|_| Canned::json(r#"{"result": {}}"#).delay(Duration::from_secs(5)));
    let mut c = adapter(&stub).await;
    let started = std::time::Instant::now();
    let r = c.pay(DL, "102", "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "transport/timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(stub.count("PUT", "/pay"), 1);
}

#[tokio::test]
async fn list_bills_query_shapes_and_unsupported_search() {
    let stub = Stub::new(|s| {
        if is_token(s) {
            token_answer("t", 3600)
        } else if s.method.as_str() == "GET" && s.path.ends_with("/orders/api/v1/orders") {
            // Plain array; rows without amounts; one of another restaurant; one not open.
            Canned::json(
                r#"{"result": [
                    {"orderId": "102"},
                    {"orderId": "103", "restaurantId": "other", "orderStatusId": 4, "amount": 1},
                    {"orderId": "104", "orderStatusId": 2, "amount": 5},
                    {"orderId": "105", "restaurantId": "R-1", "orderStatusId": 6, "amount": "10.00", "tableCode": "5"}
                ]}"#,
            )
        } else {
            order_978(4)
        }
    });
    let addr = stub.spawn().await;
    let r = restaurant(&format!("http://{addr}"), CLIENT, SECRET).set("restaurant_guid", "r-1");
    let mut c = start_adapter(r).await;
    let l = c.list(DL, "").await;
    assert!(l.failure.is_none(), "{l:?}");
    let ids: Vec<&str> = l.bills.iter().map(|b| b.bill_id.as_str()).collect();
    assert_eq!(ids, vec!["102", "105"]);
    assert_eq!(l.bills[0].total, "978.00", "read by its id");
    assert_eq!(stub.count("GET", "/orders/102"), 1);
    let q = stub
        .seen()
        .into_iter()
        .find(|s| s.is("GET", "/orders/api/v1/orders"))
        .and_then(|s| s.query)
        .expect("a query");
    for part in [
        "includeStatusIds=4",
        "includeStatusIds=10",
        "includeStatusIds=13",
        "sortOrder=desc",
        "restaurantId=r-1",
    ] {
        assert!(q.split('&').any(|p| p == part), "{part} in {q}");
    }
    assert!(!q.contains("includeStatusIds=11") && !q.contains("includeStatusIds=3"));
    assert!(q.contains("fromDate=") && q.contains("%2B03%3A00"), "{q}");
    let l = c.list(DL, "5").await;
    let ids: Vec<&str> = l.bills.iter().map(|b| b.bill_id.as_str()).collect();
    assert_eq!(ids, vec!["102", "105"]);
    let l = c.list(DL, "6").await;
    assert!(l.bills.is_empty());

    // No search on this installation.
    let stub = Stub::new(|s| {
        if is_token(s) {
            token_answer("t", 3600)
        } else {
            Canned::html(404, "")
        }
    });
    let mut c = adapter(&stub).await;
    let l = c.list(DL, "").await;
    assert!(l.bills.is_empty());
    let f = l.failure.unwrap();
    assert_eq!(f.pos_code, "delivery/search_unsupported");
    assert!(!f.transient);

    // Turned off.
    let addr = stub.spawn().await;
    let r = restaurant(&format!("http://{addr}"), CLIENT, SECRET).set("list_bills", "false");
    let mut c = start_adapter(r).await;
    let l = c.list(DL, "").await;
    assert_eq!(l.failure.unwrap().pos_code, "delivery/list_disabled");
}

// ------------------------------------------------------------------------------------------
// Deciding an unknown outcome against answers worded unlike the simulator's.
// ------------------------------------------------------------------------------------------

/// The order as read before posting (open, nothing paid).
fn before_978() -> Bill {
    Bill {
        total: "978.00".into(),
        paid: "0.00".into(),
        amount_due: "978.00".into(),
        status: BillStatus::Open as i32,
        pos_status: "Передан на кухню".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn check_asks_complete_when_the_order_does_not_tell() {
    type Case = (u16, &'static str, Outcome, bool);
    let cases: Vec<Case> = vec![
        // Completed: the money is there.
        (200, r#"{"result": {}}"#, Outcome::Applied, true),
        (204, "", Outcome::Applied, true),
        // «Not fully paid», worded otherwise: English, Ukrainian, another code, no r_keeper
        // prefix, HTTP 400/409/500.
        (
            500,
            r#"{"code":"ERR_CLOSE_ORDER","message":"Order 102 cannot be closed because it has not been paid","traceId":"t-1"}"#,
            Outcome::NotApplied,
            false,
        ),
        (
            400,
            r#"{"code":"ERR_EXTERNAL_ERROR_WS","msg":"WS Error: Error Code: WsaOrderError. RkInternal: Каса [3071] Неможливо закрити замовлення 1.102, воно не повністю сплачене"}"#,
            Outcome::NotApplied,
            false,
        ),
        (
            409,
            r#"{"code":"rk7_close_order","msg":"RkInternal: Замовлення 1.102 ще не сплачено"}"#,
            Outcome::NotApplied,
            false,
        ),
        (
            500,
            r#"{"code":"rk7_close_order","msg":"RkInternal: Ошибка 1.102"}"#,
            Outcome::NotApplied,
            false,
        ),
        // Anything else does not tell: a proxy's HTML page, a gateway timeout, a lock named
        // in Ukrainian, a printer, a 429.
        (
            502,
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
            Outcome::Unknown,
            false,
        ),
        (
            504,
            r#"{"code":"ERR_GATEWAY","msg":"Превышено время ожидания ответа от ресторана"}"#,
            Outcome::Unknown,
            false,
        ),
        (
            500,
            r#"{"code":"rk7_close_order","msg":"RkInternal: Замовлення 1.102 заблоковане на станції [7]"}"#,
            Outcome::Unknown,
            false,
        ),
        (
            400,
            r#"{"code":"rk7_close_order","msg":"RkInternal: Printer is not available"}"#,
            Outcome::Unknown,
            false,
        ),
        (429, "", Outcome::Unknown, false),
    ];
    let current: Arc<Mutex<(u16, String)>> = Arc::new(Mutex::new((200, String::new())));
    let cur = current.clone();
    let stub = stub_with(move |_| {
        let (status, body) = cur.lock().unwrap().clone();
        if body.starts_with('<') {
            Canned::html(status, body)
        } else {
            Canned::json(body).status(status)
        }
    });
    let mut c = adapter(&stub).await;
    for (i, (status, body, want, closed)) in cases.into_iter().enumerate() {
        *current.lock().unwrap() = (status, body.to_string());
        let ck = check_closing(&mut c, "102", "978.00", Some(before_978())).await;
        assert_eq!(outcome(ck.outcome), want, "{status} {body}: {ck:?}");
        assert_eq!(ck.bill_closed, closed, "{status} {body}: {ck:?}");
        assert_eq!(
            stub.count("PUT", "/complete"),
            i + 1,
            "asked once per check"
        );
        if want != Outcome::Applied {
            let f = ck.failure.expect("the /complete answer is kept");
            assert!(!f.pos_text.is_empty());
            assert!(ck.evidence.contains("/complete"), "{}", ck.evidence);
        }
    }
    // A payment that did not ask to close: /complete is never called.
    let asked = stub.count("PUT", "/complete");
    let ck = check(&mut c, "102", "978.00", "", Some(before_978())).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert!(ck.evidence.contains("no paid state"), "{}", ck.evidence);
    assert_eq!(stub.count("PUT", "/complete"), asked);
    assert_eq!(stub.count("PUT", "/pay"), 0, "CheckPayment never posts");
}

#[tokio::test]
async fn check_complete_refused_because_completed_meanwhile_is_applied() {
    let gets = Arc::new(AtomicUsize::new(0));
    let g = gets.clone();
    let stub = Stub::new(move |s| {
        if is_token(s) {
            token_answer("t", 3600)
        } else if s.method.as_str() == "GET" {
            if g.fetch_add(1, Ordering::SeqCst) == 0 {
                order_978(4)
            } else {
                order_978(11)
            }
        } else {
            Canned::json(
                r#"{"code":"ERR_INVALID_ORDER_STATUS","msg":"Order have FINAL 11 status"}"#,
            )
            .status(400)
        }
    });
    let mut c = adapter(&stub).await;
    let ck = check_closing(&mut c, "102", "978.00", Some(before_978())).await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(ck.bill_closed);
    assert_eq!(stub.count("PUT", "/complete"), 1);
}

#[tokio::test]
async fn check_reads_paid_and_closed_indicators_however_they_are_named() {
    type Case = (&'static str, Outcome, bool);
    let cases: Vec<Case> = vec![
        // Paid, in other words: the close step follows as usual.
        (
            r#"{"orderId": "102", "orderStatusId": 5, "amount": 978.00, "paymentStatus": "PAID"}"#,
            Outcome::Applied,
            false,
        ),
        (
            r#"{"orderId": "102", "orderStatusId": 5, "amount": "978.00", "paidSum": "978.00"}"#,
            Outcome::Applied,
            false,
        ),
        (
            r#"{"orderId": "102", "orderStatusId": 5, "amount": 978, "isPayed": "true"}"#,
            Outcome::Applied,
            false,
        ),
        (
            r#"{"result": {"orderId": "102", "orderStatusId": 5, "amount": 978, "amountDue": 0}}"#,
            Outcome::Applied,
            false,
        ),
        // Not paid, in other words.
        (
            r#"{"orderId": "102", "orderStatusId": 5, "amount": 978, "paymentStatus": "Не оплачено"}"#,
            Outcome::NotApplied,
            false,
        ),
        (
            r#"{"orderId": "102", "orderStatusId": 5, "amount": 978, "leftToPay": "978.00"}"#,
            Outcome::NotApplied,
            false,
        ),
        // Closed, in other words: completed since the read before posting.
        (
            r#"{"orderId": "102", "status": "Completed", "amount": 978}"#,
            Outcome::Applied,
            true,
        ),
        (
            r#"{"orderId": "102", "isClosed": true, "amount": 978}"#,
            Outcome::Applied,
            true,
        ),
        (
            r#"{"orderId": "102", "status": {"id": 11, "name": "Виконано"}, "amount": 978}"#,
            Outcome::Applied,
            true,
        ),
        (
            r#"{"orderId": "102", "state": "Закрыт", "closedAt": "2024-05-01T10:00:00+03:00", "amount": 978}"#,
            Outcome::Applied,
            true,
        ),
    ];
    let body: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let b = body.clone();
    let stub = Stub::new(move |s| {
        if is_token(s) {
            token_answer("t", 3600)
        } else if s.method.as_str() == "GET" {
            Canned::json(b.lock().unwrap().clone())
        } else {
            Canned::json(r#"{"result": {}}"#)
        }
    });
    let mut c = adapter(&stub).await;
    for (order, want, closed) in cases {
        *body.lock().unwrap() = order.to_string();
        let ck = check_closing(&mut c, "102", "978.00", Some(before_978())).await;
        assert_eq!(outcome(ck.outcome), want, "{order}: {ck:?}");
        assert_eq!(ck.bill_closed, closed, "{order}: {ck:?}");
    }
    let writes = stub
        .seen()
        .iter()
        .filter(|s| s.method.as_str() == "PUT")
        .count();
    assert_eq!(writes, 0, "the order tells: nothing is written");
}

// ------------------------------------------------------------------------------------------
// Redirects (issue 9 item 6): never followed; neither the token nor the secret leaves.
// ------------------------------------------------------------------------------------------

/// An r_k Delivery at another host that would accept anything (and issue tokens).
async fn elsewhere() -> (Stub, String) {
    let other = Stub::new(|s| {
        if is_token(s) {
            token_answer("tok-elsewhere", 3600)
        } else {
            Canned::json(r#"{"result": {}}"#)
        }
    });
    let addr = other.spawn().await;
    (other, format!("http://{addr}"))
}

fn assert_redirect_refusal(f: Option<PosFailure>, status: u16, location: &str, what: &str) {
    let f = f.unwrap_or_else(|| panic!("{what}: a failure"));
    assert_eq!(f.substate, Substate::OtherError as i32, "{what}: {f:?}");
    assert!(
        f.pos_code.ends_with(&format!("HTTP/{status}")),
        "{what}: {f:?}"
    );
    assert!(f.pos_text.contains(location), "{what}: {f:?}");
    assert!(!f.transient, "{what}: {f:?}");
}

#[tokio::test]
async fn a_redirected_pay_is_refused_and_nothing_follows_it() {
    for status in [307, 302] {
        let (other, base) = elsewhere().await;
        let location = format!("{base}/orders/api/v1/orders/102/pay");
        let loc = location.clone();
        let stub = stub_with(move |s| {
            if s.is("PUT", "/pay") {
                Canned::redirect(status, loc.clone())
            } else {
                Canned::json(r#"{"result": {}}"#)
            }
        });
        let mut c = adapter(&stub).await;
        let r = c.pay(DL, "102", "978.00").await;
        let what = format!("/pay {status}");
        assert_eq!(outcome(r.outcome), Outcome::Rejected, "{what}: {r:?}");
        assert!(!r.bill_closed);
        assert_redirect_refusal(r.failure, status, &location, &what);
        assert_eq!(stub.count("PUT", "/pay"), 1, "{what}: exactly one /pay");
        assert_eq!(stub.count("PUT", "/complete"), 0, "{what}");
        assert!(
            other.seen().is_empty(),
            "{what}: nothing reached the other host"
        );
    }
}

#[tokio::test]
async fn a_redirected_complete_is_refused_and_nothing_follows_it() {
    for status in [307, 302] {
        let (other, base) = elsewhere().await;
        let location = format!("{base}/orders/api/v1/orders/102/complete");
        let loc = location.clone();
        let stub = stub_with(move |s| {
            if s.is("PUT", "/complete") {
                Canned::redirect(status, loc.clone())
            } else {
                Canned::json(r#"{"result": {}}"#)
            }
        });
        let mut c = adapter(&stub).await;
        let r = c.close(DL, "102").await;
        let what = format!("/complete {status}");
        assert_eq!(outcome(r.outcome), Outcome::Rejected, "{what}: {r:?}");
        assert_redirect_refusal(r.failure, status, &location, &what);
        assert_eq!(
            stub.count("PUT", "/complete"),
            1,
            "{what}: exactly one /complete"
        );
        assert!(
            other.seen().is_empty(),
            "{what}: nothing reached the other host"
        );
    }
}

#[tokio::test]
async fn a_redirected_token_request_is_refused_and_the_secret_stays() {
    for status in [307, 302] {
        let (other, base) = elsewhere().await;
        let location = format!("{base}/connect/token");
        let loc = location.clone();
        let stub = Stub::new(move |s| {
            if is_token(s) {
                Canned::redirect(status, loc.clone())
            } else {
                Canned::json(r#"{"result": {}}"#)
            }
        });
        let mut c = adapter(&stub).await;
        let r = c.pay(DL, "102", "978.00").await;
        let what = format!("token {status}");
        assert_eq!(outcome(r.outcome), Outcome::Rejected, "{what}: {r:?}");
        let f = r.failure.clone().unwrap();
        assert!(f.pos_code.starts_with("auth/"), "{what}: {f:?}");
        assert_redirect_refusal(r.failure, status, &location, &what);
        assert_eq!(stub.tokens(), 1, "{what}: exactly one token request");
        assert_eq!(
            stub.count("PUT", "/pay"),
            0,
            "{what}: no /pay without a token"
        );
        assert!(other.seen().is_empty(), "{what}: the secret never left");
    }
}
