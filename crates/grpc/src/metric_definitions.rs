//! The metrics every posgate gRPC server records, in one place: names, units and help texts
//! (as restate's `metric_definitions.rs` keeps them), so the `/metrics` page, the README and the
//! alert rules in `deploy/` read from one list.
//!
//! Labels are bounded: `server` (the process's service name: payments, wsa, ...), `method`
//! (a method of a service this build knows, else `unknown`), `code` (the 17 gRPC codes).

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

/// Calls answered, by `server`, `method` and gRPC `code` (`OK`, `INVALID_ARGUMENT`, ...).
pub const GRPC_SERVER_REQUESTS: &str = "posgate_grpc_server_requests_total";
/// Time from a call's arrival to the end of its answer (a stream: to its end), by `server` and
/// `method`.
pub const GRPC_SERVER_DURATION: &str = "posgate_grpc_server_request_duration_seconds";
/// Calls being answered now, by `server`.
pub const GRPC_SERVER_IN_FLIGHT: &str = "posgate_grpc_server_requests_in_flight";

/// Registers the help texts and units of [`GRPC_SERVER_REQUESTS`] and the others.
pub fn describe_metrics() {
    describe_counter!(
        GRPC_SERVER_REQUESTS,
        Unit::Count,
        "gRPC calls answered, by server, method and gRPC status code"
    );
    describe_histogram!(
        GRPC_SERVER_DURATION,
        Unit::Seconds,
        "Time to answer a gRPC call (streams: until they end), by server and method"
    );
    describe_gauge!(
        GRPC_SERVER_IN_FLIGHT,
        Unit::Count,
        "gRPC calls being answered now, by server"
    );
}
