//! # r_keeper White Server API v2 (WSA) simulator
//!
//! Serves `POST /wsserverlp/api/v2/aggregators/Create` the way White Server + a WSA agent +
//! an r_keeper cash server would (see `shared/specs/rkeeper.md` §1), plus a JSON control API
//! under `/_sim/wsa/`.
//!
//! ## WSA endpoint
//!
//! * Body `{"taskType": "...", "params": {"sync"|"async": {"objectId": N, "timeout": S?}, ...}}`.
//!   Header `AggregatorAuthentication: <token>` (also `Token <token>`). The token must be the
//!   token of the restaurant `objectId`; an unknown token → `wsError AuthFailed`; a known
//!   token with an unknown `objectId` → `wsError License` / `extCode WsAgent`.
//! * WS-level errors come back as HTTP 200 with the `error` branch; only an unparsable body
//!   gets HTTP 400 (same envelope, `wsError BadRequest / InvalidRequestStructure`).
//!   Structural problems (missing/both `sync`/`async`, missing `orderGuid`, amount with a
//!   comma, unknown `taskType`, ...) → `BadRequest / InvalidRequestStructure` (detail is logged).
//! * `timeout` defaults to 120 s and is clamped to 1..=180 s.
//! * Every answer carries `responseCommon{taskGuid (new uuid), taskType, objectId, agentGuid}`
//!   (`agentGuid` once the restaurant is known).
//! * **async**: the answer is the ack (`responseCommon` only). The agent executes the task
//!   after the restaurant's `async_delay_ms` (0 = at once); until then `GetTaskResponse`
//!   answers `wsError AwaitingAnswer`, afterwards the stored envelope verbatim (the original
//!   task's `responseCommon` + `taskResponse`/`error`). `GetTaskResponse` is sync-only,
//!   takes `params.taskGuid`, `params.sync.objectId` is optional; unknown guid (or a task of
//!   another aggregator token) → `wsError NotFound`. Sync tasks are stored too.
//! * Agent errors: `error{wsError{code:"AgentError"}, agentError{code, desc:"RkInternal: ..."}}`.
//!
//! Task types: `GetOrder`, `GetOrderState`, `GetOrderList` (v2 only), `PayOrder`,
//! `CompleteOrder` (v2 only), `GetTaskResponse`. Money is rendered as JSON numbers with the
//! exact decimal text (`978.00`). The full order object (GetOrder, PayOrder with
//! `isFullOrderRequired`) is
//! `{orderGuid, createdAt, status{value,isBillPrinted}, waiterId (v2), waiterName?,
//! tableCode, orderNumber?, personsQuantity, products[{id,name,price,quantity}],
//! appliedPayments[{amount,guid,payType}] (v2), price{total,summToPay}, guests[{name,products[]}]}`
//! where `waiterName` and `guests` are simulator extensions (WSA has no guest split;
//! `products` stays flat).
//!
//! ### Payment rules
//! * v2 PayOrder: the sum of non-tips payments must equal `total − prepaid` exactly
//!   (total 0 accepts only 0); success closes the order (`Complited`).
//! * v1 PayOrder: adds prepayments; rejected if `prepaid + sum > total`; the order becomes
//!   `Complited` when `prepaid == total`.
//! * `enforce_amounts = false` accepts overpayment (never underpayment in v2).
//! * Tips-currency lines are applied and written to the ledger but never count.
//! * CompleteOrder (v2): succeeds iff `prepaid >= total`; on an already `Complited` order it
//!   succeeds again (idempotent, no fault is consulted); v1 → `WsaCommandNotSupported`.
//! * Check order for writes: order exists → not Canceled/Complited → not locked
//!   (`locked_by_station` or `BillLocked`) → shift open (`shift_open` or `ShiftClosed`) →
//!   printer ok (`printer_ok` or `PrinterError`) → currencies/amounts → `CloseBlocked` (only
//!   if this task would close the order) → apply. The whole check-and-apply runs under one
//!   mutex, so concurrent PayOrders on one order are serialised.
//!
//! ### Faults ([`Fault`], [`FaultKind`])
//! Matched by `object_id` / `order_guid` / `task_type` (`None` = any object/order; a `None`
//! task type means `PayOrder` for transport faults and `PayOrder`+`CompleteOrder` for
//! order-state faults). First matching rule wins; `times` counts down each time the rule
//! fires and the rule is removed at 0.
//! * Transport faults, evaluated when the task is received: `AuthFailed`,
//!   `TaskLimitExceeded`, `InternalError` (immediate `wsError`, also for async), `AgentTimeout`
//!   (nothing applied; sync waits `timeout` s then `wsError Timeout`; async: AwaitingAnswer
//!   until the timeout, then Timeout), `AnswerLost` (applied, answer Timeout after the
//!   timeout), `Slow{delay_ms}` (executed and answered after the delay; if that exceeds the
//!   timeout the answer is Timeout but the task is still applied later),
//!   `StoredWsError(code)` (the task never runs; its answer — sync, or the stored answer an
//!   async `GetTaskResponse` returns with the task's own `responseCommon` — carries
//!   `wsError` `License`/`AuthFailed`/`BadRequest`/`WsAgentNotSelected`).
//! * HTTP-level faults, answered before the task is looked at (nothing applied):
//!   `Redirect{location}` (HTTP 307 there) and `Html{status}` (a proxy's HTML error page).
//! * Order-state faults (`BillLocked`, `ShiftClosed`, `PrinterError`, `CloseBlocked`) are
//!   evaluated inside PayOrder/CompleteOrder and count down only when they fire.
//!
//! ## Control API (JSON, snake_case field names; money as strings, numbers also accepted)
//! | method | path | body → answer |
//! |---|---|---|
//! | POST | `/_sim/wsa/restaurants` | [`SimRestaurant`] → it |
//! | GET | `/_sim/wsa/restaurants` | → `[SimRestaurant]` |
//! | POST | `/_sim/wsa/orders` | [`SimOrder`] → it, with `guid` generated if empty |
//! | GET | `/_sim/wsa/orders` | → `[SimOrder]` |
//! | GET | `/_sim/wsa/orders/{object_id}/{guid}` | → [`SimOrder`] or 404 |
//! | POST | `/_sim/wsa/faults` | [`Fault`] → it |
//! | GET | `/_sim/wsa/faults` | → `[Fault]` (with remaining `times`) |
//! | DELETE | `/_sim/wsa/faults` | → `{"ok":true}` |
//! | GET | `/_sim/wsa/ledger` | → `[LedgerEntry]` |
//! | GET | `/_sim/wsa/requests` | → `{"PayOrder": 3, ...}` tasks received per type |
//! | POST | `/_sim/wsa/reset` | → `{"ok":true}`: back to the initial data (demo data if built with it), no faults/ledger/tasks/counters |
//!
//! Errors: `{"error": "..."}` with 400 (bad JSON) or 404.

mod demo;
mod engine;
mod http;
mod model;
mod state;
mod task;
mod texts;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use time::OffsetDateTime;
use time::macros::format_description;

pub use demo::{
    DEMO_CURRENCY_GUID, DEMO_OBJECT_ID, DEMO_ORDER_978, DEMO_ORDER_1450_50, DEMO_ORDER_2300,
    DEMO_ORDER_ZERO, DEMO_TIPS_CURRENCY_GUID, DEMO_TOKEN, DEMO_V1_OBJECT_ID, DEMO_V1_ORDER_1000,
    DEMO_V1_TOKEN, demo_order_guids, demo_orders,
};
pub use engine::{DEFAULT_CASH_STATION, DEFAULT_LOCK_STATION};
pub use http::{CONTROL_PREFIX, CREATE_PATH, control_index};
pub use model::{
    AgentVersion, AppliedPayment, Fault, FaultKind, Lang, LedgerEntry, SimCurrency, SimDish,
    SimGuest, SimOrder, SimRestaurant, StoredWsError, status,
};
pub use task::{
    COMPLETE_ORDER, DEFAULT_TIMEOUT_S, GET_ORDER, GET_ORDER_LIST, GET_ORDER_STATE,
    GET_TASK_RESPONSE, MAX_TIMEOUT_S, PAY_ORDER,
};

use state::{OrderEntry, RestaurantEntry, State};

/// The WSA simulator. Cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct WsaSim {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for WsaSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("WsaSim")
            .field("restaurants", &st.restaurants.len())
            .field("orders", &st.orders.len())
            .field("faults", &st.faults.len())
            .field("ledger", &st.ledger.len())
            .finish()
    }
}

fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default()
}

impl WsaSim {
    /// Empty simulator: no restaurants, no orders.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulator seeded with the demo restaurants and orders (see [`demo_orders`]).
    pub fn with_demo_data() -> Self {
        let sim = Self::new();
        sim.lock().demo = true;
        sim.seed_demo();
        sim
    }

    fn seed_demo(&self) {
        for r in demo::restaurants() {
            self.add_restaurant(r);
        }
        for o in demo::orders() {
            self.add_order(o);
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Router with the WSA endpoint and the control API.
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    crate::control::serving!("WSA simulator");

    /// Adds or replaces a restaurant (its orders are kept).
    pub fn add_restaurant(&self, r: SimRestaurant) {
        let mut st = self.lock();
        let agent_guid = st
            .restaurants
            .get(&r.object_id)
            .map(|e| e.agent_guid.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        st.restaurants
            .insert(r.object_id, RestaurantEntry { cfg: r, agent_guid });
    }

    /// All restaurants, by object id.
    pub fn restaurants(&self) -> Vec<SimRestaurant> {
        let st = self.lock();
        let mut v: Vec<_> = st.restaurants.values().map(|e| e.cfg.clone()).collect();
        v.sort_by_key(|r| r.object_id);
        v
    }

    /// Adds or replaces an order (keyed by object id + GUID, case-insensitive). An empty
    /// GUID is generated; an empty order number gets a sequential one. The restaurant does
    /// not have to exist yet.
    pub fn add_order(&self, mut o: SimOrder) -> SimOrder {
        let mut st = self.lock();
        if o.guid.trim().is_empty() {
            o.guid = uuid::Uuid::new_v4().to_string();
        }
        st.order_seq += 1;
        let seq = st.order_seq;
        if o.order_number.is_empty() {
            o.order_number = seq.to_string();
        }
        let key = State::order_key(o.object_id, &o.guid);
        let created_at = st
            .orders
            .get(&key)
            .map(|e| e.created_at.clone())
            .unwrap_or_else(now_text);
        st.orders.insert(
            key,
            OrderEntry {
                order: o.clone(),
                created_at,
                seq,
            },
        );
        o
    }

    /// Current state of an order.
    pub fn order(&self, object_id: i64, order_guid: &str) -> Option<SimOrder> {
        self.lock()
            .order(object_id, order_guid)
            .map(|e| e.order.clone())
    }

    /// All orders, in insertion order.
    pub fn orders(&self) -> Vec<SimOrder> {
        let st = self.lock();
        let mut v: Vec<&OrderEntry> = st.orders.values().collect();
        v.sort_by_key(|e| e.seq);
        v.into_iter().map(|e| e.order.clone()).collect()
    }

    /// Changes an order in place; returns the updated order (None if unknown).
    pub fn update_order(
        &self,
        object_id: i64,
        order_guid: &str,
        f: impl FnOnce(&mut SimOrder),
    ) -> Option<SimOrder> {
        let mut st = self.lock();
        let e = st.order_mut(object_id, order_guid)?;
        f(&mut e.order);
        Some(e.order.clone())
    }

    /// Adds a fault rule (rules with `times == Some(0)` are ignored).
    pub fn inject(&self, f: Fault) {
        if f.times == Some(0) {
            return;
        }
        self.lock().faults.push(f);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Fault rules still active (with remaining `times`).
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.clone()
    }

    /// Every applied payment line, in order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.clone()
    }

    /// How many tasks of this `taskType` were received (whatever their outcome).
    /// The most requests for one restaurant (objectId) that were in flight at once.
    pub fn max_in_flight(&self, object_id: i64) -> usize {
        self.lock()
            .max_in_flight
            .get(&object_id)
            .copied()
            .unwrap_or(0)
    }

    pub fn requests(&self, task_type: &str) -> usize {
        self.lock().requests.get(task_type).copied().unwrap_or(0)
    }

    /// The `traceparent` headers of the tasks of this `taskType` received, oldest first.
    pub fn traceparents(&self, task_type: &str) -> Vec<String> {
        self.lock()
            .traceparents
            .iter()
            .filter(|(t, _)| t == task_type)
            .map(|(_, tp)| tp.clone())
            .collect()
    }

    /// Back to the initial data (demo data if built by [`WsaSim::with_demo_data`]), with no
    /// faults, ledger, stored tasks or request counters.
    pub fn reset(&self) {
        let demo = {
            let mut st = self.lock();
            let demo = st.demo;
            *st = State {
                demo,
                ..State::default()
            };
            demo
        };
        if demo {
            self.seed_demo();
        }
    }
}
