//! Payment service settings: section `[payments]` of the posgate TOML file, overridden by
//! environment variables `POSGATE_PAYMENTS__<KEY>` (`__` separates nested keys, e.g.
//! `POSGATE_PAYMENTS__RETRY__MAX_ATTEMPTS=10`). The keys that seal card codes at rest come from
//! the shared `[secrets]` section (`POSGATE_SECRETS__*`, see [`posgate_secrets`]).
//!
//! Service settings only: restaurants are declared at run time in the registry
//! ([`crate::registry`]); a file that still has the retired `[payments.restaurants]` section is
//! refused, saying where they go now ([`RETIRED`]). Unknown keys are refused too.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use posgate_core::RetryPolicy;
use posgate_grpc::{AuthConfig, MetricsConfig, Retired};
use posgate_secrets::SecretsConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    pub listen: SocketAddr,
    /// The admin HTTP port: `/metrics` (Prometheus), `/livez`, `/readyz`. None: not served.
    pub admin_listen: Option<SocketAddr>,
    /// `sqlite://data/posgate.db` (embedded default) or `sqlite::memory:` for throwaway runs.
    pub database_url: String,
    /// How long `PayBill` waits for the POS before answering with the in-progress payment.
    pub pay_wait_ms: u64,
    /// Retries of retriable substates (BILL_IN_USE, CASHIERS_SHIFT_CLOSED, ...).
    pub retry: RetryPolicy,
    /// Reconciliation reads after an unknown outcome. When exhausted the payment goes to needs
    /// attention: a person checks the bill, posgate never guesses.
    pub reconcile: RetryPolicy,
    /// After the POS left a payment unanswered, how long it may still apply it late (WSA runs a
    /// timed-out task when the agent gets to it). Reading the bill as "not applied" is believed
    /// only after the settle time, so a late apply is never followed by a second posting. Each
    /// adapter names its POS's own window (`Describe.reconcile_settle_ms`); this caps it, and is
    /// used alone for an adapter that names none. See [`PaymentsConfig::settle_ms`].
    pub reconcile_settle_ms: u64,
    /// How long a worker owns a payment it took without renewing it. The worker renews it every
    /// third of this while a POS call runs, so it only bounds how long a payment whose worker
    /// died waits before another takes it over: keep it seconds.
    pub lease_ms: u64,
    /// POS calls in flight per restaurant: a restaurant's POS is one small box.
    pub max_in_flight_per_restaurant: usize,
    /// Payments one replica holds at once (driving, or waiting for their restaurant's slot):
    /// the scheduler reads no further once it holds this many (one read may take up to 500
    /// more); a backlog beyond it stays stored and is read as these finish. Each restaurant's share
    /// is at most [`QUEUED_PER_SLOT`] × `max_in_flight_per_restaurant`, so one restaurant's
    /// backlog never holds the others' due payments back.
    pub max_held: usize,
    /// The longest the scheduler sleeps without reading the store. It sleeps until the next
    /// payment falls due and is woken by this replica's own work, so this only bounds how late
    /// work made elsewhere is noticed (a payment another replica stored but never drove).
    /// Idle, the scheduler reads the store once per interval.
    pub poll_interval_ms: u64,
    /// Deadline of one adapter call. Adapters wait for slow POSes themselves (WSA: 120 s).
    pub adapter_timeout_ms: u64,
    /// gRPC connections to each adapter. One connection carries at most 256 calls at once and a
    /// slow POS keeps each open for seconds: calls in flight to one POS kind are capped at
    /// 256 × this (4,096 by default).
    pub adapter_connections: usize,
    /// Looks at postings' tasks (WSA async) in flight at once, for all restaurants: a payment
    /// waits for a slot before it asks, holding nothing but its own small state. A POS server
    /// busy with thousands of tasks answers looks slowly; without this bound each waiting
    /// payment's look would wait inside the adapter, a gRPC call held on both sides.
    pub task_looks_in_flight: usize,
    /// On shutdown, how long in-flight POS calls may take to finish and save.
    pub shutdown_grace_ms: u64,
    /// On shutdown, how long the service keeps answering calls after its health turned
    /// `NOT_SERVING`, so load balancers and Kubernetes stop routing to it before it stops
    /// accepting (longer than the readiness probe period there; 0 here: stop at once).
    pub drain_ms: u64,
    /// How often the database is checked for the health status (`SERVING` only while it
    /// answers and carries this build's schema).
    pub health_interval_ms: u64,
    /// Adapter gRPC endpoints by POS kind: `wsa = "http://127.0.0.1:50061"`. Which restaurant
    /// goes to which is the registry's (`RestaurantSpec.pos_kind`).
    pub adapters: BTreeMap<String, String>,
    /// Service-to-service tokens: the `[auth]` section, shared by every service.
    #[serde(skip)]
    pub auth: AuthConfig,
    /// Keys that seal card codes at rest: the `[secrets]` section. Without a key the service
    /// refuses to start.
    #[serde(skip)]
    pub secrets: SecretsConfig,
    /// The shared `[metrics]` section: whether per-restaurant series carry `restaurant_id`.
    #[serde(skip)]
    pub metrics: MetricsConfig,
}

/// Sections of `[payments]` that are no longer read, and where what they held goes now.
pub const RETIRED: &[Retired] = &[Retired {
    key: "restaurants",
    instead: "restaurants are declared in the restaurant registry, not in the config file. Put each one in a [restaurants.<id>] table of a restaurants file (pos_kind = its `pos`, currency, currency_scale, and as pos_settings / pos_secret_files the settings of its [<pos>.restaurants.<id>] section; deploy/restaurants.toml is an example) and declare them with `posgate restaurant import <file>` against the running payment service",
}];

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            admin_listen: None,
            database_url: "sqlite://data/posgate.db".into(),
            pay_wait_ms: 5_000,
            retry: RetryPolicy::default(),
            reconcile: RetryPolicy {
                initial_ms: 5_000,
                multiplier_pct: 200,
                max_delay_ms: 300_000,
                max_attempts: 30,
                jitter_pct: 10,
            },
            reconcile_settle_ms: 300_000,
            lease_ms: 10_000,
            max_in_flight_per_restaurant: 2,
            max_held: 20_000,
            poll_interval_ms: 3_000,
            adapter_connections: 16,
            adapter_timeout_ms: 200_000,
            task_looks_in_flight: 512,
            shutdown_grace_ms: 15_000,
            drain_ms: 0,
            health_interval_ms: 5_000,
            adapters: BTreeMap::new(),
            auth: AuthConfig::default(),
            secrets: SecretsConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// Payments of one restaurant a replica holds at once, per POS slot of the restaurant
/// (`max_in_flight_per_restaurant`): enough to keep its slots busy, few enough that a restaurant
/// with thousands due (a POS back after hours down) leaves room for every other one.
pub const QUEUED_PER_SLOT: usize = 16;

/// Bills a replica reads ahead at once, while their payments are stored
/// ([`crate::engine::Engine::read_bill_ahead`]). The read ahead shortens a payment's path when
/// payments come a few at a time; in a burst (thousands accepted in a second) the inserts queue
/// for the writer anyway, and each read ahead in flight holds a call in this service and in
/// the adapter, so beyond this many a payment reads its bill after its insert, as before.
pub const READS_AHEAD_IN_FLIGHT: usize = 64;

impl PaymentsConfig {
    /// The most payments of one restaurant a replica holds at once.
    pub fn max_held_per_restaurant(&self) -> usize {
        self.max_in_flight_per_restaurant.max(1) * QUEUED_PER_SLOT
    }

    /// Defaults, then the `[payments]` section of `path`, then `POSGATE_PAYMENTS__*`; `[auth]`,
    /// `[secrets]` and `[metrics]` likewise.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let mut cfg: PaymentsConfig =
            posgate_grpc::load_section_retiring(path, "payments", RETIRED)?;
        cfg.auth = AuthConfig::load(path)?;
        cfg.secrets = posgate_grpc::load_section(path, "secrets")?;
        cfg.metrics = MetricsConfig::load(path)?;
        cfg.check()?;
        Ok(cfg)
    }

    /// The settle time for a POS whose adapter says `adapter_ms`: the adapter knows its POS's
    /// window, so its value is used, but never beyond `reconcile_settle_ms` (an operator's
    /// upper bound: lowering it below a POS's window trades the wait for the risk of a late
    /// apply after the second posting). An adapter that says 0 gets `reconcile_settle_ms`.
    pub fn settle_ms(&self, adapter_ms: u64) -> u64 {
        match adapter_ms {
            0 => self.reconcile_settle_ms,
            a => a.min(self.reconcile_settle_ms),
        }
    }

    /// Refuses settings that cannot work (a lease that could not be renewed in time, no
    /// connection to the adapters).
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.adapter_connections >= 1,
            "[payments] adapter_connections must be at least 1"
        );
        anyhow::ensure!(self.max_held >= 1, "[payments] max_held must be at least 1");
        anyhow::ensure!(
            self.task_looks_in_flight >= 1,
            "[payments] task_looks_in_flight must be at least 1"
        );
        anyhow::ensure!(
            self.lease_ms >= 100,
            "[payments] lease_ms = {} is too short: at least 100 (renewed every third of it); seconds are usual",
            self.lease_ms
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_is_the_adapters_capped_by_the_service_setting() {
        let cfg = PaymentsConfig {
            reconcile_settle_ms: 300_000,
            ..PaymentsConfig::default()
        };
        assert_eq!(cfg.settle_ms(125_000), 125_000, "the POS's own window");
        assert_eq!(cfg.settle_ms(1), 1);
        assert_eq!(cfg.settle_ms(900_000), 300_000, "capped");
        assert_eq!(cfg.settle_ms(0), 300_000, "the adapter names none");
        let zero = PaymentsConfig {
            reconcile_settle_ms: 0,
            ..PaymentsConfig::default()
        };
        assert_eq!(zero.settle_ms(125_000), 0, "an override to believe at once");
    }

    #[test]
    fn keys_are_read_from_the_secrets_section() {
        let dir = std::env::temp_dir().join(format!("posgate-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("posgate.toml");
        std::fs::write(
            &path,
            r#"
[secrets]
active = "k2"
keys = { k1 = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE=", k2 = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI=" }
[payments]
lease_ms = 1000
"#,
        )
        .unwrap();
        let cfg = PaymentsConfig::load(Some(&path)).unwrap();
        let ring = cfg.secrets.keyring().unwrap();
        assert_eq!(ring.active_id(), "k2");
        assert_eq!(
            format!("{ring:?}"),
            r#"Keyring { active: "k2", keys: ["k1", "k2"] }"#
        );
        assert!(!format!("{cfg:?}").contains("MTEx"), "keys never printed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `body` written as a config file of its own; the answer of [`PaymentsConfig::load`].
    fn load(name: &str, body: &str) -> anyhow::Result<PaymentsConfig> {
        let dir = std::env::temp_dir().join(format!("posgate-cfg-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("posgate.toml");
        std::fs::write(&path, body).unwrap();
        let cfg = PaymentsConfig::load(Some(&path));
        let _ = std::fs::remove_dir_all(&dir);
        cfg
    }

    #[test]
    fn a_file_with_static_restaurants_is_refused_saying_to_import_them() {
        let e = load(
            "retired",
            r#"
[payments]
lease_ms = 1000
[payments.adapters]
wsa = "http://127.0.0.1:50061"
[payments.restaurants.kyiv-1]
pos = "wsa"
[payments.restaurants.lviv-1]
pos = "wsa"
currency_scale = 2
"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("[payments.restaurants] is no longer read (it holds kyiv-1, lviv-1)"),
            "{e}"
        );
        assert!(e.contains("posgate restaurant import <file>"), "{e}");
        assert!(e.contains("[restaurants.<id>]"), "{e}");
        // Without the section the same file is a working configuration.
        let cfg = load(
            "retired-ok",
            "[payments]\nlease_ms = 1000\n[payments.adapters]\nwsa = \"http://127.0.0.1:50061\"\n",
        )
        .unwrap();
        assert_eq!(cfg.adapters["wsa"], "http://127.0.0.1:50061");
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let e = load("unknown", "[payments]\nlease_mss = 1000\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid [payments] configuration"), "{e}");
        assert!(e.contains("lease_mss"), "{e}");
    }
}
