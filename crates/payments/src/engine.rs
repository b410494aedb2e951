//! The engine drives payments through the POS: post, reconcile after an unknown outcome, close.
//!
//! Work is found in the store, not in memory: a scheduler loop takes due payments (new ones are
//! also kicked at once), and each is driven under a lease taken with a conditional UPDATE, so
//! retries survive restarts and several replicas can share one database later. Calls to one
//! restaurant's POS are limited by a per-restaurant semaphore.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use posgate_core::PayRequest;
use posgate_core::payment::Event;
use posgate_core::{Money, PaymentState, RetryDecision, RetryPolicy, Step, Substate};
use posgate_proto::v1::BillStatus;
use tokio::sync::{Notify, Semaphore};
use tracing::{Instrument, debug, info, warn};

use crate::config::PaymentsConfig;
use crate::metric_definitions as metrics;
use crate::notify::Notifier;
use crate::port::{Capabilities, Outcome, PortError, PosFailure, PosPort};
use crate::store::{BillSnapshot, PaymentRecord, Store, StoreError};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn jitter_unit() -> u32 {
    rand::random::<u32>() % 1_000_001
}

/// Our own failure codes, kept in `pos_code` beside the POS's.
pub mod codes {
    /// The bill was already closed or canceled in the POS when the payment came to post.
    pub const BILL_CLOSED: &str = "posgate:bill_not_open";
    /// The POS does not know the bill (wrong id, deleted, moved).
    pub const BILL_UNKNOWN: &str = "posgate:bill_unknown";
    /// The bill cannot take payments yet (r_k Delivery order not yet confirmed).
    pub const BILL_NOT_READY: &str = "posgate:bill_not_ready";
    pub const AMOUNT_CHECK: &str = "posgate:amount_check";
    pub const ADAPTER: &str = "posgate:adapter_unreachable";
    pub const WORKER_LOST: &str = "posgate:worker_lost";
    pub const UNVERIFIABLE: &str = "posgate:outcome_unverifiable";

    /// Every code above (what a metric label may be).
    pub const ALL: [&str; 7] = [
        BILL_CLOSED,
        BILL_UNKNOWN,
        BILL_NOT_READY,
        AMOUNT_CHECK,
        ADAPTER,
        WORKER_LOST,
        UNVERIFIABLE,
    ];
}

/// What one POS call came back with.
struct Answer {
    event: Event,
    code: Option<String>,
    text: Option<String>,
    reference: Option<String>,
    details: BTreeMap<String, String>,
    note: String,
}

impl Answer {
    fn new(event: Event, note: impl Into<String>) -> Self {
        Answer {
            event,
            code: None,
            text: None,
            reference: None,
            details: BTreeMap::new(),
            note: note.into(),
        }
    }

    fn failure(event: Event, f: &PosFailure, note: impl Into<String>) -> Self {
        Answer {
            event,
            code: Some(f.code.clone()),
            text: Some(f.text.clone()),
            reference: None,
            details: BTreeMap::new(),
            note: note.into(),
        }
    }

    fn ours(event: Event, code: &str, text: impl Into<String>) -> Self {
        let text = text.into();
        Answer {
            event,
            code: Some(code.to_string()),
            note: text.clone(),
            text: Some(text),
            reference: None,
            details: BTreeMap::new(),
        }
    }
}

pub struct Engine {
    store: Store,
    pos: Arc<dyn PosPort>,
    notifier: Arc<Notifier>,
    cfg: Arc<PaymentsConfig>,
    /// This process's name in leases.
    owner: String,
    wake: Notify,
    /// Set on shutdown: no new drives start; running ones finish and save.
    stopping: AtomicBool,
    in_flight: Mutex<HashSet<String>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// Removes a payment from the in-flight set when its drive ends, however it ends.
struct InFlight<'a>(&'a Engine, String);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        metrics::in_flight(-1);
        self.0
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

impl Engine {
    pub fn new(
        store: Store,
        pos: Arc<dyn PosPort>,
        notifier: Arc<Notifier>,
        cfg: Arc<PaymentsConfig>,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            pos,
            notifier,
            cfg,
            owner: format!("payments-{}", uuid::Uuid::new_v4()),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            in_flight: Mutex::default(),
            limits: Mutex::default(),
        })
    }

    /// Drives a payment now (in the background) unless it is already being driven here.
    pub fn kick(self: &Arc<Self>, id: String) {
        if self.stopping.load(Ordering::Relaxed) {
            // Stored and due: the next start (or another replica) takes it.
            return;
        }
        let engine = Arc::clone(self);
        // The payment's trace continues the request that kicked it (PayBill), if any.
        let parent = posgate_grpc::telemetry::current();
        tokio::spawn(async move { engine.drive(&id, parent).await });
    }

    /// The scheduler: takes due payments until `shutdown` resolves.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let poll = Duration::from_millis(self.cfg.poll_interval_ms.max(10));
        let mut sweeps = 0u32;
        loop {
            let now = now_ms();
            match self.store.due(now, 500).await {
                Ok(ids) => {
                    for id in ids {
                        self.kick(id);
                    }
                }
                Err(e) => warn!(error = %e, "scanning for due payments failed"),
            }
            sweeps = sweeps.wrapping_add(1);
            if sweeps.is_multiple_of(64) {
                self.notifier.sweep();
            }
            let sleep = match self.store.next_due_at().await {
                Ok(Some(at)) if at > now => Duration::from_millis((at - now) as u64).min(poll),
                Ok(Some(_)) => Duration::from_millis(50).min(poll),
                _ => poll,
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        self.stopping.store(true, Ordering::Relaxed);
        info!("payment engine stopped taking work; finishing in-flight POS calls");
        // In-flight calls finish and save their outcome. One cut off by the grace period is
        // recovered as "outcome unknown" by the next start, never posted blindly again.
        let grace = tokio::time::Instant::now() + Duration::from_millis(self.cfg.shutdown_grace_ms);
        while tokio::time::Instant::now() < grace
            && !self
                .in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn limit(&self, restaurant_id: &str) -> Arc<Semaphore> {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(limits.entry(restaurant_id.to_string()).or_insert_with(|| {
            Arc::new(Semaphore::new(self.cfg.max_in_flight_per_restaurant.max(1)))
        }))
    }

    async fn drive(self: &Arc<Self>, id: &str, parent: posgate_grpc::telemetry::Context) {
        if !self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string())
        {
            return;
        }
        metrics::in_flight(1);
        let _guard = InFlight(self, id.to_string());
        // Every line logged while this payment is driven carries its ids (the restaurant and
        // bill are filled in once the payment is read), so one payment can be followed.
        let span = tracing::info_span!(
            "payment",
            payment_id = id,
            restaurant_id = tracing::field::Empty,
            bill_id = tracing::field::Empty,
            trace_id = tracing::field::Empty
        );
        posgate_grpc::telemetry::adopt(&span, parent);
        if let Err(e) = self.drive_inner(id).instrument(span).await {
            warn!(payment_id = id, error = %e, "driving payment failed; it stays due and is retried");
        }
    }

    async fn drive_inner(&self, id: &str) -> Result<(), StoreError> {
        let Some(rec) = self.store.get(id).await? else {
            return Ok(());
        };
        let span = tracing::Span::current();
        span.record("restaurant_id", rec.request.restaurant_id.as_str());
        span.record("bill_id", rec.request.bill_id.as_str());
        let limit = self.limit(&rec.request.restaurant_id);
        let waiting = std::time::Instant::now();
        let Ok(_permit) = limit.acquire_owned().await else {
            return Ok(());
        };
        metrics::limiter_wait(waiting.elapsed());
        // Consecutive steps (pay, then close) run in one go.
        for _ in 0..4 {
            if self.stopping.load(Ordering::Relaxed) {
                return Ok(());
            }
            let Some(mut rec) = self
                .store
                .claim(id, &self.owner, now_ms(), self.cfg.lease_ms as i64)
                .await?
            else {
                return Ok(());
            };
            // A lease that expired mid-call means a worker died while the POS had our request.
            if matches!(
                rec.lifecycle.state,
                PaymentState::Posting | PaymentState::Closing
            ) {
                let answer = if rec.lifecycle.state == PaymentState::Posting && !rec.sending {
                    // It died before its recovery point: nothing reached the POS.
                    Answer::ours(
                        Event::Transient,
                        codes::WORKER_LOST,
                        "a worker stopped before sending to the POS",
                    )
                } else {
                    Answer::ours(
                        Event::Unknown,
                        codes::WORKER_LOST,
                        "a worker stopped while the POS call was in flight",
                    )
                };
                self.apply(&mut rec, answer, RetryDecision::Retry);
                if !self
                    .save(&rec, false, "recovered after a lost worker")
                    .await?
                {
                    return Ok(());
                }
                metrics::transition(rec.lifecycle.state, rec.substate);
                rec.version += 1;
            }
            let step = async {
                match rec.lifecycle.step {
                    Step::Post => self.post(rec).await,
                    Step::Reconcile => self.reconcile(rec).await,
                    Step::Close => self.close(rec).await,
                    Step::Done => Ok(false),
                }
            };
            // The lease is short (a dead worker's payment is taken over in seconds) and kept
            // alive while this worker runs the step, however long the POS takes.
            let more = tokio::select! {
                more = step => more?,
                never = self.keep_leased(id) => match never {},
            };
            if !more {
                break;
            }
        }
        Ok(())
    }

    /// Renews this worker's lease on `id` every third of the lease until dropped. A lease found
    /// lost is only logged: every write is fenced by owner and version, so the step's own save
    /// then fails and nothing is overwritten.
    async fn keep_leased(&self, id: &str) -> std::convert::Infallible {
        let lease = self.cfg.lease_ms.max(3);
        loop {
            tokio::time::sleep(Duration::from_millis(lease / 3)).await;
            match self
                .store
                .renew(id, &self.owner, now_ms(), lease as i64)
                .await
            {
                Ok(true) => debug!(payment_id = id, "lease renewed"),
                Ok(false) => {
                    warn!(
                        payment_id = id,
                        "lease lost while a step ran; its writes will be refused"
                    );
                    return std::future::pending().await;
                }
                Err(e) => {
                    warn!(payment_id = id, error = %e, "cannot renew the lease; trying again")
                }
            }
        }
    }

    async fn save(
        &self,
        rec: &PaymentRecord,
        release: bool,
        note: &str,
    ) -> Result<bool, StoreError> {
        let ok = self
            .store
            .save(rec, &self.owner, now_ms(), release, Some(note))
            .await?;
        if ok {
            self.notifier.publish(&rec.id, rec.version + 1);
            debug!(payment_id = %rec.id, state = %rec.lifecycle.state, step = rec.lifecycle.step.as_str(), note, "payment changed");
        } else {
            warn!(payment_id = %rec.id, "lease lost before saving; another worker owns the payment");
        }
        Ok(ok)
    }

    /// Starts the payment's step and saves it (still leased), so a crash from here on is seen
    /// as "the POS may have our request".
    async fn start(&self, rec: &mut PaymentRecord, note: &str) -> Result<bool, StoreError> {
        match rec.lifecycle.on(Event::Start, RetryDecision::Retry) {
            Ok(l) => rec.lifecycle = l,
            Err(e) => {
                warn!(payment_id = %rec.id, error = %e, "cannot start step");
                return Ok(false);
            }
        }
        if rec.lifecycle.step != Step::Reconcile {
            rec.attempts += 1;
        } else {
            rec.checks += 1;
        }
        let ok = self.save(rec, false, note).await?;
        if ok {
            rec.version += 1;
            metrics::transition(rec.lifecycle.state, rec.substate);
        }
        Ok(ok)
    }

    /// Applies an answer to the lifecycle and sets the failure fields and next attempt time.
    fn apply(&self, rec: &mut PaymentRecord, a: Answer, decision: RetryDecision) {
        let before = rec.lifecycle;
        match before.on(a.event, decision) {
            Ok(l) => {
                rec.lifecycle = l;
                rec.sending = false;
            }
            Err(e) => {
                warn!(payment_id = %rec.id, error = %e, "ignoring an answer the state machine refuses");
                return;
            }
        }
        if a.reference.is_some() {
            rec.pos_reference = a.reference;
        }
        rec.pos_details.extend(a.details);
        let now = now_ms();
        if rec.lifecycle.state != PaymentState::OutcomeUnknown {
            rec.unknown_since = None;
        }
        match rec.lifecycle.state {
            PaymentState::Paid | PaymentState::Closed => {
                rec.substate = None;
                rec.pos_code = None;
                rec.pos_text = None;
                rec.next_attempt_at = now;
            }
            PaymentState::Retrying | PaymentState::NeedsAttention => {
                rec.substate = match a.event {
                    Event::Rejected(s) => Some(s),
                    _ => None,
                };
                rec.pos_code = a.code;
                rec.pos_text = a.text;
                let delay = self.cfg.retry.delay(rec.attempts, jitter_unit());
                rec.next_attempt_at = now + delay.as_millis() as i64;
            }
            PaymentState::OutcomeUnknown => {
                rec.unknown_since.get_or_insert(now);
                rec.pos_code = a.code.or(rec.pos_code.take());
                rec.pos_text = a.text.or(rec.pos_text.take());
                let delay = self.cfg.reconcile.delay(rec.checks.max(1), jitter_unit());
                rec.next_attempt_at = now + delay.as_millis() as i64;
            }
            _ => rec.next_attempt_at = now,
        }
    }

    fn decision(policy: &RetryPolicy, n: u32) -> RetryDecision {
        if policy.may_retry(n) {
            RetryDecision::Retry
        } else {
            RetryDecision::GiveUp
        }
    }

    /// Ends a step: saves, releases the lease, frees the bill unless the outcome is unknown.
    /// Returns whether the next step is due right away.
    async fn finish(&self, rec: &PaymentRecord, note: &str) -> Result<bool, StoreError> {
        let holds_bill = rec.lifecycle.state == PaymentState::OutcomeUnknown;
        if !self.save(rec, true, note).await? {
            return Ok(false);
        }
        metrics::transition(rec.lifecycle.state, rec.substate);
        if rec.lifecycle.state == PaymentState::Retrying {
            metrics::retry(rec.substate, rec.pos_code.as_deref());
        }
        if !holds_bill {
            self.store
                .unlock_bill(&rec.request.restaurant_id, &rec.request.bill_id, &rec.id)
                .await?;
        }
        info!(payment_id = %rec.id, restaurant_id = %rec.request.restaurant_id, bill_id = %rec.request.bill_id,
              state = %rec.lifecycle.state, substate = ?rec.substate, attempts = rec.attempts, note, "payment step done");
        Ok(rec.lifecycle.has_work() && rec.next_attempt_at <= now_ms())
    }

    async fn post(&self, mut rec: PaymentRecord) -> Result<bool, StoreError> {
        let (rid, bid) = (
            rec.request.restaurant_id.clone(),
            rec.request.bill_id.clone(),
        );
        // One payment posts to a bill at a time; the others wait their turn.
        if !self.store.lock_bill(&rid, &bid, &rec.id, now_ms()).await? {
            let next = now_ms() + 100 + i64::from(jitter_unit() % 200);
            self.store.release(&rec.id, &self.owner, next).await?;
            return Ok(false);
        }
        if !self.start(&mut rec, "posting").await? {
            return Ok(false);
        }
        let answer = self.post_to_pos(&mut rec).await;
        let note = answer.note.clone();
        let decision = Self::decision(&self.cfg.retry, rec.attempts);
        self.apply(&mut rec, answer, decision);
        if rec.lifecycle.state == PaymentState::OutcomeUnknown && self.cannot_read_bills(&rid).await
        {
            // Nothing to read back: hand it to a person now rather than after the check budget.
            rec.next_attempt_at = now_ms();
        }
        self.finish(&rec, &note).await
    }

    async fn post_to_pos(&self, rec: &mut PaymentRecord) -> Answer {
        let caps = match self.pos.describe(&rec.request.restaurant_id).await {
            Ok(c) => c,
            Err(PortError::NoRoute) => {
                return Answer::ours(
                    Event::Rejected(Substate::OtherError),
                    codes::ADAPTER,
                    format!(
                        "no adapter routes restaurant {:?}",
                        rec.request.restaurant_id
                    ),
                );
            }
            Err(e) => {
                return Answer::ours(Event::Transient, codes::ADAPTER, format!("describe: {e}"));
            }
        };
        // A POS that cannot show its bills (Tillypad) enforces the amount itself.
        if !caps.cannot_read_bills {
            match self.check_bill(&rec.request, &caps).await {
                Ok(snapshot) => rec.bill_before = Some(snapshot),
                Err(answer) => return answer,
            }
        }
        // Recovery point: from here on the POS may have our request.
        rec.sending = true;
        match self.save(rec, false, "sending to the POS").await {
            Ok(true) => rec.version += 1,
            Ok(false) => {
                return Answer::ours(
                    Event::Transient,
                    codes::WORKER_LOST,
                    "lease lost before sending",
                );
            }
            Err(e) => {
                return Answer::ours(Event::Transient, codes::ADAPTER, format!("store: {e}"));
            }
        }
        // `start` counted this posting: 1 = the first.
        let reply = self
            .pos
            .post_payment(&rec.id, &rec.request, rec.attempts)
            .await;
        match reply {
            // Refused before anything was sent: the adapter checked our request.
            Err(e @ PortError::BadRequest(_)) => Answer::ours(
                Event::Rejected(Substate::OtherError),
                codes::ADAPTER,
                format!("{e}; nothing was sent"),
            ),
            // Refused at the adapter's door (token unknown, this caller not allowed): a
            // configuration to fix, nothing was sent.
            Err(
                e @ (PortError::NotAllowed(_) | PortError::NoRoute | PortError::Unreachable(_)),
            ) => Answer::ours(
                Event::Transient,
                codes::ADAPTER,
                format!("{e}; nothing was sent"),
            ),
            // Otherwise the adapter may have sent our request before failing: we cannot know.
            Err(e @ PortError::Failed(_)) => {
                Answer::ours(Event::Unknown, codes::ADAPTER, format!("post payment: {e}"))
            }
            Ok(r) => {
                let f = r.failure.as_ref();
                let (event, note) = match r.outcome {
                    Outcome::Applied => (
                        Event::Applied {
                            bill_closed: r.bill_closed,
                        },
                        "the POS booked the payment",
                    ),
                    Outcome::Rejected => (
                        Event::Rejected(f.map_or(Substate::OtherError, |f| f.substate)),
                        "the POS refused",
                    ),
                    Outcome::NotApplied => (Event::Transient, "not applied; will retry"),
                    Outcome::Unknown => (Event::Unknown, "no answer from the POS"),
                };
                let mut a = match f {
                    Some(f) => Answer::failure(event, f, note),
                    None => Answer::new(event, note),
                };
                a.reference = r.reference;
                a.details = r.details;
                a
            }
        }
    }

    /// Reads the bill under the bill lock and checks that this payment fits it; returns the
    /// snapshot reconciliation compares against.
    async fn check_bill(
        &self,
        req: &PayRequest,
        caps: &Capabilities,
    ) -> Result<BillSnapshot, Answer> {
        let bill = match self.pos.get_bill(&req.restaurant_id, &req.bill_id).await {
            Err(e) => {
                return Err(Answer::ours(
                    Event::Transient,
                    codes::ADAPTER,
                    format!("get bill: {e}"),
                ));
            }
            Ok(Ok(b)) => b,
            Ok(Err(f)) if f.transient => {
                return Err(Answer::failure(
                    Event::Transient,
                    &f,
                    "the POS is out of reach",
                ));
            }
            Ok(Err(f)) if f.not_found => {
                return Err(Answer::ours(
                    Event::Rejected(Substate::OtherError),
                    codes::BILL_UNKNOWN,
                    format!(
                        "the POS does not know this bill; nothing was posted (POS: {} {})",
                        f.code, f.text
                    ),
                ));
            }
            Ok(Err(f)) => {
                return Err(Answer::failure(
                    Event::Rejected(f.substate),
                    &f,
                    "the POS refused to show the bill",
                ));
            }
        };
        let status = BillStatus::try_from(bill.status).unwrap_or(BillStatus::Unspecified);
        match status {
            BillStatus::Closed | BillStatus::Canceled => {
                return Err(Answer::ours(
                    Event::Rejected(Substate::OtherError),
                    codes::BILL_CLOSED,
                    format!(
                        "the bill is already {} in the POS ({}); nothing was posted",
                        if status == BillStatus::Closed {
                            "closed"
                        } else {
                            "canceled"
                        },
                        bill.pos_status
                    ),
                ));
            }
            BillStatus::NotReady => {
                return Err(Answer::ours(
                    Event::Transient,
                    codes::BILL_NOT_READY,
                    format!("the bill cannot take payments yet ({})", bill.pos_status),
                ));
            }
            _ => {}
        }
        let scale = req.amount.scale();
        let Ok(due) = Money::parse(&bill.amount_due, scale.max(2)) else {
            return Err(Answer::ours(
                Event::Rejected(Substate::OtherError),
                codes::AMOUNT_CHECK,
                format!(
                    "the POS reported an unreadable amount due {:?}",
                    bill.amount_due
                ),
            ));
        };
        if let Err(v) = caps.amount_rule.check(req.amount, due) {
            return Err(Answer::ours(
                Event::Rejected(Substate::WrongRequestSum),
                codes::AMOUNT_CHECK,
                format!("{v}; nothing was posted"),
            ));
        }
        Ok(bill)
    }

    async fn cannot_read_bills(&self, restaurant_id: &str) -> bool {
        self.pos
            .describe(restaurant_id)
            .await
            .is_ok_and(|c| c.cannot_read_bills)
    }

    /// How long a "not applied" check waits for a late apply at this restaurant's POS: the
    /// adapter's `Describe.reconcile_settle_ms`, capped by `[payments] reconcile_settle_ms`
    /// (see [`PaymentsConfig::settle_ms`]); the service's setting if the adapter cannot say.
    async fn settle_ms(&self, restaurant_id: &str) -> i64 {
        let adapter = match self.pos.describe(restaurant_id).await {
            Ok(c) => c.settle_ms,
            Err(_) => 0,
        };
        i64::try_from(self.cfg.settle_ms(adapter)).unwrap_or(i64::MAX)
    }

    async fn reconcile(&self, mut rec: PaymentRecord) -> Result<bool, StoreError> {
        if !self
            .start(&mut rec, "reading the bill to learn the outcome")
            .await?
        {
            return Ok(false);
        }
        if self.cannot_read_bills(&rec.request.restaurant_id).await {
            // Never post twice: with no way to read the bill back, a person decides.
            let a = Answer::ours(
                Event::Unknown,
                codes::UNVERIFIABLE,
                format!(
                    "the POS did not confirm the payment and has no call to read the bill back; check the bill in the POS{}",
                    rec.pos_text
                        .as_deref()
                        .map(|t| format!(" (POS: {t})"))
                        .unwrap_or_default()
                ),
            );
            let note = a.note.clone();
            self.apply(&mut rec, a, RetryDecision::GiveUp);
            return self.finish(&rec, &note).await;
        }
        let req = &rec.request;
        let reply = self
            .pos
            .check_payment(
                &rec.id,
                req,
                rec.pos_reference.as_deref(),
                rec.bill_before.as_ref(),
            )
            .await;
        metrics::reconciliation(match &reply {
            Err(_) => "error",
            Ok(r) => metrics::outcome(r.outcome),
        });
        let answer = match reply {
            Err(e) => Answer::new(Event::Unknown, format!("check failed: {e}")),
            Ok(r) => {
                let evidence = format!("reconciled: {}", r.evidence);
                match r.outcome {
                    Outcome::Applied => Answer::new(
                        Event::Applied {
                            bill_closed: r.bill_closed,
                        },
                        evidence,
                    ),
                    Outcome::NotApplied => {
                        let since = rec.unknown_since.unwrap_or(0);
                        let settle = self.settle_ms(&req.restaurant_id).await;
                        if now_ms().saturating_sub(since) < settle {
                            // The POS may still apply the unanswered request late.
                            Answer::new(
                                Event::Unknown,
                                format!(
                                    "{evidence}; not applied yet, waiting {} s for a late apply before posting again",
                                    since.saturating_add(settle).saturating_sub(now_ms()).max(0)
                                        / 1000
                                ),
                            )
                        } else {
                            Answer::new(Event::NotApplied, evidence)
                        }
                    }
                    Outcome::Rejected => match &r.failure {
                        Some(f) => Answer::failure(Event::Rejected(f.substate), f, evidence),
                        None => Answer::new(Event::Rejected(Substate::OtherError), evidence),
                    },
                    Outcome::Unknown => Answer::new(Event::Unknown, evidence),
                }
            }
        };
        let decision = match answer.event {
            Event::Unknown => Self::decision(&self.cfg.reconcile, rec.checks),
            _ => Self::decision(&self.cfg.retry, rec.attempts),
        };
        let note = answer.note.clone();
        self.apply(&mut rec, answer, decision);
        if rec.lifecycle.state == PaymentState::NeedsAttention
            && rec.lifecycle.step == Step::Reconcile
        {
            rec.pos_text = Some(format!(
                "the POS never confirmed whether the payment was booked after {} checks{}",
                rec.checks,
                rec.pos_text
                    .as_deref()
                    .map(|t| format!(" (last: {t})"))
                    .unwrap_or_default()
            ));
        }
        self.finish(&rec, &note).await
    }

    async fn close(&self, mut rec: PaymentRecord) -> Result<bool, StoreError> {
        if !self.start(&mut rec, "closing the bill").await? {
            return Ok(false);
        }
        let req = &rec.request;
        let reply = self
            .pos
            .close_bill(&rec.id, &req.restaurant_id, &req.bill_id)
            .await;
        let answer = match reply {
            Err(
                e @ (PortError::BadRequest(_)
                | PortError::NotAllowed(_)
                | PortError::NoRoute
                | PortError::Unreachable(_)),
            ) => Answer::ours(Event::Transient, codes::ADAPTER, format!("close: {e}")),
            Err(e @ PortError::Failed(_)) => {
                Answer::ours(Event::Unknown, codes::ADAPTER, format!("close: {e}"))
            }
            Ok(r) => {
                let f = r.failure.as_ref();
                let mut a = match r.outcome {
                    Outcome::Applied => Answer::new(Event::ClosedBill, "the POS closed the bill"),
                    Outcome::Rejected => Answer::new(
                        Event::Rejected(f.map_or(Substate::OtherError, |f| f.substate)),
                        "the POS refused to close",
                    ),
                    Outcome::NotApplied => Answer::new(Event::Transient, "close not applied"),
                    Outcome::Unknown => Answer::new(Event::Unknown, "no answer to close"),
                };
                if let Some(f) = f {
                    a.code = Some(f.code.clone());
                    a.text = Some(f.text.clone());
                }
                a.reference = r.reference;
                a
            }
        };
        let note = answer.note.clone();
        let decision = Self::decision(&self.cfg.retry, rec.attempts);
        self.apply(&mut rec, answer, decision);
        self.finish(&rec, &note).await
    }
}
