//! `posgate serve <service>`: one service per process, from one binary — what a container runs,
//! and what the crash tests start and kill.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use posgate_grpc::LogFormat;
use posgate_payments::{PaymentsConfig, PaymentsService};
use tokio::net::TcpListener;

/// What `posgate serve` runs: the payment service, the Expirenza channel, the simulators, or a
/// POS adapter of the registration list ([`crate::adapters::POS_ADAPTERS`]).
fn service_names() -> clap::builder::PossibleValuesParser {
    let mut names = vec!["payments", "expirenza", "sim"];
    names.extend(crate::adapters::POS_ADAPTERS.iter().map(|a| a.name));
    clap::builder::PossibleValuesParser::new(names)
}

#[derive(Args)]
pub struct ServeArgs {
    /// payments | expirenza | sim | a POS adapter (wsa, delivery, tillypad).
    #[arg(value_parser = service_names())]
    service: String,
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
    /// payment service takes `[payments] admin_listen`, the Expirenza adapter `[expirenza]
    /// admin_listen` (this flag overrides them).
    #[arg(long, env = "POSGATE_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
}

pub use posgate_grpc::shutdown_signal;

pub async fn run(a: ServeArgs, log_format: Option<LogFormat>) -> anyhow::Result<()> {
    let path = a.config.as_deref();
    posgate_grpc::init_logging(log_format, path)?;
    match a.service.as_str() {
        "payments" => {
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
        "expirenza" => {
            let mut cfg = posgate_expirenza::load_config(path)?;
            if a.admin_listen.is_some() {
                cfg.admin_listen = a.admin_listen;
            }
            // Its /readyz follows the registry stream, not just the process.
            posgate_expirenza::run_with_admin(cfg, shutdown_signal()).await
        }
        "sim" => {
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
        name => {
            let adapter = crate::adapters::named(name)
                .ok_or_else(|| anyhow::anyhow!("no service called {name:?}"))?;
            let cfg = (adapter.load)(path)?;
            let listener = TcpListener::bind(cfg.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "{} listening", adapter.title);
            let admin = a.admin_listen.or(cfg.admin_listen);
            let health = posgate_grpc::adapter_health(adapter.name).await;
            posgate_grpc::admin::with_admin(health.clone(), admin, shutdown_signal(), |stop| {
                (adapter.serve)(cfg, listener, health, stop)
            })
            .await
        }
    }
}
