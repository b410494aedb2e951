//! The Expirenza adapter's metrics in one place: names, units, help texts
//! ([`describe_metrics`]) and the one type that keeps the connection gauge right
//! ([`ConnectionGauge`]). Restaurant ids are not labels (see the payment service's
//! `metric_definitions`): a disconnected restaurant is named in the logs.

use metrics::{Unit, describe_counter, describe_gauge};

/// Restaurants' Expirenza connections, by `state` (connected, disconnected: waiting to
/// reconnect).
pub const CONNECTIONS: &str = "posgate_expirenza_connections";
/// Attempts to connect to Expirenza, by `result` (ok, error).
pub const CONNECTION_ATTEMPTS: &str = "posgate_expirenza_connection_attempts_total";

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
