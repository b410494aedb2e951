//! Traces across services: OpenTelemetry spans from `tracing` spans, and the W3C `traceparent`
//! carried over every hop, so one payment can be followed from the payment service through its
//! POS adapter to the POS's HTTP API under one trace id.
//!
//! Why it exists: the services are separate processes; without a propagated trace context each
//! one's spans start a trace of their own. Here:
//!
//! * [`TraceContextLayer`] — in every gRPC server's stack ([`crate::server_named`],
//!   [`crate::server`]): reads the caller's `traceparent` and opens the request's span
//!   (`grpc.server`) as its child.
//! * [`inject_metadata`] — every outgoing gRPC call made with a [`crate::CallerToken`] carries
//!   the current span's context; [`inject_headers`] does the same for outbound HTTP (the POS
//!   kit's `send`).
//! * [`layer`] — spans always get a trace and span id, so the context is passed on and logs
//!   carry `trace_id` even when nothing is exported ([`Traces::Ids`]: ids alone, see
//!   [`crate::trace_ids`]); whole OpenTelemetry spans are made, and **exported over OTLP**
//!   ([`tracer_provider`]), **only when asked**: `[telemetry]
//!   otlp_endpoint` in the posgate TOML file (or `POSGATE_TELEMETRY__OTLP_ENDPOINT`), else the
//!   standard `OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. The protocol
//!   is OTLP/HTTP protobuf (a collector's port 4318). [`crate::init_logging`] puts the layer in
//!   the one subscriber it installs.

use std::path::Path;
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Poll};

/// An OpenTelemetry context (a span to be the parent of another).
pub use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use serde::Deserialize;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The standard variable naming the OTLP collector (base URL; `/v1/traces` is appended).
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The standard variable naming the traces endpoint itself (used as is).
pub const OTLP_TRACES_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

/// The `[telemetry]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Base URL of an OTLP/HTTP collector, e.g. `http://otel-collector:4318`. Unset: traces are
    /// exported only if `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub otlp_endpoint: Option<String>,
}

/// Where traces go, once the config and environment are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Export {
    /// Nowhere (the default): ids are still made and propagated.
    Off,
    /// To this traces URL (config), `/v1/traces` included.
    Url(String),
    /// To what the standard `OTEL_EXPORTER_OTLP_*` variables say (the SDK reads them).
    FromEnv,
}

/// Reads `[telemetry]` and the environment: the config file wins over the standard variables.
pub fn resolve_export(config: Option<&Path>) -> anyhow::Result<Export> {
    let cfg: TelemetryConfig = crate::load_section(config, "telemetry")?;
    if let Some(url) = cfg.otlp_endpoint.filter(|u| !u.trim().is_empty()) {
        let url = url.trim();
        anyhow::ensure!(
            url.starts_with("http://") || url.starts_with("https://"),
            "[telemetry] otlp_endpoint {url:?} is not an http(s) URL"
        );
        return Ok(Export::Url(format!(
            "{}/v1/traces",
            url.trim_end_matches('/')
        )));
    }
    let set = |v: &str| std::env::var(v).is_ok_and(|s| !s.trim().is_empty());
    if set(OTLP_ENDPOINT_ENV) || set(OTLP_TRACES_ENDPOINT_ENV) {
        return Ok(Export::FromEnv);
    }
    Ok(Export::Off)
}

/// The provider of this process, kept so [`shutdown`] can flush it.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The service name spans carry: `OTEL_SERVICE_NAME` if set (the SDK reads it), else the
/// executable's name (`posgate-payments`, `posgate`, …).
fn resource() -> Resource {
    let b = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_some() {
        return b.build();
    }
    let name = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "posgate".to_string());
    b.with_service_name(name).build()
}

/// A tracer provider exporting as `export` says (batched, from the SDK's own thread).
pub fn tracer_provider(export: &Export) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let b = SdkTracerProvider::builder().with_resource(resource());
    let b = match export {
        Export::Off => b,
        Export::Url(url) => b.with_batch_exporter(
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(url.clone())
                .build()
                .map_err(|e| anyhow::anyhow!("[telemetry] otlp_endpoint: {e}"))?,
        ),
        Export::FromEnv => b.with_batch_exporter(
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()
                .map_err(|e| anyhow::anyhow!("{OTLP_ENDPOINT_ENV}: {e}"))?,
        ),
    };
    Ok(b.build())
}

/// How a process's spans take part in traces.
pub enum Traces {
    /// Ids only, nothing exported (the default): every span gets a trace and span id, passed on
    /// in `traceparent` and written in logs, and nothing else is kept
    /// ([`crate::trace_ids`]).
    Ids,
    /// Whole OpenTelemetry spans, exported by this tracer's provider.
    Exported(SdkTracer),
}

/// This process's traces as `config` and the environment say: [`Traces::Exported`] through a
/// provider built on first use (kept for [`shutdown`]) when a collector is configured, else
/// [`Traces::Ids`].
pub(crate) fn process_traces(config: Option<&Path>) -> anyhow::Result<Traces> {
    if PROVIDER.get().is_none() {
        let export = resolve_export(config)?;
        if export == Export::Off {
            return Ok(Traces::Ids);
        }
        let _ = PROVIDER.set(tracer_provider(&export)?);
    }
    let provider = PROVIDER.get().expect("set above");
    Ok(Traces::Exported(provider.tracer("posgate")))
}

/// Exports what is still buffered and stops exporting; call before a process exits.
pub fn shutdown() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.shutdown();
    }
}

/// The layer that gives spans their trace: [`crate::trace_ids::IdLayer`] for [`Traces::Ids`];
/// for [`Traces::Exported`], the layer turning `tracing` spans into OpenTelemetry spans of the
/// tracer, the log events inside a span recorded on it (exported as span events) with the
/// spans' code location, thread and target.
pub fn layer<S>(traces: Traces) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
{
    use tracing_subscriber::Layer as _;
    match traces {
        Traces::Ids => crate::trace_ids::IdLayer.boxed(),
        Traces::Exported(tracer) => {
            EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_tracked_inactivity(false)
                .with_location(true)
                .with_threads(true)
                .with_target(true)
                .boxed()
        }
    }
}

/// Set once this process exports spans ([`layer`] with [`Traces::Exported`]).
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Names `span` for OpenTelemetry (`otel.name`, `otel.kind`; the span declares both `Empty`)
/// when spans are exported. Otherwise nothing: the fields would only lengthen every log line in
/// the span and the text the log layer keeps for each span alive (thousands at once at a peak).
pub fn otel_name(span: &tracing::Span, name: &dyn std::fmt::Display, kind: &'static str) {
    if exporting() {
        span.record("otel.name", tracing::field::display(name));
        span.record("otel.kind", kind);
    }
}

/// The OpenTelemetry context of the current `tracing` span (empty without a tracing layer).
pub fn current() -> Context {
    let span = tracing::Span::current();
    match crate::trace_ids::with_ids(&span, |ids| *ids) {
        Some(ids) => ids.context(),
        None => span.context(),
    }
}

/// Makes `cx` the OpenTelemetry parent of `span` (before it is first entered) without making
/// `span` a `tracing` child (so a request's span can end while work it started goes on).
pub fn adopt(span: &tracing::Span, cx: Context) {
    if !crate::trace_ids::adopt(span, &cx) {
        // Fails only without the layer or once the span has started: nothing to link then.
        let _ = span.set_parent(cx);
    }
    record_trace_id(span);
}

/// Records the span's trace id in its `trace_id` field (when it declares one), so every log
/// line inside it carries the id a trace backend finds the same work by.
pub fn record_trace_id(span: &tracing::Span) {
    use opentelemetry::trace::TraceContextExt;
    let id = crate::trace_ids::with_ids(span, |ids| ids.trace_id)
        .unwrap_or_else(|| span.context().span().span_context().trace_id());
    if id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(id));
    }
}

struct Headers<'a>(&'a mut http::HeaderMap);

impl Injector for Headers<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

struct ReadHeaders<'a>(&'a http::HeaderMap);

impl Extractor for ReadHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct Metadata<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for Metadata<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// Writes the current span's `traceparent` (and `tracestate`) into HTTP headers.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    TraceContextPropagator::new().inject_context(&current(), &mut Headers(headers));
}

/// Writes the current span's `traceparent` into a gRPC request's metadata.
pub fn inject_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    TraceContextPropagator::new().inject_context(&current(), &mut Metadata(metadata));
}

/// The caller's trace context from request headers (empty when there is none or it is bad).
pub fn extract_headers(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&ReadHeaders(headers))
}

/// Tower layer for gRPC servers: each request runs in a `grpc.server` span whose parent is the
/// caller's `traceparent`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextLayer;

impl<S> tower::Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;

    fn layer(&self, inner: S) -> TraceContext<S> {
        TraceContext(inner)
    }
}

#[derive(Clone, Debug)]
pub struct TraceContext<S>(S);

impl<S, B> tower::Service<http::Request<B>> for TraceContext<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        // A root in `tracing` terms: its parent is the caller's, from the header.
        let span = tracing::info_span!(
            parent: None,
            "grpc.server",
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
            rpc.system = tracing::field::Empty,
            rpc.method = path,
            trace_id = tracing::field::Empty,
        );
        otel_name(&span, &path, "server");
        if exporting() {
            span.record("rpc.system", "grpc");
        }
        adopt(&span, extract_headers(req.headers()));
        self.0.call(req).instrument(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_endpoint_gets_the_traces_path_and_a_bad_one_is_named() {
        let dir = std::env::temp_dir().join(format!("posgate-telemetry-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("posgate.toml");
        std::fs::write(
            &file,
            "[telemetry]\notlp_endpoint = \"http://collector:4318/\"\n",
        )
        .unwrap();
        assert_eq!(
            resolve_export(Some(&file)).unwrap(),
            Export::Url("http://collector:4318/v1/traces".into())
        );
        std::fs::write(&file, "[telemetry]\notlp_endpoint = \"collector:4318\"\n").unwrap();
        let e = resolve_export(Some(&file)).unwrap_err().to_string();
        assert!(
            e.contains("otlp_endpoint") && e.contains("collector:4318"),
            "{e}"
        );
        std::fs::write(&file, "[telemetry]\notlp_endpiont = \"http://x\"\n").unwrap();
        let e = format!("{:#}", resolve_export(Some(&file)).unwrap_err());
        assert!(e.contains("otlp_endpiont"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// With an endpoint configured, spans reach an OTLP/HTTP receiver (a one-shot stub here):
    /// a protobuf POST to `/v1/traces`.
    #[test]
    fn a_configured_collector_receives_the_spans() {
        use std::io::{Read, Write};
        use tracing_subscriber::layer::SubscriberExt;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let received = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then the body its content-length announces.
            loop {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the exporter closed early");
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_ascii_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            req
        });
        let provider = tracer_provider(&Export::Url(url)).unwrap();
        let sub =
            tracing_subscriber::registry().with(layer(Traces::Exported(provider.tracer("test"))));
        tracing::subscriber::with_default(sub, || {
            tracing::info_span!("exported-span-7f3a").in_scope(|| {});
        });
        provider.force_flush().unwrap();
        let req = received.join().unwrap();
        let text = String::from_utf8_lossy(&req);
        assert!(text.starts_with("POST /v1/traces "), "{text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("content-type: application/x-protobuf"),
            "{text}"
        );
        assert!(
            text.contains("exported-span-7f3a"),
            "the span's name is in the body"
        );
        let _ = provider.shutdown();
    }

    #[test]
    fn a_span_context_goes_out_in_headers_and_comes_back() {
        use tracing_subscriber::layer::SubscriberExt;
        // Nothing exported: the ids are still made and passed on.
        let sub = tracing_subscriber::registry().with(layer(Traces::Ids));
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("outer");
            let _e = span.enter();
            let mut headers = http::HeaderMap::new();
            inject_headers(&mut headers);
            let tp = headers["traceparent"].to_str().unwrap().to_string();
            use opentelemetry::trace::TraceContextExt;
            let sc = current().span().span_context().clone();
            assert_eq!(
                tp,
                format!("00-{}-{}-01", sc.trace_id(), sc.span_id()),
                "traceparent of the current span"
            );
            let back = extract_headers(&headers);
            assert_eq!(back.span().span_context().trace_id(), sc.trace_id());
        });
    }

    #[test]
    fn exported_spans_carry_their_log_events_and_code_location() {
        use opentelemetry_sdk::trace::InMemorySpanExporter;
        use tracing_subscriber::layer::SubscriberExt;
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let sub =
            tracing_subscriber::registry().with(layer(Traces::Exported(provider.tracer("test"))));
        tracing::subscriber::with_default(sub, || {
            tracing::info_span!("pay").in_scope(|| tracing::info!("payment accepted"));
        });
        let spans = exporter.get_finished_spans().unwrap();
        let span = spans.iter().find(|s| s.name == "pay").expect("exported");
        assert_eq!(span.events.len(), 1, "the log event");
        assert!(
            span.attributes
                .iter()
                .any(|kv| kv.key.as_str().starts_with("code.")),
            "code location: {:?}",
            span.attributes
        );
    }

    /// A caller's `traceparent` read by [`TraceContextLayer`]'s `adopt` puts the request's span
    /// in the caller's trace, with either layer: what a payment's hop to its adapter relies on.
    #[test]
    fn an_adopted_request_span_continues_the_caller_s_trace_with_either_layer() {
        use opentelemetry::trace::TraceContextExt;
        use tracing_subscriber::layer::SubscriberExt;
        let provider = SdkTracerProvider::builder().build();
        for traces in [Traces::Ids, Traces::Exported(provider.tracer("test"))] {
            let sub = tracing_subscriber::registry().with(layer(traces));
            tracing::subscriber::with_default(sub, || {
                let mut headers = http::HeaderMap::new();
                let caller = tracing::info_span!("caller");
                caller.in_scope(|| inject_headers(&mut headers));
                let sent = caller.in_scope(current).span().span_context().clone();
                let span = tracing::info_span!(parent: None, "grpc.server", trace_id = tracing::field::Empty);
                adopt(&span, extract_headers(&headers));
                let got = span.in_scope(current).span().span_context().clone();
                assert_eq!(got.trace_id(), sent.trace_id());
                assert_ne!(got.span_id(), sent.span_id(), "a span of its own");
                let child = span.in_scope(|| tracing::info_span!("child"));
                let inner = child.in_scope(current).span().span_context().clone();
                assert_eq!(inner.trace_id(), sent.trace_id(), "its children too");
            });
        }
    }
}
