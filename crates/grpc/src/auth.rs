//! Who may call what between posgate services.
//!
//! **Authentication** is a bearer token per calling service: each server accepts the tokens in
//! `[auth] tokens` (caller name → token) and learns from the `authorization: Bearer <token>`
//! header (the scheme in any case, as HTTP says) which service calls. No or an unknown token →
//! `UNAUTHENTICATED`. Each service sends the token under its own name ([`CallerToken`]).
//!
//! **Authorization** is a table: gRPC service (`posgate.v1.PosAdapter`) or method
//! (`posgate.v1.PosAdapter/PostPayment`) → the callers allowed to call it. A method's row wins
//! over its service's; a service or method in no row is refused; a caller not in the row gets
//! `PERMISSION_DENIED` naming the caller and the method. The defaults ([`DEFAULT_ALLOW`]) are
//! safe: only the payment service may call a POS adapter (anything else could book money on a
//! POS with no payment record, no idempotency and no bill lock), `PaymentService` is for the
//! CLI and the Expirenza adapter, `RestaurantService` (POS credentials) for operators,
//! `ChannelService` (Expirenza channels with their keys) for the Expirenza adapter, and server
//! reflection for any authenticated caller. `[auth.allow]` replaces a default row or adds one,
//! e.g. an internal checkout service:
//! `"posgate.v1.PaymentService" = ["cli", "expirenza", "checkout"]`.
//! `"*"` in a row allows every authenticated caller.
//!
//! **Open**: only the health service ([`OPEN_SERVICES`]) answers without a token, for probes.
//!
//! Both checks run in one tower layer ([`AuthLayer`]) before any handler, because only there
//! is the method's path known. Tokens, not mutual TLS: nothing to issue to run on a laptop and
//! the caller's name in every log line; TLS in front (a mesh, an ingress) adds on unchanged.
//!
//! A server with no token configured refuses to start, unless `[auth] disabled = true` says on
//! purpose that anyone who reaches its port may call anything (tests, a laptop).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::task::{Context, Poll};

use posgate_core::Secret;
use serde::Deserialize;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// The authorization rows every server starts from: who may call what when `[auth.allow]` says
/// nothing else. Keep it least-privilege.
pub const DEFAULT_ALLOW: &[(&str, &[&str])] = &[
    // Only the payment service posts to a POS: it holds the payment record, the idempotency
    // key and the bill lock.
    ("posgate.v1.PosAdapter", &["payments"]),
    // The services that take payments: the CLI (staff, scripts) and the Expirenza adapter.
    ("posgate.v1.PaymentService", &["cli", "expirenza"]),
    // The restaurant registry holds POS credentials: operators only.
    ("posgate.v1.RestaurantService", &["operator"]),
    // The registry's Expirenza channels carry their secret keys: the Expirenza adapter only.
    ("posgate.v1.ChannelService", &["expirenza"]),
    // Server reflection (grpcurl list/describe): the schema is no secret, but a stranger
    // without a token learns nothing about the port; every service holding a token may look.
    ("grpc.reflection.v1.ServerReflection", &[ANY_CALLER]),
    ("grpc.reflection.v1alpha.ServerReflection", &[ANY_CALLER]),
];

/// In an `[auth.allow]` row: every authenticated caller.
pub const ANY_CALLER: &str = "*";

/// gRPC services anyone who reaches the port may call, with no token: health probes (the
/// kubelet, a load balancer, `grpc_health_probe`) carry none, and the answer says nothing but
/// `SERVING` or `NOT_SERVING`. Nothing else is open; `[auth.allow]` cannot open more.
pub const OPEN_SERVICES: &[&str] = &["grpc.health.v1.Health"];

/// Whether `path` (`/grpc.health.v1.Health/Check`) is a method of an [`OPEN_SERVICES`] service.
pub fn is_open(path: &str) -> bool {
    let full = path.trim_start_matches('/');
    let service = full.split_once('/').map_or(full, |(s, _)| s);
    OPEN_SERVICES.contains(&service)
}

/// The `[auth]` section.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthConfig {
    /// Tokens accepted by the servers, by calling service name (`payments`, `expirenza`, `cli`…).
    #[serde(default)]
    pub tokens: BTreeMap<String, Secret>,
    /// Rows over [`DEFAULT_ALLOW`]: gRPC service or `service/Method` → allowed callers.
    #[serde(default)]
    pub allow: BTreeMap<String, Vec<String>>,
    /// Run the servers without authentication. Only on purpose: tests, a laptop.
    #[serde(default)]
    pub disabled: bool,
}

impl AuthConfig {
    /// `[auth]` of the posgate TOML file, then `POSGATE_AUTH__TOKENS__<NAME>` from the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<AuthConfig> {
        crate::load_section(path, "auth")
    }

    /// A config accepting exactly these tokens with the default rows (tests, embedding).
    pub fn with_tokens<'a>(tokens: impl IntoIterator<Item = (&'a str, &'a str)>) -> AuthConfig {
        AuthConfig {
            tokens: tokens
                .into_iter()
                .map(|(k, v)| (k.to_string(), Secret::new(v)))
                .collect(),
            ..AuthConfig::default()
        }
    }

    /// No authentication, on purpose (tests that are not about it).
    pub fn disabled() -> AuthConfig {
        AuthConfig {
            disabled: true,
            ..AuthConfig::default()
        }
    }

    /// The token a service sends on its own calls: the one under its name.
    pub fn caller(&self, service: &str) -> CallerToken {
        CallerToken(
            self.tokens
                .get(service)
                .filter(|t| !t.is_empty())
                .map(|t| Arc::from(format!("Bearer {}", t.expose()))),
        )
    }

    /// The authorization table: [`DEFAULT_ALLOW`] with `[auth.allow]` over it. A malformed key
    /// is refused here, at start, naming it.
    pub fn rules(&self) -> anyhow::Result<Rules> {
        let mut rows: BTreeMap<String, Vec<String>> = DEFAULT_ALLOW
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|c| c.to_string()).collect()))
            .collect();
        for (key, callers) in &self.allow {
            let (service, method) = key.split_once('/').unwrap_or((key, ""));
            let well_formed = service.contains('.')
                && !service.starts_with('.')
                && !service.ends_with('.')
                && service
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
                && method
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !(key.contains('/') && method.is_empty());
            anyhow::ensure!(
                well_formed,
                "[auth.allow] key {key:?} is neither a gRPC service (\"posgate.v1.PaymentService\") nor a method (\"posgate.v1.PaymentService/PayBill\")"
            );
            rows.insert(key.clone(), callers.clone());
        }
        Ok(Rules(Arc::new(rows)))
    }

    /// The server-side check. Without tokens, only when authentication is disabled on purpose.
    pub fn layer(&self, server_name: &str) -> anyhow::Result<AuthLayer> {
        let accepted: Vec<(String, Vec<u8>)> = self
            .tokens
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(name, t)| (name.clone(), t.expose().as_bytes().to_vec()))
            .collect();
        let rules = self.rules()?;
        if accepted.is_empty() {
            anyhow::ensure!(
                self.disabled,
                "{server_name}: no [auth] tokens configured; set [auth] tokens (e.g. POSGATE_AUTH__TOKENS__PAYMENTS=...) or, for local development only, [auth] disabled = true"
            );
            tracing::warn!(
                server = server_name,
                "gRPC authentication is OFF ([auth] disabled = true): anyone who reaches this port can call it"
            );
            return Ok(AuthLayer(None));
        }
        tracing::info!(server = server_name, callers = ?accepted.iter().map(|(n, _)| n).collect::<Vec<_>>(), "gRPC bearer-token authentication and per-method authorization on");
        Ok(AuthLayer(Some(Arc::new(Check { accepted, rules }))))
    }
}

/// Who may call which gRPC service or method.
#[derive(Debug, Clone)]
pub struct Rules(Arc<BTreeMap<String, Vec<String>>>);

impl Rules {
    /// Whether `caller` may call `path` (`/posgate.v1.PosAdapter/PostPayment`): the method's row
    /// if there is one, else its service's; no row, no call.
    pub fn allows(&self, caller: &str, path: &str) -> bool {
        let full = path.trim_start_matches('/');
        let service = full.split_once('/').map_or(full, |(s, _)| s);
        self.0
            .get(full)
            .or_else(|| self.0.get(service))
            .is_some_and(|callers| callers.iter().any(|c| c == caller || c == ANY_CALLER))
    }
}

/// Which service called, as established by its token; in the request's extensions for handlers.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

struct Check {
    accepted: Vec<(String, Vec<u8>)>,
    rules: Rules,
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of an `authorization` header value: scheme `Bearer` in any case, then the token.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Check {
    /// The caller, or the status refusing the call.
    fn decide(&self, authorization: Option<&[u8]>, path: &str) -> Result<Caller, Status> {
        let presented = authorization
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(bearer)
            .ok_or_else(|| Status::unauthenticated("authorization: a bearer token is required"))?;
        let name = self
            .accepted
            .iter()
            .find(|(_, t)| same(t, presented.as_bytes()))
            .map(|(n, _)| n.clone())
            .ok_or_else(|| Status::unauthenticated("authorization: unknown token"))?;
        if !self.rules.allows(&name, path) {
            let method = path.trim_start_matches('/');
            tracing::warn!(caller = %name, method, "call refused: caller not allowed");
            return Err(Status::permission_denied(format!(
                "caller {name:?} may not call {method} (see [auth.allow])"
            )));
        }
        Ok(Caller(name))
    }
}

/// The tower layer that authenticates and authorizes every call of a gRPC server.
#[derive(Clone)]
pub struct AuthLayer(Option<Arc<Check>>);

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authorized<S>;

    fn layer(&self, inner: S) -> Authorized<S> {
        Authorized {
            check: self.0.clone(),
            inner,
        }
    }
}

/// A service behind [`AuthLayer`].
#[derive(Clone)]
pub struct Authorized<S> {
    check: Option<Arc<Check>>,
    inner: S,
}

impl<S, B, R> tower::Service<http::Request<B>> for Authorized<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future =
        futures::future::Either<std::future::Ready<Result<http::Response<R>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        use futures::future::Either;
        let Some(check) = &self.check else {
            return Either::Right(self.inner.call(req));
        };
        if is_open(req.uri().path()) {
            return Either::Right(self.inner.call(req));
        }
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        match check.decide(header, req.uri().path()) {
            Ok(caller) => {
                req.extensions_mut().insert(caller);
                Either::Right(self.inner.call(req))
            }
            Err(status) => Either::Left(std::future::ready(Ok(status.into_http()))),
        }
    }
}

/// Adds this service's token to every call it makes, and the current trace context
/// (`traceparent`, see [`crate::telemetry`]).
#[derive(Clone, Default)]
pub struct CallerToken(Option<Arc<str>>);

impl CallerToken {
    pub fn none() -> Self {
        CallerToken(None)
    }

    pub fn bearer(token: &str) -> Self {
        CallerToken((!token.is_empty()).then(|| Arc::from(format!("Bearer {token}"))))
    }
}

impl std::fmt::Debug for CallerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "CallerToken(<redacted>)"
        } else {
            "CallerToken(none)"
        })
    }
}

impl Interceptor for CallerToken {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(t) = &self.0
            && let Ok(v) = MetadataValue::try_from(t.as_ref())
        {
            req.metadata_mut().insert("authorization", v);
        }
        // Every call between services continues the caller's trace (see `telemetry`).
        crate::telemetry::inject_metadata(req.metadata_mut());
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAY: &str = "/posgate.v1.PaymentService/PayBill";
    const POST: &str = "/posgate.v1.PosAdapter/PostPayment";

    fn check(cfg: &AuthConfig) -> Check {
        Check {
            accepted: cfg
                .tokens
                .iter()
                .map(|(n, t)| (n.clone(), t.expose().as_bytes().to_vec()))
                .collect(),
            rules: cfg.rules().unwrap(),
        }
    }

    fn decide(c: &Check, header: Option<&str>, path: &str) -> Result<String, tonic::Code> {
        c.decide(header.map(str::as_bytes), path)
            .map(|c| c.0)
            .map_err(|s| s.code())
    }

    #[test]
    fn tokens_identify_callers_and_anything_else_is_unauthenticated() {
        let c = check(&AuthConfig::with_tokens([
            ("payments", "tok-p"),
            ("cli", "tok-c"),
        ]));
        assert_eq!(decide(&c, Some("Bearer tok-p"), POST).unwrap(), "payments");
        assert_eq!(decide(&c, Some("Bearer tok-c"), PAY).unwrap(), "cli");
        // The scheme is case-insensitive (RFC 9110 §11.1).
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            assert_eq!(
                decide(&c, Some(&format!("{scheme} tok-c")), PAY).unwrap(),
                "cli"
            );
        }
        for bad in [
            None,
            Some("Bearer tok-x"),
            Some("tok-p"),
            Some("Bearer "),
            Some("Bearer"),
            Some("Basic tok-p"),
            Some("Bearertok-p"),
        ] {
            assert_eq!(
                decide(&c, bad, PAY),
                Err(tonic::Code::Unauthenticated),
                "{bad:?}"
            );
        }
        // No tokens: the server refuses to start, unless disabled on purpose.
        assert!(AuthConfig::default().layer("t").is_err());
        assert!(AuthConfig::disabled().layer("t").is_ok());
    }

    #[test]
    fn by_default_only_the_payment_service_calls_adapters() {
        let c = check(&AuthConfig::with_tokens([
            ("payments", "tok-p"),
            ("cli", "tok-c"),
            ("expirenza", "tok-e"),
        ]));
        for m in [
            "Describe",
            "GetBill",
            "ListBills",
            "PostPayment",
            "CloseBill",
            "CheckPayment",
        ] {
            let path = format!("/posgate.v1.PosAdapter/{m}");
            assert!(decide(&c, Some("Bearer tok-p"), &path).is_ok(), "{m}");
            for t in ["tok-c", "tok-e"] {
                assert_eq!(
                    decide(&c, Some(&format!("Bearer {t}")), &path),
                    Err(tonic::Code::PermissionDenied),
                    "{t} {m}"
                );
            }
        }
        assert!(decide(&c, Some("Bearer tok-c"), PAY).is_ok());
        assert!(decide(&c, Some("Bearer tok-e"), PAY).is_ok());
        assert_eq!(
            decide(&c, Some("Bearer tok-p"), PAY),
            Err(tonic::Code::PermissionDenied),
            "the payment service has no business calling itself"
        );
        // Reflection: any authenticated caller.
        for t in ["tok-p", "tok-c", "tok-e"] {
            for r in [
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            ] {
                assert!(
                    decide(&c, Some(&format!("Bearer {t}")), r).is_ok(),
                    "{t} {r}"
                );
            }
        }
        // A service nobody named is refused to everyone.
        assert_eq!(
            decide(&c, Some("Bearer tok-p"), "/grpc.other.Thing/Do"),
            Err(tonic::Code::PermissionDenied)
        );
    }

    #[test]
    fn the_refusal_names_the_caller_and_the_method() {
        let c = check(&AuthConfig::with_tokens([("cli", "tok-c")]));
        let err = c.decide(Some(b"Bearer tok-c"), POST).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(err.message().contains("\"cli\""), "{}", err.message());
        assert!(
            err.message().contains("posgate.v1.PosAdapter/PostPayment"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn config_rows_replace_defaults_and_a_method_row_wins_over_its_service() {
        let mut cfg =
            AuthConfig::with_tokens([("cli", "tok-c"), ("checkout", "tok-k"), ("ops", "tok-o")]);
        cfg.allow.insert(
            "posgate.v1.PaymentService".into(),
            vec!["cli".into(), "checkout".into()],
        );
        cfg.allow.insert(
            "posgate.v1.PaymentService/CloseBill".into(),
            vec!["ops".into()],
        );
        cfg.allow
            .insert("grpc.health.v1.Health".into(), vec![ANY_CALLER.into()]);
        let c = check(&cfg);
        assert_eq!(decide(&c, Some("Bearer tok-k"), PAY).unwrap(), "checkout");
        assert_eq!(
            decide(&c, Some("Bearer tok-o"), PAY),
            Err(tonic::Code::PermissionDenied)
        );
        let close = "/posgate.v1.PaymentService/CloseBill";
        assert_eq!(decide(&c, Some("Bearer tok-o"), close).unwrap(), "ops");
        assert_eq!(
            decide(&c, Some("Bearer tok-c"), close),
            Err(tonic::Code::PermissionDenied)
        );
        for t in ["tok-c", "tok-k", "tok-o"] {
            assert!(
                decide(
                    &c,
                    Some(&format!("Bearer {t}")),
                    "/grpc.health.v1.Health/Check"
                )
                .is_ok()
            );
        }
        // The adapter default is untouched.
        assert_eq!(
            decide(&c, Some("Bearer tok-c"), POST),
            Err(tonic::Code::PermissionDenied)
        );
    }

    #[tokio::test]
    async fn health_needs_no_token_and_nothing_else_is_open() {
        use tower::{Layer, ServiceExt};
        let layer = AuthConfig::with_tokens([("cli", "tok-c")])
            .layer("t")
            .unwrap();
        let inner = tower::service_fn(|_req: http::Request<()>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        });
        let status = |path: String, token: Option<&'static str>| {
            let svc = layer.layer(inner);
            async move {
                let mut req = http::Request::builder().uri(path);
                if let Some(t) = token {
                    req = req.header("authorization", t);
                }
                let res = svc.oneshot(req.body(()).unwrap()).await.unwrap();
                tonic::Status::from_header_map(res.headers()).map_or(tonic::Code::Ok, |s| s.code())
            }
        };
        for m in ["Check", "Watch"] {
            let path = format!("/grpc.health.v1.Health/{m}");
            assert_eq!(status(path, None).await, tonic::Code::Ok, "{m}");
        }
        for path in [
            PAY,
            POST,
            "/grpc.health.v1.HealthX/Check",
            "/grpc.health.v2.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(
                status(path.into(), None).await,
                tonic::Code::Unauthenticated,
                "{path}"
            );
        }
        assert_eq!(
            status(PAY.into(), Some("Bearer tok-c")).await,
            tonic::Code::Ok
        );
    }

    #[test]
    fn a_malformed_allow_key_stops_the_server_naming_it() {
        for key in [
            "PaymentService",
            "posgate.v1.PaymentService/",
            "/posgate.v1.PaymentService",
            "posgate.v1.Pay Service",
        ] {
            let mut cfg = AuthConfig::with_tokens([("cli", "t")]);
            cfg.allow.insert(key.into(), vec!["cli".into()]);
            let err = cfg.layer("t").err().expect(key).to_string();
            assert!(err.contains(&format!("{key:?}")), "{err}");
        }
    }

    #[test]
    fn the_caller_sends_its_own_token_and_never_prints_it() {
        let cfg = AuthConfig::with_tokens([("payments", "tok-p")]);
        let mut t = cfg.caller("payments");
        assert!(!format!("{t:?} {cfg:?}").contains("tok-p"));
        let req = t.call(Request::new(())).unwrap();
        assert_eq!(req.metadata().get("authorization").unwrap(), "Bearer tok-p");
        assert!(
            cfg.caller("nobody")
                .call(Request::new(()))
                .unwrap()
                .metadata()
                .is_empty()
        );
    }
}
