//! Mutable simulator state, guarded by one mutex in [`super::ExpirenzaSim`]: restaurants,
//! open sockets, what was sent and received, guest payments.

use std::collections::{BTreeMap, HashMap, HashSet};

use tokio::sync::mpsc;

use super::model::{
    CallbackRecord, ConnectionInfo, GuestPayment, Notification, PingRecord, SentOperation,
    SimFaults, SimResto, SimSettings,
};

/// What the WebSocket task of a connection is told to do.
pub(crate) enum Out {
    Text(String),
    Drop,
}

pub(crate) struct ConnEntry {
    pub info: ConnectionInfo,
    /// `None` once the socket closed.
    pub tx: Option<mpsc::UnboundedSender<Out>>,
}

#[derive(Default)]
pub(crate) struct State {
    pub demo: bool,
    pub restos: BTreeMap<String, SimResto>,
    pub settings: SimSettings,
    pub faults: SimFaults,
    pub conns: BTreeMap<u64, ConnEntry>,
    pub next_conn: u64,
    pub pings: Vec<PingRecord>,
    pub sent: Vec<SentOperation>,
    /// rID → index in `sent` of its latest sending, and that sending's number.
    pub sent_index: HashMap<String, (usize, u64)>,
    pub send_seq: u64,
    pub callbacks: Vec<CallbackRecord>,
    /// rID → the first accepted body.
    pub accepted: HashMap<String, Vec<u8>>,
    pub payments: BTreeMap<String, GuestPayment>,
    pub payment_seq: u64,
    pub retry_scheduled: HashSet<String>,
    pub notifications: Vec<Notification>,
    pub auth_failures: u64,
    pub rid_seq: u64,
}

impl State {
    /// The newest open socket of a restaurant.
    pub fn sender(&self, resto: &str) -> Option<mpsc::UnboundedSender<Out>> {
        self.conns
            .values()
            .rev()
            .filter(|c| c.info.resto_id == resto)
            .find_map(|c| c.tx.clone())
    }
}
