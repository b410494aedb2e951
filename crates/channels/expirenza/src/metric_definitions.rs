//! The Expirenza adapter's metrics in one place: names, units, help texts
//! ([`describe_metrics`]), the one type that keeps the connection gauge right
//! ([`ConnectionGauge`]) and the callback outcome table ([`callback_delivery`]). Restaurant ids are not labels (see the payment service's
//! `metric_definitions`): a disconnected restaurant is named in the logs.

use metrics::{Unit, describe_counter, describe_gauge};

/// Restaurants' Expirenza connections, by `state` (connected, disconnected: waiting to
/// reconnect).
pub const CONNECTIONS: &str = "posgate_expirenza_connections";
/// Attempts to connect to Expirenza, by `result` (ok, error).
pub const CONNECTION_ATTEMPTS: &str = "posgate_expirenza_connection_attempts_total";

/// Callbacks to Expirenza by `operation` (payBill, getBill, …) and final `result`: `delivered`
/// (2xx), `rejected` (4xx, not resent), `gave_up` (5xx/transport errors until the window closed).
pub const CALLBACK_DELIVERIES: &str = "posgate_expirenza_callback_deliveries_total";
/// POSTs of callbacks, resends included, by `operation`.
pub const CALLBACK_ATTEMPTS: &str = "posgate_expirenza_callback_attempts_total";

/// The `result` label of each way a callback ends.
pub fn delivery_result(d: &crate::callback::Delivery) -> &'static str {
    use crate::callback::Delivery;
    match d {
        Delivery::Delivered { .. } => "delivered",
        Delivery::Rejected { .. } => "rejected",
        Delivery::GaveUp { .. } => "gave_up",
    }
}

/// Counts one callback's end (and its POSTs).
pub fn callback_delivery(operation: &str, d: &crate::callback::Delivery, attempts: u32) {
    let operation = operation.to_string();
    metrics::counter!(CALLBACK_DELIVERIES, "operation" => operation.clone(), "result" => delivery_result(d))
        .increment(1);
    metrics::counter!(CALLBACK_ATTEMPTS, "operation" => operation).increment(u64::from(attempts));
}

/// Registers the help texts and units of every metric above.
pub fn describe_metrics() {
    describe_gauge!(
        CONNECTIONS,
        Unit::Count,
        "Restaurants' Expirenza WebSocket connections, by state (connected, disconnected)"
    );
    describe_counter!(
        CONNECTION_ATTEMPTS,
        Unit::Count,
        "Attempts to connect to Expirenza, by result (ok, error)"
    );
    describe_counter!(
        CALLBACK_DELIVERIES,
        Unit::Count,
        "Callbacks to Expirenza by operation and final result (delivered, rejected, gave_up)"
    );
    describe_counter!(
        CALLBACK_ATTEMPTS,
        Unit::Count,
        "Callback POSTs to Expirenza (resends included), by operation"
    );
}

/// One restaurant's place in [`CONNECTIONS`]: counted as disconnected from creation, moved by
/// [`ConnectionGauge::connected`] / [`ConnectionGauge::disconnected`], removed when dropped.
pub struct ConnectionGauge {
    connected: bool,
}

impl ConnectionGauge {
    pub fn new() -> Self {
        metrics::gauge!(CONNECTIONS, "state" => "disconnected").increment(1);
        ConnectionGauge { connected: false }
    }

    fn set(&mut self, connected: bool) {
        if self.connected == connected {
            return;
        }
        let (from, to) = if connected {
            ("disconnected", "connected")
        } else {
            ("connected", "disconnected")
        };
        metrics::gauge!(CONNECTIONS, "state" => from).decrement(1);
        metrics::gauge!(CONNECTIONS, "state" => to).increment(1);
        self.connected = connected;
    }

    /// The connection is up.
    pub fn connected(&mut self) {
        metrics::counter!(CONNECTION_ATTEMPTS, "result" => "ok").increment(1);
        self.set(true);
    }

    /// An attempt failed.
    pub fn failed(&mut self) {
        metrics::counter!(CONNECTION_ATTEMPTS, "result" => "error").increment(1);
        self.set(false);
    }

    /// The connection dropped.
    pub fn disconnected(&mut self) {
        self.set(false);
    }
}

impl Default for ConnectionGauge {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ConnectionGauge {
    fn drop(&mut self) {
        let state = if self.connected {
            "connected"
        } else {
            "disconnected"
        };
        metrics::gauge!(CONNECTIONS, "state" => state).decrement(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge(page: &str, state: &str) -> String {
        let prefix = format!("{CONNECTIONS}{{state=\"{state}\"}} ");
        page.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or("absent")
            .to_string()
    }

    #[test]
    fn the_gauge_follows_each_connection_and_forgets_it_when_it_ends() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            let mut a = ConnectionGauge::new();
            let mut b = ConnectionGauge::new();
            assert_eq!(gauge(&handle.render(), "disconnected"), "2");
            a.connected();
            b.failed();
            let page = handle.render();
            assert_eq!(gauge(&page, "connected"), "1");
            assert_eq!(gauge(&page, "disconnected"), "1");
            a.connected(); // no double count
            a.disconnected();
            b.connected();
            let page = handle.render();
            assert_eq!(gauge(&page, "connected"), "1");
            assert_eq!(gauge(&page, "disconnected"), "1");
            drop(a);
            drop(b);
            let page = handle.render();
            assert_eq!(gauge(&page, "connected"), "0");
            assert_eq!(gauge(&page, "disconnected"), "0");
            assert!(
                page.contains("posgate_expirenza_connection_attempts_total{result=\"ok\"} 3"),
                "{page}"
            );
        });
    }
}
