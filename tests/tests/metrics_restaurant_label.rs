//! `[metrics] restaurant_label = true`: the per-restaurant series carry `restaurant_id` — the
//! payment service's transitions, retries, POS call latency and limiter waits, and the
//! adapter's POS HTTP exchanges — scraped from the admin port after payments at two
//! restaurants. The other series stay without it. (Off, the default, is checked by
//! `observability.rs`: the switch is process-wide, so each way has its own test binary.)

use posgate_proto::v1 as pb;
use posgate_sim::wsa::{DEMO_OBJECT_ID, Fault, FaultKind};
use posgate_tests::{Options, Stack, metric_series as series};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_restaurant_series_carry_the_restaurant_when_switched_on() {
    let s = Stack::start_with(Options {
        admin: true,
        restaurant_label: true,
        ..Options::default()
    })
    .await;
    let admin = s.admin_addr.expect("admin port");

    // `demo`: its bill in use once (a retry), then paid. `demo-sync`: paid at once.
    let busy = s.add_order(DEMO_OBJECT_ID, "500.00");
    s.sim.inject(
        Fault::new(FaultKind::BillLocked)
            .for_order(busy.clone())
            .times(1),
    );
    let plain = s.add_order(DEMO_OBJECT_ID, "75.50");
    for (key, restaurant, bill, amount) in [
        ("label-busy", "demo", &busy, "500.00"),
        ("label-plain", "demo-sync", &plain, "75.50"),
    ] {
        let p = s
            .client()
            .pay_bill(posgate_tests::pay(key, restaurant, bill, amount))
            .await
            .expect("pay")
            .into_inner();
        let p = s.wait_until(&p.payment_id, 30, |p| p.r#final).await;
        assert_eq!(posgate_tests::state(&p), pb::PaymentState::Closed, "{p:?}");
    }
    let page = posgate_tests::scrape_metrics(admin).await;

    for (name, labels) in [
        (
            "posgate_payment_transitions_total",
            &[("state", "closed"), ("restaurant_id", "demo")][..],
        ),
        (
            "posgate_payment_transitions_total",
            &[("state", "closed"), ("restaurant_id", "demo-sync")],
        ),
        (
            "posgate_payment_transitions_total",
            &[
                ("state", "retrying"),
                ("substate", "BILL_IN_USE"),
                ("restaurant_id", "demo"),
            ],
        ),
        (
            "posgate_payment_retries_total",
            &[("cause", "BILL_IN_USE"), ("restaurant_id", "demo")],
        ),
        (
            "posgate_pos_call_duration_seconds_count",
            &[
                ("pos", "wsa"),
                ("operation", "post_payment"),
                ("result", "applied"),
                ("restaurant_id", "demo-sync"),
            ],
        ),
        (
            "posgate_restaurant_limiter_wait_seconds_count",
            &[("restaurant_id", "demo")],
        ),
        // The adapter's own exchanges with the POS (same process, same page here).
        (
            "posgate_pos_http_request_duration_seconds_count",
            &[
                ("pos", "r_keeper_wsa"),
                ("result", "200"),
                ("restaurant_id", "demo-sync"),
            ],
        ),
    ] {
        assert!(
            series(&page, name, labels) >= 1.0,
            "{name} {labels:?} is missing:\n{page}"
        );
    }
    // The retry was demo's alone.
    assert_eq!(
        series(
            &page,
            "posgate_payment_retries_total",
            &[("restaurant_id", "demo-sync")]
        ),
        0.0
    );
    // Series that are not per restaurant stay without it; bills are never labels.
    for l in page.lines().filter(|l| l.contains("restaurant_id=")) {
        assert!(
            [
                "posgate_payment_transitions_total{",
                "posgate_payment_retries_total{",
                "posgate_pos_call_duration_seconds_",
                "posgate_restaurant_limiter_wait_seconds_",
                "posgate_pos_http_request_duration_seconds_",
            ]
            .iter()
            .any(|m| l.starts_with(m)),
            "a restaurant label on a series that is not per restaurant: {l}"
        );
    }
    assert!(
        !page.contains(&busy) && !page.contains(&plain),
        "a bill id became a label"
    );
}
