//! `posgate bench`: what posgate itself costs, measured from outside on this machine.
//!
//! The payment service, one POS adapter and the simulators run as separate `posgate serve`
//! processes on a fresh database (SQLite file or a new PostgreSQL database); restaurants are
//! declared through the registry API, bills opened in the simulator, and a simulated POS time
//! set. Then, from N concurrent clients: first a bare tonic echo (the baseline: what gRPC on
//! this machine does), then `PayBill` with unique idempotency keys until each payment is closed.
//! The report: throughput and its ratio to the echo, latency and what posgate adds over the
//! POS's time, errors, each process's peak memory and CPU, and, on PostgreSQL, database
//! transactions per payment. Figures are printed, and written as JSON with `--json`.

mod db;
mod echo;
mod herd;
mod load;
mod pos;
mod procs;
mod report;
mod scrape;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::{self as pb, PaymentState};
use tokio::sync::{Mutex, mpsc};
use tokio_stream::StreamExt;

use db::Database;
use load::{Grpc, Until};
use pos::{Bill, PosKind, Restaurant, Sim};
use procs::Service;
use report::{CpuMark, DbFigures, Figures, PosgateFigures, ProcFigures, Report, RunConfig};

const CLI_TOKEN: &str = "bench-cli-token";
const OPERATOR_TOKEN: &str = "bench-operator-token";
const PAYMENTS_TOKEN: &str = "bench-payments-token";
const PAY_PATH: &str = "/posgate.v1.PaymentService/PayBill";
/// How long a payment may take to close after `PayBill` answered before it counts as failed.
const FOLLOW_LIMIT: Duration = Duration::from_secs(300);
/// How long the service is left with nothing to do to count its idle transactions (PostgreSQL).
const IDLE: Duration = Duration::from_secs(10);
/// How long before that count starts: the setup's own transactions (restaurants declared) are
/// reported by an idle server backend up to 10 s after they end (PostgreSQL 15's
/// `PGSTAT_IDLE_INTERVAL`).
const SETTLE: Duration = Duration::from_secs(11);

#[derive(Args)]
pub struct BenchArgs {
    /// Database: `sqlite` (a fresh file) or the URL of a PostgreSQL server to create a fresh
    /// database on (dropped afterwards), e.g. postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long, default_value = "sqlite")]
    db: String,
    /// The POS (its adapter and simulator).
    #[arg(long, value_enum, default_value_t = PosKind::WsaSync)]
    pos: PosKind,
    /// Simulated POS time of each payment's write.
    #[arg(long, default_value_t = 0)]
    pos_latency_ms: u64,
    /// Requests in flight at once (concurrent clients).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Payments to make (default 1000 unless --duration-s).
    #[arg(long, conflicts_with = "duration_s")]
    count: Option<u64>,
    /// Make payments for this many seconds instead of a count.
    #[arg(long)]
    duration_s: Option<u64>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Restaurants the payments are spread over (round robin).
    #[arg(long, default_value_t = 4)]
    restaurants: usize,
    /// The payment service's POS calls in flight per restaurant. Default: the concurrency, so
    /// the limit never binds and the figures are posgate's cost, not its queue. (Payments go to
    /// the restaurants in turn by number, not by client, so at one moment more than
    /// concurrency / restaurants may be on one restaurant: with that as the limit, ~22 % of
    /// payments at 16 in flight found their restaurant's slots taken and went the queued way —
    /// stored unleased, then read, claimed and their bill locked: two writes more.)
    #[arg(long)]
    max_in_flight_per_restaurant: Option<usize>,
    /// gRPC connections the clients share (default: one per 128 in flight; the service sheds
    /// load beyond 256 streams on one connection).
    #[arg(long)]
    connections: Option<usize>,
    /// A POS connection setting for every restaurant, NAME=VALUE (repeatable), e.g.
    /// poll_interval_ms=100 for WSA async.
    #[arg(long = "pos-set", value_name = "NAME=VALUE")]
    pos_settings: Vec<String>,
    /// A [payments] setting, KEY=VALUE as TOML (repeatable), e.g. poll_interval_ms=100 or
    /// retry.initial_ms=500.
    #[arg(long = "payments-set", value_name = "KEY=VALUE")]
    payments_settings: Vec<String>,
    /// An adapter setting (its section, e.g. `[wsa]`), KEY=VALUE as TOML (repeatable), e.g.
    /// max_connections_per_host=10000 for 10,000 WSA sync payments in flight on one simulator.
    #[arg(long = "adapter-set", value_name = "KEY=VALUE")]
    adapter_settings: Vec<String>,
    /// Keep the run's folder (config, service logs; SQLite database) and print where it is.
    #[arg(long)]
    keep: bool,
    /// Finished payments stored before the run (e.g. 1000000), as a service that has run for
    /// months holds: the run shows whether the cost per payment grows with what is stored.
    #[arg(long, default_value_t = 0)]
    stored: u64,
    /// The shift-opening herd instead (WSA sync): every restaurant's shift closed while
    /// --count payments are made, then opened at once; reports how long the backlog takes to
    /// drain and the most POS calls any restaurant saw at once. The per-restaurant limit is
    /// the service's default unless --max-in-flight-per-restaurant is given; --concurrency is
    /// how many make payments at once.
    #[arg(long)]
    herd: bool,
    /// Runs one service under a profiler, SERVICE=COMMAND (payments, adapter or simulator), e.g.
    /// `--wrap "payments=heaptrack -o /tmp/payments"` or `--wrap "adapter=valgrind
    /// --tool=callgrind"`. Its memory and CPU figures are then the wrapper's.
    #[arg(long = "wrap", value_name = "SERVICE=COMMAND")]
    wrap: Vec<String>,
}

/// The settings of one run, checked.
struct Plan {
    pos: PosKind,
    until: Until,
    concurrency: usize,
    restaurants: usize,
    max_in_flight: usize,
    connections: usize,
    pos_settings: HashMap<String, String>,
    /// Service → the command it runs under (`--wrap`), as words.
    wrap: HashMap<String, Vec<String>>,
}

/// What `--wrap` can run under a profiler.
const WRAPPABLE: [&str; 3] = ["payments", "adapter", "simulator"];

fn pairs(flag: &str, items: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--{flag} {kv:?}: expected NAME=VALUE"))
        })
        .collect()
}

/// `--<flag> KEY=VALUE` settings as the TOML lines of their section.
fn toml_lines(flag: &str, items: &[String]) -> anyhow::Result<Vec<String>> {
    Ok(pairs(flag, items)?
        .into_iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect())
}

impl BenchArgs {
    fn plan(&self) -> anyhow::Result<Plan> {
        anyhow::ensure!(self.concurrency >= 1, "--concurrency must be at least 1");
        anyhow::ensure!(self.restaurants >= 1, "--restaurants must be at least 1");
        let until = match (self.count, self.duration_s) {
            (Some(0), _) => anyhow::bail!("--count must be at least 1"),
            (_, Some(0)) => anyhow::bail!("--duration-s must be at least 1"),
            (Some(n), _) => Until::Count(n),
            (None, Some(s)) => Until::Time(Duration::from_secs(s)),
            (None, None) => Until::Count(1000),
        };
        let max_in_flight = match self.max_in_flight_per_restaurant {
            Some(0) => anyhow::bail!("--max-in-flight-per-restaurant must be at least 1"),
            Some(n) => n,
            // The herd is about the limit binding: the service's own.
            None if self.herd => {
                posgate_payments::config::PaymentsConfig::default().max_in_flight_per_restaurant
            }
            None => self.concurrency,
        };
        let connections = match self.connections {
            Some(0) => anyhow::bail!("--connections must be at least 1"),
            Some(n) => n,
            None => self.concurrency.div_ceil(128),
        };
        pairs("payments-set", &self.payments_settings)?;
        pairs("adapter-set", &self.adapter_settings)?;
        Ok(Plan {
            pos: self.pos,
            until,
            concurrency: self.concurrency,
            restaurants: self.restaurants,
            max_in_flight,
            connections,
            pos_settings: pairs("pos-set", &self.pos_settings)?.into_iter().collect(),
            wrap: pairs("wrap", &self.wrap)?
                .into_iter()
                .map(|(service, command)| {
                    anyhow::ensure!(
                        WRAPPABLE.contains(&service.as_str()),
                        "--wrap {service}=…: the service is one of {WRAPPABLE:?}"
                    );
                    let words: Vec<String> =
                        command.split_whitespace().map(str::to_string).collect();
                    anyhow::ensure!(!words.is_empty(), "--wrap {service}=: no command");
                    Ok((service, words))
                })
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

pub async fn run(a: BenchArgs) -> anyhow::Result<()> {
    let plan = a.plan()?;
    let dir = std::env::temp_dir().join(format!(
        "posgate-bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let db = match Database::create(&a.db, &dir).await {
        Ok(db) => db,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let result = bench(&a, &plan, &dir, &db).await;
    db.drop_db().await;
    match &result {
        Err(_) => eprintln!(
            "the run's config and service logs are kept in {}",
            dir.display()
        ),
        Ok(_) if a.keep => eprintln!(
            "the run's config and service logs are kept in {}",
            dir.display()
        ),
        Ok(_) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let report = result?;
    let (text, json) = match &report {
        Printed::Run(r) => (r.text(), serde_json::to_string_pretty(r)?),
        Printed::Herd(r) => (r.text(), serde_json::to_string_pretty(r)?),
    };
    println!("{text}");
    if let Some(path) = &a.json {
        std::fs::write(path, json + "\n")
            .map_err(|e| anyhow::anyhow!("--json {}: {e}", path.display()))?;
    }
    Ok(())
}

/// What a run found: the throughput run's report, or the herd's.
enum Printed {
    Run(Box<Report>),
    Herd(Box<herd::HerdReport>),
}

/// The configuration every service of the run reads.
fn config(
    plan: &Plan,
    db: &Database,
    ports: &Ports,
    [payments_extra, adapter_extra]: [&[String]; 2],
) -> String {
    let Ports {
        payments: payments_port,
        adapter: adapter_port,
        ..
    } = *ports;
    let row = plan.pos.row();
    let mut s = format!(
        r#"# posgate bench: one run's services
[auth]
tokens = {{ payments = "{PAYMENTS_TOKEN}", cli = "{CLI_TOKEN}", operator = "{OPERATOR_TOKEN}" }}
[secrets]
dev_key = true
[payments]
listen = "127.0.0.1:{payments_port}"
database_url = "{db}"
max_in_flight_per_restaurant = {inflight}
"#,
        db = db.url(),
        inflight = plan.max_in_flight,
    );
    for line in payments_extra {
        s += line;
        s += "\n";
    }
    s += &admin_line(payments_extra, ports.payments_admin);
    s += &format!(
        r#"[payments.adapters]
{kind} = "http://127.0.0.1:{adapter_port}"
[{service}]
listen = "127.0.0.1:{adapter_port}"
"#,
        kind = row.pos_kind,
        service = row.service,
    );
    for line in adapter_extra {
        s += line;
        s += "\n";
    }
    s += &admin_line(adapter_extra, ports.adapter_admin);
    s
}

/// The ports a run's services listen on: gRPC, and the admin ports whose `/metrics` the
/// breakdown reads.
struct Ports {
    sim: u16,
    adapter: u16,
    payments: u16,
    payments_admin: u16,
    adapter_admin: u16,
}

impl Ports {
    fn free() -> anyhow::Result<Ports> {
        Ok(Ports {
            sim: procs::free_port()?,
            adapter: procs::free_port()?,
            payments: procs::free_port()?,
            payments_admin: procs::free_port()?,
            adapter_admin: procs::free_port()?,
        })
    }
}

/// `admin_listen` on `port`, unless the caller's settings name one (theirs is kept; the
/// breakdown then reads nothing from that service).
fn admin_line(extra: &[String], port: u16) -> String {
    if extra
        .iter()
        .any(|l| l.trim_start().starts_with("admin_listen"))
    {
        return String::new();
    }
    format!("admin_listen = \"127.0.0.1:{port}\"\n")
}

/// What one run is about: its arguments, plan, database, simulator, restaurants and where the
/// payment service listens.
#[derive(Clone, Copy)]
struct Run<'r> {
    a: &'r BenchArgs,
    plan: &'r Plan,
    db: &'r Database,
    sim: &'r Sim,
    restaurants: &'r [(Restaurant, pb::RestaurantSpec)],
    payments_port: u16,
    /// `/metrics` of the payment service and of the adapter.
    metrics: &'r [String; 2],
    /// The run's folder (the SQLite file's).
    dir: &'r Path,
}

/// The services of a run.
struct Services {
    sim: Service,
    adapter: Service,
    payments: Service,
}

impl Services {
    fn all(&mut self) -> [&mut Service; 3] {
        [&mut self.payments, &mut self.adapter, &mut self.sim]
    }
}

async fn bench(a: &BenchArgs, plan: &Plan, dir: &Path, db: &Database) -> anyhow::Result<Printed> {
    let ports = Ports::free()?;
    let (sim_port, adapter_port, payments_port) = (ports.sim, ports.adapter, ports.payments);
    let extra = toml_lines("payments-set", &a.payments_settings)?;
    let adapter_extra = toml_lines("adapter-set", &a.adapter_settings)?;
    let config_path = dir.join("posgate.toml");
    std::fs::write(
        &config_path,
        config(plan, db, &ports, [&extra, &adapter_extra]),
    )?;
    let config_arg = config_path.display().to_string();
    let serve = |svc: &str| {
        vec![
            "serve".to_string(),
            svc.to_string(),
            "--config".into(),
            config_arg.clone(),
        ]
    };

    // The simulator first: its restaurants exist before anything asks for them.
    let mut sim_args = serve("sim");
    sim_args.extend(["--listen".into(), format!("127.0.0.1:{sim_port}")]);
    let wrap = |s: &str| plan.wrap.get(s).map(Vec::as_slice);
    let mut sim_proc = Service::start("simulator", &sim_args, dir, true, wrap("simulator"))?;
    procs::wait_port(&mut sim_proc, sim_port).await?;
    let sim = Sim::new(format!("http://127.0.0.1:{sim_port}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sim.answers(plan.pos).await {
        sim_proc.check_alive()?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "the simulator's control API did not answer in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restaurants = plan
        .pos
        .setup(&sim, plan.restaurants, a.pos_latency_ms, &plan.pos_settings)
        .await?;

    let adapter_name = format!("{} adapter", plan.pos.row().service);
    let mut adapter = Service::start(
        &adapter_name,
        &serve(plan.pos.row().service),
        dir,
        false,
        wrap("adapter"),
    )?;
    let mut payments = Service::start(
        "payment service",
        &serve("payments"),
        dir,
        false,
        wrap("payments"),
    )?;
    procs::wait_port(&mut adapter, adapter_port).await?;
    procs::wait_port(&mut payments, payments_port).await?;
    let mut services = Services {
        sim: sim_proc,
        adapter,
        payments,
    };
    let metrics = [ports.payments_admin, ports.adapter_admin]
        .map(|p| format!("http://127.0.0.1:{p}/metrics"));
    let run = Run {
        a,
        plan,
        db,
        sim: &sim,
        restaurants: &restaurants,
        payments_port,
        metrics: &metrics,
        dir,
    };
    let result = if a.herd {
        herd(&run, &mut services)
            .await
            .map(|r| (Printed::Herd(Box::new(r)), None))
    } else {
        measure(&run, &mut services)
            .await
            .map(|(r, before)| (Printed::Run(Box::new(r)), before))
    };
    for s in services.all() {
        s.stop(Duration::from_secs(20)).await;
    }
    match result? {
        (Printed::Run(report), before) => {
            Ok(Printed::Run(Box::new(finish(*report, db, before).await?)))
        }
        (herd, _) => Ok(herd),
    }
}

/// Declares the restaurants and opens their bills, then runs the herd ([`herd::run`]).
async fn herd(run: &Run<'_>, services: &mut Services) -> anyhow::Result<herd::HerdReport> {
    let restaurants = declare(&mut services.payments, run.payments_port, run.restaurants).await?;
    let bills = Arc::new(open_bills(run.plan, run.sim, &restaurants).await?);
    herd::run(run, bills, services).await
}

/// Declares the restaurants in the registry once the payment service answers.
async fn declare(
    payments: &mut Service,
    payments_port: u16,
    restaurants: &[(Restaurant, pb::RestaurantSpec)],
) -> anyhow::Result<Vec<Restaurant>> {
    let server = format!("http://127.0.0.1:{payments_port}");
    let mut registry = registry_when_up(&server, payments).await?;
    for (r, spec) in restaurants {
        crate::restaurant::declare(&mut registry, &r.id, spec.clone(), true).await?;
    }
    Ok(restaurants.iter().map(|(r, _)| r.clone()).collect())
}

/// The shortest echo pass whose figure is the baseline: a shorter one is run again for this
/// long. Passes of 4,000 calls (~0.1 s) swung from 25,000 to 48,000 calls/s within an hour.
const ECHO_AT_LEAST: Duration = Duration::from_secs(2);

/// Declares the restaurants, runs the echo and posgate, reads the processes' figures.
async fn measure(
    run: &Run<'_>,
    services: &mut Services,
) -> anyhow::Result<(Report, Option<db::PgCounters>)> {
    let Run {
        a,
        plan,
        db,
        sim,
        restaurants,
        payments_port,
        metrics,
        dir,
    } = *run;
    let load_average = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let restaurants = declare(&mut services.payments, payments_port, restaurants).await?;
    if a.stored > 0 {
        let started = Instant::now();
        let ids: Vec<String> = restaurants.iter().map(|r| r.id.clone()).collect();
        db.prefill(a.stored, &ids).await?;
        eprintln!(
            "stored {} finished payments in {:.1} s",
            a.stored,
            started.elapsed().as_secs_f64()
        );
    }
    let bills = Arc::new(open_bills(plan, sim, &restaurants).await?);

    // The baseline: same client code, same concurrency, same count or time.
    let echo_server = echo::start().await?;
    let channels = load::channels(echo_server.addr, plan.connections).await?;
    let clients: Vec<Grpc> = channels
        .iter()
        .map(|c| load::grpc(c.clone(), CLI_TOKEN))
        .collect();
    let echo_call = move |w: usize, n: u64| {
        let mut grpc = clients[w % clients.len()].clone();
        async move {
            let req = pay_request(n, "echo", "echo-bill");
            let t0 = Instant::now();
            load::pay_call(&mut grpc, echo::PATH, req)
                .await
                .map_err(|s| format!("echo {:?}: {}", s.code(), s.message()))?;
            Ok(t0.elapsed())
        }
    };
    let mut echo_out = load::drive(plan.concurrency, plan.until, echo_call.clone()).await;
    if echo_out.elapsed < ECHO_AT_LEAST {
        // Over in a moment (4,000 calls take ~0.1 s): that pass warmed the connections and
        // the runtime up, and a pass that long gives a steady figure.
        echo_out = load::drive(plan.concurrency, Until::Time(ECHO_AT_LEAST), echo_call).await;
    }
    drop(echo_server);
    let echo = Figures::of(&echo_out);

    // The service with nothing to do (PostgreSQL: its idle transactions).
    if db.kind() == "postgres" {
        tokio::time::sleep(SETTLE).await;
    }
    let idle_before = db.counters().await?;
    let mut idle_xact_per_s = None;
    if let Some(c0) = idle_before {
        tokio::time::sleep(IDLE).await;
        if let Some(c1) = db.counters().await? {
            idle_xact_per_s = Some(report::per_s(
                u64::try_from(c1.since(&c0).xact_commit).unwrap_or(0),
                IDLE,
            ));
        }
    }
    for s in services.all() {
        s.check_alive()?;
    }

    // posgate.
    let http = reqwest::Client::new();
    let scraped = scrape_both(&http, metrics).await;
    let before = db.counters().await?;
    let cpu = CpuMark::now(
        services
            .all()
            .iter()
            .map(|s| (s.name.clone(), s.pid()))
            .chain([("bench client".to_string(), std::process::id())])
            .collect(),
    );
    let pg0 = backend_ticks(db).await;
    let channels = load::channels(([127, 0, 0, 1], payments_port).into(), plan.connections).await?;
    let clients: Vec<Grpc> = channels
        .iter()
        .map(|c| load::grpc(c.clone(), CLI_TOKEN))
        .collect();
    let watchers: Vec<Watcher> = channels
        .iter()
        .map(|c| {
            PaymentServiceClient::with_interceptor(
                c.clone(),
                posgate_grpc::CallerToken::bearer(CLI_TOKEN),
            )
        })
        .collect();
    let run = format!(
        "bench-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let out = load::drive(plan.concurrency, plan.until, move |w, n| {
        let mut grpc = clients[w % clients.len()].clone();
        let mut watch = watchers[w % watchers.len()].clone();
        let bills = bills.clone();
        let key = format!("{run}-{n}");
        async move {
            let (p, t0) = pay_next(&mut grpc, &bills, n, key).await?;
            let p = if done(&p) {
                p
            } else {
                follow(&mut watch, &p.payment_id).await?
            };
            if p.state == PaymentState::Closed as i32 {
                Ok(t0.elapsed())
            } else {
                Err(format!(
                    "ended {} {}",
                    state_name(p.state),
                    pb::Substate::try_from(p.substate)
                        .map(|s| s.as_str_name())
                        .unwrap_or("")
                ))
            }
        }
    })
    .await;
    let posgate = PosgateFigures::of(&out, &echo, a.pos_latency_ms);
    let mut processes = cpu.figures(posgate.payments);
    let moved = scrape_both(&http, metrics).await;
    let mut breakdown = scrape::Breakdown::of(
        &moved[0].since(&scraped[0]),
        &moved[1].since(&scraped[1]),
        posgate.payments,
    );
    let pg1 = backend_ticks(db).await;
    // After every CPU figure is read: the probe's own writes are in none of them.
    breakdown.disk_sync_p50_ms = scrape::disk_sync_p50_ms(dir, 200);
    let ticks = procs::clock_ticks();
    if db.kind() == "postgres" {
        let used: u64 = pg1
            .iter()
            .map(|(pid, t)| t.saturating_sub(pg0.get(pid).copied().unwrap_or(0)))
            .sum();
        processes.push(ProcFigures::new(
            "postgres (this database)",
            0,
            None,
            used,
            ticks,
            posgate.payments,
        ));
    }
    let report = Report {
        config: RunConfig {
            pos: plan.pos.name(),
            pos_latency_on: plan.pos.row().latency_on,
            pos_latency_ms: a.pos_latency_ms,
            db: db.kind(),
            concurrency: plan.concurrency,
            count: match plan.until {
                Until::Count(n) => Some(n),
                Until::Time(_) => None,
            },
            duration_s: match plan.until {
                Until::Time(d) => Some(d.as_secs()),
                Until::Count(_) => None,
            },
            restaurants: plan.restaurants,
            max_in_flight_per_restaurant: plan.max_in_flight,
            connections: plan.connections,
            stored: a.stored,
            pos_settings: plan
                .pos_settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            payments_settings: a.payments_settings.clone(),
            adapter_settings: a.adapter_settings.clone(),
            build: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            load_average,
        },
        echo,
        posgate,
        processes,
        database: DbFigures {
            kind: db.kind(),
            idle_xact_per_s,
            ..DbFigures::default()
        },
        breakdown,
    };
    Ok((report, before))
}

/// Both services' `/metrics`, read at once.
async fn scrape_both(http: &reqwest::Client, urls: &[String; 2]) -> [scrape::Scrape; 2] {
    let (p, a) = tokio::join!(
        scrape::Scrape::read(http, &urls[0]),
        scrape::Scrape::read(http, &urls[1])
    );
    [p, a]
}

/// The database's figures, once the services are gone (PostgreSQL: every server process has
/// reported its counts when its connection ended).
async fn finish(
    mut report: Report,
    db: &Database,
    before: Option<db::PgCounters>,
) -> anyhow::Result<Report> {
    if let Some(before) = before {
        db.wait_disconnected(15).await;
        if let Some(after) = db.counters().await? {
            let d = after.since(&before);
            let n = report.posgate.payments;
            report.database.xact_per_payment = report::per(d.xact_commit, n);
            report.database.rows_inserted_per_payment = report::per(d.tup_inserted, n);
            report.database.rows_updated_per_payment = report::per(d.tup_updated, n);
            report.database.xact_commit = Some(d.xact_commit);
            report.database.xact_rollback = Some(d.xact_rollback);
        }
    }
    Ok(report)
}

/// CPU ticks of each PostgreSQL server process working for the run's database.
async fn backend_ticks(db: &Database) -> BTreeMap<u32, u64> {
    db.backends()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pid| procs::cpu_ticks(pid).map(|t| (pid, t)))
        .collect()
}

/// A registry client once the payment service answers (its migrations done).
async fn registry_when_up(
    server: &str,
    payments: &mut Service,
) -> anyhow::Result<crate::restaurant::Client> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        payments.check_alive()?;
        if let Ok(mut c) = crate::restaurant::registry_client(server, OPERATOR_TOKEN).await
            && c.list_restaurants(pb::ListRestaurantsRequest::default())
                .await
                .is_ok()
        {
            return Ok(c);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the payment service did not answer in 60 s; its log: {}",
            payments.log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where the workers take their bills from: all opened beforehand (a count), or opened while
/// the run goes (a time), a little ahead of the payments.
enum Bills {
    Opened(Vec<Bill>),
    Opening(Mutex<mpsc::Receiver<Bill>>),
}

impl Bills {
    async fn take(&self, n: u64) -> Option<Bill> {
        match self {
            Bills::Opened(v) => v.get(usize::try_from(n).ok()?).cloned(),
            Bills::Opening(rx) => rx.lock().await.recv().await,
        }
    }
}

/// Tasks that open bills in the simulator at once.
const OPENERS: usize = 4;

async fn open_bills(plan: &Plan, sim: &Sim, restaurants: &[Restaurant]) -> anyhow::Result<Bills> {
    let restaurants: Arc<[Restaurant]> = restaurants.into();
    match plan.until {
        Until::Count(n) => {
            let mut tasks = tokio::task::JoinSet::new();
            for t in 0..OPENERS as u64 {
                let (sim, rs, pos) = (sim.clone(), restaurants.clone(), plan.pos);
                tasks.spawn(async move {
                    let mut out = Vec::new();
                    let mut i = t;
                    while i < n {
                        let r = &rs[usize::try_from(i)? % rs.len()];
                        out.push((i, pos.open_bill(&sim, r).await?));
                        i += OPENERS as u64;
                    }
                    anyhow::Ok(out)
                });
            }
            let mut all = Vec::new();
            while let Some(done) = tasks.join_next().await {
                all.extend(done??);
            }
            all.sort_by_key(|(i, _)| *i);
            Ok(Bills::Opened(all.into_iter().map(|(_, b)| b).collect()))
        }
        Until::Time(_) => {
            let (tx, rx) = mpsc::channel(plan.concurrency * 4 + 64);
            for t in 0..OPENERS {
                let (sim, rs, pos, tx) = (sim.clone(), restaurants.clone(), plan.pos, tx.clone());
                tokio::spawn(async move {
                    let mut i = t;
                    loop {
                        let Ok(b) = pos.open_bill(&sim, &rs[i % rs.len()]).await else {
                            break;
                        };
                        if tx.send(b).await.is_err() {
                            break;
                        }
                        i += OPENERS;
                    }
                });
            }
            Ok(Bills::Opening(Mutex::new(rx)))
        }
    }
}

/// Takes bill `n` and pays it under `key`: what `PayBill` answered, and when it was asked.
async fn pay_next(
    grpc: &mut Grpc,
    bills: &Bills,
    n: u64,
    key: String,
) -> Result<(pb::Payment, Instant), String> {
    let bill = bills.take(n).await.ok_or("no bill left to pay")?;
    let mut req = pay_request(n, &bill.restaurant_id, &bill.bill_id);
    req.idempotency_key = key;
    let t0 = Instant::now();
    let p = load::pay_call(grpc, PAY_PATH, req)
        .await
        .map_err(|s| format!("PayBill {:?}: {}", s.code(), s.message()))?;
    Ok((p, t0))
}

fn pay_request(n: u64, restaurant: &str, bill: &str) -> pb::PayBillRequest {
    pb::PayBillRequest {
        idempotency_key: format!("echo-{n}"),
        restaurant_id: restaurant.to_string(),
        bill_id: bill.to_string(),
        amount: pos::AMOUNT.to_string(),
        close: true,
        ..Default::default()
    }
}

type Watcher = PaymentServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        posgate_grpc::CallerToken,
    >,
>;

/// Closed, or final in another state: nothing more to wait for.
fn done(p: &pb::Payment) -> bool {
    p.r#final || p.state == PaymentState::Closed as i32
}

fn state_name(v: i32) -> &'static str {
    PaymentState::try_from(v)
        .map(|s| s.as_str_name())
        .unwrap_or("UNKNOWN")
}

/// Follows a payment `PayBill` answered before it was done, until it is.
async fn follow(watch: &mut Watcher, payment_id: &str) -> Result<pb::Payment, String> {
    let follow = async {
        let mut stream = watch
            .watch_payment(pb::GetPaymentRequest {
                payment_id: payment_id.to_string(),
            })
            .await
            .map_err(|s| format!("WatchPayment {:?}: {}", s.code(), s.message()))?
            .into_inner();
        let mut last = None;
        while let Some(p) = stream.next().await {
            let p = p.map_err(|s| format!("WatchPayment {:?}: {}", s.code(), s.message()))?;
            if done(&p) {
                return Ok(p);
            }
            last = Some(p);
        }
        match last {
            Some(p) => Ok(p),
            None => Err("WatchPayment ended without an answer".to_string()),
        }
    };
    tokio::time::timeout(FOLLOW_LIMIT, follow)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "not done {} s after PayBill",
                FOLLOW_LIMIT.as_secs()
            ))
        })
}
