//! Mutable simulator state, guarded by one mutex in [`super::TillypadSim`].

use std::collections::HashMap;

use serde_json::Value;

use super::model::{Fault, FaultKind, LedgerEntry, SimSettings, SimTab};

/// The path a fault with no `path` applies to.
pub(crate) const DEFAULT_FAULT_PATH: &str = "/pay-guest";

/// Normalised GUID: trimmed, without `{}`, upper case (Tillypad's own spelling).
pub(crate) fn norm_id(g: &str) -> String {
    g.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_uppercase()
}

pub(crate) struct TabEntry {
    pub tab: SimTab,
    pub seq: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub demo: bool,
    pub settings: SimSettings,
    pub tabs: HashMap<String, TabEntry>,
    pub faults: Vec<Fault>,
    pub ledger: Vec<LedgerEntry>,
    pub requests: HashMap<String, usize>,
    pub clients: Vec<Value>,
    pub seq: u64,
}

impl State {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn tab(&self, id: &str) -> Option<&SimTab> {
        self.tabs.get(&norm_id(id)).map(|e| &e.tab)
    }

    pub fn tab_mut(&mut self, id: &str) -> Option<&mut SimTab> {
        self.tabs.get_mut(&norm_id(id)).map(|e| &mut e.tab)
    }

    /// Adds or replaces a tab; an empty `gest_id` is generated. Returns the stored tab.
    pub fn insert_tab(&mut self, mut tab: SimTab) -> SimTab {
        if tab.gest_id.trim().is_empty() {
            tab.gest_id = uuid::Uuid::new_v4().to_string();
        }
        tab.gest_id = norm_id(&tab.gest_id);
        let seq = self.next_seq();
        if tab.name.is_empty() {
            tab.name = format!("T{seq}");
        }
        let key = tab.gest_id.clone();
        let seq = self.tabs.get(&key).map_or(seq, |e| e.seq);
        self.tabs.insert(
            key,
            TabEntry {
                tab: tab.clone(),
                seq,
            },
        );
        tab
    }

    pub fn count(&mut self, path: &str) {
        *self.requests.entry(path.to_string()).or_default() += 1;
    }

    /// Finds the first fault matching the request and `want`, counts it down (removing it
    /// at zero) and returns its kind.
    pub fn take_fault(
        &mut self,
        path: &str,
        gest_id: Option<&str>,
        want: impl Fn(&FaultKind) -> bool,
    ) -> Option<FaultKind> {
        crate::faults::take(
            &mut self.faults,
            |f| &mut f.times,
            |f| want(&f.kind) && fault_matches(f, path, gest_id),
        )
        .map(|f| f.kind)
    }
}

fn fault_matches(f: &Fault, path: &str, gest_id: Option<&str>) -> bool {
    if f.times == Some(0) {
        return false;
    }
    if f.path.as_deref().unwrap_or(DEFAULT_FAULT_PATH) != path {
        return false;
    }
    match (&f.gest_id, gest_id) {
        (None, _) => true,
        (Some(want), Some(got)) => norm_id(want) == norm_id(got),
        (Some(_), None) => false,
    }
}
