//! `traceparent` towards the POS, per restaurant: the kit's `send` injects it into every
//! exchange of a traced call unless the restaurant's connection says `trace_headers = false`
//! (the adapter server runs each connector call in a `PosCall` saying so), against a stub POS
//! that records the headers it received. Each exchange is also timed on the metrics page by POS
//! kind and result.
//!
//! This binary installs the process's subscriber (with the OpenTelemetry layer that makes
//! trace ids, export off) and its metrics recorder.
#![cfg(feature = "testkit")]

use posgate_pos_kit::testkit::stub::{Canned, Stub};
use posgate_pos_kit::{HttpPolicy, PosCall, send};
use tracing::Instrument;

/// What the stub received as `traceparent` on its last request (`None`: no header).
fn last_traceparent(stub: &Stub) -> Option<String> {
    let seen = stub.seen();
    let last = seen.last().expect("the stub received the request");
    last.headers
        .get("traceparent")
        .map(|v| v.to_str().expect("ascii").to_string())
}

fn call(restaurant_id: &str, trace_headers: bool) -> PosCall {
    PosCall {
        pos: "kit_test",
        restaurant_id: restaurant_id.into(),
        trace_headers,
        hosts: None,
        deadline: None,
    }
}

#[tokio::test]
async fn traceparent_goes_to_the_pos_unless_the_restaurant_turns_it_off() {
    posgate_grpc::init_logging(Some(posgate_grpc::LogFormat::Text), None).expect("logging");
    let metrics = posgate_grpc::metrics::install().expect("the recorder of this binary");
    let stub = Stub::new(|_| Canned::json("{}"));
    let addr = stub.spawn().await;
    let http = HttpPolicy::new("kit-test").build().unwrap();
    let post = || http.post(format!("http://{addr}/pay"));

    // A restaurant with the default: the exchange carries the call's trace.
    let span = tracing::info_span!("post_payment");
    call("r-default", true)
        .run(send(post(), "Test POS"))
        .instrument(span)
        .await
        .expect("answered");
    let sent = last_traceparent(&stub).expect("traceparent sent by default");
    let parts: Vec<&str> = sent.split('-').collect();
    assert_eq!(parts.len(), 4, "a W3C traceparent: {sent}");
    assert_eq!((parts[0], parts[1].len(), parts[2].len()), ("00", 32, 16));

    // `trace_headers = false`: the same traced call sends none (nor `tracestate`).
    let span = tracing::info_span!("post_payment");
    call("r-quiet", false)
        .run(send(post(), "Test POS"))
        .instrument(span)
        .await
        .expect("answered");
    assert_eq!(last_traceparent(&stub), None, "no traceparent when off");
    assert!(
        stub.seen()
            .last()
            .unwrap()
            .headers
            .get("tracestate")
            .is_none()
    );

    // Outside an adapter's call (a tool, a test): sent, as by default.
    send(post(), "Test POS")
        .instrument(tracing::info_span!("tool"))
        .await
        .expect("answered");
    assert!(last_traceparent(&stub).is_some());

    // Every exchange is timed by POS kind and result; no restaurant label by default.
    let page = metrics.render();
    let ok = page
        .lines()
        .find(|l| {
            l.starts_with("posgate_pos_http_request_duration_seconds_count{")
                && l.contains("pos=\"kit_test\"")
                && l.contains("result=\"200\"")
        })
        .unwrap_or_else(|| panic!("no kit_test series:\n{page}"));
    assert!(ok.ends_with(" 2"), "two exchanges of the calls: {ok}");
    assert!(!page.contains("r-default"), "restaurant ids are no labels");
    assert!(page.contains("# TYPE posgate_pos_http_request_duration_seconds histogram"));
}
