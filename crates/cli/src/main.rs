//! `posgate`: the CLI.
//!
//! - `posgate up` runs the payment service, the WSA adapter and the WSA simulator (with demo
//!   bills) in one process, with an embedded SQLite database under `data/`.
//! - `posgate pay | get | list | watch | bill | close` talk to a running payment service.
//! - `posgate restaurant add | update | show | list | disable | import` manage the registry.
//! - `posgate bench` measures what posgate costs (its services as separate processes).

posgate_grpc::global_allocator!();

mod adapters;
mod bench;
#[macro_use]
mod client;
mod restaurant;
mod secrets;
mod serve;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "posgate",
    version,
    about = "Pay and close restaurant bills in any POS"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Log line format on stderr (`up`, `serve`): text or json. Else POSGATE_LOG_FORMAT, else
    /// `[log] format` of the config file, else text.
    #[arg(long, global = true)]
    log_format: Option<posgate_grpc::LogFormat>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run every service and every simulator in one process (embedded defaults).
    Up(up::UpArgs),
    /// Run one service in this process (what a container runs).
    Serve(serve::ServeArgs),
    /// Pay (and close) a bill; prints the resulting payment.
    Pay(client::PayArgs),
    /// Show one payment.
    Get(client::GetArgs),
    /// List payments.
    List(client::ListArgs),
    /// Follow a payment's state changes until it is final.
    Watch(client::GetArgs),
    /// Read a bill from the POS.
    Bill(client::BillArgs),
    /// Close a bill (POSes with a separate close step).
    Close(client::BillArgs),
    /// The restaurant registry: add, update, show, list, disable, enable, import (operators).
    Restaurant(restaurant::RestaurantArgs),
    /// Secrets at rest: `rotate` re-encrypts them under the active key.
    Secrets(secrets::SecretsArgs),
    /// Benchmark: the payment service, one adapter and its simulator as separate processes,
    /// driven by concurrent PayBill clients, beside a bare gRPC echo as the baseline.
    Bench(bench::BenchArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Up(a) => up::run(a, cli.log_format).await,
        Cmd::Serve(a) => serve::run(a, cli.log_format).await,
        Cmd::Pay(a) => client::pay(a).await,
        Cmd::Get(a) => client::get(a).await,
        Cmd::List(a) => client::list(a).await,
        Cmd::Watch(a) => client::watch(a).await,
        Cmd::Bill(a) => client::bill(a).await,
        Cmd::Close(a) => client::close(a).await,
        Cmd::Restaurant(a) => restaurant::run(a).await,
        Cmd::Secrets(a) => secrets::run(a).await,
        Cmd::Bench(a) => bench::run(a).await,
    };
    // Spans still buffered for the OTLP collector go out before the process ends.
    posgate_grpc::telemetry::shutdown();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message and its causes, for a person: no backtrace.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
