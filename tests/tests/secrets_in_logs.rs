//! Secrets never reach logs: with every log line at TRACE captured (the `log` records of
//! dependencies too: tungstenite, hyper, h2, reqwest), a payment carrying a loyalty card code goes
//! through the payment service, the WSA adapter and the simulator; then the Expirenza adapter
//! connects a registry restaurant to the Expirenza platform simulator (the WebSocket handshake
//! with its Basic credentials) and a guest pays at the table through it (a signed callback).
//! None of the card code, the POS token, the Expirenza secret key or its Basic credentials, nor
//! a service's bearer token appears anywhere in what was logged.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use posgate_expirenza::ExpirenzaConfig;
use posgate_grpc::AuthConfig;
use posgate_proto::v1::{self as pb, PaymentState as S};
use posgate_sim::expirenza::{DEMO_RESTO_ID, DEMO_SECRET_KEY, ExpirenzaSim, PaymentStatus};
use posgate_sim::wsa::{DEMO_CURRENCY_GUID, DEMO_OBJECT_ID, DEMO_ORDER_2300, DEMO_TOKEN};
use posgate_tests::{
    CLI_TOKEN, EXPIRENZA_TOKEN, OPERATOR_TOKEN, PAYMENTS_TOKEN, Stack, pay, state,
};
use rust_decimal::Decimal;
use tokio::sync::watch;

const T: Duration = Duration::from_secs(15);

/// A WSA restaurant on the stack's simulator whose guests pay through Expirenza at `exp`.
fn expirenza_spec(stack: &Stack, exp: std::net::SocketAddr) -> pb::RestaurantSpec {
    let map = |kv: &[(&str, String)]| -> HashMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    pb::RestaurantSpec {
        display_name: "Secret café".into(),
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

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_codes_and_tokens_never_reach_the_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let s = Stack::start().await;
    const CARD: &str = "CARD-SECRET-4242-7777";
    let mut req = pay("secret", "demo", DEMO_ORDER_2300, "2300.00");
    req.tenders = vec![pb::Tender {
        tender_id: String::new(),
        amount: "2300.00".into(),
        card_code: CARD.into(),
    }];
    let p = s.client().pay_bill(req).await.unwrap().into_inner();
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(
        p.tenders[0].card_code, "****",
        "card codes are not echoed back"
    );
    let ledger = s.sim.ledger();
    assert!(
        ledger.iter().any(|l| l.card_code_present),
        "the card code reached the POS"
    );

    // The Expirenza adapter: the WebSocket handshake, then a guest paying at the table.
    let exp = ExpirenzaSim::with_demo_data();
    let exp_addr = exp.clone().spawn().await.expect("bind expirenza sim");
    s.add_restaurant("exp-secret", expirenza_spec(&s, exp_addr))
        .await;
    let cfg = ExpirenzaConfig {
        payments_url: format!("http://{}", s.payments_addr),
        shutdown_grace_ms: 1_000,
        auth: AuthConfig::with_tokens([(posgate_expirenza::CALLER_NAME, EXPIRENZA_TOKEN)]),
        ..ExpirenzaConfig::default()
    };
    let (stop, mut rx) = watch::channel(false);
    let adapter = tokio::spawn(posgate_expirenza::run(cfg, async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    assert!(
        exp.wait_connected(DEMO_RESTO_ID, T).await,
        "the adapter connects with its Basic credentials"
    );
    let bill = s.add_order(DEMO_OBJECT_ID, "500.00");
    let guest = exp
        .pay(
            DEMO_RESTO_ID,
            &bill,
            "500.00".parse().unwrap(),
            Decimal::ZERO,
        )
        .expect("a guest pays");
    let done = exp
        .wait_payment_settled(&guest.id, T)
        .await
        .unwrap_or_else(|| panic!("not settled: {:?}", exp.payment(&guest.id)));
    assert_eq!(done.status, PaymentStatus::Succeeded, "{done:?}");
    let _ = stop.send(true);
    let _ = tokio::time::timeout(T, adapter).await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    assert!(
        logs.len() > 1_000,
        "logs were captured ({} bytes)",
        logs.len()
    );
    assert!(
        logs.contains("payment accepted"),
        "our own lines are in the capture"
    );
    assert!(
        logs.contains("connected to Expirenza") && logs.contains("tungstenite"),
        "the handshake was logged, tungstenite's records included"
    );
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{DEMO_RESTO_ID}:{DEMO_SECRET_KEY}"));
    for (what, secret) in [
        ("card code", CARD),
        ("POS token", DEMO_TOKEN),
        ("Expirenza secret key", DEMO_SECRET_KEY),
        ("Expirenza Basic credentials", basic.as_str()),
        ("payment service's token", PAYMENTS_TOKEN),
        ("Expirenza adapter's token", EXPIRENZA_TOKEN),
        ("CLI token", CLI_TOKEN),
        ("operator token", OPERATOR_TOKEN),
    ] {
        assert!(!logs.contains(secret), "{what} leaked into the logs");
    }
}
