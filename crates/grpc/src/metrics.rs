//! Prometheus metrics for every posgate process: the process-wide recorder ([`install`]) and the
//! tower layer ([`GrpcMetricsLayer`]) that counts every gRPC call a server answers.
//!
//! Why this shape: code records through the `metrics` facade (the well-kept one: libraries
//! record, the binary chooses the exporter; restate and many others use it), and the exporter
//! is `metrics-exporter-prometheus` used only as a recorder that renders the text format. Its
//! own HTTP listener is left out: `/metrics` is served on posgate's admin port
//! ([`crate::admin`]) next to `/livez` and `/readyz`, on a server we control.
//!
//! The layer sits outermost in [`crate::server_named`], so it sees every answer as the caller
//! does: refusals of the auth layer (`UNAUTHENTICATED`), undecodable requests
//! (`INVALID_ARGUMENT`), and a call's status whether it comes in the headers (an error) or in
//! the trailers at the end of the body (success, streams).
//!
//! The `[metrics]` section ([`MetricsConfig`]) is shared by every service: `restaurant_label =
//! true` adds a `restaurant_id` label to the per-restaurant series ([`with_restaurant`]). Off
//! by default: a thousand restaurants are a thousand times the series. The switch is
//! process-wide, as the recorder is: every service of a process reads the same section.

use std::collections::HashSet;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Body, Frame};
use metrics::Label;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use prost::Message;
use serde::Deserialize;

use crate::metric_definitions::{
    GRPC_SERVER_DURATION, GRPC_SERVER_IN_FLIGHT, GRPC_SERVER_REQUESTS,
};

/// Histogram buckets for every `*_seconds` metric: from a fast gRPC answer (5 ms) to a POS
/// that takes its time (WSA waits up to minutes for its agent).
pub const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return the same handle) and
/// registers the gRPC server metrics' help texts. `None` when another recorder was installed
/// first (an embedding program's own): then posgate records into that one and `/metrics` is
/// not served here.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .ok()?
                .install_recorder()
                .map_err(|e| tracing::warn!(error = %e, "Prometheus recorder not installed"))
                .ok()?;
            crate::metric_definitions::describe_metrics();
            Some(handle)
        })
        .clone()
}

/// The `[metrics]` section (`POSGATE_METRICS__<KEY>` overrides it), read by every service that
/// records per-restaurant series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Label the per-restaurant series with `restaurant_id` ([`with_restaurant`]). Off by
    /// default: each restaurant multiplies those series.
    pub restaurant_label: bool,
}

impl MetricsConfig {
    /// The `[metrics]` section of the file at `path` with its environment overrides.
    pub fn load(path: Option<&Path>) -> anyhow::Result<MetricsConfig> {
        crate::load_section(path, "metrics")
    }

    /// Makes this the process's setting (a service calls it as it starts).
    pub fn apply(&self) {
        RESTAURANT_LABEL.store(self.restaurant_label, Ordering::Relaxed);
    }
}

static RESTAURANT_LABEL: AtomicBool = AtomicBool::new(false);

/// The label that names the restaurant of a per-restaurant series.
pub const RESTAURANT_LABEL_NAME: &str = "restaurant_id";

/// `labels`, and `restaurant_id` when `[metrics] restaurant_label` is on.
pub fn with_restaurant(mut labels: Vec<Label>, restaurant_id: &str) -> Vec<Label> {
    if RESTAURANT_LABEL.load(Ordering::Relaxed) {
        labels.push(Label::new(RESTAURANT_LABEL_NAME, restaurant_id.to_string()));
    }
    labels
}

/// The gRPC status codes by number, as Prometheus labels (the canonical names).
const CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The label of a `grpc-status` value.
pub fn code_label(status: Option<&http::HeaderValue>) -> &'static str {
    status
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .and_then(|n| CODES.get(n).copied())
        .unwrap_or("UNKNOWN")
}

/// Every `package.Service/Method` this build serves anywhere: posgate's, health, reflection.
/// A path outside it is labelled `unknown`, so a caller cannot grow the label set.
fn known_methods() -> &'static HashSet<String> {
    static KNOWN: OnceLock<HashSet<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut known = HashSet::new();
        for encoded in [
            posgate_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        known.insert(format!("{package}.{}/{}", service.name(), method.name()));
                    }
                }
            }
        }
        known
    })
}

/// The `method` label of a request path: `posgate.v1.PaymentService/PayBill`, or `unknown`.
pub fn method_label(path: &str) -> Arc<str> {
    let m = path.trim_start_matches('/');
    if known_methods().contains(m) {
        Arc::from(m)
    } else {
        Arc::from("unknown")
    }
}

/// Tower layer: counts and times every call of a gRPC server named `server`.
#[derive(Clone, Debug)]
pub struct GrpcMetricsLayer {
    server: Arc<str>,
}

impl GrpcMetricsLayer {
    pub fn new(server: &str) -> Self {
        GrpcMetricsLayer {
            server: Arc::from(server),
        }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        GrpcMetrics {
            server: Arc::clone(&self.server),
            inner,
        }
    }
}

/// A gRPC service whose calls are counted ([`GrpcMetricsLayer`]).
#[derive(Clone, Debug)]
pub struct GrpcMetrics<S> {
    server: Arc<str>,
    inner: S,
}

/// One call being answered: recorded once, when its answer ends (or is dropped).
struct Call {
    server: Arc<str>,
    method: Arc<str>,
    started: Instant,
    done: bool,
}

impl Call {
    fn start(server: Arc<str>, method: Arc<str>) -> Call {
        metrics::gauge!(GRPC_SERVER_IN_FLIGHT, "server" => server.to_string()).increment(1);
        Call {
            server,
            method,
            started: Instant::now(),
            done: false,
        }
    }

    fn finish(&mut self, code: &'static str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let (server, method) = (self.server.to_string(), self.method.to_string());
        metrics::gauge!(GRPC_SERVER_IN_FLIGHT, "server" => server.clone()).decrement(1);
        metrics::counter!(GRPC_SERVER_REQUESTS, "server" => server.clone(), "method" => method.clone(), "code" => code)
            .increment(1);
        metrics::histogram!(GRPC_SERVER_DURATION, "server" => server, "method" => method)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // The caller went away before the answer ended.
        self.finish("CANCELLED");
    }
}

impl<S, B, R> tower::Service<http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    R: Body,
{
    type Response = http::Response<MeteredBody<R>>;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let call = Call::start(Arc::clone(&self.server), method_label(req.uri().path()));
        MeteredFuture {
            inner: self.inner.call(req),
            call: Some(call),
        }
    }
}

pin_project_lite::pin_project! {
    /// The answer's head on its way; the call is recorded when its body ends.
    pub struct MeteredFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, R, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    R: Body,
{
    type Output = Result<http::Response<MeteredBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let res = match this.inner.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        let mut call = this.call.take();
        match res {
            Err(e) => {
                if let Some(c) = call.as_mut() {
                    c.finish("UNKNOWN");
                }
                Poll::Ready(Err(e))
            }
            Ok(res) => {
                // A status in the headers is a trailers-only answer: the call ends here.
                if let Some(status) = res.headers().get("grpc-status")
                    && let Some(c) = call.as_mut()
                {
                    c.finish(code_label(Some(status)));
                }
                Poll::Ready(Ok(res.map(|inner| MeteredBody { inner, call })))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// An answer's body, watched for the `grpc-status` trailer that ends the call.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = match this.inner.poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(f) => f,
        };
        if let Some(call) = this.call.as_mut() {
            match &frame {
                Some(Ok(f)) => {
                    if let Some(t) = f.trailers_ref() {
                        call.finish(code_label(t.get("grpc-status")));
                    }
                }
                Some(Err(_)) => call.finish("UNKNOWN"),
                // The body ended without trailers: what gRPC calls a missing status.
                None => call.finish("UNKNOWN"),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Default> Default for MeteredBody<B> {
    fn default() -> Self {
        MeteredBody {
            inner: B::default(),
            call: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restaurant_label_is_added_only_when_switched_on() {
        let base = || vec![Label::new("pos", "wsa")];
        let names = |l: &[Label]| {
            l.iter()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect::<Vec<_>>()
        };
        MetricsConfig::default().apply();
        assert_eq!(names(&with_restaurant(base(), "kyiv-1")), ["pos=wsa"]);
        MetricsConfig {
            restaurant_label: true,
        }
        .apply();
        assert_eq!(
            names(&with_restaurant(base(), "kyiv-1")),
            ["pos=wsa", "restaurant_id=kyiv-1"]
        );
        MetricsConfig::default().apply();
        assert_eq!(
            names(&with_restaurant(Vec::new(), "kyiv-1")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_section_is_read_from_the_file_and_unknown_keys_refused() {
        let dir = std::env::temp_dir().join(format!("posgate-metrics-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("posgate.toml");
        std::fs::write(&path, "[metrics]\nrestaurant_label = true\n").unwrap();
        assert!(MetricsConfig::load(Some(&path)).unwrap().restaurant_label);
        std::fs::write(&path, "[payments]\n").unwrap();
        assert!(
            !MetricsConfig::load(Some(&path)).unwrap().restaurant_label,
            "off by default"
        );
        std::fs::write(&path, "[metrics]\nrestaurant_labels = true\n").unwrap();
        let e = MetricsConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(
            e.contains("[metrics]") && e.contains("restaurant_labels"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(
            &*method_label("/posgate.v1.PaymentService/PayBill"),
            "posgate.v1.PaymentService/PayBill"
        );
        assert_eq!(
            &*method_label("/grpc.health.v1.Health/Check"),
            "grpc.health.v1.Health/Check"
        );
        assert_eq!(
            &*method_label("/posgate.v1.PosAdapter/PostPayment"),
            "posgate.v1.PosAdapter/PostPayment"
        );
        for junk in ["/posgate.v1.PaymentService/Nope", "/x/y", "", "/"] {
            assert_eq!(&*method_label(junk), "unknown", "{junk}");
        }
        let h = |s: &'static str| http::HeaderValue::from_static(s);
        assert_eq!(code_label(Some(&h("0"))), "OK");
        assert_eq!(code_label(Some(&h("3"))), "INVALID_ARGUMENT");
        assert_eq!(code_label(Some(&h("16"))), "UNAUTHENTICATED");
        assert_eq!(code_label(Some(&h("99"))), "UNKNOWN");
        assert_eq!(code_label(None), "UNKNOWN");
    }
}
