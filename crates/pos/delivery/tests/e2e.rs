//! End to end over r_k Delivery: the real payment service → this adapter → the simulator, each
//! on its own loopback port, real gRPC and HTTP. The simulator's ledger is the ground truth for
//! "paid once, completed once". The restaurant is declared in the payment service's registry,
//! which sends its connection with every adapter call (the adapter is configured with none).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{DL, sim_connection};
use posgate_payments::PaymentsConfig;
use posgate_pos_kit::testkit::e2e::{self, Service, fast, state, wait_final};
use posgate_pos_kit::testkit::{ConnectionExt, start_adapter};
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::{self as pb, PaymentState as S};
use posgate_sim::delivery::{
    self as sim, DeliverySim, Fault, FaultKind, SimOrder, SimRestaurant, endpoint, status,
};
use tonic::transport::Channel;

fn pay(key: &str, bill: &str, amount: &str) -> pb::PayBillRequest {
    pb::PayBillRequest {
        idempotency_key: key.into(),
        restaurant_id: DL.into(),
        bill_id: bill.into(),
        amount: amount.into(),
        close: true,
        ..Default::default()
    }
}

/// The simulator's demo order source at `sim` as an operator declares the restaurant, with
/// fast timings for tests (those of `common::restaurant`) and `extra` settings.
fn restaurant(sim: SocketAddr, extra: &[(&str, &str)]) -> pb::RestaurantSpec {
    let conn = sim_connection(sim).set_all(extra);
    e2e::restaurant("delivery", "r_k Delivery e2e", &conn)
}

/// The payment service (on a temporary SQLite file) in front of the r_k Delivery adapter (no
/// restaurant of its own), with fast retries and `[payments] reconcile_settle_ms`; `restaurant`
/// declared in its registry as [`DL`].
async fn start_service(
    restaurant: pb::RestaurantSpec,
    reconcile_settle_ms: u64,
) -> (PaymentServiceClient<Channel>, Service) {
    let adapter =
        start_adapter(posgate_pos_kit::serve_adapter::<posgate_delivery::DeliveryConnector>).await;
    let mut service = Service::start(PaymentsConfig {
        retry: fast(50, 300, 40),
        reconcile: fast(50, 300, 20),
        reconcile_settle_ms,
        ..e2e::config("delivery", &adapter)
    })
    .await;
    service.declare(DL, restaurant).await;
    (service.payments.clone(), service)
}

/// The demo simulator playing the documented API: orders show no paid state.
fn documented_api_sim() -> DeliverySim {
    let sim = DeliverySim::with_demo_data();
    sim.add_restaurant(
        SimRestaurant::new(sim::DEMO_RESTAURANT_ID, sim::DEMO_CURRENCY_GUID)
            .with_expose_payments(false),
    );
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pay_bill_pays_once_and_completes_once_and_a_failed_complete_is_retried_alone() {
    let sim = DeliverySim::with_demo_data();
    let sim_addr = sim.clone().spawn().await.unwrap();
    let (mut c, _dir) = start_service(restaurant(sim_addr, &[]), 0).await;

    // 1. Pay and close: one /pay, one /complete.
    let p = c
        .pay_bill(pay("k-1290", sim::DEMO_ORDER_1290, "1290.00"))
        .await
        .unwrap()
        .into_inner();
    let p = if p.r#final {
        p
    } else {
        wait_final(&mut c, &p.payment_id).await
    };
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert!(!p.pos_reference.is_empty(), "the requestId is kept");
    assert_eq!(sim.pays(sim::DEMO_ORDER_1290), 1);
    assert_eq!(sim.completes(sim::DEMO_ORDER_1290), 1);
    assert_eq!(
        sim.order(sim::DEMO_ORDER_1290).unwrap().status_id,
        status::COMPLETED
    );

    // 2. /complete refused twice (kitchen tickets): the close is retried on its own, the
    //    payment is never posted again.
    sim.inject(
        Fault::new(FaultKind::CloseBlocked)
            .for_order(sim::DEMO_ORDER_2300)
            .times(2),
    );
    let p = c
        .pay_bill(pay("k-2300", sim::DEMO_ORDER_2300, "2300.00"))
        .await
        .unwrap()
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(sim.pays(sim::DEMO_ORDER_2300), 1, "paid once");
    assert_eq!(sim.completes(sim::DEMO_ORDER_2300), 1);
    assert_eq!(
        sim.requests(endpoint::COMPLETE),
        1 + 3,
        "two refusals, then success"
    );
    assert_eq!(sim.requests(endpoint::PAY), 2);

    // 3. Not transferred to the kitchen yet: posgate waits (no /pay) until auto-accept moves it.
    let o = sim.add_order(
        SimOrder::new(status::NEW, "450.00".parse().unwrap()).auto_advance_after_ms(400),
    );
    let p = c
        .pay_bill(pay("k-new", &o.order_id, "450.00"))
        .await
        .unwrap()
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!((sim.pays(&o.order_id), sim.completes(&o.order_id)), (1, 1));
    assert_eq!(
        sim.requests(endpoint::PAY),
        3,
        "no /pay before the order reached r_keeper"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_pay_answer_ends_closed_within_seconds_paid_once_completed_once() {
    // r_k Delivery as documented: the order shows no paid state, so only /complete can tell.
    let sim = documented_api_sim();
    let sim_addr = sim.clone().spawn().await.unwrap();
    // The shipped settle cap: a "not applied" would wait minutes, an "applied" must not.
    let (mut c, _dir) = start_service(restaurant(sim_addr, &[]), 300_000).await;
    let o = sim::DEMO_ORDER_1290;
    sim.inject(Fault::new(FaultKind::AnswerLost).for_order(o).times(1));
    let started = std::time::Instant::now();
    let p = c
        .pay_bill(pay("k-lost", o, "1290.00"))
        .await
        .unwrap()
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sim.pays(o), 1, "one posting in the ledger");
    assert_eq!(sim.completes(o), 1);
    assert_eq!(sim.requests(endpoint::PAY), 1, "never posted again");
    assert_eq!(
        sim.requests(endpoint::COMPLETE),
        1,
        "/complete called once, successfully"
    );
    assert_eq!(sim.order(o).unwrap().status_id, status::COMPLETED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_without_apply_is_posted_again_after_the_adapters_settle_time() {
    let sim = documented_api_sim();
    let sim_addr = sim.clone().spawn().await.unwrap();
    // The adapter says its POS settles in 0.8 s + 0.2 s; the service's cap stays at the
    // shipped 300 s. Waiting the cap would not finish within the test's deadline.
    let (mut c, _dir) = start_service(
        restaurant(sim_addr, &[("settle_margin_ms", "200")]),
        300_000,
    )
    .await;
    let o = sim::DEMO_ORDER_1290;
    sim.inject(Fault::new(FaultKind::RequestTimedOut).for_order(o).times(1));
    let started = std::time::Instant::now();
    let p = c
        .pay_bill(pay("k-timeout", o, "1290.00"))
        .await
        .unwrap()
        .into_inner();
    let p = wait_final(&mut c, &p.payment_id).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "not posted again before the settle time: {:?}",
        started.elapsed()
    );
    assert_eq!(sim.pays(o), 1, "one posting in the ledger");
    assert_eq!(sim.completes(o), 1);
    assert_eq!(
        sim.requests(endpoint::PAY),
        2,
        "the timed-out one, then one more"
    );
}
