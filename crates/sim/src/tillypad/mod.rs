//! # Tillypad XL web API simulator (`/post-guest`, `/pay-guest`)
//!
//! Serves Tillypad XL's plain-HTTP JSON calls the way the vendor documents them (see
//! `shared/specs/expirenza_tillypad.md` §2 and seed 003), plus a JSON control API under
//! `/_sim/tillypad/`. No authentication. Every call is served both at the root
//! (`http://host:8090/pay-guest`, the on-prem service) and under `/tillypad-api/{client}/`
//! (the hosted relay's pattern). POST calls require `Content-Type: application/json`
//! (415 otherwise; switchable in [`SimSettings`]).
//!
//! ## `POST /post-guest`
//! Creates a guest tab from the hierarchical body (`gest_gsst_ID`, `gest_Name`,
//! `guestDeliveries{gsdlv_pytp_ID_Prepaid, …}` (an object, or an array of them),
//! `orders[].orderItems[]{orit_mitm_ID, orit_Price, orit_Count, …}`). GUID fields must be
//! GUIDs or empty; numbers may be JSON numbers or numeric strings. Total = Σ price × count.
//! Answers `{"gest_ID": "<UPPER-CASE GUID>"}`.
//!
//! ## `POST /pay-guest[?delete-prechecks=0|1|2]`
//! Body `{"Payment": {"gest_ID", "paySum"?, "payType_ID"?}, "DiscountSum"?: {"type_ID"?, "sum"}}`
//! (`GuestDiscountPoints` is accepted in place of `DiscountSum`; `DiscountSum` wins when both
//! are present). Field names are matched exactly as the vendor spells them. Answers
//! `{"DiscountSums": [{type_ID, sum}], "AppliedDiscountSums": [{type_ID, sum}]}` or an error
//! **as a bare JSON string** with the configured error status (200 by default).
//!
//! Checked in this order, all before anything changes (one mutex: atomic):
//! 1. the tab exists («Гостевой счет не найден»); the business day is open («Бизнес-день
//!    закрыт…»); the tab is not closed («Гостевой счет закрыт»);
//! 2. a pay type: `payType_ID` (must be a known pay type when any are configured: «Тип оплаты
//!    не найден»), else the tab's `gsdlv_pytp_ID_Prepaid`, else «Для проведения оплаты должен
//!    присутствовать либо payType_ID, либо gsdlv_pytp_ID_Prepaid»;
//! 3. the points type: `DiscountSum.type_ID`, else the module default (unknown: «Тип баллов не
//!    найден»);
//! 4. the prechecks, per `delete-prechecks` (absent = 0), as the vendor documents the modes:
//!    * **0 — don't delete**: prechecks stay; the points discount reaches only the items not in
//!      a precheck; none left → «Счет уже передан в оплату».
//!    * **1 — delete all prechecks**: the discount reaches the whole tab; a precheck «Оплачен»
//!      (paid) → «Счет уже оплачен».
//!    * **2 — delete unpaid prechecks**: prechecks whose payment has not started are cancelled,
//!      the others are deleted unless they have receipts (paid ones stay); the discount reaches
//!      everything not in a paid precheck; nothing left → «Счет уже оплачен».
//! 5. the exact sum: `paySum` must equal (Σ items not in a paid precheck) − `DiscountSum.sum`
//!    (the points *declared*), compared at 2 decimals → «Сумма интернет-оплаты не может
//!    отличаться от итоговой суммы счета»;
//! 6. the fiscal printer ([`FaultKind::PrinterError`]).
//!
//! Then it applies: the mode's precheck changes; the declared points are kept in the tab's
//! service note; the applied points = min(declared, Σ of the discount's reach, the tab's
//! `points_available`) — so `AppliedDiscountSums` can be less than `DiscountSums`; with
//! `paySum` a precheck and a receipt «Оплачен» of `paySum` with the pay type are made (prechecks
//! left by mode 0 are paid by it too), `payType_ID` overwrites the tab's prepaid pay type, the
//! tab closes (state 1) and a [`LedgerEntry`] is written. Without `paySum` only the discount
//! is recalculated (no precheck, no receipt, no ledger entry). When the points discount is not
//! set up (`points_enabled = false`) nothing is applied and `AppliedDiscountSums` is absent.
//! A second `/pay-guest` for a paid tab fails («Гостевой счет закрыт»): Tillypad documents no
//! idempotency, so neither does the simulator.
//!
//! Error texts come in Russian (default) or English ([`Lang`]).
//!
//! ## Also served
//! `GET /get-menu?sale-property-id=<GUID>` (`{MenuItems, MenuGroups}`), `GET /get-menu?id=<GUID>`
//! (`{MenuGroups}`), `GET /get-client-by-phone?phone=<digits>` (the client or `null`),
//! `POST /post-client` (stores it, answers `{"clnt_ID"}`).
//!
//! ## Faults ([`Fault`], [`FaultKind`])
//! Matched by `gest_id` (`None` = any) and `path` (`None` = `/pay-guest`); the first match
//! fires; `times` counts down, the rule is removed at 0. `AnswerLost{hang_ms}` applies, waits,
//! then drops the connection; `Dropped` drops it without applying; `Slow{delay_ms}` applies and
//! answers after the delay (applied even if the client has gone); `Html{status, applied}` and
//! `Empty{status, applied}` answer a proxy page / an empty body; `Text{text, status}` answers
//! any error string; `PrinterError` fails at the receipt; `Redirect{location}` answers 307 there.
//!
//! ## Control API (JSON, snake_case; money as strings, numbers also accepted)
//! | method | path | body → answer |
//! |---|---|---|
//! | POST | `/_sim/tillypad/tabs` | [`SimTab`] → it (with `gest_id` generated if empty) |
//! | GET | `/_sim/tillypad/tabs` | → `[SimTab]` |
//! | GET | `/_sim/tillypad/tabs/{gest_id}` | → [`SimTab`] or 404 |
//! | POST | `/_sim/tillypad/tabs/{gest_id}/send-to-payment` | → `{"precheck_id"}`: a cashier prints a precheck of every item not in one (409 if none) |
//! | POST | `/_sim/tillypad/tabs/{gest_id}/start-payment` | → the tab: unpaid prechecks become "payment started" |
//! | POST | `/_sim/tillypad/tabs/{gest_id}/pay-at-terminal` | `{"pay_type_id"?}` → the tab: every precheck paid at a terminal; closed if nothing is left |
//! | POST | `/_sim/tillypad/business-day` | `{"open": bool}` |
//! | GET/POST | `/_sim/tillypad/settings` | [`SimSettings`] (error status, language, points, pay types) |
//! | POST/GET/DELETE | `/_sim/tillypad/faults` | [`Fault`] / → `[Fault]` / clear |
//! | GET | `/_sim/tillypad/ledger` | → `[LedgerEntry]` |
//! | GET | `/_sim/tillypad/requests` | → `{"/pay-guest": 3, …}` calls received per path |
//! | POST | `/_sim/tillypad/reset` | back to the initial data, no faults/ledger/counters |

mod demo;
mod engine;
mod http;
mod model;
mod state;
mod texts;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use rust_decimal::Decimal;

pub use demo::{
    DEMO_MENU_GROUP_ID, DEMO_PAY_TYPE_ID, DEMO_POINTS_DISCOUNT_TYPE_ID, DEMO_POINTS_TYPE_ID,
    DEMO_PREPAID_PAY_TYPE_ID, DEMO_SALE_PROPERTY_ID, DEMO_TAB_978, DEMO_TAB_POINTS,
    DEMO_TAB_PRECHECK, DEMO_TAB_PREPAID, demo_tabs,
};
pub use http::{CONTROL_PREFIX, PAY_GUEST_PATH, POST_GUEST_PATH, control_index};
pub use model::{
    DiscountLine, Fault, FaultKind, Lang, LedgerEntry, PrecheckStatus, SimItem, SimPayType,
    SimPointsType, SimPrecheck, SimReceipt, SimSettings, SimTab, tab_state,
};
pub use texts::Text;

use state::{State, norm_id};

/// The Tillypad simulator. Cheap to clone (shared state).
#[derive(Clone, Default)]
pub struct TillypadSim {
    inner: Arc<Mutex<State>>,
}

impl std::fmt::Debug for TillypadSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("TillypadSim")
            .field("tabs", &st.tabs.len())
            .field("faults", &st.faults.len())
            .field("ledger", &st.ledger.len())
            .finish()
    }
}

impl TillypadSim {
    /// Empty simulator: no tabs, default settings (any pay type accepted, points enabled with
    /// no types configured, errors with HTTP 200, Russian texts).
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulator seeded with the demo settings and tabs (see [`demo_tabs`]).
    pub fn with_demo_data() -> Self {
        let sim = Self::new();
        sim.lock().demo = true;
        sim.seed_demo();
        sim
    }

    fn seed_demo(&self) {
        let mut st = self.lock();
        st.settings = demo::settings();
        for t in demo::tabs() {
            st.insert_tab(t);
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Router with Tillypad's calls and the control API.
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    crate::control::serving!("Tillypad simulator");

    /// Adds or replaces a tab (an empty `gest_id` is generated; ids are stored upper case).
    pub fn add_tab(&self, t: SimTab) -> SimTab {
        self.lock().insert_tab(t)
    }

    /// A tab's current state (id compared case-insensitively, braces ignored).
    pub fn tab(&self, gest_id: &str) -> Option<SimTab> {
        self.lock().tab(gest_id).cloned()
    }

    /// Every tab, in creation order.
    pub fn tabs(&self) -> Vec<SimTab> {
        let st = self.lock();
        let mut v: Vec<_> = st.tabs.values().collect();
        v.sort_by_key(|e| e.seq);
        v.into_iter().map(|e| e.tab.clone()).collect()
    }

    /// Changes a tab in place; returns it (None if unknown).
    pub fn update_tab(&self, gest_id: &str, f: impl FnOnce(&mut SimTab)) -> Option<SimTab> {
        let mut st = self.lock();
        let t = st.tab_mut(gest_id)?;
        f(t);
        Some(t.clone())
    }

    /// A cashier "sends the tab to payment": a new unpaid precheck of every item not in one.
    /// `None`: unknown tab; `Some(None)`: nothing left to send.
    pub fn send_to_payment(&self, gest_id: &str) -> Option<Option<String>> {
        let mut st = self.lock();
        let t = st.tab_mut(gest_id)?;
        let unsent = t.unsent_items();
        if unsent.is_empty() {
            return Some(None);
        }
        let id = norm_id(&uuid::Uuid::new_v4().to_string());
        t.prechecks.push(SimPrecheck {
            id: id.clone(),
            items: unsent,
            status: PrecheckStatus::Unpaid,
        });
        Some(Some(id))
    }

    /// Payment starts on a terminal: every unpaid precheck becomes "payment started".
    pub fn start_payment(&self, gest_id: &str) -> Option<SimTab> {
        self.update_tab(gest_id, |t| {
            for p in t.prechecks.iter_mut() {
                if p.status == PrecheckStatus::Unpaid {
                    p.status = PrecheckStatus::PaymentStarted;
                }
            }
        })
    }

    /// A terminal pays every precheck that is not paid yet (a receipt each); the tab closes
    /// when no item is left outside a paid precheck.
    pub fn pay_at_terminal(&self, gest_id: &str, pay_type_id: Option<&str>) -> Option<SimTab> {
        let pay_type = pay_type_id.unwrap_or(DEMO_PAY_TYPE_ID).to_string();
        self.update_tab(gest_id, |t| {
            let mut receipts = Vec::new();
            for p in t.prechecks.iter_mut() {
                if p.status != PrecheckStatus::Paid {
                    p.status = PrecheckStatus::Paid;
                    receipts.push((p.id.clone(), p.items.clone()));
                }
            }
            for (precheck_id, items) in receipts {
                let sum = t.sum_of(&items);
                t.receipts.push(SimReceipt {
                    id: norm_id(&uuid::Uuid::new_v4().to_string()),
                    precheck_id,
                    pay_type_id: pay_type.clone(),
                    sum,
                    source: "terminal".into(),
                });
            }
            if t.unsent_items().is_empty() && !t.items.is_empty() {
                t.state = tab_state::CLOSED;
            }
        })
    }

    /// Opens or closes the business day.
    pub fn set_business_day_open(&self, open: bool) {
        self.lock().settings.business_day_open = open;
    }

    pub fn settings(&self) -> SimSettings {
        self.lock().settings.clone()
    }

    pub fn set_settings(&self, s: SimSettings) {
        self.lock().settings = s;
    }

    /// Changes the settings in place.
    pub fn update_settings(&self, f: impl FnOnce(&mut SimSettings)) {
        f(&mut self.lock().settings);
    }

    /// HTTP status of error answers (200, or any 4xx/5xx).
    pub fn set_error_status(&self, status: u16) {
        self.lock().settings.error_status = status;
    }

    /// Language of the error texts.
    pub fn set_language(&self, lang: Lang) {
        self.lock().settings.language = lang;
    }

    /// Adds a fault rule (rules with `times == Some(0)` are ignored).
    pub fn inject(&self, f: Fault) {
        if f.times == Some(0) {
            return;
        }
        self.lock().faults.push(f);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Fault rules still active (with remaining `times`).
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.clone()
    }

    /// Every payment `/pay-guest` applied, in order.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.lock().ledger.clone()
    }

    /// Payments applied to one tab.
    pub fn ledger_of(&self, gest_id: &str) -> Vec<LedgerEntry> {
        let id = norm_id(gest_id);
        self.ledger()
            .into_iter()
            .filter(|e| e.gest_id == id)
            .collect()
    }

    /// Σ `paySum` applied to one tab.
    pub fn paid_total(&self, gest_id: &str) -> Decimal {
        self.ledger_of(gest_id)
            .iter()
            .fold(Decimal::ZERO, |a, e| a.saturating_add(e.pay_sum))
    }

    /// How many calls of `path` (`"/pay-guest"`, `"pay-guest"`, …) were received, whatever
    /// their outcome.
    pub fn requests(&self, path: &str) -> usize {
        let key = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        self.lock().requests.get(&key).copied().unwrap_or(0)
    }

    /// Back to the initial data (demo data if built by [`TillypadSim::with_demo_data`]), with
    /// no faults, ledger or request counters.
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
