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
    ///
    /// A payment at its end changes no more: once its final form is sent, its sender is
    /// dropped at once (its watchers still get that form: a receiver sees a value sent before
    /// the sender went). Kept until the next sweep, the final records of a dinner peak's
    /// payments (~1 KiB each) piled up while they closed.
    pub fn publish(&self, rec: &PaymentRecord) {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = map.get(&rec.id) else {
            return;
        };
        let watched = tx.receiver_count() > 0;
        if watched {
            tx.send_replace(Some(Arc::new(rec.clone())));
        }
        if !watched || rec.lifecycle.is_final() {
            map.remove(&rec.id);
        }
    }

    /// Payments with a sender kept for them.
    pub fn kept(&self) -> usize {
        self.senders.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Drops senders whose watchers are gone (called now and then by the scheduler).
    pub fn sweep(&self) {
        let mut map = self.senders.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, tx| tx.receiver_count() > 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use posgate_core::{PaymentState, Step};

    fn record(id: &str, state: PaymentState, version: i64) -> PaymentRecord {
        let mut rec = crate::engine::tests::record();
        rec.id = id.to_string();
        rec.lifecycle.state = state;
        if state == PaymentState::Closed {
            rec.lifecycle.step = Step::Done;
        }
        rec.version = version;
        rec
    }

    #[tokio::test]
    async fn a_final_form_reaches_its_watchers_and_nothing_is_kept_for_it() {
        let n = Notifier::default();
        let mut rx = n.subscribe("p1");
        n.publish(&record("p1", PaymentState::Posting, 2));
        assert_eq!(n.kept(), 1, "a payment still changing keeps its sender");
        rx.changed().await.expect("the posting form");
        assert_eq!(rx.borrow_and_update().as_ref().map(|r| r.version), Some(2));
        n.publish(&record("p1", PaymentState::Closed, 3));
        assert_eq!(n.kept(), 0, "nothing is kept for a payment at its end");
        rx.changed()
            .await
            .expect("the final form, sent before the sender went");
        let last = rx.borrow_and_update().clone().expect("a record");
        assert_eq!(
            (last.version, last.lifecycle.state),
            (3, PaymentState::Closed)
        );
        assert!(rx.changed().await.is_err(), "then the channel is over");
    }

    #[tokio::test]
    async fn a_payment_nobody_watches_is_forgotten_at_its_next_change() {
        let n = Notifier::default();
        drop(n.subscribe("p1"));
        n.publish(&record("p1", PaymentState::Posting, 2));
        assert_eq!(n.kept(), 0);
    }
}
