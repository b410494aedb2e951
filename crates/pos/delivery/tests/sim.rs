//! The adapter over real gRPC against the r_k Delivery simulator over real HTTP.

mod common;

use std::time::Duration;

use common::*;
use posgate_proto::v1::*;
use posgate_sim::delivery::{
    self as sim, DeliverySim, Fault, FaultKind, Lang, SimClient, SimOrder, SimRestaurant, endpoint,
    status,
};

#[tokio::test]
async fn describe_says_separate_close_step_and_exact() {
    let (_sim, mut c) = start().await;
    let d = c.describe_of(DL).await;
    assert_eq!(d.pos_kind, "r_keeper_delivery");
    assert!(d.separate_close_step);
    assert_eq!(d.amount_rule, AmountRule::Exact as i32);
    assert!(!d.supports_tips && !d.supports_points && !d.cannot_read_bills);
    assert_eq!(d.currency_scale, 2);
    // Its own request timeout (800 ms in the tests) plus the default margin.
    assert_eq!(
        d.reconcile_settle_ms,
        800 + posgate_delivery::settings::DEFAULT_SETTLE_MARGIN_MS
    );
}

#[tokio::test]
async fn get_bill_of_the_demo_orders() {
    let (_sim, mut c) = start().await;
    let b = c.bill(DL, sim::DEMO_ORDER_1290).await;
    assert_eq!(b.total, "1290.00");
    assert_eq!(b.amount_due, "1290.00");
    assert_eq!(b.paid, "0.00");
    assert_eq!(b.status, BillStatus::Open as i32);
    assert_eq!(b.pos_status, "Передан на кухню");
    assert_eq!((b.restaurant_id.as_str(), b.bill_id.as_str()), (DL, "1002"));
    assert_eq!(b.order_number, "1002");
    assert_eq!(b.table, "12");
    assert_eq!(b.currency, sim::DEMO_CURRENCY_GUID);
    assert_eq!(b.guests.len(), 1);
    let dishes = &b.guests[0].dishes;
    assert_eq!(dishes.len(), 2);
    assert_eq!(
        (
            dishes[1].price.as_str(),
            dishes[1].quantity.as_str(),
            dishes[1].amount.as_str()
        ),
        ("100.00", "2", "200.00")
    );
    for not_ready in [sim::DEMO_ORDER_NEW, sim::DEMO_ORDER_WAITING] {
        let b = c.bill(DL, not_ready).await;
        assert_eq!(b.status, BillStatus::NotReady as i32, "{b:?}");
        assert_eq!(b.pos_status, "Новый");
    }
    let z = c.bill(DL, sim::DEMO_ORDER_ZERO).await;
    assert_eq!((z.total.as_str(), z.amount_due.as_str()), ("0.00", "0.00"));
    let f = c.bill_failure(DL, "999999").await;
    assert!(f.not_found && !f.transient, "{f:?}");
    assert_eq!(f.substate, Substate::OtherError as i32);
    assert_eq!(f.pos_code, "ERR_NOT_FOUND");
    assert!(f.pos_text.contains("requestId 0H"), "{}", f.pos_text);
}

#[tokio::test]
async fn pays_then_completes_exactly_once() {
    let (sim, mut c) = start().await;
    let o = sim::DEMO_ORDER_1290;
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(!r.bill_closed, "paying does not close a Delivery order");
    assert!(r.failure.is_none());
    assert!(r.pos_reference.starts_with("0H"), "{r:?}");
    assert_eq!(r.details.get("requestId"), Some(&r.pos_reference));
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].amount, dec("1290.00"));
    assert_eq!(ledger[0].request_id, r.pos_reference);
    let line = &ledger[0].lines[0];
    assert_eq!(line.code, sim::DEMO_CURRENCY_GUID);
    assert!(line.paid_at.ends_with("+03:00"), "{}", line.paid_at);
    // The simulator shows the paid state: nothing is due any more.
    let b = c.bill(DL, o).await;
    assert_eq!(
        (b.paid.as_str(), b.amount_due.as_str()),
        ("1290.00", "0.00")
    );
    assert_eq!(b.status, BillStatus::Open as i32);

    let cl = c.close(DL, o).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert!(!cl.pos_reference.is_empty());
    assert_eq!(sim.order(o).unwrap().status_id, status::COMPLETED);
    let b = c.bill(DL, o).await;
    assert_eq!(b.status, BillStatus::Closed as i32);
    // Closing again is a success and writes nothing.
    let cl = c.close(DL, o).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert_eq!((sim.pays(o), sim.completes(o)), (1, 1));
    assert_eq!(sim.requests(endpoint::COMPLETE), 1);
    // Paying a completed order is refused without calling /pay.
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    assert_eq!(sim.requests(endpoint::PAY), 1);
}

#[tokio::test]
async fn zero_order_is_paid_with_zero_and_completed() {
    let (sim, mut c) = start().await;
    let r = c.pay(DL, sim::DEMO_ORDER_ZERO, "0.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let cl = c.close(DL, sim::DEMO_ORDER_ZERO).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert_eq!(sim.ledger()[0].amount, dec("0"));
}

#[tokio::test]
async fn complete_before_pay_is_close_order_blocked() {
    let (sim, mut c) = start().await;
    let cl = c.close(DL, sim::DEMO_ORDER_1290).await;
    assert_eq!(outcome(cl.outcome), Outcome::Rejected, "{cl:?}");
    assert_eq!(substate(&cl.failure), Substate::CloseOrderBlocked);
    let f = cl.failure.unwrap();
    assert_eq!(f.pos_code, "rk7_close_order");
    assert!(f.pos_text.starts_with("RkInternal: "), "{}", f.pos_text);
    assert!(f.pos_text.contains("requestId"), "{}", f.pos_text);
    assert!(!cl.pos_reference.is_empty(), "the requestId is kept");
    assert!(sim.ledger().is_empty());
}

async fn fault_gives(lang: Lang, kind: FaultKind, want: Substate) {
    let (sim, mut c) = start().await;
    sim.add_restaurant(
        SimRestaurant::new(sim::DEMO_RESTAURANT_ID, sim::DEMO_CURRENCY_GUID).with_language(lang),
    );
    let o = sim::DEMO_ORDER_1290;
    let close_fault = kind == FaultKind::CloseBlocked;
    if close_fault {
        let r = c.pay(DL, o, "1290.00").await;
        assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    }
    sim.inject(Fault::new(kind.clone()).times(1));
    let (got, failure) = if close_fault {
        let r = c.close(DL, o).await;
        (outcome(r.outcome), r.failure)
    } else {
        let r = c.pay(DL, o, "1290.00").await;
        (outcome(r.outcome), r.failure)
    };
    assert_eq!(got, Outcome::Rejected, "{kind:?} {lang:?}: {failure:?}");
    assert_eq!(substate(&failure), want, "{kind:?} {lang:?}: {failure:?}");
    let f = failure.unwrap();
    assert_eq!(f.pos_code, "ERR_EXTERNAL_ERROR_WS");
    assert!(
        f.pos_text.starts_with("WS Error: Error Code: Wsa"),
        "{}",
        f.pos_text
    );
    assert!(!f.transient);
    // Used up: the same call now goes through, once.
    if close_fault {
        assert_eq!(outcome(c.close(DL, o).await.outcome), Outcome::Applied);
    } else {
        assert_eq!(sim.pays(o), 0);
        assert_eq!(
            outcome(c.pay(DL, o, "1290.00").await.outcome),
            Outcome::Applied
        );
    }
    assert_eq!(sim.pays(o), 1);
}

#[tokio::test]
async fn each_wrapped_rkeeper_fault_maps_to_its_substate() {
    for lang in [Lang::Ru, Lang::En] {
        fault_gives(lang, FaultKind::BillLocked, Substate::BillInUse).await;
        fault_gives(lang, FaultKind::ShiftClosed, Substate::CashiersShiftClosed).await;
        fault_gives(lang, FaultKind::PrinterError, Substate::PrinterError).await;
        fault_gives(lang, FaultKind::CloseBlocked, Substate::CloseOrderBlocked).await;
    }
}

#[tokio::test]
async fn wrong_sums_and_currencies() {
    let (sim, mut c) = start().await;
    for (amount, lang) in [("1000.00", Lang::Ru), ("1300.00", Lang::En)] {
        sim.add_restaurant(
            SimRestaurant::new(sim::DEMO_RESTAURANT_ID, sim::DEMO_CURRENCY_GUID)
                .with_language(lang),
        );
        let r = c.pay(DL, sim::DEMO_ORDER_1290, amount).await;
        assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
        assert_eq!(substate(&r.failure), Substate::WrongRequestSum, "{r:?}");
    }
    // A tender in a currency r_keeper does not know.
    let mut req = pay_req(DL, sim::DEMO_ORDER_1290, "1290.00");
    req.tenders = vec![Tender {
        tender_id: "00000000-0000-0000-0000-000000000000".into(),
        amount: "1290.00".into(),
        card_code: String::new(),
    }];
    let r = c.post_payment(req).await.unwrap().into_inner();
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    assert!(!r.failure.unwrap().not_found);
    // Two tenders: two lines.
    let mut req = pay_req(DL, sim::DEMO_ORDER_1290, "1290.00");
    req.tenders = vec![
        Tender {
            tender_id: String::new(),
            amount: "1000.00".into(),
            card_code: String::new(),
        },
        Tender {
            tender_id: sim::DEMO_CURRENCY_GUID.into(),
            amount: "290.00".into(),
            card_code: String::new(),
        },
    ];
    let r = c.post_payment(req).await.unwrap().into_inner();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger()[0].lines.len(), 2);
}

#[tokio::test]
async fn not_transferred_to_the_kitchen_is_not_applied_without_calling_pay() {
    let (sim, mut c) = start().await;
    let r = c.pay(DL, sim::DEMO_ORDER_WAITING, "540.00").await;
    assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{r:?}");
    let f = r.failure.unwrap();
    assert!(f.transient);
    assert_eq!(f.pos_code, "delivery/not_transferred");
    assert!(
        f.pos_text.contains("not yet transferred to the kitchen"),
        "{}",
        f.pos_text
    );
    assert!(f.pos_text.contains("\"Новый\" (1)"), "{}", f.pos_text);
    assert_eq!(sim.requests(endpoint::PAY), 0, "/pay was never called");
    // Once an operator (or auto-accept) moves it on, it is paid.
    let o = sim.add_order(SimOrder::new(status::CONFIRMED, dec("100.00")));
    let r = c.pay(DL, &o.order_id, "100.00").await;
    assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{r:?}");
    sim.set_status(&o.order_id, status::TRANSFERRED_TO_KITCHEN);
    let r = c.pay(DL, &o.order_id, "100.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.requests(endpoint::PAY), 1);
}

#[tokio::test]
async fn answer_lost_is_unknown_then_check_says_applied_and_nothing_is_paid_twice() {
    for kind in [
        FaultKind::AnswerLost,
        FaultKind::AnswerDelayed { delay_ms: 3_000 },
        FaultKind::TimedOutButApplied,
    ] {
        let (sim, mut c) = start().await;
        let o = sim::DEMO_ORDER_1290;
        let before = c.bill(DL, o).await;
        sim.inject(Fault::new(kind.clone()).times(1));
        let r = c.pay(DL, o, "1290.00").await;
        assert_eq!(outcome(r.outcome), Outcome::Unknown, "{kind:?}: {r:?}");
        assert!(r.failure.is_some());
        assert_eq!(sim.pays(o), 1, "the simulator applied it");
        let ck = check(&mut c, o, "1290.00", &r.pos_reference, Some(before.clone())).await;
        assert_eq!(outcome(ck.outcome), Outcome::Applied, "{kind:?}: {ck:?}");
        assert!(!ck.bill_closed);
        assert!(ck.evidence.contains("paid grew"), "{}", ck.evidence);
        assert_eq!(sim.requests(endpoint::PAY), 1, "CheckPayment never writes");
        // Then the close step finishes the job.
        assert_eq!(outcome(c.close(DL, o).await.outcome), Outcome::Applied);
        assert_eq!((sim.pays(o), sim.completes(o)), (1, 1));
    }
}

#[tokio::test]
async fn request_timed_out_is_unknown_then_check_says_not_applied() {
    let (sim, mut c) = start().await;
    let o = sim::DEMO_ORDER_1290;
    let before = c.bill(DL, o).await;
    sim.inject(Fault::new(FaultKind::RequestTimedOut).times(1));
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let f = r.failure.clone().unwrap();
    assert_eq!(f.pos_code, "ERR_EXTERNAL_ERROR_WS");
    assert!(
        f.pos_text.starts_with("Request timed out"),
        "{}",
        f.pos_text
    );
    assert!(!r.pos_reference.is_empty(), "the requestId is kept");
    let ck = check(&mut c, o, "1290.00", &r.pos_reference, Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::NotApplied, "{ck:?}");
    assert!(ck.evidence.contains(&r.pos_reference), "{}", ck.evidence);
    assert_eq!(sim.pays(o), 0);
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
}

#[tokio::test]
async fn without_a_paid_state_check_is_unknown_until_the_order_is_completed() {
    let sim = DeliverySim::with_demo_data();
    sim.add_restaurant(
        SimRestaurant::new(sim::DEMO_RESTAURANT_ID, sim::DEMO_CURRENCY_GUID)
            .with_expose_payments(false),
    );
    let (sim, mut c) = start_sim(sim).await;
    let o = sim::DEMO_ORDER_1290;
    let before = c.bill(DL, o).await;
    sim.inject(Fault::new(FaultKind::AnswerLost).times(1));
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let ck = check(&mut c, o, "1290.00", &r.pos_reference, Some(before.clone())).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert!(ck.evidence.contains("no paid state"), "{}", ck.evidence);
    // Someone completes it at the restaurant: only paid orders complete.
    sim.set_status(o, status::COMPLETED);
    let ck = check(&mut c, o, "1290.00", &r.pos_reference, Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(ck.bill_closed);
    assert_eq!(sim.requests(endpoint::PAY), 1);
}

#[tokio::test]
async fn token_is_cached_refreshed_before_expiry_and_after_a_401() {
    let sim = DeliverySim::with_demo_data();
    sim.add_client(
        SimClient::new(sim::DEMO_CLIENT_ID, sim::DEMO_CLIENT_SECRET).with_token_lifetime_s(1),
    );
    let (sim, mut c) = start_sim(sim).await;
    for _ in 0..3 {
        c.bill(DL, sim::DEMO_ORDER_1290).await;
    }
    assert_eq!(sim.tokens_issued(), 1, "cached");
    // Refreshed shortly before expires_in runs out, without a 401.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let gets = sim.requests(endpoint::GET_ORDER);
    c.bill(DL, sim::DEMO_ORDER_1290).await;
    assert_eq!(sim.tokens_issued(), 2);
    assert_eq!(
        sim.requests(endpoint::GET_ORDER),
        gets + 1,
        "no 401 on the way"
    );
    // Revoked on the server: 401, one refresh, the same call again — even a /pay.
    sim.expire_tokens();
    let r = c.pay(DL, sim::DEMO_ORDER_1290, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.tokens_issued(), 3);
    assert_eq!(
        sim.requests(endpoint::PAY),
        1,
        "the pre-read hit the 401, not /pay"
    );
    sim.expire_tokens();
    let cl = c.close(DL, sim::DEMO_ORDER_1290).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert_eq!(sim.tokens_issued(), 4);
    assert_eq!(
        (
            sim.pays(sim::DEMO_ORDER_1290),
            sim.completes(sim::DEMO_ORDER_1290)
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn bad_credentials_are_a_clear_failure() {
    let sim = DeliverySim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let mut c = start_adapter(restaurant(
        &format!("http://{addr}"),
        sim::DEMO_CLIENT_ID,
        "not-the-secret",
    ))
    .await;
    let f = c.bill_failure(DL, sim::DEMO_ORDER_1290).await;
    assert_eq!(f.pos_code, "auth/invalid_client");
    assert!(!f.transient, "a person must fix the credentials");
    assert_eq!(f.substate, Substate::OtherError as i32);
    assert!(
        f.pos_text.contains("client_id and client_secret"),
        "{}",
        f.pos_text
    );
    assert!(!f.pos_text.contains("not-the-secret"));
    let r = c.pay(DL, sim::DEMO_ORDER_1290, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(sim.requests(endpoint::PAY), 0);
    assert_eq!(sim.requests(endpoint::GET_ORDER), 0);
    assert_eq!(sim.tokens_issued(), 0);
}

#[tokio::test]
async fn passing_failures_are_not_applied_or_transient() {
    let (sim, mut c) = start().await;
    let o = sim::DEMO_ORDER_1290;
    sim.inject(Fault::new(FaultKind::RateLimited).times(1));
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{r:?}");
    // A 503 from a proxy in front of /pay: conservative, the outcome is unknown.
    sim.inject(Fault::new(FaultKind::Unavailable).times(1));
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    // Reads that fail for passing reasons are transient.
    sim.inject(
        Fault::new(FaultKind::Unavailable)
            .for_endpoint(endpoint::GET_ORDER)
            .times(1),
    );
    let f = c.bill_failure(DL, o).await;
    assert!(f.transient, "{f:?}");
    assert_eq!(f.pos_code, "HTTP/503");
    // The pre-read failing means /pay is never sent: not applied.
    sim.inject(
        Fault::new(FaultKind::InternalError)
            .for_endpoint(endpoint::GET_ORDER)
            .times(1),
    );
    let r = c.pay(DL, o, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{r:?}");
    assert_eq!(sim.requests(endpoint::PAY), 2);
    assert_eq!(sim.pays(o), 0);
}

#[tokio::test]
async fn unreachable_delivery_is_not_applied() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let mut c = start_adapter(sim_connection(addr)).await;
    let r = c.pay(DL, sim::DEMO_ORDER_1290, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "auth/transport/connect");
    let f = c.bill_failure(DL, sim::DEMO_ORDER_1290).await;
    assert!(f.transient && !f.not_found, "{f:?}");
    let cl = c.close(DL, sim::DEMO_ORDER_1290).await;
    assert_eq!(outcome(cl.outcome), Outcome::NotApplied, "{cl:?}");
}

#[tokio::test]
async fn list_bills_all_and_by_table() {
    let (_sim, mut c) = start().await;
    let l = c.list(DL, "").await;
    assert!(l.failure.is_none(), "{l:?}");
    let mut ids: Vec<&str> = l.bills.iter().map(|b| b.bill_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, vec!["1002", "1003", "1005"]);
    let l = c.list(DL, "12").await;
    assert_eq!(l.bills.len(), 1);
    assert_eq!(l.bills[0].bill_id, "1002");
    assert_eq!(l.bills[0].amount_due, "1290.00");
    assert!(c.list(DL, "99").await.bills.is_empty());
}

#[tokio::test]
async fn bad_input_is_invalid_argument() {
    let (sim, mut c) = start().await;
    // Without its connection no restaurant is known: the adapter keeps none.
    let e = c
        .raw
        .post_payment(pay_req(DL, sim::DEMO_ORDER_1290, "1290.00"))
        .await
        .unwrap_err();
    assert_invalid(&e, "connection");
    let mut req = pay_req(DL, sim::DEMO_ORDER_1290, "1290.00");
    req.restaurant_id = " ".into();
    let e = c.post_payment(req).await.unwrap_err();
    assert_invalid(&e, "restaurant_id");
    for (bill, amount, field) in [
        (sim::DEMO_ORDER_1290, "1290,00", "amount"),
        (sim::DEMO_ORDER_1290, "-1", "amount"),
        ("", "1290.00", "bill_id"),
        ("10/../2", "1290.00", "bill_id"),
    ] {
        let e = c.post_payment(pay_req(DL, bill, amount)).await.unwrap_err();
        assert_invalid(&e, field);
    }
    let mut req = pay_req(DL, sim::DEMO_ORDER_1290, "1290.00");
    req.points = "100".into();
    let e = c.post_payment(req).await.unwrap_err();
    assert!(e.message().starts_with("points"), "{}", e.message());
    let mut req = pay_req(DL, sim::DEMO_ORDER_1290, "1290.00");
    req.tenders = vec![Tender {
        tender_id: String::new(),
        amount: "1000.00".into(),
        card_code: String::new(),
    }];
    let e = c.post_payment(req).await.unwrap_err();
    assert!(e.message().starts_with("tenders"), "{}", e.message());
    assert_eq!(sim.requests(endpoint::PAY), 0);
    assert_eq!(
        sim.requests(endpoint::TOKEN),
        0,
        "bad input never reaches r_k Delivery"
    );
}

#[tokio::test]
async fn callers_need_a_token_when_auth_is_configured() {
    let sim = DeliverySim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let mut c = start_adapter_with(
        Some(sim_connection(addr)),
        posgate_grpc::AuthConfig::with_tokens([("payments", "tok-payments")]),
    )
    .await;
    let e = c
        .describe(DescribeRequest {
            connection: None,
            restaurant_id: DL.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let mut req = tonic::Request::new(DescribeRequest {
        connection: None,
        restaurant_id: DL.into(),
    });
    req.metadata_mut()
        .insert("authorization", "Bearer tok-payments".parse().unwrap());
    let d = c.describe(req).await.unwrap().into_inner();
    assert!(d.separate_close_step);
}

// ------------------------------------------------------------------------------------------
// Deciding an unknown outcome: one test per row of the decision table (`reconcile` docs).
// ------------------------------------------------------------------------------------------

/// The demo simulator playing the documented API (no paid state in the order), its adapter,
/// and the 1290.00 order read before posting.
async fn documented_api() -> (DeliverySim, Client, Bill) {
    let sim = DeliverySim::with_demo_data();
    sim.add_restaurant(
        SimRestaurant::new(sim::DEMO_RESTAURANT_ID, sim::DEMO_CURRENCY_GUID)
            .with_expose_payments(false),
    );
    let (sim, mut c) = start_sim(sim).await;
    let before = c.bill(DL, sim::DEMO_ORDER_1290).await;
    (sim, c, before)
}

/// Posts 1290.00 with `fault` on /pay; the outcome must be unknown.
async fn post_unanswered(sim: &DeliverySim, c: &mut Client, fault: FaultKind) {
    sim.inject(Fault::new(fault.clone()).times(1));
    let r = c.pay(DL, sim::DEMO_ORDER_1290, "1290.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{fault:?}: {r:?}");
}

#[tokio::test]
async fn row_1_an_unreadable_order_is_unknown_and_complete_is_not_asked() {
    let (sim, mut c, before) = documented_api().await;
    let o = sim::DEMO_ORDER_1290;
    post_unanswered(&sim, &mut c, FaultKind::AnswerLost).await;
    sim.inject(
        Fault::new(FaultKind::Unavailable)
            .for_endpoint(endpoint::GET_ORDER)
            .times(1),
    );
    let ck = check_closing(&mut c, o, "1290.00", Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert!(ck.evidence.contains("could not be read"), "{}", ck.evidence);
    assert_eq!(ck.failure.unwrap().pos_code, "HTTP/503");
    assert_eq!(sim.requests(endpoint::COMPLETE), 0);
}

#[tokio::test]
async fn row_3_a_paid_state_changed_by_another_amount_is_unknown_without_probing() {
    let (sim, mut c) = start().await;
    let o = sim::DEMO_ORDER_1290;
    let before = c.bill(DL, o).await;
    post_unanswered(&sim, &mut c, FaultKind::RequestTimedOut).await;
    // Someone booked 300.00 at the cash desk meanwhile.
    sim.update_order(o, |ord| {
        ord.payments.push(sim::SimPayment {
            code: sim::DEMO_CURRENCY_GUID.into(),
            amount: dec("300.00"),
            paid_at: "2024-05-01T10:00:00.000+03:00".into(),
            name: String::new(),
        })
    });
    let ck = check_closing(&mut c, o, "1290.00", Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert!(ck.evidence.contains("not by 1290.00"), "{}", ck.evidence);
    assert_eq!(
        sim.requests(endpoint::COMPLETE),
        0,
        "a foreign change: a person"
    );
}

#[tokio::test]
async fn row_6_a_cancelled_order_is_unknown_without_probing() {
    let (sim, mut c, before) = documented_api().await;
    let o = sim::DEMO_ORDER_1290;
    post_unanswered(&sim, &mut c, FaultKind::AnswerLost).await;
    sim.set_status(o, status::CANCELLED);
    let ck = check_closing(&mut c, o, "1290.00", Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert!(ck.evidence.contains("cancelled"), "{}", ck.evidence);
    assert_eq!(sim.requests(endpoint::COMPLETE), 0);
}

#[tokio::test]
async fn row_8_lost_pay_answer_complete_succeeds_applied_and_closed() {
    for kind in [
        FaultKind::AnswerLost,
        FaultKind::TimedOutButApplied,
        FaultKind::AnswerDelayed { delay_ms: 3_000 },
    ] {
        let (sim, mut c, before) = documented_api().await;
        let o = sim::DEMO_ORDER_1290;
        post_unanswered(&sim, &mut c, kind.clone()).await;
        // Without the close wish the order alone does not tell, and nothing is written.
        let ck = check(&mut c, o, "1290.00", "", Some(before.clone())).await;
        assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{kind:?}: {ck:?}");
        assert_eq!(sim.requests(endpoint::COMPLETE), 0);
        // With it, /complete decides: the money is there, and the order is now closed.
        let ck = check_closing(&mut c, o, "1290.00", Some(before)).await;
        assert_eq!(outcome(ck.outcome), Outcome::Applied, "{kind:?}: {ck:?}");
        assert!(ck.bill_closed, "{ck:?}");
        assert!(ck.failure.is_none());
        assert!(
            ck.evidence.contains("/complete succeeded"),
            "{}",
            ck.evidence
        );
        assert_eq!((sim.pays(o), sim.completes(o)), (1, 1), "{kind:?}");
        assert_eq!(sim.requests(endpoint::PAY), 1, "never posted again");
        assert_eq!(sim.order(o).unwrap().status_id, status::COMPLETED);
    }
}

#[tokio::test]
async fn row_9_timeout_wrapped_in_ws_error_complete_says_not_paid_not_applied() {
    for lang in [Lang::Ru, Lang::En] {
        let (sim, mut c, before) = documented_api().await;
        sim.add_restaurant(
            SimRestaurant::new(sim::DEMO_RESTAURANT_ID, sim::DEMO_CURRENCY_GUID)
                .with_expose_payments(false)
                .with_language(lang),
        );
        let o = sim::DEMO_ORDER_1290;
        post_unanswered(&sim, &mut c, FaultKind::RequestTimedOut).await;
        assert_eq!(sim.pays(o), 0);
        let ck = check_closing(&mut c, o, "1290.00", Some(before.clone())).await;
        assert_eq!(outcome(ck.outcome), Outcome::NotApplied, "{lang:?}: {ck:?}");
        assert!(!ck.bill_closed);
        let f = ck.failure.unwrap();
        assert_eq!(f.pos_code, "rk7_close_order");
        assert!(f.pos_text.contains("[3071]"), "{}", f.pos_text);
        assert!(ck.evidence.contains("not fully paid"), "{}", ck.evidence);
        assert!(sim.ledger().is_empty(), "the probe changed nothing");
        // Posting again pays once, and the close then succeeds.
        let r = c.pay(DL, o, "1290.00").await;
        assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
        assert_eq!(outcome(c.close(DL, o).await.outcome), Outcome::Applied);
        assert_eq!((sim.pays(o), sim.completes(o)), (1, 1));
    }
}

#[tokio::test]
async fn row_10_complete_failing_otherwise_is_unknown_and_asked_again() {
    let (sim, mut c, before) = documented_api().await;
    let o = sim::DEMO_ORDER_1290;
    post_unanswered(&sim, &mut c, FaultKind::AnswerLost).await;
    // A paid order whose kitchen tickets are not printed: closing is blocked, which says
    // nothing about the payment.
    sim.inject(Fault::new(FaultKind::CloseBlocked).times(1));
    let ck = check_closing(&mut c, o, "1290.00", Some(before.clone())).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert_eq!(ck.failure.unwrap().pos_code, "ERR_EXTERNAL_ERROR_WS");
    // A proxy's HTML page.
    sim.inject(
        Fault::new(FaultKind::Unavailable)
            .for_endpoint(endpoint::COMPLETE)
            .times(1),
    );
    let ck = check_closing(&mut c, o, "1290.00", Some(before.clone())).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert_eq!(ck.failure.unwrap().pos_code, "HTTP/503");
    // A timeout wrapped in the WS error.
    sim.inject(
        Fault::new(FaultKind::RequestTimedOut)
            .for_endpoint(endpoint::COMPLETE)
            .times(1),
    );
    let ck = check_closing(&mut c, o, "1290.00", Some(before.clone())).await;
    assert_eq!(outcome(ck.outcome), Outcome::Unknown, "{ck:?}");
    assert_eq!(sim.completes(o), 0);
    // The next check asks again, and this time it tells.
    let ck = check_closing(&mut c, o, "1290.00", Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(ck.bill_closed);
    assert_eq!((sim.pays(o), sim.completes(o)), (1, 1));
}
