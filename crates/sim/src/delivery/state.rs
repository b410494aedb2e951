//! Mutable simulator state, guarded by one mutex in [`super::DeliverySim`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::model::{
    Fault, FaultKind, LedgerEntry, SimClient, SimOrder, SimRestaurant, endpoint, status,
};

pub(crate) struct OrderEntry {
    pub order: SimOrder,
    pub seq: u64,
    pub added: Instant,
}

pub(crate) struct TokenEntry {
    pub expires: Instant,
}

pub(crate) struct State {
    pub demo: bool,
    pub clients: HashMap<String, SimClient>,
    /// In insertion order (the first one is the default for new orders).
    pub restaurants: Vec<SimRestaurant>,
    pub orders: HashMap<String, OrderEntry>,
    pub tokens: HashMap<String, TokenEntry>,
    pub tokens_issued: usize,
    pub faults: Vec<Fault>,
    pub ledger: Vec<LedgerEntry>,
    pub requests: HashMap<String, usize>,
    pub order_seq: u64,
    /// Next generated `orderId`.
    pub next_order_id: u64,
    pub request_seq: u64,
    pub request_prefix: String,
}

/// Generated order ids start here (the demo orders use 1001..).
pub(crate) const FIRST_GENERATED_ORDER_ID: u64 = 5001;
const MAX_TOKENS: usize = 10_000;

impl Default for State {
    fn default() -> Self {
        let prefix: String = uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_ascii_uppercase()
            .chars()
            .take(11)
            .collect();
        State {
            demo: false,
            clients: HashMap::new(),
            restaurants: Vec::new(),
            orders: HashMap::new(),
            tokens: HashMap::new(),
            tokens_issued: 0,
            faults: Vec::new(),
            ledger: Vec::new(),
            requests: HashMap::new(),
            order_seq: 0,
            next_order_id: FIRST_GENERATED_ORDER_ID,
            request_seq: 0,
            request_prefix: format!("0H{prefix}"),
        }
    }
}

impl State {
    /// A new ASP.NET-style request id, unique per simulator (`0HMGNRL7KKKDF:00000001`).
    pub fn next_request_id(&mut self) -> String {
        self.request_seq += 1;
        format!("{}:{:08X}", self.request_prefix, self.request_seq)
    }

    pub fn count(&mut self, endpoint: &str) {
        *self.requests.entry(endpoint.to_string()).or_default() += 1;
    }

    pub fn restaurant(&self, id: &str) -> Option<&SimRestaurant> {
        self.restaurants
            .iter()
            .find(|r| r.restaurant_id.eq_ignore_ascii_case(id.trim()))
    }

    /// Auto-accept: moves due orders from before 4 to Transferred to the kitchen.
    pub fn tick(&mut self, now: Instant, now_text: &str) {
        for e in self.orders.values_mut() {
            let Some(ms) = e.order.auto_advance_ms else {
                continue;
            };
            if e.order.status_id < status::TRANSFERRED_TO_KITCHEN
                && now.duration_since(e.added) >= Duration::from_millis(ms)
            {
                e.order.status_id = status::TRANSFERRED_TO_KITCHEN;
                e.order.updated_at = now_text.to_string();
            }
        }
    }

    pub fn issue_token(&mut self, lifetime: Duration) -> String {
        let now = Instant::now();
        if self.tokens.len() >= MAX_TOKENS {
            self.tokens.retain(|_, t| t.expires > now);
        }
        let token = format!(
            "sim-{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        self.tokens.insert(
            token.clone(),
            TokenEntry {
                expires: now + lifetime,
            },
        );
        self.tokens_issued += 1;
        token
    }

    pub fn token_valid(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|t| t.expires > Instant::now())
    }

    /// Finds the first fault matching the request and `want`, counts it down (removing it at
    /// zero) and returns its kind.
    pub fn take_fault(
        &mut self,
        endpoint_name: &str,
        order_id: Option<&str>,
        want: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        crate::faults::take(
            &mut self.faults,
            |f| &mut f.times,
            |f| want(&f.kind) && fault_matches(f, endpoint_name, order_id),
        )
        .map(|f| f.kind)
    }
}

fn fault_matches(f: &Fault, endpoint_name: &str, order_id: Option<&str>) -> bool {
    if f.times == Some(0) {
        return false;
    }
    if let Some(want) = &f.order_id {
        match order_id {
            Some(id) if id.trim() == want.trim() => {}
            _ => return false,
        }
    }
    match &f.endpoint {
        Some(e) => e.eq_ignore_ascii_case(endpoint_name),
        None => match f.kind {
            FaultKind::CloseBlocked => endpoint_name == endpoint::COMPLETE,
            ref k if k.is_order_state() => {
                endpoint_name == endpoint::PAY || endpoint_name == endpoint::COMPLETE
            }
            _ => endpoint_name == endpoint::PAY,
        },
    }
}
