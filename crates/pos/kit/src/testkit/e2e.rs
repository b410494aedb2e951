//! End to end (feature `e2e`): the real payment service in front of an adapter, each on its own
//! loopback port over real gRPC, its restaurants declared in its registry as an operator does.
//!
//! Why it exists: every POS crate proves its adapter under the payment service (exactly once,
//! retries, reconciliation) the same way; what differs is the POS, its restaurants and the
//! service's timings, which the test gives.

use std::path::PathBuf;
use std::time::Duration;

use posgate_core::RetryPolicy;
use posgate_payments::{PaymentsConfig, PaymentsService};
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::restaurant_service_client::RestaurantServiceClient;
use posgate_proto::v1::{
    CreateRestaurantRequest, GetPaymentRequest, Payment, PaymentState, PosConnection,
    RestaurantSpec,
};
use tonic::transport::Channel;

use super::Client;

/// Retries that start after `initial_ms` and grow by half up to `max_delay_ms`.
pub fn fast(initial_ms: u64, max_delay_ms: u64, max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        initial_ms,
        multiplier_pct: 150,
        max_delay_ms,
        max_attempts,
        jitter_pct: 10,
    }
}

/// The payment service's configuration for a test: the adapter of `pos_kind` reached through
/// `adapter`, quick polling, no callers' tokens, development keys; the database is set by
/// [`Service::start`].
pub fn config(pos_kind: &str, adapter: &Client) -> PaymentsConfig {
    PaymentsConfig {
        listen: "127.0.0.1:0".parse().expect("a loopback address"),
        pay_wait_ms: 5_000,
        lease_ms: 30_000,
        poll_interval_ms: 50,
        adapter_timeout_ms: 10_000,
        adapters: [(pos_kind.to_string(), adapter.url())].into(),
        auth: posgate_grpc::AuthConfig::disabled(),
        secrets: posgate_payments::secrets::SecretsConfig::dev(),
        ..PaymentsConfig::default()
    }
}

/// A restaurant of `pos_kind` as an operator declares it, its POS settings and secrets those
/// of `conn` (currency `UAH`).
pub fn restaurant(pos_kind: &str, display_name: &str, conn: &PosConnection) -> RestaurantSpec {
    RestaurantSpec {
        display_name: display_name.into(),
        pos_kind: pos_kind.into(),
        currency: "UAH".into(),
        currency_scale: conn.currency_scale,
        pos_settings: conn.settings.clone(),
        pos_secrets: conn.secrets.clone(),
        expirenza: None,
    }
}

/// The payment service, on a temporary SQLite file removed when this is dropped.
pub struct Service {
    pub payments: PaymentServiceClient<Channel>,
    pub registry: RestaurantServiceClient<Channel>,
    dir: PathBuf,
}

impl Service {
    /// Starts the payment service with `cfg` (its database in a fresh directory) and connects.
    pub async fn start(mut cfg: PaymentsConfig) -> Service {
        let dir = temp_dir();
        cfg.database_url = format!("sqlite://{}", dir.join("p.db").display());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the payment service's port");
        let addr = listener
            .local_addr()
            .expect("the payment service's address");
        let service = PaymentsService::build(cfg)
            .await
            .expect("the payment service");
        tokio::spawn(service.serve(listener, std::future::pending()));
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("the payment service's URL")
            .timeout(Duration::from_secs(20));
        for _ in 0..200 {
            if let Ok(ch) = endpoint.connect().await {
                return Service {
                    payments: PaymentServiceClient::new(ch.clone()),
                    registry: RestaurantServiceClient::new(ch),
                    dir,
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the payment service did not start on {addr}");
    }

    /// Declares `spec` as `restaurant_id` in the registry.
    pub async fn declare(&mut self, restaurant_id: &str, spec: RestaurantSpec) {
        self.registry
            .create_restaurant(CreateRestaurantRequest {
                restaurant_id: restaurant_id.into(),
                spec: Some(spec),
            })
            .await
            .unwrap_or_else(|s| panic!("declaring {restaurant_id}: {s:?}"));
    }

    /// The payment once it is final (within ten seconds).
    pub async fn wait_final(&mut self, payment_id: &str) -> Payment {
        wait_final(&mut self.payments, payment_id).await
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The payment once it is final (within ten seconds).
pub async fn wait_final(c: &mut PaymentServiceClient<Channel>, payment_id: &str) -> Payment {
    let mut last = None;
    for _ in 0..200 {
        let p = c
            .get_payment(GetPaymentRequest {
                payment_id: payment_id.into(),
            })
            .await
            .expect("GetPayment")
            .into_inner();
        if p.r#final {
            return p;
        }
        last = Some(p);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("payment {payment_id} never became final: {last:?}");
}

pub fn state(p: &Payment) -> PaymentState {
    PaymentState::try_from(p.state).unwrap_or(PaymentState::Unspecified)
}

/// A fresh directory of this process's.
fn temp_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("posgate-e2e-{}-{nanos}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
