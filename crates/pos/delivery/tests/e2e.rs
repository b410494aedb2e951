//! End to end over r_k Delivery: the real payment service → this adapter → the simulator, each
//! on its own loopback port, real gRPC and HTTP. The simulator's ledger is the ground truth for
//! "paid once, completed once". The restaurant is declared in the payment service's registry,
//! which sends its connection with every adapter call (the adapter is configured with none).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::DL;
use posgate_core::RetryPolicy;
use posgate_payments::{PaymentsConfig, PaymentsService};
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::restaurant_service_client::RestaurantServiceClient;
use posgate_proto::v1::{self as pb, PaymentState as S};
use posgate_sim::delivery::{
    self as sim, DeliverySim, Fault, FaultKind, SimOrder, SimRestaurant, endpoint, status,
};
use tokio::net::TcpListener;
use tonic::transport::Channel;

fn fast(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        initial_ms: 50,
        multiplier_pct: 150,
        max_delay_ms: 300,
        max_attempts,
        jitter_pct: 10,
    }
}

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

fn state(p: &pb::Payment) -> S {
    S::try_from(p.state).unwrap_or(S::Unspecified)
}

async fn wait_final(c: &mut PaymentServiceClient<Channel>, id: &str) -> pb::Payment {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = c
            .get_payment(pb::GetPaymentRequest {
                payment_id: id.into(),
            })
            .await
            .unwrap()
            .into_inner();
        if p.r#final {
            return p;
        }
        assert!(tokio::time::Instant::now() < deadline, "not final: {p:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The simulator's demo order source at `sim` as an operator declares the restaurant, with
/// fast timings for tests (those of `common::restaurant`) and `extra` settings.
fn restaurant(sim: SocketAddr, extra: &[(&str, &str)]) -> pb::RestaurantSpec {
    let base = format!("http://{sim}");
    let mut settings = vec![
        ("base_url", base.clone()),
        ("auth_url", base),
        ("client_id", sim::DEMO_CLIENT_ID.to_string()),
        ("currency_guid", sim::DEMO_CURRENCY_GUID.to_string()),
        ("utc_offset", "+03:00".to_string()),
        ("read_timeout_ms", "2000".to_string()),
        ("write_timeout_ms", "800".to_string()),
    ];
    settings.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    pb::RestaurantSpec {
        display_name: "r_k Delivery e2e".into(),
        pos_kind: "delivery".into(),
        currency: "UAH".into(),
        currency_scale: 2,
        pos_settings: settings
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        pos_secrets: [(
            "client_secret".to_string(),
            sim::DEMO_CLIENT_SECRET.to_string(),
        )]
        .into(),
        expirenza: None,
    }
}

/// The payment service (on a temporary SQLite file) in front of the r_k Delivery adapter (no
/// restaurant of its own), with fast retries and `[payments] reconcile_settle_ms`; `restaurant`
/// declared in its registry as [`DL`].
async fn start_service(
    restaurant: pb::RestaurantSpec,
    reconcile_settle_ms: u64,
) -> (PaymentServiceClient<Channel>, TempDir) {
    let adapter_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let adapter_addr = adapter_listener.local_addr().unwrap();
    let delivery =
        posgate_pos_kit::AdapterConfig::new(adapter_addr, posgate_grpc::AuthConfig::disabled());
    tokio::spawn(posgate_pos_kit::serve_adapter::<
        posgate_delivery::DeliveryConnector,
    >(delivery, adapter_listener, std::future::pending()));
    let dir = TempDir::new();
    let mut adapters = BTreeMap::new();
    adapters.insert("delivery".to_string(), format!("http://{adapter_addr}"));
    let cfg = PaymentsConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", dir.0.join("p.db").display()),
        pay_wait_ms: 5_000,
        retry: fast(40),
        reconcile: fast(20),
        reconcile_settle_ms,
        lease_ms: 30_000,
        poll_interval_ms: 50,
        adapter_timeout_ms: 10_000,
        adapters,
        auth: posgate_grpc::AuthConfig::disabled(),
        secrets: posgate_payments::secrets::SecretsConfig::dev(),
        ..PaymentsConfig::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let svc = PaymentsService::build(cfg).await.unwrap();
    tokio::spawn(svc.serve(listener, std::future::pending()));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    RestaurantServiceClient::new(channel.clone())
        .create_restaurant(pb::CreateRestaurantRequest {
            restaurant_id: DL.into(),
            spec: Some(restaurant),
        })
        .await
        .expect("declare the restaurant");
    (PaymentServiceClient::new(channel), dir)
}

/// A temporary directory, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "posgate-delivery-e2e-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

/// A unique-enough suffix for the temporary directory.
fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
