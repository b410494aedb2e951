//! What every posgate service shares: its configuration section, who may call what between
//! services ([`auth`]: a bearer token per calling service, a table of which caller may call
//! which method), and gRPC server limits.
//!
//! **Logs** ([`logs`]): [`init_logging`], the one set-up every binary calls: stderr, text or
//! JSON, no colour codes off a terminal.
//!
//! **Health and reflection** ([`health`], [`reflection`]): the standard gRPC services on every
//! server; health open to probes, reflection to any authenticated caller.
//!
//! **Metrics and the admin port** ([`metrics`], [`metric_definitions`], [`admin`]): every
//! call a server answers counted by method and code; `/metrics`, `/livez`, `/readyz` on an
//! HTTP port of its own.
//!
//! **Traces** ([`telemetry`]): W3C `traceparent` read by every server ([`TraceContextLayer`])
//! and sent on every call made with a [`CallerToken`]; OTLP export off unless configured.
//!
//! **Memory** ([`alloc`]): jemalloc for every service binary ([`global_allocator!`]).
//!
//! **Limits**: [`server`] builds a tonic server with per-connection concurrency, message and
//! timeout limits, so one bad client cannot tie up a service.

use std::path::Path;
use std::time::Duration;

pub mod admin;
pub mod alloc;
mod auth;
pub mod health;
pub mod logs;
mod malformed;
pub mod metric_definitions;
pub mod metrics;
pub mod reflection;
pub mod telemetry;
mod trace_ids;
pub mod unary;

pub use auth::{
    ANY_CALLER, AuthConfig, AuthLayer, Authorized, Caller, CallerToken, DEFAULT_ALLOW,
    OPEN_SERVICES, Rules, is_open,
};

pub use health::{Health, Readiness};
pub use logs::{LogFormat, init_logging};
pub use malformed::{MalformedRequest, MalformedRequestLayer};
pub use metrics::{GrpcMetrics, GrpcMetricsLayer, MetricsConfig};
pub use reflection::reflection;
pub use telemetry::TraceContextLayer;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use posgate_proto::v1::pos_adapter_server::{PosAdapter, PosAdapterServer};
use serde::de::DeserializeOwned;
use tonic::server::NamedService;
use tonic::transport::Server;
use tower::layer::util::{Identity, Stack};

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
    load_section_retiring(path, section, &[])
}

/// A key a section no longer reads, and what took its place.
#[derive(Debug, Clone, Copy)]
pub struct Retired {
    /// The key under the section, e.g. `restaurants` for `[payments.restaurants]`.
    pub key: &'static str,
    /// What to do instead, said to whoever still sets it.
    pub instead: &'static str,
}

/// [`load_section`], refusing a configuration that still sets a [`Retired`] key (in the file or
/// through the environment) with an error naming the section, what it holds, and what to do
/// instead, rather than starting without it.
pub fn load_section_retiring<T: DeserializeOwned + Default>(
    path: Option<&Path>,
    section: &str,
    retired: &[Retired],
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
    for r in retired {
        if let Ok(v) = fig.find_value(&format!("{section}.{}", r.key)) {
            let held = match v.as_dict() {
                Some(d) if !d.is_empty() => format!(
                    " (it holds {})",
                    d.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                _ => String::new(),
            };
            anyhow::bail!(
                "[{section}.{key}] is no longer read{held}: {instead}. Remove it from the config file (and any POSGATE_{upper}__{key_upper}__* environment variable).",
                key = r.key,
                instead = r.instead,
                upper = section.to_ascii_uppercase(),
                key_upper = r.key.to_ascii_uppercase(),
            );
        }
    }
    if fig.find_value(section).is_ok() {
        Ok(fig
            .extract_inner(section)
            .map_err(|e| anyhow::anyhow!("invalid [{section}] configuration: {e}"))?)
    } else {
        Ok(T::default())
    }
}

/// The gRPC services a POS adapter serves, as its health names them.
pub const ADAPTER_SERVICES: &[&str] = &[posgate_proto::v1::pos_adapter_server::SERVICE_NAME];

/// The health of the POS adapter called `name` (`wsa`): `NOT_SERVING` until
/// [`serve_adapter`] serves it.
pub async fn adapter_health(name: &str) -> Health {
    Health::new(name, ADAPTER_SERVICES).await
}

/// Serves a POS adapter on `listener` until `shutdown`, reporting through `health` (of
/// [`adapter_health`]; its name names the server): callers' tokens checked, posgate's limits,
/// the standard health service (`SERVING` while up, `NOT_SERVING` once `shutdown` fires) and
/// server reflection.
pub async fn serve_adapter<A: PosAdapter>(
    health: Health,
    auth: &AuthConfig,
    adapter: A,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let name = health.name().to_string();
    let name = name.as_str();
    let services = [<PosAdapterServer<A> as NamedService>::NAME];
    let (reflection_v1, reflection_v1alpha) = reflection(&services)?;
    let router = server_named(name)
        .layer(auth.layer(name)?)
        .add_service(health.grpc_service())
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(PosAdapterServer::new(adapter).max_decoding_message_size(MAX_MESSAGE_BYTES));
    health.set(Readiness::Serving).await;
    router
        .serve_with_incoming_shutdown(incoming(listener), health.draining_on(shutdown))
        .await
        .map_err(|e| anyhow::anyhow!("{name} gRPC server failed: {e}"))
}

/// A `grpc-timeout` header's value as a duration (gRPC over HTTP/2: at most 8 digits, then
/// `H`, `M`, `S`, `m`, `u` or `n`); anything else is `None`.
pub fn grpc_timeout(v: &str) -> Option<std::time::Duration> {
    use std::time::Duration;
    // ASCII only, so the unit is the last byte (a header value may be any bytes).
    if !v.is_ascii() {
        return None;
    }
    let split = v.len().checked_sub(1)?;
    let (digits, unit) = v.split_at(split);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The connections a server accepts on `listener`, with `TCP_NODELAY`: tonic ignores the
/// builder's `tcp_nodelay` for `serve_with_incoming*`, and without it an answer written in more
/// than one segment (headers, message, trailers) may wait for the caller's delayed ACK (40 ms
/// on Linux) — a tail the 1-in-flight benchmark showed as p99 44 ms.
pub fn incoming(listener: tokio::net::TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// [`server`] with every call counted and timed under `name` ([`GrpcMetricsLayer`], outermost
/// but for the request's trace span, so refusals and reclassified codes are counted as callers
/// see them).
#[allow(clippy::type_complexity)]
pub fn server_named(
    name: &str,
) -> Server<Stack<MalformedRequestLayer, Stack<GrpcMetricsLayer, Stack<TraceContextLayer, Identity>>>>
{
    limits(Server::builder())
        .layer(TraceContextLayer)
        .layer(GrpcMetricsLayer::new(name))
        .layer(MalformedRequestLayer)
}

fn limits<L>(b: Server<L>) -> Server<L> {
    b.concurrency_limit_per_connection(MAX_CONCURRENT_PER_CONNECTION)
        .load_shed(true)
        .max_concurrent_streams(Some(MAX_CONCURRENT_PER_CONNECTION as u32))
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .tcp_nodelay(true)
}

/// A tonic server with posgate's limits: a connection over its concurrency limit gets an
/// immediate `UNAVAILABLE` (load shedding) rather than an unbounded queue, and each message is
/// capped by the services at [`MAX_MESSAGE_BYTES`] (`OUT_OF_RANGE`/`RESOURCE_EXHAUSTED` beyond);
/// a request that does not decode is `INVALID_ARGUMENT` ([`MalformedRequestLayer`]); each
/// request runs in a span that continues the caller's trace ([`TraceContextLayer`]).
pub fn server() -> Server<Stack<MalformedRequestLayer, Stack<TraceContextLayer, Identity>>> {
    limits(Server::builder())
        .layer(TraceContextLayer)
        .layer(MalformedRequestLayer)
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

    #[test]
    fn a_grpc_timeout_header_reads_in_its_units_and_anything_else_is_none() {
        use std::time::Duration;
        assert_eq!(grpc_timeout("200000m"), Some(Duration::from_secs(200)));
        assert_eq!(grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("2M"), Some(Duration::from_secs(120)));
        assert_eq!(grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(grpc_timeout("750u"), Some(Duration::from_micros(750)));
        assert_eq!(grpc_timeout("99n"), Some(Duration::from_nanos(99)));
        for bad in [
            "",
            "S",
            "5",
            "5s",
            "-5S",
            "123456789S",
            "1.5S",
            "5 S",
            "5é",
            "é",
        ] {
            assert_eq!(grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
