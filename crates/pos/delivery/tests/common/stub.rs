//! A tiny canned r_k Delivery: answers each request with whatever the test's closure says, and
//! records what it received. Plays independent implementations (other wording, other shapes,
//! proxies with HTML errors, answers that never come) that the simulator does not.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One canned answer.
pub struct Canned {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
    pub content_type: &'static str,
    /// A `Location` header (redirects).
    pub location: Option<String>,
}

impl Canned {
    pub fn json(body: impl Into<String>) -> Self {
        Canned {
            status: 200,
            body: body.into(),
            delay: Duration::ZERO,
            content_type: "application/json; charset=utf-8",
            location: None,
        }
    }

    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Canned {
            status,
            body: body.into(),
            delay: Duration::ZERO,
            content_type: "text/html",
            location: None,
        }
    }

    /// A redirect to `location` with an empty body, as a load balancer sends it.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Canned {
            location: Some(location.into()),
            ..Canned::html(status, "")
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

    /// A token answer.
    pub fn token(token: &str, expires_in: u64) -> Self {
        Canned::json(format!(
            r#"{{"access_token":"{token}","expires_in":{expires_in},"token_type":"Bearer"}}"#
        ))
    }
}

/// What the stub received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub raw: String,
}

impl Seen {
    pub fn is(&self, method: &str, path_suffix: &str) -> bool {
        self.method.as_str() == method && self.path.ends_with(path_suffix)
    }

    pub fn is_token(&self) -> bool {
        self.path.ends_with("/connect/token")
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Canned + Send + Sync>;

#[derive(Clone)]
pub struct Stub {
    handler: Handler,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    pub fn new(handler: impl Fn(&Seen) -> Canned + Send + Sync + 'static) -> Self {
        Stub {
            handler: Arc::new(handler),
            seen: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.is(method, path_suffix))
            .count()
    }

    pub fn tokens(&self) -> usize {
        self.seen().iter().filter(|s| s.is_token()).count()
    }

    /// Serves on 127.0.0.1:0 in the background.
    pub async fn spawn(&self) -> SocketAddr {
        let app = axum::Router::new().fallback(any).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        addr
    }
}

async fn any(
    State(stub): State<Stub>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let seen = Seen {
        method,
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers,
        raw: String::from_utf8_lossy(&body).to_string(),
    };
    stub.seen.lock().unwrap().push(seen.clone());
    let canned = (stub.handler)(&seen);
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
