//! The kit's HTTP policy against real sockets on 127.0.0.1: what each transport failure means,
//! and that a redirect is refused without anything reaching the redirect target.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use posgate_pos_kit::{Fate, HttpPolicy, send};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn policy() -> HttpPolicy {
    HttpPolicy::new("kit-test")
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_millis(400))
}

/// A raw TCP server: each connection is handed to `f`.
async fn raw<F, Fut>(f: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(f(s));
        }
    });
    addr
}

/// Reads until the end of the request head (these tests send no body).
async fn read_head(s: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[tokio::test]
async fn connection_refused_is_not_sent() {
    // A port that was just free: nothing listens there.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let http = policy().build().unwrap();
    let f = send(http.post(format!("http://{addr}/pay")), "Test POS")
        .await
        .unwrap_err();
    assert_eq!(f.fate, Fate::NotSent, "{f:?}");
    assert_eq!(f.code, "transport/connect");
    assert!(
        f.text.starts_with("could not connect to Test POS"),
        "{}",
        f.text
    );
    assert!(!f.text.contains(&addr.to_string()), "no URL: {}", f.text);
}

#[tokio::test]
async fn a_server_that_accepts_then_hangs_is_unknown() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let http = policy().build().unwrap();
    let f = send(http.post(format!("http://{addr}/pay")), "Test POS")
        .await
        .unwrap_err();
    assert_eq!(f.fate, Fate::Unknown, "{f:?}");
    assert_eq!(f.code, "transport/timeout");
}

#[tokio::test]
async fn a_connection_closed_after_the_request_is_unknown() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        drop(s);
    })
    .await;
    let http = policy().build().unwrap();
    let f = send(http.post(format!("http://{addr}/pay")), "Test POS")
        .await
        .unwrap_err();
    assert_eq!(f.fate, Fate::Unknown, "{f:?}");
    assert_eq!(f.code, "transport/error");
}

#[tokio::test]
async fn a_body_that_stops_midway_is_unknown() {
    let addr = raw(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"half\":")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let http = policy().build().unwrap();
    let f = send(http.post(format!("http://{addr}/pay")), "Test POS")
        .await
        .unwrap_err();
    assert_eq!(f.fate, Fate::Unknown, "{f:?}");
    assert_eq!(f.code, "transport/timeout");
}

/// What a server received: (path, headers).
type Log = Arc<Mutex<Vec<(String, HeaderMap)>>>;

async fn recording(
    answer: impl Fn() -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let l2 = log.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap| {
        let log = l2.clone();
        let answer = answer.clone();
        async move {
            log.lock().unwrap().push((uri.path().to_string(), headers));
            answer()
        }
    });
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (addr, log)
}

#[tokio::test]
async fn redirects_are_refused_and_nothing_reaches_the_target() {
    let (other, other_log) = recording(|| "booked".into_response()).await;
    for status in [301u16, 302, 303, 307, 308] {
        let location = format!("http://{other}/elsewhere");
        let loc = location.clone();
        let (first, first_log) = recording(move || {
            (
                StatusCode::from_u16(status).unwrap(),
                [("location", loc.clone())],
                "moved",
            )
                .into_response()
        })
        .await;
        let http = policy().build().unwrap();
        let f = send(
            http.post(format!("http://{first}/pay"))
                .header("Authorization", "Bearer SECRET-TOKEN")
                .body("{\"amount\": 1}"),
            "Test POS",
        )
        .await
        .unwrap_err();
        assert_eq!(f.fate, Fate::Refused, "{status}: {f:?}");
        assert_eq!(f.code, format!("HTTP/{status}"));
        assert_eq!(f.location.as_deref(), Some(location.as_str()));
        assert!(f.text.contains(&location), "{}", f.text);
        assert!(!f.text.contains("SECRET-TOKEN"));
        assert_eq!(first_log.lock().unwrap().len(), 1, "{status}: sent once");
    }
    assert!(
        other_log.lock().unwrap().is_empty(),
        "nothing followed a redirect"
    );
}

#[tokio::test]
async fn answers_carry_the_user_agent_and_default_headers() {
    let (addr, log) = recording(|| (StatusCode::CREATED, "{}").into_response()).await;
    let http = policy()
        .header(axum::http::header::ACCEPT, "application/json")
        .fresh_connections()
        .build()
        .unwrap();
    let a = send(http.get(format!("http://{addr}/x")), "Test POS")
        .await
        .unwrap();
    assert_eq!(a.status.as_u16(), 201);
    assert_eq!(a.body, b"{}");
    let seen = log.lock().unwrap();
    let h = &seen[0].1;
    assert_eq!(
        h["user-agent"],
        concat!("posgate-kit-test/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(h["accept"], "application/json");
}
