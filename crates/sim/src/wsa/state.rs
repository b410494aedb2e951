//! Mutable simulator state, guarded by one mutex in [`super::WsaSim`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::model::{Fault, FaultKind, LedgerEntry, SimOrder, SimRestaurant};
use super::task::{COMPLETE_ORDER, PAY_ORDER};

/// Normalised order key: GUIDs compare case-insensitively and without `{}`.
pub(crate) fn norm_guid(g: &str) -> String {
    g.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

pub(crate) struct RestaurantEntry {
    pub cfg: SimRestaurant,
    pub agent_guid: String,
}

pub(crate) struct OrderEntry {
    pub order: SimOrder,
    pub created_at: String,
    pub seq: u64,
}

/// Stored async (and sync) task answers for `GetTaskResponse`.
pub(crate) struct TaskEntry {
    pub owner_token: String,
    pub object_id: i64,
    pub agent_guid: Option<String>,
    pub created: Instant,
    /// After this instant a missing/late answer turns into `Timeout`.
    pub deadline: Instant,
    /// Answer and when it arrived.
    pub answer: Option<(Instant, Value)>,
    /// The agent's answer is lost on the way (AnswerLost).
    pub lost: bool,
    /// Envelope returned once the deadline passed without a (usable) answer.
    pub timeout_envelope: Value,
}

#[derive(Default)]
pub(crate) struct State {
    pub demo: bool,
    pub restaurants: HashMap<i64, RestaurantEntry>,
    pub orders: HashMap<(i64, String), OrderEntry>,
    pub faults: Vec<Fault>,
    pub ledger: Vec<LedgerEntry>,
    pub requests: HashMap<String, usize>,
    /// The W3C `traceparent` header of each task received, with its `taskType` (the latest
    /// [`MAX_TRACEPARENTS`]): whether posgate's trace reached the POS.
    pub traceparents: std::collections::VecDeque<(String, String)>,
    /// HTTP requests being answered now, and the most seen at once, per objectId: how hard
    /// posgate leans on one restaurant's POS.
    pub in_flight: HashMap<i64, usize>,
    pub max_in_flight: HashMap<i64, usize>,
    pub tasks: HashMap<String, TaskEntry>,
    /// The tasks in the order they were stored, to forget the old ones without scanning all.
    pub task_order: std::collections::VecDeque<(Instant, String)>,
    pub order_seq: u64,
}

const MAX_TASKS: usize = 10_000;
pub(crate) const MAX_TRACEPARENTS: usize = 1_000;
const TASK_TTL: Duration = Duration::from_secs(3600);

impl State {
    pub fn order_key(object_id: i64, guid: &str) -> (i64, String) {
        (object_id, norm_guid(guid))
    }

    pub fn order(&self, object_id: i64, guid: &str) -> Option<&OrderEntry> {
        self.orders.get(&Self::order_key(object_id, guid))
    }

    pub fn order_mut(&mut self, object_id: i64, guid: &str) -> Option<&mut OrderEntry> {
        self.orders.get_mut(&Self::order_key(object_id, guid))
    }

    /// Keeps a task's answer for `GetTaskResponse`. Beyond [`MAX_TASKS`], the oldest are
    /// forgotten once older than [`TASK_TTL`] (and beyond ten times as many, the oldest at
    /// once): a few at a time from the front, never a scan of them all.
    pub fn store_task(&mut self, guid: String, entry: TaskEntry) {
        let now = Instant::now();
        while self.tasks.len() >= MAX_TASKS {
            let Some((created, _)) = self.task_order.front() else {
                break;
            };
            if now.duration_since(*created) < TASK_TTL && self.tasks.len() < MAX_TASKS * 10 {
                break;
            }
            if let Some((_, old)) = self.task_order.pop_front() {
                self.tasks.remove(&old);
            }
        }
        self.task_order.push_back((entry.created, guid.clone()));
        self.tasks.insert(guid, entry);
    }

    /// Finds the first fault matching the task and `want`, counts it down (removing it at
    /// zero) and returns its kind.
    pub fn take_fault(
        &mut self,
        object_id: Option<i64>,
        order_guid: Option<&str>,
        task_type: &str,
        want: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        crate::faults::take(
            &mut self.faults,
            |f| &mut f.times,
            |f| want(&f.kind) && fault_matches(f, object_id, order_guid, task_type),
        )
        .map(|f| f.kind)
    }
}

fn fault_matches(
    f: &Fault,
    object_id: Option<i64>,
    order_guid: Option<&str>,
    task_type: &str,
) -> bool {
    if f.times == Some(0) {
        return false;
    }
    if let Some(want) = f.object_id
        && object_id != Some(want)
    {
        return false;
    }
    if let Some(want) = &f.order_guid {
        match order_guid {
            Some(g) if norm_guid(g) == norm_guid(want) => {}
            _ => return false,
        }
    }
    match &f.task_type {
        Some(t) => t == task_type,
        None if f.kind.is_order_state() => task_type == PAY_ORDER || task_type == COMPLETE_ORDER,
        None => task_type == PAY_ORDER,
    }
}
