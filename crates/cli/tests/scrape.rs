//! Each service's own `/metrics` after payments, as Prometheus scrapes them in production: the
//! payment service, the three POS adapters and the Expirenza adapter run as separate `posgate
//! serve` processes (each with its admin port) beside the simulators, the demo restaurants are
//! declared with `posgate restaurant import`, one payment goes to each POS and a guest pays at the
//! table through Expirenza. Then every service's page shows its own figures — and only its own:
//! an adapter's page has no payment series.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use posgate_proto::v1 as pb;
use posgate_tests::metric_series as series;
use serde_json::json;

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `posgate serve` process, killed when dropped; its output in `<dir>/<name>.log`.
struct Proc(Child);

impl Proc {
    fn start(dir: &Path, name: &str, args: &[String]) -> Proc {
        let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_posgate"))
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn posgate serve");
        Proc(child)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    match http.get(url).send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// Waits until the admin port at `port` says ready.
async fn ready(http: &reqwest::Client, port: u16, logs: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(http, &format!("http://127.0.0.1:{port}/readyz")).await;
        if status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "admin port {port} never ready ({status} {body}); logs in {}",
            logs.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config(dir: &Path, p: &Ports) -> String {
    format!(
        r#"
[auth]
tokens = {{ payments = "{payments}", cli = "{cli}", expirenza = "{expirenza}", operator = "{operator}" }}
[secrets]
dev_key = true
[payments]
listen = "127.0.0.1:{pay}"
admin_listen = "127.0.0.1:{pay_admin}"
database_url = "sqlite://{db}"
pay_wait_ms = 10000
poll_interval_ms = 100
[payments.adapters]
wsa = "http://127.0.0.1:{wsa}"
delivery = "http://127.0.0.1:{delivery}"
tillypad = "http://127.0.0.1:{tillypad}"
[wsa]
listen = "127.0.0.1:{wsa}"
admin_listen = "127.0.0.1:{wsa_admin}"
[delivery]
listen = "127.0.0.1:{delivery}"
admin_listen = "127.0.0.1:{delivery_admin}"
[tillypad]
listen = "127.0.0.1:{tillypad}"
admin_listen = "127.0.0.1:{tillypad_admin}"
[expirenza]
payments_url = "http://127.0.0.1:{pay}"
admin_listen = "127.0.0.1:{expirenza_admin}"
reconnect_initial_ms = 200
"#,
        payments = posgate_tests::PAYMENTS_TOKEN,
        cli = posgate_tests::CLI_TOKEN,
        expirenza = posgate_tests::EXPIRENZA_TOKEN,
        operator = posgate_tests::OPERATOR_TOKEN,
        db = dir.join("posgate.db").display(),
        pay = p.pay,
        pay_admin = p.pay_admin,
        wsa = p.wsa,
        wsa_admin = p.wsa_admin,
        delivery = p.delivery,
        delivery_admin = p.delivery_admin,
        tillypad = p.tillypad,
        tillypad_admin = p.tillypad_admin,
        expirenza_admin = p.expirenza_admin,
    )
}

struct Ports {
    sim: u16,
    pay: u16,
    pay_admin: u16,
    wsa: u16,
    wsa_admin: u16,
    delivery: u16,
    delivery_admin: u16,
    tillypad: u16,
    tillypad_admin: u16,
    expirenza_admin: u16,
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("posgate-scrape-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_shows_its_own_figures_after_payments() {
    let dir = temp_dir();
    let p = Ports {
        sim: free_port(),
        pay: free_port(),
        pay_admin: free_port(),
        wsa: free_port(),
        wsa_admin: free_port(),
        delivery: free_port(),
        delivery_admin: free_port(),
        tillypad: free_port(),
        tillypad_admin: free_port(),
        expirenza_admin: free_port(),
    };
    let cfg = dir.join("posgate.toml");
    std::fs::write(&cfg, config(&dir, &p)).unwrap();
    // The demo restaurants, on this run's simulator port.
    let restaurants = dir.join("restaurants.toml");
    std::fs::write(
        &restaurants,
        include_str!("../../../deploy/restaurants.toml")
            .replace("127.0.0.1:8090", &format!("127.0.0.1:{}", p.sim)),
    )
    .unwrap();
    let with_config = |svc: &str| {
        vec![
            svc.to_string(),
            "--config".into(),
            cfg.display().to_string(),
        ]
    };
    let _sim = Proc::start(
        &dir,
        "sim",
        &[
            "sim".into(),
            "--demo".into(),
            "--listen".into(),
            format!("127.0.0.1:{}", p.sim),
        ],
    );
    let _adapters: Vec<Proc> = ["wsa", "delivery", "tillypad"]
        .iter()
        .map(|a| Proc::start(&dir, a, &with_config(a)))
        .collect();
    let _payments = Proc::start(&dir, "payments", &with_config("payments"));
    let http = reqwest::Client::new();
    for port in [p.wsa_admin, p.delivery_admin, p.tillypad_admin, p.pay_admin] {
        ready(&http, port, &dir).await;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_posgate"))
        .args(["restaurant", "import"])
        .arg(&restaurants)
        .env("POSGATE_SERVER", format!("http://127.0.0.1:{}", p.pay))
        .env("POSGATE_OPERATOR_TOKEN", posgate_tests::OPERATOR_TOKEN)
        .output()
        .expect("posgate restaurant import");
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _expirenza = Proc::start(&dir, "expirenza", &with_config("expirenza"));
    ready(&http, p.expirenza_admin, &dir).await;

    // One payment to each POS.
    let mut c = posgate_tests::client_for(
        std::net::SocketAddr::from(([127, 0, 0, 1], p.pay)),
        posgate_tests::CLI_TOKEN,
    );
    for (key, restaurant, bill, amount) in [
        ("s-wsa", "demo", posgate_sim::wsa::DEMO_ORDER_978, "978.00"),
        ("s-delivery", "demo-delivery", "1002", "1290.00"),
        (
            "s-tillypad",
            "demo-tillypad",
            "8F0E6B52-3C1D-4A7E-9B20-000000000978",
            "978.00",
        ),
    ] {
        let mut req = posgate_tests::pay(key, restaurant, bill, amount);
        req.close = true;
        let paid = c.pay_bill(req).await.expect("pay").into_inner();
        let id = paid.payment_id.clone();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut now = paid;
        while !now.r#final {
            assert!(Instant::now() < deadline, "{restaurant}: {now:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            now = c
                .get_payment(pb::GetPaymentRequest {
                    payment_id: id.clone(),
                })
                .await
                .expect("get")
                .into_inner();
        }
        assert_eq!(
            posgate_tests::state(&now),
            pb::PaymentState::Closed,
            "{restaurant}: {now:?}"
        );
    }

    // A guest pays at the table: Expirenza sends payBill over the WebSocket, posgate closes
    // the r_keeper bill and answers the signed callback.
    let sim = format!("http://127.0.0.1:{}/_sim/expirenza", p.sim);
    http.post(format!("{sim}/pay"))
        .json(&json!({"resto_id": posgate_sim::expirenza::DEMO_RESTO_ID,
                      "bill_id": posgate_sim::wsa::DEMO_ORDER_1450_50, "sum": "1450.50"}))
        .send()
        .await
        .expect("guest pays")
        .error_for_status()
        .expect("guest pays");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = get(&http, &format!("{sim}/payments")).await;
        if body.contains("SUCCESS") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Expirenza never heard SUCCESS: {body}; logs in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let scrape = |port: u16| {
        let http = http.clone();
        async move {
            let (status, page) = get(&http, &format!("http://127.0.0.1:{port}/metrics")).await;
            assert_eq!(status, 200, "{page}");
            page
        }
    };

    // The payment service: payments by state, PayBill, each POS's calls, its gRPC calls.
    let page = scrape(p.pay_admin).await;
    let at_least = |page: &str, n: f64, name: &str, labels: &[(&str, &str)]| {
        let v = series(page, name, labels);
        assert!(
            v >= n,
            "{name} {labels:?} = {v}, want at least {n}:\n{page}"
        );
    };
    at_least(
        &page,
        4.0,
        "posgate_payment_transitions_total",
        &[("state", "closed")],
    );
    at_least(
        &page,
        4.0,
        "posgate_grpc_server_requests_total",
        &[
            ("server", "payments"),
            ("method", "posgate.v1.PaymentService/PayBill"),
            ("code", "OK"),
        ],
    );
    // WSA (async mode) answers a posting "pending" and its task's answer comes to a look.
    for (pos, operation, result) in [
        ("wsa", "post_payment", "pending"),
        ("wsa", "check_payment", "applied"),
        ("delivery", "post_payment", "applied"),
        ("tillypad", "post_payment", "applied"),
    ] {
        at_least(
            &page,
            1.0,
            "posgate_pos_call_duration_seconds_count",
            &[("pos", pos), ("operation", operation), ("result", result)],
        );
    }
    assert!(
        !page.contains("posgate_expirenza_") && !page.contains("posgate_pos_http_"),
        "only the payment service's own series:\n{page}"
    );

    // Each adapter: its gRPC calls by method and code, its POS HTTP exchanges; no payments.
    for (port, server, kind, posts) in [
        (p.wsa_admin, "wsa", "r_keeper_wsa", 2.0),
        (p.delivery_admin, "delivery", "r_keeper_delivery", 1.0),
        (p.tillypad_admin, "tillypad", "tillypad", 1.0),
    ] {
        let page = scrape(port).await;
        at_least(
            &page,
            posts,
            "posgate_grpc_server_requests_total",
            &[
                ("server", server),
                ("method", "posgate.v1.PosAdapter/PostPayment"),
                ("code", "OK"),
            ],
        );
        at_least(
            &page,
            1.0,
            "posgate_grpc_server_requests_total",
            &[
                ("server", server),
                ("method", "posgate.v1.PosAdapter/Describe"),
            ],
        );
        at_least(
            &page,
            posts,
            "posgate_pos_http_request_duration_seconds_count",
            &[("pos", kind)],
        );
        assert!(
            page.contains("# HELP posgate_pos_http_request_duration_seconds "),
            "{server}: described"
        );
        assert!(
            !page.contains("posgate_payment_transitions_total"),
            "{server}: no payment series on an adapter's page"
        );
        assert!(
            !page.contains("restaurant_id="),
            "{server}: no restaurant label by default"
        );
    }

    // The Expirenza adapter: its one restaurant connected, the payBill callback delivered. The
    // gauge is the state now: a socket re-opened (a ping missed on a loaded machine) shows as
    // connecting for a moment, so the page is read until it shows the connection again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let page = loop {
        let page = scrape(p.expirenza_admin).await;
        let connected = series(
            &page,
            "posgate_expirenza_connections",
            &[("state", "connected")],
        );
        if connected == 1.0 || Instant::now() >= deadline {
            break page;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        series(
            &page,
            "posgate_expirenza_connections",
            &[("state", "connected")]
        ),
        1.0,
        "{page}"
    );
    assert_eq!(
        series(
            &page,
            "posgate_expirenza_connections",
            &[("state", "disconnected")]
        ),
        0.0,
        "{page}"
    );
    at_least(
        &page,
        1.0,
        "posgate_expirenza_callback_deliveries_total",
        &[("operation", "payBill"), ("result", "delivered")],
    );
    assert_eq!(
        series(
            &page,
            "posgate_expirenza_callback_deliveries_total",
            &[("result", "gave_up")]
        ),
        0.0,
        "{page}"
    );
    assert!(!page.contains("posgate_payment_transitions_total"));
    let _ = std::fs::remove_dir_all(&dir);
}
