//! `posgate-payments`: the payment service alone, for deployments that scale it on its own.

posgate_grpc::global_allocator!();

use std::path::PathBuf;

use clap::Parser;
use posgate_payments::{PaymentsConfig, PaymentsService};

#[derive(Parser)]
#[command(about = "posgate payment service (gRPC PaymentService)")]
struct Args {
    /// posgate TOML file; its [payments] section is read. POSGATE_PAYMENTS__* env vars override.
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
    let cfg = PaymentsConfig::load(args.config.as_deref())?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "payment service listening");
    let served = PaymentsService::build(cfg)
        .await?
        .serve(listener, posgate_grpc::shutdown_signal())
        .await;
    // Spans still buffered for the OTLP collector go out before the process ends.
    posgate_grpc::telemetry::shutdown();
    served
}
