//! posgate's payment service: the gRPC API internal services call to post an already-captured
//! payment to a restaurant's POS and close the bill, exactly once.
//!
//! - [`store`]: durable state (SQLite embedded; the schema is plain SQL for PostgreSQL later).
//! - [`engine`]: drives payments through the POS adapters with leases, retries, reconciliation.
//! - [`service`]: the `PaymentService` gRPC API.
//! - [`registry`]: the restaurant registry's durable state (secrets sealed), and
//!   [`restaurants`]: its `RestaurantService` gRPC API (operators only).
//! - [`channels`]: `ChannelService`, the registry's Expirenza channels streamed to the
//!   Expirenza adapter (its only caller).
//! - [`port`]: the engine's one door to a POS ([`port::PosPort`]), and its gRPC implementation.
//! - [`adapters`]: routing restaurants to their POS adapter over gRPC.
//! - [`metric_definitions`]: the service's Prometheus metrics, named and described once.

pub mod adapters;
pub mod channels;
pub mod config;
pub mod convert;
pub mod engine;
pub mod metric_definitions;
pub mod notify;
pub mod port;
pub mod registry;
pub mod restaurants;
pub mod service;
pub mod store;
mod writer;

use std::future::Future;
use std::sync::Arc;

use posgate_proto::v1::channel_service_server::ChannelServiceServer;
use posgate_proto::v1::payment_service_server::PaymentServiceServer;
use posgate_proto::v1::restaurant_service_server::RestaurantServiceServer;
use std::time::Duration;

use posgate_grpc::{Health, Readiness};
use tokio::net::TcpListener;
use tonic::server::NamedService;

pub use config::PaymentsConfig;
pub use posgate_secrets as secrets;
pub use service::PaymentsApi;

/// Largest gRPC message we take: a pay request is a few KB.
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// The payment service, built and ready to serve.
pub struct PaymentsService {
    api: PaymentsApi,
    engine: Arc<engine::Engine>,
    health: Health,
}

impl PaymentsService {
    /// Opens the store and wires the engine. Nothing runs until [`PaymentsService::serve`].
    pub async fn build(cfg: PaymentsConfig) -> anyhow::Result<PaymentsService> {
        cfg.check()?;
        cfg.metrics.apply();
        let cfg = Arc::new(cfg);
        let keys = Arc::new(cfg.secrets.keyring()?);
        let store = store::Store::open(&cfg.database_url, keys).await?;
        let adapters = adapters::Adapters::new(&cfg, store.registry())?;
        let notifier = Arc::new(notify::Notifier::default());
        let engine = engine::Engine::new(
            store.clone(),
            Arc::new(port::GrpcPos::new(adapters.clone())),
            Arc::clone(&notifier),
            Arc::clone(&cfg),
        );
        let api = PaymentsApi {
            store,
            engine: Arc::clone(&engine),
            notifier,
            adapters,
            cfg,
        };
        let health = Health::new("payments", SERVICES).await;
        Ok(PaymentsService {
            api,
            engine,
            health,
        })
    }

    pub fn store(&self) -> &store::Store {
        &self.api.store
    }

    /// Its health (what its gRPC health service and `/readyz` answer): `NOT_SERVING` until it
    /// serves and its database answers. For a process that serves one admin port for several
    /// services (`posgate up`).
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Serves gRPC on `listener` and runs the engine until `shutdown` resolves, with server
    /// reflection for authenticated callers. The standard health service answers without a token: `SERVING` while the database answers and is
    /// migrated (checked every `health_interval_ms`), `NOT_SERVING` from the moment `shutdown`
    /// resolves (the server goes on answering for `drain_ms`, then stops taking calls while
    /// the engine finishes its in-flight POS calls).
    ///
    /// With `[payments] admin_listen`, the admin HTTP port serves `/metrics`, `/livez` and
    /// `/readyz` until the service has stopped (so `/readyz` says "draining" meanwhile).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let admin = match self.api.cfg.admin_listen {
            Some(addr) => Some(posgate_grpc::admin::bind(addr).await?),
            None => None,
        };
        self.serve_with_admin(listener, admin, shutdown).await
    }

    /// [`PaymentsService::serve`] with the admin port on `admin` (already bound) instead of
    /// `[payments] admin_listen`.
    pub async fn serve_with_admin(
        self,
        listener: TcpListener,
        admin: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        if posgate_grpc::metrics::install().is_some() {
            metric_definitions::describe_metrics();
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let engine = tokio::spawn(Arc::clone(&self.engine).run({
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        }));
        let auth = self.api.cfg.auth.layer("payments")?;
        let health = self.health.clone();
        let health_service = health.grpc_service();
        let (reflection_v1, reflection_v1alpha) = posgate_grpc::reflection(SERVICES)?;
        check_database(&self.api.store, &health).await;
        let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
        let admin = admin.map(|l| {
            tokio::spawn(posgate_grpc::admin::serve(
                l,
                vec![health.clone()],
                async move {
                    let _ = admin_stopped.await;
                },
            ))
        });
        let probe = tokio::spawn(watch_database(
            self.api.store.clone(),
            health.clone(),
            Duration::from_millis(self.api.cfg.health_interval_ms.max(100)),
        ));
        let drain = Duration::from_millis(self.api.cfg.drain_ms);
        let restaurants = RestaurantServiceServer::new(restaurants::RestaurantsApi {
            registry: self.api.store.registry(),
            cfg: Arc::clone(&self.api.cfg),
            adapters: self.api.adapters.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let channels = ChannelServiceServer::new(channels::ChannelsApi {
            registry: self.api.store.registry(),
            stopping: stop_rx.clone(),
        })
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let server =
            PaymentServiceServer::new(self.api).max_decoding_message_size(MAX_MESSAGE_BYTES);
        let stopping = health.draining_on(shutdown);
        let result = posgate_grpc::server_named("payments")
            .layer(auth)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(server)
            .add_service(restaurants)
            .add_service(channels)
            .serve_with_incoming_shutdown(posgate_grpc::incoming(listener), async move {
                stopping.await;
                if !drain.is_zero() {
                    tracing::info!(
                        drain_ms = drain.as_millis() as u64,
                        "health NOT_SERVING; still answering while callers move away"
                    );
                    tokio::time::sleep(drain).await;
                }
                let _ = stop_tx.send(true);
            })
            .await;
        probe.abort();
        let _ = engine.await;
        let _ = admin_stop.send(());
        if let Some(a) = admin {
            let _ = a.await;
        }
        result.map_err(Into::into)
    }
}

/// The gRPC services the payment service serves, as the health service names them.
const SERVICES: &[&str] = &[
    <PaymentServiceServer<PaymentsApi> as NamedService>::NAME,
    <RestaurantServiceServer<restaurants::RestaurantsApi> as NamedService>::NAME,
    <ChannelServiceServer<channels::ChannelsApi> as NamedService>::NAME,
];

/// Sets the health status from the database: `SERVING` while it answers and is migrated, else
/// `NOT_SERVING` naming why; and the database gauges of the metrics page.
async fn check_database(store: &store::Store, health: &Health) {
    let started = std::time::Instant::now();
    match store.check_health(&metric_definitions::OPEN_STATES).await {
        Ok(open) => {
            health.set(Readiness::Serving).await;
            metric_definitions::database(&open, engine::now_ms(), store.pool_stats());
        }
        Err(e) => {
            health
                .set(Readiness::NotServing(format!("database: {e}")))
                .await
        }
    }
    metrics::histogram!(metric_definitions::DB_CHECK_DURATION)
        .record(started.elapsed().as_secs_f64());
}

/// Checks the database every `every`, until aborted.
async fn watch_database(store: store::Store, health: Health, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        check_database(&store, &health).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(secrets: secrets::SecretsConfig) -> PaymentsConfig {
        PaymentsConfig {
            database_url: "sqlite::memory:".into(),
            auth: posgate_grpc::AuthConfig::disabled(),
            secrets,
            ..PaymentsConfig::default()
        }
    }

    #[tokio::test]
    async fn without_a_key_the_service_refuses_to_start_naming_the_setting() {
        let Err(e) = PaymentsService::build(cfg(secrets::SecretsConfig::default())).await else {
            panic!("started without a key")
        };
        let e = e.to_string();
        assert!(
            e.contains("[secrets] active") && e.contains("POSGATE_SECRETS__KEYS__"),
            "{e}"
        );
        assert!(
            PaymentsService::build(cfg(secrets::SecretsConfig::dev()))
                .await
                .is_ok()
        );
    }
}
