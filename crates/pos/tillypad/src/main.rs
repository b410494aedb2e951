//! `posgate-tillypad --config posgate.toml`: the Tillypad XL POS adapter as a gRPC server.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// posgate POS adapter for Tillypad XL (/pay-guest).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML file with a [tillypad] section; POSGATE_TILLYPAD__... variables override it.
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    posgate_grpc::init_tracing();
    let args = Args::parse();
    let cfg = posgate_tillypad::load_config(args.config.as_deref())?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        listen = %addr,
        restaurants = ?cfg.restaurants.keys().collect::<Vec<_>>(),
        "posgate-tillypad listening"
    );
    posgate_tillypad::serve(cfg, listener, posgate_grpc::shutdown_signal()).await?;
    tracing::info!("posgate-tillypad stopped");
    Ok(())
}
