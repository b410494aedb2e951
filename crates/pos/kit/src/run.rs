//! Running a connector as a service: its configuration section, the gRPC server, and `main`.
//!
//! Why it exists: every POS adapter process is the same — read `[<name>]` (`listen` and
//! `admin_listen`: restaurants are not configured in adapters, they arrive with each call), read
//! `[auth]` and `[metrics]`, bind, serve [`AdapterServer`] until SIGTERM, with `/metrics`,
//! `/livez`, `/readyz` on the admin port. A connector says only its name and default port
//! ([`AdapterProcess`]); its `main.rs` is one line calling [`main`], and `posgate up`/`posgate
//! serve` use [`load_config`] and [`serve_adapter_with`] from their registration list (`up`
//! holds each adapter's health for its one `/readyz`).

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::connector::PosConnector;
use crate::server::AdapterServer;

/// What makes a connector an adapter process.
pub trait AdapterProcess: PosConnector + Sized {
    /// Its config section (`[wsa]`), process (`posgate-wsa`) and `posgate serve wsa` name.
    const NAME: &'static str;
    /// How people call it (`"r_keeper WSA adapter"`): logs and the `posgate up` banner.
    const TITLE: &'static str;
    /// Where it listens unless `[<name>] listen` says otherwise.
    const DEFAULT_LISTEN: SocketAddr;
    /// The connector, ready to serve any restaurant.
    fn build() -> anyhow::Result<Self>;
}

/// `127.0.0.1:<port>`: where an adapter listens by default ([`AdapterProcess::DEFAULT_LISTEN`]).
pub const fn localhost(port: u16) -> SocketAddr {
    SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        port,
    ))
}

/// An adapter's own section as written: `[wsa]`, `[delivery]`, `[tillypad]`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Section {
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    max_connections_per_host: Option<usize>,
    /// Refused with directions: restaurants live in the registry now.
    restaurants: Option<IgnoredAny>,
}

/// What an adapter process is configured with: where it listens and who may call it. Nothing
/// about restaurants: they arrive with each call.
#[derive(Debug, Clone)]
pub struct AdapterConfig {
    pub listen: SocketAddr,
    /// The admin HTTP port (`/metrics`, `/livez`, `/readyz`); none: not served.
    pub admin_listen: Option<SocketAddr>,
    /// Service-to-service tokens: the `[auth]` section, shared by every service.
    pub auth: posgate_grpc::AuthConfig,
    /// The shared `[metrics]` section: whether per-restaurant series carry `restaurant_id`.
    pub metrics: posgate_grpc::MetricsConfig,
    /// HTTP exchanges at once with one POS server (scheme, host, port); more wait their turn
    /// in the adapter ([`crate::http::HostLimits`]).
    pub max_connections_per_host: usize,
}

impl AdapterConfig {
    /// For tests and embedding: listening on `listen`, these tokens, no admin port.
    pub fn new(listen: SocketAddr, auth: posgate_grpc::AuthConfig) -> AdapterConfig {
        AdapterConfig {
            listen,
            admin_listen: None,
            auth,
            metrics: posgate_grpc::MetricsConfig::default(),
            max_connections_per_host: crate::http::HostLimits::DEFAULT_MAX,
        }
    }
}

/// The `[name]` section of the TOML file at `path` (if any) with `POSGATE_<NAME>__...`
/// environment overrides, `[auth]` and `[metrics]`; `listen` defaults to the adapter's own.
pub fn load_config<C: AdapterProcess>(path: Option<&Path>) -> anyhow::Result<AdapterConfig> {
    let name = C::NAME;
    let section: Section = posgate_grpc::load_section(path, name)?;
    anyhow::ensure!(
        section.restaurants.is_none(),
        "[{name}.restaurants] is no longer read: adapters keep no restaurants. Declare them in the registry (`posgate restaurant import FILE`, or `posgate restaurant add`); the payment service sends each restaurant's connection with every call"
    );
    let max_connections_per_host = section
        .max_connections_per_host
        .unwrap_or(crate::http::HostLimits::DEFAULT_MAX);
    anyhow::ensure!(
        max_connections_per_host > 0,
        "[{name}] max_connections_per_host: must be at least 1"
    );
    Ok(AdapterConfig {
        max_connections_per_host,
        listen: section.listen.unwrap_or(C::DEFAULT_LISTEN),
        admin_listen: section.admin_listen,
        auth: posgate_grpc::AuthConfig::load(path)?,
        metrics: posgate_grpc::MetricsConfig::load(path)?,
    })
}

/// Serves `connector` on `listener` until `shutdown` completes, reporting through `health`
/// (of [`posgate_grpc::adapter_health`], whose name names the adapter).
pub async fn serve<C: PosConnector>(
    health: posgate_grpc::Health,
    connector: C,
    max_connections_per_host: usize,
    auth: &posgate_grpc::AuthConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    if posgate_grpc::metrics::install().is_some() {
        crate::metric_definitions::describe_metrics();
    }
    posgate_grpc::serve_adapter(
        health,
        auth,
        AdapterServer::new(connector).with_max_connections_per_host(max_connections_per_host),
        listener,
        shutdown,
    )
    .await
}

/// Builds the adapter `C` and serves it on `listener` until `shutdown` completes.
pub async fn serve_adapter<C: AdapterProcess>(
    cfg: AdapterConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let health = posgate_grpc::adapter_health(C::NAME).await;
    serve_adapter_with::<C>(cfg, listener, health, shutdown).await
}

/// [`serve_adapter`], reporting through `health` (of [`posgate_grpc::adapter_health`]) held
/// by the caller: the admin port of `posgate-<name>`, `posgate serve <name>` and `posgate up`
/// answers `/readyz` from it.
pub async fn serve_adapter_with<C: AdapterProcess>(
    cfg: AdapterConfig,
    listener: tokio::net::TcpListener,
    health: posgate_grpc::Health,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    cfg.metrics.apply();
    serve(
        health,
        C::build()?,
        cfg.max_connections_per_host,
        &cfg.auth,
        listener,
        shutdown,
    )
    .await
}

#[derive(clap::Parser, Debug)]
struct Args {
    /// posgate's TOML file; this adapter reads its own section and [auth]. POSGATE_<NAME>__...
    /// variables override it.
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Log lines as `json` or `text` (default: [log] format, POSGATE_LOG_FORMAT, else text).
    #[arg(long, env = "POSGATE_LOG_FORMAT")]
    log_format: Option<posgate_grpc::LogFormat>,
}

/// The whole `main` of an adapter process: `posgate-<name> --config posgate.toml`.
pub fn main<C: AdapterProcess>() -> anyhow::Result<()> {
    use clap::Parser;
    let args = Args::parse();
    posgate_grpc::init_logging(args.log_format, args.config.as_deref())?;
    let cfg = load_config::<C>(args.config.as_deref())?;
    let served = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(cfg.listen)
                .await
                .with_context(|| format!("binding {}", cfg.listen))?;
            tracing::info!(listen = %listener.local_addr()?, pos = C::KIND, "{} listening", C::TITLE);
            let admin = cfg.admin_listen;
            let health = posgate_grpc::adapter_health(C::NAME).await;
            posgate_grpc::admin::with_admin(
                health.clone(),
                admin,
                posgate_grpc::shutdown_signal(),
                |stop| serve_adapter_with::<C>(cfg, listener, health, stop),
            )
            .await?;
            tracing::info!("{} stopped", C::TITLE);
            Ok(())
        });
    // Spans still buffered for the OTLP collector go out before the process ends.
    posgate_grpc::telemetry::shutdown();
    served
}
