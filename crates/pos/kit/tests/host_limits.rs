//! The adapter's bound on HTTP exchanges at once with one POS server
//! (`max_connections_per_host`): a burst of payments waits its turn in the adapter instead of
//! opening a connection each, and each server has its own bound. Against two local servers
//! that count the requests they are answering at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posgate_pos_kit::{HostLimits, HttpPolicy, PosCall, send};

/// Requests a server is answering now, the most at once, and how many it got.
#[derive(Default)]
struct Busy {
    now: AtomicUsize,
    most: AtomicUsize,
    served: AtomicUsize,
}

/// A POS server answering `POST /pay` after 60 ms.
async fn server() -> (SocketAddr, Arc<Busy>) {
    let busy = Arc::new(Busy::default());
    let seen = Arc::clone(&busy);
    let app = axum::Router::new().route(
        "/pay",
        axum::routing::post(move || {
            let b = Arc::clone(&seen);
            async move {
                b.served.fetch_add(1, Ordering::SeqCst);
                let n = b.now.fetch_add(1, Ordering::SeqCst) + 1;
                b.most.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(60)).await;
                b.now.fetch_sub(1, Ordering::SeqCst);
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, busy)
}

/// `n` exchanges at once with each server, each in its own restaurant's call; the statuses.
async fn burst(servers: &[SocketAddr], n: usize, hosts: Option<Arc<HostLimits>>) -> Vec<u16> {
    burst_until(servers, n, hosts, None)
        .await
        .into_iter()
        .map(|r| r.expect("answered"))
        .collect()
}

/// [`burst`], each call giving up at `deadline`: each exchange's status or failure.
async fn burst_until(
    servers: &[SocketAddr],
    n: usize,
    hosts: Option<Arc<HostLimits>>,
    deadline: Option<tokio::time::Instant>,
) -> Vec<Result<u16, posgate_pos_kit::HttpFailure>> {
    let http = HttpPolicy::new("kit-test").build().unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for (s, addr) in servers.iter().enumerate() {
        for i in 0..n {
            let call = PosCall {
                pos: "kit_test",
                restaurant_id: format!("r{s}-{i}").into(),
                trace_headers: false,
                hosts: hosts.clone(),
                deadline,
            };
            let request = http.post(format!("http://{addr}/pay"));
            calls.spawn(call.run(send(request, "Test POS")));
        }
    }
    let mut statuses = Vec::new();
    while let Some(done) = calls.join_next().await {
        statuses.push(done.unwrap().map(|a| a.status.as_u16()));
    }
    statuses
}

#[tokio::test]
async fn a_burst_waits_its_turn_and_every_exchange_is_answered() {
    let (addr, busy) = server().await;
    let statuses = burst(&[addr], 12, Some(Arc::new(HostLimits::new(3)))).await;
    assert_eq!(statuses, vec![200; 12], "every exchange answered");
    assert_eq!(
        busy.most.load(Ordering::SeqCst),
        3,
        "at most 3 at once, and 3 used"
    );
}

#[tokio::test]
async fn without_a_bound_a_burst_reaches_the_server_at_once() {
    let (addr, busy) = server().await;
    burst(&[addr], 12, None).await;
    assert!(
        busy.most.load(Ordering::SeqCst) > 3,
        "the bound is what held it"
    );
}

#[tokio::test]
async fn each_server_has_its_own_bound() {
    let (a, busy_a) = server().await;
    let (b, busy_b) = server().await;
    let statuses = burst(&[a, b], 6, Some(Arc::new(HostLimits::new(2)))).await;
    assert_eq!(statuses.len(), 12);
    // One server's turns do not hold the other's back.
    assert_eq!(busy_a.most.load(Ordering::SeqCst), 2);
    assert_eq!(busy_b.most.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_exchange_without_a_turn_by_the_call_s_deadline_is_given_up_as_not_sent() {
    // One at a time, 60 ms each, three at once, the calls' deadline at 100 ms: the third's turn
    // could come at 120 ms at the earliest.
    let (addr, busy) = server().await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
    let results = burst_until(
        &[addr],
        3,
        Some(Arc::new(HostLimits::new(1))),
        Some(deadline),
    )
    .await;
    let given_up: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!given_up.is_empty(), "{results:?}");
    for f in &given_up {
        assert_eq!(f.fate, posgate_pos_kit::Fate::NotSent, "{f:?}");
        assert_eq!(f.code, "transport/queued");
        assert!(f.text.contains("nothing was sent"), "{}", f.text);
    }
    assert!(
        results.iter().any(|r| r == &Ok(200)),
        "the first had its turn"
    );
    assert_eq!(busy.most.load(Ordering::SeqCst), 1);
    // Nothing given up reached the server, then or later.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let answered = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(busy.served.load(Ordering::SeqCst), answered);
}
