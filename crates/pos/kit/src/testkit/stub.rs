//! A tiny canned HTTP POS: answers each request with whatever the test's closure says, and
//! records what it received.
//!
//! Why it exists: a simulator plays one implementation of a POS; the adapters must also hold
//! against others — other wording, other shapes and statuses, proxies with HTML pages, empty
//! bodies, other encodings, answers that come late or redirect. Each POS's tests play those
//! with a [`Stub`]: the scaffold (serving, recording, delays, redirects) is here, the answers
//! are the test's.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
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
    /// `200` with `body` as `application/json; charset=utf-8`.
    pub fn json(body: impl Into<String>) -> Self {
        Canned::bytes(body.into().into_bytes(), "application/json; charset=utf-8")
    }

    /// `status` with an HTML `body`, as a proxy sends it.
    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Canned::bytes(body.into().into_bytes(), "text/html").status(status)
    }

    /// `200` with `body` as `content_type`.
    pub fn bytes(body: Vec<u8>, content_type: &'static str) -> Self {
        Canned {
            status: 200,
            content_type,
            body,
            delay: Duration::ZERO,
            location: None,
        }
    }

    /// A redirect to `location`, with a small HTML body as proxies send.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Canned {
            location: Some(location.into()),
            ..Canned::html(status, "<html><body>Moved</body></html>")
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
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub raw: String,
    /// The body read as JSON (`Null` when it is not).
    pub json: Value,
}

impl Seen {
    /// A `method` request to a path ending in `path_suffix`.
    pub fn is(&self, method: &str, path_suffix: &str) -> bool {
        self.method.as_str() == method && self.path.ends_with(path_suffix)
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Canned + Send + Sync>;

#[derive(Clone)]
pub struct Stub {
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    /// Answers each request with `handler(request)`.
    pub fn new(handler: impl Fn(&Seen) -> Canned + Send + Sync + 'static) -> Self {
        Stub {
            handler: Arc::new(handler),
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Answers each request with `handler(its JSON body)`.
    pub fn on_json(handler: impl Fn(&Value) -> Canned + Send + Sync + 'static) -> Self {
        Stub::new(move |seen| handler(&seen.json))
    }

    /// Always the same answer.
    pub fn always(status: u16, content_type: &'static str, body: &[u8]) -> Self {
        let body = body.to_vec();
        Stub::new(move |_| Canned::bytes(body.clone(), content_type).status(status))
    }

    /// Every request received, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests received that `pick` picks.
    pub fn seen_where(&self, pick: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| pick(s)).collect()
    }

    /// How many `method` requests to a path ending in `path_suffix` were received.
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.seen_where(|s| s.is(method, path_suffix)).len()
    }

    /// Serves on 127.0.0.1:0 in the background. Every request is recorded and answered by
    /// the handler, whatever its method and path (a redirected GET would show too).
    pub async fn spawn(&self) -> SocketAddr {
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stub's port");
        let addr = listener.local_addr().expect("the stub's address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }
}

async fn answer(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = String::from_utf8_lossy(&body).to_string();
    let seen = Seen {
        method,
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers,
        json: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    };
    stub.seen.lock().unwrap().push(seen.clone());
    let canned = (stub.handler)(&seen);
    if !canned.delay.is_zero() {
        tokio::time::sleep(canned.delay).await;
    }
    let mut resp = (
        StatusCode::from_u16(canned.status).expect("a valid status"),
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
