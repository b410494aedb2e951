//! The operations: one [`Handler`] per Expirenza restaurant answers `payBill`, `getBill`,
//! `checkWork` and `versionInfo` through posgate's PaymentService, each in its own task, so a
//! dropped WebSocket never cancels work in flight (the answers are HTTP callbacks anyway).
//!
//! # payBill, step by step
//! 1. Per-bill async lock (inside the adapter): two payBills for one bill, whatever their
//!    rIDs, never decide concurrently.
//! 2. `ListPayments(restaurant, bill)`: a posgate payment made for Expirenza (idempotency key
//!    `expirenza:…`) that the POS confirmed → `SUCCESS`, nothing posted; one still in
//!    progress → its state is followed (step 5); one that needs a person → `FAIL` with its
//!    substate, nothing posted.
//! 3. `GetBill`: the POS's bill. `sum` ≠ amount due → `FAIL WRONG_REQUEST_SUM`, the bill's
//!    amounts in `stackTraceMessage`; an unknown bill → `FAIL OTHER_ERROR`; a closed or
//!    canceled bill without an Expirenza payment → `FAIL OTHER_ERROR` (a person must refund
//!    or book it).
//! 4. `PayBill` with the key `expirenza:<restoId>:<billId>:<rID>` (hashed when longer than
//!    posgate's 200 characters), `close = true`, `tips` as configured, `fiscalData` as the
//!    fiscal data map. Transport errors are retried with the same key (idempotent).
//! 5. `WatchPayment` until the POS has had its say or the answer deadline; see
//!    [`crate::answer`] for the state → answer table.
//!
//! Same rID twice → the identical callback body (answers are cached by rID for 15 minutes),
//! provided the repeat asks for the same thing: a payBill repeat must match the first frame
//! in `billId`, `sum`, `tips` and `fiscalData` (money compared as numbers: `129.2` repeats
//! `129.20`). One that differs is answered `FAIL OTHER_ERROR` naming the fields, nothing is
//! posted, and the first answer stays cached for exact repeats.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use posgate_core::Substate;
use posgate_grpc::CallerToken;
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::{self as pb};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, timeout_at};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use crate::answer::{self, Verdict};
use crate::callback::{CallbackClient, Delivery};
use crate::config::{ExpirenzaRestaurant, TipsMode};
use crate::wire::{
    CheckWorkCallback, Feature, FrameError, GetBillCallback, GetBillOp, Operation, PayBillCallback,
    PayBillOp, State, VersionInfoCallback, op, parse_frame,
};

/// The PaymentService client, sending this service's bearer token.
pub type PaymentsClient = PaymentServiceClient<InterceptedService<Channel, CallerToken>>;

/// Prefix of the idempotency keys of payments made for Expirenza.
pub const KEY_PREFIX: &str = "expirenza:";
/// posgate's longest idempotency key.
const MAX_KEY_LEN: usize = posgate_core::request::MAX_ID_LEN;
/// How long answers are kept for repeated rIDs.
const ANSWER_TTL: Duration = Duration::from_secs(15 * 60);
const ANSWER_CACHE_MAX: usize = 20_000;
/// Timeout of the quick gRPC reads (ListPayments, GetBill, ListBills).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The answer to a repeated rID whose frame differs in the named fields.
type Differs<'a> = dyn Fn(&[&'static str]) -> Vec<u8> + Sync + 'a;
/// For operations whose frames carry nothing a repeat could change.
const NO_FIELDS: (Fields, Option<&Differs<'static>>) = (Vec::new(), None);

/// The idempotency key of a payBill: derived from the restaurant, the bill and the rID.
pub fn idempotency_key(resto_id: &str, bill_id: &str, rid: &str) -> String {
    let key = format!("{KEY_PREFIX}{resto_id}:{bill_id}:{rid}");
    if key.len() <= MAX_KEY_LEN {
        return key;
    }
    let mut h = Sha256::new();
    for part in [resto_id, bill_id, rid] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}sha256:{hex}")
}

/// Bills are locked by a normalised id (case, braces, spaces do not make two bills).
fn bill_lock_key(bill_id: &str) -> String {
    bill_id
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

enum Slot {
    Pending(watch::Receiver<Option<Arc<Vec<u8>>>>),
    Done(Arc<Vec<u8>>, Instant),
}

/// What a repeat of an rID must repeat: `(field, canonical value)` of each field posgate acts
/// on. Empty for operations that carry nothing to compare.
type Fields = Vec<(&'static str, String)>;

/// The answer of an rID and the fields of the frame that made it.
struct Entry {
    slot: Slot,
    fields: Fields,
}

enum Claim {
    Mine(watch::Sender<Option<Arc<Vec<u8>>>>),
    Wait(watch::Receiver<Option<Arc<Vec<u8>>>>),
    Done(Arc<Vec<u8>>),
    /// A repeat of the rID that asks for something else: these fields differ.
    Differs(Vec<&'static str>),
}

/// The fields of a payBill that a repeat must match.
fn pay_bill_fields(p: &PayBillOp) -> Fields {
    vec![
        ("billId", p.bill_id.clone()),
        ("sum", p.sum.normalize().to_string()),
        ("tips", p.tips.normalize().to_string()),
        (
            "fiscalData",
            serde_json::to_string(&p.fiscal_data).unwrap_or_default(),
        ),
    ]
}

/// The fields of a payBill frame that could not be read: a repeat matches it only if it is
/// unreadable too.
fn unreadable_pay_bill_fields(bill_id: Option<&str>) -> Fields {
    vec![
        ("billId", bill_id.unwrap_or_default().to_string()),
        ("frame", "unreadable".to_string()),
    ]
}

/// The fields in which `b` differs from `a` (present in one only counts), in order.
fn differing(a: &Fields, b: &Fields) -> Vec<&'static str> {
    let value = |f: &Fields, name: &str| f.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let mut names: Vec<&'static str> = Vec::new();
    for (name, _) in a.iter().chain(b) {
        if !names.contains(name) && value(a, name) != value(b, name) {
            names.push(name);
        }
    }
    names
}

/// The payBill answer to a repeated rID whose frame differs from the first one.
fn pay_bill_differs(rid: &str, bill_id: &str, names: &[&'static str]) -> Vec<u8> {
    let verdict = Verdict::fail(
        Substate::OtherError,
        format!(
            "rID {rid} was already used for a payBill with a different {}; this repeat was not posted (a repeat must carry the same billId, sum, tips and fiscalData; a new payment needs a new rID)",
            names.join(", ")
        ),
    );
    json_bytes(&pay_bill_callback(rid, bill_id, &verdict, None))
}

/// One Expirenza restaurant: its settings, its callback client and its caches.
pub struct Handler {
    pub(crate) name: String,
    pub(crate) cfg: ExpirenzaRestaurant,
    callbacks: CallbackClient,
    payments: PaymentsClient,
    answers: Mutex<HashMap<(String, String), Entry>>,
    bill_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    bills: Mutex<HashMap<String, (pb::Bill, Instant)>>,
    in_flight: AtomicUsize,
    idle: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct InFlight(Arc<Handler>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Why the POS bill could not be used.
enum BillRead {
    Bill(Box<pb::Bill>),
    NotFound(String),
    Failed {
        substate: Option<Substate>,
        text: String,
    },
}

impl Handler {
    pub fn new(
        name: &str,
        cfg: ExpirenzaRestaurant,
        http: reqwest::Client,
        payments: PaymentsClient,
    ) -> Self {
        let callbacks = CallbackClient::new(
            http,
            &cfg.callback_base_url,
            &cfg.resto_id,
            cfg.secret_key.clone(),
            &cfg.system_name,
            cfg.callback_timeout_ms,
            cfg.callback_retry_initial_ms,
        );
        Handler {
            name: name.to_string(),
            cfg,
            callbacks,
            payments,
            answers: Mutex::new(HashMap::new()),
            bill_locks: Mutex::new(HashMap::new()),
            bills: Mutex::new(HashMap::new()),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }

    /// Operations still being worked on.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits until no operation is in flight (or `until`).
    pub async fn drained(&self, until: Instant) -> bool {
        loop {
            let notified = self.idle.notified();
            if self.in_flight() == 0 {
                return true;
            }
            if timeout_at(until, notified).await.is_err() {
                return self.in_flight() == 0;
            }
        }
    }

    /// Takes one text frame from the WebSocket and works on it in its own task.
    pub fn dispatch(self: &Arc<Self>, text: String, arrived: Instant) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(self.clone());
        let h = self.clone();
        tokio::spawn(async move {
            let _guard = guard;
            h.handle(text, arrived).await;
        });
    }

    async fn handle(self: &Arc<Self>, text: String, arrived: Instant) {
        let resto = self.cfg.resto_id.as_str();
        match parse_frame(&text, self.cfg.max_frame_bytes) {
            Ok(frame) => {
                let rid = frame.rid;
                match frame.operation {
                    Operation::SetSettings => {
                        info!(resto, rid, "setSettings received; no reply is expected")
                    }
                    Operation::Unsupported(name) => warn!(
                        resto,
                        rid,
                        operation = %name,
                        "operation not supported by posgate; not answered"
                    ),
                    Operation::PayBill(p) => {
                        info!(resto, rid, bill_id = %p.bill_id, sum = %p.sum, tips = %p.tips, "payBill received");
                        let differs =
                            |names: &[&'static str]| pay_bill_differs(&rid, &p.bill_id, names);
                        self.answer_once(
                            op::PAY_BILL,
                            &rid,
                            (pay_bill_fields(&p), Some(&differs)),
                            arrived,
                            || async { json_bytes(&self.pay_bill(&rid, &p, arrived).await) },
                        )
                        .await
                    }
                    Operation::GetBill(g) => {
                        info!(resto, rid, request = ?g, "getBill received");
                        self.answer_once(op::GET_BILL, &rid, NO_FIELDS, arrived, || async {
                            json_bytes(&self.get_bill(&rid, &g).await)
                        })
                        .await
                    }
                    Operation::CheckWork => {
                        self.answer_once(op::CHECK_WORK, &rid, NO_FIELDS, arrived, || async {
                            json_bytes(&self.check_work(&rid).await)
                        })
                        .await
                    }
                    Operation::VersionInfo => {
                        self.answer_once(op::VERSION_INFO, &rid, NO_FIELDS, arrived, || async {
                            json_bytes(&self.version_info(&rid))
                        })
                        .await
                    }
                }
            }
            Err(e) => self.malformed(e, text.len(), arrived).await,
        }
    }

    async fn malformed(self: &Arc<Self>, e: FrameError, len: usize, arrived: Instant) {
        let resto = self.cfg.resto_id.as_str();
        let (Some(rid), Some(operation)) = (e.rid.clone(), e.operation.clone()) else {
            warn!(
                resto,
                bytes = len,
                rid = ?e.rid,
                operation = ?e.operation,
                reason = %e.reason,
                "unusable frame without rID and operation; cannot be answered"
            );
            return;
        };
        // Debug-formatted: what failed to parse may carry a newline meant to forge a log line.
        warn!(resto, rid = ?rid, operation = ?operation, bytes = len, reason = %e.reason, "malformed operation frame; answering FAIL");
        match operation.as_str() {
            op::PAY_BILL => {
                let body = PayBillCallback {
                    bill_id: e.bill_id.clone().unwrap_or_default(),
                    guests: Vec::new(),
                    order_number: None,
                    rid: rid.clone(),
                    stack_trace_message: Some(format!(
                        "posgate could not read the payBill request: {}; nothing was posted",
                        e.reason
                    )),
                    state: State::Fail,
                    substate: Some(Substate::OtherError.as_str().into()),
                    waiter: None,
                    waiter_id: None,
                };
                let bill_id = e.bill_id.clone().unwrap_or_default();
                let differs = |names: &[&'static str]| pay_bill_differs(&rid, &bill_id, names);
                self.answer_once(
                    op::PAY_BILL,
                    &rid,
                    (
                        unreadable_pay_bill_fields(e.bill_id.as_deref()),
                        Some(&differs),
                    ),
                    arrived,
                    || async { json_bytes(&body) },
                )
                .await
            }
            op::GET_BILL => {
                let body = get_bill_fail(
                    &rid,
                    "ORDER_NOT_FOUND",
                    "BAD_REQUEST",
                    format!("posgate could not read the getBill request: {}", e.reason),
                    None,
                );
                self.answer_once(op::GET_BILL, &rid, NO_FIELDS, arrived, || async {
                    json_bytes(&body)
                })
                .await
            }
            // Nothing to misread in these: answer them as usual.
            op::CHECK_WORK => {
                self.answer_once(op::CHECK_WORK, &rid, NO_FIELDS, arrived, || async {
                    json_bytes(&self.check_work(&rid).await)
                })
                .await
            }
            op::VERSION_INFO => {
                self.answer_once(op::VERSION_INFO, &rid, NO_FIELDS, arrived, || async {
                    json_bytes(&self.version_info(&rid))
                })
                .await
            }
            other => warn!(
                resto,
                rid,
                operation = other,
                "malformed frame of an operation posgate does not answer"
            ),
        }
    }

    fn claim(&self, operation: &str, rid: &str, fields: &Fields) -> Claim {
        let mut answers = lock(&self.answers);
        if answers.len() >= ANSWER_CACHE_MAX {
            answers.retain(|_, e| match &e.slot {
                Slot::Done(_, at) => at.elapsed() < ANSWER_TTL,
                Slot::Pending(rx) => rx.has_changed().is_ok(),
            });
        }
        let key = (operation.to_string(), rid.to_string());
        if let Some(e) = answers.get(&key) {
            let live = match &e.slot {
                Slot::Done(_, at) => at.elapsed() < ANSWER_TTL,
                // A pending answer whose worker is gone (aborted) is taken over.
                Slot::Pending(rx) => rx.has_changed().is_ok(),
            };
            if live {
                let names = differing(&e.fields, fields);
                if !names.is_empty() {
                    return Claim::Differs(names);
                }
                return match &e.slot {
                    Slot::Done(body, _) => Claim::Done(body.clone()),
                    Slot::Pending(rx) => Claim::Wait(rx.clone()),
                };
            }
        }
        let (tx, rx) = watch::channel(None);
        answers.insert(
            key,
            Entry {
                slot: Slot::Pending(rx),
                fields: fields.clone(),
            },
        );
        Claim::Mine(tx)
    }

    /// Computes the answer of `(operation, rid)` once, caches it, and posts it. A repeated
    /// rID gets the identical bytes, posted again — if its frame has the same `fields`;
    /// otherwise `differs(names)` is answered (and not cached).
    async fn answer_once<F, Fut>(
        &self,
        operation: &str,
        rid: &str,
        (fields, differs): (Fields, Option<&Differs<'_>>),
        arrived: Instant,
        make: F,
    ) where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Vec<u8>>,
    {
        let window_end = arrived + Duration::from_millis(self.cfg.callback_window_ms);
        let body = match self.claim(operation, rid, &fields) {
            Claim::Differs(names) => {
                warn!(resto = %self.cfg.resto_id, operation, rid, differs = ?names, "repeated rID with a different request: refused, nothing done");
                let Some(differs) = differs else { return };
                Arc::new(differs(&names))
            }
            Claim::Done(body) => {
                info!(resto = %self.cfg.resto_id, operation, rid, "repeated rID: answering with the identical body");
                body
            }
            Claim::Wait(mut rx) => {
                info!(resto = %self.cfg.resto_id, operation, rid, "repeated rID while the first is in progress: waiting for its answer");
                let got = timeout_at(window_end, rx.wait_for(|v| v.is_some())).await;
                match got {
                    Ok(Ok(v)) => match v.as_ref() {
                        Some(b) => b.clone(),
                        None => return,
                    },
                    _ => {
                        warn!(
                            operation,
                            rid, "the first copy of this rID was not answered in time"
                        );
                        return;
                    }
                }
            }
            Claim::Mine(tx) => {
                let body = Arc::new(make().await);
                lock(&self.answers).insert(
                    (operation.to_string(), rid.to_string()),
                    Entry {
                        slot: Slot::Done(body.clone(), Instant::now()),
                        fields,
                    },
                );
                let _ = tx.send(Some(body.clone()));
                body
            }
        };
        match self
            .callbacks
            .deliver(operation, rid, &body, window_end)
            .await
        {
            Delivery::Delivered { .. } => {}
            Delivery::Rejected { status, error } => {
                warn!(resto = %self.cfg.resto_id, operation, rid, status, error, "callback refused by Expirenza")
            }
            Delivery::GaveUp {
                attempts,
                last_error,
            } => {
                warn!(resto = %self.cfg.resto_id, operation, rid, attempts, last_error, "callback could not be delivered")
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // payBill.
    // --------------------------------------------------------------------------------------

    async fn pay_bill(&self, rid: &str, p: &PayBillOp, arrived: Instant) -> PayBillCallback {
        for w in &p.warnings {
            warn!(resto = %self.cfg.resto_id, rid, bill_id = %p.bill_id, warning = %w, "payBill: optional field skipped");
        }
        let deadline = arrived + Duration::from_millis(self.cfg.answer_deadline_ms);
        let (verdict, bill) = self.pay_bill_verdict(rid, p, deadline).await;
        let bill = match bill {
            Some(b) => Some(b),
            None => self.cached_bill(&p.bill_id),
        };
        let cb = pay_bill_callback(rid, &p.bill_id, &verdict, bill.as_ref());
        info!(
            resto = %self.cfg.resto_id,
            rid,
            bill_id = %p.bill_id,
            state = ?cb.state,
            substate = cb.substate.as_deref().unwrap_or(""),
            message = cb.stack_trace_message.as_deref().unwrap_or(""),
            "payBill answered"
        );
        cb
    }

    fn pending(&self, message: impl Into<String>) -> Verdict {
        Verdict::fail(self.cfg.pending_substate, message)
    }

    fn bill_lock(&self, bill_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.bill_locks)
            .entry(bill_lock_key(bill_id))
            .or_default()
            .clone()
    }

    fn release_bill_lock(&self, bill_id: &str, l: Arc<tokio::sync::Mutex<()>>) {
        let key = bill_lock_key(bill_id);
        let mut locks = lock(&self.bill_locks);
        // Only the map and `l` hold it: nobody else waits for this bill.
        if Arc::strong_count(&l) <= 2 {
            locks.remove(&key);
        }
    }

    async fn pay_bill_verdict(
        &self,
        rid: &str,
        p: &PayBillOp,
        deadline: Instant,
    ) -> (Verdict, Option<pb::Bill>) {
        let bill_lock = self.bill_lock(&p.bill_id);
        let result = async {
            let Ok(guard) = timeout_at(deadline, bill_lock.clone().lock_owned()).await else {
                return (
                    self.pending("posgate is still working on another payBill for this bill"),
                    None,
                );
            };
            let decided = self.decide(rid, p, deadline).await;
            drop(guard);
            match decided {
                Decided::Answer(v, bill) => (v, bill.map(|b| *b)),
                Decided::Follow(payment, bill) => {
                    (self.follow(*payment, deadline).await, bill.map(|b| *b))
                }
            }
        }
        .await;
        self.release_bill_lock(&p.bill_id, bill_lock);
        result
    }

    /// Under the bill lock: answer from an existing payment, or create the payment.
    async fn decide(&self, rid: &str, p: &PayBillOp, deadline: Instant) -> Decided {
        let ours = match self.our_payments(&p.bill_id, deadline).await {
            Ok(v) => v,
            Err(e) => {
                return Decided::Answer(
                    self.pending(format!(
                        "posgate's payment service could not be asked about this bill ({e}); nothing was posted"
                    )),
                    None,
                );
            }
        };
        if let Some(v) = self.existing_answer(p, &ours) {
            return match v {
                Existing::Answer(verdict) => {
                    let bill = match self.read_bill(&p.bill_id, deadline).await {
                        BillRead::Bill(b) => Some(b),
                        _ => None,
                    };
                    Decided::Answer(verdict, bill)
                }
                Existing::Follow(payment) => {
                    let bill = match self.read_bill(&p.bill_id, deadline).await {
                        BillRead::Bill(b) => Some(b),
                        _ => None,
                    };
                    Decided::Follow(payment, bill)
                }
            };
        }
        // No Expirenza payment yet: check the bill, then post.
        let bill = match self.read_bill(&p.bill_id, deadline).await {
            BillRead::Bill(b) => b,
            BillRead::NotFound(text) => {
                return Decided::Answer(
                    Verdict::fail(
                        Substate::OtherError,
                        if text.is_empty() {
                            format!("bill {} is not known to the POS", p.bill_id)
                        } else {
                            text
                        },
                    ),
                    None,
                );
            }
            BillRead::Failed {
                substate: Some(s),
                text,
            } => return Decided::Answer(Verdict::fail(s, text), None),
            BillRead::Failed {
                substate: None,
                text,
            } => {
                return Decided::Answer(
                    self.pending(format!(
                        "posgate could not read the bill from the POS ({text}); nothing was posted"
                    )),
                    None,
                );
            }
        };
        if let Some(v) = check_bill(&bill, p) {
            return Decided::Answer(v, Some(bill));
        }
        match self.post(rid, p, &bill, deadline).await {
            Ok(payment) => Decided::Follow(Box::new(payment), Some(bill)),
            Err(v) => Decided::Answer(v, Some(bill)),
        }
    }

    /// Payments made for Expirenza on this bill, oldest first.
    async fn our_payments(
        &self,
        bill_id: &str,
        deadline: Instant,
    ) -> Result<Vec<pb::Payment>, String> {
        let mut out = Vec::new();
        let mut token = String::new();
        for _ in 0..20 {
            let mut req = tonic::Request::new(pb::ListPaymentsRequest {
                restaurant_id: self.cfg.restaurant_id.clone(),
                bill_id: bill_id.to_string(),
                states: Vec::new(),
                page_size: 100,
                page_token: token.clone(),
            });
            req.set_timeout(read_timeout(deadline));
            let page = self
                .payments
                .clone()
                .list_payments(req)
                .await
                .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?
                .into_inner();
            out.extend(
                page.payments
                    .into_iter()
                    .filter(|p| p.idempotency_key.starts_with(KEY_PREFIX)),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        Ok(out)
    }

    fn existing_answer(&self, p: &PayBillOp, ours: &[pb::Payment]) -> Option<Existing> {
        let same_amount = |x: &pb::Payment| Decimal::from_str(x.amount.trim()).ok() == Some(p.sum);
        if let Some(done) = ours.iter().rev().find(|x| answer::is_success(x)) {
            if same_amount(done) {
                info!(resto = %self.cfg.resto_id, bill_id = %p.bill_id, payment_id = %done.payment_id, "bill already paid through Expirenza: SUCCESS, nothing posted");
                return Some(Existing::Answer(Verdict::Success));
            }
            return Some(Existing::Answer(Verdict::fail(
                Substate::OtherError,
                format!(
                    "the bill was already paid through Expirenza (payment {} of {}); this payBill of {} was not posted: refund the guest",
                    done.payment_id, done.amount, p.sum
                ),
            )));
        }
        if let Some(open) = ours.iter().rev().find(|x| !x.r#final) {
            if same_amount(open) {
                info!(resto = %self.cfg.resto_id, bill_id = %p.bill_id, payment_id = %open.payment_id, "payment for this bill already in progress: following it");
                return Some(Existing::Follow(Box::new(open.clone())));
            }
            return Some(Existing::Answer(self.pending(format!(
                "another Expirenza payment of {} for this bill (payment {}) is still in progress; this payBill of {} was not posted",
                open.amount, open.payment_id, p.sum
            ))));
        }
        // Final but not paid: a person must decide; never post again on our own.
        let last = ours.last()?;
        info!(resto = %self.cfg.resto_id, bill_id = %p.bill_id, payment_id = %last.payment_id, "payment for this bill needs attention: answering its state, nothing posted");
        Some(Existing::Answer(answer::settled(last).unwrap_or_else(
            || {
                Verdict::fail(
                    Substate::OtherError,
                    format!(
                        "payment {} for this bill needs a person: {}",
                        last.payment_id, last.recommendation
                    ),
                )
            },
        )))
    }

    async fn read_bill(&self, bill_id: &str, deadline: Instant) -> BillRead {
        let mut req = tonic::Request::new(pb::GetBillRequest {
            restaurant_id: self.cfg.restaurant_id.clone(),
            bill_id: bill_id.to_string(),
        });
        req.set_timeout(read_timeout(deadline));
        let res = match self.payments.clone().get_bill(req).await {
            Ok(r) => r.into_inner().result,
            Err(s) => {
                return BillRead::Failed {
                    substate: None,
                    text: format!("{:?}: {}", s.code(), s.message()),
                };
            }
        };
        match res {
            Some(pb::get_bill_response::Result::Bill(b)) => {
                self.remember_bill(bill_id, &b);
                BillRead::Bill(Box::new(b))
            }
            Some(pb::get_bill_response::Result::Failure(f)) if f.not_found => {
                BillRead::NotFound(f.pos_text)
            }
            Some(pb::get_bill_response::Result::Failure(f)) => {
                let sub = pb::Substate::try_from(f.substate).unwrap_or(pb::Substate::Unspecified);
                let substate = if f.transient {
                    None
                } else {
                    answer::payment_substate(&pb::Payment {
                        substate: sub as i32,
                        ..Default::default()
                    })
                };
                BillRead::Failed {
                    substate,
                    text: if f.pos_text.is_empty() {
                        f.pos_code
                    } else {
                        f.pos_text
                    },
                }
            }
            None => BillRead::Failed {
                substate: None,
                text: "empty GetBill answer".into(),
            },
        }
    }

    fn remember_bill(&self, bill_id: &str, b: &pb::Bill) {
        let mut bills = lock(&self.bills);
        if bills.len() > 5_000 {
            bills.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(3600));
        }
        bills.insert(bill_lock_key(bill_id), (b.clone(), Instant::now()));
    }

    fn cached_bill(&self, bill_id: &str) -> Option<pb::Bill> {
        lock(&self.bills)
            .get(&bill_lock_key(bill_id))
            .map(|(b, _)| b.clone())
    }

    /// `PayBill`, retried with the same key on transport errors until the deadline.
    async fn post(
        &self,
        rid: &str,
        p: &PayBillOp,
        bill: &pb::Bill,
        deadline: Instant,
    ) -> Result<pb::Payment, Verdict> {
        let key = idempotency_key(&self.cfg.resto_id, &p.bill_id, rid);
        let tips = match self.cfg.tips {
            TipsMode::Separate if !p.tips.is_zero() => p.tips.normalize().to_string(),
            _ => String::new(),
        };
        let request = pb::PayBillRequest {
            idempotency_key: key.clone(),
            restaurant_id: self.cfg.restaurant_id.clone(),
            bill_id: p.bill_id.clone(),
            // The POS's own text of the amount due (equal to `sum`, checked above).
            amount: bill.amount_due.trim().to_string(),
            tips,
            tenders: Vec::new(),
            fiscal_data: p.fiscal_data.clone().into_iter().collect(),
            close: true,
            points: String::new(),
            pos_options: Default::default(),
        };
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.pending(
                    "posgate's payment service did not take the payment before the answer deadline; repeat payBill",
                ));
            }
            let mut req = tonic::Request::new(request.clone());
            req.set_timeout(remaining);
            info!(resto = %self.cfg.resto_id, rid, bill_id = %p.bill_id, idempotency_key = %key, amount = %request.amount, tips = %request.tips, attempt, "PayBill");
            match self.payments.clone().pay_bill(req).await {
                Ok(resp) => return Ok(resp.into_inner()),
                Err(s) => match s.code() {
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Unknown
                    | Code::Internal
                    | Code::Aborted
                    | Code::ResourceExhausted
                    | Code::Cancelled => {
                        warn!(rid, code = ?s.code(), error = %s.message(), "PayBill failed; retrying with the same key");
                        let pause = Duration::from_millis(200 * u64::from(attempt.min(5)));
                        if Instant::now() + pause >= deadline {
                            return Err(self.pending(format!(
                                "posgate's payment service is unavailable ({}); the payment may not be recorded yet; repeat payBill",
                                s.message()
                            )));
                        }
                        tokio::time::sleep(pause).await;
                    }
                    code => {
                        warn!(rid, ?code, error = %s.message(), "posgate refused the payment");
                        return Err(Verdict::fail(
                            Substate::OtherError,
                            format!(
                                "posgate refused the payment ({code:?}: {}); nothing was posted",
                                s.message()
                            ),
                        ));
                    }
                },
            }
        }
    }

    /// Follows a payment until the POS has had its say or the deadline.
    async fn follow(&self, first: pb::Payment, deadline: Instant) -> Verdict {
        let pending = self.cfg.pending_substate;
        if let Some(v) = answer::settled(&first) {
            return v;
        }
        let id = first.payment_id.clone();
        let mut last = first;
        loop {
            if Instant::now() >= deadline {
                return answer::at_deadline(&last, pending);
            }
            let mut req = tonic::Request::new(pb::GetPaymentRequest {
                payment_id: id.clone(),
            });
            req.set_timeout(deadline.saturating_duration_since(Instant::now()));
            match timeout_at(deadline, self.payments.clone().watch_payment(req)).await {
                Err(_) => return answer::at_deadline(&last, pending),
                Ok(Ok(stream)) => {
                    let mut stream = stream.into_inner();
                    loop {
                        match timeout_at(deadline, stream.message()).await {
                            Err(_) => return answer::at_deadline(&last, pending),
                            Ok(Ok(Some(u))) => {
                                debug!(payment_id = %id, state = ?answer::payment_state(&u), "payment update");
                                last = u;
                                if let Some(v) = answer::settled(&last) {
                                    return v;
                                }
                            }
                            Ok(Ok(None)) => break,
                            Ok(Err(s)) => {
                                debug!(payment_id = %id, error = %s.message(), "watch broke");
                                break;
                            }
                        }
                    }
                }
                Ok(Err(s)) => debug!(payment_id = %id, error = %s.message(), "cannot watch"),
            }
            // The stream ended or broke: read the payment, then watch again.
            if timeout_at(deadline, tokio::time::sleep(Duration::from_millis(300)))
                .await
                .is_err()
            {
                return answer::at_deadline(&last, pending);
            }
            let mut req = tonic::Request::new(pb::GetPaymentRequest {
                payment_id: id.clone(),
            });
            req.set_timeout(read_timeout(deadline));
            if let Ok(r) = self.payments.clone().get_payment(req).await {
                last = r.into_inner();
                if let Some(v) = answer::settled(&last) {
                    return v;
                }
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // getBill, checkWork, versionInfo.
    // --------------------------------------------------------------------------------------

    async fn get_bill(&self, rid: &str, g: &GetBillOp) -> GetBillCallback {
        let deadline = Instant::now() + READ_TIMEOUT;
        match g {
            GetBillOp::ByBill(bill_id) => match self.read_bill(bill_id, deadline).await {
                BillRead::Bill(b) => {
                    let status =
                        pb::BillStatus::try_from(b.status).unwrap_or(pb::BillStatus::Unspecified);
                    if status == pb::BillStatus::Canceled {
                        return get_bill_fail(
                            rid,
                            "ORDER_NOT_FOUND",
                            "ORDER_CANCELED",
                            format!("bill {bill_id} is canceled in the POS"),
                            None,
                        );
                    }
                    GetBillCallback {
                        error_code: None,
                        error_message: None,
                        orders: vec![answer::order(&b)],
                        rid: rid.to_string(),
                        state: State::Success,
                        substate: None,
                        table_number: (!b.table.trim().is_empty())
                            .then(|| answer::table_number(&b.table)),
                    }
                }
                BillRead::NotFound(text) => get_bill_fail(
                    rid,
                    "ORDER_NOT_FOUND",
                    "ORDER_NOT_FOUND",
                    if text.is_empty() {
                        format!("bill {bill_id} is not known to the POS")
                    } else {
                        text
                    },
                    None,
                ),
                BillRead::Failed { text, .. } => get_bill_fail(
                    rid,
                    "ORDER_NOT_FOUND",
                    "POS_UNAVAILABLE",
                    format!("posgate could not read bill {bill_id} from the POS: {text}"),
                    None,
                ),
            },
            GetBillOp::ByTable(table) => {
                let table_value = Some(answer::table_number(table));
                if !self.cfg.tables.is_empty() && !self.cfg.tables.iter().any(|t| t == table) {
                    return get_bill_fail(
                        rid,
                        "TABLE_NOT_FOUND",
                        "TABLE_NOT_FOUND",
                        format!("table {table} does not exist in this restaurant"),
                        table_value,
                    );
                }
                let mut req = tonic::Request::new(pb::ListBillsRequest {
                    restaurant_id: self.cfg.restaurant_id.clone(),
                    table: table.clone(),
                });
                req.set_timeout(READ_TIMEOUT);
                match self.payments.clone().list_bills(req).await {
                    Err(s) => get_bill_fail(
                        rid,
                        "ORDER_NOT_FOUND",
                        "POS_UNAVAILABLE",
                        format!(
                            "posgate could not read the bills of table {table}: {}",
                            s.message()
                        ),
                        table_value,
                    ),
                    Ok(r) => {
                        let r = r.into_inner();
                        match r.failure {
                            Some(f) if f.not_found => get_bill_fail(
                                rid,
                                "TABLE_NOT_FOUND",
                                "TABLE_NOT_FOUND",
                                format!("table {table} is not known to the POS: {}", f.pos_text),
                                table_value,
                            ),
                            Some(f) => get_bill_fail(
                                rid,
                                "ORDER_NOT_FOUND",
                                "POS_UNAVAILABLE",
                                format!(
                                    "posgate could not read the bills of table {table}: {} {}",
                                    f.pos_code, f.pos_text
                                ),
                                table_value,
                            ),
                            None => {
                                let open: Vec<_> = r
                                    .bills
                                    .iter()
                                    .filter(|b| {
                                        !matches!(
                                            pb::BillStatus::try_from(b.status),
                                            Ok(pb::BillStatus::Closed | pb::BillStatus::Canceled)
                                        )
                                    })
                                    .collect();
                                if open.is_empty() {
                                    return get_bill_fail(
                                        rid,
                                        "ORDER_NOT_FOUND",
                                        "ORDER_NOT_FOUND",
                                        format!("no open bill at table {table}"),
                                        table_value,
                                    );
                                }
                                for b in &open {
                                    self.remember_bill(&b.bill_id, b);
                                }
                                GetBillCallback {
                                    error_code: None,
                                    error_message: None,
                                    orders: open.into_iter().map(answer::order).collect(),
                                    rid: rid.to_string(),
                                    state: State::Success,
                                    substate: None,
                                    table_number: table_value,
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    async fn check_work(&self, rid: &str) -> CheckWorkCallback {
        let mut req = tonic::Request::new(pb::ListPaymentsRequest {
            restaurant_id: self.cfg.restaurant_id.clone(),
            page_size: 1,
            ..Default::default()
        });
        req.set_timeout(Duration::from_secs(3));
        let ready = match self.payments.clone().list_payments(req).await {
            Ok(_) => true,
            Err(s) => {
                warn!(resto = %self.cfg.resto_id, error = %s.message(), "checkWork: posgate's payment service is not reachable");
                false
            }
        };
        CheckWorkCallback {
            date_time: expirenza_time(OffsetDateTime::now_utc()),
            rid: rid.to_string(),
            ready_to_work: ready,
        }
    }

    fn version_info(&self, rid: &str) -> VersionInfoCallback {
        let feature = |name: &str| Feature {
            available: false,
            feature: name.to_string(),
            implemented: false,
        };
        let mut additional = BTreeMap::new();
        additional.insert("integration".to_string(), "posgate".to_string());
        additional.insert(
            "posgateRestaurant".to_string(),
            self.cfg.restaurant_id.clone(),
        );
        VersionInfoCallback {
            additional_info: additional,
            event_time: OffsetDateTime::now_utc()
                .format(&Rfc3339)
                .unwrap_or_default(),
            implemented_features: vec![
                feature("BILL_V_2"),
                feature("STOP_LIST"),
                feature("ORDERS_CACHE"),
                feature("ORDER_ON_TABLE"),
            ],
            partner_id: self.cfg.partner_id.clone(),
            plugin_version: plugin_version(env!("CARGO_PKG_VERSION")),
            rid: rid.to_string(),
            restaurant_license_date_end: self.cfg.license_date_end.clone(),
            restaurant_version: format!("posgate-expirenza {}", env!("CARGO_PKG_VERSION")),
            update_info: Vec::new(),
        }
    }
}

enum Existing {
    Answer(Verdict),
    Follow(Box<pb::Payment>),
}

enum Decided {
    Answer(Verdict, Option<Box<pb::Bill>>),
    Follow(Box<pb::Payment>, Option<Box<pb::Bill>>),
}

fn read_timeout(deadline: Instant) -> Duration {
    READ_TIMEOUT
        .min(deadline.saturating_duration_since(Instant::now()))
        .max(Duration::from_millis(200))
}

/// Whether a bill can take this payBill; the FAIL answer if not.
fn check_bill(bill: &pb::Bill, p: &PayBillOp) -> Option<Verdict> {
    let status = pb::BillStatus::try_from(bill.status).unwrap_or(pb::BillStatus::Unspecified);
    match status {
        pb::BillStatus::Closed => {
            return Some(Verdict::fail(
                Substate::OtherError,
                format!(
                    "the bill is already closed in the POS ({}) and posgate holds no Expirenza payment for it; this payBill of {} was not posted: refund the guest or book the money by hand",
                    bill.pos_status, p.sum
                ),
            ));
        }
        pb::BillStatus::Canceled => {
            return Some(Verdict::fail(
                Substate::OtherError,
                format!(
                    "the bill is canceled in the POS ({}); this payBill of {} was not posted: refund the guest",
                    bill.pos_status, p.sum
                ),
            ));
        }
        pb::BillStatus::NotReady => {
            return Some(Verdict::fail(
                Substate::CloseOrderBlocked,
                format!(
                    "the bill cannot take payments yet in the POS ({})",
                    bill.pos_status
                ),
            ));
        }
        _ => {}
    }
    let Ok(due) = Decimal::from_str(bill.amount_due.trim()) else {
        return Some(Verdict::fail(
            Substate::OtherError,
            format!(
                "the POS reported an unreadable amount due {:?}",
                bill.amount_due
            ),
        ));
    };
    if due != p.sum {
        return Some(Verdict::fail(
            Substate::WrongRequestSum,
            format!(
                "sum {} differs from the bill in the POS: amount due {} (total {}, paid {}); nothing was posted",
                p.sum, bill.amount_due, bill.total, bill.paid
            ),
        ));
    }
    None
}

fn get_bill_fail(
    rid: &str,
    substate: &str,
    code: &str,
    message: String,
    table_number: Option<serde_json::Value>,
) -> GetBillCallback {
    GetBillCallback {
        error_code: Some(code.to_string()),
        error_message: Some(message),
        orders: Vec::new(),
        rid: rid.to_string(),
        state: State::Fail,
        substate: Some(substate.to_string()),
        table_number,
    }
}

fn json_bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec())
}

/// `yyyy.MM.dd HH:mm:ss`, Expirenza's date format.
pub fn expirenza_time(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year].[month].[day] [hour]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

/// `pluginVersion` must increase: major·10000 + minor·100 + patch.
pub fn plugin_version(v: &str) -> u64 {
    let mut parts = v
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0);
    major * 10_000 + minor.min(99) * 100 + patch.min(99)
}

/// The payBill answer for a verdict (for tests and tools).
pub fn pay_bill_callback(
    rid: &str,
    bill_id: &str,
    verdict: &Verdict,
    bill: Option<&pb::Bill>,
) -> PayBillCallback {
    let (state, substate, message) = match verdict {
        Verdict::Success => (State::Success, None, None),
        Verdict::Fail { substate, message } => (
            State::Fail,
            Some(substate.as_str().to_string()),
            Some(message.clone()),
        ),
    };
    let (waiter, waiter_id) = bill.map(answer::waiter).unwrap_or_default();
    PayBillCallback {
        bill_id: bill_id.to_string(),
        guests: bill.map(answer::guests).unwrap_or_default(),
        order_number: bill.and_then(answer::order_number),
        rid: rid.to_string(),
        stack_trace_message: message,
        state,
        substate,
        waiter,
        waiter_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_derived_from_operation_and_bill() {
        assert_eq!(
            idempotency_key("r1", "B-1", "2021-03-13 00:32:04.942046#UP57RxE"),
            "expirenza:r1:B-1:2021-03-13 00:32:04.942046#UP57RxE"
        );
        let long = idempotency_key("r1", &"b".repeat(190), "rid");
        assert!(long.starts_with("expirenza:sha256:") && long.len() <= MAX_KEY_LEN);
        assert_eq!(long, idempotency_key("r1", &"b".repeat(190), "rid"));
        assert_ne!(long, idempotency_key("r1", &"b".repeat(190), "rid2"));
        assert_eq!(bill_lock_key(" {AB-c} "), "ab-c");
    }

    #[test]
    fn a_repeat_must_match_every_field() {
        let op = |bill: &str, sum: &str, tips: &str| PayBillOp {
            bill_id: bill.into(),
            sum: Decimal::from_str(sum).unwrap(),
            tips: Decimal::from_str(tips).unwrap(),
            fiscal_data: BTreeMap::from([("RRN".to_string(), "1".to_string())]),
            warnings: vec![],
        };
        let first = pay_bill_fields(&op("B", "129.20", "0"));
        assert!(differing(&first, &pay_bill_fields(&op("B", "129.2", "0.00"))).is_empty());
        assert_eq!(
            differing(&first, &pay_bill_fields(&op("C", "129.21", "0"))),
            ["billId", "sum"]
        );
        let mut other = op("B", "129.20", "1");
        other.fiscal_data.clear();
        assert_eq!(
            differing(&first, &pay_bill_fields(&other)),
            ["tips", "fiscalData"]
        );
        assert_eq!(
            differing(&first, &unreadable_pay_bill_fields(Some("B"))),
            ["sum", "tips", "fiscalData", "frame"]
        );
        assert!(differing(&Fields::new(), &Fields::new()).is_empty());
    }

    #[test]
    fn bill_checks() {
        let bill = pb::Bill {
            bill_id: "B".into(),
            total: "978.00".into(),
            amount_due: "978.00".into(),
            paid: "0.00".into(),
            status: pb::BillStatus::Open as i32,
            ..Default::default()
        };
        let op = |sum: &str| PayBillOp {
            bill_id: "B".into(),
            sum: Decimal::from_str(sum).unwrap(),
            tips: Decimal::ZERO,
            fiscal_data: BTreeMap::new(),
            warnings: vec![],
        };
        assert_eq!(check_bill(&bill, &op("978")), None);
        assert_eq!(check_bill(&bill, &op("978.00")), None);
        let Some(Verdict::Fail { substate, message }) = check_bill(&bill, &op("900.00")) else {
            panic!()
        };
        assert_eq!(substate, Substate::WrongRequestSum);
        assert!(message.contains("amount due 978.00"), "{message}");
        let closed = pb::Bill {
            status: pb::BillStatus::Closed as i32,
            ..bill.clone()
        };
        assert!(matches!(
            check_bill(&closed, &op("978.00")),
            Some(Verdict::Fail {
                substate: Substate::OtherError,
                ..
            })
        ));
    }

    #[test]
    fn formats() {
        assert_eq!(plugin_version("0.1.0"), 100);
        assert_eq!(plugin_version("1.2.3"), 10203);
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(expirenza_time(t), "2023.11.14 22:13:20");
        let cb = pay_bill_callback("r", "B", &Verdict::Success, None);
        let v = serde_json::to_value(&cb).unwrap();
        assert_eq!(v["state"], "SUCCESS");
        assert!(v.get("substate").is_none());
        assert_eq!(v["guests"], serde_json::json!([]));
    }
}
