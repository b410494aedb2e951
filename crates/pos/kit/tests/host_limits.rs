//! The adapter's bound on HTTP exchanges at once with one POS server
//! (`max_connections_per_host`): a burst of payments waits its turn in the adapter instead of
//! opening a connection each, and each server has its own bound. Against two local servers
//! that count the requests they are answering at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posgate_pos_kit::{HostLimits, HttpPolicy, PosCall, send};

/// Requests a server is answering now, and the most at once.
#[derive(Default)]
struct Busy {
    now: AtomicUsize,
    most: AtomicUsize,
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
    let http = HttpPolicy::new("kit-test").build().unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for (s, addr) in servers.iter().enumerate() {
        for i in 0..n {
            let call = PosCall {
                pos: "kit_test",
                restaurant_id: format!("r{s}-{i}").into(),
                trace_headers: false,
                hosts: hosts.clone(),
            };
            let request = http.post(format!("http://{addr}/pay"));
            calls.spawn(call.run(send(request, "Test POS")));
        }
    }
    let mut statuses = Vec::new();
    while let Some(done) = calls.join_next().await {
        statuses.push(done.unwrap().expect("answered").status.as_u16());
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
