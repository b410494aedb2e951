//! What waiting costs the store: a `PayBill` that runs out of time before a slow POS answers,
//! and the `WatchPayment` that follows it at once, answer for a payment this replica is driving
//! from the payment as last saved here, without reading it back (at a dinner peak, thousands of
//! each at once). Counted with the store's own per-query metric, so this test has
//! a binary of its own (the recorder is process-wide).

use std::time::Duration;

use posgate_proto::v1::PaymentState as S;
use posgate_sim::wsa::{DEMO_OBJECT_ID, Fault, FaultKind};
use posgate_tests::{Options, Stack, metric_series as series, pay, scrape_metrics, state};
use tokio_stream::StreamExt;

async fn reads(admin: std::net::SocketAddr) -> f64 {
    let page = scrape_metrics(admin).await;
    series(
        &page,
        "posgate_db_query_duration_seconds_count",
        &[("query", "get")],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_a_payment_driven_here_reads_nothing_from_the_store() {
    let s = Stack::start_with(Options {
        admin: true,
        pay_wait_ms: 200,
        task_timeout_s: 5,
        ..Options::default()
    })
    .await;
    let admin = s.admin_addr.expect("admin port");
    let bill = s.add_order(DEMO_OBJECT_ID, "310.00");
    s.sim.inject(
        Fault::new(FaultKind::Slow { delay_ms: 2_000 })
            .for_order(bill.clone())
            .times(1),
    );
    let before = reads(admin).await;
    let p = s
        .client()
        .pay_bill(pay("watch-reads", "demo", &bill, "310.00"))
        .await
        .unwrap()
        .into_inner();
    // PayBill gave up waiting while the POS takes the payment: sending, its recovery point saved,
    // and answered as saved, without reading it back.
    assert_eq!(state(&p), S::Posting, "{p:?}");
    assert_eq!(reads(admin).await, before, "PayBill read the store");

    let mut watch = s.watch(&p.payment_id).await;
    let first = watch.next().await.expect("a first answer").unwrap();
    assert_eq!(
        reads(admin).await,
        before,
        "the first answer read the store"
    );
    // The payment as stored: the same as PayBill answered, nothing older.
    assert_eq!(
        (state(&first), first.attempts, &first.payment_id),
        (S::Posting, p.attempts, &p.payment_id)
    );

    let mut last = first;
    while let Some(u) = tokio::time::timeout(Duration::from_secs(15), watch.next())
        .await
        .expect("the watch ends in time")
    {
        last = u.unwrap();
    }
    assert_eq!(state(&last), S::Closed, "{last:?}");
    assert_eq!(s.postings(&bill), 1);

    // A payment no longer driven here is read from the store (another replica may have it).
    let before = reads(admin).await;
    let mut again = s.watch(&p.payment_id).await;
    let closed = again.next().await.expect("an answer").unwrap();
    assert_eq!(state(&closed), S::Closed);
    assert_eq!(reads(admin).await, before + 1.0);
}
