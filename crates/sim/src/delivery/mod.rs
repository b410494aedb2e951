//! # r_k Delivery API simulator
//!
//! Serves the r_k Delivery orders API (`/orders/api/v1/orders/...`) and its OAuth2 token
//! endpoint (`/connect/token`, in reality on `auth-delivery.ucs.ru`) on one port, the way
//! r_k Delivery + White Server + r_keeper would (see `shared/specs/rkeeper.md` §2), plus a JSON
//! control API under `/_sim/delivery/`. Its routes do not overlap the WSA simulator's, so
//! both routers can be merged and served on one port.
//!
//! ## Token endpoint
//! `POST /connect/token`, `application/x-www-form-urlencoded`: `client_id`, `client_secret`,
//! `grant_type=client_credentials`, `scopes=orders` (or `scope`; if given it must contain
//! `orders`). Success → `{access_token, expires_in, token_type: "Bearer", scope}` with the
//! client's `token_lifetime_s`. Bad credentials → **400** `{"error": "invalid_client"}`;
//! other grant types → 400 `unsupported_grant_type`; not a form → 400 `invalid_request`.
//! Tokens are opaque strings; [`DeliverySim::expire_tokens`] revokes all issued ones.
//!
//! ## Orders API (bearer token required: missing, unknown or expired → **401**, empty body,
//! `WWW-Authenticate: Bearer error="invalid_token"`)
//! * `GET /orders/api/v1/orders/{orderId}` → `{"result": {orderId, id, orderStatusId,
//!   orderStatusName, fullAmount, amount, deliveryAmount, createdAt, updatedAt, completedAt,
//!   expectedAt, restaurantId, tableCode, expeditionType, dishList[{id, name, price,
//!   quantity}], ...}}`. Money is a JSON number with its exact decimal text (`1290.00`).
//!   **Simulator extension** (per restaurant, `expose_payments`, default on): `payments[]`
//!   (the applied `/pay` lines) and `isPaid`; the documented API shows no paid state.
//! * `GET /orders/api/v1/orders?includeStatusIds=4&includeStatusIds=5&restaurantId=..&q=..
//!   &sortOrder=asc|desc` (ids also comma-separated; extension `tableCode`) →
//!   `{"result": {"items": [order...], "totalCount": n}}`.
//! * `POST /orders/api/v1/orders` (`restaurantId`, non-empty `dishList[{id, name, price,
//!   quantity}]`, `expectedAt` with a TZ offset if given, `expeditionType`) → **201**
//!   `{"result": {"orderId": "5001"}}`; status New, auto-accepted after the restaurant's
//!   `auto_accept_ms`.
//! * `PUT .../{orderId}/pay` with a JSON **array** `[{code, amount, paidAt, name?}]`: checks,
//!   in order: order exists (404 `ERR_NOT_FOUND`) → body is an array of lines with a code, a
//!   numeric amount and `paidAt` with an offset (400 `ERR_VALIDATION`, `errors` per field) →
//!   status not final (400 `ERR_INVALID_ORDER_STATUS` "Order have FINAL 11 status") → status
//!   ≥ 4 (400 `ERR_ORDER_NOT_IN_RESTAURANT`) → r_keeper faults → every `code` is a currency
//!   of the restaurant → not already paid → the sum equals the amount due exactly (0 for a
//!   fully discounted order). r_keeper refusals are HTTP 400 `ERR_EXTERNAL_ERROR_WS` with
//!   `msg` = `WS Error: Error Code: WsaOrderError. RkInternal: ...` in the restaurant's
//!   language. Success → 200 `{"result": {}}`, the lines are recorded, a ledger entry is
//!   written; the order's status does not change.
//! * `PUT .../{orderId}/complete`: final → the FINAL-status error; status < 4 → not in the
//!   restaurant; r_keeper faults; not paid in full → **HTTP 500** `rk7_close_order`
//!   "RkInternal: Cash station [3071] Cannot save order 1.N, it is not fully paid"; else 200
//!   `{"result": {}}`, status 11, `completedAt`, a ledger entry.
//! * Every error body is `{code, msg, requestId, errors}` with a unique ASP.NET-style
//!   `requestId` (`0H...:0000002A`); every answer also carries it as `x-request-id`.
//! * Auto-accept: an order with `auto_advance_ms` moves from a status below 4 to 4 that long
//!   after it was added (checked on every request).
//!
//! ## Faults ([`Fault`], [`FaultKind`])
//! Matched by `order_id` (`None` = any) and `endpoint` (one of [`endpoint`]; `None` = `pay`,
//! plus `complete` for r_keeper faults, only `complete` for `CloseBlocked`). First matching
//! rule wins; `times` counts down each time it fires. r_keeper faults (`BillLocked`,
//! `ShiftClosed`, `PrinterError`, `CloseBlocked`) are checked after the status checks;
//! the others when the request arrives: `Latency`, `RequestTimedOut` (HTTP 500
//! `ERR_EXTERNAL_ERROR_WS` "Request timed out", nothing applied), `TimedOutButApplied`,
//! `AnswerLost` (applied, then the connection breaks), `AnswerDelayed` (applied, answered
//! late), `Unavailable` (503 HTML), `RateLimited` (429), `InternalError` (500), `Redirect`
//! (307 to its `location`).
//!
//! ## Control API (JSON, snake_case; money as strings, numbers also accepted)
//! | method | path | body → answer |
//! |---|---|---|
//! | POST/GET | `/_sim/delivery/clients` | [`SimClient`] → it / all |
//! | POST/GET | `/_sim/delivery/restaurants` | [`SimRestaurant`] → it / all |
//! | POST/GET | `/_sim/delivery/orders` | [`SimOrder`] → it (ids generated if empty) / all |
//! | GET | `/_sim/delivery/orders/{order_id}` | → [`SimOrder`] or 404 |
//! | POST | `/_sim/delivery/orders/{order_id}/status` | `{"status_id": 4}` → the order |
//! | POST/GET/DELETE | `/_sim/delivery/faults` | [`Fault`] → it / all / `{"ok":true}` |
//! | GET | `/_sim/delivery/ledger` | → `[LedgerEntry]` |
//! | GET | `/_sim/delivery/requests` | → `{"requests": {"pay": 2, ...}, "tokens_issued": n}` |
//! | POST | `/_sim/delivery/tokens/expire` | → `{"ok":true}` (every issued token now gets 401) |
//! | POST | `/_sim/delivery/reset` | → `{"ok":true}`: initial data, no faults/ledger/tokens/counters |

mod demo;
mod engine;
mod http;
mod model;
mod state;
mod texts;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use time::OffsetDateTime;
use time::macros::format_description;

pub use demo::{
    DEMO_AUTO_ACCEPT_MS, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_CURRENCY_GUID, DEMO_ORDER_1290,
    DEMO_ORDER_2300, DEMO_ORDER_NEW, DEMO_ORDER_WAITING, DEMO_ORDER_ZERO, DEMO_RESTAURANT_ID,
    demo_orders,
};
pub use http::{CONTROL_PREFIX, ORDERS_PATH, TOKEN_PATH, control_index};
pub use model::{
    Fault, FaultKind, Lang, LedgerEntry, LedgerKind, SimClient, SimDish, SimOrder, SimPayment,
    SimRestaurant, endpoint, status,
};

use state::{OrderEntry, State};

/// The r_k Delivery simulator. Cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct DeliverySim {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for DeliverySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("DeliverySim")
            .field("restaurants", &st.restaurants.len())
            .field("orders", &st.orders.len())
            .field("faults", &st.faults.len())
            .field("ledger", &st.ledger.len())
            .finish()
    }
}

/// Now, ISO-8601 with milliseconds and a `+00:00` offset.
pub(crate) fn now_text() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+00:00"
        ))
        .unwrap_or_default()
}

impl DeliverySim {
    /// Empty simulator: no clients, restaurants or orders.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulator seeded with the demo client, restaurant and orders (see [`demo_orders`]).
    pub fn with_demo_data() -> Self {
        let sim = Self::new();
        sim.lock().demo = true;
        sim.seed_demo();
        sim
    }

    fn seed_demo(&self) {
        for c in demo::clients() {
            self.add_client(c);
        }
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

    /// Router with the token endpoint, the orders API and the control API.
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    crate::control::serving!("r_k Delivery simulator");

    /// Adds or replaces an API client.
    pub fn add_client(&self, c: SimClient) {
        self.lock().clients.insert(c.client_id.clone(), c);
    }

    /// All API clients, by id.
    pub fn clients(&self) -> Vec<SimClient> {
        let st = self.lock();
        let mut v: Vec<_> = st.clients.values().cloned().collect();
        v.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        v
    }

    /// Adds or replaces a restaurant (keyed by `restaurant_id`, case-insensitive).
    pub fn add_restaurant(&self, r: SimRestaurant) {
        let mut st = self.lock();
        match st
            .restaurants
            .iter_mut()
            .find(|x| x.restaurant_id.eq_ignore_ascii_case(&r.restaurant_id))
        {
            Some(x) => *x = r,
            None => st.restaurants.push(r),
        }
    }

    /// All restaurants, in the order they were added.
    pub fn restaurants(&self) -> Vec<SimRestaurant> {
        self.lock().restaurants.clone()
    }

    /// Adds or replaces an order. Empty `order_id` / `id` / `restaurant_id` / timestamps are
    /// filled in (sequential ids from 5001, a uuid, the first restaurant, now).
    pub fn add_order(&self, o: SimOrder) -> SimOrder {
        let mut st = self.lock();
        self.insert_order(&mut st, o)
    }

    pub(crate) fn insert_order(&self, st: &mut State, mut o: SimOrder) -> SimOrder {
        if o.order_id.trim().is_empty() {
            while st.orders.contains_key(&st.next_order_id.to_string()) {
                st.next_order_id += 1;
            }
            o.order_id = st.next_order_id.to_string();
            st.next_order_id += 1;
        }
        o.order_id = o.order_id.trim().to_string();
        if o.id.trim().is_empty() {
            o.id = uuid::Uuid::new_v4().to_string();
        }
        if o.restaurant_id.trim().is_empty()
            && let Some(r) = st.restaurants.first()
        {
            o.restaurant_id = r.restaurant_id.clone();
        }
        let now = now_text();
        if o.created_at.is_empty() {
            o.created_at = now.clone();
        }
        if o.updated_at.is_empty() {
            o.updated_at = now;
        }
        st.order_seq += 1;
        let seq = st.order_seq;
        st.orders.insert(
            o.order_id.clone(),
            OrderEntry {
                order: o.clone(),
                seq,
                added: Instant::now(),
            },
        );
        o
    }

    /// Current state of an order (auto-accept applied).
    pub fn order(&self, order_id: &str) -> Option<SimOrder> {
        let mut st = self.lock();
        st.tick(Instant::now(), &now_text());
        st.orders.get(order_id.trim()).map(|e| e.order.clone())
    }

    /// All orders, in insertion order (auto-accept applied).
    pub fn orders(&self) -> Vec<SimOrder> {
        let mut st = self.lock();
        st.tick(Instant::now(), &now_text());
        let mut v: Vec<&OrderEntry> = st.orders.values().collect();
        v.sort_by_key(|e| e.seq);
        v.into_iter().map(|e| e.order.clone()).collect()
    }

    /// Changes an order in place; returns the updated order (None if unknown).
    pub fn update_order(&self, order_id: &str, f: impl FnOnce(&mut SimOrder)) -> Option<SimOrder> {
        let mut st = self.lock();
        let e = st.orders.get_mut(order_id.trim())?;
        f(&mut e.order);
        e.order.updated_at = now_text();
        Some(e.order.clone())
    }

    /// Sets an order's status (an operator's action); cancels a pending auto-accept.
    pub fn set_status(&self, order_id: &str, status_id: u8) -> Option<SimOrder> {
        self.update_order(order_id, |o| {
            o.status_id = status_id;
            o.auto_advance_ms = None;
            if status_id == status::COMPLETED && o.completed_at.is_none() {
                o.completed_at = Some(now_text());
            }
        })
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

    /// Every applied `/pay` and `/complete`, in order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.clone()
    }

    /// How many `/pay`s were applied to the order.
    pub fn pays(&self, order_id: &str) -> usize {
        self.ledger_count(order_id, LedgerKind::Pay)
    }

    /// How many `/complete`s closed the order (0 or 1).
    pub fn completes(&self, order_id: &str) -> usize {
        self.ledger_count(order_id, LedgerKind::Complete)
    }

    fn ledger_count(&self, order_id: &str, kind: LedgerKind) -> usize {
        self.lock()
            .ledger
            .iter()
            .filter(|e| e.kind == kind && e.order_id == order_id.trim())
            .count()
    }

    /// How many requests reached this endpoint (one of [`endpoint`]), whatever their outcome.
    pub fn requests(&self, endpoint: &str) -> usize {
        self.lock().requests.get(endpoint).copied().unwrap_or(0)
    }

    /// How many access tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens_issued
    }

    /// Revokes every issued token: the next API call with one gets 401.
    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Back to the initial data (demo data if built by [`DeliverySim::with_demo_data`]), with
    /// no faults, ledger, tokens or request counters.
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
