//! `posgate up`: every service in one process, wired by one config file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use posgate_payments::{PaymentsConfig, PaymentsService};
use posgate_sim::wsa::WsaSim;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The configuration `up` runs with when given none: the demo wiring.
pub const DEFAULT_CONFIG: &str = include_str!("../../../deploy/posgate.toml");

#[derive(Args)]
pub struct UpArgs {
    /// Config file. Without one, the embedded defaults are written to <data-dir>/posgate.toml
    /// (if missing) and used, so they can be read and edited.
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the embedded database and the default config.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Do not start the simulators (point the adapters at real POS servers instead).
    #[arg(long)]
    no_sim: bool,
}

#[derive(Deserialize)]
struct SimSection {
    #[serde(default = "default_sim_listen")]
    listen: SocketAddr,
    #[serde(default = "yes")]
    demo: bool,
}

fn default_sim_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8090))
}
fn yes() -> bool {
    true
}

pub async fn run(a: UpArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let path = match a.config {
        Some(p) => p,
        None => {
            std::fs::create_dir_all(&a.data_dir)?;
            let p = a.data_dir.join("posgate.toml");
            if !p.exists() {
                std::fs::write(&p, DEFAULT_CONFIG)?;
            }
            p
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();

    let sim: SimSection = Figment::from(Toml::file_exact(&path))
        .focus("sim")
        .merge(Env::prefixed("POSGATE_SIM__").split("__"))
        .extract()?;
    let mut sim_addr = None;
    if !a.no_sim {
        let listener = TcpListener::bind(sim.listen).await?;
        sim_addr = Some(listener.local_addr()?);
        let wsa_sim = if sim.demo {
            WsaSim::with_demo_data()
        } else {
            WsaSim::new()
        };
        let stop = stopped();
        tasks.spawn(async move {
            wsa_sim
                .serve_with_shutdown(listener, stop)
                .await
                .map_err(anyhow::Error::from)
        });
    }

    let wsa_cfg = posgate_wsa::load_config(Some(&path))?;
    let wsa_listener = TcpListener::bind(wsa_cfg.listen).await?;
    let wsa_addr = wsa_listener.local_addr()?;
    tasks.spawn(posgate_wsa::serve(wsa_cfg, wsa_listener, stopped()));

    let pay_cfg = PaymentsConfig::load(Some(&path))?;
    let pay_listener = TcpListener::bind(pay_cfg.listen).await?;
    let pay_addr = pay_listener.local_addr()?;
    let db = pay_cfg.database_url.clone();
    let payments = PaymentsService::build(pay_cfg).await?;
    tasks.spawn(payments.serve(pay_listener, stopped()));

    println!("posgate is up (config {})", path.display());
    println!("  payment service (gRPC)   http://{pay_addr}    database {db}");
    println!("  WSA adapter (gRPC)       http://{wsa_addr}");
    if let Some(s) = sim_addr {
        println!("  WSA simulator (HTTP)     http://{s}/wsserverlp/api/v2/aggregators/Create");
        println!("                           control API http://{s}/_sim/wsa/");
    }
    println!();
    println!("Try, in another terminal:");
    println!(
        "  cargo run --release -p posgate -- pay --restaurant demo --bill {} --amount 978.00 --key demo-1",
        posgate_sim::wsa::DEMO_ORDER_978
    );
    println!("  cargo run --release -p posgate -- list");
    println!("Ctrl-C stops everything.");

    tokio::select! {
        _ = crate::serve::shutdown_signal() => {}
        Some(res) = tasks.join_next() => {
            if let Ok(Err(e)) = res {
                eprintln!("a service stopped: {e:#}");
            }
        }
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    Ok(())
}
