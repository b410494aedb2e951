//! End to end: the payment service → this adapter → the Tillypad simulator, each on its own
//! loopback port over real gRPC and HTTP. The simulator's ledger is the ground truth for
//! "posted exactly once". The restaurants are declared in the payment service's registry, which
//! sends their connection with every adapter call (the adapter is configured with none).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{ConnectionExt, TP, TP_DELETE_UNPAID, connection, start_adapter};
use posgate_payments::PaymentsConfig;
use posgate_pos_kit::testkit::e2e::{self, Service, fast, state, wait_final};
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::{PayBillRequest, PaymentState, RestaurantSpec};
use posgate_sim::tillypad::{self as sim, Fault, FaultKind, TillypadSim};
use rust_decimal::Decimal;
use tonic::transport::Channel;

/// A restaurant of the simulator at `sim` as an operator declares it: the demo pay type, fast
/// timings for tests (those of `common::connection`) and `extra` settings.
fn restaurant(sim: SocketAddr, extra: &[(&str, &str)]) -> RestaurantSpec {
    let pay_type = [("default_pay_type_id", sim::DEMO_PAY_TYPE_ID)];
    let conn = connection(&format!("http://{sim}"), &pay_type, 1).set_all(extra);
    e2e::restaurant("tillypad", "Tillypad e2e", &conn)
}

/// Simulator, adapter (no restaurant of its own) and payment service, with [`TP`] (prechecks
/// kept) and [`TP_DELETE_UNPAID`] (unpaid prechecks deleted) declared in its registry; returns
/// the sim and a payment-service client.
async fn stack() -> (TillypadSim, PaymentServiceClient<Channel>, Service) {
    let sim = TillypadSim::with_demo_data();
    let sim_addr = sim.clone().spawn().await.expect("sim");
    let adapter = start_adapter().await;
    let mut service = Service::start(PaymentsConfig {
        retry: fast(100, 500, 3),
        reconcile: fast(100, 500, 3),
        ..e2e::config("tillypad", &adapter)
    })
    .await;
    service.declare(TP, restaurant(sim_addr, &[])).await;
    let delete_unpaid = restaurant(sim_addr, &[("delete_prechecks", "2")]);
    service.declare(TP_DELETE_UNPAID, delete_unpaid).await;
    let payments = service.payments.clone();
    (sim, payments, service)
}

fn pay(key: &str, bill: &str, amount: &str, points: &str, opts: &[(&str, &str)]) -> PayBillRequest {
    pay_at(TP, key, bill, amount, points, opts)
}

fn pay_at(
    restaurant: &str,
    key: &str,
    bill: &str,
    amount: &str,
    points: &str,
    opts: &[(&str, &str)],
) -> PayBillRequest {
    PayBillRequest {
        idempotency_key: key.into(),
        restaurant_id: restaurant.into(),
        bill_id: bill.into(),
        amount: amount.into(),
        points: points.into(),
        pos_options: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        close: true,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pays_with_points_once_and_hands_a_lost_answer_to_a_person() {
    let (sim, mut c, _service) = stack().await;

    // Points and pos_options: posted once, closed, the POS's details kept.
    let p = c
        .pay_bill(pay(
            "k-points",
            sim::DEMO_TAB_POINTS,
            "2200.00",
            "100.00",
            &[("delete_prechecks", "2")],
        ))
        .await
        .expect("pay")
        .into_inner();
    let p = if p.r#final {
        p
    } else {
        wait_final(&mut c, &p.payment_id).await
    };
    assert_eq!(state(&p), PaymentState::Closed, "{p:?}");
    assert_eq!(p.points, "100.00");
    assert_eq!(
        p.pos_details.get("points_applied").map(String::as_str),
        Some("100.00")
    );
    assert!(p.pos_details.contains_key("discount_sums"), "{p:?}");
    assert!(p.pos_details.contains_key("applied_discount_sums"), "{p:?}");
    let l = sim.ledger_of(sim::DEMO_TAB_POINTS);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0].pay_sum, Decimal::new(220000, 2));
    assert_eq!(l[0].delete_prechecks, 2);
    assert_eq!(sim.requests("/pay-guest"), 1);

    // The same key again: the same payment, nothing posted.
    let again = c
        .pay_bill(pay(
            "k-points",
            sim::DEMO_TAB_POINTS,
            "2200.00",
            "100.00",
            &[("delete_prechecks", "2")],
        ))
        .await
        .expect("repeat")
        .into_inner();
    assert_eq!(again.payment_id, p.payment_id);
    assert_eq!(sim.requests("/pay-guest"), 1);

    // Applied, but the answer is lost: never re-posted, a person decides.
    sim.inject(
        Fault::new(FaultKind::AnswerLost { hang_ms: 0 })
            .for_tab(sim::DEMO_TAB_978)
            .times(1),
    );
    let p = c
        .pay_bill(pay("k-lost", sim::DEMO_TAB_978, "978.00", "", &[]))
        .await
        .expect("pay")
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), PaymentState::NeedsAttention, "{p:?}");
    // The payment service says why (the POS cannot be read back); no substate is claimed.
    assert!(!p.pos_text.is_empty(), "{p:?}");
    eprintln!(
        "needs attention: {} / {} / {}",
        p.pos_code, p.pos_text, p.recommendation
    );
    // Give any (wrong) retry a chance to show up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sim.ledger_of(sim::DEMO_TAB_978).len(),
        1,
        "applied exactly once"
    );
    assert_eq!(sim.requests("/pay-guest"), 2, "posted once, never again");
}

/// A tab refused as in use (a lock text worded unlike the simulator's own), at a restaurant
/// whose mode deletes unpaid prechecks.
fn locked_once(sim: &TillypadSim, tab: &str) {
    sim.inject(
        Fault::new(FaultKind::Text {
            text: "Guest tab is locked: being edited at POS station 3".into(),
            status: Some(409),
        })
        .for_tab(tab)
        .times(1),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_bill_in_use_never_cancel_the_cashiers_prechecks() {
    let (sim, mut c, _service) = stack().await;

    // Every item of this tab is in a precheck the cashier printed. The restaurant's mode 2
    // would cancel it; the first posting is refused (the tab is locked), and every retry
    // keeps the precheck (mode 0): Tillypad says the tab is in payment, nothing is paid.
    let before = sim.tab(sim::DEMO_TAB_PRECHECK).expect("tab").prechecks;
    assert_eq!(before.len(), 1, "{before:?}");
    locked_once(&sim, sim::DEMO_TAB_PRECHECK);
    let p = c
        .pay_bill(pay_at(
            TP_DELETE_UNPAID,
            "k-precheck",
            sim::DEMO_TAB_PRECHECK,
            "640.00",
            "",
            &[],
        ))
        .await
        .expect("pay")
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), PaymentState::NeedsAttention, "{p:?}");
    assert_eq!(p.attempts, 3, "{p:?}");
    assert_eq!(sim.requests("/pay-guest"), 3);
    assert_eq!(
        p.pos_details.get("delete_prechecks").map(String::as_str),
        Some("0"),
        "the last retry kept the prechecks: {p:?}"
    );
    let after = sim.tab(sim::DEMO_TAB_PRECHECK).expect("tab");
    assert_eq!(
        after.prechecks, before,
        "the cashier's precheck is untouched"
    );
    assert!(sim.ledger_of(sim::DEMO_TAB_PRECHECK).is_empty());

    // Nothing in a precheck: the first posting is refused, the retry (mode 0) pays the tab.
    locked_once(&sim, sim::DEMO_TAB_978);
    let p = c
        .pay_bill(pay_at(
            TP_DELETE_UNPAID,
            "k-978",
            sim::DEMO_TAB_978,
            "978.00",
            "",
            &[],
        ))
        .await
        .expect("pay")
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), PaymentState::Closed, "{p:?}");
    let l = sim.ledger_of(sim::DEMO_TAB_978);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0].delete_prechecks, 0, "the retry kept the prechecks");

    // A payment that asks for it explicitly: its retries delete unpaid prechecks too.
    locked_once(&sim, sim::DEMO_TAB_PRECHECK);
    let p = c
        .pay_bill(pay_at(
            TP_DELETE_UNPAID,
            "k-precheck-explicit",
            sim::DEMO_TAB_PRECHECK,
            "640.00",
            "",
            &[("retry_delete_prechecks", "2")],
        ))
        .await
        .expect("pay")
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), PaymentState::Closed, "{p:?}");
    let l = sim.ledger_of(sim::DEMO_TAB_PRECHECK);
    assert_eq!(l.len(), 1, "{l:?}");
    assert_eq!(l[0].delete_prechecks, 2);
}
