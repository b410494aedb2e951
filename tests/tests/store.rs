//! The store's own guarantees, on a real SQLite file and on PostgreSQL: one payment per key, one
//! worker per payment (lease + fenced writes), one posting payment per bill, and no card code
//! in plaintext at rest.

use posgate_core::request::RawPayRequest;
use posgate_core::{PayRequest, PaymentState};
use posgate_payments::secrets::Keyring;
use posgate_payments::store::{Inserted, Resealed, Store, StoreError, card_place};
use posgate_tests::keyring;
use sqlx::Connection;

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

/// Runs a check against the URL of a fresh SQLite file and of a fresh PostgreSQL database.
async fn each_db<F, Fut>(check: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (db, url) = sqlite_dir();
    check(url).await;
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
    if let Some(pg) = posgate_tests::fresh_postgres().await {
        check(pg.url.clone()).await;
        pg.drop_db().await;
    }
}

/// Runs a check against a store on a fresh SQLite file and on a fresh PostgreSQL database.
async fn on_both<F, Fut>(check: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    each_db(|url| {
        let check = &check;
        async move { check(Store::open(&url, keyring()).await.unwrap()).await }
    })
    .await;
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
    // One history row per version, written with it (by the database's triggers), none for the
    // refused writes: (version, at, state, step, substate, note).
    let history = s.history(&rec.id).await.unwrap();
    let rows: Vec<(i64, i64, &str, Option<&str>)> = history
        .iter()
        .map(|(v, at, state, _, _, note)| (*v, *at, state.as_str(), note.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            (1, 1, "accepted", Some("accepted")),
            (2, 220, "posting", Some("posting"))
        ]
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leased_insert_takes_a_free_bill_and_no_recovery_point_is_saved_without_the_bill() {
    on_both(bill_taken_by_insert).await;
}

/// The insert of a payment driven at once takes its bill in the same statement when it is free
/// (migration 0008), and the posting's recovery point is refused unless the payment holds its
/// bill: two payments inserted at once for one bill never both get to send.
async fn bill_taken_by_insert(s: Store) {
    let lease = posgate_payments::store::Lease {
        owner: "A".into(),
        until: 1_000_000,
    };
    let insert = |id: &'static str, key: &'static str| {
        let (s, lease) = (s.clone(), lease.clone());
        async move {
            match s
                .insert_leased(id, &request(key, "b"), 10, Some(&lease))
                .await
                .unwrap()
            {
                (Inserted::New(rec), asked) => (rec, asked),
                (Inserted::Existing(_), _) => panic!("new key"),
            }
        }
    };
    let (p1, p2) = tokio::join!(insert("p1", "k1"), insert("p2", "k2"));
    assert!(p1.1 && p2.1, "both asked for the bill");
    let holder = s.bill_holder("r", "b").await.unwrap().expect("one took it");
    let (mut holding, mut waiting) = if holder == "p1" {
        (p1.0, p2.0)
    } else {
        (p2.0, p1.0)
    };
    // An unleased insert asks for nothing.
    s.insert("p3", &request("k3", "other"), 10).await.unwrap();
    assert_eq!(s.bill_holder("r", "other").await.unwrap(), None);

    for rec in [&mut holding, &mut waiting] {
        rec.lifecycle.state = PaymentState::Posting;
        rec.sending = true;
        rec.attempts = 1;
    }
    assert!(
        !s.save_step(&waiting, "A", 20, false, false, Some("sending"))
            .await
            .unwrap(),
        "no recovery point without the bill"
    );
    assert!(
        s.save_step(&holding, "A", 20, false, false, Some("sending"))
            .await
            .unwrap(),
        "the holder's recovery point is saved"
    );
    holding.version += 1;
    // The holder's outcome lets the bill go; then the other takes it and may send.
    holding.lifecycle.state = PaymentState::Closed;
    holding.lifecycle.step = posgate_core::Step::Done;
    holding.sending = false;
    assert!(
        s.save_step(&holding, "A", 30, true, true, Some("done"))
            .await
            .unwrap()
    );
    assert!(s.lock_bill("r", "b", &waiting.id, 40).await.unwrap());
    assert!(
        s.save_step(&waiting, "A", 50, false, false, Some("sending"))
            .await
            .unwrap(),
        "with the bill the recovery point is saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_point_after_a_bill_read_ahead_needs_the_bill_unshared() {
    on_both(read_ahead_needs_the_bill_unshared).await;
}

/// A payment whose bill was read while it was stored (before it held the bill) saves its
/// recovery point on that read only while no other payment of the bill is stored: one may have
/// posted to the bill around the read. Alone on its bill, it may.
async fn read_ahead_needs_the_bill_unshared(s: Store) {
    let lease = posgate_payments::store::Lease {
        owner: "A".into(),
        until: 1_000_000,
    };
    let sending = |rec: &mut posgate_payments::store::PaymentRecord| {
        rec.lifecycle.state = PaymentState::Posting;
        rec.sending = true;
        rec.attempts = 1;
    };
    // Alone on its bill: saved.
    let Inserted::New(mut alone) = s
        .insert_leased("p1", &request("k1", "b1"), 10, Some(&lease))
        .await
        .unwrap()
        .0
    else {
        panic!("new key")
    };
    sending(&mut alone);
    assert!(
        s.save_sending_read_ahead(&alone, "A", 20, "sending")
            .await
            .unwrap(),
        "alone on its bill, the read ahead stands"
    );
    // Another payment of the bill is stored (finished or not: it may have posted around the
    // read): refused, though this one holds the bill; saved once the bill was read again.
    s.insert("p2", &request("k2", "b2"), 10).await.unwrap();
    let Inserted::New(mut shared) = s
        .insert_leased("p3", &request("k3", "b2"), 11, Some(&lease))
        .await
        .unwrap()
        .0
    else {
        panic!("new key")
    };
    assert_eq!(
        s.bill_holder("r", "b2").await.unwrap().as_deref(),
        Some("p3"),
        "the other payment does not hold the bill"
    );
    sending(&mut shared);
    assert!(
        !s.save_sending_read_ahead(&shared, "A", 20, "sending")
            .await
            .unwrap(),
        "another payment of the bill is stored"
    );
    assert_eq!(
        s.get("p3").await.unwrap().unwrap().version,
        1,
        "nothing saved"
    );
    assert!(
        s.save_step(&shared, "A", 30, false, false, Some("sending"))
            .await
            .unwrap(),
        "read again: saved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_that_lets_the_bill_go_releases_it_and_a_refused_one_does_not() {
    on_both(save_releases_the_bill).await;
}

async fn save_releases_the_bill(s: Store) {
    let Inserted::New(rec) = s.insert("p1", &request("k1", "b"), 1).await.unwrap() else {
        panic!()
    };
    let mut rec = s
        .claim(&rec.id, "A", 10, 1_000)
        .await
        .unwrap()
        .expect("A claims");
    assert!(s.lock_bill("r", "b", &rec.id, 10).await.unwrap());
    // A save that keeps the bill, and one refused (not the owner) that would let it go: held.
    rec.lifecycle.state = PaymentState::Posting;
    assert!(
        s.save_step(&rec, "A", 20, false, false, Some("posting"))
            .await
            .unwrap()
    );
    rec.version += 1;
    assert!(!s.save_step(&rec, "B", 30, true, true, None).await.unwrap());
    assert!(
        !s.lock_bill("r", "b", "p2", 30).await.unwrap(),
        "the bill is still held by p1"
    );
    // The owner's save that lets it go: free for the next payment.
    rec.lifecycle.state = PaymentState::Closed;
    assert!(
        s.save_step(&rec, "A", 40, true, true, Some("closed"))
            .await
            .unwrap()
    );
    assert!(s.lock_bill("r", "b", "p2", 50).await.unwrap());
    assert_eq!(s.history(&rec.id).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_read_page_by_page_each_payment_once_in_due_order() {
    on_both(backlog_pages).await;
}

async fn backlog_pages(s: Store) {
    // Five due at 100 (ties broken by id), two at 200, one not due yet.
    let mut want = Vec::new();
    for (i, at) in [100, 100, 100, 100, 100, 200, 200].into_iter().enumerate() {
        let id = format!("p{i}");
        s.insert(&id, &request(&format!("k{i}"), &format!("b{i}")), at)
            .await
            .unwrap();
        want.push(id);
    }
    s.insert("later", &request("k-later", "b-later"), 5_000)
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s.scan_due_after(1_000, 2, after.as_ref()).await.unwrap();
        assert!(page.ids.len() <= 2);
        assert_eq!(page.ids.len(), page.restaurants.len());
        assert!(page.restaurants.iter().all(|r| r == "r"), "{page:?}");
        seen.extend(page.ids.iter().cloned());
        match page.next_at {
            // More due than one page: read on from where this one ended.
            Some(1_000) => after = page.last,
            next => {
                assert_eq!(next, Some(5_000), "the next one falls due later");
                break;
            }
        }
        assert!(seen.len() <= want.len(), "pages repeat: {seen:?}");
    }
    assert_eq!(seen, want, "each due payment once, in due order");
}

/// Card codes planted in payments: distinctive, so a search of raw bytes cannot miss them.
const CARD_A: &str = "PLANTED-CARD-7781-4410";
const CARD_B: &str = "ПЛАНТ-КАРТА-5529";

fn with_cards(key: &str) -> PayRequest {
    PayRequest::validate(
        &RawPayRequest {
            idempotency_key: key,
            restaurant_id: "r",
            bill_id: "b",
            amount: "10.00",
            close: true,
            tenders: vec![
                ("cash", "4.00", ""),
                ("card", "3.00", CARD_A),
                ("bonus", "3.00", CARD_B),
            ],
            ..Default::default()
        },
        2,
    )
    .unwrap()
}

fn card_codes(s: &posgate_payments::store::PaymentRecord) -> Vec<&str> {
    s.request
        .tenders
        .iter()
        .map(|t| t.card_code.as_str())
        .collect()
}

/// Every byte SQLite keeps for a database: the file, its WAL and shared memory.
fn sqlite_bytes(db: &std::path::Path) -> Vec<u8> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .filter_map(|ext| std::fs::read(format!("{}{ext}", db.display())).ok())
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every column of every row of the tables that could hold a card code, as PostgreSQL text.
async fn pg_rows(url: &str) -> String {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let mut all = String::new();
    for table in ["payments", "payment_events", "bill_locks"] {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
            .fetch_all(&mut c)
            .await
            .unwrap();
        all.push_str(&rows.join("\n"));
    }
    all
}

fn sqlite_dir() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("posgate-store-{}", uuid::Uuid::new_v4()));
    let db = dir.join("p.db");
    let url = format!("sqlite://{}", db.display());
    (db, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_codes_are_sealed_at_rest_and_read_back_intact() {
    let (db, url) = sqlite_dir();
    let s = Store::open(&url, keyring()).await.unwrap();
    let id = store_with_cards(&s).await;
    let bytes = sqlite_bytes(&db);
    for card in [CARD_A, CARD_B, "7781-4410"] {
        assert!(!contains(&bytes, card), "{card} in the SQLite files");
    }
    assert!(contains(&bytes, "v1:test-1:"), "sealed codes are there");
    // The codes open only with the key: a store with another key cannot read the payment.
    drop(s);
    let other = Keyring::new("test-1", &[7; 32]).unwrap();
    let s2 = Store::open(&url, std::sync::Arc::new(other)).await.unwrap();
    let err = s2.get(&id).await.unwrap_err();
    assert!(matches!(err, StoreError::Sealing { .. }), "{err}");
    assert!(!err.to_string().contains(CARD_A));
    let _ = std::fs::remove_dir_all(db.parent().unwrap());

    if let Some(pg) = posgate_tests::fresh_postgres().await {
        let s = Store::open(&pg.url, keyring()).await.unwrap();
        store_with_cards(&s).await;
        let rows = pg_rows(&pg.url).await;
        for card in [CARD_A, CARD_B, "7781-4410"] {
            assert!(!rows.contains(card), "{card} in PostgreSQL: {rows}");
        }
        assert!(rows.contains("v1:test-1:"), "{rows}");
        pg.drop_db().await;
    }
}

/// Stores a payment with card codes; checks the store API gives them back as sent.
async fn store_with_cards(s: &Store) -> String {
    let Inserted::New(rec) = s
        .insert("p-cards", &with_cards("k-cards"), 1)
        .await
        .unwrap()
    else {
        panic!("new payment")
    };
    assert_eq!(card_codes(&rec), ["", CARD_A, CARD_B]);
    let again = s.get("p-cards").await.unwrap().unwrap();
    assert_eq!(card_codes(&again), ["", CARD_A, CARD_B]);
    // A repeat of the key returns the stored payment, codes intact.
    let Inserted::Existing(rep) = s
        .insert("p-other", &with_cards("k-cards"), 2)
        .await
        .unwrap()
    else {
        panic!("existing payment")
    };
    assert_eq!(card_codes(&rep), ["", CARD_A, CARD_B]);
    let listed = s
        .list(&posgate_payments::store::ListFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(card_codes(&listed[0]), ["", CARD_A, CARD_B]);
    rec.id
}

/// A payment row as an earlier version wrote it: card codes in plaintext, not marked sealed.
async fn plant_legacy_row(url: &str, id: &str, tenders: &str) {
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(
        "INSERT INTO payments (id, idempotency_key, restaurant_id, bill_id, amount, tips, scale, tenders, fiscal_data, close, state, step, next_attempt_at, version, created_at, updated_at)
         VALUES ($1, $2, 'r', 'b', '10.00', '0.00', 2, $3, '{}', 1, 'accepted', 'post', 1, 1, 1, 1)",
    )
    .bind(id)
    .bind(format!("key-{id}"))
    .bind(tenders)
    .execute(&mut c)
    .await
    .unwrap();
    c.close().await.unwrap();
}

fn legacy_tenders() -> String {
    format!(
        r#"[{{"tender_id":"card","amount":"6.00","card_code":"{CARD_A}"}},{{"tender_id":"bonus","amount":"4.00","card_code":"{CARD_B}"}}]"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_codes_of_an_earlier_version_are_sealed_when_the_store_opens() {
    sqlx::any::install_default_drivers();
    let (db, url) = sqlite_dir();
    drop(Store::open(&url, keyring()).await.unwrap());
    plant_legacy_row(&url, "legacy-1", &legacy_tenders()).await;
    assert!(contains(&sqlite_bytes(&db), CARD_A), "planted in plaintext");
    let s = Store::open(&url, keyring()).await.unwrap();
    let bytes = sqlite_bytes(&db);
    for card in [CARD_A, CARD_B] {
        assert!(!contains(&bytes, card), "{card} left in the SQLite files");
    }
    let rec = s.get("legacy-1").await.unwrap().unwrap();
    assert_eq!(card_codes(&rec), [CARD_A, CARD_B]);
    let _ = std::fs::remove_dir_all(db.parent().unwrap());

    if let Some(pg) = posgate_tests::fresh_postgres().await {
        drop(Store::open(&pg.url, keyring()).await.unwrap());
        plant_legacy_row(&pg.url, "legacy-1", &legacy_tenders()).await;
        let s = Store::open(&pg.url, keyring()).await.unwrap();
        let rows = pg_rows(&pg.url).await;
        for card in [CARD_A, CARD_B] {
            assert!(!rows.contains(card), "{card} in PostgreSQL: {rows}");
        }
        let rec = s.get("legacy-1").await.unwrap().unwrap();
        assert_eq!(card_codes(&rec), [CARD_A, CARD_B]);
        pg.drop_db().await;
    }
}

#[tokio::test]
async fn a_plaintext_code_in_a_sealed_row_is_refused_not_read() {
    let (db, url) = sqlite_dir();
    let s = Store::open(&url, keyring()).await.unwrap();
    let id = store_with_cards(&s).await;
    plant_legacy_row(&url, "planted", &legacy_tenders()).await;
    // Until the next open a legacy row still reads (an older replica may have written it)...
    let rec = s.get("planted").await.unwrap().unwrap();
    assert_eq!(card_codes(&rec), [CARD_A, CARD_B]);
    // ...but a row marked sealed with a plaintext code is corrupt, and the error quotes no code.
    let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE payments SET card_codes_sealed = 1 WHERE id = 'planted'")
        .execute(&mut c)
        .await
        .unwrap();
    let err = s.get("planted").await.unwrap_err().to_string();
    assert!(err.contains("tenders[0].card_code is not sealed"), "{err}");
    assert!(!err.contains(CARD_A), "{err}");
    // A sealed code moved to another payment's row does not open there.
    let sealed: String = sqlx::query_scalar("SELECT tenders FROM payments WHERE id = $1")
        .bind(&id)
        .fetch_one(&mut c)
        .await
        .unwrap();
    sqlx::query("UPDATE payments SET tenders = $1 WHERE id = 'planted'")
        .bind(&sealed)
        .execute(&mut c)
        .await
        .unwrap();
    let err = s.get("planted").await.unwrap_err().to_string();
    assert!(err.contains("copied from another place"), "{err}");
    c.close().await.unwrap();
    let _ = std::fs::remove_dir_all(db.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_rewrap_moves_every_code_to_the_new_key() {
    each_db(rotation).await;
}

async fn rotation(url: String) {
    // Sealed with test-1: payments p-cards (codes) and p-plain (none).
    let old = keyring();
    let s = Store::open(&url, old.clone()).await.unwrap();
    let id = store_with_cards(&s).await;
    s.insert("p-plain", &request("k-plain", "b2"), 1)
        .await
        .unwrap();
    // test-2 becomes active, test-1 stays to open what it sealed.
    let rotated = std::sync::Arc::new(
        Keyring::new("test-2", &[2; 32])
            .unwrap()
            .with_old("test-1", posgate_tests::KEY)
            .unwrap(),
    );
    let s2 = Store::open(&url, rotated.clone()).await.unwrap();
    assert_eq!(card_codes(&s2.get(&id).await.unwrap().unwrap())[1], CARD_A);
    assert_eq!(
        s2.rewrap_card_codes().await.unwrap(),
        Resealed {
            changed: 1,
            failed: vec![]
        }
    );
    assert_eq!(
        s2.rewrap_card_codes().await.unwrap().changed,
        0,
        "all moved"
    );
    // Without test-1 the payment still reads: nothing is sealed with it any more.
    let only_new = Keyring::new("test-2", &[2; 32]).unwrap();
    let s3 = Store::open(&url, std::sync::Arc::new(only_new))
        .await
        .unwrap();
    let rec = s3.get(&id).await.unwrap().unwrap();
    assert_eq!(card_codes(&rec), ["", CARD_A, CARD_B]);
    // The old key alone no longer opens them.
    let s4 = Store::open(&url, old).await.unwrap();
    assert!(matches!(s4.get(&id).await, Err(StoreError::Sealing { .. })));
    // A code whose key is gone is reported, not dropped.
    let s5 = Store::open(
        &url,
        std::sync::Arc::new(Keyring::new("test-3", &[3; 32]).unwrap()),
    )
    .await
    .unwrap();
    assert_eq!(
        s5.rewrap_card_codes().await.unwrap().failed,
        vec![id.clone()]
    );
    assert_eq!(card_place("p", 1), "payments.tenders.card_code/p/1");
}

/// A restaurant changed through one process is what another process's cached read answers:
/// at once on SQLite (the generation number is compared before trusting the cache), as soon as
/// the notification arrives on PostgreSQL (LISTEN/NOTIFY; a few milliseconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restaurant_changed_elsewhere_is_what_the_cache_answers() {
    use posgate_payments::registry::{Freshness, RestaurantSpec};
    each_db(|url| async move {
        let sqlite = url.starts_with("sqlite");
        let here = Store::open(&url, keyring()).await.unwrap().registry();
        let there = Store::open(&url, keyring()).await.unwrap().registry();
        let spec = RestaurantSpec {
            display_name: "R".into(),
            pos_kind: "wsa".into(),
            currency: "UAH".into(),
            currency_scale: 2,
            pos_settings: [("base_url".to_string(), "http://a".to_string())].into(),
            pos_secrets: Default::default(),
            expirenza: None,
        };
        // Unknown here; created there; known here at once (a miss is never cached).
        assert!(here.cached("r1", Freshness::Now).await.unwrap().is_none());
        there.create("r1", &spec, 1).await.unwrap();
        let seen = here.cached("r1", Freshness::Now).await.unwrap().unwrap();
        assert!(seen.enabled);
        // Changed there: the cache here forgets it.
        let mut moved = spec.clone();
        moved
            .pos_settings
            .insert("base_url".into(), "http://b".into());
        there.update("r1", &moved, &[], None, 2).await.unwrap();
        there.disable("r1", 3).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let now = here.cached("r1", Freshness::Now).await.unwrap().unwrap();
            if !now.enabled && now.spec.pos_settings["base_url"] == "http://b" {
                break;
            }
            assert!(
                !sqlite,
                "SQLite: a fresh read must see the change at once: {now:?}"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "never saw the change: {now:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // Own writes are forgotten at once on any database.
        here.enable("r1", 4).await.unwrap();
        assert!(
            here.cached("r1", Freshness::Recent)
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_counts_open_payments_in_the_same_read() {
    on_both(health_counts).await;
}

async fn health_counts(s: Store) {
    let open = [PaymentState::Accepted, PaymentState::Posting];
    assert_eq!(s.check_health(&open).await.unwrap(), vec![]);
    for (id, at) in [("h1", 100), ("h2", 50), ("h3", 70)] {
        assert!(matches!(
            s.insert(id, &request(id, &format!("bill-{id}")), at)
                .await
                .unwrap(),
            Inserted::New(_)
        ));
    }
    // Three accepted, the oldest changed at 50; none posting; states not asked for not counted.
    assert_eq!(
        s.check_health(&open).await.unwrap(),
        vec![(PaymentState::Accepted, 3, Some(50))]
    );
    assert_eq!(
        s.check_health(&[PaymentState::Closed]).await.unwrap(),
        vec![]
    );
    assert_eq!(s.check_health(&[]).await.unwrap(), vec![]);
}
