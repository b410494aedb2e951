//! The admin HTTP port of a posgate service: `/metrics` (Prometheus text), `/livez`, `/readyz`.
//!
//! Why it exists: Prometheus scrapes HTTP, and Kubernetes' HTTP probes are the simplest to
//! write; neither belongs on the gRPC port, which wants a token for everything but health. The
//! admin port carries no secret and takes no action, so it needs none — bind it where only the
//! platform reaches (a pod IP, localhost), not on a public interface.
//!
//! - `/livez`: 200 while the process answers at all (restart it when this fails).
//! - `/readyz`: 200 when every server of the process is `SERVING` ([`crate::Health`], the same
//!   status the gRPC health service gives), else 503 naming why (`database: ...`, draining).
//! - `/metrics`: every metric of the process ([`crate::metrics::install`]).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::health::Health;

#[derive(Clone)]
struct Admin {
    healths: Vec<Health>,
    metrics: Option<PrometheusHandle>,
}

async fn livez() -> &'static str {
    "ok\n"
}

async fn readyz(State(a): State<Admin>) -> impl IntoResponse {
    let mut ready = true;
    let mut body = String::new();
    for h in &a.healths {
        let r = h.readiness();
        ready &= r.is_serving();
        body.push_str(&format!("{}: {}\n", h.name(), r.describe()));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, body)
}

async fn render(State(a): State<Admin>) -> impl IntoResponse {
    match &a.metrics {
        Some(m) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            m.render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "metrics are recorded by another exporter in this process\n".to_string(),
        ),
    }
}

/// The admin routes answering for `healths`.
pub fn router(healths: Vec<Health>) -> Router {
    let metrics = crate::metrics::install();
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render))
        .with_state(Admin { healths, metrics })
}

/// Binds the admin port (`[payments] admin_listen`, `--admin-listen`); says where it listens.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("admin port {addr}: {e}"))?;
    tracing::info!(admin = %listener.local_addr()?, "admin HTTP port: /metrics /livez /readyz");
    Ok(listener)
}

/// Serves the admin port on `listener` until `shutdown`, answering `/readyz` for `healths`.
/// Histogram upkeep runs alongside.
pub async fn serve(
    listener: TcpListener,
    healths: Vec<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = router(healths);
    let upkeep = crate::metrics::install().map(|m| {
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                m.run_upkeep();
            }
        })
    });
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| anyhow::anyhow!("admin port: {e}"));
    if let Some(u) = upkeep {
        u.abort();
    }
    result
}

/// Runs a service that has no admin port of its own (an adapter, the Expirenza adapter) until
/// `shutdown`, with one on `admin` when given: `/metrics` of the process, `/livez`, and
/// `/readyz` answering the service's own `health` (an adapter: `SERVING` once its gRPC server
/// is up; the Expirenza adapter: once it follows the registry), until the service has stopped.
pub async fn with_admin<F>(
    health: Health,
    admin: Option<SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    service: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
) -> anyhow::Result<()>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let Some(addr) = admin else {
        return service(Box::pin(shutdown)).await;
    };
    // The recorder before the service starts: installed by the admin task alone, it raced the
    // service's first gauges — an increment made before it was lost, and the matching
    // decrement later showed a gauge at -1 (the Expirenza adapter's connections, under load).
    crate::metrics::install();
    let listener = bind(addr).await?;
    let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin = tokio::spawn(serve(listener, vec![health], async move {
        let _ = admin_stopped.await;
    }));
    let result = service(Box::pin(shutdown)).await;
    let _ = stop_admin.send(());
    let _ = admin.await;
    result
}
