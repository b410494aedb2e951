//! The store's guarantees the engine leans on, beyond `tests/tests/store.rs` (one payment per
//! key, a lease taken over after expiry, bill locks): fenced saves, renew and release only by
//! the owner, what a scan for due work offers and leaves out, payments stored leased, group
//! commits under one key, list filters and paging, history.

use posgate_core::payment::Event;
use posgate_core::{PaymentState, RetryDecision, Step, Substate};
use posgate_payments::store::{Inserted, Lease, ListFilter, PaymentRecord, Store};

use super::{TempDir, request, temp_db, test_keyring};

async fn fresh() -> (Store, TempDir) {
    let (dir, url) = temp_db();
    (
        Store::open(&url, test_keyring())
            .await
            .expect("store opens"),
        TempDir(dir),
    )
}

async fn add(s: &Store, id: &str, bill: &str, at: i64) -> PaymentRecord {
    match s
        .insert(id, &request(id, bill, "10.00", true), at)
        .await
        .unwrap()
    {
        Inserted::New(r) => r,
        Inserted::Existing(_) => panic!("{id} exists"),
    }
}

/// Claims `id` for `owner` at `at` for 100 ms, or panics.
async fn claim(s: &Store, id: &str, owner: &str, at: i64) -> PaymentRecord {
    s.claim(id, owner, at, 100)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{owner} claims {id}"))
}

/// Puts the payment in `state`/`step` as its owner, leased on.
async fn set(s: &Store, rec: &mut PaymentRecord, owner: &str, state: PaymentState, step: Step) {
    rec.lifecycle.state = state;
    rec.lifecycle.step = step;
    assert!(s.save(rec, owner, 1, false, Some("set")).await.unwrap());
    rec.version += 1;
}

#[tokio::test]
async fn a_save_is_fenced_by_owner_and_version_and_refused_after_release() {
    let (s, _dir) = fresh().await;
    add(&s, "p1", "b", 1).await;
    let mut a = claim(&s, "p1", "A", 10).await;
    assert_eq!(a.version, 1);
    // Another name cannot write, even with the right version.
    assert!(!s.save(&a, "B", 20, false, None).await.unwrap());
    a.lifecycle = a.lifecycle.on(Event::Start, RetryDecision::Retry).unwrap();
    assert!(s.save(&a, "A", 20, false, Some("posting")).await.unwrap());
    // The owner's stale copy (version 1) is refused; the fresh one (version 2) goes through.
    let stale = a.clone();
    a.version += 1;
    a.lifecycle = a
        .lifecycle
        .on(Event::Rejected(Substate::BillInUse), RetryDecision::Retry)
        .unwrap();
    a.substate = Some(Substate::BillInUse);
    assert!(!s.save(&stale, "A", 30, false, None).await.unwrap());
    assert!(s.save(&a, "A", 30, true, Some("retrying")).await.unwrap());
    // Released: the former owner writes nothing more, however fresh its copy.
    a.version += 1;
    assert!(!s.save(&a, "A", 40, false, None).await.unwrap());
    let now = s.get("p1").await.unwrap().unwrap();
    assert_eq!(now.version, 3);
    assert_eq!(now.lifecycle.state, PaymentState::Retrying);
    assert_eq!(now.substate, Some(Substate::BillInUse));
    assert_eq!(now.updated_at, 30);
    // A release lets anyone claim at once, with no wait for the lease.
    assert!(s.claim("p1", "B", 31, 100).await.unwrap().is_some());
}

#[tokio::test]
async fn only_the_owner_renews_and_a_renewal_keeps_others_out() {
    let (s, _dir) = fresh().await;
    add(&s, "p1", "b", 1).await;
    claim(&s, "p1", "A", 10).await; // leased until 110
    assert!(!s.renew("p1", "B", 50, 100).await.unwrap(), "not B's lease");
    assert!(
        s.claim("p1", "B", 111, 100).await.unwrap().is_some(),
        "expired: B takes it"
    );
    assert!(!s.renew("p1", "A", 112, 100).await.unwrap(), "A lost it");
    assert!(s.renew("p1", "B", 150, 100).await.unwrap()); // until 250
    assert!(
        s.claim("p1", "C", 240, 100).await.unwrap().is_none(),
        "renewed past 211"
    );
    assert!(s.claim("p1", "C", 251, 100).await.unwrap().is_some());
    let rec = s.get("p1").await.unwrap().unwrap();
    assert_eq!(rec.version, 1, "leases never touch the payment");
    assert_eq!(s.history("p1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn only_the_owner_releases_and_the_payment_waits_until_then() {
    let (s, _dir) = fresh().await;
    add(&s, "p1", "b", 1).await;
    claim(&s, "p1", "A", 10).await;
    s.release("p1", "B", 500).await.unwrap();
    assert!(
        s.claim("p1", "C", 50, 100).await.unwrap().is_none(),
        "A still holds it"
    );
    assert_eq!(s.get("p1").await.unwrap().unwrap().next_attempt_at, 1);
    s.release("p1", "A", 500).await.unwrap();
    assert!(
        s.claim("p1", "C", 499, 100).await.unwrap().is_none(),
        "not due yet"
    );
    assert_eq!(due(&s, 499, 10).await, Vec::<String>::new());
    assert_eq!(due(&s, 500, 10).await, ["p1"]);
    assert!(s.claim("p1", "C", 500, 100).await.unwrap().is_some());
    assert_eq!(s.get("p1").await.unwrap().unwrap().version, 1);
}

/// The ids `scan_due` finds due at `now`, at most `limit`.
async fn due(s: &Store, now: i64, limit: u32) -> Vec<String> {
    s.scan_due(now, limit).await.unwrap().ids
}

/// When `scan_due` says the next payment falls due, looking from before everything.
async fn next_due_at(s: &Store) -> Option<i64> {
    s.scan_due(0, 10).await.unwrap().next_at
}

#[tokio::test]
async fn due_offers_work_soonest_first_and_leaves_out_done_attention_leased_and_later() {
    let (s, _dir) = fresh().await;
    // Inserted out of order: due work is ordered by time, not by id.
    for (id, at) in [("p3", 30), ("p1", 10), ("p2", 20), ("later", 5_000)] {
        add(&s, id, id, at).await;
    }
    for (id, at, state, step) in [
        ("done", 1, PaymentState::Closed, Step::Done),
        ("attention", 2, PaymentState::NeedsAttention, Step::Post),
    ] {
        add(&s, id, id, at).await;
        let mut r = claim(&s, id, "W", at).await;
        set(&s, &mut r, "W", state, step).await;
        s.release(id, "W", at).await.unwrap();
    }
    add(&s, "leased", "leased", 3).await;
    claim(&s, "leased", "W", 3).await; // until 103
    assert_eq!(due(&s, 100, 10).await, ["p1", "p2", "p3"]);
    assert_eq!(due(&s, 20, 10).await, ["p1", "p2"], "p3 not due yet");
    // A payment whose lease ran out is due from the lease's end.
    assert_eq!(due(&s, 104, 10).await, ["p1", "p2", "p3", "leased"]);
    assert_eq!(
        due(&s, 5_000, 10).await,
        ["p1", "p2", "p3", "leased", "later"]
    );
    // Neither done nor needs-attention payments are ever due, nor claimable.
    for id in ["done", "attention"] {
        assert!(
            s.claim(id, "X", 10_000, 100).await.unwrap().is_none(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_scan_takes_at_most_its_limit_and_then_says_more_is_due_at_once() {
    let (s, _dir) = fresh().await;
    for (id, at) in [("p1", 10), ("p2", 20), ("p3", 30), ("later", 900)] {
        add(&s, id, id, at).await;
    }
    let d = s.scan_due(100, 2).await.unwrap();
    assert_eq!(d.ids, ["p1", "p2"], "limited");
    assert_eq!(d.next_at, Some(100), "p3 is due too: scan again at once");
    let d = s.scan_due(100, 3).await.unwrap();
    assert_eq!(d.ids, ["p1", "p2", "p3"]);
    assert_eq!(d.next_at, Some(900), "then the next one's time");
}

#[tokio::test]
async fn next_due_at_is_the_soonest_work_and_a_lease_counts_until_it_ends() {
    let (s, _dir) = fresh().await;
    assert_eq!(next_due_at(&s).await, None, "empty store");
    add(&s, "attention", "a", 5).await;
    let mut r = claim(&s, "attention", "W", 5).await;
    set(&s, &mut r, "W", PaymentState::NeedsAttention, Step::Post).await;
    s.release("attention", "W", 5).await.unwrap();
    add(&s, "done", "d", 6).await;
    let mut r = claim(&s, "done", "W", 6).await;
    set(&s, &mut r, "W", PaymentState::Paid, Step::Done).await;
    s.release("done", "W", 6).await.unwrap();
    assert_eq!(next_due_at(&s).await, None, "nothing left to do");
    add(&s, "p", "p", 300).await;
    assert_eq!(next_due_at(&s).await, Some(300));
    // A payment being worked on is not due before its lease ends, however old its time: the
    // scheduler must not wake every 50 ms while a POS call runs for minutes.
    add(&s, "busy", "busy", 10).await;
    s.claim("busy", "W", 100, 150)
        .await
        .unwrap()
        .expect("claimed"); // until 250
    assert_eq!(next_due_at(&s).await, Some(250));
    s.renew("busy", "W", 200, 500).await.unwrap(); // until 700
    assert_eq!(next_due_at(&s).await, Some(300));
    // The heartbeat renews many at once, and only its owner's.
    assert_eq!(
        s.renew_many(&["busy".into(), "p".into()], "W", 300, 900)
            .await
            .unwrap(),
        1,
        "p is not leased by W"
    );
    assert_eq!(next_due_at(&s).await, Some(300));
    assert_eq!(
        s.renew_many(&["busy".into()], "X", 300, 5_000)
            .await
            .unwrap(),
        0
    );
    s.release("busy", "W", 120).await.unwrap();
    assert_eq!(next_due_at(&s).await, Some(120));
}

#[tokio::test]
async fn a_payment_stored_leased_holds_its_bill_and_is_not_due_until_its_lease_ends() {
    let (s, _dir) = fresh().await;
    let lease = Lease {
        owner: "W".into(),
        until: 1_000,
    };
    let (first, locked) = s
        .insert_leased("p1", &request("k1", "b", "10.00", true), 10, Some(&lease))
        .await
        .unwrap();
    assert!(locked, "the bill was asked for");
    assert_eq!(
        s.bill_holder("rest-1", "b").await.unwrap().as_deref(),
        Some("p1"),
        "and taken: it was free"
    );
    let Inserted::New(first) = first else {
        panic!("new")
    };
    assert_eq!(first.version, 1);
    assert_eq!(first.request.amount.to_string(), "10.00");
    // As stored, read back: the same payment the insert returned.
    let stored = s.get("p1").await.unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.lifecycle, stored.next_attempt_at),
        (first.version, first.lifecycle, first.next_attempt_at)
    );
    // Nobody else claims it while the lease lasts; it is due when the lease ends.
    assert!(s.claim("p1", "X", 500, 100).await.unwrap().is_none());
    assert_eq!(next_due_at(&s).await, Some(1_000));
    // A second payment on the bill, leased too, asks for the bill and does not get it.
    let (_, asked) = s
        .insert_leased("p2", &request("k2", "b", "5.00", true), 20, Some(&lease))
        .await
        .unwrap();
    assert!(asked);
    assert_eq!(
        s.bill_holder("rest-1", "b").await.unwrap().as_deref(),
        Some("p1")
    );
    assert!(!s.lock_bill("rest-1", "b", "p2", 30).await.unwrap());
    // The owner saves and lets the bill go in one write; then p2 can take it.
    let mut rec = first;
    rec.lifecycle.state = PaymentState::Closed;
    rec.lifecycle.step = Step::Done;
    assert!(
        s.save_step(&rec, "W", 40, true, true, Some("done"))
            .await
            .unwrap()
    );
    assert!(s.lock_bill("rest-1", "b", "p2", 50).await.unwrap());
}

#[tokio::test]
async fn many_payments_stored_at_once_under_one_key_make_one_payment() {
    // Written concurrently, the inserts share group commits: the one payment is found even
    // when its twin was written in the same transaction.
    let (s, _dir) = fresh().await;
    let inserts = (0..40).map(|i| {
        let s = s.clone();
        async move {
            s.insert(&format!("p{i}"), &request("same", "b", "10.00", true), 10)
                .await
                .unwrap()
        }
    });
    let results = futures::future::join_all(inserts).await;
    let new: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            Inserted::New(r) => Some(r.id.clone()),
            Inserted::Existing(_) => None,
        })
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    for r in &results {
        if let Inserted::Existing(r) = r {
            assert_eq!(r.id, new[0]);
        }
    }
    assert_eq!(s.history(&new[0]).await.unwrap().len(), 1);
}

#[tokio::test]
async fn list_filters_by_restaurant_bill_and_state_and_pages_by_id() {
    let (s, _dir) = fresh().await;
    for (id, bill) in [("p1", "b1"), ("p2", "b2"), ("p3", "b1"), ("p4", "b1")] {
        add(&s, id, bill, 1).await;
    }
    let mut r = claim(&s, "p3", "W", 1).await;
    set(&s, &mut r, "W", PaymentState::NeedsAttention, Step::Post).await;
    let ids = |v: Vec<PaymentRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = ListFilter {
        limit: 10,
        ..ListFilter::default()
    };
    assert_eq!(ids(s.list(&all).await.unwrap()), ["p1", "p2", "p3", "p4"]);
    let by_bill = ListFilter {
        bill_id: Some("b1".into()),
        ..all.clone()
    };
    assert_eq!(ids(s.list(&by_bill).await.unwrap()), ["p1", "p3", "p4"]);
    let other_restaurant = ListFilter {
        restaurant_id: Some("elsewhere".into()),
        ..all.clone()
    };
    assert!(s.list(&other_restaurant).await.unwrap().is_empty());
    let ours = ListFilter {
        restaurant_id: Some(super::R.into()),
        bill_id: Some("b1".into()),
        states: vec![PaymentState::Accepted],
        ..all.clone()
    };
    assert_eq!(ids(s.list(&ours).await.unwrap()), ["p1", "p4"]);
    let two_states = ListFilter {
        states: vec![PaymentState::NeedsAttention, PaymentState::Closed],
        ..all.clone()
    };
    assert_eq!(ids(s.list(&two_states).await.unwrap()), ["p3"]);
    // Pages: `limit` at a time, each after the last id of the one before.
    let page = |after: Option<&str>| ListFilter {
        after_id: after.map(str::to_string),
        limit: 3,
        ..ListFilter::default()
    };
    assert_eq!(ids(s.list(&page(None)).await.unwrap()), ["p1", "p2", "p3"]);
    assert_eq!(ids(s.list(&page(Some("p3"))).await.unwrap()), ["p4"]);
    assert!(s.list(&page(Some("p4"))).await.unwrap().is_empty());
    let b1_after = ListFilter {
        after_id: Some("p1".into()),
        limit: 1,
        ..by_bill
    };
    assert_eq!(ids(s.list(&b1_after).await.unwrap()), ["p3"]);
}

#[tokio::test]
async fn history_keeps_one_row_per_version_with_the_failure_and_the_note() {
    let (s, _dir) = fresh().await;
    add(&s, "p1", "b", 7).await;
    let mut r = claim(&s, "p1", "W", 8).await;
    r.lifecycle = r.lifecycle.on(Event::Start, RetryDecision::Retry).unwrap();
    assert!(s.save(&r, "W", 9, false, Some("posting")).await.unwrap());
    r.version += 1;
    r.lifecycle = r
        .lifecycle
        .on(
            Event::Rejected(Substate::PrinterError),
            RetryDecision::Retry,
        )
        .unwrap();
    r.substate = Some(Substate::PrinterError);
    assert!(s.save(&r, "W", 11, true, None).await.unwrap());
    // A refused save leaves no row.
    assert!(!s.save(&r, "W", 12, true, Some("refused")).await.unwrap());
    let h = s.history("p1").await.unwrap();
    let row = |v: i64, at: i64, state: &str, step: &str, sub: Option<&str>, note: Option<&str>| {
        (
            v,
            at,
            state.to_string(),
            step.to_string(),
            sub.map(str::to_string),
            note.map(str::to_string),
        )
    };
    assert_eq!(
        h,
        [
            row(1, 7, "accepted", "post", None, Some("accepted")),
            row(2, 9, "posting", "post", None, Some("posting")),
            row(3, 11, "retrying", "post", Some("PRINTER_ERROR"), None),
        ]
    );
    assert!(s.history("nobody").await.unwrap().is_empty());
}

#[tokio::test]
async fn bill_locks_are_per_restaurant_and_bill() {
    let (s, _dir) = fresh().await;
    assert!(s.lock_bill("r1", "b", "p1", 1).await.unwrap());
    assert!(
        s.lock_bill("r2", "b", "p2", 1).await.unwrap(),
        "same bill id, other restaurant"
    );
    assert!(
        !s.lock_bill("r1", "b", "p2", 2).await.unwrap(),
        "held by p1"
    );
    s.unlock_bill("r2", "b", "p1").await.unwrap();
    assert!(
        !s.lock_bill("r2", "b", "p3", 3).await.unwrap(),
        "p1 cannot free r2's lock"
    );
    s.unlock_bill("r1", "b", "p1").await.unwrap();
    assert!(s.lock_bill("r1", "b", "p2", 4).await.unwrap());
}
