//! `posgate-expirenza --config posgate.toml`: the Expirenza callback adapter.

use std::path::PathBuf;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// posgate Expirenza callback adapter (pay at the table).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML file with an [expirenza] section; POSGATE_EXPIRENZA__... variables override it.
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let cfg = posgate_expirenza::load_config(args.config.as_deref())?;
    tracing::info!(
        payments_url = %cfg.payments_url,
        restaurants = ?cfg
            .restaurants
            .iter()
            .map(|(name, r)| format!("{name} (resto {} -> {})", r.resto_id, r.restaurant_id))
            .collect::<Vec<_>>(),
        "posgate-expirenza starting"
    );
    posgate_expirenza::run(cfg, shutdown_signal()).await?;
    tracing::info!("posgate-expirenza stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
