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

mod demo;
mod engine;
mod http;
mod model;
mod state;
mod texts;
pub mod validate;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;

pub use demo::{DEMO_RESTO_ID, DEMO_SECRET_KEY};
pub use http::{CALLBACK_PREFIX, CONTROL_PREFIX, ENTRY_POINT, control_index};
pub use model::{
    CallbackRecord, ConnectionInfo, GuestPayment, Notification, PaymentStatus, PingRecord,
    RidStyle, SentOperation, SimError, SimFaults, SimResto, SimSettings,
};

use state::{Out, State};

struct Inner {
    state: Mutex<State>,
    /// Bumped on every change: what [`ExpirenzaSim::wait_for`] waits on.
    version: watch::Sender<u64>,
    started: std::time::Instant,
}

/// The Expirenza platform simulator. Cheap to clone (shared state).
///
/// Sending operations, guest payments and callbacks are in `engine.rs`
/// ([`ExpirenzaSim::send_operation`], [`ExpirenzaSim::send_raw`], [`ExpirenzaSim::pay`]).
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
        sim.seed_demo();
        sim
    }

    fn seed_demo(&self) {
        for r in demo::restaurants() {
            self.add_resto(r);
        }
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

    crate::control::serving!("Expirenza simulator");

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
            self.seed_demo();
        }
        self.bump();
    }

    // ----------------------------------------------------------------------------------
    // Connections.
    // ----------------------------------------------------------------------------------

    /// Whether the restaurant has an open WebSocket.
    pub fn connected(&self, resto: &str) -> bool {
        self.lock().sender(resto).is_some()
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
    // Operations and their answers.
    // ----------------------------------------------------------------------------------

    /// Convenience: `getBill` by table. Returns the rID.
    pub fn get_bill_by_table(&self, resto: &str, table: &str) -> Result<String, SimError> {
        self.send_operation(
            resto,
            serde_json::json!({"operation": "getBill", "tableNumber": table}),
        )
    }

    /// Convenience: `getBill` by bill id. Returns the rID.
    pub fn get_bill(&self, resto: &str, bill_id: &str) -> Result<String, SimError> {
        self.send_operation(
            resto,
            serde_json::json!({"operation": "getBill", "billId": bill_id}),
        )
    }

    /// Convenience: `checkWork`. Returns the rID.
    pub fn check_work(&self, resto: &str) -> Result<String, SimError> {
        self.send_operation(resto, serde_json::json!({"operation": "checkWork"}))
    }

    /// Convenience: `versionInfo`. Returns the rID.
    pub fn version_info(&self, resto: &str) -> Result<String, SimError> {
        self.send_operation(resto, serde_json::json!({"operation": "versionInfo"}))
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
