//! The adapter over real gRPC against the Tillypad simulator over real HTTP.

mod common;

use std::collections::BTreeMap;

use common::*;
use posgate_proto::v1::*;
use posgate_sim::tillypad::{
    self as sim, Fault, FaultKind, Lang, PrecheckStatus, SimItem, SimPrecheck, SimTab,
};
use tonic::Code;

fn details(r: &PostPaymentResponse) -> BTreeMap<String, String> {
    r.details.clone().into_iter().collect()
}

#[tokio::test]
async fn describe_says_paying_closes_and_bills_cannot_be_read() {
    let (_sim, mut c) = start().await;
    let d = c.describe_of(TP).await;
    assert_eq!(d.pos_kind, "tillypad");
    assert!(!d.separate_close_step);
    assert_eq!(d.amount_rule, AmountRule::Exact as i32);
    assert!(d.supports_points);
    assert!(!d.supports_tips);
    assert!(!d.supports_fiscal_data);
    assert!(d.cannot_read_bills);
    assert_eq!(
        d.reconcile_settle_ms, 0,
        "never read back: the service's setting"
    );
    assert_eq!(d.currency_scale, 2);
    let e = c
        .describe(DescribeRequest {
            connection: Some(connection("http://127.0.0.1:1", &[], 1)),
            restaurant_id: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("restaurant_id"));
}

#[tokio::test]
async fn pays_a_tab_exactly_once() {
    let (sim, mut c) = start().await;
    let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert!(r.bill_closed);
    assert!(r.failure.is_none());
    let d = details(&r);
    assert_eq!(d["delete_prechecks"], "0");
    assert_eq!(d["pay_type_id"], sim::DEMO_PAY_TYPE_ID);
    assert_eq!(d["discount_sums"], "[]");
    assert_eq!(d["applied_discount_sums"], "[]");
    assert!(!d.contains_key("points_mismatch"));
    let ledger = sim.ledger();
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].pay_sum, dec("978.00"));
    assert_eq!(ledger[0].pay_type_id, sim::DEMO_PAY_TYPE_ID);
    assert!(sim.tab(sim::DEMO_TAB_978).unwrap().is_closed());

    // The same posting again: Tillypad refuses (the tab is closed), nothing booked twice.
    let again = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(again.outcome), Outcome::Rejected, "{again:?}");
    assert_eq!(substate(&again.failure), Substate::OtherError);
    let f = again.failure.unwrap();
    assert_eq!(f.pos_text, "Гостевой счет закрыт");
    assert_eq!(f.pos_code, "HTTP/200");
    assert!(!f.transient);
    assert_eq!(sim.ledger().len(), 1);
}

#[tokio::test]
async fn each_precheck_mode() {
    let (sim, mut c) = start().await;
    // 0 (the restaurant's default): every item is in a printed precheck → BILL_IN_USE.
    let r = c.pay(TP, sim::DEMO_TAB_PRECHECK, "640.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::BillInUse);
    assert_eq!(r.failure.unwrap().pos_text, "Счет уже передан в оплату");
    // 2 per request: the unpaid precheck is cancelled and the tab paid.
    let r = c
        .post(pay_with(
            TP,
            sim::DEMO_TAB_PRECHECK,
            "640.00",
            "",
            &[("delete_prechecks", "2")],
        ))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(details(&r)["delete_prechecks"], "2");
    assert_eq!(sim.ledger()[0].delete_prechecks, 2);

    // 1: deletes all prechecks...
    let tab = sim.add_tab(SimTab::new(vec![
        SimItem::new(
            "A1B2C3D4-0001-4000-8000-000000000001",
            "a",
            dec("300"),
            dec("1"),
        ),
        SimItem::new(
            "A1B2C3D4-0002-4000-8000-000000000002",
            "b",
            dec("100"),
            dec("1"),
        ),
    ]));
    sim.send_to_payment(&tab.gest_id);
    let r = c
        .post(pay_with(
            TP,
            &tab.gest_id,
            "400.00",
            "",
            &[("delete_prechecks", "1")],
        ))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(sim.ledger_of(&tab.gest_id)[0].delete_prechecks, 1);

    // ...unless one is paid: "already paid" → OTHER_ERROR; 2 pays what is left.
    let tab = sim.add_tab(
        SimTab::new(vec![
            SimItem::new(
                "A1B2C3D4-0001-4000-8000-000000000001",
                "a",
                dec("300"),
                dec("1"),
            ),
            SimItem::new(
                "A1B2C3D4-0002-4000-8000-000000000002",
                "b",
                dec("100"),
                dec("1"),
            ),
        ])
        .with_id("8F0E6B52-3C1D-4A7E-9B20-0000000000B1"),
    );
    sim.update_tab(&tab.gest_id, |t| {
        t.prechecks.push(SimPrecheck {
            id: "P".into(),
            items: vec![0],
            status: PrecheckStatus::Paid,
        })
    });
    let r = c
        .post(pay_with(
            TP,
            &tab.gest_id,
            "100.00",
            "",
            &[("delete_prechecks", "1")],
        ))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    assert_eq!(r.failure.unwrap().pos_text, "Счет уже оплачен");
    let r = c
        .post(pay_with(
            TP,
            &tab.gest_id,
            "100.00",
            "",
            &[("delete_prechecks", "2")],
        ))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
}

#[tokio::test]
async fn points_are_sent_and_kept_in_details() {
    let (sim, mut c) = start().await;
    let r = c
        .post(pay_with(TP, sim::DEMO_TAB_POINTS, "2200.00", "100.00", &[]))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let d = details(&r);
    assert_eq!(d["points_requested"], "100.00");
    assert_eq!(d["points_applied"], "100.00");
    assert!(!d.contains_key("points_mismatch"), "{d:?}");
    let ds: serde_json::Value = serde_json::from_str(&d["discount_sums"]).unwrap();
    assert_eq!(
        ds[0]["type_ID"],
        sim::DEMO_POINTS_TYPE_ID,
        "the module default"
    );
    let ap: serde_json::Value = serde_json::from_str(&d["applied_discount_sums"]).unwrap();
    assert_eq!(ap[0]["type_ID"], sim::DEMO_POINTS_DISCOUNT_TYPE_ID);
    let l = &sim.ledger()[0];
    assert_eq!(l.discount.as_ref().unwrap().sum, dec("100"));
    assert_eq!(
        l.discount.as_ref().unwrap().type_id.as_deref(),
        Some(sim::DEMO_POINTS_TYPE_ID)
    );
}

#[tokio::test]
async fn points_applied_differently_are_reported() {
    let (sim, mut c) = start().await;
    // The guest has 500 points; 600 requested with an explicit type: 500 applied.
    let r = c
        .post(pay_with(
            TP,
            sim::DEMO_TAB_POINTS,
            "1700.00",
            "600.00",
            &[("points_type_id", sim::DEMO_POINTS_TYPE_ID)],
        ))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let d = details(&r);
    assert_eq!(d["points_type_id"], sim::DEMO_POINTS_TYPE_ID);
    assert_eq!(d["points_applied"], "500.00");
    let note = &d["points_mismatch"];
    assert!(note.contains("600.00 points were requested"), "{note}");
    assert!(note.contains("applied 500.00"), "{note}");
    assert!(note.contains("underpaid by 100.00"), "{note}");

    // Points not set up in Tillypad: AppliedDiscountSums absent.
    sim.update_settings(|s| s.points_enabled = false);
    let r = c
        .post(pay_with(TP, sim::DEMO_TAB_978, "878.00", "100", &[]))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    let d = details(&r);
    assert!(!d.contains_key("applied_discount_sums"));
    assert!(
        d["points_mismatch"].contains("AppliedDiscountSums is absent"),
        "{d:?}"
    );
}

#[tokio::test]
async fn pay_type_from_request_config_or_the_tabs_prepaid_one() {
    let (sim, mut c) = start().await;
    // No pay type anywhere: refused before anything is sent.
    let r = c.pay(TP_NOPAY, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    let f = r.failure.unwrap();
    assert_eq!(f.substate, Substate::OtherError as i32);
    assert_eq!(f.pos_code, "tillypad/no-pay-type");
    assert_eq!(sim.requests("/pay-guest"), 0);

    // The tab's prepaid pay type, allowed by the restaurant.
    let r = c.pay(TP_PREPAID, sim::DEMO_TAB_PREPAID, "1450.50").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(details(&r)["pay_type_id"], "prepaid");
    assert_eq!(sim.ledger()[0].pay_type_id, sim::DEMO_PREPAID_PAY_TYPE_ID);

    // Allowed, but the tab has none: Tillypad's documented refusal → OTHER_ERROR.
    let r = c.pay(TP_PREPAID, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    assert!(
        r.failure
            .unwrap()
            .pos_text
            .contains("gsdlv_pytp_ID_Prepaid")
    );

    // The request names it: a tender, or pos_options.
    let mut req = pay_req(TP_NOPAY, sim::DEMO_TAB_978, "978.00");
    req.tenders = vec![Tender {
        tender_id: format!("{{{}}}", sim::DEMO_PAY_TYPE_ID),
        amount: "978.00".into(),
        card_code: "SECRET-CARD".into(),
    }];
    let r = c.post(req).await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(
        sim.ledger_of(sim::DEMO_TAB_978)[0].pay_type_id,
        sim::DEMO_PAY_TYPE_ID
    );
    let r = c
        .post(pay_with(
            TP_NOPAY,
            sim::DEMO_TAB_POINTS,
            "2300",
            "",
            &[("pay_type_id", sim::DEMO_PREPAID_PAY_TYPE_ID)],
        ))
        .await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
}

/// Every error the simulator answers, classified, in both error-status modes and languages.
#[tokio::test]
async fn each_error_row_in_both_status_modes_and_languages() {
    for (status, lang) in [(200, Lang::Ru), (500, Lang::Ru), (409, Lang::En)] {
        let (sim, mut c) = start().await;
        sim.set_error_status(status);
        sim.set_language(lang);
        let code = format!("HTTP/{status}");
        let closed = sim.add_tab(
            SimTab::new(vec![SimItem::new(
                "A1B2C3D4-0001-4000-8000-000000000001",
                "a",
                dec("10"),
                dec("1"),
            )])
            .with_id("8F0E6B52-3C1D-4A7E-9B20-0000000000C1"),
        );
        sim.update_tab(&closed.gest_id, |t| t.state = sim::tab_state::CLOSED);
        let cases: Vec<(&str, PostPaymentRequest, Substate, bool)> = vec![
            (
                "sum differs",
                pay_req(TP, sim::DEMO_TAB_978, "977.00"),
                Substate::WrongRequestSum,
                false,
            ),
            (
                "sent to payment",
                pay_req(TP, sim::DEMO_TAB_PRECHECK, "640.00"),
                Substate::BillInUse,
                false,
            ),
            (
                "no pay type",
                pay_req(TP_PREPAID, sim::DEMO_TAB_978, "978.00"),
                Substate::OtherError,
                false,
            ),
            (
                "unknown pay type",
                pay_with(
                    TP,
                    sim::DEMO_TAB_978,
                    "978.00",
                    "",
                    &[("pay_type_id", "00000000-0000-0000-0000-000000000001")],
                ),
                Substate::OtherError,
                false,
            ),
            (
                "tab closed",
                pay_req(TP, &closed.gest_id, "10.00"),
                Substate::OtherError,
                false,
            ),
            (
                "tab not found",
                pay_req(TP, "00000000-0000-0000-0000-00000000dead", "10.00"),
                Substate::OtherError,
                true,
            ),
        ];
        for (name, req, want, not_found) in cases {
            let r = c.post(req).await;
            assert_eq!(
                outcome(r.outcome),
                Outcome::Rejected,
                "{name} {status}: {r:?}"
            );
            let f = r.failure.unwrap();
            assert_eq!(f.substate, want as i32, "{name} {status}: {f:?}");
            assert_eq!(f.not_found, not_found, "{name}: {f:?}");
            assert_eq!(f.pos_code, code, "{name}");
            assert!(!f.pos_text.is_empty() && !f.transient, "{name}: {f:?}");
        }
        // Already paid (delete-prechecks=1 with a paid precheck).
        let tab = sim.add_tab(
            SimTab::new(vec![SimItem::new(
                "A1B2C3D4-0001-4000-8000-000000000001",
                "a",
                dec("10"),
                dec("1"),
            )])
            .with_id("8F0E6B52-3C1D-4A7E-9B20-0000000000C2"),
        );
        sim.update_tab(&tab.gest_id, |t| {
            t.prechecks.push(SimPrecheck {
                id: "P".into(),
                items: vec![],
                status: PrecheckStatus::Paid,
            })
        });
        let r = c
            .post(pay_with(
                TP,
                &tab.gest_id,
                "10.00",
                "",
                &[("delete_prechecks", "1")],
            ))
            .await;
        assert_eq!(substate(&r.failure), Substate::OtherError, "{r:?}");
        // Printer.
        sim.inject(Fault::new(FaultKind::PrinterError).times(1));
        let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
        assert_eq!(substate(&r.failure), Substate::PrinterError, "{r:?}");
        // Business day closed.
        sim.set_business_day_open(false);
        let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
        assert_eq!(outcome(r.outcome), Outcome::Rejected);
        assert_eq!(substate(&r.failure), Substate::CashiersShiftClosed, "{r:?}");
        assert!(sim.ledger().is_empty(), "no refusal booked anything");
        // And the tab pays once the day is open again.
        sim.set_business_day_open(true);
        let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
        assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    }
}

#[tokio::test]
async fn answer_lost_is_unknown_and_check_payment_never_writes() {
    let (sim, mut c) = start().await;
    sim.inject(Fault::new(FaultKind::AnswerLost { hang_ms: 0 }).times(1));
    let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert!(!r.bill_closed);
    let f = r.failure.unwrap();
    assert!(f.transient);
    assert!(f.pos_code.starts_with("transport/"), "{f:?}");
    assert_eq!(sim.ledger().len(), 1, "applied in Tillypad");

    let chk = c.check(check_req(TP, sim::DEMO_TAB_978, "978.00")).await;
    assert_eq!(outcome(chk.outcome), Outcome::Unknown, "{chk:?}");
    assert_eq!(
        chk.failure.as_ref().unwrap().pos_code,
        "tillypad/unverifiable"
    );
    assert!(chk.evidence.contains(sim::DEMO_TAB_978), "{}", chk.evidence);
    assert!(
        chk.evidence.contains("never re-sends /pay-guest"),
        "{}",
        chk.evidence
    );
    assert_eq!(sim.requests("/pay-guest"), 1, "CheckPayment wrote nothing");
    assert_eq!(sim.ledger().len(), 1);

    // A hang past the request timeout: unknown too, and applied.
    sim.inject(Fault::new(FaultKind::AnswerLost { hang_ms: 3_000 }).times(1));
    let r = c.pay(TP, sim::DEMO_TAB_POINTS, "2300.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(r.failure.unwrap().pos_code, "transport/timeout");
    assert_eq!(sim.ledger().len(), 2);

    // Dropped before processing: still unknown to the adapter (nothing applied).
    sim.inject(Fault::new(FaultKind::Dropped).times(1));
    let r = c.pay(TP, sim::DEMO_TAB_PREPAID, "1450.50").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(sim.ledger().len(), 2);
}

#[tokio::test]
async fn proxy_pages_empty_bodies_and_slow_answers() {
    let (sim, mut c) = start().await;
    sim.inject(
        Fault::new(FaultKind::Html {
            status: 502,
            applied: false,
        })
        .times(1),
    );
    let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(r.failure.as_ref().unwrap().pos_code, "HTTP/502");
    sim.inject(
        Fault::new(FaultKind::Empty {
            status: 200,
            applied: true,
        })
        .times(1),
    );
    let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Unknown, "{r:?}");
    assert_eq!(sim.ledger().len(), 1);
    sim.inject(
        Fault::new(FaultKind::Html {
            status: 404,
            applied: false,
        })
        .times(1),
    );
    let r = c.pay(TP, sim::DEMO_TAB_POINTS, "2300.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Rejected, "{r:?}");
    assert_eq!(substate(&r.failure), Substate::OtherError);
    sim.inject(Fault::new(FaultKind::Slow { delay_ms: 200 }).times(1));
    let r = c.pay(TP, sim::DEMO_TAB_POINTS, "2300.00").await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
}

#[tokio::test]
async fn connection_refused_is_not_applied() {
    // A port with nothing listening.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let mut c = adapter_for(&format!("http://{addr}"), &[]).await;
    let r = c.pay(TP, sim::DEMO_TAB_978, "978.00").await;
    assert_eq!(outcome(r.outcome), Outcome::NotApplied, "{r:?}");
    let f = r.failure.unwrap();
    assert_eq!(f.pos_code, "transport/connect");
    assert!(f.transient);
}

#[tokio::test]
async fn get_list_and_close_are_answered_without_calling_tillypad() {
    let (sim, mut c) = start().await;
    let g = c
        .get_bill(AdapterGetBillRequest {
            connection: None,
            restaurant_id: TP.into(),
            bill_id: sim::DEMO_TAB_978.into(),
        })
        .await
        .unwrap()
        .into_inner();
    match g.result {
        Some(adapter_get_bill_response::Result::Failure(f)) => {
            assert_eq!(f.pos_code, "tillypad/unsupported");
            assert_eq!(f.substate, Substate::OtherError as i32);
            assert!(!f.transient && !f.not_found);
        }
        other => panic!("{other:?}"),
    }
    let l = c
        .list_bills(AdapterListBillsRequest {
            connection: None,
            restaurant_id: TP.into(),
            table: "12".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(l.bills.is_empty());
    assert_eq!(l.failure.unwrap().pos_code, "tillypad/unsupported");
    let cl = c
        .close_bill(AdapterCloseBillRequest {
            connection: None,
            restaurant_id: TP.into(),
            bill_id: sim::DEMO_TAB_978.into(),
            payment_id: "pay-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(outcome(cl.outcome), Outcome::Rejected);
    let f = cl.failure.unwrap();
    assert_eq!(f.pos_code, "tillypad/no-close-step");
    assert!(f.pos_text.contains("closes a tab by paying it"));
    assert_eq!(sim.requests("/pay-guest"), 0);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let (sim, mut c) = start().await;
    let tab = sim::DEMO_TAB_978;
    let mut tenders2 = pay_req(TP, tab, "978.00");
    tenders2.tenders = vec![
        Tender {
            tender_id: sim::DEMO_PAY_TYPE_ID.into(),
            amount: "478.00".into(),
            card_code: String::new(),
        },
        Tender {
            tender_id: sim::DEMO_PREPAID_PAY_TYPE_ID.into(),
            amount: "500.00".into(),
            card_code: String::new(),
        },
    ];
    let cases = [
        (pay_req(" ", tab, "978.00"), "restaurant_id"),
        (pay_req("nowhere", tab, "978.00"), "connection"),
        (pay_req(TP, "", "978.00"), "bill_id"),
        (pay_req(TP, "42", "978.00"), "bill_id"),
        (pay_req(TP, tab, "978,00"), "amount"),
        (pay_req(TP, tab, "-1"), "amount"),
        (pay_req(TP, tab, "978.001"), "amount"),
        (pay_with(TP, tab, "878.00", "1e2", &[]), "points"),
        (
            pay_with(TP, tab, "978.00", "", &[("delete_prechecks", "3")]),
            "pos_options.delete_prechecks",
        ),
        (
            pay_with(TP, tab, "978.00", "", &[("pay_type_id", "card")]),
            "pos_options.pay_type_id",
        ),
        (
            pay_with(TP, tab, "978.00", "", &[("points_type_id", "x")]),
            "pos_options.points_type_id",
        ),
        (
            pay_with(TP, tab, "978.00", "", &[("deletePrechecks", "1")]),
            "pos_options.deletePrechecks",
        ),
        (tenders2, "tenders"),
    ];
    for (req, field) in cases {
        let e = c.post_payment(req).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{field}: {e:?}");
        assert!(e.message().starts_with(field), "{field}: {}", e.message());
    }
    assert_eq!(sim.requests("/pay-guest"), 0, "nothing was sent");
}

#[tokio::test]
async fn tips_are_reported_not_booked() {
    let (sim, mut c) = start().await;
    let mut req = pay_req(TP, sim::DEMO_TAB_978, "978.00");
    req.tips = "50.00".into();
    let r = c.post(req).await;
    assert_eq!(outcome(r.outcome), Outcome::Applied, "{r:?}");
    assert_eq!(details(&r)["tips_not_booked"], "50.00");
    assert_eq!(sim.ledger()[0].pay_sum, dec("978.00"));
}

#[tokio::test]
async fn guest_discount_points_field_and_relay_prefix() {
    let sim = posgate_sim::tillypad::TillypadSim::with_demo_data();
    let addr = sim.clone().spawn().await.unwrap();
    let mut c = adapter_for(
        &format!("http://{addr}/tillypad-api/Demo/"),
        &[
            ("points_field", "GuestDiscountPoints"),
            ("delete_prechecks", "2"),
        ],
    )
    .await;
    let resp = c
        .post(pay_with(TP, sim::DEMO_TAB_PRECHECK, "600.00", "40", &[]))
        .await;
    assert_eq!(outcome(resp.outcome), Outcome::Applied, "{resp:?}");
    let l = &sim.ledger()[0];
    assert_eq!(l.delete_prechecks, 2);
    assert_eq!(l.applied.as_ref().unwrap().sum, dec("40"));
}
