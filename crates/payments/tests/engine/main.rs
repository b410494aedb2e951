//! The payment engine's decisions, driven against a scripted POS ([`fake_pos`]) on a real SQLite
//! file, with timings small enough for the whole crate to test in seconds. Each test asserts the
//! payment's final record (state, substate, attempts/checks, pos_code/pos_text) and what the POS
//! saw: its call log and its ledger of bookings, so "never posted twice" and "never reported
//! paid without the POS confirming" are checked where they matter. [`store`] covers the store's
//! own guarantees that `tests/tests/store.rs` does not.

mod fake_pos;
mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_pos::{Booking, CallKind, Check, Close, FakePos, Post, Read, TaskEnd, money};
use posgate_core::request::RawPayRequest;
use posgate_core::{AmountRule, PayRequest, PaymentState, RetryPolicy, Step, Substate};
use posgate_payments::PaymentsConfig;
use posgate_payments::engine::{Engine, codes};
use posgate_payments::notify::Notifier;
use posgate_payments::port::{Capabilities, PortError, PosFailure};
use posgate_payments::store::{Inserted, PaymentRecord, Store};
use posgate_proto::v1::BillStatus;
use tokio::sync::oneshot;

const R: &str = "rest-1";

/// Small timings: retries every 10-40 ms, checks every 20 ms, a 1 s lease, a 20 ms poll. The
/// settle window is the fake's (1 ms unless a test sets it), capped at a minute.
fn config() -> PaymentsConfig {
    PaymentsConfig {
        retry: RetryPolicy {
            initial_ms: 10,
            multiplier_pct: 200,
            max_delay_ms: 40,
            max_attempts: 5,
            jitter_pct: 0,
        },
        reconcile: RetryPolicy {
            initial_ms: 20,
            multiplier_pct: 100,
            max_delay_ms: 20,
            max_attempts: 5,
            jitter_pct: 0,
        },
        reconcile_settle_ms: 60_000,
        lease_ms: 1_000,
        poll_interval_ms: 20,
        shutdown_grace_ms: 2_000,
        ..PaymentsConfig::default()
    }
}

/// Retries 100 ms apart: long enough for a test to see the payment waiting.
fn slow_retries(c: &mut PaymentsConfig) {
    c.retry.initial_ms = 100;
    c.retry.multiplier_pct = 100;
    c.retry.max_delay_ms = 100;
}

fn caps(rule: AmountRule, cannot_read_bills: bool, settle_ms: u64) -> Capabilities {
    Capabilities {
        amount_rule: rule,
        cannot_read_bills,
        settle_ms,
        ..Capabilities::default()
    }
}

fn request(key: &str, bill: &str, amount: &str, close: bool) -> PayRequest {
    request_at(R, key, bill, amount, close)
}

fn request_at(restaurant: &str, key: &str, bill: &str, amount: &str, close: bool) -> PayRequest {
    PayRequest::validate(
        &RawPayRequest {
            idempotency_key: key,
            restaurant_id: restaurant,
            bill_id: bill,
            amount,
            close,
            ..Default::default()
        },
        2,
    )
    .expect("a valid request")
}

fn temp_db() -> (PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("posgate-engine-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/p.db", dir.display());
    (dir, url)
}

/// One engine on a fresh store, its scheduler running, with the fake POS behind it.
struct Harness {
    store: Store,
    pos: Arc<FakePos>,
    engine: Arc<Engine>,
    stop: Option<oneshot::Sender<()>>,
    run: Option<tokio::task::JoinHandle<()>>,
    _dir: TempDir,
}

impl Harness {
    async fn start(pos: FakePos, tweak: impl FnOnce(&mut PaymentsConfig)) -> Harness {
        let (dir, url) = temp_db();
        let store = Store::open(&url, test_keyring())
            .await
            .expect("store opens");
        let mut h = Harness::on(store, Arc::new(pos), tweak, dir);
        h.run_scheduler();
        h
    }

    fn on(
        store: Store,
        pos: Arc<FakePos>,
        tweak: impl FnOnce(&mut PaymentsConfig),
        dir: PathBuf,
    ) -> Harness {
        let mut cfg = config();
        tweak(&mut cfg);
        let engine = Engine::new(
            store.clone(),
            Arc::clone(&pos) as Arc<dyn posgate_payments::port::PosPort>,
            Arc::new(Notifier::default()),
            Arc::new(cfg),
        );
        Harness {
            store,
            pos,
            engine,
            stop: None,
            run: None,
            _dir: TempDir(dir),
        }
    }

    fn run_scheduler(&mut self) {
        let (tx, rx) = oneshot::channel::<()>();
        self.stop = Some(tx);
        self.run = Some(tokio::spawn(Arc::clone(&self.engine).run(async move {
            let _ = rx.await;
        })));
    }

    /// Stores a payment and kicks it, as `PayBill` does.
    async fn pay(&self, key: &str, bill: &str, amount: &str, close: bool) -> String {
        let id = self.insert(key, bill, amount, close).await;
        self.engine.kick(id.clone());
        id
    }

    /// As PayBill does with a free slot at the restaurant: stored leased to this replica
    /// (asking for its bill in the same statement; its bill read meanwhile) and driven at once.
    async fn pay_leased(&self, key: &str, bill: &str, amount: &str) -> String {
        self.pay_leased_stored_at(key, bill, amount).await.0
    }

    /// [`Harness::pay_leased`], and when the insert was done.
    async fn pay_leased_stored_at(&self, key: &str, bill: &str, amount: &str) -> (String, Instant) {
        let req = request(key, bill, amount, false);
        let id = uuid::Uuid::now_v7().to_string();
        let mut lease = self
            .engine
            .lease_for_new(&req.restaurant_id)
            .expect("a slot, or a place to wait for one");
        self.engine.read_bill_ahead(&mut lease, &req);
        let (inserted, asked) = self
            .store
            .insert_leased(&id, &req, now(), Some(&lease.lease))
            .await
            .expect("insert");
        let stored = Instant::now();
        let Inserted::New(rec) = inserted else {
            panic!("key {key} reused in a test")
        };
        self.engine.drive_leased(rec, lease, asked);
        (id, stored)
    }

    async fn insert(&self, key: &str, bill: &str, amount: &str, close: bool) -> String {
        self.insert_request(&request(key, bill, amount, close))
            .await
    }

    async fn insert_request(&self, req: &PayRequest) -> String {
        let key = &req.idempotency_key;
        let id = uuid::Uuid::now_v7().to_string();
        match self.store.insert(&id, req, now()).await.expect("insert") {
            Inserted::New(r) => r.id,
            Inserted::Existing(_) => panic!("key {key} reused in a test"),
        }
    }

    async fn get(&self, id: &str) -> PaymentRecord {
        self.store.get(id).await.unwrap().expect("payment exists")
    }

    /// Waits until `pred` holds for the payment (10 s at most: timings are tens of ms).
    async fn wait_for(
        &self,
        id: &str,
        what: &str,
        pred: impl Fn(&PaymentRecord) -> bool,
    ) -> PaymentRecord {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rec = self.get(id).await;
            if pred(&rec) {
                return rec;
            }
            assert!(
                Instant::now() < deadline,
                "payment never became {what}: state {} step {:?} substate {:?} code {:?} text {:?} attempts {} checks {}",
                rec.lifecycle.state,
                rec.lifecycle.step,
                rec.substate,
                rec.pos_code,
                rec.pos_text,
                rec.attempts,
                rec.checks
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the payment needs nothing more from the engine.
    async fn settled(&self, id: &str) -> PaymentRecord {
        self.wait_for(id, "final", |r| r.lifecycle.is_final()).await
    }

    /// The notes and states of the payment's history, in order.
    async fn history(&self, id: &str) -> Vec<(String, String, Option<String>, String)> {
        self.store
            .history(id)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, _, state, step, sub, note)| (state, step, sub, note.unwrap_or_default()))
            .collect()
    }

    async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(run) = self.run.take() {
            run.await.unwrap();
        }
    }
}

/// A test's database directory, removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now() -> i64 {
    posgate_payments::engine::now_ms()
}

fn assert_state(rec: &PaymentRecord, state: PaymentState, step: Step) {
    assert_eq!(
        (rec.lifecycle.state, rec.lifecycle.step),
        (state, step),
        "substate {:?} code {:?} text {:?}",
        rec.substate,
        rec.pos_code,
        rec.pos_text
    );
}

fn booking(id: &str, bill: &str, amount: &str, attempt: u32) -> Booking {
    Booking {
        payment_id: id.to_string(),
        bill_id: bill.to_string(),
        amount: money(amount),
        attempt,
    }
}

use CallKind::{Check as C, Close as X, Look as L, Post as P};

// ---- paying and closing ------------------------------------------------------------------------

/// A payment waiting here for its restaurant's slot is in flight here but not leased yet
/// (another replica may take and save it meanwhile): its waiters must read the store. Once
/// claimed, this replica's saves are the only ones, and what it published is the payment.
#[tokio::test]
async fn a_payment_is_leased_here_only_once_claimed() {
    let pos = FakePos::exact();
    pos.open_bill("b-slot", "10.00", true);
    pos.script_post(
        "b-slot",
        [Post::Slow(Duration::from_millis(800)), Post::Book],
    );
    let h = Harness::start(pos, |c| c.max_in_flight_per_restaurant = 1).await;
    // The restaurant's one slot is taken (as by a payment posting now).
    let slot = h.engine.lease_for_new(R).expect("a free slot");
    let id = h.pay("slot-1", "b-slot", "10.00", true).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(h.engine.is_driving(&id), "held here, waiting for the slot");
    assert!(!h.engine.holds_lease(&id), "not claimed yet");
    drop(slot);
    let posting = h
        .wait_for(&id, "posting", |p| {
            p.lifecycle.state == PaymentState::Posting
        })
        .await;
    assert!(h.engine.holds_lease(&posting.id), "claimed: leased here");
    let done = h.wait_for(&id, "closed", |p| p.lifecycle.is_final()).await;
    assert_eq!(done.lifecycle.state, PaymentState::Closed);
    for _ in 0..100 {
        if !h.engine.is_driving(&id) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!h.engine.holds_lease(&id), "its drive ended");
}

/// A restaurant with one POS slot, taken (as by a payment posting now), and a payment of
/// 10.00 on `bill` stored leased (`lease_ms`) while it waits for that slot: the harness, the
/// slot, the payment's id.
async fn waiting_for_the_one_slot(
    bill: &str,
    lease_ms: u64,
) -> (Harness, posgate_payments::engine::NewLease, String) {
    let pos = FakePos::exact();
    pos.open_bill(bill, "10.00", true);
    let h = Harness::start(pos, |c| {
        c.max_in_flight_per_restaurant = 1;
        c.lease_ms = lease_ms;
    })
    .await;
    let slot = h.engine.lease_for_new(R).expect("the free slot");
    let id = h.pay_leased(&format!("{bill}-1"), bill, "10.00").await;
    (h, slot, id)
}

/// A payment stored while its restaurant's slots are all taken (a dinner peak) is stored
/// leased here and holding its bill, and waits for a slot with its lease (the heartbeat renews
/// it): no claim and no bill lock of its own when its turn comes, and its waiters need no
/// store read meanwhile.
#[tokio::test]
async fn a_payment_stored_while_its_restaurant_is_busy_waits_for_a_slot_leased() {
    let (h, slot, id) = waiting_for_the_one_slot("b-busy", 300).await;
    // Longer than its lease: the heartbeat keeps it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(h.engine.holds_lease(&id), "leased here from its insert");
    assert_eq!(
        h.store.bill_holder(R, "b-busy").await.unwrap().as_deref(),
        Some(id.as_str()),
        "its insert took its bill"
    );
    assert!(h.pos.calls(P).is_empty(), "nothing sent while it waits");
    let waiting = h.store.get(&id).await.unwrap().expect("stored");
    assert_eq!(waiting.lifecycle.state, PaymentState::Accepted);
    drop(slot);
    let done = h.wait_for(&id, "closed", |p| p.lifecycle.is_final()).await;
    assert_eq!(done.lifecycle.state, PaymentState::Closed, "{done:?}");
    assert_eq!(h.pos.calls(P).len(), 1);
    h.shutdown().await;
}

/// A replica that stops while a new payment waits here for its restaurant's slot gives the
/// payment's lease up at once: another replica may take it now, not when the lease would
/// have ended (nor does the stop wait for a slot to free).
#[tokio::test]
async fn a_replica_stopping_gives_up_the_lease_of_a_payment_waiting_for_a_slot() {
    let (h, slot, id) = waiting_for_the_one_slot("b-wait", 60_000).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(h.engine.holds_lease(&id));
    let store = h.store.clone();
    let engine = Arc::clone(&h.engine);
    let started = Instant::now();
    h.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the stop waited {:?} for a slot",
        started.elapsed()
    );
    assert!(!engine.is_driving(&id), "its drive ended");
    let taken = store
        .claim(&id, "another-replica", now(), 10_000)
        .await
        .unwrap();
    assert!(taken.is_some(), "another replica takes it at once");
    drop(slot);
}

/// A restaurant's new payments wait leased only within its share of what this replica holds
/// (as the scheduler's backlog does); beyond it, a new payment is stored unleased and driven
/// when its turn comes.
#[tokio::test]
async fn new_payments_wait_leased_only_within_their_restaurants_share() {
    let h = Harness::start(FakePos::exact(), |c| c.max_in_flight_per_restaurant = 1).await;
    let slot = h.engine.lease_for_new(R).expect("the free slot");
    let share = posgate_payments::config::QUEUED_PER_SLOT;
    let waiting: Vec<_> = (0..share)
        .map(|_| h.engine.lease_for_new(R).expect("a place in the share"))
        .collect();
    assert!(h.engine.lease_for_new(R).is_none(), "the share is full");
    assert!(
        h.engine.lease_for_new("another-restaurant").is_some(),
        "another restaurant's share is its own"
    );
    drop(waiting);
    assert!(h.engine.lease_for_new(R).is_some(), "room again");
    drop(slot);
    h.shutdown().await;
}

/// A new payment with a free slot has its bill read while it is stored (the read and the
/// insert's commit overlap): read once, before the insert is done, and posted on that read —
/// it is alone on its bill.
#[tokio::test]
async fn a_new_payment_alone_on_its_bill_has_it_read_while_it_is_stored() {
    let pos = FakePos::exact();
    pos.open_bill("b-ahead", "10.00", true);
    let h = Harness::start(pos, |_| {}).await;
    let (id, stored) = h.pay_leased_stored_at("ahead-1", "b-ahead", "10.00").await;
    let done = h.settled(&id).await;
    assert_eq!(done.lifecycle.state, PaymentState::Closed, "{done:?}");
    let reads = h.pos.calls(CallKind::GetBill);
    assert_eq!(reads.len(), 1, "read once: {reads:?}");
    assert!(reads[0].at < stored, "read while it was stored");
    let bill = done.bill_before.expect("the bill as read");
    assert_eq!(
        (bill.paid.as_str(), bill.amount_due.as_str()),
        ("0", "10.00")
    );
    assert_eq!(h.pos.booked(&id), [booking(&id, "b-ahead", "10.00", 1)]);
    h.shutdown().await;
}

/// A bill read ahead is not posted on while another payment of the bill is stored: that read
/// may have been answered before the other's posting reached the POS (here it was). Once the
/// payment holds the bill it is read again, and the recovery point keeps the fresh reading.
#[tokio::test]
async fn a_bill_read_ahead_is_read_again_when_another_payment_of_it_is_stored() {
    let pos = FakePos::new(caps(AmountRule::UpToDue, false, 1));
    pos.open_bill("b-split", "100.00", false);
    let h = Harness::start(pos, |_| {}).await;
    let first = h.pay_leased("split-1", "b-split", "40.00").await;
    assert_eq!(h.settled(&first).await.lifecycle.state, PaymentState::Paid);
    // The second guest's read ahead shows the bill as before the first payment.
    h.pos.script_read("b-split", [Read::AsIfPaid(money("0"))]);
    let second = h.pay_leased("split-2", "b-split", "60.00").await;
    let done = h.settled(&second).await;
    assert_eq!(done.lifecycle.state, PaymentState::Paid, "{done:?}");
    let bill = done.bill_before.expect("the bill as read");
    assert_eq!(
        (bill.paid.as_str(), bill.amount_due.as_str()),
        ("40.00", "60.00"),
        "read again once it held the bill"
    );
    assert_eq!(h.pos.calls(CallKind::GetBill).len(), 3);
    assert_eq!(
        h.pos.booked(&second),
        [booking(&second, "b-split", "60.00", 1)]
    );
    h.shutdown().await;
}

/// A read ahead that the POS refused is not taken as the posting's answer (a refusal may be
/// stale too): the bill is read again once the payment holds it.
#[tokio::test]
async fn a_refused_read_ahead_is_read_again() {
    let pos = FakePos::exact();
    pos.open_bill("b-refused", "10.00", true);
    pos.script_read(
        "b-refused",
        [Read::Refuse(PosFailure {
            substate: Substate::BillInUse,
            code: "1007".into(),
            text: "Заказ редактируется на другой станции".into(),
            not_found: false,
            transient: false,
        })],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay_leased("refused-1", "b-refused", "10.00").await;
    let done = h.settled(&id).await;
    assert_eq!(done.lifecycle.state, PaymentState::Closed, "{done:?}");
    assert_eq!(done.attempts, 1, "posted at its first attempt");
    assert_eq!(h.pos.calls(CallKind::GetBill).len(), 2);
    let hist = h.history(&id).await;
    assert!(hist.iter().all(|h| h.0 != "retrying"), "{hist:?}");
    h.shutdown().await;
}

/// A read ahead that failed in passing is the posting's answer: retried later, not read again
/// at once (a POS out of reach is not waited for twice).
#[tokio::test]
async fn a_read_ahead_failing_in_passing_is_retried() {
    let pos = FakePos::exact();
    pos.open_bill("b-passing", "10.00", true);
    pos.script_read(
        "b-passing",
        [Read::Fail(PortError::Failed("deadline exceeded".into()))],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay_leased("passing-1", "b-passing", "10.00").await;
    let done = h.settled(&id).await;
    assert_eq!(done.lifecycle.state, PaymentState::Closed, "{done:?}");
    assert_eq!(h.pos.booked(&id), [booking(&id, "b-passing", "10.00", 2)]);
    let hist = h.history(&id).await;
    assert!(hist.iter().any(|h| h.0 == "retrying"), "{hist:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn exact_payment_then_a_separate_close() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(
        (
            rec.substate,
            rec.pos_code.as_deref(),
            rec.pos_text.as_deref()
        ),
        (None, None, None)
    );
    // The close counts as an attempt of its own; the payment was posted once.
    assert_eq!((rec.attempts, rec.checks), (2, 0));
    assert_eq!(
        rec.pos_reference.as_deref(),
        Some(format!("ref-{id}-1").as_str())
    );
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (X, 0)]);
    assert_eq!(h.pos.ledger(), [booking(&id, "b1", "100.00", 1)]);
    assert_eq!(h.pos.bill("b1").status, BillStatus::Closed);
    // The bill was read before posting, and the snapshot kept for reconciliation.
    let before = rec.bill_before.expect("bill read before posting");
    assert_eq!(before.amount_due, "100.00");
    h.shutdown().await;
}

#[tokio::test]
async fn a_pos_that_closes_on_pay_gets_no_close_call() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", true);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(rec.attempts, 1);
    assert_eq!(h.pos.calls_of(&id), [(P, 1)]);
    assert_eq!(h.pos.ledger().len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn a_payment_without_close_stays_paid_and_the_bill_open() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", false).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Paid, Step::Done);
    assert_eq!(h.pos.calls_of(&id), [(P, 1)]);
    assert_eq!(h.pos.bill("b1").status, BillStatus::Open);
    h.shutdown().await;
}

// ---- refusals and retries ----------------------------------------------------------------------

#[tokio::test]
async fn each_retriable_substate_is_retried_then_the_bill_closes() {
    let pos = FakePos::exact();
    let retriable: Vec<Substate> = Substate::ALL
        .into_iter()
        .filter(|s| *s != Substate::OtherError)
        .collect();
    for (i, s) in retriable.iter().enumerate() {
        let bill = format!("b{i}");
        pos.open_bill(&bill, "50.00", false);
        pos.script_post(&bill, [Post::Refuse(*s), Post::Refuse(*s), Post::Book]);
    }
    // Retries 100 ms apart, so the waiting state is seen.
    let h = Harness::start(pos, slow_retries).await;
    let mut ids = Vec::new();
    for (i, _) in retriable.iter().enumerate() {
        ids.push(
            h.pay(&format!("k{i}"), &format!("b{i}"), "50.00", true)
                .await,
        );
    }
    // While one waits to retry, the caller sees why (the others' waits are checked in their
    // histories below: watching five 100 ms windows one after another races a busy machine).
    for (s, id) in retriable.iter().zip(&ids).take(1) {
        let waiting = h
            .wait_for(id, "retrying", |r| {
                r.lifecycle.state == PaymentState::Retrying
            })
            .await;
        assert_eq!(waiting.lifecycle.step, Step::Post, "{s}");
        assert_eq!(waiting.substate, Some(*s), "{s}");
        assert_eq!(
            waiting.pos_code.as_deref(),
            Some(format!("FAKE-{}", s.as_str()).as_str())
        );
        assert!(
            waiting.next_attempt_at > waiting.updated_at,
            "{s}: retried later, not now"
        );
    }
    for ((i, s), id) in retriable.iter().enumerate().zip(&ids) {
        let bill = format!("b{i}");
        let rec = h.settled(id).await;
        assert_state(&rec, PaymentState::Closed, Step::Done);
        assert_eq!(rec.substate, None, "{s}: cleared once paid");
        assert_eq!(rec.pos_code, None, "{s}");
        assert_eq!(rec.attempts, 4, "{s}: three postings and a close");
        assert_eq!(h.pos.calls_of(id), [(P, 1), (P, 2), (P, 3), (X, 0)], "{s}");
        assert_eq!(h.pos.booked(id), [booking(id, &bill, "50.00", 3)], "{s}");
        let retried = h
            .history(id)
            .await
            .into_iter()
            .filter(|(state, step, sub, _)| {
                state == "retrying" && step == "post" && sub.as_deref() == Some(s.as_str())
            })
            .count();
        assert_eq!(retried, 2, "{s}: each refusal is in the history");
    }
    h.shutdown().await;
}

/// The scheduler sleeps until the next payment falls due, not for its poll interval: with a
/// one-minute poll, a retry 100 ms away still happens at once (this replica wakes itself), and
/// the whole payment is done long before the first poll.
#[tokio::test]
async fn a_retry_wakes_the_scheduler_without_waiting_for_its_poll() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "50.00", false);
    pos.script_post("b1", [Post::Refuse(Substate::BillInUse), Post::Book]);
    let h = Harness::start(pos, |c| {
        slow_retries(c);
        c.poll_interval_ms = 60_000;
    })
    .await;
    let started = std::time::Instant::now();
    let id = h.pay("k1", "b1", "50.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    let hist = h.history(&id).await;
    assert!(
        hist.iter()
            .any(|r| r.0 == "retrying" && r.2.as_deref() == Some("BILL_IN_USE")),
        "refused once, then retried: {hist:?}"
    );
    assert_eq!(h.pos.booked(&id).len(), 1, "booked once, on the retry");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the retry waited for a poll: {:?}",
        started.elapsed()
    );
    h.shutdown().await;
}

/// `backlog` payments due at a one-slot restaurant whose POS takes `post_ms` a posting, then one
/// at another restaurant (`rest-2`), stored before the scheduler runs; the harness (scheduler
/// not started; polled every minute) and the other restaurant's payment.
async fn backlog_then_one_other(
    backlog: usize,
    post_ms: u64,
    tweak: impl FnOnce(&mut PaymentsConfig),
) -> (Harness, String) {
    let pos = FakePos::exact();
    for i in 0..backlog {
        let bill = format!("a{i}");
        pos.open_bill(&bill, "10.00", true);
        pos.script_post(
            &bill,
            [Post::Slow(Duration::from_millis(post_ms)), Post::Book],
        );
    }
    pos.open_bill("b", "10.00", true);
    let (dir, url) = temp_db();
    let store = Store::open(&url, test_keyring()).await.unwrap();
    let h = Harness::on(
        store,
        Arc::new(pos),
        |c| {
            c.poll_interval_ms = 60_000;
            c.max_in_flight_per_restaurant = 1;
            tweak(c);
        },
        dir,
    );
    for i in 0..backlog {
        h.insert(&format!("ka{i}"), &format!("a{i}"), "10.00", true)
            .await;
    }
    let other = h
        .insert_request(&request_at("rest-2", "kb", "b", "10.00", true))
        .await;
    (h, other)
}

#[tokio::test]
async fn a_backlog_larger_than_one_scan_is_read_page_by_page() {
    // 1,200 payments due at one restaurant whose POS takes 50 ms a call, one at a time (a
    // minute's work), then one at another restaurant. The scheduler reads past the payments
    // waiting for the first restaurant's slot: the other restaurant's is not held up by them,
    // neither for the poll interval nor for the backlog.
    let backlog = 1_200;
    let (mut h, other) = backlog_then_one_other(backlog, 50, |_| {}).await;
    let started = Instant::now();
    h.run_scheduler();
    let rec = h.settled(&other).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the other restaurant's payment waited {:?}",
        started.elapsed()
    );
    let first = h.pos.calls(P).len();
    assert!(
        first < backlog / 2,
        "the other restaurant's payment waited for {first} of the backlog's calls"
    );
    h.shutdown().await;
}

/// One restaurant's backlog (a POS back after hours down) fills no more than its share of what a
/// replica holds (16 per POS slot): with room for 50 payments in all, 1,200 due at a one-slot
/// restaurant whose POS takes 100 ms (more than two scheduler reads of 500), and then one at
/// another restaurant, the other's is driven at once — not after what the replica holds has
/// drained through the slow POS to half of its room (~100 s here).
#[tokio::test]
async fn one_restaurant_s_backlog_never_holds_another_restaurant_s_due_payment_back() {
    let (mut h, other) = backlog_then_one_other(1_200, 100, |c| c.max_held = 50).await;
    h.run_scheduler();
    assert_state(&h.settled(&other).await, PaymentState::Closed, Step::Done);
    // Before: the first reads' 1,000 were all held, and the next read waited until 25 were left.
    let first = h.pos.calls(P).len();
    assert!(
        first < 10,
        "the other restaurant's payment waited for {first} of the backlog's postings"
    );
    // The backlog still drains past its share: refilled as it goes, without a poll interval.
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.pos.calls(P).len() <= 2 * 16 {
        assert!(Instant::now() < deadline, "the backlog stopped draining");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    h.shutdown().await;
}

#[tokio::test]
async fn other_error_needs_attention_at_once() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::Refuse(Substate::OtherError)]);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
    assert_eq!(rec.substate, Some(Substate::OtherError));
    assert_eq!(rec.pos_code.as_deref(), Some("FAKE-OTHER_ERROR"));
    assert_eq!(
        rec.pos_text.as_deref(),
        Some("fake POS refuses: other_error")
    );
    assert_eq!(rec.attempts, 1);
    // Given time, it is not tried again.
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(h.pos.calls_of(&id), [(P, 1)]);
    assert!(h.pos.ledger().is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn retries_exhausted_need_attention() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post(
        "b1",
        std::iter::repeat_n(Post::Refuse(Substate::BillInUse), 10),
    );
    let h = Harness::start(pos, |c| c.retry.max_attempts = 3).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
    assert_eq!(rec.substate, Some(Substate::BillInUse));
    assert_eq!(rec.pos_code.as_deref(), Some("FAKE-BILL_IN_USE"));
    assert_eq!(rec.attempts, 3);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (P, 2), (P, 3)]);
    assert!(h.pos.ledger().is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn not_applied_and_passing_failures_are_retried() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::NotApplied]);
    // The bill read fails twice in passing ways before the POS answers.
    pos.script_read(
        "b1",
        [
            Read::Refuse(PosFailure {
                substate: Substate::OtherError,
                code: "503".into(),
                text: "сервер недоступний".into(),
                not_found: false,
                transient: true,
            }),
            Read::Fail(PortError::Failed("deadline exceeded".into())),
        ],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    // Two failed reads (nothing posted), a "not applied", then the posting that booked.
    assert_eq!(h.pos.calls_of(&id), [(P, 3), (P, 4), (X, 0)]);
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 4)]);
    let hist = h.history(&id).await;
    let retrying: Vec<_> = hist.iter().filter(|h| h.0 == "retrying").collect();
    assert_eq!(retrying.len(), 3, "{hist:?}");
    assert!(
        retrying.iter().all(|h| h.2.is_none()),
        "a passing failure has no substate: {hist:?}"
    );
    assert!(
        hist.iter()
            .all(|h| h.0 != "needs_attention" && h.0 != "outcome_unknown")
    );
    h.shutdown().await;
}

// ---- unknown outcomes --------------------------------------------------------------------------

#[tokio::test]
async fn an_unanswered_post_that_was_booked_closes_without_posting_again() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::BookLoseAnswer]);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!((rec.attempts, rec.checks), (2, 1));
    assert_eq!(rec.unknown_since, None);
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (C, 0), (X, 0)]);
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 1)]);
    let hist = h.history(&id).await;
    assert!(
        hist.iter()
            .any(|h| h.0 == "outcome_unknown" && h.1 == "reconcile"),
        "{hist:?}"
    );
    assert!(
        hist.iter()
            .any(|h| h.3.starts_with("reconciled: fake ledger: booked=true")),
        "{hist:?}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn not_applied_is_believed_only_after_the_settle_time_then_posted_once_more() {
    let pos = FakePos::new(caps(AmountRule::Exact, false, 400));
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::LoseAnswer]);
    let h = Harness::start(pos, |c| c.reconcile.max_attempts = 100).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let unknown = h
        .wait_for(&id, "outcome unknown", |r| {
            r.lifecycle.state == PaymentState::OutcomeUnknown
        })
        .await;
    let since = unknown.unknown_since.expect("the unknown outcome is timed");
    // While it is still being reconciled, nobody is told the POS "never confirmed" it.
    let checking = h
        .wait_for(&id, "checked and still unknown", |r| {
            r.lifecycle.state == PaymentState::OutcomeUnknown && r.checks >= 1
        })
        .await;
    assert!(
        !checking
            .pos_text
            .as_deref()
            .unwrap_or_default()
            .contains("never confirmed"),
        "{:?}",
        checking.pos_text
    );
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    let posts = h.pos.calls(P);
    assert_eq!(
        posts.iter().map(|c| c.attempt).collect::<Vec<_>>(),
        [1, 2],
        "posted again exactly once"
    );
    let checks = h.pos.calls(C);
    assert!(
        checks.len() >= 2,
        "checks saw 'not applied' and waited: {}",
        checks.len()
    );
    assert!(
        checks.iter().all(|c| c.at < posts[1].at),
        "no check after the second posting"
    );
    // The second posting waited out the POS's settle window, counted from the unknown outcome.
    let waited = posts[1].at.duration_since(posts[0].at);
    assert!(
        waited >= Duration::from_millis(400),
        "re-posted after {waited:?}"
    );
    // "Not applied" was believed (retrying the posting) only once the window had passed.
    let believed = h
        .store
        .history(&id)
        .await
        .unwrap()
        .into_iter()
        .find(|(_, _, state, step, _, _)| state == "retrying" && step == "post")
        .expect("a retry of the posting in the history");
    assert!(
        believed.1 - since >= 400,
        "believed {} ms after the unknown outcome",
        believed.1 - since
    );
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 2)]);
    h.shutdown().await;
}

#[tokio::test]
async fn a_late_apply_within_the_settle_time_is_found_and_not_posted_again() {
    let pos = FakePos::new(caps(AmountRule::Exact, false, 5_000));
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::BookLate { after_checks: 2 }]);
    let h = Harness::start(pos, |c| c.reconcile.max_attempts = 100).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(
        rec.checks, 3,
        "two checks saw nothing, the third the late booking"
    );
    assert_eq!(
        h.pos.calls_of(&id),
        [(P, 1), (C, 0), (C, 0), (C, 0), (X, 0)]
    );
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 1)]);
    let hist = h.history(&id).await;
    assert!(
        hist.iter()
            .any(|h| h.3.contains("waiting") && h.0 == "outcome_unknown"),
        "{hist:?}"
    );
    h.shutdown().await;
}

// ---- postings the POS takes as tasks (WSA async) -------------------------------------------------

/// A POS with bill `b1` (100.00, closed by the payment) whose first posting to it runs as a task
/// ending as `ends` after `after_looks` looks; unanswered writes settle within `settle_ms`.
fn tasked_pos(settle_ms: u64, ends: TaskEnd, after_looks: u32) -> FakePos {
    let pos = FakePos::new(caps(AmountRule::Exact, false, settle_ms));
    pos.open_bill("b1", "100.00", true);
    pos.script_post("b1", [Post::Task { ends, after_looks }]);
    pos
}

/// A posting answered "pending" (the POS runs it as a task) is followed by looks at its task,
/// not by another posting: the engine holds no POS call meanwhile, saves the task's reference
/// before the first look (a replica taking over checks that task), and the task's answer
/// decides as the posting's own would have.
#[tokio::test]
async fn a_posting_the_pos_takes_as_a_task_is_followed_to_its_answer() {
    let pos = tasked_pos(5_000, TaskEnd::Book, 3);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(
        h.pos.calls_of(&id),
        [(P, 1), (L, 0), (L, 0), (L, 0), (L, 0)]
    );
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 1)]);
    let task = format!("task-{id}-1");
    assert_eq!(rec.pos_reference.as_deref(), Some(task.as_str()));
    assert_eq!(h.pos.looked_up(), vec![Some(task.clone()); 4]);
    assert_eq!((rec.attempts, rec.checks), (1, 0), "looks are not checks");
    assert_eq!(
        rec.pos_details.get("queue").map(String::as_str),
        Some("3rd"),
        "what the POS said when it took the posting is kept"
    );
    let hist = h.history(&id).await;
    assert!(
        hist.iter().any(|h| h.0 == "posting"
            && h.3
                .contains(&format!("working on the payment (task {task})"))),
        "the task's reference is saved while posting: {hist:?}"
    );
    assert!(
        !hist.iter().any(|h| h.0 == "outcome_unknown"),
        "a task that answers in time is never an unknown outcome: {hist:?}"
    );
    h.shutdown().await;
}

/// A task that ends refused is the posting refused; one that fails for a passing reason is
/// "not applied", posted again (a new posting, a new task) after the retry delay.
#[tokio::test]
async fn a_task_refused_is_a_refusal_and_one_failed_passingly_is_posted_again() {
    let pos = FakePos::new(caps(AmountRule::Exact, false, 5_000));
    pos.open_bill("b1", "100.00", true);
    pos.open_bill("b2", "50.00", true);
    let task = |ends| Post::Task {
        ends,
        after_looks: 1,
    };
    pos.script_post("b1", [task(TaskEnd::NotApplied), task(TaskEnd::Book)]);
    pos.script_post("b2", [task(TaskEnd::Refuse(Substate::OtherError))]);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let refused = h.pay("k2", "b2", "50.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(
        h.pos.calls_of(&id),
        [(P, 1), (L, 0), (L, 0), (P, 2), (L, 0), (L, 0)]
    );
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 2)]);
    assert_eq!(rec.pos_reference, Some(format!("task-{id}-2")));
    let rec = h.settled(&refused).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
    assert_eq!(rec.substate, Some(Substate::OtherError));
    assert_eq!(rec.pos_code.as_deref(), Some("FAKE-OTHER_ERROR"));
    assert_eq!(h.pos.calls_of(&refused), [(P, 1), (L, 0), (L, 0)]);
    assert!(h.pos.booked(&refused).is_empty());
    h.shutdown().await;
}

/// A task still running when the POS's settle time is over is an unknown outcome: it is
/// reconciled from the saved task reference (checks, not looks), never posted again, and a
/// booking that lands later is found.
#[tokio::test]
async fn a_task_unanswered_within_the_settle_time_is_reconciled_from_its_reference() {
    let pos = tasked_pos(300, TaskEnd::Book, u32::MAX);
    let h = Harness::start(pos, |c| {
        c.reconcile.initial_ms = 200;
        c.reconcile.max_delay_ms = 200;
        c.reconcile.max_attempts = 100;
    })
    .await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let unknown = h
        .wait_for(&id, "unknown", |r| {
            r.lifecycle.state == PaymentState::OutcomeUnknown
        })
        .await;
    assert_eq!(unknown.pos_code.as_deref(), Some(codes::TASK_UNANSWERED));
    assert_eq!(
        unknown.pos_details.get("queue").map(String::as_str),
        Some("3rd")
    );
    let task = format!("task-{id}-1");
    assert!(
        unknown
            .pos_text
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("no answer for task {task} within 0 s")),
        "{:?}",
        unknown.pos_text
    );
    h.pos.end_task_now(&id);
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 1)]);
    let calls = h.pos.calls_of(&id);
    assert_eq!(calls.iter().filter(|c| c.0 == P).count(), 1, "{calls:?}");
    let looks = calls.iter().filter(|c| c.0 == L).count();
    assert!(looks >= 3, "looked at the task while it ran: {calls:?}");
    assert!(
        calls[1..=looks].iter().all(|c| c.0 == L) && calls[looks + 1..].iter().all(|c| c.0 == C),
        "looks until the settle time, then checks: {calls:?}"
    );
    assert!(
        h.pos
            .looked_up()
            .iter()
            .all(|r| r.as_deref() == Some(task.as_str())),
        "every look and check names the task: {:?}",
        h.pos.looked_up()
    );
    h.shutdown().await;
}

/// Looks at tasks wait for one of `task_looks_in_flight` slots before they ask: a POS slow to
/// answer them never has more looks under way than that, however many payments follow tasks.
#[tokio::test]
async fn looks_at_tasks_wait_for_a_slot() {
    let pos = FakePos::new(caps(AmountRule::Exact, false, 5_000));
    pos.looks_take(Duration::from_millis(30));
    let bills: Vec<String> = (0..6).map(|i| format!("b{i}")).collect();
    for b in &bills {
        pos.open_bill(b, "10.00", true);
        pos.script_post(
            b,
            [Post::Task {
                ends: TaskEnd::Book,
                after_looks: 2,
            }],
        );
    }
    let h = Harness::start(pos, |c| {
        c.task_looks_in_flight = 2;
        c.max_in_flight_per_restaurant = 10;
    })
    .await;
    let mut ids = Vec::new();
    for (i, b) in bills.iter().enumerate() {
        ids.push(h.pay(&format!("k{i}"), b, "10.00", true).await);
    }
    for id in &ids {
        assert_state(&h.settled(id).await, PaymentState::Closed, Step::Done);
        assert_eq!(h.pos.booked(id).len(), 1);
    }
    assert_eq!(
        h.pos.most_looks_at_once(),
        2,
        "six payments' looks, two slots: both used, never more"
    );
    h.shutdown().await;
}

/// A replica that stops while it follows a task saves the payment as an unknown outcome with
/// the task's reference and lets it go: whoever takes it next reconciles that task.
#[tokio::test]
async fn a_replica_stopping_while_it_follows_a_task_leaves_it_unknown_with_its_reference() {
    let pos = tasked_pos(60_000, TaskEnd::Never, 0);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    h.wait_for(&id, "following its task", |r| r.pos_reference.is_some())
        .await;
    let (store, pos) = (h.store.clone(), Arc::clone(&h.pos));
    h.shutdown().await;
    let rec = store.get(&id).await.unwrap().expect("stored");
    assert_state(&rec, PaymentState::OutcomeUnknown, Step::Reconcile);
    assert_eq!(rec.pos_code.as_deref(), Some(codes::TASK_UNANSWERED));
    assert_eq!(rec.pos_reference, Some(format!("task-{id}-1")));
    // Let go, not left to its lease's end: another worker may take it before that (1 s).
    let taken = store
        .claim(&id, "another", now() + 100, 1_000)
        .await
        .unwrap();
    assert!(
        taken.is_some(),
        "the payment was let go when the replica stopped"
    );
    assert_eq!(pos.calls(P).len(), 1);
    assert!(pos.booked(&id).is_empty());
}

#[tokio::test]
async fn a_failed_check_checks_again_and_a_refused_posting_is_posted_again() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::LoseAnswer]);
    pos.script_check(
        "b1",
        [
            Check::Fail(PortError::Failed("Unavailable: адаптер недоступен".into())),
            Check::Refuse(Substate::BillInUse),
        ],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!((rec.attempts, rec.checks), (3, 2));
    assert_eq!(
        h.pos.calls_of(&id),
        [(P, 1), (C, 0), (C, 0), (P, 2), (X, 0)]
    );
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 2)]);
    let hist = h.history(&id).await;
    assert!(
        hist.iter()
            .any(|h| h.0 == "outcome_unknown" && h.3.contains("check failed")),
        "{hist:?}"
    );
    assert!(
        hist.iter()
            .any(|h| h.0 == "retrying" && h.1 == "post" && h.2.as_deref() == Some("BILL_IN_USE")),
        "{hist:?}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn checks_exhausted_need_attention_in_the_reconcile_step() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::LoseAnswer]);
    pos.script_check("b1", std::iter::repeat_n(Check::Unknown, 10));
    let h = Harness::start(pos, |c| c.reconcile.max_attempts = 3).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Reconcile);
    assert_eq!((rec.attempts, rec.checks), (1, 3));
    assert_eq!(rec.substate, None);
    let text = rec.pos_text.as_deref().unwrap_or_default();
    assert!(
        text.contains("never confirmed") && text.contains("after 3 checks"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (C, 0), (C, 0), (C, 0)]);
    assert!(h.pos.ledger().is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn a_pos_that_cannot_read_bills_hands_an_unknown_outcome_to_a_person_at_once() {
    let pos = FakePos::new(caps(AmountRule::Exact, true, 0));
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::BookLoseAnswer]);
    // Checks would come minutes apart: only "at once" finishes in time.
    let h = Harness::start(pos, |c| {
        c.reconcile.initial_ms = 600_000;
        c.reconcile.max_delay_ms = 600_000;
    })
    .await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Reconcile);
    assert_eq!(rec.pos_code.as_deref(), Some(codes::UNVERIFIABLE));
    assert!(
        rec.pos_text
            .as_deref()
            .unwrap_or_default()
            .contains("check the bill in the POS")
    );
    assert_eq!((rec.attempts, rec.checks), (1, 1));
    // Nothing read, nothing checked, never posted again: the booking stays the only one.
    assert_eq!(h.pos.calls_of(&id), [(P, 1)]);
    assert!(h.pos.calls(CallKind::GetBill).is_empty());
    assert_eq!(h.pos.booked(&id).len(), 1);
    h.shutdown().await;
}

// ---- closing -----------------------------------------------------------------------------------

#[tokio::test]
async fn an_unanswered_close_is_retried_and_never_pays_again() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_close(
        "b1",
        [
            Close::LoseAnswer,
            Close::Fail(PortError::Failed("Unavailable: connection reset".into())),
            Close::ClosedLoseAnswer,
        ],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(
        h.pos.calls_of(&id),
        [(P, 1), (X, 0), (X, 0), (X, 0), (X, 0)]
    );
    assert_eq!(h.pos.booked(&id).len(), 1);
    let hist = h.history(&id).await;
    assert_eq!(
        hist.iter()
            .filter(|h| h.0 == "retrying" && h.1 == "close")
            .count(),
        3,
        "{hist:?}"
    );
    assert!(
        hist.iter().all(|h| h.0 != "outcome_unknown"),
        "a close is never reconciled: {hist:?}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_close_refused_retriably_is_retried_as_a_close() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_close(
        "b1",
        [
            Close::Refuse(Substate::CloseOrderBlocked),
            Close::Refuse(Substate::PrinterError),
        ],
    );
    let h = Harness::start(pos, slow_retries).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let waiting = h
        .wait_for(&id, "retrying the close", |r| {
            r.lifecycle.state == PaymentState::Retrying
        })
        .await;
    assert_eq!(waiting.lifecycle.step, Step::Close);
    assert_eq!(waiting.substate, Some(Substate::CloseOrderBlocked));
    assert_eq!(
        waiting.pos_code.as_deref(),
        Some("FAKE-CLOSE_ORDER_BLOCKED")
    );
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (X, 0), (X, 0), (X, 0)]);
    assert_eq!(h.pos.booked(&id).len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn a_close_refused_with_other_error_needs_attention_and_stays_paid() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_close("b1", [Close::Refuse(Substate::OtherError)]);
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Close);
    assert_eq!(rec.substate, Some(Substate::OtherError));
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (X, 0)]);
    assert_eq!(h.pos.booked(&id).len(), 1);
    h.shutdown().await;
}

// ---- the bill before posting -------------------------------------------------------------------

#[tokio::test]
async fn a_closed_or_canceled_bill_needs_attention_and_nothing_is_posted() {
    let pos = FakePos::exact();
    for (bill, status) in [
        ("closed", BillStatus::Closed),
        ("canceled", BillStatus::Canceled),
    ] {
        pos.open_bill(bill, "100.00", false);
        pos.set_status(bill, status);
    }
    let h = Harness::start(pos, |_| {}).await;
    for bill in ["closed", "canceled"] {
        let id = h.pay(bill, bill, "100.00", true).await;
        let rec = h.settled(&id).await;
        assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
        assert_eq!(rec.substate, Some(Substate::OtherError), "{bill}");
        assert_eq!(rec.pos_code.as_deref(), Some(codes::BILL_CLOSED), "{bill}");
        let text = rec.pos_text.unwrap_or_default();
        assert!(
            text.contains(&format!("already {bill}")) && text.contains("nothing was posted"),
            "{text}"
        );
    }
    assert!(h.pos.calls(P).is_empty());
    assert!(h.pos.ledger().is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn an_unknown_bill_needs_attention_and_nothing_is_posted() {
    let h = Harness::start(FakePos::exact(), |_| {}).await;
    let id = h.pay("k1", "nope", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
    assert_eq!(rec.pos_code.as_deref(), Some(codes::BILL_UNKNOWN));
    // Our code, with the POS's own words kept.
    let text = rec.pos_text.unwrap_or_default();
    assert!(
        text.contains("404") && text.contains("no such order in the fake POS"),
        "{text}"
    );
    assert_eq!(rec.attempts, 1);
    assert!(h.pos.calls(P).is_empty());
    h.shutdown().await;
}

/// A POS that refuses to show a bill it knows (the bill is open on a station) is that
/// refusal, retried — not an unknown bill handed to a person.
#[tokio::test]
async fn a_bill_the_pos_refuses_to_show_is_its_refusal_not_an_unknown_bill() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_read(
        "b1",
        [Read::Refuse(PosFailure {
            substate: Substate::BillInUse,
            code: "LOCKED".into(),
            text: "the bill is open on station 3".into(),
            not_found: false,
            transient: false,
        })],
    );
    let h = Harness::start(pos, |c| c.retry.max_attempts = 10).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    let refused = h
        .history(&id)
        .await
        .into_iter()
        .filter(|(state, _, sub, _)| state == "retrying" && sub.as_deref() == Some("BILL_IN_USE"))
        .count();
    assert_eq!(refused, 1, "the refusal was retried as BILL_IN_USE");
    assert_eq!(
        h.pos.calls(P).len(),
        1,
        "posted once, after the refusal passed"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_bill_not_ready_is_waited_for() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.set_status("b1", BillStatus::NotReady);
    let h = Harness::start(pos, |c| {
        slow_retries(c);
        c.retry.max_attempts = 100;
    })
    .await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let waiting = h
        .wait_for(&id, "waiting for the bill", |r| {
            r.lifecycle.state == PaymentState::Retrying
        })
        .await;
    assert_eq!(waiting.pos_code.as_deref(), Some(codes::BILL_NOT_READY));
    assert_eq!(waiting.substate, None, "a passing wait, not a refusal");
    assert!(h.pos.calls(P).is_empty());
    h.pos.set_status("b1", BillStatus::Open);
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(h.pos.calls(P).len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn the_exact_rule_refuses_a_wrong_sum_and_posts_nothing() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    let h = Harness::start(pos, |c| c.retry.max_attempts = 2).await;
    for (key, amount) in [("less", "99.99"), ("more", "100.01")] {
        let id = h.pay(key, "b1", amount, true).await;
        let rec = h.settled(&id).await;
        // Retriable (staff may revert the bill), so it is retried until the budget is spent.
        assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
        assert_eq!(rec.substate, Some(Substate::WrongRequestSum), "{amount}");
        assert_eq!(
            rec.pos_code.as_deref(),
            Some(codes::AMOUNT_CHECK),
            "{amount}"
        );
        let text = rec.pos_text.unwrap_or_default();
        assert!(
            text.contains(amount) && text.contains("100.00") && text.contains("nothing was posted"),
            "{text}"
        );
        assert_eq!(rec.attempts, 2, "{amount}");
    }
    assert!(h.pos.calls(P).is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn up_to_due_takes_a_part_and_refuses_more_than_due() {
    let pos = FakePos::new(caps(AmountRule::UpToDue, false, 1));
    pos.open_bill("b1", "100.00", false);
    let h = Harness::start(pos, |c| c.retry.max_attempts = 1).await;
    let part = h.pay("part", "b1", "40.00", false).await;
    let rec = h.settled(&part).await;
    assert_state(&rec, PaymentState::Paid, Step::Done);
    // 60.00 is due now: 60.01 is refused before posting.
    let over = h.pay("over", "b1", "60.01", false).await;
    let rec = h.settled(&over).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
    assert_eq!(rec.substate, Some(Substate::WrongRequestSum));
    assert!(
        rec.pos_text
            .unwrap_or_default()
            .contains("exceeds the 60.00 due")
    );
    assert_eq!(h.pos.ledger(), [booking(&part, "b1", "40.00", 1)]);
    let rest = h.pay("rest", "b1", "60.00", true).await;
    assert_state(&h.settled(&rest).await, PaymentState::Closed, Step::Done);
    assert_eq!(h.pos.bill("b1").paid, money("100.00"));
    h.shutdown().await;
}

// ---- the port's own failures -------------------------------------------------------------------

#[tokio::test]
async fn a_request_the_adapter_refuses_needs_attention_and_is_not_repeated() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post(
        "b1",
        [Post::Fail(PortError::BadRequest(
            "amount: not a number".into(),
        ))],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
    assert_eq!(rec.substate, Some(Substate::OtherError));
    assert_eq!(rec.pos_code.as_deref(), Some(codes::ADAPTER));
    let text = rec.pos_text.unwrap_or_default();
    assert!(
        text.contains("amount: not a number") && text.contains("nothing was sent"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(h.pos.calls_of(&id), [(P, 1)]);
    h.shutdown().await;
}

#[tokio::test]
async fn a_call_the_adapter_does_not_allow_is_retried() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post(
        "b1",
        [Post::Fail(PortError::NotAllowed("unknown token".into()))],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (P, 2), (X, 0)]);
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 2)]);
    let hist = h.history(&id).await;
    assert!(
        hist.iter().any(|h| h.0 == "retrying" && h.2.is_none()),
        "{hist:?}"
    );
    assert!(
        hist.iter().all(|h| h.0 != "outcome_unknown"),
        "nothing was sent: {hist:?}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_failed_post_call_is_an_unknown_outcome_checked_before_posting_again() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.script_post(
        "b1",
        [Post::Fail(PortError::Failed(
            "DeadlineExceeded: timeout".into(),
        ))],
    );
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(h.pos.calls_of(&id), [(P, 1), (C, 0), (P, 2), (X, 0)]);
    assert_eq!(h.pos.booked(&id), [booking(&id, "b1", "100.00", 2)]);
    let hist = h.history(&id).await;
    let unknown = hist
        .iter()
        .find(|h| h.0 == "outcome_unknown")
        .expect("an unknown outcome in the history");
    assert!(unknown.3.contains("DeadlineExceeded"), "{hist:?}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_restaurant_no_adapter_serves_needs_attention() {
    let pos = FakePos::exact();
    pos.open_bill("b1", "100.00", false);
    pos.fail_describe(Some(PortError::NoRoute));
    let h = Harness::start(pos, |_| {}).await;
    let id = h.pay("k1", "b1", "100.00", true).await;
    let rec = h.settled(&id).await;
    assert_state(&rec, PaymentState::NeedsAttention, Step::Post);
    assert_eq!(rec.pos_code.as_deref(), Some(codes::ADAPTER));
    assert!(h.pos.calls(P).is_empty() && h.pos.calls(CallKind::GetBill).is_empty());
    h.shutdown().await;
}

// ---- concurrency and leases --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_payments_for_one_bill_take_turns_and_never_overpay() {
    let pos = FakePos::new(caps(AmountRule::UpToDue, false, 1));
    pos.open_bill("b1", "100.00", false);
    // Slow postings: without the bill lock both would read 100.00 due and both post.
    pos.script_post(
        "b1",
        [
            Post::Slow(Duration::from_millis(200)),
            Post::Book,
            Post::Slow(Duration::from_millis(200)),
            Post::Book,
        ],
    );
    let h = Harness::start(pos, |c| c.retry.max_attempts = 2).await;
    let a = h.insert("a", "b1", "60.00", false).await;
    let b = h.insert("b", "b1", "60.00", false).await;
    h.engine.kick(a.clone());
    h.engine.kick(b.clone());
    let (ra, rb) = (h.settled(&a).await, h.settled(&b).await);
    let mut states = [ra.lifecycle.state, rb.lifecycle.state];
    states.sort_by_key(|s| s.as_str());
    assert_eq!(states, [PaymentState::NeedsAttention, PaymentState::Paid]);
    let loser = if ra.lifecycle.state == PaymentState::Paid {
        &rb
    } else {
        &ra
    };
    // The second read the bill after the first had paid: 40.00 due.
    assert_eq!(loser.substate, Some(Substate::WrongRequestSum));
    assert!(
        loser
            .pos_text
            .as_deref()
            .unwrap_or_default()
            .contains("exceeds the 40.00 due")
    );
    assert_eq!(h.pos.ledger().len(), 1);
    assert_eq!(h.pos.bill("b1").paid, money("60.00"));
    h.shutdown().await;
}

#[tokio::test]
async fn a_bill_stays_locked_while_a_payment_to_it_is_unanswered() {
    let pos = FakePos::new(caps(AmountRule::UpToDue, false, 5_000));
    pos.open_bill("b1", "100.00", false);
    // A's posting lands late, after three checks; B must not read the bill before that.
    pos.script_post("b1", [Post::BookLate { after_checks: 3 }]);
    let h = Harness::start(pos, |c| {
        c.retry.max_attempts = 1;
        c.reconcile.max_attempts = 100;
    })
    .await;
    let a = h.pay("a", "b1", "60.00", false).await;
    h.wait_for(&a, "unknown", |r| {
        r.lifecycle.state == PaymentState::OutcomeUnknown
    })
    .await;
    let b = h.pay("b", "b1", "60.00", false).await;
    assert_state(&h.settled(&a).await, PaymentState::Paid, Step::Done);
    let rb = h.settled(&b).await;
    assert_state(&rb, PaymentState::NeedsAttention, Step::Post);
    assert!(
        rb.pos_text
            .as_deref()
            .unwrap_or_default()
            .contains("exceeds the 40.00 due")
    );
    assert_eq!(h.pos.ledger(), [booking(&a, "b1", "60.00", 1)]);
    assert!(h.pos.calls_of(&b).is_empty(), "B never posted");
    h.shutdown().await;
}

/// Two payments to one bill, each stored leased and driven at once (PayBill with free slots):
/// the second's insert finds the bill taken, its recovery point is refused, and it waits —
/// it sends nothing while the first's posting is in flight, then posts against the bill as the
/// first left it.
#[tokio::test]
async fn a_payment_stored_leased_to_a_busy_bill_sends_nothing_until_the_bill_is_free() {
    let pos = FakePos::new(caps(AmountRule::UpToDue, false, 5_000));
    pos.open_bill("b1", "100.00", false);
    pos.script_post("b1", [Post::Slow(Duration::from_millis(400)), Post::Book]);
    let h = Harness::start(pos, |c| c.max_in_flight_per_restaurant = 4).await;
    let a = h.pay_leased("a", "b1", "60.00").await;
    h.wait_for(&a, "sending", |r| r.sending).await;
    let b = h.pay_leased("b", "b1", "40.00").await;
    assert_state(&h.settled(&a).await, PaymentState::Paid, Step::Done);
    assert_state(&h.settled(&b).await, PaymentState::Paid, Step::Done);
    assert_eq!(
        h.pos.ledger(),
        [booking(&a, "b1", "60.00", 1), booking(&b, "b1", "40.00", 1)]
    );
    let posts = h.pos.calls(CallKind::Post);
    let (pa, pb) = (&posts[0], &posts[1]);
    assert_eq!(
        (pa.payment_id.as_str(), pb.payment_id.as_str()),
        (a.as_str(), b.as_str())
    );
    assert!(
        pb.at >= pa.at + Duration::from_millis(400),
        "B posted {:?} after A started: while A's posting was in flight",
        pb.at - pa.at
    );
    assert_eq!(h.pos.bill("b1").paid, money("100.00"));
    h.shutdown().await;
}

/// A worker frozen mid-posting (its lease renewals stop with it) loses the payment to another
/// replica. The other finds the posting unanswered, waits out the settle time, finds the late
/// booking and closes; the frozen worker's save, when it wakes, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_loses_its_lease_mid_call_never_causes_a_second_posting() {
    let (dir, url) = temp_db();
    let pos = Arc::new(FakePos::new(caps(AmountRule::Exact, false, 3_000)));
    pos.open_bill("b1", "100.00", false);
    pos.script_post(
        "b1",
        [Post::Freeze(Duration::from_millis(1_500)), Post::Book],
    );
    let store = Store::open(&url, test_keyring()).await.unwrap();
    let mut h = Harness::on(
        store,
        Arc::clone(&pos),
        |c| {
            c.reconcile = RetryPolicy {
                initial_ms: 50,
                multiplier_pct: 100,
                max_delay_ms: 50,
                max_attempts: 200,
                jitter_pct: 0,
            };
        },
        dir,
    );
    let id = h.insert("k1", "b1", "100.00", true).await;

    // Replica A, on its own runtime and store handle, with a short lease.
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let a = {
        let (pos, url, id) = (Arc::clone(&pos), url.clone(), id.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let store = Store::open(&url, test_keyring()).await.unwrap();
                let mut cfg = config();
                cfg.lease_ms = 300;
                let engine = Engine::new(store, pos, Arc::new(Notifier::default()), Arc::new(cfg));
                engine.kick(id);
                let _ = done_rx.await;
            });
        })
    };
    // A is posting (the recovery point is saved) before replica B starts looking.
    h.wait_for(&id, "sending", |r| r.sending).await;
    h.run_scheduler();
    let rec = h.settled(&id).await;
    let _ = done_tx.send(());
    a.join().unwrap();

    assert_state(&rec, PaymentState::Closed, Step::Done);
    assert_eq!(pos.calls(P).len(), 1, "posted once, by A");
    assert_eq!(pos.booked(&id), [booking(&id, "b1", "100.00", 1)]);
    assert!(
        rec.checks >= 2,
        "B waited for the late booking: {} checks",
        rec.checks
    );
    let hist = h.history(&id).await;
    assert!(
        hist.iter().any(|h| h.3 == "recovered after a lost worker"),
        "{hist:?}"
    );
    // A's answer never reached the store: its save was fenced off.
    assert!(
        hist.iter().all(|h| h.3 != "the POS booked the payment"),
        "{hist:?}"
    );
    assert!(
        hist.iter()
            .any(|h| h.3.starts_with("reconciled: fake ledger: booked=true")),
        "{hist:?}"
    );
    h.shutdown().await;
}

/// A worker that died after its recovery point: the POS may have the request. A payment the
/// POS booked is found by a check and never posted again; one it did not is posted once more.
#[tokio::test]
async fn a_payment_left_mid_posting_by_a_dead_worker_is_checked_before_any_new_posting() {
    let pos = FakePos::exact();
    pos.open_bill("booked", "100.00", false);
    pos.open_bill("lost", "100.00", false);
    let h = Harness::start(pos, |_| {}).await;
    let mut ids = Vec::new();
    for bill in ["booked", "lost"] {
        // Inserted far in the future so the scheduler leaves it to the dead worker.
        let id = uuid::Uuid::now_v7().to_string();
        let Inserted::New(_) = h
            .store
            .insert(&id, &request(bill, bill, "100.00", true), now() + 60_000)
            .await
            .unwrap()
        else {
            panic!()
        };
        let t = now() + 60_000;
        let mut claimed = h
            .store
            .claim(&id, "dead", t, 100)
            .await
            .unwrap()
            .expect("claimed");
        claimed.lifecycle = claimed
            .lifecycle
            .on(
                posgate_core::payment::Event::Start,
                posgate_core::RetryDecision::Retry,
            )
            .unwrap();
        claimed.attempts = 1;
        claimed.sending = true;
        claimed.next_attempt_at = 0;
        // A worker holds the bill to save its recovery point.
        let r = &claimed.request;
        assert!(
            h.store
                .lock_bill(&r.restaurant_id, &r.bill_id, &id, t)
                .await
                .unwrap()
        );
        assert!(
            h.store
                .save(&claimed, "dead", t, false, Some("sending"))
                .await
                .unwrap()
        );
        // The dead worker's posting reached the POS for one bill and not the other; said
        // before its lease runs out, so the engine can only find the payment as it was left.
        if bill == "booked" {
            h.pos.preload_booking(booking(&id, "booked", "100.00", 1));
        }
        // The lease ran out long ago from the store's point of view.
        h.store.renew(&id, "dead", 0, 1).await.unwrap();
        ids.push(id);
    }
    for id in &ids {
        let rec = h.settled(id).await;
        assert_state(&rec, PaymentState::Closed, Step::Done);
        assert_eq!(rec.pos_code, None);
    }
    assert_eq!(h.pos.calls_of(&ids[0]), [(C, 0), (X, 0)]);
    // The other is checked first (perhaps more than once, within the 1 ms settle time), then
    // posted exactly once more.
    let lost = h.pos.calls_of(&ids[1]);
    assert_eq!(lost.first(), Some(&(C, 0)), "{lost:?}");
    assert_eq!(
        lost.iter().filter(|c| c.0 == P).collect::<Vec<_>>(),
        [&(P, 2)],
        "{lost:?}"
    );
    assert_eq!(lost.last(), Some(&(X, 0)), "{lost:?}");
    assert_eq!(
        h.pos.booked(&ids[1]),
        [booking(&ids[1], "lost", "100.00", 2)]
    );
    for id in &ids {
        let hist = h.history(id).await;
        assert!(
            hist.iter()
                .any(|h| h.0 == "outcome_unknown" && h.3 == "recovered after a lost worker"),
            "{hist:?}"
        );
    }
    h.shutdown().await;
}

/// The key card codes are sealed with in these tests.
pub fn test_keyring() -> std::sync::Arc<posgate_secrets::Keyring> {
    std::sync::Arc::new(posgate_secrets::Keyring::new("engine-test", &[5; 32]).expect("keyring"))
}
