//! Following one payment through the logs: with posgate's JSON log format, the lines of a
//! payment's work carry its `payment_id`, `restaurant_id` and `bill_id` (the engine's span), and
//! the PayBill line names the caller (the service whose token was presented).

use std::io::Write;
use std::sync::{Arc, Mutex};

use posgate_grpc::LogFormat;
use posgate_proto::v1::PaymentState as S;
use posgate_tests::{Stack, pay, state};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payments_log_lines_carry_its_ids_and_caller() {
    let captured = Captured::default();
    // As `init_logging` sets it up with no collector: trace ids only, nothing exported.
    tracing::subscriber::set_global_default(posgate_grpc::logs::traced_subscriber(
        LogFormat::Json,
        false,
        captured.clone(),
        posgate_grpc::telemetry::Traces::Ids,
    ))
    .expect("the only subscriber of this test binary");

    let s = Stack::start().await;
    let bill = s.add_order(posgate_sim::wsa::DEMO_OBJECT_ID, "42.00");
    let p = s
        .client()
        .pay_bill(pay("follow-me", "demo", &bill, "42.00"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state(&p), S::Closed, "{p:?}");

    // The step's line is written just after the state PayBill answered with was saved.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let logs = loop {
        let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
        if logs.contains("\"message\":\"payment step done\"")
            || std::time::Instant::now() > deadline
        {
            break logs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let with = |message: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["message"] == message).collect()
    };
    let accepted = with("payment accepted");
    assert_eq!(accepted.len(), 1, "{logs}");
    let span = &accepted[0]["span"];
    assert_eq!(span["name"], "pay_bill");
    assert_eq!(span["caller"], "cli");
    assert_eq!(span["payment_id"], p.payment_id.as_str());
    assert_eq!(span["restaurant_id"], "demo");
    assert_eq!(span["bill_id"], bill.as_str());
    let trace_id = span["trace_id"].as_str().unwrap_or_default().to_string();
    assert!(
        trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "a W3C trace id on the PayBill line: {}",
        accepted[0]
    );

    let steps = with("payment step done");
    assert!(!steps.is_empty(), "{logs}");
    for l in steps {
        let span = &l["span"];
        assert_eq!(span["name"], "payment", "{l}");
        assert_eq!(span["payment_id"], p.payment_id.as_str(), "{l}");
        assert_eq!(span["restaurant_id"], "demo", "{l}");
        assert_eq!(span["bill_id"], bill.as_str(), "{l}");
        assert_eq!(
            span["trace_id"],
            trace_id.as_str(),
            "the PayBill's trace: {l}"
        );
    }
    // The hops carried the trace on: the POS received it in `traceparent` (payment service →
    // adapter over gRPC metadata, adapter → POS over HTTP).
    let sent = s.sim.traceparents("PayOrder");
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0].split('-').nth(1),
        Some(trace_id.as_str()),
        "the POS saw the PayBill's trace: {sent:?}"
    );
}
