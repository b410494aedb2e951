//! The store's own guarantees, on a real SQLite file and on PostgreSQL: one payment per key, one
//! worker per payment (lease + fenced writes), one posting payment per bill.

use posgate_core::request::RawPayRequest;
use posgate_core::{PayRequest, PaymentState};
use posgate_payments::store::{Inserted, Store};

fn request(key: &str, bill: &str) -> PayRequest {
    PayRequest::validate(
        &RawPayRequest {
            idempotency_key: key,
            restaurant_id: "r",
            bill_id: bill,
            amount: "10.00",
            close: true,
            ..Default::default()
        },
        2,
    )
    .unwrap()
}

/// Runs a check against a fresh SQLite file and a fresh PostgreSQL database.
async fn on_both<F, Fut>(check: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = std::env::temp_dir().join(format!("posgate-store-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}/p.db", dir.display());
    check(Store::open(&url).await.unwrap()).await;
    if let Some(pg) = posgate_tests::fresh_postgres().await {
        check(Store::open(&pg.url).await.unwrap()).await;
        pg.drop_db().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_payment_per_key_under_concurrency() {
    on_both(one_payment_per_key).await;
}

async fn one_payment_per_key(s: Store) {
    let tasks = (0..20).map(|i| {
        let s = s.clone();
        tokio::spawn(async move {
            s.insert(&format!("id-{i}"), &request("k", "b"), 1)
                .await
                .unwrap()
        })
    });
    let mut new = 0;
    for t in tasks {
        if let Inserted::New(_) = t.await.unwrap() {
            new += 1;
        }
    }
    assert_eq!(new, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_fence_writes_and_expire() {
    on_both(leases_fence_writes).await;
}

async fn leases_fence_writes(s: Store) {
    let Inserted::New(rec) = s.insert("p1", &request("k1", "b"), 1).await.unwrap() else {
        panic!()
    };
    let a = s
        .claim(&rec.id, "A", 10, 100)
        .await
        .unwrap()
        .expect("A claims");
    assert!(
        s.claim(&rec.id, "B", 50, 100).await.unwrap().is_none(),
        "lease held"
    );
    // A's lease expires; B takes over.
    let mut b = s
        .claim(&rec.id, "B", 200, 100)
        .await
        .unwrap()
        .expect("B claims");
    // A's late write is refused: it no longer owns the payment.
    let mut stale = a.clone();
    stale.lifecycle.state = PaymentState::Posting;
    assert!(!s.save(&stale, "A", 210, true, None).await.unwrap());
    b.lifecycle.state = PaymentState::Posting;
    assert!(s.save(&b, "B", 220, false, Some("posting")).await.unwrap());
    // A second write from the same version (a replayed save) is refused too.
    assert!(!s.save(&b, "B", 230, false, None).await.unwrap());
    let now = s.get(&rec.id).await.unwrap().unwrap();
    assert_eq!(now.lifecycle.state, PaymentState::Posting);
    assert_eq!(now.version, 2);
    let history = s.history(&rec.id).await.unwrap();
    assert_eq!(history.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_payment_posts_to_a_bill_at_a_time() {
    on_both(bill_locks).await;
}

async fn bill_locks(s: Store) {
    assert!(s.lock_bill("r", "b", "p1", 1).await.unwrap());
    assert!(s.lock_bill("r", "b", "p1", 2).await.unwrap(), "re-entrant");
    assert!(!s.lock_bill("r", "b", "p2", 3).await.unwrap());
    assert!(s.lock_bill("r", "other", "p2", 3).await.unwrap());
    s.unlock_bill("r", "b", "p2").await.unwrap();
    assert!(
        !s.lock_bill("r", "b", "p2", 4).await.unwrap(),
        "only the holder unlocks"
    );
    s.unlock_bill("r", "b", "p1").await.unwrap();
    assert!(s.lock_bill("r", "b", "p2", 5).await.unwrap());
}
