//! posgate end to end over r_keeper WSA: payment service → WSA adapter → WSA simulator, each on
//! its own loopback port, real gRPC and HTTP. The simulator's ledger is the ground truth for
//! "posted exactly once".

use std::time::Duration;

use futures::future::join_all;
use posgate_proto::v1::{self as pb, PaymentState as S, Substate as Sub};
use posgate_sim::wsa::{
    DEMO_OBJECT_ID, DEMO_ORDER_978, DEMO_ORDER_1450_50, DEMO_ORDER_2300, DEMO_ORDER_ZERO,
    DEMO_TIPS_CURRENCY_GUID, DEMO_V1_OBJECT_ID, DEMO_V1_ORDER_1000, Fault, FaultKind, status,
};
use posgate_tests::{LENIENT_OBJECT_ID, Options, Stack, pay, state, substate};
use rust_decimal::Decimal;
use tokio_stream::StreamExt;
use tonic::Code;

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_and_closes_a_bill_exactly_once() {
    let s = Stack::start().await;
    let p = s
        .client()
        .pay_bill(pay("k-978", "demo", DEMO_ORDER_978, "978.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert!(p.r#final);
    assert_eq!(p.amount, "978.00");
    assert!(!p.pos_reference.is_empty(), "the WSA taskGuid is kept");
    assert_eq!(s.postings(DEMO_ORDER_978), 1);
    assert_eq!(s.posted_total(DEMO_ORDER_978), dec("978.00"));
    let order = s.sim.order(DEMO_OBJECT_ID, DEMO_ORDER_978).unwrap();
    assert_eq!(order.status, status::COMPLITED);

    // The same key again: the same payment, nothing posted.
    let again = s
        .client()
        .pay_bill(pay("k-978", "demo", DEMO_ORDER_978, "978"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.payment_id, p.payment_id);
    assert_eq!(state(&again), S::Closed);
    assert_eq!(s.postings(DEMO_ORDER_978), 1);

    // The same key with another amount is refused, naming the field.
    let err = s
        .client()
        .pay_bill(pay("k-978", "demo", DEMO_ORDER_978, "979.00"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().starts_with("amount"), "{}", err.message());
    let err = s
        .client()
        .pay_bill(pay("k-978", "demo", DEMO_ORDER_2300, "978.00"))
        .await
        .unwrap_err();
    assert!(err.message().starts_with("bill_id"), "{}", err.message());

    // A second key for the closed bill is not posted: the bill is closed in the POS.
    let second = s
        .client()
        .pay_bill(pay("k-978-b", "demo", DEMO_ORDER_978, "978.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&second), S::NeedsAttention, "{second:?}");
    assert_eq!(substate(&second), Sub::OtherError);
    assert_eq!(s.postings(DEMO_ORDER_978), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_pays_with_one_key_post_once() {
    let s = Stack::start().await;
    // Slow answers widen the window in which duplicates arrive while the first is posting.
    s.sim
        .inject(Fault::new(FaultKind::Slow { delay_ms: 400 }).times(1));
    let calls = (0..50).map(|_| {
        let mut c = s.client();
        async move {
            c.pay_bill(pay("same-key", "demo", DEMO_ORDER_1450_50, "1450.50"))
                .await
        }
    });
    let results = join_all(calls).await;
    let mut ids = std::collections::HashSet::new();
    for r in results {
        let p = r.expect("every duplicate gets the payment").into_inner();
        ids.insert(p.payment_id);
    }
    assert_eq!(ids.len(), 1, "one payment for one key");
    let id = ids.into_iter().next().unwrap();
    let p = s.wait_until(&id, 10, |p| p.r#final).await;
    assert_eq!(state(&p), S::Closed);
    assert_eq!(s.sim.requests("PayOrder"), 1, "PayOrder sent once");
    assert_eq!(s.postings(DEMO_ORDER_1450_50), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_payments_with_different_keys_never_overpay() {
    let s = Stack::start_with(Options {
        retry_max_attempts: 2,
        ..Options::default()
    })
    .await;
    // This POS would accept overpayment; posgate's own bill lock must prevent it.
    let bill = s.add_order(LENIENT_OBJECT_ID, "1000.00");
    let calls = (0..10).map(|i| {
        let mut c = s.client();
        let bill = bill.clone();
        async move {
            let mut req = pay(&format!("split-{i}"), "lenient", &bill, "300.00");
            req.close = false;
            c.pay_bill(req).await.unwrap().into_inner()
        }
    });
    let payments = join_all(calls).await;
    let mut paid = 0;
    for p in &payments {
        let p = s.wait_until(&p.payment_id, 20, |p| p.r#final).await;
        match state(&p) {
            S::Paid | S::Closed => paid += 1,
            S::NeedsAttention => assert_eq!(substate(&p), Sub::WrongRequestSum, "{p:?}"),
            other => panic!("unexpected {other:?}: {p:?}"),
        }
    }
    assert_eq!(paid, 3, "three 300s fit into 1000");
    assert_eq!(s.posted_total(&bill), dec("900.00"));
    assert!(s.posted_total(&bill) <= dec("1000.00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_invalid_argument_naming_the_field_and_stores_nothing() {
    let s = Stack::start().await;
    let cases = [
        (pay("", "demo", DEMO_ORDER_978, "978.00"), "idempotency_key"),
        (
            pay("k", "nowhere", DEMO_ORDER_978, "978.00"),
            "restaurant_id",
        ),
        (pay("k", "demo", "", "978.00"), "bill_id"),
        (pay("k", "demo", DEMO_ORDER_978, "978,00"), "amount"),
        (pay("k", "demo", DEMO_ORDER_978, "1e3"), "amount"),
        (pay("k", "demo", DEMO_ORDER_978, "-978.00"), "amount"),
        (pay("k", "demo", DEMO_ORDER_978, "978.001"), "amount"),
        (pay("k", "demo", DEMO_ORDER_978, "NaN"), "amount"),
        (
            pb::PayBillRequest {
                tips: "-5".into(),
                ..pay("k", "demo", DEMO_ORDER_978, "978.00")
            },
            "tips",
        ),
        (
            pb::PayBillRequest {
                tenders: vec![pb::Tender {
                    tender_id: String::new(),
                    amount: "100.00".into(),
                    card_code: String::new(),
                }],
                ..pay("k", "demo", DEMO_ORDER_978, "978.00")
            },
            "tenders",
        ),
    ];
    for (req, field) in cases {
        let err = s.client().pay_bill(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().starts_with(field),
            "{field}: {}",
            err.message()
        );
    }
    let list = s
        .client()
        .list_payments(pb::ListPaymentsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(list.payments.is_empty(), "nothing stored for bad input");
    assert_eq!(s.sim.requests("PayOrder"), 0);
    let err = s
        .client()
        .get_payment(pb::GetPaymentRequest {
            payment_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_retriable_pos_fault_is_retried_until_the_bill_closes() {
    let s = Stack::start().await;
    let cases = [
        (FaultKind::BillLocked, Sub::BillInUse),
        (FaultKind::ShiftClosed, Sub::CashiersShiftClosed),
        (FaultKind::PrinterError, Sub::PrinterError),
        (FaultKind::CloseBlocked, Sub::CloseOrderBlocked),
    ];
    for (i, (fault, expected)) in cases.into_iter().enumerate() {
        let bill = s.add_order(DEMO_OBJECT_ID, "500.00");
        s.sim
            .inject(Fault::new(fault.clone()).for_order(bill.clone()).times(2));
        let p = s
            .client()
            .pay_bill(pay(&format!("retry-{i}"), "demo", &bill, "500.00"))
            .await
            .unwrap()
            .into_inner();
        // PayBill answers as soon as the POS has had its say: retrying, with the reason.
        assert_eq!(state(&p), S::Retrying, "{fault:?}: {p:?}");
        assert_eq!(substate(&p), expected, "{fault:?}: {p:?}");
        assert!(!p.pos_text.is_empty(), "raw POS text kept");
        assert!(!p.recommendation.is_empty());
        assert!(!p.next_attempt_at.is_empty());
        let p = s.wait_until(&p.payment_id, 15, |p| p.r#final).await;
        assert_eq!(state(&p), S::Closed, "{fault:?}: {p:?}");
        assert_eq!(p.attempts, 3);
        assert_eq!(s.postings(&bill), 1, "{fault:?}: posted once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_error_and_exhausted_retries_need_attention() {
    let s = Stack::start_with(Options {
        retry_max_attempts: 3,
        ..Options::default()
    })
    .await;
    // Unknown order: OTHER_ERROR, not retried.
    let p = s
        .client()
        .pay_bill(pay(
            "unknown-order",
            "demo",
            "00000000-0000-0000-0000-000000000000",
            "10.00",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), S::NeedsAttention, "{p:?}");
    assert_eq!(substate(&p), Sub::OtherError);
    assert_eq!(p.attempts, 1);
    assert!(p.r#final);
    // Staff are told what happened, not sent to the vendor.
    assert!(
        p.recommendation.contains("does not know this bill"),
        "{}",
        p.recommendation
    );
    assert_eq!(p.pos_code, "posgate:bill_unknown", "{p:?}");

    // A bill closed by someone else before the payment came: said so.
    let bill = s.add_order(DEMO_OBJECT_ID, "15.00");
    s.sim
        .update_order(DEMO_OBJECT_ID, &bill, |o| o.status = "Complited".into())
        .unwrap();
    let p = s
        .client()
        .pay_bill(pay("closed-elsewhere", "demo", &bill, "15.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), S::NeedsAttention, "{p:?}");
    assert!(
        p.recommendation.contains("already closed"),
        "{}",
        p.recommendation
    );
    assert!(!p.recommendation.contains("vendor"), "{}", p.recommendation);
    assert_eq!(s.postings(&bill), 0);

    // A shift that never opens: retried, then handed to a person.
    let bill = s.add_order(DEMO_OBJECT_ID, "42.00");
    s.sim
        .inject(Fault::new(FaultKind::ShiftClosed).for_order(bill.clone()));
    let p = s
        .client()
        .pay_bill(pay("never-open", "demo", &bill, "42.00"))
        .await
        .unwrap()
        .into_inner();
    let p = s.wait_until(&p.payment_id, 15, |p| p.r#final).await;
    assert_eq!(state(&p), S::NeedsAttention, "{p:?}");
    assert_eq!(substate(&p), Sub::CashiersShiftClosed);
    assert_eq!(p.attempts, 3);
    assert_eq!(s.postings(&bill), 0);

    // A wrong sum on an exact-amount POS is WRONG_REQUEST_SUM and nothing is posted.
    let bill = s.add_order(DEMO_OBJECT_ID, "100.00");
    let p = s
        .client()
        .pay_bill(pay("wrong-sum", "demo", &bill, "99.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(substate(&p), Sub::WrongRequestSum, "{p:?}");
    assert_eq!(s.postings(&bill), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answer_is_outcome_unknown_then_reconciled_without_reposting() {
    let s = Stack::start_with(Options {
        task_timeout_s: 1,
        pay_wait_ms: 300,
        ..Options::default()
    })
    .await;
    let bill = s.add_order(DEMO_OBJECT_ID, "250.00");
    s.sim.inject(
        Fault::new(FaultKind::AnswerLost)
            .for_order(bill.clone())
            .times(1),
    );
    let p = s
        .client()
        .pay_bill(pay("lost", "demo", &bill, "250.00"))
        .await
        .unwrap()
        .into_inner();
    assert!(!p.r#final, "{p:?}");
    let mut watch = s.watch(&p.payment_id).await;
    let mut seen = Vec::new();
    while let Some(u) = tokio::time::timeout(Duration::from_secs(20), watch.next())
        .await
        .expect("watch ends in time")
    {
        seen.push(state(&u.unwrap()));
    }
    assert!(seen.contains(&S::OutcomeUnknown), "{seen:?}");
    assert_eq!(seen.last(), Some(&S::Closed), "{seen:?}");
    assert_eq!(s.postings(&bill), 1, "applied once, never re-posted");
    assert_eq!(s.sim.requests("PayOrder"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_timeout_is_reconciled_as_not_applied_and_posted_again() {
    let s = Stack::start_with(Options {
        task_timeout_s: 1,
        pay_wait_ms: 300,
        ..Options::default()
    })
    .await;
    let bill = s.add_order(DEMO_OBJECT_ID, "75.50");
    s.sim.inject(
        Fault::new(FaultKind::AgentTimeout)
            .for_order(bill.clone())
            .times(1),
    );
    let p = s
        .client()
        .pay_bill(pay("offline", "demo", &bill, "75.50"))
        .await
        .unwrap()
        .into_inner();
    let unknown = s
        .wait_until(&p.payment_id, 10, |p| {
            state(p) == S::OutcomeUnknown || p.r#final
        })
        .await;
    assert_eq!(state(&unknown), S::OutcomeUnknown, "{unknown:?}");
    assert!(!unknown.recommendation.is_empty());
    let p = s.wait_until(&p.payment_id, 20, |p| p.r#final).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(s.postings(&bill), 1);
    assert_eq!(
        s.sim.requests("PayOrder"),
        2,
        "posted again only after reading the bill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_survive_a_restart_of_the_payment_service() {
    let mut s = Stack::start().await;
    let bill = s.add_order(DEMO_OBJECT_ID, "310.00");
    s.sim
        .inject(Fault::new(FaultKind::ShiftClosed).for_order(bill.clone()));
    let p = s
        .client()
        .pay_bill(pay("restart", "demo", &bill, "310.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), S::Retrying);
    s.stop_payments().await;
    // The shift opens while posgate is down.
    s.sim.clear_faults();
    s.start_payments().await;
    let p = s.wait_until(&p.payment_id, 15, |p| p.r#final).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(s.postings(&bill), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_pos_answers_with_the_in_progress_payment_and_watch_follows_it() {
    let s = Stack::start_with(Options {
        pay_wait_ms: 200,
        task_timeout_s: 5,
        ..Options::default()
    })
    .await;
    s.sim.inject(
        Fault::new(FaultKind::Slow { delay_ms: 1500 })
            .for_order(DEMO_ORDER_2300)
            .times(1),
    );
    let p = s
        .client()
        .pay_bill(pay("slow", "demo", DEMO_ORDER_2300, "2300.00"))
        .await
        .unwrap()
        .into_inner();
    // In progress: still reading the bill (accepted) or already sending (posting).
    assert!(matches!(state(&p), S::Accepted | S::Posting), "{p:?}");
    assert!(!p.r#final, "{p:?}");
    let mut watch = s.watch(&p.payment_id).await;
    let mut last = None;
    while let Some(u) = watch.next().await {
        last = Some(u.unwrap());
    }
    let last = last.unwrap();
    assert_eq!(state(&last), S::Closed);
    assert!(last.r#final);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_prepayments_then_close_and_zero_for_a_fully_discounted_bill() {
    let s = Stack::start().await;
    let mut first = pay("v1-a", "demo-v1", DEMO_V1_ORDER_1000, "400.00");
    first.close = false;
    let a = s.client().pay_bill(first).await.unwrap().into_inner();
    assert_eq!(state(&a), S::Paid, "{a:?}");
    assert!(a.r#final);
    let bill = s
        .client()
        .get_bill(pb::GetBillRequest {
            restaurant_id: "demo-v1".into(),
            bill_id: DEMO_V1_ORDER_1000.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let Some(pb::get_bill_response::Result::Bill(bill)) = bill.result else {
        panic!("no bill: {bill:?}")
    };
    assert_eq!(dec(&bill.amount_due), dec("600.00"));
    // More than is due is refused before it reaches the POS.
    let over = s
        .client()
        .pay_bill(pay("v1-over", "demo-v1", DEMO_V1_ORDER_1000, "600.01"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(substate(&over), Sub::WrongRequestSum, "{over:?}");
    let b = s
        .client()
        .pay_bill(pay("v1-b", "demo-v1", DEMO_V1_ORDER_1000, "600.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&b), S::Closed, "{b:?}");
    assert_eq!(s.posted_total(DEMO_V1_ORDER_1000), dec("1000.00"));
    let order = s.sim.order(DEMO_V1_OBJECT_ID, DEMO_V1_ORDER_1000).unwrap();
    assert_eq!(order.status, status::COMPLITED);

    let z = s
        .client()
        .pay_bill(pay("zero", "demo", DEMO_ORDER_ZERO, "0"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&z), S::Closed, "{z:?}");
    assert_eq!(z.amount, "0.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tips_are_booked_as_a_separate_tender_and_sync_mode_works() {
    let s = Stack::start().await;
    let mut req = pay("tips", "demo-sync", DEMO_ORDER_978, "978.00");
    req.tips = "50.00".into();
    req.fiscal_data
        .insert("email".into(), "guest@example.com".into());
    let p = s.client().pay_bill(req).await.unwrap().into_inner();
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(p.tips, "50.00");
    assert_eq!(
        p.fiscal_data.get("email").map(String::as_str),
        Some("guest@example.com")
    );
    let ledger = s.sim.ledger();
    let tips: Vec<_> = ledger
        .iter()
        .filter(|l| l.currency == DEMO_TIPS_CURRENCY_GUID)
        .collect();
    assert_eq!(tips.len(), 1);
    assert_eq!(tips[0].amount, dec("50.00"));
    assert_eq!(s.posted_total(DEMO_ORDER_978), dec("1028.00"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_by_state_and_pages() {
    let s = Stack::start().await;
    for i in 0..5 {
        let bill = s.add_order(DEMO_OBJECT_ID, "10.00");
        s.client()
            .pay_bill(pay(&format!("list-{i}"), "demo", &bill, "10.00"))
            .await
            .unwrap();
    }
    s.client()
        .pay_bill(pay(
            "list-bad",
            "demo",
            "00000000-0000-0000-0000-000000000001",
            "10.00",
        ))
        .await
        .unwrap();
    let mut c = s.client();
    let page1 = c
        .list_payments(pb::ListPaymentsRequest {
            states: vec![S::Closed as i32],
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page1.payments.len(), 3);
    assert!(!page1.next_page_token.is_empty());
    let page2 = c
        .list_payments(pb::ListPaymentsRequest {
            states: vec![S::Closed as i32],
            page_size: 3,
            page_token: page1.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.payments.len(), 2);
    assert!(page2.next_page_token.is_empty());
    let attention = c
        .list_payments(pb::ListPaymentsRequest {
            states: vec![S::NeedsAttention as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(attention.payments.len(), 1);
    assert_eq!(attention.payments[0].idempotency_key, "list-bad");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bills_are_read_from_the_pos_by_id_and_by_table() {
    let s = Stack::start().await;
    let mut c = s.client();
    let r = c
        .list_bills(pb::ListBillsRequest {
            restaurant_id: "demo".into(),
            table: "12".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.failure.is_none(), "{r:?}");
    assert_eq!(r.bills.len(), 1, "{r:?}");
    let b = &r.bills[0];
    assert_eq!(b.bill_id, DEMO_ORDER_978);
    assert_eq!(dec(&b.total), dec("978.00"));
    assert_eq!(dec(&b.amount_due), dec("978.00"));
    assert_eq!(b.table, "12");
    assert_eq!(b.guests.len(), 2);
    assert_eq!(b.guests[0].dishes.len(), 2);
    assert_eq!(b.status, pb::BillStatus::Open as i32);
    let empty = c
        .list_bills(pb::ListBillsRequest {
            restaurant_id: "demo".into(),
            table: "999".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(empty.bills.is_empty());
    let err = c
        .get_bill(pb::GetBillRequest {
            restaurant_id: "nowhere".into(),
            bill_id: DEMO_ORDER_978.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_never_exceeds_the_per_restaurant_limit_on_the_pos() {
    let s = Stack::start_with(Options {
        max_in_flight_per_restaurant: 2,
        task_timeout_s: 5,
        ..Options::default()
    })
    .await;
    // Every call to the POS is slow, so a burst would pile up on it without the limit.
    s.sim.inject(Fault::new(FaultKind::Slow { delay_ms: 150 }));
    s.sim
        .inject(Fault::new(FaultKind::Slow { delay_ms: 150 }).for_task("GetOrder"));
    let bills: Vec<String> = (0..12)
        .map(|_| s.add_order(DEMO_OBJECT_ID, "20.00"))
        .collect();
    let calls = bills.iter().enumerate().map(|(i, bill)| {
        let mut c = s.client();
        let req = pay(&format!("burst-{i}"), "demo-sync", bill, "20.00");
        async move { c.pay_bill(req).await.unwrap().into_inner() }
    });
    let payments = join_all(calls).await;
    for p in &payments {
        let p = s.wait_until(&p.payment_id, 30, |p| p.r#final).await;
        assert_eq!(state(&p), S::Closed, "{p:?}");
    }
    let max = s.sim.max_in_flight(DEMO_OBJECT_ID);
    assert!(max <= 2, "the POS saw {max} calls at once");
    assert_eq!(max, 2, "the limit is used, not just respected");
    for bill in &bills {
        assert_eq!(s.postings(bill), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpc_server_requires_a_service_token() {
    use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
    let s = Stack::start().await;
    let req = || pay("auth", "demo", DEMO_ORDER_978, "978.00");
    for token in ["", "wrong-token"] {
        let err = posgate_tests::client_for(s.payments_addr, token)
            .pay_bill(req())
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "payment service, token {token:?}"
        );
    }
    // The adapter refuses callers without the payment service's token, too.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", s.adapter_addr))
        .unwrap()
        .connect_lazy();
    let describe = pb::DescribeRequest {
        connection: Some(s.connection("demo")),
        restaurant_id: "demo".into(),
    };
    let err = PosAdapterClient::new(channel.clone())
        .describe(describe.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    // The scheme is case-insensitive, as HTTP says.
    let lower = tonic::metadata::MetadataValue::try_from(format!(
        "bearer {}",
        posgate_tests::PAYMENTS_TOKEN
    ))
    .unwrap();
    let ok =
        PosAdapterClient::with_interceptor(channel.clone(), move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", lower.clone());
            Ok(r)
        })
        .describe(describe.clone())
        .await;
    assert!(ok.is_ok(), "{ok:?}");
    let ok = PosAdapterClient::with_interceptor(
        channel,
        posgate_grpc::CallerToken::bearer(posgate_tests::PAYMENTS_TOKEN),
    )
    .describe(describe)
    .await;
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(s.postings(DEMO_ORDER_978), 0, "nothing reached the POS");
    // The right token works end to end.
    let p = s.client().pay_bill(req()).await.unwrap().into_inner();
    assert_eq!(state(&p), S::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_payment_service_may_call_an_adapter_and_only_callers_may_pay() {
    use posgate_grpc::CallerToken;
    use posgate_proto::v1::pos_adapter_client::PosAdapterClient;
    use posgate_tests::{CLI_TOKEN, EXPIRENZA_TOKEN, PAYMENTS_TOKEN};
    let s = Stack::start().await;
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", s.adapter_addr))
        .unwrap()
        .connect_lazy();
    let adapter = |token: &str| {
        PosAdapterClient::with_interceptor(channel.clone(), CallerToken::bearer(token))
    };
    let post = || pb::PostPaymentRequest {
        connection: Some(s.connection("demo")),
        restaurant_id: "demo".into(),
        bill_id: DEMO_ORDER_978.into(),
        payment_id: "p-direct".into(),
        amount: "978.00".into(),
        ..Default::default()
    };
    // Every adapter method, for every caller but the payment service.
    for (who, token) in [("cli", CLI_TOKEN), ("expirenza", EXPIRENZA_TOKEN)] {
        let mut a = adapter(token);
        let refusals = [
            a.describe(pb::DescribeRequest {
                connection: Some(s.connection("demo")),
                restaurant_id: "demo".into(),
            })
            .await
            .map(drop),
            a.get_bill(pb::AdapterGetBillRequest {
                connection: Some(s.connection("demo")),
                restaurant_id: "demo".into(),
                bill_id: DEMO_ORDER_978.into(),
            })
            .await
            .map(drop),
            a.list_bills(pb::AdapterListBillsRequest {
                connection: Some(s.connection("demo")),
                restaurant_id: "demo".into(),
                table: String::new(),
            })
            .await
            .map(drop),
            a.post_payment(post()).await.map(drop),
            a.close_bill(pb::AdapterCloseBillRequest {
                connection: Some(s.connection("demo")),
                restaurant_id: "demo".into(),
                bill_id: DEMO_ORDER_978.into(),
                payment_id: "p-direct".into(),
            })
            .await
            .map(drop),
            a.check_payment(pb::CheckPaymentRequest {
                connection: Some(s.connection("demo")),
                restaurant_id: "demo".into(),
                bill_id: DEMO_ORDER_978.into(),
                payment_id: "p-direct".into(),
                amount: "978.00".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        ];
        for (i, r) in refusals.into_iter().enumerate() {
            let err = r.expect_err("refused");
            assert_eq!(
                err.code(),
                Code::PermissionDenied,
                "{who} method #{i}: {err:?}"
            );
            assert!(err.message().contains(who), "{}", err.message());
            assert!(
                err.message().contains("posgate.v1.PosAdapter/"),
                "{}",
                err.message()
            );
        }
    }
    assert_eq!(s.postings(DEMO_ORDER_978), 0, "nothing reached the POS");
    for task in ["GetOrder", "GetOrderList", "PayOrder", "GetTaskResponse"] {
        assert_eq!(s.sim.requests(task), 0, "no {task} reached the POS");
    }
    // The payment service is allowed, and posts through the adapter...
    assert!(
        adapter(PAYMENTS_TOKEN)
            .describe(pb::DescribeRequest {
                connection: Some(s.connection("demo")),
                restaurant_id: "demo".into()
            })
            .await
            .is_ok()
    );
    // ...but may not take payments itself.
    let err = posgate_tests::client_for(s.payments_addr, PAYMENTS_TOKEN)
        .pay_bill(pay("perm-p", "demo", DEMO_ORDER_978, "978.00"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // Every allowed caller of the payment service still pays.
    let bills = [
        s.add_order(DEMO_OBJECT_ID, "10.00"),
        s.add_order(DEMO_OBJECT_ID, "20.00"),
    ];
    for ((who, token), (bill, amount)) in [("cli", CLI_TOKEN), ("expirenza", EXPIRENZA_TOKEN)]
        .into_iter()
        .zip(bills.iter().zip(["10.00", "20.00"]))
    {
        let p = posgate_tests::client_for(s.payments_addr, token)
            .pay_bill(pay(&format!("perm-{who}"), "demo", bill, amount))
            .await
            .unwrap()
            .into_inner();
        let p = s.wait_until(&p.payment_id, 30, |p| p.r#final).await;
        assert_eq!(state(&p), S::Closed, "{who}: {p:?}");
        assert_eq!(s.postings(bill), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_is_refused_clearly_and_the_service_stays_up() {
    let s = Stack::start().await;
    let mut huge = pay("huge", "demo", DEMO_ORDER_978, "978.00");
    huge.fiscal_data
        .insert("blob".into(), "x".repeat(2 * 1024 * 1024));
    let err = s.client().pay_bill(huge).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{err:?}"
    );
    assert_eq!(s.postings(DEMO_ORDER_978), 0);
    let p = s
        .client()
        .pay_bill(pay("after-huge", "demo", DEMO_ORDER_978, "978.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), S::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pos_call_longer_than_the_lease_keeps_its_worker() {
    // Lease 600 ms, POS 2.5 s: without renewal the second replica would take the payment over
    // mid-call and reconcile it.
    let mut s = Stack::start_with(Options {
        lease_ms: 600,
        ..Options::default()
    })
    .await;
    let _replica = s.add_payments_replica().await;
    let slow = FaultKind::Slow { delay_ms: 2_500 };
    let (bill, p) = pay_with_next_pay_order(&s, slow, "long-call", "demo-sync", "30.00").await;
    let p = s.wait_until(&p.payment_id, 20, |p| p.r#final).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(s.postings(&bill), 1);
    let history = s.history(&p.payment_id).await;
    assert!(
        !history.iter().any(|n| n.contains("lost worker")),
        "taken over mid-call: {history:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_payment_is_taken_over_in_seconds() {
    let (mut s, replica) = two_replicas().await;
    // The agent sits on the first PayOrder (2 s, then Timeout, nothing applied): the worker
    // is killed in the middle of that call.
    let timeout = FaultKind::AgentTimeout;
    let (bill, p) = pay_with_next_pay_order(&s, timeout, "dead-worker", "demo-sync", "31.00").await;
    // Whichever replica took it, kill the first; if the replica holds it, this is the easy
    // case and it still must finish.
    s.kill_payments().await;
    let started = std::time::Instant::now();
    s.client = replica;
    let p = s.wait_until(&p.payment_id, 30, |p| p.r#final).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(s.postings(&bill), 1, "posted once");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "took {:?}",
        started.elapsed()
    );
}

/// A replica killed while it follows a WSA task (the posting was answered PENDING; the payment
/// saved the task's reference and looks at it): the replica that takes the payment over
/// reconciles that task from the saved reference, and nothing is posted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_while_it_follows_a_task_is_taken_over_and_posts_once() {
    let (mut s, replica) = two_replicas().await;
    // The agent works 1.5 s on the PayOrder ("demo" is in async mode): long past the
    // adapter's short wait, so the posting is answered PENDING and followed.
    let slow = FaultKind::Slow { delay_ms: 1_500 };
    let (bill, p) = pay_with_next_pay_order(&s, slow, "followed-task", "demo", "31.00").await;
    let following = s
        .wait_until(&p.payment_id, 10, |p| !p.pos_reference.is_empty())
        .await;
    assert_eq!(state(&following), S::Posting, "{following:?}");
    // Whichever replica follows it, kill the first; if the other one does, this is the easy
    // case and it still must finish.
    s.kill_payments().await;
    s.client = replica;
    let p = s.wait_until(&p.payment_id, 30, |p| p.r#final).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(
        p.pos_reference, following.pos_reference,
        "the task followed is the one that booked it"
    );
    assert_eq!(s.postings(&bill), 1, "posted once");
}

/// A stack with a 1 s lease and PayBill waiting 300 ms, and a second payment replica (its
/// client).
async fn two_replicas() -> (Stack, posgate_tests::Client) {
    let mut s = Stack::start_with(Options {
        lease_ms: 1_000,
        pay_wait_ms: 300,
        ..Options::default()
    })
    .await;
    let replica = s.add_payments_replica().await;
    (s, replica)
}

/// Opens a bill of `amount` at the demo object, arms `fault` on the next PayOrder and pays the
/// bill at `restaurant` under `key`: the bill and the payment as PayBill answered it.
async fn pay_with_next_pay_order(
    s: &Stack,
    fault: FaultKind,
    key: &str,
    restaurant: &str,
    amount: &str,
) -> (String, pb::Payment) {
    let bill = s.add_order(DEMO_OBJECT_ID, amount);
    s.sim
        .inject(Fault::new(fault).for_task("PayOrder").times(1));
    let p = s
        .client()
        .pay_bill(pay(key, restaurant, &bill, amount))
        .await
        .unwrap()
        .into_inner();
    (bill, p)
}
