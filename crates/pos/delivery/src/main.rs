//! `posgate-delivery --config posgate.toml`: the r_k Delivery POS adapter as a gRPC server.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// posgate POS adapter for r_k Delivery (website and delivery orders).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML file with a [delivery] section; POSGATE_DELIVERY__... variables override it.
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    posgate_grpc::init_tracing();
    let args = Args::parse();
    let cfg = posgate_delivery::load_config(args.config.as_deref())?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        listen = %addr,
        restaurants = ?cfg.restaurants.keys().collect::<Vec<_>>(),
        "posgate-delivery listening"
    );
    posgate_delivery::serve(cfg, listener, posgate_grpc::shutdown_signal()).await?;
    tracing::info!("posgate-delivery stopped");
    Ok(())
}
