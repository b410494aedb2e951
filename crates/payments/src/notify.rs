//! Wakes whoever waits on a payment (PayBill's wait, WatchPayment) when it changes, handing
//! them the payment as saved so they need not read it back. In-process only: waiters also
//! re-read the store on a timer when another replica drives the payment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::store::PaymentRecord;

/// The latest saved form of a payment, `None` until its first change after subscribing.
pub type Latest = Option<Arc<PaymentRecord>>;

#[derive(Default)]
pub struct Notifier {
    senders: Mutex<HashMap<String, watch::Sender<Latest>>>,
}

impl Notifier {
    pub fn subscribe(&self, payment_id: &str) -> watch::Receiver<Latest> {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(payment_id.to_string())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe()
    }

    /// Publishes a payment as just saved; forgets payments nobody watches. The record is
    /// copied only when someone watches.
    pub fn publish(&self, rec: &PaymentRecord) {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&rec.id) {
            if tx.receiver_count() == 0 {
                map.remove(&rec.id);
            } else {
                tx.send_replace(Some(Arc::new(rec.clone())));
            }
        }
    }

    /// Drops senders whose watchers are gone (called now and then by the scheduler).
    pub fn sweep(&self) {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, tx| tx.receiver_count() > 0);
    }
}
