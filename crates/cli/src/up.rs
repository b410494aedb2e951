//! `posgate up`: every service in one process, wired by one config file, with one admin port
//! whose `/readyz` is ready only when every service is (each keeps its own gRPC health).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use posgate_payments::{PaymentsConfig, PaymentsService};
use posgate_sim::all::Simulators;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The configuration `up` runs with when given none: the demo wiring.
pub const DEFAULT_CONFIG: &str = include_str!("../../../deploy/posgate.toml");
/// The demo restaurants `up` declares in the registry when it runs the embedded defaults.
pub const DEMO_RESTAURANTS: &str = include_str!("../../../deploy/restaurants.toml");

#[derive(Args)]
pub struct UpArgs {
    /// Config file. Without one, the embedded defaults are used (and written to
    /// <data-dir>/posgate.default.toml to read, or copy and edit for --config).
    #[arg(long, env = "POSGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Folder for the embedded defaults' SQLite database and config file. With --config, the
    /// file's `database_url` is used instead.
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

type Tasks = JoinSet<anyhow::Result<()>>;

/// Resolves when `up` stops.
fn stopped(rx: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

pub async fn run(a: UpArgs, log_format: Option<posgate_grpc::LogFormat>) -> anyhow::Result<()> {
    let embedded = a.config.is_none();
    let path = match a.config {
        Some(p) => p,
        None => {
            // Written afresh each start so it always matches this build; to change it, copy it
            // and pass --config.
            std::fs::create_dir_all(&a.data_dir)?;
            let p = a.data_dir.join("posgate.default.toml");
            std::fs::write(&p, DEFAULT_CONFIG)?;
            p
        }
    };
    // Logs to stderr; the banner below is what stdout carries.
    posgate_grpc::init_logging(log_format, Some(&path))?;
    let (stop_tx, stop) = watch::channel(false);
    let mut tasks = Tasks::new();
    let mut lines = Vec::new();

    if !a.no_sim {
        let sim = sim_section(&path)?;
        let listener = TcpListener::bind(sim.listen).await?;
        let s = listener.local_addr()?;
        let sims = if sim.demo {
            Simulators::with_demo_data()
        } else {
            Simulators::default()
        };
        let stop = stopped(&stop);
        tasks.spawn(async move {
            sims.serve_with_shutdown(listener, stop)
                .await
                .map_err(Into::into)
        });
        lines.push(format!(
            "  simulators (HTTP)        http://{s}  r_keeper WSA /wsserverlp/…, r_k Delivery /orders/…, Tillypad /pay-guest, Expirenza ws://{s}/restaurantEntryPoint"
        ));
        lines.push(format!(
            "                           control APIs http://{s}/_sim/{{wsa,delivery,tillypad,expirenza}}/"
        ));
    }

    // One metrics recorder for the process, before any service starts: a gauge moved before
    // it existed would be off for good.
    posgate_grpc::metrics::install();
    // Every service's health, for the one admin port's /readyz: each starts NOT_SERVING, so
    // the process is not ready before all of them are.
    let mut healths = Vec::new();
    for pos in crate::adapters::POS_ADAPTERS {
        let cfg = (pos.load)(Some(&path))?;
        let listener = TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let health = posgate_grpc::adapter_health(pos.name).await;
        healths.push(health.clone());
        tasks.spawn((pos.serve)(cfg, listener, health, Box::pin(stopped(&stop))));
        lines.push(format!("  {:<24} http://{addr}", pos.title));
    }

    let mut pay_cfg = PaymentsConfig::load(Some(&path))?;
    if embedded && std::env::var_os(DATABASE_URL_ENV).is_none() {
        // The embedded defaults keep their database beside their config, in --data-dir.
        pay_cfg.database_url = sqlite_url(&a.data_dir.join("posgate.db"));
    }
    let pay_listener = TcpListener::bind(pay_cfg.listen).await?;
    let pay_addr = pay_listener.local_addr()?;
    let admin = match pay_cfg.admin_listen {
        Some(a) => Some(posgate_grpc::admin::bind(a).await?),
        None => None,
    };
    let admin_addr = admin.as_ref().map(|l| l.local_addr()).transpose()?;
    let db = pay_cfg.database_url.clone();
    let dev_key = pay_cfg.secrets.dev_key;
    let operator = pay_cfg.auth.tokens.get("operator").cloned();
    let payments = PaymentsService::build(pay_cfg).await?;
    healths.insert(0, payments.health());
    tasks.spawn(payments.serve_with_admin(pay_listener, None, stopped(&stop)));
    // The Expirenza adapter serves the registry's restaurants with a channel; it is ready once
    // it follows the registry.
    let expirenza = posgate_expirenza::Adapter::new(posgate_expirenza::load_config(Some(&path))?)?;
    healths.push(expirenza.health());
    tasks.spawn(expirenza.run(stopped(&stop)));
    // One admin port for the process, up until every service has stopped (so /readyz says
    // "draining" meanwhile).
    let (admin_stop, admin_stopped) = watch::channel(false);
    let admin = admin.map(|l| {
        tokio::spawn(posgate_grpc::admin::serve(
            l,
            healths,
            stopped(&admin_stopped),
        ))
    });
    if embedded {
        let Some(token) = operator else {
            anyhow::bail!(
                "the embedded defaults have no [auth] operator token to declare the demo restaurants with"
            );
        };
        let declared = seed_demo_restaurants(pay_addr, token.expose()).await?;
        lines.push(format!(
            "  restaurant registry      {declared} demo restaurants declared (posgate restaurant list)"
        ));
    }
    lines.insert(
        0,
        format!("  payment service (gRPC)   http://{pay_addr}    database {db}"),
    );
    if let Some(a) = admin_addr {
        lines.insert(
            1,
            format!(
                "  admin (HTTP)             http://{a}/metrics  /livez  /readyz (every service)"
            ),
        );
    }

    lines.push(
        "  Expirenza adapter        the registry's restaurants with an Expirenza channel".into(),
    );

    println!("posgate is up (config {})", path.display());
    for l in &lines {
        println!("{l}");
    }
    if dev_key {
        println!(
            "  WARNING: [secrets] dev_key = true: card codes are encrypted with the PUBLIC development key. Never in production."
        );
    }
    println!();
    println!("Try, in another terminal:");
    println!(
        "  cargo run --release -p posgate -- pay --restaurant demo --bill {} --amount 978.00 --key demo-1",
        posgate_sim::wsa::DEMO_ORDER_978
    );
    println!("  cargo run --release -p posgate -- list");
    if !a.no_sim {
        println!(
            "  curl -X POST localhost:8090/_sim/expirenza/pay -H 'content-type: application/json' -d '{{\"resto_id\":\"{}\",\"bill_id\":\"{}\",\"sum\":\"1450.50\"}}'   # a guest pays at the table",
            posgate_sim::expirenza::DEMO_RESTO_ID,
            posgate_sim::wsa::DEMO_ORDER_1450_50
        );
    }
    println!("Ctrl-C stops everything.");

    // Every service runs until the signal: one that ends before it failed (to start or later),
    // and `up` stops the others and exits non-zero saying which error.
    let failed = tokio::select! {
        _ = crate::serve::shutdown_signal() => None,
        Some(res) = tasks.join_next() => Some(match res {
            Ok(Err(e)) => anyhow::anyhow!("a service failed: {e:#}"),
            Ok(Ok(())) => anyhow::anyhow!("a service stopped unexpectedly"),
            Err(e) => anyhow::anyhow!("a service crashed: {e}"),
        }),
    };
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let _ = admin_stop.send(true);
    if let Some(a) = admin {
        let _ = a.await;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Declares the demo restaurants that are not in the registry yet (a restart keeps what an
/// operator changed); how many are now declared.
async fn seed_demo_restaurants(payments: SocketAddr, token: &str) -> anyhow::Result<usize> {
    let specs = crate::restaurant::parse_import(DEMO_RESTAURANTS, Path::new("."))?;
    let mut c = crate::restaurant::registry_client(&format!("http://{payments}"), token).await?;
    for (id, spec) in &specs {
        crate::restaurant::declare(&mut c, id, spec.clone(), false).await?;
    }
    Ok(specs.len())
}

/// The environment variable that sets the payment service's database (see the config loader).
const DATABASE_URL_ENV: &str = "POSGATE_PAYMENTS__DATABASE_URL";

/// `sqlite://` URL of a database file (created if missing).
fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}", file.display())
}

fn sim_section(path: &Path) -> anyhow::Result<SimSection> {
    Ok(Figment::from(Toml::file_exact(path))
        .focus("sim")
        .merge(Env::prefixed("POSGATE_SIM__").split("__"))
        .extract()?)
}
