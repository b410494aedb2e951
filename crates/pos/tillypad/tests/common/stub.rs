//! A tiny canned Tillypad: answers each `/pay-guest` with whatever the test's closure says,
//! and records what it received. Plays independent Tillypad implementations (other wording,
//! other statuses, proxies with HTML, empty bodies, windows-1251) that the simulator does not.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

/// One canned answer.
pub struct Canned {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub delay: Duration,
    /// A `Location` header (redirects).
    pub location: Option<String>,
}

impl Canned {
    pub fn json(body: impl Into<String>) -> Self {
        Canned {
            status: 200,
            content_type: "application/json; charset=utf-8",
            body: body.into().into_bytes(),
            delay: Duration::ZERO,
            location: None,
        }
    }

    pub fn bytes(body: Vec<u8>, content_type: &'static str) -> Self {
        Canned {
            status: 200,
            content_type,
            body,
            delay: Duration::ZERO,
            location: None,
        }
    }

    /// A redirect to `location`, with a short plain-text body.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Canned {
            location: Some(location.into()),
            ..Canned::bytes(b"Redirecting".to_vec(), "text/plain").status(status)
        }
    }

    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

/// What the stub received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub raw: String,
    pub json: Value,
}

type Handler = Arc<dyn Fn(&Value) -> Canned + Send + Sync>;

#[derive(Clone)]
pub struct Stub {
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    pub fn new(handler: impl Fn(&Value) -> Canned + Send + Sync + 'static) -> Self {
        Stub {
            handler: Arc::new(handler),
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Always the same answer.
    pub fn always(status: u16, content_type: &'static str, body: &[u8]) -> Self {
        let body = body.to_vec();
        Stub::new(move |_| Canned::bytes(body.clone(), content_type).status(status))
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Serves on 127.0.0.1:0 in the background, at `/pay-guest` and under any prefix.
    pub async fn spawn(&self) -> SocketAddr {
        let app = axum::Router::new()
            .route("/pay-guest", post(pay))
            .route("/{*prefix}", post(pay))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        addr
    }
}

async fn pay(
    State(stub): State<Stub>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = String::from_utf8_lossy(&body).to_string();
    let json: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    stub.seen.lock().unwrap().push(Seen {
        path: uri.path().to_string(),
        query,
        headers,
        raw,
        json: json.clone(),
    });
    let canned = (stub.handler)(&json);
    if !canned.delay.is_zero() {
        tokio::time::sleep(canned.delay).await;
    }
    let mut resp = (
        StatusCode::from_u16(canned.status).unwrap(),
        [("content-type", canned.content_type)],
        canned.body,
    )
        .into_response();
    if let Some(l) = canned.location {
        resp.headers_mut()
            .insert("location", l.parse().expect("a valid Location"));
    }
    resp
}
