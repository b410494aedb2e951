//! Several payment service replicas sharing one PostgreSQL database: exactly-once and no
//! overpay hold across replicas, not just inside one process.

use futures::future::join_all;
use posgate_proto::v1::PaymentState as S;
use posgate_sim::wsa::{DEMO_ORDER_978, Fault, FaultKind};
use posgate_tests::{LENIENT_OBJECT_ID, Options, Stack, fresh_postgres, pay, state};
use rust_decimal::Decimal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_post_each_payment_once_and_never_overpay() {
    let Some(pg) = fresh_postgres().await else {
        return;
    };
    let mut s = Stack::start_with(Options {
        database_url: Some(pg.url.clone()),
        retry_max_attempts: 2,
        ..Options::default()
    })
    .await;
    let other = s.add_payments_replica().await;

    // 40 duplicates of one payment, half to each replica, while the POS answers slowly.
    s.sim
        .inject(Fault::new(FaultKind::Slow { delay_ms: 300 }).times(1));
    let calls = (0..40).map(|i| {
        let mut c = if i % 2 == 0 {
            s.client()
        } else {
            other.clone()
        };
        async move {
            c.pay_bill(pay("pg-same-key", "demo", DEMO_ORDER_978, "978.00"))
                .await
                .expect("pay")
                .into_inner()
        }
    });
    let ids: std::collections::HashSet<String> = join_all(calls)
        .await
        .into_iter()
        .map(|p| p.payment_id)
        .collect();
    assert_eq!(ids.len(), 1);
    let id = ids.into_iter().next().unwrap();
    let p = s.wait_until(&id, 15, |p| p.r#final).await;
    assert_eq!(state(&p), S::Closed, "{p:?}");
    assert_eq!(s.postings(DEMO_ORDER_978), 1);
    assert_eq!(s.sim.requests("PayOrder"), 1);

    // Different keys for one bill, spread over both replicas, on a POS that would accept
    // overpayment: the shared bill lock keeps the total within the bill.
    let bill = s.add_order(LENIENT_OBJECT_ID, "1000.00");
    let calls = (0..8).map(|i| {
        let mut c = if i % 2 == 0 {
            s.client()
        } else {
            other.clone()
        };
        let bill = bill.clone();
        async move {
            let mut req = pay(&format!("pg-split-{i}"), "lenient", &bill, "300.00");
            req.close = false;
            c.pay_bill(req).await.expect("pay").into_inner()
        }
    });
    let payments = join_all(calls).await;
    let mut paid = 0;
    for p in &payments {
        let p = s.wait_until(&p.payment_id, 20, |p| p.r#final).await;
        if state(&p) == S::Paid {
            paid += 1;
        }
    }
    assert_eq!(paid, 3);
    assert_eq!(s.posted_total(&bill), "900.00".parse::<Decimal>().unwrap());
    drop(s);
    pg.drop_db().await;
}
