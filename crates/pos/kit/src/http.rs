//! The one HTTP client policy of every POS client, and the one reading of a failed exchange.
//!
//! * [`HttpPolicy::build`]: a `reqwest` client with rustls, a connect timeout and an optional
//!   default request timeout from the caller, a `posgate-<component>/<version>` user agent, and
//!   **no redirects**. A redirect is never the POS's answer: following it would re-send a
//!   payment (307/308) or turn it into a GET (301/302/303) to a host nobody configured, with the
//!   credentials (`AggregatorAuthentication`, a bearer token, a client secret) attached.
//! * [`send`]: one exchange — sends, refuses a 3xx as a [`HttpFailure`] carrying `Location`,
//!   reads the whole body, in a `pos.http` span whose W3C `traceparent` goes out with the request
//!   (the vendors' APIs ignore headers they do not know), so the POS call joins the payment's
//!   trace — unless the restaurant's connection says `trace_headers = false` (a POS server that
//!   refuses unknown headers; [`crate::common`]), which the adapter server makes known to `send`
//!   through the [`PosCall`] it runs each connector call in. Each exchange is timed by POS kind
//!   and result ([`crate::metric_definitions::POS_HTTP_DURATION`]). Every failure comes with its
//!   [`Fate`]:
//!
//! | what happened | [`Fate`] | code |
//! |---|---|---|
//! | the request could not be built (bad header value, bad URL) | `Refused` | `adapter/request` |
//! | the server's certificate is not trusted (self-signed, expired, wrong name) | `Refused` | `transport/tls` |
//! | no connection: refused, DNS, connect timeout, another TLS failure | `NotSent` | `transport/connect` |
//! | 3xx answer (not followed) | `Refused` | `HTTP/<status>` |
//! | timeout after the connection was made (waiting, or reading the body) | `Unknown` | `transport/timeout` |
//! | no turn with a busy POS server before the call's deadline ([`HostLimits`]) | `NotSent` | `transport/queued` |
//! | the body broke off while being read | `Unknown` | `transport/body` |
//! | anything else after sending (reset, closed before the answer) | `Unknown` | `transport/error` |
//!
//! Texts never carry the URL (it has no secret, but keeps texts short and stable) and never a
//! header value; they carry the error's causes (a TLS failure says why).
//!
//! At most [`HostLimits`]' number of exchanges run at once with one POS server (scheme, host,
//! port); the rest wait their turn in the adapter. A burst of thousands of payments would
//! otherwise open a connection each (HTTP/1.1 carries one exchange at a time; ~30 KiB of
//! buffers and channels per connection in hyper), and a POS server is not served better by
//! thousands of sockets at once. Envoy's circuit breakers (1,024 connections per cluster) and
//! OkHttp's dispatcher (5 requests per host) bound the same thing. The adapter's
//! `max_connections_per_host` sets it ([`crate::run`]).
//!
//! On-premises POS servers often have a certificate from their own authority: a restaurant's
//! CA bundle (PEM) is trusted beside the public roots ([`HttpPolicy::trust_pem`]). A certificate
//! the client does not trust is a configuration to fix, not a passing failure: it is refused
//! with its cause (and the setting to fix), not retried forever as "could not connect".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{RequestBuilder, StatusCode};

/// Longest `Location` kept in a failure text.
const MAX_LOCATION: usize = 500;

/// What a failed exchange means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Nothing reached the server: safe to send again.
    NotSent,
    /// The request left; whether the server acted on it is unknown. Read before writing again.
    Unknown,
    /// Nothing reached a POS that books, and sending again will not help until someone fixes
    /// the configuration (a redirect) or the request (it could not be built).
    Refused,
}

/// A failed exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    pub fate: Fate,
    /// `transport/connect`, `transport/timeout`, `transport/body`, `transport/error`,
    /// `adapter/request`, `HTTP/307`, ...
    pub code: String,
    /// Our description, naming the peer; for a redirect it includes `Location`.
    pub text: String,
    /// The redirect target, when the server answered 3xx (`Some("")` without a `Location`).
    pub location: Option<String>,
}

/// A complete answer that is not a redirect.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// How one POS client talks HTTP. Build one per adapter (or per restaurant) and share it.
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// Names the client: user agent `posgate-<component>/<version>`.
    pub component: &'static str,
    pub connect_timeout: Duration,
    /// The default whole-request deadline; a request may set its own (`RequestBuilder::timeout`).
    pub request_timeout: Option<Duration>,
    /// Keep idle connections for reuse; `false`: a fresh connection per request (a pooled
    /// connection the server just closed fails *after* sending, a fresh one fails at connect).
    pub reuse_connections: bool,
    /// Headers sent with every request (`Accept`, `Content-Type`); never credentials.
    pub headers: HeaderMap,
    /// Certificate authorities (PEM) trusted beside the public roots: the restaurant's own.
    pub ca_pem: Option<String>,
}

impl HttpPolicy {
    /// Pooled connections, a 10 s connect timeout, no default request timeout.
    pub fn new(component: &'static str) -> Self {
        HttpPolicy {
            component,
            connect_timeout: Duration::from_secs(10),
            request_timeout: None,
            reuse_connections: true,
            headers: HeaderMap::new(),
            ca_pem: None,
        }
    }

    /// Trusts the certificate authorities of this PEM bundle too (a restaurant's own CA).
    pub fn trust_pem(mut self, pem: Option<&str>) -> Self {
        self.ca_pem = pem.map(str::to_string);
        self
    }

    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = Some(d);
        self
    }

    pub fn fresh_connections(mut self) -> Self {
        self.reuse_connections = false;
        self
    }

    pub fn header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.insert(name, HeaderValue::from_static(value));
        self
    }

    /// The user agent this policy sends.
    pub fn user_agent(&self) -> String {
        format!("posgate-{}/{}", self.component, env!("CARGO_PKG_VERSION"))
    }

    /// The client. Redirects are never followed, whatever the caller wants.
    pub fn build(&self) -> Result<reqwest::Client, reqwest::Error> {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .default_headers(self.headers.clone())
            .connect_timeout(self.connect_timeout)
            .tcp_keepalive(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.user_agent());
        if let Some(t) = self.request_timeout {
            b = b.timeout(t);
        }
        if let Some(pem) = &self.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem.as_bytes())? {
                b = b.add_root_certificate(cert);
            }
        }
        b = if self.reuse_connections {
            b.pool_idle_timeout(Duration::from_secs(60))
        } else {
            b.pool_max_idle_per_host(0)
        };
        b.build()
    }
}

/// The call to a connector an HTTP exchange is part of: which POS kind, for which restaurant,
/// and whether its connection lets `traceparent` go out. The adapter server runs every
/// connector call in one ([`PosCall::run`]); [`send`] reads it, so no connector passes it on.
#[derive(Debug, Clone)]
pub struct PosCall {
    pub pos: &'static str,
    pub restaurant_id: Arc<str>,
    /// The restaurant's `trace_headers` ([`crate::common::CommonSettings`]).
    pub trace_headers: bool,
    /// The adapter's bound on exchanges at once per POS server; none: unbounded.
    pub hosts: Option<Arc<HostLimits>>,
    /// When the caller stops waiting (its gRPC deadline, less a margin for the answer to get
    /// back): an exchange still waiting for its turn then is given up as not sent.
    pub deadline: Option<tokio::time::Instant>,
}

/// At most `max` exchanges at once with one POS server (see the module comment): a semaphore
/// per origin (scheme, host, port), made on first use.
#[derive(Debug)]
pub struct HostLimits {
    max: usize,
    hosts: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
    /// When a long wait was last logged (unix s): at most one warning a minute.
    warned_at: std::sync::atomic::AtomicU64,
}

/// A wait for a turn this long is logged (at most once a minute): the bound may be too low for
/// the server (WSA sync payments hold their exchange for as long as the POS takes).
const LONG_WAIT: Duration = Duration::from_secs(1);

impl HostLimits {
    fn warn_if_long(&self, url: &reqwest::Url, waited: Duration) {
        use std::sync::atomic::Ordering;
        if waited < LONG_WAIT {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.warned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                host = url.host_str().unwrap_or_default(),
                waited_ms = waited.as_millis() as u64,
                max_connections_per_host = self.max,
                "an exchange waited for its turn with a busy POS server; raise the adapter's max_connections_per_host if the server takes more at once (logged at most once a minute)"
            );
        }
    }

    /// The adapter's default `max_connections_per_host`.
    pub const DEFAULT_MAX: usize = 256;

    pub fn new(max: usize) -> HostLimits {
        HostLimits {
            max: max.max(1),
            hosts: Mutex::default(),
            warned_at: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Waits for a turn with `url`'s server, until `deadline` at most; the turn ends when the
    /// permit is dropped (after the whole answer was read). `Err`: how long it waited in vain.
    pub async fn turn(
        &self,
        url: &reqwest::Url,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, Duration> {
        let origin = format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        let limit = {
            let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(
                hosts
                    .entry(origin)
                    .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.max))),
            )
        };
        if let Ok(p) = Arc::clone(&limit).try_acquire_owned() {
            return Ok(p);
        }
        let started = Instant::now();
        let acquire = limit.acquire_owned();
        let got = match deadline {
            Some(at) => tokio::time::timeout_at(at, acquire).await.ok(),
            None => Some(acquire.await),
        };
        let waited = started.elapsed();
        crate::metric_definitions::pos_http_queued(PosCall::current().as_ref(), waited);
        self.warn_if_long(url, waited);
        match got {
            // Never closed: the semaphore lives in the map as long as the limits.
            Some(p) => Ok(p.unwrap_or_else(|_| unreachable!("host limits are never closed"))),
            None => Err(waited),
        }
    }
}

tokio::task_local! {
    static CALL: PosCall;
}

impl PosCall {
    /// Runs `f` (a connector's call) as this call: every [`send`] inside it knows it.
    pub async fn run<F: Future>(self, f: F) -> F::Output {
        CALL.scope(self, f).await
    }

    /// The call the current task is in, if any.
    pub fn current() -> Option<PosCall> {
        CALL.try_with(Clone::clone).ok()
    }
}

/// One exchange with `peer` (a name for texts: "White Server", "r_k Delivery"): the whole
/// answer, or a classified failure. A 3xx is a failure; its body is not read.
///
/// Not an `async fn`: its builder is boxed when `send` is called, so a connector's future,
/// which holds `send`'s inline for all its life (a WSA async posting sleeps between polls for
/// seconds), holds pointers and the call's labels, not the request builder. The call
/// ([`PosCall::current`]) is the one the future runs in, as for an `async fn`.
pub fn send(
    rb: RequestBuilder,
    peer: &str,
) -> impl Future<Output = Result<HttpAnswer, HttpFailure>> + '_ {
    let rb = Box::new(rb);
    async move {
        let call = PosCall::current();
        let started = Instant::now();
        // Boxed: the exchange's state (reqwest's and hyper's futures) is allocated while it runs.
        let sent = Box::pin(exchange(*rb, peer, call.clone())).await;
        let result = match &sent {
            Ok(a) => a.status.as_str().to_string(),
            Err(f) => f.code.clone(),
        };
        crate::metric_definitions::pos_http(call.as_ref(), result, started.elapsed());
        sent
    }
}

/// [`send`]'s exchange: with the trace headers unless the call's restaurant says no, after
/// waiting for a turn with the server when the call's adapter bounds it.
///
/// Not an `async fn`: the request is built before the future is, so a future waiting for its
/// turn holds the built request alone (not the builder, the trace headers and the request).
fn exchange(
    rb: RequestBuilder,
    peer: &str,
    call: Option<PosCall>,
) -> impl Future<Output = Result<HttpAnswer, HttpFailure>> + '_ {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "pos.http",
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        peer = peer,
        http.response.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    posgate_grpc::telemetry::otel_name(&span, &"pos.http", "client");
    posgate_grpc::telemetry::record_trace_id(&span);
    let mut trace = HeaderMap::new();
    if call.as_ref().is_none_or(|c| c.trace_headers) {
        span.in_scope(|| posgate_grpc::telemetry::inject_headers(&mut trace));
    }
    let (client, request) = rb.headers(trace).build_split();
    async move {
        let request = request.map_err(|e| transport(e, peer))?;
        // Held until the whole answer is read: the connection is busy until then.
        let _turn = match call
            .as_ref()
            .and_then(|c| c.hosts.as_ref().map(|h| (h, c.deadline)))
        {
            Some((hosts, deadline)) => Some(
                hosts
                    .turn(request.url(), deadline)
                    .await
                    .map_err(|waited| queued(peer, hosts.max(), waited))?,
            ),
            None => None,
        };
        // Boxed only once it has a turn: reqwest's and hyper's futures are not held
        // by the exchanges waiting for one (thousands, with WSA async polls queued per server).
        Box::pin(execute(client, request, peer)).await
    }
    .instrument(span)
}

/// [`exchange`]'s request on the wire, once it has its turn: the answer read whole.
async fn execute(
    client: reqwest::Client,
    request: reqwest::Request,
    peer: &str,
) -> Result<HttpAnswer, HttpFailure> {
    let resp = client
        .execute(request)
        .await
        .map_err(|e| transport(e, peer))?;
    let status = resp.status();
    tracing::Span::current().record("http.response.status_code", status.as_u16());
    if let Some(f) = redirect(status, resp.headers(), peer) {
        return Err(f);
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| transport(e, peer))?;
    Ok(HttpAnswer {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// An exchange given up before it was sent: no turn with `peer` came before the caller's
/// deadline.
fn queued(peer: &str, max: usize, waited: Duration) -> HttpFailure {
    HttpFailure {
        fate: Fate::NotSent,
        code: "transport/queued".into(),
        text: format!(
            "{peer} was busy with {max} exchanges from this adapter (max_connections_per_host) for the {} ms the call could wait; nothing was sent",
            waited.as_millis()
        ),
        location: None,
    }
}

/// The server's id of the exchange, from the headers that usually carry it
/// (`x-request-id`, `request-id`, `x-correlation-id`).
pub fn request_id(h: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id", "x-correlation-id"]
        .iter()
        .find_map(|k| h.get(*k)?.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A 3xx answer as a failure: refused, with `Location` in the text.
pub fn redirect(status: StatusCode, headers: &HeaderMap, peer: &str) -> Option<HttpFailure> {
    if !status.is_redirection() {
        return None;
    }
    let location: String = headers
        .get(LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
        .unwrap_or_default()
        .chars()
        .take(MAX_LOCATION)
        .collect();
    let target = if location.is_empty() {
        "no Location".to_string()
    } else {
        format!("Location: {location}")
    };
    Some(HttpFailure {
        fate: Fate::Refused,
        code: format!("HTTP/{}", status.as_u16()),
        text: format!(
            "{peer} answered HTTP {status} redirecting elsewhere ({target}); redirects are never \
             followed, nothing was sent there and nothing was booked: fix the configured URL"
        ),
        location: Some(location),
    })
}

/// The transport rows, first match wins: predicate, fate, code, what happened.
type Row = (
    fn(&reqwest::Error) -> bool,
    Fate,
    &'static str,
    &'static str,
);
const TRANSPORT: &[Row] = &[
    (
        reqwest::Error::is_builder,
        Fate::Refused,
        "adapter/request",
        "the request to {peer} could not be built (nothing was sent)",
    ),
    // Before `is_connect`: an untrusted certificate fails the connection, but waiting will
    // not fix it.
    (
        is_certificate_failure,
        Fate::Refused,
        "transport/tls",
        "{peer}'s TLS certificate is not trusted (nothing was sent); if the POS server has a certificate from its own authority, set the restaurant's CA bundle (its ca_pem setting in the registry)",
    ),
    // Before `is_timeout`: a connect timeout is both, and nothing was sent.
    (
        reqwest::Error::is_connect,
        Fate::NotSent,
        "transport/connect",
        "could not connect to {peer} (nothing was sent)",
    ),
    (
        reqwest::Error::is_timeout,
        Fate::Unknown,
        "transport/timeout",
        "no answer from {peer} in time after the request was sent",
    ),
    (
        reqwest::Error::is_body,
        Fate::Unknown,
        "transport/body",
        "reading {peer}'s answer failed after the request was sent",
    ),
];
const AFTER_SENDING: (&str, &str) = (
    "transport/error",
    "the exchange with {peer} failed after the request was sent",
);

/// Classifies a `reqwest` error (from sending or from reading the body).
pub fn transport(e: reqwest::Error, peer: &str) -> HttpFailure {
    let e = e.without_url();
    let (fate, code, what) = TRANSPORT
        .iter()
        .find(|(test, ..)| test(&e))
        .map(|&(_, fate, code, what)| (fate, code, what))
        .unwrap_or((Fate::Unknown, AFTER_SENDING.0, AFTER_SENDING.1));
    HttpFailure {
        fate,
        code: code.to_string(),
        text: format!("{}: {}", what.replace("{peer}", peer), causes(&e)),
        location: None,
    }
}

/// Whether the connection failed because the server's certificate was refused: rustls says
/// so in the error chain ("invalid peer certificate: UnknownIssuer", "NotValidForName",
/// "Expired", ...).
fn is_certificate_failure(e: &reqwest::Error) -> bool {
    e.is_connect() && {
        let c = causes(e).to_ascii_lowercase();
        c.contains("invalid peer certificate") || c.contains("certificate verify failed")
    }
}

/// The HTTP client for one restaurant: `shared` (the adapter's, trusting the public roots)
/// unless its connection brings its own CA bundle, then one `build` makes trusting it too. The
/// error names the setting (`setting "ca_pem" cannot be trusted: ...`).
pub fn restaurant_client(
    shared: &reqwest::Client,
    ca_pem: Option<&str>,
    build: impl FnOnce(Option<&str>) -> Result<reqwest::Client, reqwest::Error>,
) -> Result<reqwest::Client, String> {
    match ca_pem {
        None => Ok(shared.clone()),
        Some(pem) => {
            build(Some(pem)).map_err(|e| format!("setting \"ca_pem\" cannot be trusted: {e}"))
        }
    }
}

/// Reads a CA bundle (PEM) a restaurant names: checked by [`check_ca_pem`], or an error naming
/// the file and what is wrong.
pub fn read_ca_bundle(path: &std::path::Path) -> Result<String, String> {
    let pem =
        std::fs::read_to_string(path).map_err(|e| format!("CA bundle {}: {e}", path.display()))?;
    check_ca_pem(&pem).map_err(|e| format!("CA bundle {} {e}", path.display()))?;
    Ok(pem)
}

/// Checks a CA bundle (PEM) given inline (a connection's `ca_pem`) or read from a file: it
/// holds at least one certificate, and the TLS stack takes them (a block can be PEM and still
/// not a certificate rustls reads: that would only show when the client is built). The error
/// follows the setting's name (`ca_pem holds no readable PEM certificate`) and never quotes
/// the bundle.
pub fn check_ca_pem(pem: &str) -> Result<(), String> {
    match reqwest::Certificate::from_pem_bundle(pem.as_bytes()) {
        Ok(certs) if !certs.is_empty() => {}
        Ok(_) => return Err("holds no readable PEM certificate".into()),
        Err(e) => return Err(format!("is not a readable PEM bundle: {}", causes(&e))),
    }
    HttpPolicy::new("ca-check")
        .trust_pem(Some(pem))
        .build()
        .map(drop)
        .map_err(|e| {
            format!(
                "cannot be trusted (not a certificate the TLS stack takes): {}",
                causes(&e)
            )
        })
}

/// An error and its causes, `: `-separated.
fn causes(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(c) = source {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        source = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector's future holds `send`'s while an exchange runs and, inline, also while it
    /// waits between exchanges: the exchange itself is boxed (2,120 bytes inline before), and
    /// its builder boxed before `send`'s future is made (384 → 120 bytes).
    #[test]
    fn an_exchange_is_held_boxed() {
        let http = HttpPolicy::new("kit-test").build().unwrap();
        let sending = send(http.post("http://127.0.0.1:1/pay"), "Test POS");
        let size = std::mem::size_of_val(&sending);
        eprintln!("send {size} bytes");
        assert!(size <= 256, "send: {size} bytes");
    }

    /// An exchange waiting for its turn with a busy server (thousands of WSA async polls at a
    /// dinner peak) holds no reqwest or hyper state: that part is boxed once the turn comes
    /// (1,760 bytes before, 952 after).
    #[test]
    fn an_exchange_waiting_for_its_turn_is_small() {
        let http = HttpPolicy::new("kit-test").build().unwrap();
        let exchanging = exchange(http.post("http://127.0.0.1:1/pay"), "Test POS", None);
        let size = std::mem::size_of_val(&exchanging);
        eprintln!("exchange {size} bytes");
        assert!(size <= 1024, "exchange: {size} bytes");
    }

    #[test]
    fn a_redirect_is_refused_with_its_location() {
        let mut h = HeaderMap::new();
        h.insert(LOCATION, HeaderValue::from_static("http://elsewhere:9/x"));
        let f = redirect(StatusCode::TEMPORARY_REDIRECT, &h, "White Server").unwrap();
        assert_eq!(f.fate, Fate::Refused);
        assert_eq!(f.code, "HTTP/307");
        assert_eq!(f.location.as_deref(), Some("http://elsewhere:9/x"));
        assert!(
            f.text.contains("Location: http://elsewhere:9/x"),
            "{}",
            f.text
        );
        assert!(
            f.text.starts_with("White Server answered HTTP 307"),
            "{}",
            f.text
        );

        let f = redirect(StatusCode::FOUND, &HeaderMap::new(), "X").unwrap();
        assert_eq!(f.location.as_deref(), Some(""));
        assert!(f.text.contains("no Location"), "{}", f.text);

        assert!(redirect(StatusCode::OK, &h, "X").is_none());
        assert!(redirect(StatusCode::BAD_REQUEST, &h, "X").is_none());
    }

    #[test]
    fn a_long_location_is_cut() {
        let mut h = HeaderMap::new();
        let long = format!("http://x/{}", "a".repeat(2_000));
        h.insert(LOCATION, HeaderValue::from_str(&long).unwrap());
        let f = redirect(StatusCode::MOVED_PERMANENTLY, &h, "X").unwrap();
        assert_eq!(f.location.unwrap().len(), MAX_LOCATION);
    }

    #[test]
    fn the_user_agent_names_posgate_and_the_component() {
        let p = HttpPolicy::new("wsa");
        assert_eq!(
            p.user_agent(),
            concat!("posgate-wsa/", env!("CARGO_PKG_VERSION"))
        );
    }
}
