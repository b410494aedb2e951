//! The adapter over real gRPC against the WSA simulator over real HTTP.

mod common;

use common::*;
use posgate_proto::v1::*;
use posgate_sim::wsa::{self as sim, Fault, FaultKind, Lang, SimOrder, StoredWsError};

#[tokio::test]
async fn describe_v2_and_v1() {
    let (_sim, mut c) = start().await;
    let d = c.describe_of(V2).await;
    assert_eq!(d.pos_kind, "r_keeper_wsa");
    assert_eq!(d.amount_rule, AmountRule::Exact as i32);
    assert!(!d.separate_close_step);
    assert!(d.supports_tips);
    assert_eq!(d.currency_scale, 2);
    // The test restaurants: task_timeout_s = 1, timeout_margin_ms = 700.
    assert_eq!(d.reconcile_settle_ms, 1_700);
    let d = c.describe_of(V1).await;
    assert_eq!(d.amount_rule, AmountRule::UpToDue as i32);
    assert!(d.separate_close_step);
    assert!(!d.supports_tips);
}

#[tokio::test]
async fn get_bill_of_the_978_demo_order() {
    let (_sim, mut c) = start().await;
    let b = c.bill(V2, sim::DEMO_ORDER_978).await;
    assert_eq!(b.total, "978.00");
    assert_eq!(b.amount_due, "978.00");
    assert_eq!(b.paid, "0.00");
    assert_eq!(b.status, BillStatus::Open as i32);
    assert_eq!(b.pos_status, "Created");
    assert_eq!(b.restaurant_id, V2);
    assert_eq!(b.bill_id, sim::DEMO_ORDER_978);
    assert_eq!(b.table, "12");
    assert_eq!(b.waiter_id, "7");
    assert_eq!(b.order_number, "1001");
    assert_eq!(b.currency, sim::DEMO_CURRENCY_GUID);
    assert_eq!(b.guests.len(), 2);
    let dishes: usize = b.guests.iter().map(|g| g.dishes.len()).sum();
    assert_eq!(dishes, 4);
    assert_eq!(b.guests[0].dishes[0].price, "390.00");
    // Sync mode reads the same bill.
    let s = c.bill(V2_SYNC, sim::DEMO_ORDER_978).await;
    assert_eq!(s.total, "978.00");
}

#[tokio::test]
async fn unknown_order_is_not_found() {
    let (_sim, mut c) = start().await;
    match c
        .bill_result(V2, "00000000-0000-0000-0000-000000000000")
        .await
    {
        adapter_get_bill_response::Result::Failure(f) => {
            assert!(f.not_found, "{f:?}");
            assert_eq!(f.substate, Substate::OtherError as i32);
            assert!(!f.pos_text.is_empty());
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

async fn pays_978_exactly_once(restaurant: &str) {
    let (sim, mut c) = start_demo_timing().await;
    let r = c.pay(restaurant, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    assert!(r.failure.is_none());
    assert!(!r.pos_reference.is_empty());
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].amount, dec("978.00"));
    assert_eq!(ledger[0].task_guid, r.pos_reference);
    assert_eq!(ledger[0].order_guid, sim::DEMO_ORDER_978);
    let b = c.bill(restaurant, sim::DEMO_ORDER_978).await;
    assert_eq!(b.status, BillStatus::Closed as i32);
    assert_eq!(b.amount_due, "0.00");
    assert_eq!(b.paid, "978.00");
    // Closing a closed bill is a success (idempotent), and writes nothing.
    let cl = c.close(restaurant, sim::DEMO_ORDER_978).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn pays_978_async() {
    pays_978_exactly_once(V2).await;
}

#[tokio::test]
async fn pays_978_sync() {
    pays_978_exactly_once(V2_SYNC).await;
}

#[tokio::test]
async fn wrong_amount_is_wrong_request_sum_with_raw_text() {
    let (sim, mut c) = start().await;
    for (restaurant, amount) in [(V2, "900.00"), (V2_SYNC, "1000.00")] {
        let r = c.pay(restaurant, sim::DEMO_ORDER_978, amount).await;
        assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
        assert_eq!(substate(&r.failure), Substate::WrongRequestSum);
        let f = r.failure.unwrap();
        assert_eq!(f.pos_code, "AgentError/WsaOrderError");
        assert!(f.pos_text.starts_with("RkInternal:"), "{}", f.pos_text);
        assert!(!r.bill_closed);
        assert!(!r.pos_reference.is_empty());
    }
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn answer_lost_is_unknown_then_check_says_applied() {
    let (sim, mut c) = start().await;
    let before = c.bill(V2, sim::DEMO_ORDER_978).await;
    sim.inject(Fault::new(FaultKind::AnswerLost).times(1));
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert!(r.failure.is_some());
    assert_eq!(sim.ledger().len(), 1, "the simulator applied it");
    // With the taskGuid.
    let ck = check(
        &mut c,
        V2,
        sim::DEMO_ORDER_978,
        "978.00",
        &r.pos_reference,
        Some(before.clone()),
    )
    .await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(ck.bill_closed);
    assert!(!ck.evidence.is_empty());
    // Without it (the acknowledgement itself was lost): the order tells.
    let ck = check(&mut c, V2, sim::DEMO_ORDER_978, "978.00", "", Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert_eq!(sim.ledger().len(), 1, "CheckPayment never writes");
}

#[tokio::test]
async fn answer_lost_in_sync_mode() {
    let (sim, mut c) = start().await;
    let before = c.bill(V2_SYNC, sim::DEMO_ORDER_1450_50).await;
    sim.inject(Fault::new(FaultKind::AnswerLost).times(1));
    let r = c.pay(V2_SYNC, sim::DEMO_ORDER_1450_50, "1450.50").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let ck = check(
        &mut c,
        V2_SYNC,
        sim::DEMO_ORDER_1450_50,
        "1450.50",
        &r.pos_reference,
        Some(before),
    )
    .await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(ck.bill_closed);
}

#[tokio::test]
async fn agent_timeout_is_unknown_then_check_says_not_applied() {
    let (sim, mut c) = start().await;
    let before = c.bill(V2, sim::DEMO_ORDER_978).await;
    sim.inject(Fault::new(FaultKind::AgentTimeout).times(1));
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let f = r.failure.clone().unwrap();
    assert_eq!(f.pos_code, "Timeout");
    let ck = check(
        &mut c,
        V2,
        sim::DEMO_ORDER_978,
        "978.00",
        &r.pos_reference,
        Some(before.clone()),
    )
    .await;
    assert_eq!(outcome(ck.outcome), Outcome::NotApplied, "{ck:?}");
    assert!(sim.ledger().is_empty());
    // Posting again now succeeds.
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn agent_timeout_sync_mode() {
    let (sim, mut c) = start().await;
    let before = c.bill(V2_SYNC, sim::DEMO_ORDER_978).await;
    sim.inject(Fault::new(FaultKind::AgentTimeout).times(1));
    let r = c.pay(V2_SYNC, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let ck = check(
        &mut c,
        V2_SYNC,
        sim::DEMO_ORDER_978,
        "978.00",
        &r.pos_reference,
        Some(before),
    )
    .await;
    assert_eq!(outcome(ck.outcome), Outcome::NotApplied, "{ck:?}");
}

async fn fault_gives(kind: FaultKind, lang: Lang, order: &str, amount: &str, want: Substate) {
    let (sim, mut c) = start().await;
    if lang == Lang::En {
        for r in sim.restaurants() {
            sim.add_restaurant(r.with_language(Lang::En));
        }
    }
    sim.inject(Fault::new(kind.clone()).times(1));
    let r = c.pay(V2, order, amount).await;
    assert_eq!(
        outcome(r.outcome),
        Outcome::Rejected,
        "{kind:?} {lang:?}: {r:?}"
    );
    assert_eq!(substate(&r.failure), want, "{kind:?} {lang:?}: {r:?}");
    assert!(sim.ledger().is_empty());
    // The fault was used up: the same payment now goes through.
    let r = c.pay(V2, order, amount).await;
    assert_eq!(
        outcome(r.outcome),
        Outcome::Applied,
        "{kind:?} {lang:?}: {r:?}"
    );
}

#[tokio::test]
async fn order_state_faults_map_to_substates() {
    for lang in [Lang::Ru, Lang::En] {
        for order in [sim::DEMO_ORDER_978, sim::DEMO_ORDER_2300] {
            let amount = if order == sim::DEMO_ORDER_978 {
                "978.00"
            } else {
                "2300.00"
            };
            fault_gives(
                FaultKind::BillLocked,
                lang,
                order,
                amount,
                Substate::BillInUse,
            )
            .await;
            fault_gives(
                FaultKind::ShiftClosed,
                lang,
                order,
                amount,
                Substate::CashiersShiftClosed,
            )
            .await;
            fault_gives(
                FaultKind::PrinterError,
                lang,
                order,
                amount,
                Substate::PrinterError,
            )
            .await;
            fault_gives(
                FaultKind::CloseBlocked,
                lang,
                order,
                amount,
                Substate::CloseOrderBlocked,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn order_locked_by_a_station_is_bill_in_use() {
    let (sim, mut c) = start().await;
    let o = sim.add_order(SimOrder::new(sim::DEMO_OBJECT_ID, dec("100.00")).locked_by(4));
    let r = c.pay(V2, &o.guid, "100.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::BillInUse);
}

#[tokio::test]
async fn passing_ws_failures_are_not_applied() {
    let (sim, mut c) = start().await;
    for kind in [FaultKind::TaskLimitExceeded, FaultKind::InternalError] {
        sim.inject(Fault::new(kind.clone()).times(1));
        let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
        assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{kind:?}: {r:?}");
        assert!(r.failure.is_some());
    }
    sim.inject(Fault::new(FaultKind::AuthFailed).times(1));
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    assert_eq!(r.failure.unwrap().pos_code, "AuthFailed");
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn zero_order_is_paid_with_zero() {
    let (sim, mut c) = start().await;
    let b = c.bill(V2, sim::DEMO_ORDER_ZERO).await;
    assert_eq!(b.total, "0.00");
    let r = c.pay(V2, sim::DEMO_ORDER_ZERO, "0.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn tips_are_a_separate_line_and_card_codes_are_passed() {
    let (sim, mut c) = start().await;
    let mut req = pay_req(V2, sim::DEMO_ORDER_978, "978.00");
    req.tips = "50.00".into();
    req.tenders = vec![
        Tender {
            tender_id: String::new(),
            amount: "500.00".into(),
            card_code: "CARD-777".into(),
        },
        Tender {
            tender_id: sim::DEMO_CURRENCY_GUID.into(),
            amount: "478.00".into(),
            card_code: String::new(),
        },
    ];
    let r = c.post_payment(req).await.unwrap().into_inner();
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 3, "{ledger:?}");
    assert!(ledger[0].card_code_present);
    assert!(!ledger[1].card_code_present);
    assert_eq!(ledger[2].currency, sim::DEMO_TIPS_CURRENCY_GUID);
    assert_eq!(ledger[2].amount, dec("50.00"));
}

#[tokio::test]
async fn v1_prepayments_then_close() {
    let (sim, mut c) = start().await;
    let o = sim::DEMO_V1_ORDER_1000;
    let before = c.bill(V1, o).await;
    assert_eq!(before.total, "1000.00");
    let r = c.pay(V1, o, "400.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(!r.bill_closed);
    let b = c.bill(V1, o).await;
    assert_eq!(
        (b.paid.as_str(), b.amount_due.as_str()),
        ("400.00", "600.00")
    );
    // Not covered yet: closing is blocked.
    let cl = c.close(V1, o).await;
    assert_eq!(outcome(cl.outcome), Outcome::Rejected, "{cl:?}");
    assert_eq!(substate(&cl.failure), Substate::CloseOrderBlocked);
    // Overpaying a prepayment is refused.
    let r = c.pay(V1, o, "700.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::WrongRequestSum);
    // CheckPayment for the first prepayment: paid grew by 400.
    let ck = check(&mut c, V1, o, "400.00", "", Some(before)).await;
    assert_eq!(outcome(ck.outcome), Outcome::Applied, "{ck:?}");
    assert!(!ck.bill_closed);
    let r = c.pay(V1, o, "600.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed, "{r:?}");
    let cl = c.close(V1, o).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert_eq!(sim.ledger().len(), 2);
}

#[tokio::test]
async fn v2_close_after_prepayments() {
    let (sim, mut c) = start().await;
    let full = sim
        .add_order(SimOrder::new(sim::DEMO_OBJECT_ID, dec("500.00")).with_prepaid(dec("500.00")));
    let cl = c.close(V2, &full.guid).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
    assert!(!cl.pos_reference.is_empty());
    assert_eq!(
        sim.order(sim::DEMO_OBJECT_ID, &full.guid).unwrap().status,
        sim::status::COMPLITED
    );
    let partial = sim
        .add_order(SimOrder::new(sim::DEMO_OBJECT_ID, dec("500.00")).with_prepaid(dec("100.00")));
    let cl = c.close(V2, &partial.guid).await;
    assert_eq!(outcome(cl.outcome), Outcome::Rejected, "{cl:?}");
    assert_eq!(substate(&cl.failure), Substate::CloseOrderBlocked);
    // Kitchen tickets not printed.
    let blocked = sim
        .add_order(SimOrder::new(sim::DEMO_OBJECT_ID, dec("500.00")).with_prepaid(dec("500.00")));
    sim.inject(
        Fault::new(FaultKind::CloseBlocked)
            .for_task("CompleteOrder")
            .times(1),
    );
    let cl = c.close(V2, &blocked.guid).await;
    assert_eq!(outcome(cl.outcome), Outcome::Rejected, "{cl:?}");
    assert_eq!(substate(&cl.failure), Substate::CloseOrderBlocked);
    let cl = c.close(V2, &blocked.guid).await;
    assert_eq!(outcome(cl.outcome), Outcome::Applied, "{cl:?}");
}

#[tokio::test]
async fn check_payment_of_a_refused_task_is_rejected() {
    let (sim, mut c) = start().await;
    let before = c.bill(V2, sim::DEMO_ORDER_978).await;
    let r = c.pay(V2, sim::DEMO_ORDER_978, "1.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected);
    let ck = check(
        &mut c,
        V2,
        sim::DEMO_ORDER_978,
        "1.00",
        &r.pos_reference,
        Some(before),
    )
    .await;
    assert_eq!(outcome(ck.outcome), Outcome::Rejected, "{ck:?}");
    assert_eq!(substate(&ck.failure), Substate::WrongRequestSum);
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn bad_input_is_invalid_argument() {
    let (_sim, mut c) = start().await;
    // A restaurant without a connection ("nope": the client has none for it).
    let e = c
        .post_payment(pay_req("nope", sim::DEMO_ORDER_978, "978.00"))
        .await
        .unwrap_err();
    assert_invalid(&e, "connection");
    let e = c
        .get_bill(AdapterGetBillRequest {
            connection: None,
            restaurant_id: "nope".into(),
            bill_id: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    // A connection without a restaurant id.
    let mut req = pay_req("", sim::DEMO_ORDER_978, "978.00");
    req.connection = c.connections.get(V2).cloned();
    let e = c.post_payment(req).await.unwrap_err();
    assert_invalid(&e, "restaurant_id");
    let e = c
        .post_payment(pay_req(V2, sim::DEMO_ORDER_978, "9,78"))
        .await
        .unwrap_err();
    assert_invalid(&e, "amount");
    let e = c.post_payment(pay_req(V2, "", "978.00")).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("bill_id"), "{}", e.message());
    let mut req = pay_req(V2, sim::DEMO_ORDER_978, "978.00");
    req.tips = "-1".into();
    let e = c.post_payment(req).await.unwrap_err();
    assert!(e.message().starts_with("tips"), "{}", e.message());
    let mut req = pay_req(V2, sim::DEMO_ORDER_978, "978.00");
    req.tenders = vec![Tender {
        tender_id: String::new(),
        amount: "900.00".into(),
        card_code: String::new(),
    }];
    let e = c.post_payment(req).await.unwrap_err();
    assert!(e.message().starts_with("tenders"), "{}", e.message());
}

#[tokio::test]
async fn unreachable_white_server_is_not_applied() {
    // A port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let mut c = start_adapter(sim_connections(addr)).await;
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "transport/connect");
    match c.bill_result(V2, sim::DEMO_ORDER_978).await {
        adapter_get_bill_response::Result::Failure(f) => {
            assert_eq!(f.pos_code, "transport/connect");
            assert!(!f.not_found);
        }
        other => panic!("{other:?}"),
    }
    let cl = c.close(V1, sim::DEMO_V1_ORDER_1000).await;
    assert_eq!(outcome(cl.outcome), Outcome::NotApplied, "{cl:?}");
}

/// Issue 9 item 2: a White Server error in the stored answer of our own PayOrder (same
/// taskGuid, taskType PayOrder) is the POS's answer, as in sync mode — not "cannot read".
#[tokio::test]
async fn a_persistent_licence_error_in_the_stored_answer_is_rejected_at_once() {
    let (sim, mut c) = start().await;
    let before = c.bill(V2, sim::DEMO_ORDER_978).await;
    // Until cleared: every PayOrder is taken, never runs, and its answer is the licence error.
    sim.inject(Fault::new(FaultKind::StoredWsError(StoredWsError::License)));
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    let f = r.failure.clone().unwrap();
    assert_eq!(f.pos_code, "License/WsAgent");
    assert!(f.pos_text.contains("license"), "{f:?}");
    assert!(!f.transient);
    assert!(!r.pos_reference.is_empty());
    assert_eq!(
        sim.requests("PayOrder"),
        1,
        "exactly one PayOrder submitted"
    );
    assert!(
        sim.requests("GetTaskResponse") >= 1,
        "the result came by polling"
    );
    assert!(sim.ledger().is_empty());
    // CheckPayment reads the same stored answer the same way.
    let ck = check(
        &mut c,
        V2,
        sim::DEMO_ORDER_978,
        "978.00",
        &r.pos_reference,
        Some(before),
    )
    .await;
    assert_eq!(outcome(ck.outcome), Outcome::Rejected, "{ck:?}");
    assert_eq!(sim.requests("PayOrder"), 1, "CheckPayment never writes");
}

#[tokio::test]
async fn stored_ws_errors_classify_as_in_sync_mode() {
    let (sim, mut c) = start().await;
    for e in [
        StoredWsError::License,
        StoredWsError::AuthFailed,
        StoredWsError::BadRequest,
        StoredWsError::WsAgentNotSelected,
    ] {
        let mut got = Vec::new();
        for restaurant in [V2, V2_SYNC] {
            let pays = sim.requests("PayOrder");
            sim.inject(Fault::new(FaultKind::StoredWsError(e)).times(1));
            let r = c.pay(restaurant, sim::DEMO_ORDER_978, "978.00").await;
            assert_eq!(sim.requests("PayOrder"), pays + 1, "{e:?} {restaurant}");
            let f = r.failure.clone().unwrap_or_default();
            got.push((outcome(r.outcome), f.substate, f.pos_code, f.pos_text));
        }
        assert_eq!(got[0].0, Outcome::Rejected, "{e:?}: {got:?}");
        assert_eq!(got[0].1, Substate::OtherError as i32, "{e:?}: {got:?}");
        assert_eq!(got[0], got[1], "{e:?}: async and sync agree");
    }
    assert!(sim.ledger().is_empty());
}

#[tokio::test]
async fn a_refused_poll_is_not_the_task_s_answer() {
    // The GetTaskResponse call itself is refused (its own responseCommon, not the PayOrder's):
    // the PayOrder's outcome stays unknown, and it is never posted again.
    let (sim, mut c) = start().await;
    sim.inject(Fault::new(FaultKind::AuthFailed).for_task("GetTaskResponse"));
    let r = c.pay(V2, sim::DEMO_ORDER_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    let f = r.failure.unwrap();
    assert!(f.pos_text.contains("cannot be read"), "{f:?}");
    assert_eq!(sim.requests("PayOrder"), 1);
}
