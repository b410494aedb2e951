//! Running a connector as a service: its configuration section, the gRPC server, and `main`.
//!
//! Why it exists: every POS adapter process is the same — read `[<name>]` (only `listen`:
//! restaurants are not configured in adapters, they arrive with each call), read `[auth]`,
//! bind, serve [`AdapterServer`] until SIGTERM. A POS crate's `main.rs` is one line calling
//! [`main`]; `posgate up`/`posgate serve` call [`serve`].

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::connector::PosConnector;
use crate::server::AdapterServer;

/// An adapter's own section as written: `[wsa]`, `[delivery]`, `[tillypad]`.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Section {
    listen: Option<SocketAddr>,
    /// Refused with directions: restaurants live in the registry now.
    restaurants: Option<IgnoredAny>,
}

/// What an adapter process is configured with: where it listens and who may call it. Nothing
/// about restaurants: they arrive with each call.
#[derive(Debug, Clone)]
pub struct AdapterConfig {
    pub listen: SocketAddr,
    /// Service-to-service tokens: the `[auth]` section, shared by every service.
    pub auth: posgate_grpc::AuthConfig,
}

impl AdapterConfig {
    /// The `[name]` section of the TOML file at `path` (if any) with `POSGATE_<NAME>__...`
    /// environment overrides, and `[auth]`; `listen` defaults to `default_listen`.
    pub fn load(
        path: Option<&Path>,
        name: &str,
        default_listen: SocketAddr,
    ) -> anyhow::Result<AdapterConfig> {
        let section: Section = posgate_grpc::load_section(path, name)?;
        anyhow::ensure!(
            section.restaurants.is_none(),
            "[{name}.restaurants] is no longer read: adapters keep no restaurants. Declare them in the registry (`posgate restaurant import FILE`, or `posgate restaurant add`); the payment service sends each restaurant's connection with every call"
        );
        Ok(AdapterConfig {
            listen: section.listen.unwrap_or(default_listen),
            auth: posgate_grpc::AuthConfig::load(path)?,
        })
    }
}

/// Serves `connector` as the `name` adapter on `listener` until `shutdown` completes.
pub async fn serve<C: PosConnector>(
    name: &str,
    connector: C,
    auth: &posgate_grpc::AuthConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    posgate_grpc::serve_adapter(
        name,
        auth,
        AdapterServer::new(connector),
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
}

/// The whole `main` of an adapter process: `posgate-<name> --config posgate.toml`.
pub fn main<C: PosConnector>(
    name: &str,
    default_listen: SocketAddr,
    connector: impl FnOnce() -> anyhow::Result<C>,
) -> anyhow::Result<()> {
    use clap::Parser;
    let args = Args::parse();
    posgate_grpc::init_tracing();
    let cfg = AdapterConfig::load(args.config.as_deref(), name, default_listen)?;
    let connector = connector()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(cfg.listen)
                .await
                .with_context(|| format!("binding {}", cfg.listen))?;
            tracing::info!(listen = %listener.local_addr()?, pos = C::KIND, "posgate-{name} listening");
            serve(name, connector, &cfg.auth, listener, posgate_grpc::shutdown_signal()).await?;
            tracing::info!("posgate-{name} stopped");
            Ok(())
        })
}
