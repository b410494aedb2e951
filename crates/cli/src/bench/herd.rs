//! `posgate bench --herd`: the shift-opening herd. Every restaurant's cashier shift is closed
//! (the simulator refuses PayOrder with its "shift closed" error), payments are made at all of
//! them, and each ends its first attempt waiting to retry (`RETRYING`, CASHIERS_SHIFT_CLOSED).
//! Then the shifts open at once and the whole backlog falls due within one retry interval: the
//! run reports how long the payments took to drain after that, and the most requests any
//! restaurant's POS saw at once (from the simulator), against the per-restaurant limit.
//!
//! The database is read directly for the payments' states and their due and closed times: the
//! benchmark observes, it does not go through posgate's API to count what posgate did.
#![allow(clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use posgate_core::PaymentState as CoreState;
// The clock the payment service stamps due and closed times with, which the herd compares.
use posgate_payments::engine::now_ms;
use posgate_proto::v1::{self as pb, PaymentState};
use posgate_sim::wsa;
use serde::Serialize;
use sqlx::{Connection, Row};

use super::db::Database;
use super::load::{self, Grpc, Until};
use super::pos::{PosKind, Sim};
use super::report::{CpuMark, ProcFigures, process_table};
use super::{CLI_TOKEN, Run, Services, pay_next};

/// How long the drain may take before the run gives up waiting.
const DRAIN_LIMIT: Duration = Duration::from_secs(900);
/// How often the database is read while the backlog drains.
const POLL: Duration = Duration::from_millis(200);

#[derive(Serialize)]
pub struct HerdReport {
    pub pos: &'static str,
    pub db: &'static str,
    pub pos_latency_ms: u64,
    pub payments: u64,
    pub restaurants: usize,
    pub max_in_flight_per_restaurant: usize,
    pub payments_settings: Vec<String>,
    pub build: &'static str,
    /// Making the payments while every shift was closed.
    pub submit_s: f64,
    pub submit_errors: BTreeMap<String, u64>,
    /// Payments waiting to retry when the shifts opened.
    pub waiting_at_open: u64,
    /// When the first and the last of them fell due, seconds after the shifts opened.
    pub first_due_s: Option<f64>,
    pub last_due_s: Option<f64>,
    /// When the first and the last payment closed, seconds after the shifts opened.
    pub first_closed_s: Option<f64>,
    pub last_closed_s: Option<f64>,
    /// From the last one falling due to the last one closed: the backlog's own drain time.
    pub drained_after_last_due_s: Option<f64>,
    /// Closed payments per second between the first and the last close.
    pub drain_per_s: Option<f64>,
    pub closed: u64,
    /// Payments in any other state at the end, by state.
    pub not_closed: BTreeMap<String, u64>,
    /// The most requests one restaurant's POS saw at once over the whole run, and how many
    /// restaurants saw more than the limit.
    pub max_in_flight_seen: usize,
    pub restaurants_over_limit: usize,
    pub processes: Vec<ProcFigures>,
}

impl HerdReport {
    pub fn text(&self) -> String {
        let s = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.1} s"));
        let mut t = format!(
            "posgate bench --herd: {} POS ({} ms), {} database, {} payments over {} restaurants, at most {} POS call(s) in flight per restaurant, {} build\n",
            self.pos,
            self.pos_latency_ms,
            self.db,
            self.payments,
            self.restaurants,
            self.max_in_flight_per_restaurant,
            self.build
        );
        if !self.payments_settings.is_empty() {
            t += &format!("  [payments] {}\n", self.payments_settings.join(", "));
        }
        if self.build == "debug" {
            t += "  (a debug build: these figures say little; build with --release)\n";
        }
        t += &format!(
            "\nshifts closed: {} payments made in {:.1} s, {} waiting to retry when the shifts opened\n",
            self.payments, self.submit_s, self.waiting_at_open
        );
        for (why, n) in &self.submit_errors {
            t += &format!("  {n} × {why}\n");
        }
        t += &format!(
            "shifts opened at 0 s: the backlog fell due from {} to {}; first closed at {}, last at {}\n",
            s(self.first_due_s),
            s(self.last_due_s),
            s(self.first_closed_s),
            s(self.last_closed_s)
        );
        t += &format!(
            "drained {} after the last fell due; {} closed/s while draining; {} of {} closed",
            s(self.drained_after_last_due_s),
            self.drain_per_s.map_or("—".into(), |v| format!("{v:.0}")),
            self.closed,
            self.payments
        );
        for (state, n) in &self.not_closed {
            t += &format!(", {n} {state}");
        }
        t += &format!(
            "\nmost POS requests at once at one restaurant: {} (limit {}); restaurants over the limit: {}\n",
            self.max_in_flight_seen, self.max_in_flight_per_restaurant, self.restaurants_over_limit
        );
        t += &process_table(&self.processes);
        t
    }
}

/// The WSA simulator's shift for every restaurant: closed (PayOrder refused) or open (the
/// latency fault, if any, put back).
async fn shifts(sim: &Sim, pos: PosKind, closed: bool, latency_ms: u64) -> anyhow::Result<()> {
    let ctl = pos.row().control;
    sim.delete(&format!("{ctl}/faults")).await?;
    if closed {
        let _: wsa::Fault = sim
            .post(
                &format!("{ctl}/faults"),
                &wsa::Fault::new(wsa::FaultKind::ShiftClosed),
            )
            .await?;
        Ok(())
    } else {
        pos.set_latency(sim, latency_ms).await
    }
}

/// Payments by state, and the due and closed times that matter, read from the database.
#[derive(Default)]
struct Snapshot {
    by_state: BTreeMap<String, u64>,
    /// Payments not yet tried once.
    untried: u64,
    /// First and last `next_attempt_at` of the payments waiting to retry (unix ms).
    due: Option<(i64, i64)>,
    /// First and last `updated_at` of the closed ones (unix ms).
    closed: Option<(i64, i64)>,
}

impl Snapshot {
    fn count(&self, state: &str) -> u64 {
        self.by_state.get(state).copied().unwrap_or(0)
    }
}

async fn snapshot(db: &Database) -> anyhow::Result<Snapshot> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(db.url()).await?;
    let mut snap = Snapshot::default();
    for row in sqlx::query("SELECT state, COUNT(*) FROM payments GROUP BY state")
        .fetch_all(&mut conn)
        .await?
    {
        let n: i64 = row.try_get(1)?;
        snap.by_state
            .insert(row.try_get(0)?, u64::try_from(n).unwrap_or(0));
    }
    let untried: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE attempts = 0")
        .fetch_one(&mut conn)
        .await?;
    snap.untried = u64::try_from(untried).unwrap_or(0);
    let span = |sql: &'static str| sqlx::query(sql);
    let row = span(
        "SELECT MIN(next_attempt_at), MAX(next_attempt_at) FROM payments WHERE state = 'retrying'",
    )
    .fetch_one(&mut conn)
    .await?;
    snap.due = row.try_get::<Option<i64>, _>(0)?.zip(row.try_get(1)?);
    let row = span("SELECT MIN(updated_at), MAX(updated_at) FROM payments WHERE state = 'closed'")
        .fetch_one(&mut conn)
        .await?;
    snap.closed = row.try_get::<Option<i64>, _>(0)?.zip(row.try_get(1)?);
    let _ = conn.close().await;
    Ok(snap)
}

/// Seconds from `from` to `at` (unix ms).
fn secs(from: i64, at: i64) -> f64 {
    (at - from) as f64 / 1000.0
}

/// The herd: shifts closed, payments made, shifts opened, the backlog drained.
pub async fn run(
    run: &Run<'_>,
    bills: Arc<super::Bills>,
    services: &mut Services,
) -> anyhow::Result<HerdReport> {
    let (plan, db, sim, payments_port) = (run.plan, run.db, run.sim, run.payments_port);
    let (latency_ms, payments_settings) = (run.a.pos_latency_ms, &run.a.payments_settings);
    anyhow::ensure!(
        plan.pos == PosKind::WsaSync,
        "--herd runs against the r_keeper WSA simulator in sync mode (--pos wsa-sync): it counts the requests in flight per restaurant"
    );
    let Until::Count(count) = plan.until else {
        anyhow::bail!("--herd needs --count (the size of the backlog), not --duration-s");
    };
    shifts(sim, plan.pos, true, latency_ms).await?;
    let cpu = CpuMark::now(
        services
            .all()
            .iter()
            .map(|s| (s.name.clone(), s.pid()))
            .collect(),
    );

    // Every payment's first attempt meets a closed shift.
    let channels = load::channels(([127, 0, 0, 1], payments_port).into(), plan.connections).await?;
    let clients: Vec<Grpc> = channels
        .iter()
        .map(|c| load::grpc(c.clone(), CLI_TOKEN))
        .collect();
    let run = format!("herd-{}-{}", std::process::id(), now_ms());
    let submitted = load::drive(plan.concurrency, plan.until, move |w, n| {
        let mut grpc = clients[w % clients.len()].clone();
        let bills = bills.clone();
        let key = format!("{run}-{n}");
        async move {
            let (p, t0) = pay_next(&mut grpc, &bills, n, key).await?;
            let waiting = p.state == PaymentState::Retrying as i32
                && p.substate == pb::Substate::CashiersShiftClosed as i32;
            // Still on its first attempt when PayBill stopped waiting: it gets there.
            let on_its_way = matches!(
                PaymentState::try_from(p.state),
                Ok(PaymentState::Accepted | PaymentState::Posting)
            );
            if waiting || on_its_way {
                Ok(t0.elapsed())
            } else {
                Err(format!(
                    "PayBill answered {} while the shift was closed",
                    PaymentState::try_from(p.state)
                        .map(|s| s.as_str_name())
                        .unwrap_or("UNKNOWN")
                ))
            }
        }
    })
    .await;
    for s in services.all() {
        s.check_alive()?;
    }

    // Wait until every payment has met the closed shift (those retried since may be posting
    // again, to be refused again).
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut snap = snapshot(db).await?;
    while snap.untried > 0 && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        snap = snapshot(db).await?;
    }
    let waiting_at_open = snap.count("retrying");

    // The shifts open.
    shifts(sim, plan.pos, false, latency_ms).await?;
    let opened = now_ms();
    let due = snapshot(db).await?.due;
    let deadline = Instant::now() + DRAIN_LIMIT;
    loop {
        snap = snapshot(db).await?;
        // Every payment asks for its bill closed: only closed and needs-attention are final.
        let owed: u64 = CoreState::ALL
            .iter()
            .filter(|s| !matches!(s, CoreState::Closed | CoreState::NeedsAttention))
            .map(|s| snap.count(s.as_str()))
            .sum();
        if owed == 0 || Instant::now() >= deadline {
            break;
        }
        for s in services.all() {
            s.check_alive()?;
        }
        tokio::time::sleep(POLL).await;
    }
    let processes = cpu.figures(count);

    let in_flight: serde_json::Value = sim
        .get(&format!("{}/in-flight", plan.pos.row().control))
        .await?;
    let most: Vec<usize> = in_flight["max"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|v| v.as_u64())
                .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
                .collect()
        })
        .unwrap_or_default();
    let closed = snap.count("closed");
    let not_closed = snap
        .by_state
        .iter()
        .filter(|(s, _)| s.as_str() != "closed")
        .map(|(s, n)| (s.clone(), *n))
        .collect();
    let (first_closed, last_closed) = snap.closed.unzip();
    let last_due = due.map(|(_, l)| l);
    Ok(HerdReport {
        pos: plan.pos.name(),
        db: db.kind(),
        pos_latency_ms: latency_ms,
        payments: count,
        restaurants: plan.restaurants,
        max_in_flight_per_restaurant: plan.max_in_flight,
        payments_settings: payments_settings.to_vec(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        submit_s: submitted.elapsed.as_secs_f64(),
        submit_errors: submitted.errors,
        waiting_at_open,
        first_due_s: due.map(|(f, _)| secs(opened, f)),
        last_due_s: last_due.map(|l| secs(opened, l)),
        first_closed_s: first_closed.map(|f| secs(opened, f)),
        last_closed_s: last_closed.map(|l| secs(opened, l)),
        drained_after_last_due_s: last_due
            .zip(last_closed)
            .map(|(d, c)| secs(d.max(opened), c)),
        drain_per_s: first_closed
            .zip(last_closed)
            .filter(|(f, l)| l > f)
            .map(|(f, l)| closed as f64 / secs(f, l)),
        closed,
        not_closed,
        max_in_flight_seen: most.iter().copied().max().unwrap_or(0),
        restaurants_over_limit: most.iter().filter(|m| **m > plan.max_in_flight).count(),
        processes,
    })
}
