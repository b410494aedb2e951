//! What the platform does: accepts restaurants' sockets, pushes operation frames (with their
//! deadlines), charges guests and sends `payBill` until the restaurant closes the bill, and
//! checks every callback (injected faults, `restoId`, signature, payload shape, rID,
//! deadline, duplicates) before it counts.

use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::ExpirenzaSim;
use super::model::{
    CallbackRecord, ConnectionInfo, GuestPayment, PaymentStatus, PingRecord, RidStyle,
    SentOperation, SimError, SimFaults,
};
use super::state::{ConnEntry, Out, State};
use super::texts::{self, Notice, Refusal};
use super::validate;
use crate::util::decimal_to_json;

/// Frames longer than this are recorded cut short.
const RECORDED_FRAME_MAX: usize = 4096;

/// rID, operation and billId of a frame being sent.
type FrameMeta = (String, String, Option<String>);

fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(n)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// `2021-03-13 00:32:04.942046#UP57RxE`
fn legacy_rid() -> String {
    let now = OffsetDateTime::now_utc();
    let base = now
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    format!("{base}.{:06}#{}", now.microsecond(), random_suffix(7))
}

/// Reads `"<key>": "<string>"` from a frame that may not be valid JSON.
fn scan_field(text: &str, key: &str) -> Option<String> {
    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) {
        return match o.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
    }
    let needle = format!("\"{key}\"");
    let pos = text.find(&needle)? + needle.len();
    let rest = text[pos..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

/// The frame as recorded: cut at [`RECORDED_FRAME_MAX`] bytes (on a character boundary).
fn recorded_frame(text: &str) -> String {
    if text.len() <= RECORDED_FRAME_MAX {
        return text.to_string();
    }
    let mut cut = RECORDED_FRAME_MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &text[..cut], text.len())
}

fn pay_bill_frame(p: &GuestPayment) -> Value {
    json!({
        "operation": "payBill",
        "billId": p.bill_id,
        "sum": decimal_to_json(p.sum),
        "tips": decimal_to_json(p.tips),
        "fiscalData": [
            {"key": "ЕКВАЙЕР", "value": "Expirenza simulator"},
            {"key": "PAYMENT_ID", "value": p.id},
        ],
    })
}

// --------------------------------------------------------------------------------------
// Connections.
// --------------------------------------------------------------------------------------

impl ExpirenzaSim {
    pub(crate) fn authenticate(&self, resto: &str, secret: &str) -> bool {
        let mut st = self.lock();
        let ok = st.restos.get(resto).is_some_and(|r| r.secret_key == secret);
        if !ok {
            st.auth_failures += 1;
        }
        ok
    }

    pub(crate) fn note_auth_failure(&self) {
        self.lock().auth_failures += 1;
    }

    pub(crate) fn register_conn(
        &self,
        resto: &str,
        cookie: Option<String>,
        tx: mpsc::UnboundedSender<Out>,
    ) -> u64 {
        let now = self.now_ms();
        let id = {
            let mut st = self.lock();
            st.next_conn += 1;
            let id = st.next_conn;
            st.conns.insert(
                id,
                ConnEntry {
                    info: ConnectionInfo {
                        id,
                        resto_id: resto.to_string(),
                        connected_at_ms: now,
                        closed_at_ms: None,
                        cookie,
                    },
                    tx: Some(tx),
                },
            );
            id
        };
        info!(
            resto,
            connection = id,
            "Expirenza sim: restaurant connected"
        );
        self.bump();
        id
    }

    pub(crate) fn unregister_conn(&self, id: u64) {
        let now = self.now_ms();
        if let Some(c) = self.lock().conns.get_mut(&id) {
            c.tx = None;
            c.info.closed_at_ms = Some(now);
        }
        info!(connection = id, "Expirenza sim: connection closed");
        self.bump();
    }

    pub(crate) fn record_frame(&self, conn: u64, resto: &str, text: &str) {
        let now = self.now_ms();
        self.lock().pings.push(PingRecord {
            connection_id: conn,
            resto_id: resto.to_string(),
            text: text.to_string(),
            well_formed: text == format!("Resto {resto} ping"),
            at_ms: now,
        });
        self.bump();
    }
}

// --------------------------------------------------------------------------------------
// Operations.
// --------------------------------------------------------------------------------------

impl ExpirenzaSim {
    fn next_rid(&self) -> String {
        let mut st = self.lock();
        st.rid_seq += 1;
        let legacy = match st.settings.rid_style {
            RidStyle::Legacy => true,
            RidStyle::Hex => false,
            RidStyle::Alternate => st.rid_seq % 2 == 1,
        };
        drop(st);
        if legacy {
            legacy_rid()
        } else {
            uuid::Uuid::new_v4().simple().to_string()
        }
    }

    /// Pushes an operation (a JSON object) to the restaurant; an `rID` is generated unless
    /// present. Returns the rID.
    pub fn send_operation(&self, resto: &str, operation: Value) -> Result<String, SimError> {
        self.send_op(resto, operation, None, None)
    }

    /// Pushes any text frame (broken JSON, huge frames, ...). Its rID and operation are
    /// recorded when they can be read, so its answer is correlated.
    pub fn send_raw(&self, resto: &str, text: impl Into<String>) -> Result<(), SimError> {
        let text = text.into();
        let meta = scan_field(&text, "rID").map(|rid| {
            (
                rid,
                scan_field(&text, "operation").unwrap_or_default(),
                scan_field(&text, "billId"),
            )
        });
        self.push(resto, text, meta, None)
    }

    /// `payment`: the guest payment and bill a payBill belongs to.
    fn send_op(
        &self,
        resto: &str,
        mut operation: Value,
        rid: Option<String>,
        payment: Option<(&str, &str)>,
    ) -> Result<String, SimError> {
        let Some(obj) = operation.as_object_mut() else {
            return Err(SimError::BadOperation("not a JSON object".into()));
        };
        let rid = match obj.get("rID") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                let rid = rid.unwrap_or_else(|| self.next_rid());
                obj.insert("rID".into(), Value::String(rid.clone()));
                rid
            }
        };
        let op_name = obj
            .get("operation")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let bill_id = obj
            .get("billId")
            .and_then(Value::as_str)
            .map(str::to_string);
        let text = operation.to_string();
        self.push(resto, text, Some((rid.clone(), op_name, bill_id)), payment)?;
        Ok(rid)
    }

    /// Sends a frame (delayed or doubled by the frame faults), records it when its rID is
    /// known and arms its deadline.
    fn push(
        &self,
        resto: &str,
        text: String,
        meta: Option<FrameMeta>,
        payment: Option<(&str, &str)>,
    ) -> Result<(), SimError> {
        let now = self.now_ms();
        let (tx, delay, copies, deadline, seq) = {
            let mut st = self.lock();
            if !st.restos.contains_key(resto) {
                return Err(SimError::UnknownResto(resto.to_string()));
            }
            let tx = st
                .sender(resto)
                .ok_or_else(|| SimError::NotConnected(resto.to_string()))?;
            let (delay, copies) = frame_faults(&mut st.faults);
            let deadline_ms = st.settings.deadline_ms;
            st.send_seq += 1;
            let seq = st.send_seq;
            if let Some((rid, op, bill)) = &meta {
                st.sent.push(SentOperation {
                    rid: rid.clone(),
                    resto_id: resto.to_string(),
                    operation: op.clone(),
                    frame: recorded_frame(&text),
                    sent_at_ms: now,
                    deadline_ms: now + deadline_ms + delay,
                    answered: false,
                    expired: false,
                    payment_id: payment.map(|(p, _)| p.to_string()),
                    bill_id: bill.clone().or_else(|| payment.map(|(_, b)| b.to_string())),
                });
                let idx = st.sent.len() - 1;
                st.sent_index.insert(rid.clone(), (idx, seq));
                st.accepted.remove(rid);
            }
            (tx, delay, copies, deadline_ms + delay, seq)
        };
        self.bump();
        info!(
            resto,
            rid = meta.as_ref().map(|m| m.0.as_str()).unwrap_or(""),
            operation = meta.as_ref().map(|m| m.1.as_str()).unwrap_or(""),
            delay_ms = delay,
            copies,
            "Expirenza sim: operation sent"
        );
        let frames: Vec<String> = (0..copies).map(|_| text.clone()).collect();
        if delay == 0 {
            for f in frames {
                let _ = tx.send(Out::Text(f));
            }
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                for f in frames {
                    let _ = tx.send(Out::Text(f));
                }
            });
        }
        if let Some((rid, _, _)) = meta {
            let sim = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(deadline)).await;
                sim.deadline_passed(&rid, seq);
            });
        }
        Ok(())
    }

    /// The deadline of sending `seq` of `rid` passed: unless it was answered (or sent
    /// again), it expires; a payBill's payment is then notified and retried.
    fn deadline_passed(&self, rid: &str, seq: u64) {
        let now = self.now_ms();
        let retry = {
            let mut st = self.lock();
            let Some(&(idx, s)) = st.sent_index.get(rid) else {
                return;
            };
            if s != seq {
                return;
            }
            let Some(sent) = st.sent.get_mut(idx) else {
                return;
            };
            if sent.answered {
                return;
            }
            sent.expired = true;
            let payment_id = sent.payment_id.clone();
            warn!(rid, "Expirenza sim: no callback before the deadline");
            let Some(pid) = payment_id else {
                drop(st);
                self.bump();
                return;
            };
            let retry_on_no_answer = st.settings.retry_on_no_answer;
            let Some(p) = st.payments.get(&pid).cloned() else {
                return;
            };
            if p.status != PaymentStatus::Pending {
                return;
            }
            st.notifications
                .push(Notice::NoAnswer { rid }.about(&p, now));
            (retry_on_no_answer && plan_retry(&mut st, &pid, now)).then_some(pid)
        };
        self.bump();
        if let Some(pid) = retry {
            self.spawn_retry(pid);
        }
    }

    /// A guest pays `sum` (+ `tips`) for `bill_id`: the guest is charged, then `payBill` is
    /// sent (and re-sent, see the module docs). If the restaurant is not connected, payBill
    /// is sent once it is.
    pub fn pay(
        &self,
        resto: &str,
        bill_id: &str,
        sum: Decimal,
        tips: Decimal,
    ) -> Result<GuestPayment, SimError> {
        let p = {
            let mut st = self.lock();
            if !st.restos.contains_key(resto) {
                return Err(SimError::UnknownResto(resto.to_string()));
            }
            st.payment_seq += 1;
            let p = GuestPayment {
                id: format!("gp-{}", st.payment_seq),
                resto_id: resto.to_string(),
                bill_id: bill_id.to_string(),
                sum,
                tips,
                charged: true,
                status: PaymentStatus::Pending,
                attempts: Vec::new(),
                last_state: None,
                last_substate: None,
                last_message: None,
            };
            st.payments.insert(p.id.clone(), p.clone());
            p
        };
        info!(resto, bill_id, %sum, %tips, payment = %p.id, "Expirenza sim: guest charged");
        match self.send_pay_bill(&p.id, None) {
            Ok(_) => {}
            Err(SimError::NotConnected(_)) => {
                let now = self.now_ms();
                let planned = plan_retry(&mut self.lock(), &p.id, now);
                if planned {
                    self.spawn_retry(p.id.clone());
                }
            }
            Err(e) => return Err(e),
        }
        self.bump();
        Ok(self.payment(&p.id).unwrap_or(p))
    }

    /// Sends a payBill of the payment (with `rid`, or a new one) and adds it to its attempts.
    fn send_pay_bill(&self, payment_id: &str, rid: Option<String>) -> Result<String, SimError> {
        let Some(p) = self.payment(payment_id) else {
            return Err(SimError::BadOperation(format!(
                "unknown payment {payment_id}"
            )));
        };
        let rid = self.send_op(
            &p.resto_id,
            pay_bill_frame(&p),
            rid,
            Some((&p.id, &p.bill_id)),
        )?;
        if let Some(p) = self.lock().payments.get_mut(payment_id) {
            p.attempts.push(rid.clone());
        }
        self.bump();
        Ok(rid)
    }

    /// After `retry_interval_ms`, sends the payment's payBill again (waiting for the
    /// restaurant to connect if need be), unless it settled meanwhile.
    fn spawn_retry(&self, payment_id: String) {
        let sim = self.clone();
        tokio::spawn(async move {
            loop {
                let (interval, reuse) = {
                    let st = sim.lock();
                    (st.settings.retry_interval_ms, st.settings.reuse_rid)
                };
                tokio::time::sleep(Duration::from_millis(interval.max(1))).await;
                let Some(p) = sim.payment(&payment_id) else {
                    break;
                };
                if p.status != PaymentStatus::Pending {
                    break;
                }
                let rid = if reuse {
                    p.attempts.last().cloned()
                } else {
                    None
                };
                match sim.send_pay_bill(&payment_id, rid) {
                    Ok(rid) => {
                        info!(payment = %payment_id, rid, "Expirenza sim: payBill re-sent");
                        break;
                    }
                    Err(SimError::NotConnected(_)) => continue,
                    Err(e) => {
                        warn!(payment = %payment_id, error = %e, "Expirenza sim: cannot re-send payBill");
                        break;
                    }
                }
            }
            sim.lock().retry_scheduled.remove(&payment_id);
        });
    }
}

/// The frame faults that fire for the next frame: its delay (ms) and how many copies.
fn frame_faults(f: &mut SimFaults) -> (u64, usize) {
    let delay = if f.delay_frames > 0 {
        f.delay_frames -= 1;
        f.delay_frames_ms
    } else {
        0
    };
    let copies = if f.duplicate_frames > 0 {
        f.duplicate_frames -= 1;
        2
    } else {
        1
    };
    (delay, copies)
}

/// Marks a retry as planned; false if one already is or attempts ran out (then the payment
/// is exhausted and staff are told).
fn plan_retry(st: &mut State, payment_id: &str, now: u64) -> bool {
    let max = st.settings.max_attempts;
    let Some(p) = st.payments.get_mut(payment_id) else {
        return false;
    };
    if p.status != PaymentStatus::Pending {
        return false;
    }
    if p.attempts.len() as u32 >= max {
        p.status = PaymentStatus::Exhausted;
        let n = Notice::RetriesExhausted {
            attempts: p.attempts.len(),
        }
        .about(p, now);
        st.notifications.push(n);
        return false;
    }
    st.retry_scheduled.insert(payment_id.to_string())
}

/// Applies an accepted payBill answer to its guest payment; returns the payment id if a
/// retry was planned.
fn apply_pay_answer(
    st: &mut State,
    payment_id: &str,
    rid: &str,
    v: &Value,
    now: u64,
) -> Option<String> {
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let (state, substate, message) = (text("state"), text("substate"), text("stackTraceMessage"));
    let p = st.payments.get_mut(payment_id)?;
    // An answer to an older attempt after the payment settled changes nothing.
    if p.status != PaymentStatus::Pending || p.attempts.last().map(String::as_str) != Some(rid) {
        return None;
    }
    p.last_state.clone_from(&state);
    p.last_substate.clone_from(&substate);
    p.last_message.clone_from(&message);
    let message = message.unwrap_or_default();
    match (state.as_deref(), substate.as_deref()) {
        (Some("SUCCESS"), _) => {
            p.status = PaymentStatus::Succeeded;
            None
        }
        (Some("FAIL"), Some("OTHER_ERROR")) => {
            p.status = PaymentStatus::Failed;
            let n = Notice::OtherError {
                bill: &p.bill_id,
                message: &message,
            }
            .about(p, now);
            st.notifications.push(n);
            None
        }
        (Some("FAIL"), Some(s)) => {
            let n = Notice::Retriable {
                substate: s,
                message: &message,
            }
            .about(p, now);
            st.notifications.push(n);
            plan_retry(st, payment_id, now).then(|| payment_id.to_string())
        }
        _ => None,
    }
}

// --------------------------------------------------------------------------------------
// Callbacks.
// --------------------------------------------------------------------------------------

/// One callback POST as received.
pub(crate) struct Incoming<'a> {
    /// The `<operation>` of `/callback/<operation>`.
    pub operation: &'a str,
    /// Headers.
    pub resto_id: Option<String>,
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub cookie: Option<String>,
    pub body: &'a [u8],
}

/// A callback fault that fired instead of the checks.
#[derive(Clone, Copy)]
enum Injected {
    /// `fail_callbacks`: 500.
    ServerError,
    /// `reject_callbacks`: 400 as for a wrong signature.
    BadSignature,
}

/// What the checks found about one callback.
#[derive(Default)]
struct Verdict {
    injected: Option<Injected>,
    /// (field, message); empty: accepted.
    errors: Vec<(String, String)>,
    signature_ok: bool,
    /// The restaurant is known, so its signature was checked.
    resto_known: bool,
    duplicate: bool,
    late: bool,
}

impl Verdict {
    fn injected(kind: Injected, refusal: Refusal<'_>) -> Self {
        Verdict {
            injected: Some(kind),
            errors: vec![refusal.pair()],
            ..Verdict::default()
        }
    }

    fn refuse(&mut self, r: Refusal<'_>) {
        self.errors.push(r.pair());
    }

    /// The status and the error body (`messages`: the errors as text).
    fn answer(&self, messages: &[String]) -> (u16, Option<Value>) {
        match self.injected {
            Some(Injected::ServerError) => (
                500,
                Some(validate::error_body(
                    texts::TITLE_SERVER_ERROR,
                    texts::TEXT_SERVER_ERROR,
                    &[],
                )),
            ),
            Some(Injected::BadSignature) => {
                let (field, message) = texts::SIMULATED_SIGNATURE_ERROR;
                (
                    400,
                    Some(validate::error_body(
                        texts::TITLE_INVALID_REQUEST,
                        texts::TITLE_INVALID_SIGNATURE,
                        &[(field.into(), message.into())],
                    )),
                )
            }
            None if self.errors.is_empty() => (200, None),
            None => {
                let title = if !self.signature_ok && self.resto_known {
                    texts::TITLE_INVALID_SIGNATURE
                } else {
                    texts::TITLE_INVALID_REQUEST
                };
                (
                    400,
                    Some(validate::error_body(
                        title,
                        &messages.join("; "),
                        &self.errors,
                    )),
                )
            }
        }
    }
}

/// The callback faults, counted down as they fire; `None` when none is armed.
fn injected_fault(f: &mut SimFaults) -> Option<Verdict> {
    if f.fail_callbacks > 0 {
        f.fail_callbacks -= 1;
        Some(Verdict::injected(
            Injected::ServerError,
            Refusal::SimulatedServerError,
        ))
    } else if f.reject_callbacks > 0 {
        f.reject_callbacks -= 1;
        Some(Verdict::injected(
            Injected::BadSignature,
            Refusal::SimulatedBadSignature,
        ))
    } else {
        None
    }
}

/// The checks, in order; each stage runs only when the ones before found nothing.
fn check(
    st: &State,
    cb: &Incoming<'_>,
    json: Option<&Value>,
    rid: Option<&str>,
    now: u64,
) -> Verdict {
    let mut v = Verdict::default();
    let secret = cb
        .resto_id
        .as_deref()
        .and_then(|r| st.restos.get(r))
        .map(|r| r.secret_key.as_str());
    match (cb.resto_id.as_deref(), secret) {
        (None, _) => v.refuse(Refusal::NoRestoId),
        (Some(r), None) => v.refuse(Refusal::UnknownResto(r)),
        _ => {}
    }
    if let Some(secret) = secret {
        v.resto_known = true;
        match &cb.signature {
            None => v.refuse(Refusal::NoSignature),
            Some(sig) => {
                v.signature_ok = validate::verify(secret, cb.body, sig);
                if !v.signature_ok {
                    v.refuse(Refusal::BadSignature);
                }
            }
        }
    }
    if !v.errors.is_empty() {
        return v;
    }
    match json {
        None => v.refuse(Refusal::NotJson),
        Some(j) => v.errors.extend(validate::check(cb.operation, j)),
    }
    if v.errors.is_empty()
        && let Some(rid) = rid
    {
        check_rid(st, cb, json, rid, now, &mut v);
    }
    v
}

/// The rID was sent to this restaurant as this operation (and bill), not too long ago, and
/// not answered differently before.
fn check_rid(
    st: &State,
    cb: &Incoming<'_>,
    json: Option<&Value>,
    rid: &str,
    now: u64,
    v: &mut Verdict,
) {
    let settings = &st.settings;
    match st.sent_index.get(rid) {
        None if settings.reject_unknown_rid => v.refuse(Refusal::RidNeverSent(rid)),
        None => {}
        Some(&(idx, _)) => {
            if let Some(sent) = st.sent.get(idx) {
                if Some(&sent.resto_id) != cb.resto_id.as_ref() {
                    v.refuse(Refusal::RidOfAnotherResto);
                }
                if sent.operation != cb.operation {
                    v.refuse(Refusal::RidOfAnotherOperation(&sent.operation));
                }
                if cb.operation == "payBill"
                    && let (Some(bill), Some(got)) = (
                        &sent.bill_id,
                        json.and_then(|j| j.get("billId")).and_then(Value::as_str),
                    )
                    && bill != got
                {
                    v.refuse(Refusal::OtherBill { rid, bill });
                }
                if now > sent.deadline_ms {
                    v.late = true;
                    if settings.reject_late {
                        v.refuse(Refusal::Late);
                    }
                }
            }
        }
    }
    if let Some(first) = st.accepted.get(rid) {
        v.duplicate = true;
        if first.as_slice() != cb.body {
            v.refuse(Refusal::AnsweredDifferently);
        } else if settings.reject_duplicates {
            v.refuse(Refusal::AlreadyAnswered);
        }
    }
}

/// An accepted callback: remembered (the first one), its operation answered, a payBill's
/// answer applied to its payment. Returns the payment id if a retry was planned.
fn accept(
    st: &mut State,
    cb: &Incoming<'_>,
    json: Option<&Value>,
    rid: &str,
    duplicate: bool,
    now: u64,
) -> Option<String> {
    if !duplicate {
        st.accepted.insert(rid.to_string(), cb.body.to_vec());
    }
    let &(idx, _) = st.sent_index.get(rid)?;
    let sent = st.sent.get_mut(idx)?;
    sent.answered = true;
    if cb.operation == "payBill"
        && !duplicate
        && let Some(pid) = sent.payment_id.clone()
        && let Some(v) = json
    {
        return apply_pay_answer(st, &pid, rid, v, now);
    }
    None
}

impl ExpirenzaSim {
    /// Handles one callback POST; returns the status and the error body. Every callback is
    /// recorded, accepted or not.
    pub(crate) fn on_callback(&self, cb: Incoming<'_>) -> (u16, Option<Value>) {
        let now = self.now_ms();
        let json: Option<Value> = serde_json::from_slice(cb.body).ok();
        let rid = json
            .as_ref()
            .and_then(|v| v.get("rID"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let (status, reply, verdict, retry_for) = {
            let mut st = self.lock();
            let seq = st.callbacks.len() as u64 + 1;
            let verdict = match injected_fault(&mut st.faults) {
                Some(v) => v,
                None => check(&st, &cb, json.as_ref(), rid.as_deref(), now),
            };
            let messages: Vec<String> = verdict.errors.iter().map(texts::field_message).collect();
            let (status, reply) = verdict.answer(&messages);
            let retry_for = match &rid {
                Some(rid) if status == 200 => {
                    accept(&mut st, &cb, json.as_ref(), rid, verdict.duplicate, now)
                }
                _ => None,
            };
            st.callbacks.push(CallbackRecord {
                seq,
                operation: cb.operation.to_string(),
                resto_id: cb.resto_id.clone(),
                rid: rid.clone(),
                body: String::from_utf8_lossy(cb.body).into_owned(),
                json: json.clone(),
                signature: cb.signature.clone(),
                signature_ok: verdict.signature_ok,
                status,
                errors: messages,
                duplicate: verdict.duplicate,
                late: verdict.late,
                content_type: cb.content_type.clone(),
                cookie: cb.cookie.clone(),
                at_ms: now,
            });
            (status, reply, verdict, retry_for)
        };
        info!(
            operation = cb.operation,
            rid = rid.as_deref().unwrap_or(""),
            status,
            duplicate = verdict.duplicate,
            errors = ?verdict.errors,
            "Expirenza sim: callback"
        );
        self.bump();
        if let Some(pid) = retry_for {
            self.spawn_retry(pid);
        }
        (status, reply)
    }
}
