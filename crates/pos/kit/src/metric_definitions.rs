//! The POS adapters' own metrics in one place: names, units, help texts ([`describe_metrics`])
//! and the one function recording them ([`pos_http`]), so every adapter is measured alike by
//! the kit's [`crate::http::send`].
//!
//! Labels are bounded: `pos` (the adapter's POS kind), `result` (an HTTP status code, or one
//! of the transport codes of [`crate::http`]: `transport/connect`, `transport/timeout`, …).
//! `restaurant_id` only with `[metrics] restaurant_label = true`
//! ([`posgate_grpc::metrics::with_restaurant`]).

use std::time::Duration;

use metrics::{Label, Unit, describe_histogram};

/// One HTTP exchange with a POS server, by `pos` and `result`.
pub const POS_HTTP_DURATION: &str = "posgate_pos_http_request_duration_seconds";

/// Time an exchange waited for its turn with a busy POS server (`max_connections_per_host`),
/// by `pos`; recorded only for exchanges that waited.
pub const POS_HTTP_QUEUED: &str = "posgate_pos_http_queued_seconds";

/// Registers the help texts and units of every metric above.
pub fn describe_metrics() {
    describe_histogram!(
        POS_HTTP_DURATION,
        Unit::Seconds,
        "One HTTP exchange of a POS adapter with its POS server, by POS kind and result (HTTP status, or transport failure code)"
    );
    describe_histogram!(
        POS_HTTP_QUEUED,
        Unit::Seconds,
        "Time an HTTP exchange waited in the adapter for its turn with a POS server already serving max_connections_per_host exchanges, by POS kind (only exchanges that waited)"
    );
}

/// One exchange ended with `result` after `took`: of `call`'s POS kind and restaurant, or
/// `pos="unknown"` outside an adapter's call (a test, a tool).
pub fn pos_http(call: Option<&crate::http::PosCall>, result: String, took: Duration) {
    let pos = call.map_or("unknown", |c| c.pos);
    let labels = vec![Label::new("pos", pos), Label::new("result", result)];
    let labels = match call {
        Some(c) => posgate_grpc::metrics::with_restaurant(labels, &c.restaurant_id),
        None => labels,
    };
    metrics::histogram!(POS_HTTP_DURATION, labels).record(took.as_secs_f64());
}

/// An exchange of `call` waited `took` for its turn with its POS server.
pub fn pos_http_queued(call: Option<&crate::http::PosCall>, took: Duration) {
    let pos = call.map_or("unknown", |c| c.pos);
    metrics::histogram!(POS_HTTP_QUEUED, "pos" => pos).record(took.as_secs_f64());
}
