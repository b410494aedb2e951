//! A scripted POS behind the engine's `PosPort`, so the engine's decisions are tested without a
//! network or an adapter.
//!
//! Each bill is a small stateful model (total, paid, status, closes on pay or not). Without a
//! script every call does what a healthy POS does. A test queues scripted behaviour per bill and
//! per call ("refuse with BILL_IN_USE", "apply but lose the answer", "apply late", ...); each
//! call takes the next one. The fake keeps a call log (which call, in order, with the payment id
//! and attempt) and a ledger of what it booked: the tests assert on both, so "never posted
//! twice" and "never reported paid without the POS confirming" are checked at the POS's side.
//! The fake never enforces amounts itself: an overpayment the engine lets through shows up in
//! the ledger.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use posgate_core::{AmountRule, PayRequest, Substate};
use posgate_payments::port::{Capabilities, Outcome, PortError, PosFailure, PosPort, PosReply};
use posgate_payments::store::BillSnapshot;
use posgate_proto::v1::BillStatus;
use rust_decimal::Decimal;

/// How the next posting to a bill goes.
#[derive(Debug, Clone)]
pub enum Post {
    /// Books it (and closes the bill if it closes on pay and is paid in full).
    Book,
    /// Refuses with this substate; nothing booked.
    Refuse(Substate),
    /// Books it, but the answer is lost (the adapter reports an unknown outcome).
    BookLoseAnswer,
    /// Books nothing and the answer is lost.
    LoseAnswer,
    /// Books nothing now and answers nothing; the booking appears once `after_checks` checks
    /// have looked for it (WSA runs a timed-out task when its agent gets to it).
    BookLate { after_checks: u32 },
    /// Answers "not applied" (a passing failure outside the bill).
    NotApplied,
    /// Takes the posting as a task and answers "pending" (WSA async): the task ends as `ends`
    /// once `after_looks` checks of the payment have found it running.
    Task { ends: TaskEnd, after_looks: u32 },
    /// The call fails without a POS answer.
    Fail(PortError),
    /// Waits (without blocking the runtime), then goes on with the next script.
    Slow(Duration),
    /// Blocks the calling thread (a frozen process: its lease renewals stop too), then goes on
    /// with the next script.
    Freeze(Duration),
}

/// How a posting's task ends.
#[derive(Debug, Clone, Copy)]
pub enum TaskEnd {
    /// Books the payment.
    Book,
    /// Refuses it; nothing booked.
    Refuse(Substate),
    /// Fails for a passing reason; nothing booked.
    NotApplied,
    /// Never answers.
    Never,
}

/// A task under way: the payment's booking, how it ends, and checks left before it does.
struct Task {
    booking: Booking,
    ends: TaskEnd,
    left: u32,
}

/// How the next check of an unanswered posting goes (default: reports what the ledger shows).
#[derive(Debug, Clone)]
pub enum Check {
    Unknown,
    Refuse(Substate),
    Fail(PortError),
}

/// How the next close goes (default: closes).
#[derive(Debug, Clone)]
pub enum Close {
    Refuse(Substate),
    /// Closes the bill, but the answer is lost.
    ClosedLoseAnswer,
    /// Closes nothing and answers nothing.
    LoseAnswer,
    Fail(PortError),
}

/// How the next bill read goes (default: the bill as the model has it).
#[derive(Debug, Clone)]
pub enum Read {
    Refuse(PosFailure),
    Fail(PortError),
    /// Shows the bill as if only this much were paid: a read the POS answered before a posting
    /// reached it.
    AsIfPaid(Decimal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Describe,
    GetBill,
    Post,
    Check,
    /// A check of a posting's task (`awaiting_task`).
    Look,
    Close,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub kind: CallKind,
    /// Empty for describe and bill reads.
    pub payment_id: String,
    /// For postings: the engine's attempt number.
    pub attempt: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub payment_id: String,
    pub bill_id: String,
    pub amount: Decimal,
    pub attempt: u32,
}

#[derive(Debug, Clone)]
pub struct Bill {
    pub total: Decimal,
    pub paid: Decimal,
    pub status: BillStatus,
    /// The POS closes the bill with the payment that pays it in full (r_keeper WSA).
    pub closes_on_pay: bool,
}

#[derive(Default)]
struct Scripts {
    post: VecDeque<Post>,
    check: VecDeque<Check>,
    close: VecDeque<Close>,
    read: VecDeque<Read>,
}

struct State {
    bills: HashMap<String, Bill>,
    scripts: HashMap<String, Scripts>,
    /// Late bookings, each with the number of checks still to see it missing.
    late: Vec<(Booking, u32)>,
    /// Postings' tasks under way, by payment id.
    tasks: HashMap<String, Task>,
    /// The task references the checks named, in order.
    looked_up: Vec<Option<String>>,
    ledger: Vec<Booking>,
    calls: Vec<Call>,
    caps: Capabilities,
    describe_fails: Option<PortError>,
}

pub struct FakePos {
    state: Mutex<State>,
    /// How long a look at a task takes (zero: at once).
    look_takes: Mutex<Duration>,
    /// Looks under way now, and the most there ever were at once.
    looking: std::sync::atomic::AtomicUsize,
    most_looking: std::sync::atomic::AtomicUsize,
}

pub fn money(s: &str) -> Decimal {
    s.parse().expect("a decimal in a test")
}

impl FakePos {
    pub fn new(caps: Capabilities) -> FakePos {
        FakePos {
            state: Mutex::new(State {
                bills: HashMap::new(),
                scripts: HashMap::new(),
                late: Vec::new(),
                tasks: HashMap::new(),
                looked_up: Vec::new(),
                ledger: Vec::new(),
                calls: Vec::new(),
                caps,
                describe_fails: None,
            }),
            look_takes: Mutex::new(Duration::ZERO),
            looking: Default::default(),
            most_looking: Default::default(),
        }
    }

    /// Each look at a task takes `d` from now on.
    pub fn looks_take(&self, d: Duration) {
        *self.look_takes.lock().unwrap_or_else(|p| p.into_inner()) = d;
    }

    /// The most looks at tasks that were under way at once.
    pub fn most_looks_at_once(&self) -> usize {
        self.most_looking.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A POS that reads bills, wants the exact sum and settles an unanswered write at once
    /// (1 ms: 0 would mean "cannot say", i.e. the service's cap).
    pub fn exact() -> FakePos {
        FakePos::new(Capabilities {
            amount_rule: AmountRule::Exact,
            cannot_read_bills: false,
            settle_ms: 1,
            ..Capabilities::default()
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a bill of `total`, nothing paid.
    pub fn open_bill(&self, bill_id: &str, total: &str, closes_on_pay: bool) {
        self.lock().bills.insert(
            bill_id.to_string(),
            Bill {
                total: money(total),
                paid: Decimal::ZERO,
                status: BillStatus::Open,
                closes_on_pay,
            },
        );
    }

    pub fn set_status(&self, bill_id: &str, status: BillStatus) {
        if let Some(b) = self.lock().bills.get_mut(bill_id) {
            b.status = status;
        }
    }

    pub fn fail_describe(&self, e: Option<PortError>) {
        self.lock().describe_fails = e;
    }

    pub fn script_post(&self, bill_id: &str, s: impl IntoIterator<Item = Post>) {
        self.scripts(bill_id, |sc| sc.post.extend(s));
    }

    pub fn script_check(&self, bill_id: &str, s: impl IntoIterator<Item = Check>) {
        self.scripts(bill_id, |sc| sc.check.extend(s));
    }

    pub fn script_close(&self, bill_id: &str, s: impl IntoIterator<Item = Close>) {
        self.scripts(bill_id, |sc| sc.close.extend(s));
    }

    pub fn script_read(&self, bill_id: &str, s: impl IntoIterator<Item = Read>) {
        self.scripts(bill_id, |sc| sc.read.extend(s));
    }

    fn scripts(&self, bill_id: &str, f: impl FnOnce(&mut Scripts)) {
        f(self.lock().scripts.entry(bill_id.to_string()).or_default());
    }

    /// Books a payment as if an earlier (lost) worker's posting had reached the POS.
    pub fn preload_booking(&self, b: Booking) {
        FakePos::book(&mut self.lock(), b);
    }

    pub fn bill(&self, bill_id: &str) -> Bill {
        self.lock().bills[bill_id].clone()
    }

    pub fn ledger(&self) -> Vec<Booking> {
        self.lock().ledger.clone()
    }

    /// Bookings of one payment.
    pub fn booked(&self, payment_id: &str) -> Vec<Booking> {
        self.ledger()
            .into_iter()
            .filter(|b| b.payment_id == payment_id)
            .collect()
    }

    /// The payment's task ends at the next check that finds it (it stopped running).
    pub fn end_task_now(&self, payment_id: &str) {
        if let Some(t) = self.lock().tasks.get_mut(payment_id) {
            t.left = 0;
        }
    }

    /// The references the checks (and looks) named, in order.
    pub fn looked_up(&self) -> Vec<Option<String>> {
        self.lock().looked_up.clone()
    }

    pub fn calls(&self, kind: CallKind) -> Vec<Call> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.kind == kind)
            .cloned()
            .collect()
    }

    /// The payment's postings/checks/closes, in order.
    pub fn calls_of(&self, payment_id: &str) -> Vec<(CallKind, u32)> {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.payment_id == payment_id)
            .map(|c| (c.kind, c.attempt))
            .collect()
    }

    fn log(&self, kind: CallKind, payment_id: &str, attempt: u32) {
        self.lock().calls.push(Call {
            at: Instant::now(),
            kind,
            payment_id: payment_id.to_string(),
            attempt,
        });
    }

    fn book(st: &mut State, b: Booking) -> bool {
        let Some(bill) = st.bills.get_mut(&b.bill_id) else {
            return false;
        };
        bill.paid += b.amount;
        let closed = bill.closes_on_pay && bill.paid >= bill.total;
        if closed {
            bill.status = BillStatus::Closed;
        }
        st.ledger.push(b);
        closed
    }
}

fn refusal(s: Substate) -> PosReply {
    PosReply {
        failure: Some(PosFailure {
            substate: s,
            code: format!("FAKE-{}", s.as_str()),
            text: format!("fake POS refuses: {}", s.as_str().to_lowercase()),
            not_found: false,
            transient: false,
        }),
        ..PosReply::new(Outcome::Rejected)
    }
}

#[tonic::async_trait]
impl PosPort for FakePos {
    async fn describe(&self, _restaurant_id: &str) -> Result<Capabilities, PortError> {
        self.log(CallKind::Describe, "", 0);
        let st = self.lock();
        match &st.describe_fails {
            Some(e) => Err(e.clone()),
            None => Ok(st.caps.clone()),
        }
    }

    async fn get_bill(
        &self,
        _restaurant_id: &str,
        bill_id: &str,
    ) -> Result<Result<BillSnapshot, PosFailure>, PortError> {
        self.log(CallKind::GetBill, "", 0);
        let mut st = self.lock();
        let paid_before = match st.scripts.get_mut(bill_id).and_then(|s| s.read.pop_front()) {
            Some(Read::Refuse(f)) => return Ok(Err(f)),
            Some(Read::Fail(e)) => return Err(e),
            Some(Read::AsIfPaid(paid)) => Some(paid),
            None => None,
        };
        let Some(b) = st.bills.get(bill_id) else {
            return Ok(Err(PosFailure {
                substate: Substate::OtherError,
                code: "404".into(),
                text: "no such order in the fake POS".into(),
                not_found: true,
                transient: false,
            }));
        };
        let paid = paid_before.unwrap_or(b.paid);
        Ok(Ok(BillSnapshot {
            total: b.total.to_string(),
            amount_due: (b.total - paid).max(Decimal::ZERO).to_string(),
            paid: paid.to_string(),
            status: b.status as i32,
            pos_status: format!("{:?}", b.status),
            bill_printed: false,
        }))
    }

    async fn post_payment(
        &self,
        payment_id: &str,
        request: &PayRequest,
        attempt: u32,
    ) -> Result<PosReply, PortError> {
        self.log(CallKind::Post, payment_id, attempt);
        let booking = Booking {
            payment_id: payment_id.to_string(),
            bill_id: request.bill_id.clone(),
            amount: request.amount.value(),
            attempt,
        };
        loop {
            let next = self
                .lock()
                .scripts
                .get_mut(&request.bill_id)
                .and_then(|s| s.post.pop_front())
                .unwrap_or(Post::Book);
            let mut st = self.lock();
            return match next {
                Post::Slow(d) => {
                    drop(st);
                    tokio::time::sleep(d).await;
                    continue;
                }
                Post::Freeze(d) => {
                    drop(st);
                    // A frozen POS blocks its worker thread on purpose.
                    #[allow(clippy::disallowed_methods)]
                    std::thread::sleep(d);
                    continue;
                }
                Post::Book => {
                    let bill_closed = FakePos::book(&mut st, booking);
                    Ok(PosReply {
                        bill_closed,
                        reference: Some(format!("ref-{payment_id}-{attempt}")),
                        ..PosReply::new(Outcome::Applied)
                    })
                }
                Post::Refuse(s) => Ok(refusal(s)),
                Post::BookLoseAnswer => {
                    FakePos::book(&mut st, booking);
                    Ok(PosReply::new(Outcome::Unknown))
                }
                Post::LoseAnswer => Ok(PosReply::new(Outcome::Unknown)),
                Post::BookLate { after_checks } => {
                    st.late.push((booking, after_checks));
                    Ok(PosReply::new(Outcome::Unknown))
                }
                Post::NotApplied => Ok(PosReply::new(Outcome::NotApplied)),
                Post::Task { ends, after_looks } => {
                    let task = format!("task-{payment_id}-{attempt}");
                    st.tasks.insert(
                        payment_id.to_string(),
                        Task {
                            booking,
                            ends,
                            left: after_looks,
                        },
                    );
                    let mut pending = PosReply::pending(task, Duration::from_millis(40));
                    pending.details.insert("queue".into(), "3rd".into());
                    Ok(pending)
                }
                Post::Fail(e) => Err(e),
            };
        }
    }

    async fn check_payment(
        &self,
        payment_id: &str,
        request: &PayRequest,
        reference: Option<&str>,
        _bill_before: Option<&BillSnapshot>,
        awaiting_task: bool,
    ) -> Result<PosReply, PortError> {
        let kind = if awaiting_task {
            use std::sync::atomic::Ordering::SeqCst;
            let takes = *self.look_takes.lock().unwrap_or_else(|p| p.into_inner());
            let now = self.looking.fetch_add(1, SeqCst) + 1;
            self.most_looking.fetch_max(now, SeqCst);
            tokio::time::sleep(takes).await;
            self.looking.fetch_sub(1, SeqCst);
            CallKind::Look
        } else {
            CallKind::Check
        };
        self.log(kind, payment_id, 0);
        let mut st = self.lock();
        st.looked_up.push(reference.map(str::to_string));
        // The payment's task runs on as checks go by, looks or not; once over, it ends.
        let ended = match st.tasks.get_mut(payment_id) {
            Some(t) if t.left > 0 => {
                t.left -= 1;
                None
            }
            Some(t) if !matches!(t.ends, TaskEnd::Never) => st.tasks.remove(payment_id),
            _ => None,
        };
        let answer = ended.map(|t| match t.ends {
            TaskEnd::Book => {
                let bill_closed = FakePos::book(&mut st, t.booking);
                PosReply::applied().closed(bill_closed)
            }
            TaskEnd::Refuse(s) => refusal(s),
            TaskEnd::NotApplied | TaskEnd::Never => PosReply::new(Outcome::NotApplied),
        });
        if awaiting_task {
            return match (answer, st.tasks.contains_key(payment_id)) {
                (Some(a), _) => Ok(a.evidence("the task answered")),
                (None, true) => Ok(PosReply::pending(
                    reference.unwrap_or_default().to_string(),
                    Duration::from_millis(40),
                )),
                (None, false) => Ok(PosReply::new(Outcome::Unknown).evidence("no such task")),
            };
        }
        // Late bookings land as checks go by.
        let mut landed = Vec::new();
        st.late.retain_mut(|(b, left)| {
            if *left == 0 {
                landed.push(b.clone());
                false
            } else {
                *left -= 1;
                true
            }
        });
        for b in landed {
            FakePos::book(&mut st, b);
        }
        match st
            .scripts
            .get_mut(&request.bill_id)
            .and_then(|s| s.check.pop_front())
        {
            Some(Check::Unknown) => return Ok(PosReply::new(Outcome::Unknown)),
            Some(Check::Refuse(s)) => return Ok(refusal(s)),
            Some(Check::Fail(e)) => return Err(e),
            None => {}
        }
        let booked = st.ledger.iter().any(|b| b.payment_id == payment_id);
        let closed = st
            .bills
            .get(&request.bill_id)
            .is_some_and(|b| b.status == BillStatus::Closed);
        Ok(PosReply {
            bill_closed: booked && closed,
            evidence: format!("fake ledger: booked={booked}"),
            ..PosReply::new(if booked {
                Outcome::Applied
            } else {
                Outcome::NotApplied
            })
        })
    }

    async fn close_bill(
        &self,
        payment_id: &str,
        _restaurant_id: &str,
        bill_id: &str,
    ) -> Result<PosReply, PortError> {
        self.log(CallKind::Close, payment_id, 0);
        let mut st = self.lock();
        let next = st
            .scripts
            .get_mut(bill_id)
            .and_then(|s| s.close.pop_front());
        let mut close = || {
            if let Some(b) = st.bills.get_mut(bill_id) {
                b.status = BillStatus::Closed;
            }
        };
        match next {
            None => {
                close();
                Ok(PosReply::new(Outcome::Applied))
            }
            Some(Close::Refuse(s)) => Ok(refusal(s)),
            Some(Close::ClosedLoseAnswer) => {
                close();
                Ok(PosReply::new(Outcome::Unknown))
            }
            Some(Close::LoseAnswer) => Ok(PosReply::new(Outcome::Unknown)),
            Some(Close::Fail(e)) => Err(e),
        }
    }
}
