//! The adapter over real gRPC against a canned White Server that answers like independent
//! WSA implementations: other wording, codes as numbers, money as strings, missing fields,
//! proxies with HTML errors, answers that never come.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::stub::{Canned, Stub, Tasks};
use common::*;
use posgate_proto::v1::*;
use posgate_wsa::{AgentVersion, TaskMode};

const ORDER: &str = "{6F1C2A3B-0000-4000-8000-00000000ABCD}";

fn ack(task: &str) -> Canned {
    Canned::json(format!(
        r#"{{"responseCommon": {{"taskGuid": "guid-{task}", "taskType": "{task}", "objectId": 4242}}}}"#
    ))
}

fn pay_ok() -> Canned {
    Canned::json(
        r#"{"responseCommon": {"taskGuid": "guid-PayOrder", "taskType": "PayOrder", "objectId": "4242"},
            "taskResponse": {"order": {"status": {"value": "Complited", "isBillPrinted": false},
                                       "price": {"total": "978.00", "summToPay": "0.00"}}}}"#,
    )
}

#[tokio::test]
async fn request_shape_token_and_exact_amount() {
    let stub = Stub::on_json(|req| match req["taskType"].as_str() {
        Some("PayOrder") => ack("PayOrder"),
        Some("GetTaskResponse") => pay_ok(),
        _ => Canned::json(r#"{"error": {"wsError": {"code": "BadRequest"}}}"#),
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
    let mut req = pay_req(V2, ORDER, "978.00");
    req.tenders = vec![Tender {
        tender_id: String::new(),
        amount: "978.00".into(),
        card_code: "CARD-4111".into(),
    }];
    let r = c.post_payment(req).await.unwrap().into_inner();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    assert_eq!(r.pos_reference, "guid-PayOrder");

    let pay = &stub.seen_of("PayOrder")[0];
    assert_eq!(pay.headers["aggregatorauthentication"], STUB_TOKEN);
    assert_eq!(
        pay.headers["content-type"],
        "application/json; charset=utf-8"
    );
    assert!(pay.raw.contains(r#""amount":978.00"#), "{}", pay.raw);
    let p = &pay.json["params"];
    assert_eq!(p["async"]["objectId"], 4242);
    assert_eq!(p["async"]["timeout"], 1);
    assert!(p.get("sync").is_none());
    assert_eq!(p["orderGuid"], ORDER);
    assert_eq!(
        p["payments"][0]["currency"],
        posgate_sim::wsa::DEMO_CURRENCY_GUID
    );
    assert_eq!(p["payments"][0]["cardCode"], "CARD-4111");
    assert_eq!(p["payments"].as_array().unwrap().len(), 1);
    assert_eq!(p["isFullOrderRequired"], true);
    assert_eq!(p["cashStationId"], 3);
    let poll = &stub.seen_of("GetTaskResponse")[0];
    assert_eq!(poll.json["params"]["taskGuid"], "guid-PayOrder");
    assert_eq!(poll.json["params"]["sync"]["objectId"], 4242);
}

#[tokio::test]
async fn awaiting_answer_until_the_deadline_is_unknown() {
    let stub = Stub::on_json(|req| match req["taskType"].as_str() {
        Some("PayOrder") => ack("PayOrder"),
        _ => Canned::json(
            r#"{"responseCommon": {"taskGuid": "other"}, "error": {"wsError": {"code": "AwaitingAnswer", "desc": "Task is running"}}}"#,
        ),
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(r.pos_reference, "guid-PayOrder");
    assert_eq!(r.failure.unwrap().pos_code, "AwaitingAnswer");
    assert!(stub.seen_of("GetTaskResponse").len() > 3, "it kept polling");
    assert_eq!(stub.seen_of("PayOrder").len(), 1, "never posts twice");
}

#[tokio::test]
async fn polls_survive_transient_poll_failures() {
    let polls = Arc::new(Mutex::new(0));
    let p = polls.clone();
    let stub = Stub::on_json(move |req| match req["taskType"].as_str() {
        Some("PayOrder") => ack("PayOrder"),
        _ => {
            let mut n = p.lock().unwrap();
            *n += 1;
            match *n {
                1 => Canned::json("<html>bad gateway</html>").status(502),
                2 => Canned::json(r#"{"error": {"wsError": {"code": "TaskLimitExceeded"}}}"#),
                3 => Canned::json(r#"{"error": {"wsError": {"code": "NotFound"}}}"#),
                _ => pay_ok(),
            }
        }
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(*polls.lock().unwrap(), 4);
}

#[tokio::test]
async fn english_wording_and_numeric_agent_codes() {
    let stub = Stub::on_json(|_| {
        Canned::json(
            r#"{"responseCommon": {"taskGuid": "g1"},
                "error": {"wsError": {"code": "AgentError", "desc": "Agent error"},
                          "agentError": {"code": 3, "desc": "Order is opened on station 2"}}}"#,
        )
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::BillInUse);
    let f = r.failure.unwrap();
    assert_eq!(f.pos_code, "AgentError/3");
    assert_eq!(f.pos_text, "Order is opened on station 2");
    assert_eq!(r.pos_reference, "g1");
    let sync = &stub.seen_of("PayOrder")[0];
    assert_eq!(sync.json["params"]["sync"]["objectId"], 4242);
}

#[tokio::test]
async fn the_body_wins_over_the_http_status() {
    let stub = Stub::on_json(|_| {
        Canned::json(
            r#"{"error": {"wsError": {"code": "AgentError"},
                          "agentError": {"code": "WsaOrderError", "desc": "RkInternal: Смена закрыта"}}}"#,
        )
        .status(500)
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::CashiersShiftClosed);
}

#[tokio::test]
async fn an_html_502_after_sending_is_unknown() {
    let stub = Stub::on_json(|_| Canned::json("<html>502 Bad Gateway</html>").status(502));
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "HTTP/502");
}

#[tokio::test]
async fn a_sync_answer_that_never_comes_is_unknown() {
    let stub = Stub::on_json(|_| pay_ok().delay(Duration::from_secs(10)));
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "transport/timeout");
}

#[tokio::test]
async fn ws_timeout_is_unknown_with_its_text() {
    let stub = Stub::on_json(|_| {
        Canned::json(
            r#"{"responseCommon": {"taskGuid": "g7"}, "error": {"wsError": {"code": "Timeout", "desc": "Agent did not respond within 1 s"}}}"#,
        )
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let f = r.failure.unwrap();
    assert_eq!(f.pos_code, "Timeout");
    assert_eq!(f.pos_text, "Agent did not respond within 1 s");
    assert_eq!(r.pos_reference, "g7");
}

#[tokio::test]
async fn get_bill_falls_back_to_the_order_list_for_totals() {
    let stub = Stub::on_json(|req| match req["taskType"].as_str() {
        Some("GetOrder") => Canned::json(
            r#"{"responseCommon": {"taskGuid": "g"},
                "taskResponse": {"order": {"status": {"value": "Created"},
                    "products": [{"id": "1", "name": "Soup", "price": "100.25", "quantity": "1.5"}]}}}"#,
        ),
        Some("GetOrderList") => Canned::json(
            r#"{"responseCommon": {"taskGuid": "g2"},
                "taskResponse": {"orders": [
                    {"orderGuid": "{00000000-0000-0000-0000-000000000001}", "sum": 1, "unpaid": 1},
                    {"orderGuid": "6f1c2a3b-0000-4000-8000-00000000abcd", "sum": "150.50", "unpaid": 50.50,
                     "isFinished": false, "tableCode": 9, "waiterId": "w5"}]}}"#,
        ),
        _ => Canned::json(r#"{"error": {"wsError": {"code": "BadRequest"}}}"#),
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let b = c.bill(V2, ORDER).await;
    assert_eq!(b.total, "150.50");
    assert_eq!(b.amount_due, "50.50");
    assert_eq!(b.paid, "100.00");
    assert_eq!(b.table, "9");
    assert_eq!(b.waiter_id, "w5");
    assert_eq!(b.status, BillStatus::Open as i32);
    assert_eq!(b.guests.len(), 1);
    assert_eq!(b.guests[0].dishes[0].amount, "150.38");
    assert_eq!(b.guests[0].dishes[0].quantity, "1.5");
    let list = &stub.seen_of("GetOrderList")[0];
    assert_eq!(list.json["params"]["withClosed"], true);
}

#[tokio::test]
async fn check_payment_awaiting_answer_stays_unknown() {
    let stub = Stub::on_json(|_| {
        Canned::json(r#"{"error": {"wsError": {"code": "AwaitingAnswer", "desc": "running"}}}"#)
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let r = check(&mut c, V2, ORDER, "978.00", "guid-1", None).await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert!(r.evidence.contains("AwaitingAnswer"), "{}", r.evidence);
    assert!(stub.seen_of("PayOrder").is_empty());
}

#[tokio::test]
async fn close_on_v2_sends_complete_order() {
    let stub = Stub::on_json(|req| match req["taskType"].as_str() {
        Some("GetOrder") => Canned::json(
            r#"{"taskResponse": {"order": {"status": {"value": "Created"}, "price": {"total": 10, "summToPay": 0}}}}"#,
        ),
        Some("CompleteOrder") => Canned::json(
            r#"{"responseCommon": {"taskGuid": "g-close"}, "taskResponse": {"order": {"price": {"total": 10}}}}"#,
        ),
        _ => Canned::json(r#"{"error": {"wsError": {"code": "BadRequest"}}}"#),
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Sync, AgentVersion::V2).await;
    let r = c.close(V2, ORDER).await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(r.pos_reference, "g-close");
    let co = &stub.seen_of("CompleteOrder")[0];
    assert_eq!(co.json["params"]["orderGuid"], ORDER);
    assert_eq!(co.json["params"]["cashStationId"], 3);
}

/// Captures everything the adapter logs (at TRACE, all crates) during a payment with a card
/// code and checks that neither the token nor the card code appears.
#[test]
fn logs_never_show_the_token_or_card_code() {
    use std::io::Write;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stub = Stub::on_json(|req| match req["taskType"].as_str() {
            Some("PayOrder") => ack("PayOrder"),
            _ => pay_ok(),
        });
        let addr = stub.spawn().await;
        let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
        let mut req = pay_req(V2, ORDER, "978.00");
        req.tenders = vec![Tender {
            tender_id: String::new(),
            amount: "978.00".into(),
            card_code: "CARD-4111".into(),
        }];
        let r = c.post_payment(req).await.unwrap().into_inner();
        assert_eq!(outcome(r.outcome), Outcome::Applied);
    });
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("PayOrder"), "{logs}");
    assert!(logs.contains("guid-PayOrder"), "{logs}");
    assert!(!logs.contains(STUB_TOKEN), "token leaked");
    assert!(!logs.contains("CARD-4111"), "card code leaked");
}

// ------------------------------------------------------------------------------------------
// Redirects (issue 9 item 6): never followed; the token never leaves for another host.
// ------------------------------------------------------------------------------------------

/// A White Server at another host that would book anything it receives.
async fn elsewhere() -> (Stub, String) {
    let other = Stub::on_json(|_| pay_ok());
    let addr = other.spawn().await;
    (
        other,
        format!("http://{addr}/wsserverlp/api/v2/aggregators/Create"),
    )
}

#[tokio::test]
async fn a_redirected_pay_order_is_refused_and_nothing_follows_it() {
    for mode in [TaskMode::Sync, TaskMode::Async] {
        for status in [307, 302] {
            let (other, location) = elsewhere().await;
            let loc = location.clone();
            let first = Stub::on_json(move |_| Canned::redirect(status, loc.clone()));
            let addr = first.spawn().await;
            let mut c = adapter_for(addr, mode, AgentVersion::V2).await;
            let r = c.pay(V2, ORDER, "978.00").await;
            let what = format!("{mode:?} {status}: {r:?}");
            assert_eq!(outcome(r.outcome), Outcome::Rejected, "{what}");
            assert_eq!(substate(&r.failure), Substate::OtherError, "{what}");
            let f = r.failure.unwrap();
            assert_eq!(f.pos_code, format!("HTTP/{status}"), "{what}");
            assert!(f.pos_text.contains(&location), "{what}");
            assert!(!f.transient, "{what}");
            assert_eq!(first.seen().len(), 1, "{what}: exactly one request");
            assert!(
                other.seen().is_empty(),
                "{what}: nothing reached the other host"
            );
        }
    }
}

#[tokio::test]
async fn a_redirected_poll_leaves_the_task_unknown_without_following() {
    let (other, location) = elsewhere().await;
    let loc = location.clone();
    let first = Stub::on_json(move |req| match req["taskType"].as_str() {
        Some("PayOrder") => ack("PayOrder"),
        _ => Canned::redirect(307, loc.clone()),
    });
    let addr = first.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let f = r.failure.unwrap();
    assert!(f.pos_text.contains("cannot be read"), "{f:?}");
    assert!(f.pos_text.contains(&location), "{f:?}");
    assert_eq!(first.seen_of("PayOrder").len(), 1);
    assert_eq!(
        first.seen_of("GetTaskResponse").len(),
        1,
        "no polling into a redirect"
    );
    assert!(other.seen().is_empty());
}

// ------------------------------------------------------------------------------------------
// The stored answer of our own task (issue 9 item 2).
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_licence_error_stored_for_our_task_is_rejected_on_the_first_poll() {
    let stub = Stub::on_json(|req| match req["taskType"].as_str() {
        Some("PayOrder") => ack("PayOrder"),
        // Our task, its type, a numeric objectId, a Russian text, another extCode.
        _ => Canned::json(
            r#"{"responseCommon": {"taskGuid": "GUID-PAYORDER", "taskType": "payorder", "objectId": 4242},
                "error": {"wsError": {"code": "License", "extCode": "WsProduct",
                                      "desc": "Нет лицензии WsProduct для объекта 4242"}}}"#,
        ),
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
    let r = c.pay(V2, ORDER, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    let f = r.failure.unwrap();
    assert_eq!(f.pos_code, "License/WsProduct");
    assert_eq!(f.pos_text, "Нет лицензии WsProduct для объекта 4242");
    assert_eq!(r.pos_reference, "guid-PayOrder");
    assert_eq!(stub.seen_of("PayOrder").len(), 1);
    assert_eq!(
        stub.seen_of("GetTaskResponse").len(),
        1,
        "decided on the first poll"
    );
}

#[tokio::test]
async fn answers_not_about_our_task_or_unreadable_stay_unknown() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "another task's licence error",
            r#"{"responseCommon": {"taskGuid": "guid-someone-else", "taskType": "PayOrder"},
                "error": {"wsError": {"code": "License", "desc": "no licence"}}}"#,
            "not this one: no licence",
        ),
        (
            "another task's success",
            r#"{"responseCommon": {"taskGuid": "guid-someone-else", "taskType": "PayOrder"},
                "taskResponse": {"order": {"status": {"value": "Complited"}}}}"#,
            "about task guid-someone-else (PayOrder)",
        ),
        (
            "the poll's own refusal",
            r#"{"responseCommon": {"taskGuid": "guid-poll-9", "taskType": "GetTaskResponse"},
                "error": {"wsError": {"code": "AuthFailed", "desc": "token rejected"}}}"#,
            "cannot be read: the answer is about task guid-poll-9 (GetTaskResponse), not this one: token rejected",
        ),
        (
            "our guid under another task type",
            r#"{"responseCommon": {"taskGuid": "guid-PayOrder", "taskType": "GetTaskResponse"},
                "error": {"wsError": {"code": "BadRequest", "desc": "bad poll"}}}"#,
            "bad poll",
        ),
        (
            "an unparsable answer",
            "<html>Service Unavailable</html>",
            "Service Unavailable",
        ),
    ];
    for &(what, body, said) in cases {
        let stub = Stub::on_json(move |req| match req["taskType"].as_str() {
            Some("PayOrder") => ack("PayOrder"),
            _ => Canned::json(body),
        });
        let addr = stub.spawn().await;
        let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
        let r = c.pay(V2, ORDER, "978.00").await;
        assert_eq!(outcome(r.outcome), Outcome::Unknown, "{what}: {r:?}");
        assert_eq!(r.pos_reference, "guid-PayOrder", "{what}");
        let f = r.failure.unwrap();
        assert!(f.pos_text.contains(said), "{what}: {f:?}");
        assert_eq!(
            stub.seen_of("PayOrder").len(),
            1,
            "{what}: never posts twice"
        );
    }
}

#[tokio::test]
async fn in_async_mode_reads_are_made_in_sync_mode() {
    // A read is safe to repeat: one sync call instead of a submit and polls.
    let stub = Stub::on_json(|req| match req["taskType"].as_str() {
        Some("GetOrder") => Canned::json(
            r#"{"responseCommon": {"taskGuid": "guid-GetOrder", "taskType": "GetOrder", "objectId": 4242},
                "taskResponse": {"order": {"status": {"value": "Opened", "isBillPrinted": false},
                                           "price": {"total": "978.00", "summToPay": "978.00"}}}}"#,
        ),
        _ => Canned::json(r#"{"error": {"wsError": {"code": "BadRequest"}}}"#),
    });
    let addr = stub.spawn().await;
    let mut c = adapter_for(addr, TaskMode::Async, AgentVersion::V2).await;
    let bill = c.bill_of(get_bill_req(V2, ORDER)).await;
    assert_eq!(bill.amount_due, "978.00", "{bill:?}");
    let reads = stub.seen_of("GetOrder");
    assert_eq!(reads.len(), 1);
    let p = &reads[0].json["params"];
    assert!(p["sync"].is_object() && p["async"].is_null(), "{p}");
    assert!(stub.seen_of("GetTaskResponse").is_empty());
}
