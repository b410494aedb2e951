//! Harness for end-to-end tests: the WSA simulator, the WSA adapter and the payment service,
//! each on its own loopback port, talking real HTTP and gRPC, wired by a real config file.
//!
//! The config file holds service settings only, as in production: the stack's restaurants are
//! declared in the payment service's registry through `RestaurantService` with the operator
//! token, once the service is up ([`Stack::add_restaurant`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use posgate_grpc::CallerToken;
use posgate_payments::{PaymentsConfig, PaymentsService};
use posgate_proto::v1::payment_service_client::PaymentServiceClient;
use posgate_proto::v1::restaurant_service_client::RestaurantServiceClient;
use posgate_proto::v1::{self as pb};
use posgate_sim::wsa::{AgentVersion, DEMO_CURRENCY_GUID, SimOrder, SimRestaurant, WsaSim};
use rust_decimal::Decimal;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Service tokens of the test stack.
pub const PAYMENTS_TOKEN: &str = "test-payments-token";
pub const CLI_TOKEN: &str = "test-cli-token";
pub const EXPIRENZA_TOKEN: &str = "test-expirenza-token";
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// The key the test stack seals secrets at rest with, under [`KEY_ID`]; [`KEY_B64`] is its
/// base64, as configured.
pub const KEY: &[u8; 32] = b"test-key-posgate-secrets-32-byte";
pub const KEY_B64: &str = "dGVzdC1rZXktcG9zZ2F0ZS1zZWNyZXRzLTMyLWJ5dGU=";
pub const KEY_ID: &str = "test-1";

/// The test stack's keyring: [`KEY_B64`] under [`KEY_ID`], active.
pub fn keyring() -> std::sync::Arc<posgate_payments::secrets::Keyring> {
    use posgate_payments::secrets::SecretsConfig;
    let cfg = SecretsConfig {
        active: Some(KEY_ID.into()),
        keys: [(KEY_ID.to_string(), posgate_core::Secret::new(KEY_B64))].into(),
        ..SecretsConfig::default()
    };
    std::sync::Arc::new(cfg.keyring().expect("test keyring"))
}

/// A client of the payment service, sending the test caller's token.
pub type Client = PaymentServiceClient<InterceptedService<Channel, CallerToken>>;

/// A payment service client for `addr` with `token` (empty: no token).
pub fn client_for(addr: SocketAddr, token: &str) -> Client {
    PaymentServiceClient::with_interceptor(
        Channel::from_shared(format!("http://{addr}"))
            .expect("url")
            .connect_lazy(),
        CallerToken::bearer(token),
    )
}

/// A restaurant whose POS accepts overpayment (a buggy r_keeper): only posgate's own bill lock
/// stands between concurrent payments and an overpaid bill.
pub const LENIENT_OBJECT_ID: i64 = 199_990_300;
pub const LENIENT_TOKEN: &str = "lenient-token";

#[derive(Clone)]
pub struct Options {
    pub pay_wait_ms: u64,
    pub task_timeout_s: u64,
    pub retry_initial_ms: u64,
    pub retry_max_attempts: u32,
    pub reconcile_initial_ms: u64,
    pub max_in_flight_per_restaurant: usize,
    pub lease_ms: u64,
    /// Database of the payment service; a fresh SQLite file when `None`.
    pub database_url: Option<String>,
    /// Declare the stack's restaurants (`demo`, `demo-sync`, `demo-v1`, `lenient`) in the
    /// registry at start; `false` leaves the registry empty.
    pub declare_restaurants: bool,
    /// `[payments] drain_ms`: how long it keeps answering after a stop began.
    pub drain_ms: u64,
    /// Serve the payment service's admin HTTP port (`/metrics`, `/livez`, `/readyz`) on a free
    /// loopback port: [`Stack::admin_addr`].
    pub admin: bool,
    /// `[metrics] restaurant_label`: per-restaurant series carry `restaurant_id` (process-wide:
    /// every stack of a test binary should say the same).
    pub restaurant_label: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pay_wait_ms: 5_000,
            task_timeout_s: 2,
            retry_initial_ms: 100,
            retry_max_attempts: 20,
            reconcile_initial_ms: 200,
            max_in_flight_per_restaurant: 4,
            lease_ms: 30_000,
            database_url: None,
            declare_restaurants: true,
            drain_ms: 0,
            admin: false,
            restaurant_label: false,
        }
    }
}

impl Options {
    /// The defaults, with nothing in the registry.
    pub fn empty_registry() -> Options {
        Options {
            declare_restaurants: false,
            ..Options::default()
        }
    }
}

pub struct Stack {
    pub sim: WsaSim,
    pub sim_addr: SocketAddr,
    pub adapter_addr: SocketAddr,
    pub payments_addr: SocketAddr,
    /// The payment service's admin HTTP port, with [`Options::admin`].
    pub admin_addr: Option<SocketAddr>,
    admin: bool,
    pub client: Client,
    pub config_path: PathBuf,
    pub dir: PathBuf,
    stop_payments: watch::Sender<bool>,
    payments_task: Option<JoinHandle<anyhow::Result<()>>>,
    replicas: Vec<watch::Sender<bool>>,
    /// Where each replica added by [`Stack::add_payments_replica`] listens.
    pub replica_addrs: Vec<SocketAddr>,
    /// The restaurants declared at start, by id (empty with [`Options::empty_registry`]).
    restaurants: Vec<(&'static str, pb::RestaurantSpec)>,
    _stop_rest: watch::Sender<bool>,
}

fn stopped(rx: &watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = rx.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
    }
}

fn config_toml(adapter: SocketAddr, db: &str, o: &Options) -> String {
    format!(
        r#"
[auth]
tokens = {{ payments = "{PAYMENTS_TOKEN}", cli = "{CLI_TOKEN}", expirenza = "{EXPIRENZA_TOKEN}", operator = "{OPERATOR_TOKEN}" }}
[secrets]
active = "{KEY_ID}"
keys = {{ {KEY_ID} = "{KEY_B64}" }}
[payments]
listen = "127.0.0.1:0"
database_url = "{db}"
pay_wait_ms = {wait}
poll_interval_ms = 50
lease_ms = {lease}
reconcile_settle_ms = 1500
max_in_flight_per_restaurant = {inflight}
adapter_timeout_ms = 30000
drain_ms = {drain}
[payments.retry]
initial_ms = {ri}
multiplier_pct = 150
max_delay_ms = 1000
max_attempts = {rmax}
jitter_pct = 20
[payments.reconcile]
initial_ms = {ci}
multiplier_pct = 150
max_delay_ms = 2000
max_attempts = 10
jitter_pct = 10
[payments.adapters]
wsa = "http://{adapter}"
[wsa]
listen = "{adapter}"
[metrics]
restaurant_label = {label}
"#,
        label = o.restaurant_label,
        wait = o.pay_wait_ms,
        inflight = o.max_in_flight_per_restaurant,
        lease = o.lease_ms,
        drain = o.drain_ms,
        ri = o.retry_initial_ms,
        rmax = o.retry_max_attempts,
        ci = o.reconcile_initial_ms,
    )
}

/// A WSA restaurant on the simulator at `sim`, as an operator declares it.
pub fn wsa_spec(
    sim: SocketAddr,
    object_id: i64,
    token: &str,
    agent_version: &str,
    mode: &str,
    task_timeout_s: u64,
) -> pb::RestaurantSpec {
    let settings = [
        ("base_url", format!("http://{sim}")),
        ("object_id", object_id.to_string()),
        ("agent_version", agent_version.to_string()),
        ("currency_guid", DEMO_CURRENCY_GUID.to_string()),
        (
            "tips_currency_guid",
            posgate_sim::wsa::DEMO_TIPS_CURRENCY_GUID.to_string(),
        ),
        ("mode", mode.to_string()),
        ("task_timeout_s", task_timeout_s.to_string()),
        ("poll_interval_ms", "50".to_string()),
        ("timeout_margin_ms", "1000".to_string()),
    ];
    pb::RestaurantSpec {
        display_name: format!("WSA {agent_version} {mode} (object {object_id})"),
        pos_kind: "wsa".into(),
        currency: "UAH".into(),
        currency_scale: 2,
        pos_settings: settings
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        pos_secrets: [("token".to_string(), token.to_string())].into(),
        expirenza: None,
    }
}

/// The restaurants of the stack, on the WSA simulator at `sim`: `demo` (v2, async),
/// `demo-sync` (the same restaurant, sync), `demo-v1` (v1, sync) and `lenient` (v1, async; its
/// POS accepts overpayment).
fn stack_restaurants(sim: SocketAddr, o: &Options) -> Vec<(&'static str, pb::RestaurantSpec)> {
    use posgate_sim::wsa::{DEMO_OBJECT_ID, DEMO_TOKEN, DEMO_V1_OBJECT_ID, DEMO_V1_TOKEN};
    let t = o.task_timeout_s;
    vec![
        (
            "demo",
            wsa_spec(sim, DEMO_OBJECT_ID, DEMO_TOKEN, "v2", "async", t),
        ),
        (
            "demo-sync",
            wsa_spec(sim, DEMO_OBJECT_ID, DEMO_TOKEN, "v2", "sync", t),
        ),
        (
            "demo-v1",
            wsa_spec(sim, DEMO_V1_OBJECT_ID, DEMO_V1_TOKEN, "v1", "sync", t),
        ),
        (
            "lenient",
            wsa_spec(sim, LENIENT_OBJECT_ID, LENIENT_TOKEN, "v1", "async", t),
        ),
    ]
}

/// A client of the restaurant registry, sending `token`.
pub type RegistryClient = RestaurantServiceClient<InterceptedService<Channel, CallerToken>>;

/// A registry client for the payment service at `addr` with `token` (an operator's, to be let in).
pub fn registry_for(addr: SocketAddr, token: &str) -> RegistryClient {
    RestaurantServiceClient::with_interceptor(
        Channel::from_shared(format!("http://{addr}"))
            .expect("url")
            .connect_lazy(),
        CallerToken::bearer(token),
    )
}

/// Declares a restaurant through `RestaurantService.CreateRestaurant`, as an operator does;
/// panics naming the restaurant and the refusal.
pub async fn declare(
    registry: &mut RegistryClient,
    restaurant_id: &str,
    spec: pb::RestaurantSpec,
) -> pb::Restaurant {
    registry
        .create_restaurant(pb::CreateRestaurantRequest {
            restaurant_id: restaurant_id.to_string(),
            spec: Some(spec),
        })
        .await
        .unwrap_or_else(|s| panic!("declaring restaurant {restaurant_id}: {s:?}"))
        .into_inner()
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(Options::default()).await
    }

    pub async fn start_with(o: Options) -> Stack {
        let dir = std::env::temp_dir().join(format!(
            "posgate-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");

        let sim = WsaSim::with_demo_data();
        let mut lenient = SimRestaurant::new(
            LENIENT_OBJECT_ID,
            AgentVersion::V1,
            LENIENT_TOKEN,
            DEMO_CURRENCY_GUID,
        );
        lenient.enforce_amounts = false;
        sim.add_restaurant(lenient);
        let (stop_rest, rest_rx) = watch::channel(false);
        let sim_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sim");
        let sim_addr = sim_listener.local_addr().expect("addr");
        tokio::spawn(
            sim.clone()
                .serve_with_shutdown(sim_listener, stopped(&rest_rx)),
        );

        let adapter_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind adapter");
        let adapter_addr = adapter_listener.local_addr().expect("addr");
        let db = o
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("posgate.db").display()));
        let config_path = dir.join("posgate.toml");
        std::fs::write(&config_path, config_toml(adapter_addr, &db, &o)).expect("config");
        let wsa_cfg = posgate_pos_kit::load_config::<posgate_wsa::WsaConnector>(Some(&config_path))
            .expect("wsa config");
        tokio::spawn(posgate_pos_kit::serve_adapter::<posgate_wsa::WsaConnector>(
            wsa_cfg,
            adapter_listener,
            stopped(&rest_rx),
        ));

        let (stop_payments, _) = watch::channel(false);
        let mut stack = Stack {
            sim,
            sim_addr,
            adapter_addr,
            payments_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_addr: None,
            admin: o.admin,
            client: client_for(SocketAddr::from(([127, 0, 0, 1], 1)), CLI_TOKEN),
            config_path,
            dir,
            stop_payments,
            payments_task: None,
            replicas: Vec::new(),
            replica_addrs: Vec::new(),
            restaurants: if o.declare_restaurants {
                stack_restaurants(sim_addr, &o)
            } else {
                Vec::new()
            },
            _stop_rest: stop_rest,
        };
        stack.start_payments().await;
        for (id, spec) in stack.restaurants.clone() {
            stack.add_restaurant(id, spec).await;
        }
        stack
    }

    /// A registry client of the (first) payment service, with the operator token.
    pub fn registry(&self) -> RegistryClient {
        registry_for(self.payments_addr, OPERATOR_TOKEN)
    }

    /// Declares a restaurant in the registry, as an operator does.
    pub async fn add_restaurant(
        &self,
        restaurant_id: &str,
        spec: pb::RestaurantSpec,
    ) -> pb::Restaurant {
        declare(&mut self.registry(), restaurant_id, spec).await
    }

    /// The POS connection the payment service sends the adapter with every call for one of
    /// the stack's own restaurants (for tests that call the adapter themselves).
    pub fn connection(&self, restaurant_id: &str) -> pb::PosConnection {
        let spec = self.restaurant_spec(restaurant_id);
        pb::PosConnection {
            settings: spec.pos_settings,
            secrets: spec.pos_secrets,
            currency_scale: spec.currency_scale,
            version: 1,
        }
    }

    /// The spec one of the stack's own restaurants was declared with (e.g. to update it).
    pub fn restaurant_spec(&self, restaurant_id: &str) -> pb::RestaurantSpec {
        self.restaurants
            .iter()
            .find(|(id, _)| *id == restaurant_id)
            .map(|(_, spec)| spec.clone())
            .unwrap_or_else(|| panic!("the stack declared no restaurant {restaurant_id:?}"))
    }

    /// Starts (again) the payment service on the same database.
    pub async fn start_payments(&mut self) {
        let cfg = PaymentsConfig::load(Some(&self.config_path)).expect("payments config");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind payments");
        self.payments_addr = listener.local_addr().expect("addr");
        let (tx, rx) = watch::channel(false);
        self.stop_payments = tx;
        let svc = PaymentsService::build(cfg).await.expect("build payments");
        let admin = if self.admin {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
            self.admin_addr = Some(l.local_addr().expect("addr"));
            Some(l)
        } else {
            None
        };
        self.payments_task = Some(tokio::spawn(svc.serve_with_admin(
            listener,
            admin,
            stopped(&rx),
        )));
        self.client = client_for(self.payments_addr, CLI_TOKEN);
    }

    /// Starts one more payment service replica on the same database and adapters; returns a
    /// client of it.
    pub async fn add_payments_replica(&mut self) -> Client {
        let cfg = PaymentsConfig::load(Some(&self.config_path)).expect("payments config");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind replica");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = watch::channel(false);
        self.replicas.push(tx);
        self.replica_addrs.push(addr);
        let svc = PaymentsService::build(cfg).await.expect("build replica");
        tokio::spawn(svc.serve(listener, stopped(&rx)));
        client_for(addr, CLI_TOKEN)
    }

    /// Kills the first payment service where it stands, as a crashed process would: no
    /// graceful drain, its in-flight steps cut off, its leases left to expire.
    pub async fn kill_payments(&mut self) {
        if let Some(t) = self.payments_task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    /// The notes of a payment's history, oldest first (read straight from the database).
    pub async fn history(&self, payment_id: &str) -> Vec<String> {
        let cfg = PaymentsConfig::load(Some(&self.config_path)).expect("payments config");
        let keys = std::sync::Arc::new(cfg.secrets.keyring().expect("keyring"));
        let db = posgate_payments::store::Store::open(&cfg.database_url, keys)
            .await
            .expect("open store");
        db.history(payment_id)
            .await
            .expect("history")
            .into_iter()
            .filter_map(|h| h.5)
            .collect()
    }

    /// Begins a graceful stop of the payment service without waiting for it (what SIGTERM
    /// does); [`Stack::stop_payments`] waits for the end.
    pub fn signal_stop_payments(&self) {
        let _ = self.stop_payments.send(true);
    }

    /// Stops the payment service (graceful), keeping its database.
    pub async fn stop_payments(&mut self) {
        let _ = self.stop_payments.send(true);
        if let Some(t) = self.payments_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }

    /// A new client (for concurrent calls).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// `WatchPayment` of a payment: its answers as they come.
    pub async fn watch(&self, payment_id: &str) -> tonic::Streaming<pb::Payment> {
        self.client()
            .watch_payment(pb::GetPaymentRequest {
                payment_id: payment_id.to_string(),
            })
            .await
            .expect("watch_payment")
            .into_inner()
    }

    /// Polls a payment until `until` holds, or panics after `secs`.
    pub async fn wait_until(
        &self,
        payment_id: &str,
        secs: u64,
        until: impl Fn(&pb::Payment) -> bool,
    ) -> pb::Payment {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut c = self.client();
        loop {
            let p = c
                .get_payment(pb::GetPaymentRequest {
                    payment_id: payment_id.to_string(),
                })
                .await
                .expect("get payment")
                .into_inner();
            if until(&p) {
                return p;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "payment {payment_id} did not reach the expected state in {secs}s; last: {p:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Adds an order to a simulated restaurant; returns its guid.
    pub fn add_order(&self, object_id: i64, total: &str) -> String {
        let total: Decimal = total.parse().expect("decimal");
        self.sim.add_order(SimOrder::new(object_id, total)).guid
    }

    /// Sum of amounts applied in the simulated POS to one order (all currencies).
    pub fn posted_total(&self, order_guid: &str) -> Decimal {
        self.sim
            .ledger()
            .iter()
            .filter(|l| l.order_guid == order_guid)
            .map(|l| l.amount)
            .sum()
    }

    /// Number of payment lines applied to one order.
    pub fn postings(&self, order_guid: &str) -> usize {
        self.sim
            .ledger()
            .iter()
            .filter(|l| l.order_guid == order_guid)
            .count()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A pay request with the usual defaults.
pub fn pay(key: &str, restaurant: &str, bill: &str, amount: &str) -> pb::PayBillRequest {
    pb::PayBillRequest {
        idempotency_key: key.to_string(),
        restaurant_id: restaurant.to_string(),
        bill_id: bill.to_string(),
        amount: amount.to_string(),
        close: true,
        ..Default::default()
    }
}

pub fn state(p: &pb::Payment) -> pb::PaymentState {
    pb::PaymentState::try_from(p.state).unwrap_or(pb::PaymentState::Unspecified)
}

pub fn substate(p: &pb::Payment) -> pb::Substate {
    pb::Substate::try_from(p.substate).unwrap_or(pb::Substate::Unspecified)
}

/// A fresh PostgreSQL database for one test, dropped by [`PgDatabase::drop_db`].
pub struct PgDatabase {
    pub url: String,
    admin: String,
    name: String,
}

/// A fresh PostgreSQL database for one test, or `None` (said loudly on stderr) when no server
/// can be had on this machine. See [`postgres`] for where the server comes from.
pub async fn fresh_postgres() -> Option<PgDatabase> {
    use sqlx::Connection;
    let admin = postgres::server().await?;
    let name = format!("posgate_t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin} is needed for this test (set POSGATE_TEST_POSTGRES): {e}")
        });
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(PgDatabase {
        url: format!("{base}/{name}"),
        admin,
        name,
    })
}

pub mod postgres;

impl PgDatabase {
    pub async fn drop_db(self) {
        use sqlx::Connection;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
        }
    }
}

/// The value of `name{labels...}` on a Prometheus text page (labels in any order; several
/// series summed), 0 when absent: what the scrape tests read.
/// The admin port's `/metrics` page.
pub async fn scrape_metrics(admin: SocketAddr) -> String {
    reqwest::get(format!("http://{admin}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("page")
}

pub fn metric_series(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (head, value) = l.rsplit_once(' ')?;
            let (metric, rest) = head.split_once('{').unwrap_or((head, "}"));
            (metric == name).then_some((rest, value))
        })
        .filter(|(rest, _)| {
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, v)| v.parse::<f64>().expect("a number"))
        .sum()
}
