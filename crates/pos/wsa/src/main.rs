//! `posgate-wsa --config posgate.toml`: the r_keeper WSA POS adapter as a gRPC server.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// posgate POS adapter for r_keeper via White Server API v2.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML file with a [wsa] section; POSGATE_WSA__... variables override it.
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    posgate_grpc::init_tracing();
    let args = Args::parse();
    let cfg = posgate_wsa::load_config(args.config.as_deref())?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        listen = %addr,
        restaurants = ?cfg.restaurants.keys().collect::<Vec<_>>(),
        "posgate-wsa listening"
    );
    posgate_wsa::serve(cfg, listener, posgate_grpc::shutdown_signal()).await?;
    tracing::info!("posgate-wsa stopped");
    Ok(())
}
