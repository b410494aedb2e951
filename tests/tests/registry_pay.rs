//! A restaurant of every POS kind declared at run time and paid without a restart: the
//! registry routes the payment and sends the POS connection with every adapter call; the
//! adapters know no restaurant of their own. Two payment-service replicas, SQLite and
//! PostgreSQL.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use posgate_grpc::CallerToken;
use posgate_payments::{PaymentsConfig, PaymentsService};
use posgate_proto::v1::restaurant_service_client::RestaurantServiceClient;
use posgate_proto::v1::{self as pb, PaymentState as S};
use posgate_sim::all::Simulators;
use posgate_sim::delivery::LedgerKind;
use posgate_tests::{CLI_TOKEN, OPERATOR_TOKEN, PAYMENTS_TOKEN, client_for, fresh_postgres, pay};
use tokio::net::TcpListener;

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

/// The simulators, the three adapters with no restaurant sections, and two payment replicas.
async fn start(db: &str, dir: &std::path::Path) -> (Simulators, Vec<SocketAddr>, SocketAddr) {
    let sims = Simulators::with_demo_data();
    let (sl, sim) = listener().await;
    tokio::spawn(sims.clone().serve_with_shutdown(sl, std::future::pending()));
    let (wl, wsa) = listener().await;
    let (dl, delivery) = listener().await;
    let (tl, tillypad) = listener().await;
    let config = dir.join("posgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[auth]
tokens = {{ payments = "{PAYMENTS_TOKEN}", cli = "{CLI_TOKEN}", operator = "{OPERATOR_TOKEN}" }}
[secrets]
active = "t1"
keys = {{ t1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" }}
[payments]
listen = "127.0.0.1:0"
database_url = "{db}"
pay_wait_ms = 10000
poll_interval_ms = 50
lease_ms = 5000
[payments.retry]
initial_ms = 100
max_attempts = 5
[payments.adapters]
wsa = "http://{wsa}"
delivery = "http://{delivery}"
tillypad = "http://{tillypad}"
[wsa]
listen = "{wsa}"
[delivery]
listen = "{delivery}"
[tillypad]
listen = "{tillypad}"
"#
        ),
    )
    .unwrap();
    let path = Some(config.as_path());
    let never = || std::future::pending::<()>();
    tokio::spawn(posgate_pos_kit::serve_adapter::<posgate_wsa::WsaConnector>(
        posgate_pos_kit::load_config::<posgate_wsa::WsaConnector>(path).unwrap(),
        wl,
        never(),
    ));
    tokio::spawn(posgate_pos_kit::serve_adapter::<
        posgate_delivery::DeliveryConnector,
    >(
        posgate_pos_kit::load_config::<posgate_delivery::DeliveryConnector>(path).unwrap(),
        dl,
        never(),
    ));
    tokio::spawn(posgate_pos_kit::serve_adapter::<
        posgate_tillypad::TillypadConnector,
    >(
        posgate_pos_kit::load_config::<posgate_tillypad::TillypadConnector>(path).unwrap(),
        tl,
        never(),
    ));
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let (pl, addr) = listener().await;
        let svc = PaymentsService::build(PaymentsConfig::load(path).unwrap())
            .await
            .unwrap();
        tokio::spawn(svc.serve(pl, never()));
        replicas.push(addr);
    }
    (sims, replicas, sim)
}

fn map(kv: &[(&str, String)]) -> HashMap<String, String> {
    kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// The three demo restaurants of the simulators, as an operator declares them.
fn restaurants(sim: SocketAddr) -> Vec<(&'static str, pb::RestaurantSpec)> {
    let base = format!("http://{sim}");
    let spec = |kind: &str, settings, secrets| pb::RestaurantSpec {
        display_name: format!("{kind} restaurant"),
        pos_kind: kind.into(),
        currency: "UAH".into(),
        currency_scale: 2,
        pos_settings: settings,
        pos_secrets: secrets,
        expirenza: None,
    };
    vec![
        (
            "rk-1",
            spec(
                "wsa",
                map(&[
                    ("base_url", base.clone()),
                    ("object_id", posgate_sim::wsa::DEMO_OBJECT_ID.to_string()),
                    ("agent_version", "v2".into()),
                    ("currency_guid", posgate_sim::wsa::DEMO_CURRENCY_GUID.into()),
                    ("mode", "sync".into()),
                ]),
                map(&[("token", posgate_sim::wsa::DEMO_TOKEN.into())]),
            ),
        ),
        (
            "dl-1",
            spec(
                "delivery",
                map(&[
                    ("base_url", base.clone()),
                    ("auth_url", base.clone()),
                    ("client_id", posgate_sim::delivery::DEMO_CLIENT_ID.into()),
                    (
                        "currency_guid",
                        posgate_sim::delivery::DEMO_CURRENCY_GUID.into(),
                    ),
                    ("utc_offset", "+03:00".into()),
                ]),
                map(&[(
                    "client_secret",
                    posgate_sim::delivery::DEMO_CLIENT_SECRET.into(),
                )]),
            ),
        ),
        (
            "tp-1",
            spec(
                "tillypad",
                map(&[
                    ("base_url", base),
                    (
                        "default_pay_type_id",
                        posgate_sim::tillypad::DEMO_PAY_TYPE_ID.into(),
                    ),
                ]),
                HashMap::new(),
            ),
        ),
    ]
}

async fn every_pos_kind_declared_at_run_time_pays_without_a_restart(
    db: &str,
    dir: &std::path::Path,
) {
    let (sims, replicas, sim) = start(db, dir).await;
    // Declared through one replica...
    let mut registry = RestaurantServiceClient::with_interceptor(
        tonic::transport::Channel::from_shared(format!("http://{}", replicas[0]))
            .unwrap()
            .connect_lazy(),
        CallerToken::bearer(OPERATOR_TOKEN),
    );
    for (id, spec) in restaurants(sim) {
        registry
            .create_restaurant(pb::CreateRestaurantRequest {
                restaurant_id: id.into(),
                spec: Some(spec),
            })
            .await
            .unwrap_or_else(|e| panic!("{id}: {e:?}"));
    }
    // ...and paid through the other, at once.
    let mut c = client_for(replicas[1], CLI_TOKEN);
    let bills = [
        ("rk-1", posgate_sim::wsa::DEMO_ORDER_978, "978.00"),
        ("dl-1", posgate_sim::delivery::DEMO_ORDER_1290, "1290.00"),
        ("tp-1", posgate_sim::tillypad::DEMO_TAB_978, "978.00"),
    ];
    for (restaurant, bill, amount) in bills {
        let p = c
            .pay_bill(pay(&format!("reg-{restaurant}"), restaurant, bill, amount))
            .await
            .unwrap_or_else(|e| panic!("{restaurant}: {e:?}"))
            .into_inner();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut p = p;
        while !p.r#final {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{restaurant}: {p:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            p = c
                .get_payment(pb::GetPaymentRequest {
                    payment_id: p.payment_id.clone(),
                })
                .await
                .unwrap()
                .into_inner();
        }
        assert_eq!(p.state, S::Closed as i32, "{restaurant}: {p:?}");
    }
    // Each POS booked its payment once.
    assert_eq!(sims.wsa.ledger().len(), 1);
    assert_eq!(
        sims.delivery
            .ledger()
            .iter()
            .filter(|l| matches!(l.kind, LedgerKind::Pay))
            .count(),
        1
    );
    assert_eq!(sims.tillypad.ledger().len(), 1);

    // A disabled restaurant takes no new payment, on either replica.
    registry
        .disable_restaurant(pb::DisableRestaurantRequest {
            restaurant_id: "rk-1".into(),
        })
        .await
        .unwrap();
    let err = client_for(replicas[0], CLI_TOKEN)
        .pay_bill(pay(
            "reg-after-disable",
            "rk-1",
            posgate_sim::wsa::DEMO_ORDER_1450_50,
            "1450.50",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("disabled"), "{}", err.message());
    // A repeat of a payment accepted before still answers with it: nothing accepted is lost.
    let again = client_for(replicas[0], CLI_TOKEN)
        .pay_bill(pay(
            "reg-rk-1",
            "rk-1",
            posgate_sim::wsa::DEMO_ORDER_978,
            "978.00",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.state, S::Closed as i32, "{again:?}");
    assert_eq!(sims.wsa.ledger().len(), 1, "not posted again");

    // Enabled again, it takes payments again, on the other replica at once.
    let on = registry
        .enable_restaurant(pb::EnableRestaurantRequest {
            restaurant_id: "rk-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(on.enabled);
    let p = client_for(replicas[1], CLI_TOKEN)
        .pay_bill(pay(
            "reg-after-enable",
            "rk-1",
            posgate_sim::wsa::DEMO_ORDER_1450_50,
            "1450.50",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(p.state, S::NeedsAttention as i32, "{p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pos_kind_declared_at_run_time_pays_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("posgate-regpay-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("p.db").display());
    every_pos_kind_declared_at_run_time_pays_without_a_restart(&db, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_pos_kind_declared_at_run_time_pays_on_postgres() {
    let Some(pg) = fresh_postgres().await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("posgate-regpay-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    every_pos_kind_declared_at_run_time_pays_without_a_restart(&pg.url, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    pg.drop_db().await;
}
