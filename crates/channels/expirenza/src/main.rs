//! `posgate-expirenza --config posgate.toml`: the Expirenza callback adapter.

posgate_grpc::global_allocator!();

use std::path::PathBuf;

use clap::Parser;

/// posgate Expirenza callback adapter (pay at the table).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// TOML file with an [expirenza] section; POSGATE_EXPIRENZA__... variables override it.
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Log line format on stderr: text or json (else POSGATE_LOG_FORMAT, else [log] format).
    #[arg(long)]
    log_format: Option<posgate_grpc::LogFormat>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    posgate_grpc::init_logging(args.log_format, args.config.as_deref())?;
    let cfg = posgate_expirenza::load_config(args.config.as_deref())?;
    tracing::info!(
        payments_url = %cfg.payments_url,
        "posgate-expirenza starting: its restaurants come from the payment service's registry"
    );
    posgate_expirenza::run_with_admin(cfg, posgate_grpc::shutdown_signal()).await?;
    tracing::info!("posgate-expirenza stopped");
    // Spans still buffered for the OTLP collector go out before the process ends.
    posgate_grpc::telemetry::shutdown();
    Ok(())
}
