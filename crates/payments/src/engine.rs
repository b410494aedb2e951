//! The engine drives payments through the POS: post, reconcile after an unknown outcome, close.
//!
//! Work is found in the store, not in memory: a scheduler loop takes due payments (new ones are
//! also kicked at once), and each is driven under a lease taken with a conditional UPDATE, so
//! retries survive restarts and several replicas can share one database later. Calls to one
//! restaurant's POS are limited by a per-restaurant semaphore.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use posgate_core::PayRequest;
use posgate_core::payment::Event;
use posgate_core::{Money, PaymentState, RetryDecision, RetryPolicy, Step, Substate};
use posgate_proto::v1::BillStatus;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tracing::{Instrument, debug, info, warn};

use crate::config::PaymentsConfig;
use crate::metric_definitions as metrics;
use crate::notify::Notifier;
use crate::port::{Capabilities, Outcome, PortError, PosFailure, PosPort, PosReply};
use crate::store::{BillSnapshot, DueKey, Lease, PaymentRecord, Store, StoreError};

/// Due payments the scheduler takes per read.
const SCAN_LIMIT: u32 = 500;

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
    /// The POS took the posting as a task and did not answer within its settle time.
    pub const TASK_UNANSWERED: &str = "posgate:task_unanswered";

    /// Every code above (what a metric label may be).
    pub const ALL: [&str; 8] = [
        BILL_CLOSED,
        BILL_UNKNOWN,
        BILL_NOT_READY,
        AMOUNT_CHECK,
        ADAPTER,
        WORKER_LOST,
        UNVERIFIABLE,
        TASK_UNANSWERED,
    ];
}

/// The longest wait between two looks at a posting's task when the adapter does not say.
const DEFAULT_LOOK_INTERVAL: Duration = Duration::from_millis(500);

/// What one POS call came back with.
struct Answer {
    event: Event,
    code: Option<String>,
    text: Option<String>,
    reference: Option<String>,
    details: BTreeMap<String, String>,
    note: String,
    /// The POS took the posting as a task and works on it ([`Engine::follow_task`]).
    pending: Option<Pending>,
}

/// A posting the POS works on as a task.
#[derive(Clone, Copy)]
struct Pending {
    /// The longest wait between two looks at it (0: the engine's own).
    longest: Duration,
    /// When the posting was sent: looks back off by the time since.
    since: tokio::time::Instant,
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
            pending: None,
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
            pending: None,
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
            pending: None,
        }
    }

    /// The POS's answer to a posting (or a look at a posting's task), in the engine's terms.
    fn posted(r: PosReply) -> Self {
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
            // Unknown until its task answers: followed before anything is decided.
            Outcome::Pending => (Event::Unknown, "the POS is working on the payment"),
        };
        let mut a = match f {
            Some(f) => Answer::failure(event, f, note),
            None => Answer::new(event, note),
        };
        if r.outcome == Outcome::Pending {
            a.pending = Some(Pending {
                longest: Duration::from_millis(r.poll_interval_ms),
                since: tokio::time::Instant::now(),
            });
        }
        a.reference = r.reference;
        a.details = r.details;
        a
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
    /// The soonest time (unix ms) a payment this replica released falls due, if sooner than
    /// the scheduler last learned from the store: it wakes the scheduler without a read.
    soonest: AtomicI64,
    /// Set on shutdown: no new drives start; running ones finish and save.
    stopping: AtomicBool,
    /// Wakes what waits for a restaurant's slot holding a lease when `stopping` is set.
    stopped: Notify,
    heartbeat: AtomicBool,
    /// Set when the scheduler left due payments in the store because this replica holds
    /// `max_held`: the drives that end wake it once half of them are done.
    backlogged: AtomicBool,
    /// Payments this replica holds (driving, or waiting for their restaurant's slot), and
    /// whether it holds each one's lease yet ([`Engine::holds_lease`]).
    in_flight: Mutex<HashMap<String, bool>>,
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Slots for looks at postings' tasks (`task_looks_in_flight`, see [`Engine::follow_task`]).
    looks: Semaphore,
    /// Slots for bills read ahead ([`crate::config::READS_AHEAD_IN_FLIGHT`]).
    reads_ahead: Arc<Semaphore>,
    /// Payments the scheduler handed to drives, per restaurant, until each drive ends: at most
    /// `max_held_per_restaurant` each ([`Queued`]).
    queued: Mutex<HashMap<String, usize>>,
}

/// A place in a restaurant's share of the payments this replica holds, taken by the scheduler
/// for a due payment it hands to a drive and given back when the drive ends, however it ends.
/// When a full restaurant's share falls to half, the scheduler is woken to hand it more.
struct Queued {
    engine: Arc<Engine>,
    restaurant: String,
}

impl Drop for Queued {
    fn drop(&mut self) {
        let cap = self.engine.cfg.max_held_per_restaurant();
        let left = {
            let mut queued = self.engine.queued.lock().unwrap_or_else(|p| p.into_inner());
            let n = queued.entry(self.restaurant.clone()).or_insert(1);
            *n -= 1;
            let left = *n;
            if left == 0 {
                queued.remove(&self.restaurant);
            }
            left
        };
        if left == cap / 2 {
            self.engine.due_at(now_ms());
        }
    }
}

/// Removes a payment from the in-flight set when its drive ends, however it ends.
struct InFlight<'a>(&'a Engine, String);
impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        metrics::in_flight(-1);
        let left = {
            let mut set = self.0.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            set.remove(&self.1);
            set.len()
        };
        if left <= self.0.cfg.max_held / 2 && self.0.backlogged.swap(false, Ordering::SeqCst) {
            self.0.due_at(now_ms());
        }
    }
}

/// How a drive starts.
enum Start {
    /// A payment just stored with this replica's lease, and whether its bill was asked for too
    /// ([`Engine::lease_for_new`]): its restaurant's slot, or its place in the restaurant's
    /// share to wait for one in; and its bill as read while it was stored, if that read stands
    /// for one made now ([`Engine::read_bill_ahead`]).
    Leased(Box<PaymentRecord>, Turn, bool, Option<ReadAhead>),
    /// A stored payment: read, wait for its restaurant's slot (first, when the restaurant is
    /// known: a payment waiting for its slot holds nothing read), claim.
    Stored(Option<String>),
}

/// A new payment's lease and its turn at its restaurant's POS, taken before it is stored so
/// its worker drives it without reading or claiming it (see [`Engine::lease_for_new`]).
pub struct NewLease {
    pub lease: Lease,
    turn: Turn,
    read_ahead: Option<ReadAhead>,
}

/// What a posting learns before its recovery point ([`Engine::look_before_posting`]): the bill
/// as read, none where the POS cannot show its bills, or the posting's answer (nothing sent).
type Looked = Result<Option<BillSnapshot>, Answer>;

/// A new payment's bill, read from its POS while the payment is being stored
/// ([`Engine::read_bill_ahead`]). Stopped when dropped unused.
pub struct ReadAhead(tokio::task::JoinHandle<Looked>);

impl ReadAhead {
    /// The read's result; `None` if it could not finish (read again instead).
    async fn result(mut self) -> Option<Looked> {
        (&mut self.0).await.ok()
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A leased new payment's turn at its restaurant's POS: a slot now, or a place in the
/// restaurant's share of what this replica holds, to wait for a slot in.
enum Turn {
    Slot(OwnedSemaphorePermit),
    Waiting(Queued),
}

impl Engine {
    pub fn new(
        store: Store,
        pos: Arc<dyn PosPort>,
        notifier: Arc<Notifier>,
        cfg: Arc<PaymentsConfig>,
    ) -> Arc<Engine> {
        let looks = cfg.task_looks_in_flight.max(1);
        Arc::new(Engine {
            store,
            pos,
            notifier,
            cfg,
            owner: format!("payments-{}", uuid::Uuid::new_v4()),
            wake: Notify::new(),
            soonest: AtomicI64::new(i64::MAX),
            stopping: AtomicBool::new(false),
            stopped: Notify::new(),
            heartbeat: AtomicBool::new(false),
            backlogged: AtomicBool::new(false),
            in_flight: Mutex::default(),
            limits: Mutex::default(),
            looks: Semaphore::new(looks),
            reads_ahead: Arc::new(Semaphore::new(crate::config::READS_AHEAD_IN_FLIGHT)),
            queued: Mutex::default(),
        })
    }

    /// Drives a payment now (in the background) unless it is already being driven here.
    pub fn kick(self: &Arc<Self>, id: String) {
        self.drive_stored_in_background(id, None, None);
    }

    /// Drives a due payment the scheduler found, of `restaurant`, if the restaurant's share of
    /// what this replica holds has room; if it is full, the payment stays stored.
    fn kick_due(self: &Arc<Self>, id: String, restaurant: String) {
        let Some(place) = self.queued_place(&restaurant) else {
            return;
        };
        self.drive_stored_in_background(id, Some(restaurant), Some(place));
    }

    fn drive_stored_in_background(
        self: &Arc<Self>,
        id: String,
        restaurant: Option<String>,
        place: Option<Queued>,
    ) {
        if self.stopping.load(Ordering::Relaxed) {
            // Stored and due: the next start (or another replica) takes it.
            return;
        }
        let engine = Arc::clone(self);
        // The payment's trace continues the request that kicked it (PayBill), if any.
        let parent = posgate_grpc::telemetry::current();
        tokio::spawn(async move {
            let _place = place;
            engine.drive(&id, Start::Stored(restaurant), parent).await
        });
    }

    /// For a payment about to be stored: a lease for this replica and a turn at its
    /// restaurant's POS — a slot when one is free now, else a place in the restaurant's share of
    /// what this replica holds (`max_held_per_restaurant`, as the scheduler's backlog) to wait
    /// for one in, holding the lease (the heartbeat renews it). Stored with them
    /// ([`Store::insert_leased`]), the payment is driven by [`Engine::drive_leased`] without
    /// being read or claimed again — at a dinner peak, when a restaurant's slots are all taken,
    /// no claim and no separate bill lock per payment. Without them (stopping, or the share
    /// full) it is stored unleased and [`Engine::kick`]ed.
    pub fn lease_for_new(self: &Arc<Self>, restaurant_id: &str) -> Option<NewLease> {
        if self.stopping.load(Ordering::Relaxed) {
            return None;
        }
        let turn = match self.limit(restaurant_id).try_acquire_owned() {
            Ok(permit) => {
                metrics::limiter_wait(restaurant_id, Duration::ZERO);
                Turn::Slot(permit)
            }
            Err(_) => Turn::Waiting(self.queued_place(restaurant_id)?),
        };
        Some(NewLease {
            lease: Lease {
                owner: self.owner.clone(),
                until: now_ms() + self.cfg.lease_ms as i64,
            },
            turn,
            read_ahead: None,
        })
    }

    /// Starts reading the bill of a payment about to be stored with `lease`, when the lease
    /// comes with a free slot (a payment that waits for one reads its bill when its turn
    /// comes): the read and the insert's commit overlap, and the first posting goes on to its
    /// recovery point as soon as both are done — one durability point off each payment's path.
    ///
    /// The read is taken only as far as it cannot mislead ([`Engine::post_to_pos`]): a bill to
    /// post to only if no other payment of the bill is stored when the recovery point is
    /// saved ([`Store::save_sending_read_ahead`]: then none of ours posted to it around the
    /// read), a passing failure as it is; a refusal, or a bill shared after all, is read again
    /// now that the payment holds its bill, as before.
    ///
    /// At most [`crate::config::READS_AHEAD_IN_FLIGHT`] at once: in a burst the others read
    /// after their inserts.
    pub fn read_bill_ahead(self: &Arc<Self>, lease: &mut NewLease, req: &PayRequest) {
        if !matches!(lease.turn, Turn::Slot(_)) {
            return;
        }
        let Ok(slot) = Arc::clone(&self.reads_ahead).try_acquire_owned() else {
            return;
        };
        let engine = Arc::clone(self);
        let req = req.clone();
        let read = async move {
            let _slot = slot;
            engine.look_before_posting(&req).await
        };
        lease.read_ahead = Some(ReadAhead(tokio::spawn(read.in_current_span())));
    }

    /// A place in `restaurant`'s share of the payments this replica holds, if it has room.
    fn queued_place(self: &Arc<Self>, restaurant: &str) -> Option<Queued> {
        {
            let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
            let n = queued.entry(restaurant.to_string()).or_insert(0);
            if *n >= self.cfg.max_held_per_restaurant() {
                return None;
            }
            *n += 1;
        }
        Some(Queued {
            engine: Arc::clone(self),
            restaurant: restaurant.to_string(),
        })
    }

    /// Drives a payment just stored with `lease` (see [`Engine::lease_for_new`]); `bill_locked`
    /// says whether the insert also asked for its bill.
    pub fn drive_leased(self: &Arc<Self>, rec: PaymentRecord, lease: NewLease, bill_locked: bool) {
        let engine = Arc::clone(self);
        let parent = posgate_grpc::telemetry::current();
        let id = rec.id.clone();
        // Boxed before the task captures it: the task's state holds a pointer, not the record
        // beside the drive that holds it boxed (~500 bytes per payment in flight).
        let start = Start::Leased(Box::new(rec), lease.turn, bill_locked, lease.read_ahead);
        tokio::spawn(async move { engine.drive(&id, start, parent).await });
    }

    /// Whether this replica is driving the payment now (its waiters are woken by
    /// [`Notifier`] and need not re-read the store often).
    pub fn is_driving(&self, id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    /// Whether this replica drives the payment under its lease now: then every save of it is
    /// this replica's and published to its waiters, so what was last published is the payment
    /// as stored. Not while a drive waits for its restaurant's slot before claiming it (another
    /// replica may take and save the payment meanwhile).
    pub fn holds_lease(&self, id: &str) -> bool {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
            .unwrap_or(false)
    }

    /// Marks a payment in flight here as leased to this replica.
    fn leased(&self, id: &str) {
        if let Some(held) = self
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            *held = true;
        }
    }

    /// Tells the scheduler that a payment falls due at `at` (unix ms), if sooner than it knew.
    fn due_at(&self, at: i64) {
        if self.soonest.fetch_min(at, Ordering::SeqCst) > at {
            self.wake.notify_one();
        }
    }

    /// The scheduler: takes due payments until `shutdown` resolves. It reads the store once per
    /// wake-up and sleeps until the next payment falls due — woken sooner when this replica
    /// schedules something sooner — or at most `poll_interval_ms` (work made by another replica
    /// or process, a dead replica's new payments): idle, it costs one statement per interval.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        self.start_heartbeat();
        let poll = Duration::from_millis(self.cfg.poll_interval_ms.max(10));
        let mut sweeps = 0u32;
        // Where the next read starts: after the last page while a backlog is read page by page.
        let mut after: Option<DueKey> = None;
        loop {
            // What this replica schedules from now on is in `soonest`; what it scheduled
            // before is in the store and read now.
            self.soonest.store(i64::MAX, Ordering::SeqCst);
            let now = now_ms();
            let next = match self
                .store
                .scan_due_after(now, SCAN_LIMIT, after.as_ref())
                .await
            {
                Ok(due) => {
                    // A restaurant whose share is full keeps the rest of its due payments
                    // stored: they are read again when its share falls to half.
                    for (id, restaurant) in due.ids.into_iter().zip(due.restaurants) {
                        if !self.is_driving(&id) {
                            self.kick_due(id, restaurant);
                        }
                    }
                    let more = due.next_at.is_some_and(|at| at <= now);
                    if !more {
                        after = None;
                        due.next_at
                    } else if self.driving() < self.cfg.max_held {
                        // More are due than one read takes: the next page at once (the
                        // payments of this one may wait for their restaurants' slots, and
                        // reading from the start again would find them again).
                        after = due.last;
                        Some(now)
                    } else {
                        // This replica holds all it may: the rest stay stored until half of
                        // what it holds is done (or another replica takes them).
                        after = None;
                        self.backlogged.store(true, Ordering::SeqCst);
                        if self.driving() <= self.cfg.max_held / 2 {
                            self.backlogged.store(false, Ordering::SeqCst);
                            Some(now)
                        } else {
                            Some(now + poll.as_millis() as i64)
                        }
                    }
                }
                Err(e) => {
                    warn!(error = %e, "scanning for due payments failed");
                    after = None;
                    None
                }
            };
            sweeps = sweeps.wrapping_add(1);
            if sweeps.is_multiple_of(64) {
                self.notifier.sweep();
            }
            let sleep = loop {
                let at = next
                    .unwrap_or(i64::MAX)
                    .min(self.soonest.load(Ordering::SeqCst));
                let until = Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0));
                let sleep = until.min(poll);
                tokio::select! {
                    _ = &mut shutdown => break None,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(sleep) => break Some(()),
                }
                // Woken: rescan only if something is due before the planned wake-up.
                if self.soonest.load(Ordering::SeqCst) <= now_ms() {
                    break Some(());
                }
            };
            if sleep.is_none() {
                break;
            }
        }
        self.stopping.store(true, Ordering::Relaxed);
        self.stopped.notify_waiters();
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

    /// Starts (once) the replica's heartbeat: every third of the lease, the leases of every
    /// payment this replica is driving are extended in a few statements (not one per payment),
    /// so a short lease never expires under a live worker, however long its POS call takes, and
    /// a dead replica's payments are taken over in seconds. Nothing is written while nothing is
    /// in flight. A lease found lost is harmless: every write is fenced by owner and version.
    fn start_heartbeat(self: &Arc<Self>) {
        if self.heartbeat.swap(true, Ordering::SeqCst) {
            return;
        }
        let engine = Arc::downgrade(self);
        let lease = self.cfg.lease_ms.max(3);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(lease / 3)).await;
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                // Only the leases this replica holds (new payments waiting for their
                // restaurant's slot hold theirs): a stored payment the scheduler handed to a
                // drive has none until claimed (a herd's thousands would be an UPDATE of
                // nothing each round).
                let ids: Vec<String> = engine
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .filter(|(_, held)| **held)
                    .map(|(id, _)| id.clone())
                    .collect();
                if ids.is_empty() {
                    continue;
                }
                match engine
                    .store
                    .renew_many(&ids, &engine.owner, now_ms(), lease as i64)
                    .await
                {
                    Ok(n) => debug!(renewed = n, in_flight = ids.len(), "leases renewed"),
                    Err(e) => warn!(error = %e, "cannot renew leases; trying again"),
                }
            }
        });
    }

    /// Payments this replica holds now (driving, or waiting for their restaurant's slot).
    fn driving(&self) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn limit(&self, restaurant_id: &str) -> Arc<Semaphore> {
        let mut limits = self.limits.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(limits.entry(restaurant_id.to_string()).or_insert_with(|| {
            Arc::new(Semaphore::new(self.cfg.max_in_flight_per_restaurant.max(1)))
        }))
    }

    /// Drives a payment: `leased` is a payment just stored with this replica's lease (and its
    /// slot, and whether its bill was taken); otherwise it is read, waits for its slot and is
    /// claimed.
    async fn drive(
        self: &Arc<Self>,
        id: &str,
        start: Start,
        parent: posgate_grpc::telemetry::Context,
    ) {
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            if in_flight.contains_key(id) {
                return;
            }
            // A payment stored leased to this replica holds its lease from the start.
            in_flight.insert(id.to_string(), matches!(start, Start::Leased(..)));
        }
        metrics::in_flight(1);
        let _guard = InFlight(self, id.to_string());
        self.start_heartbeat();
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
        let driven = async {
            match start {
                Start::Leased(rec, turn, bill_locked, read_ahead) => {
                    self.record_ids(&rec);
                    // Held until the drive ends, like the scheduler's (`Queued`).
                    let (_permit, _place) = match turn {
                        Turn::Slot(permit) => (permit, None),
                        // Boxed: only a payment stored while its restaurant was busy waits.
                        Turn::Waiting(place) => match Box::pin(self.slot_for_leased(&rec)).await? {
                            Some(permit) => (permit, Some(place)),
                            None => return Ok(()),
                        },
                    };
                    self.run_steps(rec, bill_locked, read_ahead).await
                }
                Start::Stored(restaurant) => self.drive_stored(id, restaurant).await,
            }
        };
        if let Err(e) = driven.instrument(span).await {
            warn!(payment_id = id, error = %e, "driving payment failed; it stays due and is retried");
        }
    }

    /// Waits for a slot at the restaurant of a payment stored leased while its slots were all
    /// taken. `None` when this replica stops meanwhile (at once, not when a slot frees): the
    /// lease is given up, so the payment is due at once at another replica (or here at the
    /// next start) rather than when its lease would have ended; its bill stays its own.
    async fn slot_for_leased(
        &self,
        rec: &PaymentRecord,
    ) -> Result<Option<OwnedSemaphorePermit>, StoreError> {
        let restaurant = &rec.request.restaurant_id;
        let waiting = std::time::Instant::now();
        // Registered before `stopping` is read: a stop between the two is not missed.
        let stopped = self.stopped.notified();
        tokio::pin!(stopped);
        stopped.as_mut().enable();
        let permit = if self.stopping.load(Ordering::Relaxed) {
            None
        } else {
            tokio::select! {
                permit = self.limit(restaurant).acquire_owned() => permit.ok(),
                () = stopped => None,
            }
        };
        metrics::limiter_wait(restaurant, waiting.elapsed());
        if permit.is_some() && !self.stopping.load(Ordering::Relaxed) {
            return Ok(permit);
        }
        self.store.release(&rec.id, &self.owner, now_ms()).await?;
        Ok(None)
    }

    fn record_ids(&self, rec: &PaymentRecord) {
        let span = tracing::Span::current();
        span.record("restaurant_id", rec.request.restaurant_id.as_str());
        span.record("bill_id", rec.request.bill_id.as_str());
    }

    /// Reads a stored payment, waits for its restaurant's slot, claims it and runs its steps.
    async fn drive_stored(&self, id: &str, restaurant: Option<String>) -> Result<(), StoreError> {
        let restaurant = match restaurant {
            Some(r) => r,
            None => match Box::pin(self.store.get(id)).await? {
                Some(rec) => rec.request.restaurant_id,
                None => return Ok(()),
            },
        };
        let limit = self.limit(&restaurant);
        let waiting = std::time::Instant::now();
        let Ok(_permit) = limit.acquire_owned().await else {
            return Ok(());
        };
        metrics::limiter_wait(&restaurant, waiting.elapsed());
        if self.stopping.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(mut rec) =
            Box::pin(
                self.store
                    .claim(id, &self.owner, now_ms(), self.cfg.lease_ms as i64),
            )
            .await?
            .map(Box::new)
        else {
            return Ok(());
        };
        self.leased(id);
        self.record_ids(&rec);
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
                .save(&mut rec, false, false, "recovered after a lost worker")
                .await?
            {
                return Ok(());
            }
            metrics::transition(&rec);
        }
        // Boxed: a drive waiting for its slot stays small (thousands wait when a backlog is
        // due at once); the steps' state is allocated when they run.
        Box::pin(self.run_steps(rec, false, None)).await
    }

    /// Runs a claimed payment's steps while they are due at once (pay, then close), keeping
    /// the record in memory between them: no read and no claim between steps. `read_ahead`:
    /// the bill as read while the payment was stored, for its first posting.
    async fn run_steps(
        &self,
        mut rec: Box<PaymentRecord>,
        mut bill_locked: bool,
        mut read_ahead: Option<ReadAhead>,
    ) -> Result<(), StoreError> {
        for _ in 0..4 {
            if self.stopping.load(Ordering::Relaxed) {
                // Leased and unchanged: due again when the lease ends, here or elsewhere.
                return Ok(());
            }
            // Posting inline; the other steps boxed, so they do not size the posting's future.
            let next = match rec.lifecycle.step {
                Step::Post => self.post(rec, bill_locked, read_ahead.take()).await?,
                Step::Reconcile => Box::pin(self.reconcile(rec)).await?,
                Step::Close => Box::pin(self.close(rec)).await?,
                Step::Done => None,
            };
            match next {
                Some(r) => rec = r,
                None => break,
            }
            bill_locked = false;
        }
        Ok(())
    }

    /// Saves the payment (fenced by this worker's lease and its version); on success its
    /// version moves on and its waiters get it. `release` gives the lease up, `unlock_bill`
    /// lets its bill go, both in the same transaction.
    async fn save(
        &self,
        rec: &mut PaymentRecord,
        release: bool,
        unlock_bill: bool,
        note: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        // Boxed: every step awaits a save, and inline the store's future would size each step's
        // future, held for the whole POS call of every payment in flight (the
        // `a_payment_waiting_for_its_pos_holds_a_small_future` test).
        let ok =
            Box::pin(
                self.store
                    .save_step(rec, &self.owner, now, release, unlock_bill, Some(note)),
            )
            .await?;
        if ok {
            self.saved(rec, now, note);
        } else {
            warn!(payment_id = %rec.id, "lease lost before saving; another worker owns the payment");
        }
        Ok(ok)
    }

    /// After a save went through: the payment's version moves on and its waiters get it.
    fn saved(&self, rec: &mut PaymentRecord, now: i64, note: &str) {
        rec.version += 1;
        rec.updated_at = now;
        self.notifier.publish(rec);
        debug!(payment_id = %rec.id, state = %rec.lifecycle.state, step = rec.lifecycle.step.as_str(), note, "payment changed");
    }

    /// Starts the payment's step. With `save`, the start is saved (still leased): a recovery
    /// point, so a crash from here on is seen as "the POS may have our request". A posting
    /// saves its start later, once the bill was checked (see `post_to_pos`); a reconcile only
    /// reads, so it saves nothing until its answer.
    async fn start(&self, rec: &mut PaymentRecord, save: Option<&str>) -> Result<bool, StoreError> {
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
        let Some(note) = save else { return Ok(true) };
        let ok = self.save(rec, false, false, note).await?;
        if ok {
            metrics::transition(rec);
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

    /// Ends a step: saves its outcome and frees the bill unless the outcome is unknown, in one
    /// transaction. When the next step is due at once (close after pay, reconcile after a lost
    /// answer on a POS that cannot be read) the lease is kept and the payment returned to run
    /// it; otherwise the lease is given up and the scheduler told when it falls due.
    ///
    /// Callers box it (`Box::pin(self.finish(..))`): it runs for one write at a step's end, and
    /// inline it would make every step's future, held for the whole POS call of each payment in
    /// flight, as large as itself.
    async fn finish(
        &self,
        mut rec: Box<PaymentRecord>,
        note: &str,
    ) -> Result<Option<Box<PaymentRecord>>, StoreError> {
        let holds_bill = rec.lifecycle.state == PaymentState::OutcomeUnknown;
        let go_on = rec.lifecycle.has_work()
            && rec.next_attempt_at <= now_ms()
            && !self.stopping.load(Ordering::Relaxed);
        if !self.save(&mut rec, !go_on, !holds_bill, note).await? {
            return Ok(None);
        }
        metrics::transition(&rec);
        if rec.lifecycle.state == PaymentState::Retrying {
            metrics::retry(&rec);
        }
        info!(payment_id = %rec.id, restaurant_id = %rec.request.restaurant_id, bill_id = %rec.request.bill_id,
              state = %rec.lifecycle.state, substate = ?rec.substate, attempts = rec.attempts, note, "payment step done");
        if go_on {
            return Ok(Some(rec));
        }
        if rec.lifecycle.has_work() {
            self.due_at(rec.next_attempt_at);
        }
        Ok(None)
    }

    async fn post(
        &self,
        mut rec: Box<PaymentRecord>,
        bill_locked: bool,
        read_ahead: Option<ReadAhead>,
    ) -> Result<Option<Box<PaymentRecord>>, StoreError> {
        let (rid, bid) = (
            rec.request.restaurant_id.clone(),
            rec.request.bill_id.clone(),
        );
        // One payment posts to a bill at a time; the others wait their turn. A payment stored
        // leased asked for its bill with the insert; its recovery point proves it got it.
        if !bill_locked && !Box::pin(self.store.lock_bill(&rid, &bid, &rec.id, now_ms())).await? {
            return self.wait_for_bill(&rec.id).await;
        }
        // Started in memory; saved with the recovery point, or with the answer if nothing is sent.
        if !self.start(&mut rec, None).await? {
            return Ok(None);
        }
        let Some(mut answer) = self.post_to_pos(&mut rec, read_ahead).await else {
            // Another payment holds the bill: nothing was sent, nothing saved.
            return self.wait_for_bill(&rec.id).await;
        };
        if let Some(following) = answer.pending.take() {
            // Boxed: only a posting the POS took as a task follows it.
            match Box::pin(self.follow_task(&mut rec, answer, following)).await? {
                Some(a) => answer = a,
                None => return Ok(None),
            }
        }
        let note = answer.note.clone();
        let decision = Self::decision(&self.cfg.retry, rec.attempts);
        self.apply(&mut rec, answer, decision);
        if rec.lifecycle.state == PaymentState::OutcomeUnknown && self.cannot_read_bills(&rid).await
        {
            // Nothing to read back: hand it to a person now rather than after the check budget.
            rec.next_attempt_at = now_ms();
        }
        Box::pin(self.finish(rec, &note)).await
    }

    /// Gives the payment up, unchanged, while another payment posts to its bill: due again in
    /// a moment (jittered), here or at another replica.
    async fn wait_for_bill(&self, id: &str) -> Result<Option<Box<PaymentRecord>>, StoreError> {
        let next = now_ms() + 100 + i64::from(jitter_unit() % 200);
        Box::pin(self.store.release(id, &self.owner, next)).await?;
        self.due_at(next);
        Ok(None)
    }

    /// What a posting learns before its recovery point: what the restaurant's POS can do and,
    /// where it shows its bills, the bill as it is now, checked ([`Engine::check_bill`]).
    async fn look_before_posting(&self, req: &PayRequest) -> Looked {
        let caps = match self.pos.describe(&req.restaurant_id).await {
            Ok(c) => c,
            Err(PortError::NoRoute) => {
                return Err(Answer::ours(
                    Event::Rejected(Substate::OtherError),
                    codes::ADAPTER,
                    format!("no adapter routes restaurant {:?}", req.restaurant_id),
                ));
            }
            Err(e) => {
                return Err(Answer::ours(
                    Event::Transient,
                    codes::ADAPTER,
                    format!("describe: {e}"),
                ));
            }
        };
        // A POS that cannot show its bills (Tillypad) enforces the amount itself.
        if caps.cannot_read_bills {
            return Ok(None);
        }
        self.check_bill(req, &caps).await.map(Some)
    }

    /// Checks the bill (or takes `read_ahead`'s reading of it), saves the recovery point and
    /// posts: the POS's answer (or ours), or `None` when the recovery point was refused because
    /// another payment holds the bill (nothing was sent; the payment waits for the bill).
    async fn post_to_pos(
        &self,
        rec: &mut PaymentRecord,
        read_ahead: Option<ReadAhead>,
    ) -> Option<Answer> {
        // Boxed: only a new payment's first posting has its bill read ahead.
        let ready = match read_ahead {
            Some(read) => match Box::pin(self.recovery_point_on_read_ahead(rec, read)).await {
                Ok(saved) => saved,
                Err(refused) => return refused,
            },
            None => false,
        };
        if !ready {
            match self.look_before_posting(&rec.request).await {
                Ok(bill) => rec.bill_before = bill,
                Err(answer) => return Some(answer),
            }
            if let Err(refused) = Box::pin(self.save_recovery_point(rec, false)).await {
                return refused;
            }
        }
        // `start` counted this posting: 1 = the first.
        let sent = tokio::time::Instant::now();
        let reply = self
            .pos
            .post_payment(&rec.id, &rec.request, rec.attempts)
            .await;
        Some(match reply {
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
                let mut a = Answer::posted(r);
                // A task: followed with looks that back off by the time since it was sent.
                if let Some(following) = a.pending.as_mut() {
                    following.since = sent;
                }
                a
            }
        })
    }

    /// The recovery point on the bill as read while the payment was stored, taken as far as
    /// it cannot mislead (see [`Engine::read_bill_ahead`]): a passing failure is the posting's
    /// answer as it is (`Err`, as from [`Engine::save_recovery_point`]); a bill to post to is
    /// saved if no other payment of it is stored (`Ok(true)`); otherwise — a refusal, a bill
    /// shared after all, a read that did not finish — `Ok(false)`: read the bill again.
    async fn recovery_point_on_read_ahead(
        &self,
        rec: &mut PaymentRecord,
        read: ReadAhead,
    ) -> Result<bool, Option<Answer>> {
        let taken = match read.result().await {
            Some(Err(answer)) if matches!(answer.event, Event::Transient) => Err(Some(answer)),
            Some(Ok(bill)) => {
                rec.bill_before = bill;
                self.save_recovery_point(rec, true).await
            }
            _ => Ok(false),
        };
        metrics::bill_read_ahead(match &taken {
            Ok(true) => "posted_on",
            Err(Some(_)) => "passing_failure",
            _ => "read_again",
        });
        taken
    }

    /// Saves the posting's recovery point: from here on the POS may have our request. Saved with
    /// the posting's start and the bill as read: one write before the POS call. `Ok(true)`:
    /// saved. `Err(None)`: refused because another payment holds the bill (nothing was sent;
    /// the payment waits for it); `Err(Some(answer))`: refused otherwise, or the store failed.
    /// With `read_ahead` (the bill was read before the payment held it) it is refused also while
    /// another payment of the bill is stored: `Ok(false)`, read the bill again.
    async fn save_recovery_point(
        &self,
        rec: &mut PaymentRecord,
        read_ahead: bool,
    ) -> Result<bool, Option<Answer>> {
        rec.sending = true;
        let (now, note) = (now_ms(), "sending to the POS");
        let saved = if read_ahead {
            Box::pin(
                self.store
                    .save_sending_read_ahead(rec, &self.owner, now, note),
            )
            .await
        } else {
            Box::pin(
                self.store
                    .save_step(rec, &self.owner, now, false, false, Some(note)),
            )
            .await
        };
        match saved {
            Ok(true) => {
                self.saved(rec, now, note);
                metrics::transition(rec);
                return Ok(true);
            }
            Ok(false) => {}
            Err(e) => {
                return Err(Some(Answer::ours(
                    Event::Transient,
                    codes::ADAPTER,
                    format!("store: {e}"),
                )));
            }
        }
        rec.sending = false;
        // Refused: the lease (or version) is gone, or the bill is another payment's, or (read
        // ahead) shared.
        let r = &rec.request;
        let holder = Box::pin(self.store.bill_holder(&r.restaurant_id, &r.bill_id)).await;
        if matches!(&holder, Ok(h) if h.as_deref() != Some(rec.id.as_str())) {
            debug!(payment_id = %rec.id, holder = ?holder, "the bill is another payment's; waiting for it");
            return Err(None);
        }
        if read_ahead {
            debug!(payment_id = %rec.id, "the bill was read ahead and is shared; reading it again");
            return Ok(false);
        }
        warn!(payment_id = %rec.id, "lease lost before saving; another worker owns the payment");
        Err(Some(Answer::ours(
            Event::Transient,
            codes::WORKER_LOST,
            "lease lost before sending",
        )))
    }

    /// Follows a posting the POS took as a task and works on (`pending`): saves the task's
    /// reference (a replica that takes the payment over after a crash checks that task), then
    /// looks at the task — soon, then backing off to a quarter of the time since it was sent,
    /// at most the adapter's `poll_interval_ms` apart — until it answers or the POS's settle
    /// time is over. Between looks this payment holds no call to the adapter, and the adapter
    /// holds nothing of it. Each look first waits for one of `task_looks_in_flight` slots.
    ///
    /// The task's answer is read as the posting's own would have been (the adapter's look at
    /// it is the same reading); a look that fails or finds it running decides nothing. Past the
    /// settle time, or when this replica stops, the outcome is unknown and reconciliation goes
    /// on from the saved reference. `None`: the save was refused (the lease is gone).
    async fn follow_task(
        &self,
        rec: &mut PaymentRecord,
        pending: Answer,
        following: Pending,
    ) -> Result<Option<Answer>, StoreError> {
        let Pending {
            longest,
            since: sent,
        } = following;
        let longest = Some(longest)
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_LOOK_INTERVAL);
        let Some(task) = pending.reference.clone() else {
            return Ok(Some(Answer::ours(
                Event::Unknown,
                codes::ADAPTER,
                "the POS took the payment as a task without naming it; its answer cannot be looked up",
            )));
        };
        rec.pos_reference = Some(task.clone());
        let note = format!("the POS is working on the payment (task {task})");
        if !self.save(rec, false, false, &note).await? {
            return Ok(None);
        }
        let settle = self.settle_ms(&rec.request.restaurant_id).await;
        let deadline = sent + Duration::from_millis(u64::try_from(settle).unwrap_or(0));
        // What the POS said of the posting when it took it stays with the payment.
        let (mut last, details) = (pending.note, pending.details);
        loop {
            let now = tokio::time::Instant::now();
            if self.stopping.load(Ordering::Relaxed) || now >= deadline {
                let why = if now >= deadline {
                    format!(
                        "the POS gave no answer for task {task} within {} s",
                        settle / 1000
                    )
                } else {
                    format!("this replica stopped while the POS worked on task {task}")
                };
                let mut a = Answer::ours(
                    Event::Unknown,
                    codes::TASK_UNANSWERED,
                    format!("{why} (last: {last})"),
                );
                a.details = details;
                return Ok(Some(a));
            }
            let wait = posgate_core::pos::poll_wait(now - sent, longest).min(deadline - now);
            tokio::time::sleep(wait).await;
            let look = {
                // Waiting for a slot holds nothing of the call; the slot is kept for the look.
                let Ok(_slot) = self.looks.acquire().await else {
                    continue;
                };
                let r = &rec.request;
                self.pos
                    .check_payment(&rec.id, r, Some(&task), rec.bill_before.as_ref(), true)
                    .await
            };
            match look {
                Ok(reply) if reply.outcome != Outcome::Pending => {
                    let evidence = reply.evidence.clone();
                    let mut a = Answer::posted(reply);
                    a.reference = Some(task);
                    a.details.extend(details);
                    if !evidence.is_empty() {
                        a.note = format!("{}: {evidence}", a.note);
                    }
                    return Ok(Some(a));
                }
                Ok(reply) => last = reply.evidence,
                Err(e) => last = format!("look failed: {e}"),
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

    async fn reconcile(
        &self,
        mut rec: Box<PaymentRecord>,
    ) -> Result<Option<Box<PaymentRecord>>, StoreError> {
        // Reading the bill writes nothing to the POS: nothing to save before it.
        if !self.start(&mut rec, None).await? {
            return Ok(None);
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
            return Box::pin(self.finish(rec, &note)).await;
        }
        let req = &rec.request;
        let reply = self
            .pos
            .check_payment(
                &rec.id,
                req,
                rec.pos_reference.as_deref(),
                rec.bill_before.as_ref(),
                false,
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
                    Outcome::Unknown | Outcome::Pending => Answer::new(Event::Unknown, evidence),
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
        Box::pin(self.finish(rec, &note)).await
    }

    async fn close(
        &self,
        mut rec: Box<PaymentRecord>,
    ) -> Result<Option<Box<PaymentRecord>>, StoreError> {
        // Recovery point: from here on the POS may have our close.
        if !self.start(&mut rec, Some("closing the bill")).await? {
            return Ok(None);
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
                    Outcome::Unknown | Outcome::Pending => {
                        Answer::new(Event::Unknown, "no answer to close")
                    }
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
        Box::pin(self.finish(rec, &note)).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::port::PosReply;

    /// A POS that is never asked: the futures below are measured, not run.
    pub(crate) struct Unasked;

    #[tonic::async_trait]
    impl PosPort for Unasked {
        async fn describe(&self, _: &str) -> Result<Capabilities, PortError> {
            unreachable!()
        }
        async fn get_bill(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Result<BillSnapshot, PosFailure>, PortError> {
            unreachable!()
        }
        async fn post_payment(
            &self,
            _: &str,
            _: &PayRequest,
            _: u32,
        ) -> Result<PosReply, PortError> {
            unreachable!()
        }
        async fn check_payment(
            &self,
            _: &str,
            _: &PayRequest,
            _: Option<&str>,
            _: Option<&BillSnapshot>,
            _: bool,
        ) -> Result<PosReply, PortError> {
            unreachable!()
        }
        async fn close_bill(&self, _: &str, _: &str, _: &str) -> Result<PosReply, PortError> {
            unreachable!()
        }
    }

    pub(crate) fn record() -> PaymentRecord {
        PaymentRecord {
            id: "p1".into(),
            request: PayRequest {
                idempotency_key: "k".into(),
                restaurant_id: "r".into(),
                bill_id: "b".into(),
                amount: Money::parse("1.00", 2).unwrap(),
                tips: Money::parse("0", 2).unwrap(),
                tenders: Vec::new(),
                fiscal_data: Default::default(),
                close: true,
                points: Money::parse("0", 2).unwrap(),
                pos_options: Default::default(),
            },
            lifecycle: posgate_core::Lifecycle::new(true),
            substate: None,
            pos_code: None,
            pos_text: None,
            pos_reference: None,
            bill_before: None,
            pos_details: Default::default(),
            sending: false,
            unknown_since: None,
            attempts: 0,
            checks: 0,
            next_attempt_at: 0,
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    /// An engine over an in-memory store whose POS is never asked (for measuring futures),
    /// with its store and notifier.
    pub(crate) async fn unasked_engine() -> (Arc<Engine>, Store, Arc<Notifier>) {
        let keys = posgate_secrets::Keyring::new("k", &[7u8; 32]).unwrap();
        let store = Store::open("sqlite::memory:", Arc::new(keys))
            .await
            .unwrap();
        let notifier = Arc::new(Notifier::default());
        let engine = Engine::new(
            store.clone(),
            Arc::new(Unasked),
            Arc::clone(&notifier),
            Arc::new(PaymentsConfig::default()),
        );
        (engine, store, notifier)
    }

    /// Bills are read ahead only for payments with a free slot, and at most
    /// `READS_AHEAD_IN_FLIGHT` at once: in a burst the others read after their inserts. (The
    /// reads are never polled here: nothing is awaited after they are started.)
    #[tokio::test]
    async fn bills_are_read_ahead_with_a_free_slot_and_only_so_many_at_once() {
        let (engine, _, _) = unasked_engine().await;
        let most = crate::config::READS_AHEAD_IN_FLIGHT;
        let mut req = record().request;
        let slots = engine.cfg.max_in_flight_per_restaurant;
        let mut leases = Vec::new();
        for i in 0..=slots {
            let mut lease = engine.lease_for_new(&req.restaurant_id).expect("a turn");
            engine.read_bill_ahead(&mut lease, &req);
            assert_eq!(
                lease.read_ahead.is_some(),
                i < slots,
                "lease {i} of {slots} slots"
            );
            leases.push(lease);
        }
        for i in 0..most {
            req.restaurant_id = format!("r{i}");
            let mut lease = engine
                .lease_for_new(&req.restaurant_id)
                .expect("a free slot");
            engine.read_bill_ahead(&mut lease, &req);
            leases.push(lease);
        }
        let reading = leases.iter().filter(|l| l.read_ahead.is_some()).count();
        assert_eq!(reading, most);
    }

    /// Every payment in flight holds its drive's future for as long as its POS takes
    /// (seconds; 10,000 at once at a dinner peak): the store's futures, the rarer steps and
    /// the record are boxed so they do not size it. Before: 1,512 bytes (release).
    #[tokio::test]
    async fn a_payment_waiting_for_its_pos_holds_a_small_future() {
        let (engine, _, _) = unasked_engine().await;
        let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
        let drive = engine.drive(
            "p1",
            Start::Leased(Box::new(record()), Turn::Slot(permit), true, None),
            posgate_grpc::telemetry::current(),
        );
        let drive = std::mem::size_of_val(&drive);
        let steps = std::mem::size_of_val(&engine.run_steps(Box::new(record()), true, None));
        let mut rec = record();
        let save = std::mem::size_of_val(&engine.save(&mut rec, false, false, "x"));
        eprintln!("drive {drive}, run_steps {steps}, save {save} bytes");
        assert!(drive <= 1024, "drive: {drive} bytes");
        assert!(steps <= 640, "run_steps: {steps} bytes");
        assert!(save <= 160, "save: {save} bytes");
    }
}
