//! Crash and fault test with real processes: the WSA simulator, the WSA adapter and two payment
//! service replicas on one PostgreSQL database run as separate `posgate serve` processes. While a
//! stream of payments flows, replicas and the adapter are killed (SIGKILL) and restarted at
//! random, and the simulated POS hangs, loses answers after applying and goes offline.
//!
//! The restaurant is declared as an operator declares one: `posgate restaurant import` of a
//! restaurants file against the running payment service (the config file holds service
//! settings only).
//!
//! At the end, for every payment: the POS ledger shows it posted at most once; every accepted
//! payment is found in a final or explicitly pending state; none is lost. The figures are printed.
//!
//! Short by default (CI); longer on demand: `POSGATE_CRASH_PAYMENTS=2000 cargo test -p posgate
//! --test crash -- --nocapture`.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use posgate_proto::v1::{self as pb, PaymentState as S};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::Mutex;

const OBJECT_ID: i64 = 5_000_001;
const TOKEN: &str = "crash-token";
const CURRENCY: &str = "0b6f4c1e-1d2a-4c3b-9e8f-7a6b5c4d3e2f";

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// One service process that can be killed and started again.
struct Proc {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Proc {
    fn new(name: &'static str, args: Vec<String>, dir: &Path) -> Proc {
        Proc {
            name,
            args,
            env: Vec::new(),
            log: dir.join(format!("{name}.log")),
            child: None,
            starts: 0,
        }
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_posgate"))
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            // The key of `[secrets] active = "crash"`, from the environment as in production.
            .env("POSGATE_SECRETS__KEYS__CRASH", posgate_tests::KEY_B64)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn posgate");
        self.child = Some(child);
        self.starts += 1;
    }

    /// SIGKILL: no chance to finish or save anything.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "port {port} never opened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn client(port: u16) -> posgate_tests::Client {
    posgate_tests::client_for(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        posgate_tests::CLI_TOKEN,
    )
}

/// The simulator process (with a restaurant whose POS would take a second prepayment, so a
/// double posting shows in its ledger), a config file for the other services and the
/// restaurants file that declares the POS's restaurant in the registry.
struct Cluster {
    dir: PathBuf,
    restaurants: PathBuf,
    /// Kept for its `Drop`: the simulator lives as long as the cluster.
    _sim: Proc,
    http: reqwest::Client,
    /// The simulator's control API.
    ctl: String,
    config: String,
    wsa_port: u16,
}

impl Cluster {
    async fn start(name: &str, db: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("posgate-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (sim_port, wsa_port) = (free_port(), free_port());
        // Replicas read one file; each gets its own listen address from the environment.
        let config = format!(
            r#"
[auth]
tokens = {{ payments = "{payments_token}", cli = "{cli_token}", operator = "{operator_token}" }}
[secrets]
active = "crash"
[payments]
database_url = "{db}"
pay_wait_ms = 1500
poll_interval_ms = 100
lease_ms = 4000
reconcile_settle_ms = 4000
adapter_timeout_ms = 3500
shutdown_grace_ms = 500
max_in_flight_per_restaurant = 4
[payments.retry]
initial_ms = 200
multiplier_pct = 150
max_delay_ms = 1000
max_attempts = 60
jitter_pct = 20
[payments.reconcile]
initial_ms = 300
multiplier_pct = 150
max_delay_ms = 1000
max_attempts = 60
jitter_pct = 20
[payments.adapters]
wsa = "http://127.0.0.1:{wsa_port}"
[wsa]
listen = "127.0.0.1:{wsa_port}"
"#,
            payments_token = posgate_tests::PAYMENTS_TOKEN,
            cli_token = posgate_tests::CLI_TOKEN,
            operator_token = posgate_tests::OPERATOR_TOKEN,
        );
        let config_path = dir.join("posgate.toml");
        std::fs::write(&config_path, config).expect("config");
        // The POS token in a file beside the restaurants file, as an operator keeps it.
        std::fs::write(dir.join("crash-wsa-token"), format!("{TOKEN}\n")).expect("token file");
        let restaurants = dir.join("restaurants.toml");
        std::fs::write(
            &restaurants,
            format!(
                r#"
[restaurants.crash]
display_name = "Crash test r_keeper (WSA agent v1)"
pos_kind = "wsa"
currency = "UAH"
currency_scale = 2
pos_settings = {{ base_url = "http://127.0.0.1:{sim_port}", object_id = {OBJECT_ID}, agent_version = "v1", currency_guid = "{CURRENCY}", mode = "async", task_timeout_s = 1, poll_interval_ms = 50, timeout_margin_ms = 500 }}
pos_secret_files = {{ token = "crash-wsa-token" }}
"#
            ),
        )
        .expect("restaurants file");
        let config = config_path.display().to_string();
        let mut sim = Proc::new(
            "sim",
            vec![
                "serve".into(),
                "sim".into(),
                "--listen".into(),
                format!("127.0.0.1:{sim_port}"),
            ],
            &dir,
        );
        sim.start();
        wait_port(sim_port).await;
        let http = reqwest::Client::new();
        let ctl = format!("http://127.0.0.1:{sim_port}/_sim/wsa");
        http.post(format!("{ctl}/restaurants"))
            .json(
                &json!({"object_id": OBJECT_ID, "agent_version": "V1", "token": TOKEN,
                "currencies": [{"guid": CURRENCY, "name": "Card", "tips": false}],
                "async_delay_ms": 20, "enforce_amounts": true}),
            )
            .send()
            .await
            .expect("sim restaurant")
            .error_for_status()
            .expect("sim restaurant");
        Cluster {
            dir,
            restaurants,
            _sim: sim,
            http,
            ctl,
            config,
            wsa_port,
        }
    }

    /// Declares the restaurant through the payment service on `port` (its POS kind's adapter
    /// up, as the registry asks it to check the settings): `posgate restaurant import`.
    fn declare_restaurant(&self, port: u16) {
        let out = Command::new(env!("CARGO_BIN_EXE_posgate"))
            .args(["restaurant", "import"])
            .arg(&self.restaurants)
            .env("POSGATE_SERVER", format!("http://127.0.0.1:{port}"))
            .env("POSGATE_OPERATOR_TOKEN", posgate_tests::OPERATOR_TOKEN)
            .output()
            .expect("run posgate restaurant import");
        assert!(
            out.status.success(),
            "posgate restaurant import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("crash"), "{said}");
        assert!(!said.contains(TOKEN), "the token is never printed");
    }

    /// Arguments that run one service from the config file.
    fn serve(&self, service: &str) -> Vec<String> {
        let args = ["serve", service, "--config", &self.config];
        args.iter().map(|s| s.to_string()).collect()
    }

    async fn add_order(&self, total: &str) -> String {
        let order: Value = self
            .http
            .post(format!("{}/orders", self.ctl))
            .json(&json!({"object_id": OBJECT_ID, "total": total}))
            .send()
            .await
            .expect("order")
            .json()
            .await
            .expect("order json");
        order["guid"].as_str().expect("guid").to_string()
    }

    async fn postings(&self, order: &str) -> usize {
        let ledger: Vec<Value> = self
            .http
            .get(format!("{}/ledger", self.ctl))
            .send()
            .await
            .expect("ledger")
            .json()
            .await
            .expect("ledger json");
        ledger
            .iter()
            .filter(|e| {
                e["order_guid"]
                    .as_str()
                    .is_some_and(|g| g.eq_ignore_ascii_case(order))
            })
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_survive_killed_processes_and_a_faulty_pos() {
    let total: usize = std::env::var("POSGATE_CRASH_PAYMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let Some(pg) = posgate_tests::fresh_postgres().await else {
        return;
    };
    let c = Cluster::start("crash", &pg.url).await;
    let (dir, http, ctl, wsa_port) = (c.dir.clone(), c.http.clone(), c.ctl.clone(), c.wsa_port);
    let (p1_port, p2_port) = (free_port(), free_port());
    let mut bills = Vec::with_capacity(total);
    for _ in 0..total {
        bills.push(c.add_order("1000.00").await);
    }

    let mut wsa = Proc::new("wsa", c.serve("wsa"), &dir);
    let mut p1 = Proc::new("payments-1", c.serve("payments"), &dir);
    let mut p2 = Proc::new("payments-2", c.serve("payments"), &dir);
    // Each replica gets its listen address through the environment override.
    p1.env
        .push(("POSGATE_PAYMENTS__LISTEN", format!("127.0.0.1:{p1_port}")));
    p2.env
        .push(("POSGATE_PAYMENTS__LISTEN", format!("127.0.0.1:{p2_port}")));
    wsa.start();
    p1.start();
    p2.start();
    for port in [wsa_port, p1_port, p2_port] {
        wait_port(port).await;
    }
    c.declare_restaurant(p1_port);

    let procs = Arc::new(Mutex::new(vec![wsa, p1, p2]));
    let started = Instant::now();

    // Chaos: kill and restart processes, and make the POS misbehave, while payments flow.
    let chaos_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let chaos = {
        let procs = Arc::clone(&procs);
        let stop = Arc::clone(&chaos_stop);
        let http = http.clone();
        let ctl = ctl.clone();
        tokio::spawn(async move {
            let mut kills = 0u32;
            let mut faults = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (pause, action, down) = {
                    let mut r = rand::rng();
                    (
                        r.random_range(150..450u64),
                        r.random_range(0..6u32),
                        r.random_range(100..600u64),
                    )
                };
                tokio::time::sleep(Duration::from_millis(pause)).await;
                if action < 3 {
                    let i = action as usize;
                    procs.lock().await[i].kill();
                    kills += 1;
                    tokio::time::sleep(Duration::from_millis(down)).await;
                    procs.lock().await[i].start();
                } else {
                    let kind = match action {
                        3 => json!({"Slow": {"delay_ms": 1500}}),
                        4 => json!("AnswerLost"),
                        _ => json!("AgentTimeout"),
                    };
                    let _ = http
                        .post(format!("{ctl}/faults"))
                        .json(&json!({"kind": kind, "times": 2}))
                        .send()
                        .await;
                    faults += 1;
                }
            }
            (kills, faults)
        })
    };

    // The payments: each key is retried against either replica until one accepts it.
    let accepted: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let submit = futures::future::join_all((0..total).map(|i| {
        let accepted = Arc::clone(&accepted);
        let bill = bills[i].clone();
        async move {
            tokio::time::sleep(Duration::from_millis((i as u64 % 40) * 60)).await;
            let key = format!("crash-{i}");
            let deadline = Instant::now() + Duration::from_secs(40);
            let mut n = i;
            while Instant::now() < deadline {
                let port = if n % 2 == 0 { p1_port } else { p2_port };
                n += 1;
                let req = pb::PayBillRequest {
                    idempotency_key: key.clone(),
                    restaurant_id: "crash".into(),
                    bill_id: bill.clone(),
                    amount: "10.00".into(),
                    close: false,
                    ..Default::default()
                };
                match client(port).pay_bill(req).await {
                    Ok(p) => {
                        accepted.lock().await.insert(key, p.into_inner().payment_id);
                        return;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
                }
            }
        }
    }));
    submit.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    chaos_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (kills, faults) = chaos.await.expect("chaos");
    {
        for p in procs.lock().await.iter_mut() {
            if !p.running() {
                p.start();
            }
        }
    }
    let _ = http.delete(format!("{ctl}/faults")).send().await;
    for port in [wsa_port, p1_port, p2_port] {
        wait_port(port).await;
    }

    // Let the replicas finish what they have, then look at every payment.
    let accepted = accepted.lock().await.clone();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut states: BTreeMap<String, usize>;
    let mut payments: HashMap<String, pb::Payment>;
    loop {
        states = BTreeMap::new();
        payments = HashMap::new();
        for (key, id) in &accepted {
            let p = get_payment(p1_port, p2_port, id).await;
            let name = pb::PaymentState::try_from(p.state)
                .map(|s| s.as_str_name().to_string())
                .unwrap_or_default();
            *states.entry(name).or_default() += 1;
            payments.insert(key.clone(), p);
        }
        let settled = payments.values().all(|p| p.r#final);
        if settled || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let ledger: Vec<Value> = http
        .get(format!("{ctl}/ledger"))
        .send()
        .await
        .expect("ledger")
        .json()
        .await
        .expect("ledger json");
    let mut postings: HashMap<String, usize> = HashMap::new();
    for e in &ledger {
        *postings
            .entry(e["order_guid"].as_str().unwrap_or_default().to_lowercase())
            .or_default() += 1;
    }
    let duplicates = postings.values().filter(|n| **n > 1).count();
    let mut paid_without_posting = 0;
    for (key, p) in &payments {
        let i: usize = key.trim_start_matches("crash-").parse().expect("index");
        let n = postings.get(&bills[i].to_lowercase()).copied().unwrap_or(0);
        if p.state == S::Paid as i32 && n != 1 {
            paid_without_posting += 1;
        }
    }
    let lost = accepted.len() - payments.len();
    let mut attention: BTreeMap<String, usize> = BTreeMap::new();
    for p in payments
        .values()
        .filter(|p| p.state == S::NeedsAttention as i32)
    {
        *attention
            .entry(format!("{} {}", p.pos_code, p.pos_text))
            .or_default() += 1;
    }
    println!("needs attention, by reason: {attention:#?}");
    println!("settled after {:.1?}", started.elapsed());
    let starts: Vec<String> = procs
        .lock()
        .await
        .iter()
        .map(|p| format!("{}×{}", p.name, p.starts))
        .collect();
    println!(
        "crash test: {total} payments sent, {} accepted, {} postings in the POS ledger, {kills} kills, {faults} POS faults, lost = {lost}, duplicates = {duplicates}, paid without a posting = {paid_without_posting}, states {states:?}, starts {starts:?}, {:.1?}",
        accepted.len(),
        ledger.len(),
        started.elapsed()
    );
    assert_eq!(duplicates, 0, "a payment was posted twice");
    assert_eq!(lost, 0);
    assert_eq!(
        paid_without_posting, 0,
        "reported paid without the POS booking it"
    );
    assert_eq!(
        accepted.len(),
        total,
        "every payment was accepted by some replica"
    );
    // Every accepted payment is final, or explicitly pending with a reason and a next try.
    for p in payments.values() {
        let pending = matches!(
            pb::PaymentState::try_from(p.state),
            Ok(S::Retrying | S::OutcomeUnknown)
        ) && !p.next_attempt_at.is_empty();
        assert!(p.r#final || pending, "neither final nor pending: {p:?}");
    }
    assert!(ledger.len() <= total);

    drop(procs);
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
    pg.drop_db().await;
}

async fn get_payment(p1: u16, p2: u16, id: &str) -> pb::Payment {
    for attempt in 0..100 {
        let port = if attempt % 2 == 0 { p1 } else { p2 };
        if let Ok(p) = client(port)
            .get_payment(pb::GetPaymentRequest {
                payment_id: id.to_string(),
            })
            .await
        {
            return p.into_inner();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("payment {id} cannot be read from either replica");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_parks_in_flight_payments_and_exits_within_the_grace_period() {
    let c = Cluster::start("sigterm", "sqlite://DIR/p.db").await;
    // The database lives in the cluster's folder.
    let cfg_path = c.dir.join("posgate.toml");
    let cfg = std::fs::read_to_string(&cfg_path).expect("config");
    std::fs::write(&cfg_path, cfg.replace("DIR", &c.dir.display().to_string())).expect("config");
    let port = free_port();
    let mut wsa = Proc::new("wsa", c.serve("wsa"), &c.dir);
    wsa.start();
    let mut payments = Proc::new("payments", c.serve("payments"), &c.dir);
    payments
        .env
        .push(("POSGATE_PAYMENTS__LISTEN", format!("127.0.0.1:{port}")));
    // PayBill answers before the POS does, so SIGTERM lands mid-call.
    payments
        .env
        .push(("POSGATE_PAYMENTS__PAY_WAIT_MS", "150".into()));
    payments.start();
    wait_port(c.wsa_port).await;
    wait_port(port).await;
    c.declare_restaurant(port);

    // The POS takes 400 ms to answer; SIGTERM arrives while the payment is in flight.
    let bill = c.add_order("1000.00").await;
    c.http
        .post(format!("{}/faults", c.ctl))
        .json(&json!({"kind": {"Slow": {"delay_ms": 400}}, "times": 1}))
        .send()
        .await
        .expect("fault");
    let req = pb::PayBillRequest {
        idempotency_key: "term-1".into(),
        restaurant_id: "crash".into(),
        bill_id: bill.clone(),
        amount: "10.00".into(),
        ..Default::default()
    };
    let p = client(port).pay_bill(req).await.expect("pay").into_inner();
    assert!(!p.r#final, "still in flight: {p:?}");
    let child = payments.child.as_mut().expect("running");
    let t = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    let took = t.elapsed();
    payments.child = None;
    println!("payment service exited in {took:.1?} after SIGTERM ({exit})");
    // Grace is 500 ms: the in-flight call was waited for, and no longer than that.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(exit.success(), "{exit}");

    // Started again: the payment was finished and saved before the exit, posted once.
    payments.start();
    wait_port(port).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = get_payment(port, port, &p.payment_id).await;
        if p.r#final {
            assert_eq!(p.state, S::Paid as i32, "{p:?}");
            break;
        }
        assert!(Instant::now() < deadline, "not settled: {p:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(c.postings(&bill).await, 1);
    let dir = c.dir.clone();
    drop(payments);
    drop(wsa);
    drop(c);
    let _ = std::fs::remove_dir_all(dir);
}
