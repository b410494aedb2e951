//! What a benchmark run reports, once: the figures as a serialisable [`Report`] (`--json`) and
//! the same as text for a person. Figures are measurements, never money: floating point is
//! fine here.
#![allow(clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::load::Outcome;

#[derive(Serialize)]
pub struct Report {
    pub config: RunConfig,
    /// The bare tonic echo, same client, same concurrency.
    pub echo: Figures,
    /// `PayBill` until the payment is closed.
    pub posgate: PosgateFigures,
    /// Each process during the posgate run.
    pub processes: Vec<ProcFigures>,
    pub database: DbFigures,
    /// Where a payment's time goes, from the services' own metrics.
    pub breakdown: super::scrape::Breakdown,
}

#[derive(Serialize)]
pub struct RunConfig {
    pub pos: &'static str,
    /// Where the simulated POS time is spent.
    pub pos_latency_on: &'static str,
    pub pos_latency_ms: u64,
    pub db: &'static str,
    pub concurrency: usize,
    pub count: Option<u64>,
    pub duration_s: Option<u64>,
    pub restaurants: usize,
    pub max_in_flight_per_restaurant: usize,
    pub connections: usize,
    /// Finished payments stored before the run (`--stored`).
    pub stored: u64,
    pub pos_settings: BTreeMap<String, String>,
    pub payments_settings: Vec<String>,
    pub adapter_settings: Vec<String>,
    /// `release` or `debug` (a debug build's figures mean little).
    pub build: &'static str,
    pub cpus: usize,
    /// `/proc/loadavg` when the run started: other work on the machine skews every figure.
    pub load_average: String,
}

#[derive(Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        let ms = |us: u64| round3(us as f64 / 1000.0);
        if h.is_empty() {
            return Latency {
                p50_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
                mean_ms: 0.0,
            };
        }
        Latency {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: round3(h.mean() / 1000.0),
        }
    }
}

#[derive(Serialize)]
pub struct Figures {
    /// Requests answered.
    pub ok: u64,
    /// Requests failed, by reason.
    pub errors: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    /// Answered requests per second of the run.
    pub throughput_per_s: f64,
    pub latency_ms: Latency,
}

impl Figures {
    pub fn of(o: &Outcome) -> Figures {
        Figures {
            ok: o.ok,
            errors: o.errors.clone(),
            elapsed_s: round3(o.elapsed.as_secs_f64()),
            throughput_per_s: per_s(o.ok, o.elapsed),
            latency_ms: Latency::of(&o.latency_us),
        }
    }
}

#[derive(Serialize)]
pub struct PosgateFigures {
    /// Payments asked for.
    pub payments: u64,
    /// Payments that reached closed.
    pub closed: u64,
    /// Payments that did not, by reason.
    pub errors: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    /// Closed payments per second of the run.
    pub throughput_per_s: f64,
    /// `throughput_per_s` over the echo's.
    pub ratio_to_echo: f64,
    /// From `PayBill` sent to the payment seen closed.
    pub latency_ms: Latency,
    /// `latency_ms` less the simulated POS time of one payment: what posgate adds.
    pub added_latency_ms: AddedLatency,
}

#[derive(Serialize)]
pub struct AddedLatency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

impl PosgateFigures {
    pub fn of(o: &Outcome, echo: &Figures, pos_latency_ms: u64) -> PosgateFigures {
        let f = Figures::of(o);
        let pos = pos_latency_ms as f64;
        let added = |v: f64| round3((v - pos).max(0.0));
        PosgateFigures {
            payments: o.ok + o.failed(),
            closed: o.ok,
            errors: f.errors,
            elapsed_s: f.elapsed_s,
            throughput_per_s: f.throughput_per_s,
            ratio_to_echo: if echo.throughput_per_s > 0.0 {
                round4(f.throughput_per_s / echo.throughput_per_s)
            } else {
                0.0
            },
            added_latency_ms: AddedLatency {
                p50_ms: added(f.latency_ms.p50_ms),
                p99_ms: added(f.latency_ms.p99_ms),
                p999_ms: added(f.latency_ms.p999_ms),
            },
            latency_ms: f.latency_ms,
        }
    }
}

#[derive(Serialize)]
pub struct ProcFigures {
    pub name: String,
    pub pid: u32,
    /// VmHWM: the process's peak resident memory over its life.
    pub peak_rss_mib: Option<f64>,
    /// User + system CPU time during the posgate run.
    pub cpu_s: f64,
    /// `cpu_s` per payment asked for.
    pub cpu_ms_per_payment: f64,
}

impl ProcFigures {
    pub fn new(
        name: &str,
        pid: u32,
        peak_rss_kib: Option<u64>,
        cpu_ticks: u64,
        ticks_per_s: u64,
        payments: u64,
    ) -> ProcFigures {
        let cpu_s = cpu_ticks as f64 / ticks_per_s.max(1) as f64;
        ProcFigures {
            name: name.to_string(),
            pid,
            peak_rss_mib: peak_rss_kib.map(|k| round1(k as f64 / 1024.0)),
            cpu_s: round3(cpu_s),
            cpu_ms_per_payment: if payments > 0 {
                round3(cpu_s * 1000.0 / payments as f64)
            } else {
                0.0
            },
        }
    }
}

/// The processes of a run and their CPU ticks when it started.
pub struct CpuMark {
    processes: Vec<(String, u32, u64)>,
}

impl CpuMark {
    /// Marks each `(name, pid)` now.
    pub fn now(pids: Vec<(String, u32)>) -> CpuMark {
        CpuMark {
            processes: pids
                .into_iter()
                .map(|(name, pid)| {
                    let t = super::procs::cpu_ticks(pid).unwrap_or(0);
                    (name, pid, t)
                })
                .collect(),
        }
    }

    /// Each process's peak memory and the CPU it used since the mark, per payment of `payments`.
    pub fn figures(&self, payments: u64) -> Vec<ProcFigures> {
        let ticks = super::procs::clock_ticks();
        self.processes
            .iter()
            .map(|(name, pid, t0)| {
                let t1 = super::procs::cpu_ticks(*pid).unwrap_or(0);
                ProcFigures::new(
                    name,
                    *pid,
                    super::procs::peak_rss_kib(*pid),
                    t1.saturating_sub(*t0),
                    ticks,
                    payments,
                )
            })
            .collect()
    }
}

#[derive(Serialize, Default)]
pub struct DbFigures {
    pub kind: &'static str,
    /// Committed transactions in the run's database per payment (PostgreSQL; `null` on
    /// SQLite, which keeps no such counter).
    pub xact_per_payment: Option<f64>,
    pub rows_inserted_per_payment: Option<f64>,
    pub rows_updated_per_payment: Option<f64>,
    pub xact_commit: Option<i64>,
    pub xact_rollback: Option<i64>,
    /// Committed transactions per second while nothing was asked of the service.
    pub idle_xact_per_s: Option<f64>,
}

pub fn per_s(n: u64, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 { round1(n as f64 / s) } else { 0.0 }
}

pub fn per(n: i64, payments: u64) -> Option<f64> {
    (payments > 0).then(|| round3(n as f64 / payments as f64))
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
fn round4(v: f64) -> f64 {
    (v * 10000.0).round() / 10000.0
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "—".into())
}

fn errors(e: &BTreeMap<String, u64>) -> String {
    let n: u64 = e.values().sum();
    n.to_string()
}

/// Each process's peak memory and CPU, as a table.
pub fn process_table(processes: &[ProcFigures]) -> String {
    let mut s = format!(
        "\n{:<28}{:>14}{:>14}{:>18}\n",
        "process", "peak RSS MiB", "CPU s (run)", "CPU ms/payment"
    );
    for pr in processes {
        s += &format!(
            "{:<28}{:>14}{:>14}{:>18}\n",
            pr.name,
            opt(pr.peak_rss_mib),
            pr.cpu_s,
            pr.cpu_ms_per_payment
        );
    }
    s
}

impl Report {
    /// The report as text for a person.
    pub fn text(&self) -> String {
        let c = &self.config;
        let mut s = String::new();
        let until = match (c.count, c.duration_s) {
            (Some(n), _) => format!("{n} payments"),
            (None, Some(d)) => format!("{d} s"),
            _ => String::new(),
        };
        s += &format!(
            "posgate bench: {} POS ({} ms, {}), {} database, {} in flight over {} connection(s), {until}, {} restaurant(s), {} build, {} CPUs\n",
            c.pos,
            c.pos_latency_ms,
            c.pos_latency_on,
            c.db,
            c.concurrency,
            c.connections,
            c.restaurants,
            c.build,
            c.cpus
        );
        s += &format!("  load average before the run: {}\n", c.load_average);
        if c.stored > 0 {
            s += &format!("  {} finished payments stored before the run\n", c.stored);
        }
        if c.build == "debug" {
            s += "  (a debug build: these figures say little; build with --release)\n";
        }
        s += &format!(
            "\n{:<28}{:>10}{:>10}{:>10}{:>10}{:>10}{:>8}\n",
            "", "per s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors"
        );
        let e = &self.echo;
        s += &format!(
            "{:<28}{:>10}{:>10}{:>10}{:>10}{:>10}{:>8}\n",
            "echo (bare tonic unary)",
            e.throughput_per_s,
            e.latency_ms.p50_ms,
            e.latency_ms.p99_ms,
            e.latency_ms.p999_ms,
            e.latency_ms.max_ms,
            errors(&e.errors)
        );
        let p = &self.posgate;
        s += &format!(
            "{:<28}{:>10}{:>10}{:>10}{:>10}{:>10}{:>8}\n",
            "posgate PayBill → closed",
            p.throughput_per_s,
            p.latency_ms.p50_ms,
            p.latency_ms.p99_ms,
            p.latency_ms.p999_ms,
            p.latency_ms.max_ms,
            errors(&p.errors)
        );
        s += &format!(
            "\n{} of {} payments closed; throughput {}× the echo's; posgate adds p50 {} ms, p99 {} ms, p99.9 {} ms over the POS's {} ms\n",
            p.closed,
            p.payments,
            p.ratio_to_echo,
            p.added_latency_ms.p50_ms,
            p.added_latency_ms.p99_ms,
            p.added_latency_ms.p999_ms,
            c.pos_latency_ms
        );
        for (why, n) in &p.errors {
            s += &format!("  {n} × {why}\n");
        }
        s += &process_table(&self.processes);
        let d = &self.database;
        s += &format!(
            "\ndatabase {}: {} transactions per payment ({} rows inserted, {} updated); {} transactions/s idle\n",
            d.kind,
            opt(d.xact_per_payment),
            opt(d.rows_inserted_per_payment),
            opt(d.rows_updated_per_payment),
            opt(d.idle_xact_per_s)
        );
        s += &self.breakdown.text();
        s
    }
}
