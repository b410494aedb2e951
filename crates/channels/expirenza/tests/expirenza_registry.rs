//! Restaurants declared at run time reach Expirenza without a restart: an operator declares a
//! restaurant with an Expirenza channel through `RestaurantService`; the adapter (whose config
//! names no restaurant) learns it from `ChannelService`, connects, takes a guest payment, and
//! disconnects when the restaurant is disabled. Real gRPC, WebSocket and HTTP
//! (`posgate_tests::Stack` + the Expirenza platform simulator).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use posgate_expirenza::ExpirenzaConfig;
use posgate_grpc::{AuthConfig, CallerToken};
use posgate_proto::v1::channel_service_client::ChannelServiceClient;
use posgate_proto::v1::restaurant_service_client::RestaurantServiceClient;
use posgate_proto::v1::{self as pb};
use posgate_sim::expirenza::{DEMO_RESTO_ID, DEMO_SECRET_KEY, ExpirenzaSim, PaymentStatus};
use posgate_sim::wsa::{DEMO_CURRENCY_GUID, DEMO_OBJECT_ID, DEMO_TOKEN};
use posgate_tests::{CLI_TOKEN, EXPIRENZA_TOKEN, OPERATOR_TOKEN, Stack};
use rust_decimal::Decimal;
use tokio::sync::watch;
use tonic::Code;
use tonic::transport::Channel;

const T: Duration = Duration::from_secs(15);

fn channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// A WSA restaurant on the stack's simulator whose guests pay through Expirenza at `exp`.
fn spec(stack: &Stack, exp: SocketAddr) -> pb::RestaurantSpec {
    let map = |kv: &[(&str, String)]| -> HashMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    pb::RestaurantSpec {
        display_name: "Registry café".into(),
        pos_kind: "wsa".into(),
        currency: "UAH".into(),
        currency_scale: 2,
        pos_settings: map(&[
            ("base_url", format!("http://{}", stack.sim_addr)),
            ("object_id", DEMO_OBJECT_ID.to_string()),
            ("agent_version", "v2".into()),
            ("currency_guid", DEMO_CURRENCY_GUID.into()),
            ("mode", "sync".into()),
        ]),
        pos_secrets: map(&[("token", DEMO_TOKEN.into())]),
        expirenza: Some(pb::ExpirenzaChannel {
            resto_id: DEMO_RESTO_ID.into(),
            ws_url: format!("ws://{exp}/restaurantEntryPoint"),
            callback_base_url: format!("http://{exp}"),
            secret_key: DEMO_SECRET_KEY.into(),
            tips: "none".into(),
            tables: Vec::new(),
        }),
    }
}

/// The adapter's `/readyz`: status and body.
async fn readyz(admin: SocketAddr) -> (u16, String) {
    let r = reqwest::get(format!("http://{admin}/readyz"))
        .await
        .expect("the admin port answers");
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + T;
    while !ok() {
        assert!(tokio::time::Instant::now() < end, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_restaurant_is_connected_paid_and_disconnected_when_disabled() {
    let stack = Stack::start().await;
    let exp = ExpirenzaSim::with_demo_data();
    exp.update_settings(|s| {
        s.retry_interval_ms = 300;
        s.max_attempts = 30;
    });
    let exp_addr = exp.clone().spawn().await.expect("bind expirenza sim");

    // The adapter: service settings only.
    let cfg = ExpirenzaConfig {
        payments_url: format!("http://{}", stack.payments_addr),
        shutdown_grace_ms: 1_000,
        auth: AuthConfig::with_tokens([(posgate_expirenza::CALLER_NAME, EXPIRENZA_TOKEN)]),
        ..ExpirenzaConfig::default()
    };
    let (_stop, mut rx) = watch::channel(false);
    tokio::spawn(posgate_expirenza::run(cfg, async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!exp.connected(DEMO_RESTO_ID), "nothing declared yet");

    let mut registry = RestaurantServiceClient::with_interceptor(
        channel(stack.payments_addr),
        CallerToken::bearer(OPERATOR_TOKEN),
    );
    registry
        .create_restaurant(pb::CreateRestaurantRequest {
            restaurant_id: "exp-1".into(),
            spec: Some(spec(&stack, exp_addr)),
        })
        .await
        .expect("declare");
    assert!(
        exp.wait_connected(DEMO_RESTO_ID, T).await,
        "the adapter connects the declared restaurant"
    );

    let bill = stack.add_order(DEMO_OBJECT_ID, "500.00");
    let p = exp
        .pay(DEMO_RESTO_ID, &bill, dec("500.00"), Decimal::ZERO)
        .expect("pay");
    let done = exp
        .wait_payment_settled(&p.id, T)
        .await
        .unwrap_or_else(|| panic!("not settled: {:?}", exp.payment(&p.id)));
    assert_eq!(done.status, PaymentStatus::Succeeded, "{done:?}");
    let card: Vec<Decimal> = stack
        .sim
        .ledger()
        .iter()
        .filter(|l| l.order_guid == bill && l.currency == DEMO_CURRENCY_GUID)
        .map(|l| l.amount)
        .collect();
    assert_eq!(card, [dec("500.00")], "posted once, by card");
    // Paid as the registry's restaurant.
    let ours = stack
        .client()
        .list_payments(pb::ListPaymentsRequest {
            restaurant_id: "exp-1".into(),
            bill_id: bill.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .payments;
    assert_eq!(ours.len(), 1);

    // A change (new version) reconnects with the new settings; the stored key is kept.
    assert_eq!(exp.connections().len(), 1);
    let mut changed = spec(&stack, exp_addr);
    if let Some(c) = changed.expirenza.as_mut() {
        c.tips = "separate".into();
        c.secret_key.clear();
    }
    registry
        .update_restaurant(pb::UpdateRestaurantRequest {
            restaurant_id: "exp-1".into(),
            spec: Some(changed),
            ..Default::default()
        })
        .await
        .expect("update");
    wait_until("the change reconnects", || {
        let c = exp.connections();
        c.len() == 2 && c.iter().filter(|c| c.closed_at_ms.is_none()).count() == 1
    })
    .await;
    assert!(exp.wait_connected(DEMO_RESTO_ID, T).await);

    registry
        .disable_restaurant(pb::DisableRestaurantRequest {
            restaurant_id: "exp-1".into(),
        })
        .await
        .expect("disable");
    wait_until("disabling disconnects", || !exp.connected(DEMO_RESTO_ID)).await;
    // And it stays disconnected (no reconnection loop left behind).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(!exp.connected(DEMO_RESTO_ID));
}

/// A payment service that is down is not a disable: the adapter asks again (backoff) until one
/// answers, and keeps its restaurants connected while none does; the stream ends when the
/// payment service shuts down, so a graceful shutdown is not held up by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_waits_for_the_payment_service_and_keeps_its_restaurants_through_an_outage() {
    let stack = Stack::start().await;
    let exp = ExpirenzaSim::with_demo_data();
    let exp_addr = exp.clone().spawn().await.expect("bind expirenza sim");
    RestaurantServiceClient::with_interceptor(
        channel(stack.payments_addr),
        CallerToken::bearer(OPERATOR_TOKEN),
    )
    .create_restaurant(pb::CreateRestaurantRequest {
        restaurant_id: "exp-3".into(),
        spec: Some(spec(&stack, exp_addr)),
    })
    .await
    .expect("declare");

    // The adapter's payment service is not up yet.
    let addr = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let admin = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let cfg = ExpirenzaConfig {
        payments_url: format!("http://{addr}"),
        shutdown_grace_ms: 1_000,
        admin_listen: Some(admin),
        auth: AuthConfig::with_tokens([(posgate_expirenza::CALLER_NAME, EXPIRENZA_TOKEN)]),
        ..ExpirenzaConfig::default()
    };
    let (_stop, mut rx) = watch::channel(false);
    tokio::spawn(posgate_expirenza::run_with_admin(cfg, async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(!exp.connected(DEMO_RESTO_ID));
    // Not ready while the registry cannot be followed, and saying why.
    let (status, body) = readyz(admin).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("expirenza: not serving: registry: "),
        "{body}"
    );

    // A replica on the same database comes up where the adapter looks.
    let svc = posgate_payments::PaymentsService::build(
        posgate_payments::PaymentsConfig::load(Some(&stack.config_path)).unwrap(),
    )
    .await
    .unwrap();
    let (down, down_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    let served = tokio::spawn(svc.serve(listener, {
        let mut rx = down_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }));
    assert!(
        exp.wait_connected(DEMO_RESTO_ID, T).await,
        "connects once the payment service answers"
    );
    let end = tokio::time::Instant::now() + T;
    loop {
        let r = readyz(admin).await;
        if r == (200, "expirenza: serving\n".to_string()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "ready once it follows the registry: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let _ = down.send(true);
    let ended = tokio::time::timeout(Duration::from_secs(8), served).await;
    assert!(
        ended.is_ok(),
        "the payment service shuts down although the adapter is watching"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, body) = readyz(admin).await;
    assert_eq!(status, 503, "not ready while the registry is down: {body}");
    assert!(body.contains("registry: "), "{body}");
    assert!(exp.connected(DEMO_RESTO_ID), "kept through the outage");
    assert_eq!(exp.connections().len(), 1, "not even reconnected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_expirenza_adapter_may_watch_the_channels_and_it_gets_the_key() {
    let stack = Stack::start().await;
    let exp: SocketAddr = "127.0.0.1:9".parse().unwrap();
    RestaurantServiceClient::with_interceptor(
        channel(stack.payments_addr),
        CallerToken::bearer(OPERATOR_TOKEN),
    )
    .create_restaurant(pb::CreateRestaurantRequest {
        restaurant_id: "exp-2".into(),
        spec: Some(spec(&stack, exp)),
    })
    .await
    .expect("declare");

    for (who, token) in [("cli", CLI_TOKEN), ("operator", OPERATOR_TOKEN)] {
        let err = ChannelServiceClient::with_interceptor(
            channel(stack.payments_addr),
            CallerToken::bearer(token),
        )
        .watch_expirenza_channels(pb::WatchExpirenzaChannelsRequest {})
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{who}");
        assert!(!err.message().contains(DEMO_SECRET_KEY));
    }

    let mut stream = ChannelServiceClient::with_interceptor(
        channel(stack.payments_addr),
        CallerToken::bearer(EXPIRENZA_TOKEN),
    )
    .watch_expirenza_channels(pb::WatchExpirenzaChannelsRequest {})
    .await
    .expect("watch")
    .into_inner();
    let first = stream.message().await.unwrap().expect("the set at once");
    assert_eq!(first.channels.len(), 1, "{:?}", first.channels.len());
    let c = &first.channels[0];
    assert_eq!(
        (c.restaurant_id.as_str(), c.version, c.resto_id.as_str()),
        ("exp-2", 1, DEMO_RESTO_ID)
    );
    assert_eq!(c.secret_key, DEMO_SECRET_KEY);
    assert_eq!(c.tips, "none");
}
