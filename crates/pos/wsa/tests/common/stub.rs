//! A tiny canned White Server: answers each request with whatever the test's closure says,
//! and records what it received. Used to play independent WSA implementations (other
//! wording, other shapes, broken proxies) that the simulator does not.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One canned answer.
pub struct Canned {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    /// A `Location` header (redirects).
    pub location: Option<String>,
}

impl Canned {
    pub fn json(body: impl Into<String>) -> Self {
        Canned {
            status: 200,
            body: body.into(),
            delay: Duration::ZERO,
            location: None,
        }
    }

    /// A redirect to `location`, with a small HTML body as proxies send.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Canned {
            location: Some(location.into()),
            ..Canned::json("<html><body>Moved</body></html>").status(status)
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
    pub headers: HeaderMap,
    pub raw: String,
    pub json: Value,
}

impl Seen {
    pub fn task_type(&self) -> &str {
        self.json["taskType"].as_str().unwrap_or("")
    }
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

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn seen_of(&self, task_type: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.task_type() == task_type)
            .collect()
    }

    /// Serves on 127.0.0.1:0 in the background. Every request is recorded and answered by
    /// the handler, whatever its method and path (a redirected GET would show too).
    pub async fn spawn(&self) -> SocketAddr {
        let app = axum::Router::new()
            .fallback(create)
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        addr
    }
}

async fn create(State(stub): State<Stub>, headers: HeaderMap, body: Bytes) -> Response {
    let raw = String::from_utf8_lossy(&body).to_string();
    let json: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    stub.seen.lock().unwrap().push(Seen {
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
        [("content-type", "application/json")],
        canned.body,
    )
        .into_response();
    if let Some(l) = canned.location {
        resp.headers_mut()
            .insert("location", l.parse().expect("a valid Location"));
    }
    resp
}
