//! `posgate-sim --listen 127.0.0.1:8090 [--demo]`: serves every simulator on one port.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use posgate_sim::all::Simulators;
use posgate_sim::wsa::{CONTROL_PREFIX, CREATE_PATH};
use tracing_subscriber::EnvFilter;

/// Simulators of the POS and platform APIs posgate speaks (WSA, r_k Delivery, Tillypad, Expirenza).
#[derive(Debug, Parser)]
#[command(name = "posgate-sim", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "POSGATE_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Seed the demo restaurants and bills of every simulator.
    #[arg(long)]
    demo: bool,
}

async fn shutdown_signal() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "cannot listen for ctrl-c");
        std::future::pending::<()>().await;
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let sim = if args.demo {
        Simulators::with_demo_data()
    } else {
        Simulators::default()
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot bind {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        demo = args.demo,
        "WSA simulator: POST http://{addr}{CREATE_PATH}, control API http://{addr}{CONTROL_PREFIX}/"
    );
    sim.serve_with_shutdown(listener, shutdown_signal())
        .await
        .context("server error")?;
    Ok(())
}
