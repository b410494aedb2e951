//! What every posgate service shares: its configuration section, authentication between
//! services, and gRPC server limits.
//!
//! **Authentication between services** is a bearer token per calling service: each server
//! accepts the tokens in `[auth] tokens` (caller name → token) and checks the `authorization:
//! Bearer <token>` header in a tower layer ([`AuthLayer`]) before any handler runs; a call
//! without a valid token gets `UNAUTHENTICATED`. Each service sends its own token — the one
//! under its own name — on its calls ([`CallerToken`]). Tokens come from the environment
//! (`POSGATE_AUTH__TOKENS__PAYMENTS=...`) or the file, and never print themselves. We chose
//! tokens over mutual TLS because they need no certificate authority to run on a laptop and put
//! the caller's name in every log line; TLS in front (a mesh or an ingress) can be added without
//! changing this.
//!
//! A server with no token configured refuses to start, unless `[auth] disabled = true` says
//! on purpose that anyone who reaches its port may call it (tests, a laptop); it then says so
//! loudly at start.
//!
//! **Limits**: [`server`] builds a tonic server with per-connection concurrency, message and
//! timeout limits, so one bad client cannot tie up a service.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use posgate_core::Secret;
use posgate_proto::v1::pos_adapter_server::{PosAdapter, PosAdapterServer};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::MetadataValue;
use tonic::service::{Interceptor, InterceptorLayer};
use tonic::transport::Server;
use tonic::{Request, Status};

/// Largest gRPC message any posgate service takes or sends: a bill with its dishes is a few KB.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Requests one client connection may have in flight at once.
pub const MAX_CONCURRENT_PER_CONNECTION: usize = 256;

/// Reads one service's section of the posgate TOML file (every service reads the same file and
/// takes its own part), then overrides from `POSGATE_<SECTION>__<KEY>` environment variables
/// (`__` between nesting levels; figment lower-cases the keys). A missing section gives the
/// defaults.
pub fn load_section<T: DeserializeOwned + Default>(
    path: Option<&Path>,
    section: &str,
) -> anyhow::Result<T> {
    let mut fig = Figment::new();
    if let Some(path) = path {
        anyhow::ensure!(
            path.exists(),
            "config file {} does not exist",
            path.display()
        );
        fig = fig.merge(Toml::file(path));
    }
    let prefix = format!("POSGATE_{}__", section.to_ascii_uppercase());
    let name = section.to_string();
    let fig = fig.merge(
        Env::prefixed(&prefix)
            .split("__")
            .map(move |k| format!("{name}.{k}").into()),
    );
    if fig.find_value(section).is_ok() {
        Ok(fig
            .extract_inner(section)
            .map_err(|e| anyhow::anyhow!("invalid [{section}] configuration: {e}"))?)
    } else {
        Ok(T::default())
    }
}

/// The `[auth]` section.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthConfig {
    /// Tokens accepted by the servers, by calling service name (`payments`, `expirenza`, `cli`…).
    #[serde(default)]
    pub tokens: BTreeMap<String, Secret>,
    /// Run the servers without authentication. Only on purpose: tests, a laptop.
    #[serde(default)]
    pub disabled: bool,
}

impl AuthConfig {
    /// `[auth]` of the posgate TOML file, then `POSGATE_AUTH__TOKENS__<NAME>` from the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<AuthConfig> {
        load_section(path, "auth")
    }

    /// A config accepting exactly these tokens (tests, embedding).
    pub fn with_tokens<'a>(tokens: impl IntoIterator<Item = (&'a str, &'a str)>) -> AuthConfig {
        AuthConfig {
            tokens: tokens
                .into_iter()
                .map(|(k, v)| (k.to_string(), Secret::new(v)))
                .collect(),
            disabled: false,
        }
    }

    /// No authentication, on purpose (tests that are not about it).
    pub fn disabled() -> AuthConfig {
        AuthConfig {
            tokens: BTreeMap::new(),
            disabled: true,
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

    /// The server-side check. Without tokens, only when authentication is disabled on purpose.
    pub fn layer(&self, server_name: &str) -> anyhow::Result<AuthLayer> {
        let accepted: Vec<(String, Vec<u8>)> = self
            .tokens
            .iter()
            .filter(|(_, t)| !t.is_empty())
            .map(|(name, t)| (name.clone(), t.expose().as_bytes().to_vec()))
            .collect();
        if accepted.is_empty() {
            anyhow::ensure!(
                self.disabled,
                "{server_name}: no [auth] tokens configured; set [auth] tokens (e.g. POSGATE_AUTH__TOKENS__PAYMENTS=...) or, for local development only, [auth] disabled = true"
            );
            tracing::warn!(
                server = server_name,
                "gRPC authentication is OFF ([auth] disabled = true): anyone who reaches this port can call it"
            );
        } else {
            tracing::info!(server = server_name, callers = ?accepted.iter().map(|(n, _)| n).collect::<Vec<_>>(), "gRPC bearer-token authentication on");
        }
        Ok(InterceptorLayer::new(AuthCheck {
            accepted: Arc::new(accepted),
        }))
    }
}

/// The tower layer that checks callers' tokens.
pub type AuthLayer = InterceptorLayer<AuthCheck>;

#[derive(Clone)]
pub struct AuthCheck {
    accepted: Arc<Vec<(String, Vec<u8>)>>,
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Which service called, as established by its token.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

impl Interceptor for AuthCheck {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if self.accepted.is_empty() {
            return Ok(req);
        }
        let presented = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::as_bytes);
        let Some(presented) = presented else {
            return Err(Status::unauthenticated(
                "authorization: a bearer token is required",
            ));
        };
        let caller = self
            .accepted
            .iter()
            .find(|(_, t)| same(t, presented))
            .map(|(n, _)| n.clone());
        match caller {
            Some(name) => {
                req.extensions_mut().insert(Caller(name));
                Ok(req)
            }
            None => Err(Status::unauthenticated("authorization: unknown token")),
        }
    }
}

/// Adds this service's token to every call it makes.
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
        Ok(req)
    }
}

/// Serves a POS adapter on `listener` until `shutdown`: callers' tokens checked, posgate's limits.
pub async fn serve_adapter<A: PosAdapter>(
    name: &str,
    auth: &AuthConfig,
    adapter: A,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    server()
        .layer(auth.layer(name)?)
        .add_service(PosAdapterServer::new(adapter).max_decoding_message_size(MAX_MESSAGE_BYTES))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
        .map_err(|e| anyhow::anyhow!("{name} gRPC server failed: {e}"))
}

/// A tonic server with posgate's limits: a connection over its concurrency limit gets an
/// immediate `UNAVAILABLE` (load shedding) rather than an unbounded queue, and each message is
/// capped by the services at [`MAX_MESSAGE_BYTES`] (`OUT_OF_RANGE`/`RESOURCE_EXHAUSTED` beyond).
pub fn server() -> Server {
    Server::builder()
        .concurrency_limit_per_connection(MAX_CONCURRENT_PER_CONNECTION)
        .load_shed(true)
        .max_concurrent_streams(Some(MAX_CONCURRENT_PER_CONNECTION as u32))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
}

/// Logging for a service process: `RUST_LOG` (default `info`, sqlx quiet).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
}

/// Resolves on ctrl-c or SIGTERM (Kubernetes stops pods with SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cfg: &AuthConfig, header: Option<&str>) -> Result<String, tonic::Code> {
        let mut c = AuthCheck {
            accepted: Arc::new(
                cfg.tokens
                    .iter()
                    .map(|(n, t)| (n.clone(), t.expose().as_bytes().to_vec()))
                    .collect(),
            ),
        };
        let mut req = Request::new(());
        if let Some(h) = header {
            req.metadata_mut()
                .insert("authorization", MetadataValue::try_from(h).unwrap());
        }
        c.call(req)
            .map(|r| {
                r.extensions()
                    .get::<Caller>()
                    .map(|c| c.0.clone())
                    .unwrap_or_default()
            })
            .map_err(|s| s.code())
    }

    #[test]
    fn tokens_identify_callers_and_anything_else_is_unauthenticated() {
        let cfg = AuthConfig::with_tokens([("payments", "tok-p"), ("cli", "tok-c")]);
        assert_eq!(check(&cfg, Some("Bearer tok-p")).unwrap(), "payments");
        assert_eq!(check(&cfg, Some("Bearer tok-c")).unwrap(), "cli");
        for bad in [
            None,
            Some("Bearer tok-x"),
            Some("tok-p"),
            Some("Bearer "),
            Some("Basic tok-p"),
        ] {
            assert_eq!(
                check(&cfg, bad),
                Err(tonic::Code::Unauthenticated),
                "{bad:?}"
            );
        }
        // No tokens: the server refuses to start, unless disabled on purpose.
        assert!(AuthConfig::default().layer("t").is_err());
        assert!(AuthConfig::disabled().layer("t").is_ok());
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
