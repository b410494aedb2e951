//! One payment, one trace: a PayBill through the test stack (payment service → WSA adapter →
//! WSA simulator, over real gRPC and HTTP) is followed under one trace id, each hop the child
//! of the one before it through the propagated W3C `traceparent` — not through an in-process
//! span stack (the adapter's request span is a `tracing` root; only the header links it).
//!
//! A restaurant whose connection says `trace_headers = false` is paid the same way, and its POS
//! receives no `traceparent`.
//!
//! The stack runs in this process with one subscriber; its OpenTelemetry layer exports to the
//! SDK's in-memory exporter. This binary holds this one test, since it installs the global
//! subscriber.

use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use posgate_grpc::LogFormat;
use posgate_proto::v1 as pb;
use posgate_tests::Stack;

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn one<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let found = named(spans, name);
    assert_eq!(
        found.len(),
        1,
        "one span {name:?} among {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

fn trace_of(s: &SpanData) -> TraceId {
    s.span_context.trace_id()
}

fn id_of(s: &SpanData) -> SpanId {
    s.span_context.span_id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pay_bill_is_one_trace_from_the_payment_service_through_the_adapter_to_the_pos() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tracing::subscriber::set_global_default(posgate_grpc::logs::traced_subscriber(
        LogFormat::Text,
        false,
        std::io::sink,
        posgate_grpc::telemetry::Traces::Exported(provider.tracer("test")),
    ))
    .expect("the only subscriber of this binary");

    let s = Stack::start().await;
    let bill = s.add_order(posgate_sim::wsa::DEMO_OBJECT_ID, "150.00");
    let p = s
        .client()
        .pay_bill(posgate_tests::pay("trace-1", "demo", &bill, "150.00"))
        .await
        .expect("pay")
        .into_inner();
    assert_eq!(posgate_tests::state(&p), pb::PaymentState::Closed, "{p:?}");

    // Spans are exported when they end; the payment's own span ends once its driving does.
    let mut spans = Vec::new();
    for _ in 0..100 {
        spans = exporter.get_finished_spans().expect("spans");
        if spans.iter().any(|s| s.name == "payment") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The payment service: its PayBill request (no caller context: a root), the handler's span
    // under it, and the payment's driving adopted by the request that kicked it.
    let pay_server = one(&spans, "/posgate.v1.PaymentService/PayBill");
    let trace = trace_of(pay_server);
    let pay_bill = one(&spans, "pay_bill");
    assert_eq!(pay_bill.parent_span_id, id_of(pay_server));
    let payment = one(&spans, "payment");
    assert_eq!(
        trace_of(payment),
        trace,
        "the payment's work is in the request's trace"
    );
    assert_eq!(payment.parent_span_id, id_of(pay_bill));

    // The hop to the adapter: the payment service's client span, and the adapter's server span
    // whose parent it is — in another server, linked only by the `traceparent` it sent.
    let post = one(&spans, "pos.post_payment");
    assert_eq!(trace_of(post), trace);
    assert_eq!(post.parent_span_id, id_of(payment));
    let adapter = one(&spans, "/posgate.v1.PosAdapter/PostPayment");
    assert_eq!(
        trace_of(adapter),
        trace,
        "the adapter's span is in the payment's trace"
    );
    assert_eq!(
        adapter.parent_span_id,
        id_of(post),
        "the adapter's request span is the child of the payment service's client span"
    );
    let get_bill = one(&spans, "/posgate.v1.PosAdapter/GetBill");
    assert_eq!(
        trace_of(get_bill),
        trace,
        "the bill read before posting too"
    );

    // The hop to the POS: the adapter's HTTP span under its request span, and the request the
    // simulator received carrying that span as `traceparent`.
    let http: Vec<&SpanData> = named(&spans, "pos.http")
        .into_iter()
        .filter(|s| s.parent_span_id == id_of(adapter))
        .collect();
    assert!(
        !http.is_empty(),
        "a POS HTTP span under the adapter's PostPayment"
    );
    let sent = s.sim.traceparents("PayOrder");
    assert!(
        !sent.is_empty(),
        "the PayOrder request carried a traceparent"
    );
    for tp in &sent {
        let parts: Vec<&str> = tp.split('-').collect();
        assert_eq!(parts.len(), 4, "{tp}");
        assert_eq!(parts[1], trace.to_string(), "{tp}: the payment's trace");
        assert!(
            http.iter().any(|h| parts[2] == id_of(h).to_string()),
            "{tp}: the parent is the adapter's POS HTTP span"
        );
    }

    // A restaurant whose POS server refuses unknown headers: `trace_headers = false` in its
    // connection (a setting every POS kind takes, read by the kit). Its payment is traced as
    // any other, but no request reaches its POS with a `traceparent`.
    let mut quiet = s.restaurant_spec("demo");
    quiet
        .pos_settings
        .insert("trace_headers".into(), "false".into());
    s.add_restaurant("demo-quiet", quiet).await;
    let (tasks_before, traced_before) = (s.sim.requests("PayOrder"), sent.len());
    let bill = s.add_order(posgate_sim::wsa::DEMO_OBJECT_ID, "80.00");
    let p = s
        .client()
        .pay_bill(posgate_tests::pay(
            "trace-quiet",
            "demo-quiet",
            &bill,
            "80.00",
        ))
        .await
        .expect("pay")
        .into_inner();
    assert_eq!(posgate_tests::state(&p), pb::PaymentState::Closed, "{p:?}");
    assert!(
        s.sim.requests("PayOrder") > tasks_before,
        "the POS got the payment"
    );
    assert_eq!(
        s.sim.traceparents("PayOrder").len(),
        traced_before,
        "without a traceparent"
    );
}
