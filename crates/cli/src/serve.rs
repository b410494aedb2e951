//! `posgate serve <service>`: one service per process, from one binary — what a container runs,
//! and what the crash tests start and kill.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use posgate_grpc::LogFormat;
use posgate_payments::{PaymentsConfig, PaymentsService};
use tokio::net::TcpListener;

#[derive(Clone, Copy, ValueEnum)]
pub enum Service {
    /// The payment service (gRPC PaymentService), section [payments].
    Payments,
    /// The r_keeper WSA adapter (gRPC PosAdapter), section [wsa].
    Wsa,
    /// The r_k Delivery adapter (gRPC PosAdapter), section [delivery].
    Delivery,
    /// The Tillypad adapter (gRPC PosAdapter), section [tillypad].
    Tillypad,
    /// The Expirenza callback adapter (WebSocket client of Expirenza), section [expirenza].
    Expirenza,
    /// Every simulator on one port (HTTP and WebSocket), `--listen`.
    Sim,
}

#[derive(Args)]
pub struct ServeArgs {
    service: Service,
    /// posgate TOML file (each service reads its section; env vars override).
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address of the simulator.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Seed the simulator's demo restaurants and bills.
    #[arg(long)]
    demo: bool,
    /// Admin HTTP port (/metrics, /livez, /readyz) of an adapter or the Expirenza adapter. The
    /// payment service takes `[payments] admin_listen` (this flag overrides it).
    #[arg(long, env = "POSGATE_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
}

pub use posgate_grpc::shutdown_signal;

pub async fn run(a: ServeArgs, log_format: Option<LogFormat>) -> anyhow::Result<()> {
    let path = a.config.as_deref();
    posgate_grpc::init_logging(log_format, path)?;
    match a.service {
        Service::Payments => {
            let mut cfg = PaymentsConfig::load(path)?;
            if a.admin_listen.is_some() {
                cfg.admin_listen = a.admin_listen;
            }
            let listener = TcpListener::bind(cfg.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "payment service listening");
            PaymentsService::build(cfg)
                .await?
                .serve(listener, shutdown_signal())
                .await
        }
        Service::Wsa => {
            let cfg = posgate_wsa::load_config(path)?;
            let listener = TcpListener::bind(cfg.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "WSA adapter listening");
            with_admin("wsa", a.admin_listen, |stop| {
                posgate_wsa::serve(cfg, listener, stop)
            })
            .await
        }
        Service::Delivery => {
            let cfg = posgate_delivery::load_config(path)?;
            let listener = TcpListener::bind(cfg.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "r_k Delivery adapter listening");
            with_admin("delivery", a.admin_listen, |stop| {
                posgate_delivery::serve(cfg, listener, stop)
            })
            .await
        }
        Service::Tillypad => {
            let cfg = posgate_tillypad::load_config(path)?;
            let listener = TcpListener::bind(cfg.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "Tillypad adapter listening");
            with_admin("tillypad", a.admin_listen, |stop| {
                posgate_tillypad::serve(cfg, listener, stop)
            })
            .await
        }
        Service::Expirenza => {
            let cfg = posgate_expirenza::load_config(path)?;
            with_admin("expirenza", a.admin_listen, |stop| {
                posgate_expirenza::run(cfg, stop)
            })
            .await
        }
        Service::Sim => {
            let sim = if a.demo {
                posgate_sim::all::Simulators::with_demo_data()
            } else {
                posgate_sim::all::Simulators::default()
            };
            let listener = TcpListener::bind(a.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "simulators listening");
            sim.serve_with_shutdown(listener, shutdown_signal())
                .await
                .map_err(Into::into)
        }
    }
}

/// Runs a service that has no admin port of its own (the adapters, the Expirenza adapter) with
/// one on `admin`, when given: `/metrics` of the process, `/livez`, and `/readyz` saying
/// SERVING while the service runs and NOT_SERVING from the stop signal on.
async fn with_admin<F>(
    name: &str,
    admin: Option<SocketAddr>,
    service: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let Some(addr) = admin else {
        return service(Box::pin(shutdown_signal())).await;
    };
    let listener = posgate_grpc::admin::bind(addr).await?;
    let health = posgate_grpc::Health::standalone(name);
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = tokio::spawn(posgate_grpc::admin::serve(
        listener,
        vec![health.clone()],
        async move {
            let _ = admin_stopped.await;
        },
    ));
    health.set(posgate_grpc::Readiness::Serving).await;
    let result = service(Box::pin(health.draining_on(shutdown_signal()))).await;
    let _ = stop_admin.send(());
    let _ = admin.await;
    result
}
