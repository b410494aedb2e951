//! Wakes whoever waits on a payment (PayBill's wait, WatchPayment) when it changes.
//! In-process only: waiters also re-read the store on a timer, so a change made by another
//! replica is seen too, just later.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

#[derive(Default)]
pub struct Notifier {
    senders: Mutex<HashMap<String, watch::Sender<i64>>>,
}

impl Notifier {
    pub fn subscribe(&self, payment_id: &str) -> watch::Receiver<i64> {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(payment_id.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Publishes a payment's new version; forgets payments nobody watches.
    pub fn publish(&self, payment_id: &str, version: i64) {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(payment_id) {
            if tx.receiver_count() == 0 {
                map.remove(payment_id);
            } else {
                tx.send_replace(version);
            }
        }
    }

    /// Drops senders whose watchers are gone (called now and then by the scheduler).
    pub fn sweep(&self) {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, tx| tx.receiver_count() > 0);
    }
}
