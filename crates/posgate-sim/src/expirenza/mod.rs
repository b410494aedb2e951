//! # Expirenza platform simulator
//!
//! Plays Expirenza's side of its POS protocol (see `shared/specs/expirenza_tillypad.md` §1):
//! the restaurant's integration keeps a WebSocket open to the platform, operations arrive on
//! it as JSON text frames, and every answer comes back as a signed HTTP callback.
//!
//! ## Endpoints
//! * `GET /restaurantEntryPoint` — WebSocket. `Authorization: Basic base64(restoId:secretKey)`
//!   of a known restaurant, else HTTP 401. Keepalive text frames (`Resto <restoId> ping`)
//!   are recorded ([`ExpirenzaSim::pings`]); operations are pushed as text frames
//!   `{"rID": ..., "operation": ..., ...}` with rIDs in both documented forms
//!   (`2021-03-13 00:32:04.942046#UP57RxE` and 32 hex characters, [`RidStyle`]).
//! * `POST /callback/<operation>` — answers. Headers `restoId` and `signature` =
//!   Base64(HMAC-SHA256(secretKey, **raw body bytes**)). Checks, in order: injected faults
//!   (500 / 400), `restoId`, signature, JSON, the documented shape of the operation's
//!   payload (FAIL needs a substate of its operation's enum, `guests` is an array, numbers
//!   are JSON numbers, ...), the rID (sent to this restaurant for this operation), the
//!   deadline (80 s by default) and duplicates (an identical second answer is accepted and
//!   flagged; a different one is refused). 200 with an empty body when accepted; otherwise
//!   400 (or 500 for injected faults) with `{errCode, errText, errTitle, errType:
//!   "FULLSCREEN", fieldErrors:[{field, message}]}`. Every callback is recorded
//!   ([`CallbackRecord`]), accepted or not.
//!
//! ## Playing Expirenza
//! [`ExpirenzaSim::pay`] charges the guest (the money is taken first, as on the real
//! platform) and sends `payBill`. On `SUCCESS` the payment is done; on `FAIL OTHER_ERROR` it
//! stops (the restaurant is paid from the order data) and staff are notified; on a retriable
//! substate (or no answer by the deadline) staff are notified and `payBill` is sent again
//! after `retry_interval_ms` with a new rID (or the same, `reuse_rid`), up to
//! `max_attempts`, then "retries exhausted" is notified ([`Notification`]).
//!
//! ## Faults ([`SimFaults`])
//! 500 on the next N callbacks, 400 on the next N callbacks, delay or duplicate the next N
//! frames, [`ExpirenzaSim::drop_connections`] (the socket is dropped without a close frame),
//! and [`ExpirenzaSim::send_operation`] / [`ExpirenzaSim::send_raw`] for frames with bad or
//! missing fields.
//!
//! ## Control API (JSON, snake_case)
//! | method | path | body → answer |
//! |---|---|---|
//! | POST/GET | `/_sim/expirenza/restaurants` | [`SimResto`] → it / → `[SimResto]` |
//! | GET | `/_sim/expirenza/connections` | → `[ConnectionInfo]` |
//! | POST | `/_sim/expirenza/drop` | → `{"dropped": n}` |
//! | POST | `/_sim/expirenza/operations` | `{resto_id, operation: {...}}` → `{"rid": ...}` (rID generated if absent) |
//! | POST | `/_sim/expirenza/raw` | `{resto_id, text}` → `{"ok": true}` |
//! | POST | `/_sim/expirenza/pay` | `{resto_id, bill_id, sum, tips?}` → [`GuestPayment`] |
//! | GET | `/_sim/expirenza/payments` | → `[GuestPayment]` |
//! | GET | `/_sim/expirenza/callbacks`, `/sent`, `/pings`, `/notifications` | records |
//! | GET/POST | `/_sim/expirenza/settings` | [`SimSettings`] |
//! | GET/POST/DELETE | `/_sim/expirenza/faults` | [`SimFaults`] |
//! | POST | `/_sim/expirenza/reset` | → `{"ok": true}`: restaurants as built, no records, faults or payments |
//!
//! Demo restaurant: [`DEMO_RESTO_ID`] / [`DEMO_SECRET_KEY`].

mod http;
mod model;
pub mod validate;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

pub use http::{CALLBACK_PREFIX, CONTROL_PREFIX, ENTRY_POINT, control_index};
pub use model::{
    CallbackRecord, ConnectionInfo, GuestPayment, Notification, PaymentStatus, PingRecord,
    RidStyle, SentOperation, SimFaults, SimResto, SimSettings,
};

use crate::util::decimal_to_json;

/// The demo restaurant's Expirenza id.
pub const DEMO_RESTO_ID: &str = "demo-resto";
/// The demo restaurant's secret key.
pub const DEMO_SECRET_KEY: &str = "demo-expirenza-secret";

/// Why an operation could not be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    UnknownResto(String),
    NotConnected(String),
    BadOperation(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::UnknownResto(r) => write!(f, "unknown restaurant {r:?}"),
            SimError::NotConnected(r) => write!(f, "restaurant {r:?} is not connected"),
            SimError::BadOperation(m) => write!(f, "bad operation: {m}"),
        }
    }
}

impl std::error::Error for SimError {}

pub(crate) enum Out {
    Text(String),
    Drop,
}

struct ConnEntry {
    info: ConnectionInfo,
    tx: Option<mpsc::UnboundedSender<Out>>,
}

#[derive(Default)]
pub(crate) struct State {
    demo: bool,
    restos: BTreeMap<String, SimResto>,
    settings: SimSettings,
    faults: SimFaults,
    conns: BTreeMap<u64, ConnEntry>,
    next_conn: u64,
    pings: Vec<PingRecord>,
    sent: Vec<SentOperation>,
    /// rID → index in `sent` of its latest sending, and that sending's number.
    sent_index: HashMap<String, (usize, u64)>,
    send_seq: u64,
    callbacks: Vec<CallbackRecord>,
    /// rID → the first accepted body.
    accepted: HashMap<String, Vec<u8>>,
    payments: BTreeMap<String, GuestPayment>,
    payment_seq: u64,
    retry_scheduled: HashSet<String>,
    notifications: Vec<Notification>,
    auth_failures: u64,
    rid_seq: u64,
}

struct Inner {
    state: Mutex<State>,
    version: watch::Sender<u64>,
    started: std::time::Instant,
}

/// The Expirenza platform simulator. Cheap to clone (shared state).
#[derive(Clone)]
pub struct ExpirenzaSim {
    inner: Arc<Inner>,
}

impl Default for ExpirenzaSim {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ExpirenzaSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("ExpirenzaSim")
            .field("restos", &st.restos.len())
            .field("connections", &st.conns.len())
            .field("sent", &st.sent.len())
            .field("callbacks", &st.callbacks.len())
            .finish()
    }
}

fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(n)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

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

impl ExpirenzaSim {
    /// No restaurants; default settings.
    pub fn new() -> Self {
        let (version, _) = watch::channel(0);
        ExpirenzaSim {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                version,
                started: std::time::Instant::now(),
            }),
        }
    }

    /// With the demo restaurant ([`DEMO_RESTO_ID`] / [`DEMO_SECRET_KEY`]).
    pub fn with_demo_data() -> Self {
        let sim = Self::new();
        sim.lock().demo = true;
        sim.add_resto(SimResto::new(DEMO_RESTO_ID, DEMO_SECRET_KEY));
        sim
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self) {
        self.inner.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// Router with the WebSocket entry point, the callbacks and the control API.
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    /// Serves on `listener` until the process ends.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serves on `listener` until `shutdown` completes (graceful; open sockets are dropped).
    pub async fn serve_with_shutdown(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sim = self.clone();
        let shutdown = async move {
            shutdown.await;
            sim.drop_connections();
        };
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Binds `127.0.0.1:0`, serves in a background task, returns the address.
    pub async fn spawn(self) -> std::io::Result<SocketAddr> {
        crate::util::spawn_on_loopback("Expirenza simulator", move |l| self.serve(l)).await
    }

    // ----------------------------------------------------------------------------------
    // Restaurants, settings, faults.
    // ----------------------------------------------------------------------------------

    /// Adds or replaces a restaurant.
    pub fn add_resto(&self, r: SimResto) {
        self.lock().restos.insert(r.resto_id.clone(), r);
        self.bump();
    }

    pub fn restos(&self) -> Vec<SimResto> {
        self.lock().restos.values().cloned().collect()
    }

    pub(crate) fn note_auth_failure(&self) {
        self.lock().auth_failures += 1;
    }

    pub fn settings(&self) -> SimSettings {
        self.lock().settings.clone()
    }

    pub fn set_settings(&self, s: SimSettings) {
        self.lock().settings = s;
        self.bump();
    }

    /// Changes settings in place.
    pub fn update_settings(&self, f: impl FnOnce(&mut SimSettings)) {
        f(&mut self.lock().settings);
        self.bump();
    }

    pub fn faults(&self) -> SimFaults {
        self.lock().faults.clone()
    }

    pub fn set_faults(&self, f: SimFaults) {
        self.lock().faults = f;
    }

    pub fn clear_faults(&self) {
        self.lock().faults = SimFaults::default();
    }

    /// HTTP 500 on the next `n` callbacks.
    pub fn fail_next_callbacks(&self, n: u32) {
        self.lock().faults.fail_callbacks = n;
    }

    /// HTTP 400 (signature refused) on the next `n` callbacks.
    pub fn reject_next_callbacks(&self, n: u32) {
        self.lock().faults.reject_callbacks = n;
    }

    /// Delays the next `n` operation frames by `ms`.
    pub fn delay_next_frames(&self, ms: u64, n: u32) {
        let mut st = self.lock();
        st.faults.delay_frames = n;
        st.faults.delay_frames_ms = ms;
    }

    /// Sends the next `n` operation frames twice.
    pub fn duplicate_next_frames(&self, n: u32) {
        self.lock().faults.duplicate_frames = n;
    }

    /// Back to the restaurants it was built with; no connections' records, payments, faults.
    /// Open sockets are dropped.
    pub fn reset(&self) {
        self.drop_connections();
        let demo = {
            let mut st = self.lock();
            let demo = st.demo;
            let next_conn = st.next_conn;
            *st = State {
                demo,
                next_conn,
                ..State::default()
            };
            demo
        };
        if demo {
            self.add_resto(SimResto::new(DEMO_RESTO_ID, DEMO_SECRET_KEY));
        }
        self.bump();
    }

    // ----------------------------------------------------------------------------------
    // Connections.
    // ----------------------------------------------------------------------------------

    pub(crate) fn authenticate(&self, resto: &str, secret: &str) -> bool {
        let mut st = self.lock();
        let ok = st.restos.get(resto).is_some_and(|r| r.secret_key == secret);
        if !ok {
            st.auth_failures += 1;
        }
        ok
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

    /// Whether the restaurant has an open WebSocket.
    pub fn connected(&self, resto: &str) -> bool {
        self.lock()
            .conns
            .values()
            .any(|c| c.tx.is_some() && c.info.resto_id == resto)
    }

    /// Every connection so far (open ones have no `closed_at_ms`).
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.lock().conns.values().map(|c| c.info.clone()).collect()
    }

    /// Drops every open socket (no close frame); returns how many.
    pub fn drop_connections(&self) -> usize {
        let st = self.lock();
        let mut n = 0;
        for c in st.conns.values() {
            if let Some(tx) = &c.tx
                && tx.send(Out::Drop).is_ok()
            {
                n += 1;
            }
        }
        n
    }

    /// Failed WebSocket authentications.
    pub fn auth_failures(&self) -> u64 {
        self.lock().auth_failures
    }

    /// Keepalive (and any other) frames the restaurants sent.
    pub fn pings(&self) -> Vec<PingRecord> {
        self.lock().pings.clone()
    }

    // ----------------------------------------------------------------------------------
    // Operations.
    // ----------------------------------------------------------------------------------

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

    fn push(
        &self,
        resto: &str,
        text: String,
        meta: Option<(String, String, Option<String>)>,
        payment: Option<(&str, &str)>,
    ) -> Result<(), SimError> {
        let now = self.now_ms();
        let (tx, delay, copies, deadline, seq) = {
            let mut st = self.lock();
            if !st.restos.contains_key(resto) {
                return Err(SimError::UnknownResto(resto.to_string()));
            }
            let tx = st
                .conns
                .values()
                .rev()
                .filter(|c| c.info.resto_id == resto)
                .find_map(|c| c.tx.clone())
                .ok_or_else(|| SimError::NotConnected(resto.to_string()))?;
            let delay = if st.faults.delay_frames > 0 {
                st.faults.delay_frames -= 1;
                st.faults.delay_frames_ms
            } else {
                0
            };
            let copies = if st.faults.duplicate_frames > 0 {
                st.faults.duplicate_frames -= 1;
                2
            } else {
                1
            };
            let deadline_ms = st.settings.deadline_ms;
            st.send_seq += 1;
            let seq = st.send_seq;
            if let Some((rid, op, bill)) = &meta {
                st.sent.push(SentOperation {
                    rid: rid.clone(),
                    resto_id: resto.to_string(),
                    operation: op.clone(),
                    frame: if text.len() > 4096 {
                        format!(
                            "{}… ({} bytes)",
                            &text[..text.floor_char_boundary_compat(4096)],
                            text.len()
                        )
                    } else {
                        text.clone()
                    },
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
            st.notifications.push(Notification {
                resto_id: p.resto_id.clone(),
                bill_id: p.bill_id.clone(),
                payment_id: pid.clone(),
                kind: "NO_ANSWER".into(),
                text: format!("no answer to payBill {rid} from the restaurant"),
                at_ms: now,
            });
            (retry_on_no_answer && self.plan_retry(&mut st, &pid, now)).then_some(pid)
        };
        self.bump();
        if retry.is_some() {
            self.spawn_retry(retry);
        }
    }

    /// Convenience: `getBill` by table. Returns the rID.
    pub fn get_bill_by_table(&self, resto: &str, table: &str) -> Result<String, SimError> {
        self.send_operation(resto, json!({"operation": "getBill", "tableNumber": table}))
    }

    /// Convenience: `getBill` by bill id. Returns the rID.
    pub fn get_bill(&self, resto: &str, bill_id: &str) -> Result<String, SimError> {
        self.send_operation(resto, json!({"operation": "getBill", "billId": bill_id}))
    }

    /// Convenience: `checkWork`. Returns the rID.
    pub fn check_work(&self, resto: &str) -> Result<String, SimError> {
        self.send_operation(resto, json!({"operation": "checkWork"}))
    }

    /// Convenience: `versionInfo`. Returns the rID.
    pub fn version_info(&self, resto: &str) -> Result<String, SimError> {
        self.send_operation(resto, json!({"operation": "versionInfo"}))
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
                let planned = self.plan_retry(&mut self.lock(), &p.id, now);
                if planned {
                    self.spawn_retry(Some(p.id.clone()));
                }
            }
            Err(e) => return Err(e),
        }
        self.bump();
        Ok(self.payment(&p.id).unwrap_or(p))
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

    fn send_pay_bill(&self, payment_id: &str, rid: Option<String>) -> Result<String, SimError> {
        let Some(p) = self.payment(payment_id) else {
            return Err(SimError::BadOperation(format!(
                "unknown payment {payment_id}"
            )));
        };
        let rid = self.send_op(
            &p.resto_id,
            Self::pay_bill_frame(&p),
            rid,
            Some((&p.id, &p.bill_id)),
        )?;
        if let Some(p) = self.lock().payments.get_mut(payment_id) {
            p.attempts.push(rid.clone());
        }
        self.bump();
        Ok(rid)
    }

    /// Marks a retry as planned; false if one already is or attempts ran out.
    fn plan_retry(&self, st: &mut State, payment_id: &str, now: u64) -> bool {
        let max = st.settings.max_attempts;
        let Some(p) = st.payments.get_mut(payment_id) else {
            return false;
        };
        if p.status != PaymentStatus::Pending {
            return false;
        }
        if p.attempts.len() as u32 >= max {
            p.status = PaymentStatus::Exhausted;
            let n = Notification {
                resto_id: p.resto_id.clone(),
                bill_id: p.bill_id.clone(),
                payment_id: p.id.clone(),
                kind: "RETRIES_EXHAUSTED".into(),
                text: format!(
                    "payBill failed {} times; close the bill by hand",
                    p.attempts.len()
                ),
                at_ms: now,
            };
            st.notifications.push(n);
            return false;
        }
        st.retry_scheduled.insert(payment_id.to_string())
    }

    fn spawn_retry(&self, payment_id: Option<String>) {
        let Some(payment_id) = payment_id else {
            return;
        };
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

    // ----------------------------------------------------------------------------------
    // Callbacks.
    // ----------------------------------------------------------------------------------

    /// Handles one callback POST; returns the status and the error body.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_callback(
        &self,
        operation: &str,
        resto_hdr: Option<String>,
        signature: Option<String>,
        content_type: Option<String>,
        cookie: Option<String>,
        body: &[u8],
    ) -> (u16, Option<Value>) {
        let now = self.now_ms();
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let rid = json
            .as_ref()
            .and_then(|v| v.get("rID"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut errors: Vec<(String, String)> = Vec::new();
        let mut signature_ok = false;
        let mut duplicate = false;
        let mut late = false;
        let mut retry_for = None;
        let (status, reply) = {
            let mut st = self.lock();
            let seq = st.callbacks.len() as u64 + 1;
            let (status, reply) = if st.faults.fail_callbacks > 0 {
                st.faults.fail_callbacks -= 1;
                errors.push(("".into(), "simulated server error".into()));
                (
                    500,
                    Some(validate::error_body(
                        "Server error",
                        "Internal server error (simulated)",
                        &[],
                    )),
                )
            } else if st.faults.reject_callbacks > 0 {
                st.faults.reject_callbacks -= 1;
                errors.push(("signature".into(), "refused (simulated)".into()));
                (
                    400,
                    Some(validate::error_body(
                        "Invalid request",
                        "Invalid signature",
                        &[("signature".into(), "does not match the request body".into())],
                    )),
                )
            } else {
                let secret = resto_hdr
                    .as_deref()
                    .and_then(|r| st.restos.get(r))
                    .map(|r| r.secret_key.clone());
                match (&resto_hdr, &secret) {
                    (None, _) => errors.push(("restoId".into(), "header is required".into())),
                    (Some(r), None) => {
                        errors.push(("restoId".into(), format!("unknown restaurant {r:?}")))
                    }
                    _ => {}
                }
                if let Some(secret) = &secret {
                    match &signature {
                        None => errors.push(("signature".into(), "header is required".into())),
                        Some(sig) => {
                            signature_ok = validate::verify(secret, body, sig);
                            if !signature_ok {
                                errors.push((
                                    "signature".into(),
                                    "does not match HMAC-SHA256 of the request body".into(),
                                ));
                            }
                        }
                    }
                }
                if errors.is_empty() {
                    match &json {
                        None => errors.push(("".into(), "body is not JSON".into())),
                        Some(v) => errors.extend(validate::check(operation, v)),
                    }
                }
                if errors.is_empty()
                    && let Some(rid) = &rid
                {
                    let settings = st.settings.clone();
                    match st.sent_index.get(rid).copied() {
                        None if settings.reject_unknown_rid => {
                            errors.push(("rID".into(), format!("{rid:?} was never sent")))
                        }
                        None => {}
                        Some((idx, _)) => {
                            if let Some(sent) = st.sent.get(idx) {
                                if Some(&sent.resto_id) != resto_hdr.as_ref() {
                                    errors.push((
                                        "rID".into(),
                                        "was sent to another restaurant".into(),
                                    ));
                                }
                                if sent.operation != operation {
                                    errors.push((
                                        "rID".into(),
                                        format!("was sent as {:?}", sent.operation),
                                    ));
                                }
                                if operation == "payBill"
                                    && let (Some(b), Some(got)) = (
                                        &sent.bill_id,
                                        json.as_ref()
                                            .and_then(|v| v.get("billId"))
                                            .and_then(Value::as_str),
                                    )
                                    && b != got
                                {
                                    errors.push((
                                        "billId".into(),
                                        format!("payBill {rid} was for bill {b:?}"),
                                    ));
                                }
                                if now > sent.deadline_ms {
                                    late = true;
                                    if settings.reject_late {
                                        errors.push((
                                            "rID".into(),
                                            "the deadline for this request has passed".into(),
                                        ));
                                    }
                                }
                            }
                        }
                    }
                    if let Some(first) = st.accepted.get(rid) {
                        duplicate = true;
                        if first.as_slice() != body {
                            errors.push((
                                "rID".into(),
                                "already answered with a different body".into(),
                            ));
                        } else if settings.reject_duplicates {
                            errors.push(("rID".into(), "already answered".into()));
                        }
                    }
                }
                if errors.is_empty() {
                    (200, None)
                } else {
                    let title = if !signature_ok && secret.is_some() {
                        "Invalid signature"
                    } else {
                        "Invalid request"
                    };
                    (
                        400,
                        Some(validate::error_body(
                            title,
                            &errors
                                .iter()
                                .map(|(f, m)| {
                                    if f.is_empty() {
                                        m.clone()
                                    } else {
                                        format!("{f}: {m}")
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join("; "),
                            &errors,
                        )),
                    )
                }
            };
            if status == 200
                && let Some(rid) = &rid
            {
                if !duplicate {
                    st.accepted.insert(rid.clone(), body.to_vec());
                }
                if let Some(&(idx, _)) = st.sent_index.get(rid)
                    && let Some(sent) = st.sent.get_mut(idx)
                {
                    sent.answered = true;
                    if operation == "payBill"
                        && !duplicate
                        && let Some(pid) = sent.payment_id.clone()
                        && let Some(v) = &json
                    {
                        retry_for = self.apply_pay_answer(&mut st, &pid, rid, v, now);
                    }
                }
            }
            st.callbacks.push(CallbackRecord {
                seq,
                operation: operation.to_string(),
                resto_id: resto_hdr.clone(),
                rid: rid.clone(),
                body: String::from_utf8_lossy(body).into_owned(),
                json: json.clone(),
                signature: signature.clone(),
                signature_ok,
                status,
                errors: errors
                    .iter()
                    .map(|(f, m)| {
                        if f.is_empty() {
                            m.clone()
                        } else {
                            format!("{f}: {m}")
                        }
                    })
                    .collect(),
                duplicate,
                late,
                content_type,
                cookie,
                at_ms: now,
            });
            (status, reply)
        };
        info!(
            operation,
            rid = rid.as_deref().unwrap_or(""),
            status,
            duplicate,
            errors = ?errors,
            "Expirenza sim: callback"
        );
        self.bump();
        if retry_for.is_some() {
            self.spawn_retry(retry_for);
        }
        (status, reply)
    }

    /// Applies an accepted payBill answer to its guest payment; returns the payment id if a
    /// retry was planned.
    fn apply_pay_answer(
        &self,
        st: &mut State,
        payment_id: &str,
        rid: &str,
        v: &Value,
        now: u64,
    ) -> Option<String> {
        let state = v.get("state").and_then(Value::as_str).map(str::to_string);
        let substate = v
            .get("substate")
            .and_then(Value::as_str)
            .map(str::to_string);
        let message = v
            .get("stackTraceMessage")
            .and_then(Value::as_str)
            .map(str::to_string);
        let p = st.payments.get_mut(payment_id)?;
        // An answer to an older attempt after the payment settled changes nothing.
        if p.status != PaymentStatus::Pending || p.attempts.last().map(String::as_str) != Some(rid)
        {
            return None;
        }
        p.last_state.clone_from(&state);
        p.last_substate.clone_from(&substate);
        p.last_message.clone_from(&message);
        let note = |kind: &str, text: String| Notification {
            resto_id: p.resto_id.clone(),
            bill_id: p.bill_id.clone(),
            payment_id: p.id.clone(),
            kind: kind.to_string(),
            text,
            at_ms: now,
        };
        match (state.as_deref(), substate.as_deref()) {
            (Some("SUCCESS"), _) => {
                p.status = PaymentStatus::Succeeded;
                None
            }
            (Some("FAIL"), Some("OTHER_ERROR")) => {
                p.status = PaymentStatus::Failed;
                let n = note(
                    "OTHER_ERROR",
                    format!(
                        "bill {} could not be closed: {}; contact the POS vendor's support",
                        p.bill_id,
                        message.unwrap_or_default()
                    ),
                );
                st.notifications.push(n);
                None
            }
            (Some("FAIL"), Some(s)) => {
                let n = note(s, message.unwrap_or_default());
                st.notifications.push(n);
                self.plan_retry(st, payment_id, now)
                    .then(|| payment_id.to_string())
            }
            _ => None,
        }
    }

    /// Every callback received, in order.
    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.lock().callbacks.clone()
    }

    /// The callbacks of one rID, in order.
    pub fn callbacks_for(&self, rid: &str) -> Vec<CallbackRecord> {
        self.lock()
            .callbacks
            .iter()
            .filter(|c| c.rid.as_deref() == Some(rid))
            .cloned()
            .collect()
    }

    /// Every operation sent, in order.
    pub fn sent(&self) -> Vec<SentOperation> {
        self.lock().sent.clone()
    }

    pub fn payment(&self, id: &str) -> Option<GuestPayment> {
        self.lock().payments.get(id).cloned()
    }

    pub fn payments(&self) -> Vec<GuestPayment> {
        self.lock().payments.values().cloned().collect()
    }

    /// What staff would have been told.
    pub fn notifications(&self) -> Vec<Notification> {
        self.lock().notifications.clone()
    }

    // ----------------------------------------------------------------------------------
    // Waiting (for tests).
    // ----------------------------------------------------------------------------------

    /// Waits until `f` holds (checked after every change), or `timeout`; returns its value.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&ExpirenzaSim) -> Option<T>,
    ) -> Option<T> {
        let mut rx = self.inner.version.subscribe();
        let until = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(v) = f(self) {
                return Some(v);
            }
            let tick = tokio::time::sleep(Duration::from_millis(200));
            tokio::select! {
                _ = rx.changed() => {}
                _ = tick => {}
                _ = tokio::time::sleep_until(until) => return f(self),
            }
        }
    }

    /// Waits until the restaurant is connected.
    pub async fn wait_connected(&self, resto: &str, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.connected(resto).then_some(()))
            .await
            .is_some()
    }

    /// Waits for the first accepted (200) callback of `rid`.
    pub async fn wait_callback(&self, rid: &str, timeout: Duration) -> Option<CallbackRecord> {
        self.wait_for(timeout, |s| {
            s.callbacks_for(rid).into_iter().find(|c| c.status == 200)
        })
        .await
    }

    /// Waits for `n` callbacks of `rid` (whatever their status).
    pub async fn wait_callbacks(
        &self,
        rid: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<CallbackRecord> {
        self.wait_for(timeout, |s| {
            let v = s.callbacks_for(rid);
            (v.len() >= n).then_some(v)
        })
        .await
        .unwrap_or_else(|| self.callbacks_for(rid))
    }

    /// Waits until the guest payment is no longer pending.
    pub async fn wait_payment_settled(&self, id: &str, timeout: Duration) -> Option<GuestPayment> {
        self.wait_for(timeout, |s| {
            s.payment(id).filter(|p| p.status != PaymentStatus::Pending)
        })
        .await
    }
}

/// `str::floor_char_boundary` is unstable; this is the same for our use.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for String {
    fn floor_char_boundary_compat(&self, i: usize) -> usize {
        let mut i = i.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
