//! `posgate up` as a newcomer runs it: where it keeps its data, that a service failing to
//! start makes it exit non-zero instead of running on without it, that a config file still
//! declaring restaurants (a retired section) is refused saying how to declare them instead, and
//! that its banner is all stdout carries (logs go to stderr, as JSON lines when asked) with the
//! admin port it names answering.

// Plain (not async) tests waiting on a child process: sleeping the thread is what they mean.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("posgate-up-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `posgate up` in `cwd`, every listener on a free port, without simulators.
fn up(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_posgate"));
    c.current_dir(cwd)
        .arg("up")
        .arg("--no-sim")
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for service in ["PAYMENTS", "WSA", "DELIVERY", "TILLYPAD"] {
        c.env(format!("POSGATE_{service}__LISTEN"), "127.0.0.1:0");
    }
    c.env("POSGATE_PAYMENTS__ADMIN_LISTEN", "127.0.0.1:0");
    c
}

#[test]
fn up_keeps_its_database_in_the_data_dir() {
    let cwd = temp_dir("cwd");
    let data = temp_dir("data");
    let mut child = up(&cwd, &["--data-dir", data.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = data.join("posgate.db");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !db.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("posgate up exited early: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "no database in {}",
            data.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(data.join("posgate.default.toml").exists());
    assert!(
        !cwd.join("data").exists(),
        "nothing is written to ./data when --data-dir says otherwise"
    );
    let _ = std::fs::remove_dir_all(&cwd);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn up_exits_non_zero_when_a_service_cannot_start() {
    let dir = temp_dir("fail");
    // No [auth] tokens: every gRPC server refuses to start (after `up` has begun serving).
    let config = dir.join("posgate.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[secrets]
dev_key = true
[payments]
database_url = "sqlite://{db}"
[payments.adapters]
wsa = "http://127.0.0.1:1"
"#,
            db = dir.join("p.db").display()
        ),
    )
    .unwrap();
    let mut child = up(&dir, &["--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("posgate up kept running without its services");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "exit status {status}; stderr: {err}");
    assert!(err.contains("[auth] tokens"), "says why: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `posgate up --config` with `config` until it exits (it must, and not successfully);
/// what it said on stderr.
fn up_refuses(name: &str, config: &str) -> String {
    let dir = temp_dir(name);
    let path = dir.join("posgate.toml");
    std::fs::write(
        &path,
        config.replace("DB", &dir.join("p.db").display().to_string()),
    )
    .unwrap();
    let mut child = up(&dir, &["--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("posgate up started with a retired section");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "exit status {status}; stderr: {err}");
    let _ = std::fs::remove_dir_all(&dir);
    err
}

const SERVICE_SETTINGS: &str = r#"
[auth]
tokens = { payments = "p", cli = "c", expirenza = "e", operator = "o" }
[secrets]
dev_key = true
[payments]
database_url = "sqlite://DB"
[payments.adapters]
wsa = "http://127.0.0.1:1"
"#;

#[test]
fn up_refuses_static_payment_restaurants_naming_the_section_and_the_import() {
    let err = up_refuses(
        "retired-payments",
        &format!("{SERVICE_SETTINGS}[payments.restaurants.r1]\npos = \"wsa\"\n"),
    );
    assert!(
        err.contains("[payments.restaurants] is no longer read (it holds r1)"),
        "names the section: {err}"
    );
    assert!(
        err.contains("posgate restaurant import <file>"),
        "says what to do: {err}"
    );
}

#[test]
fn up_refuses_static_expirenza_restaurants_naming_the_section_and_the_import() {
    let err = up_refuses(
        "retired-expirenza",
        &format!(
            "{SERVICE_SETTINGS}[expirenza.restaurants.demo]\nresto_id = \"r\"\nsecret_key = \"SECRET-not-shown\"\nrestaurant_id = \"demo\"\n"
        ),
    );
    assert!(
        err.contains("[expirenza.restaurants] is no longer read (it holds demo)"),
        "names the section: {err}"
    );
    assert!(
        err.contains("posgate restaurant import <file>"),
        "says what to do: {err}"
    );
    assert!(!err.contains("SECRET-not-shown"), "{err}");
}

#[test]
fn up_prints_its_banner_on_stdout_and_logs_json_on_stderr() {
    use std::io::{BufRead, BufReader, Read};
    let cwd = temp_dir("json");
    let mut c = up(&cwd, &["--data-dir", cwd.join("data").to_str().unwrap()]);
    // The demo restaurants are declared through their adapters: wire them on free ports.
    wired(&mut c);
    let mut child = c
        .arg("--log-format")
        .arg("json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = Vec::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        banner.push(std::mem::take(&mut line));
        if banner
            .last()
            .unwrap()
            .starts_with("Ctrl-C stops everything")
        {
            break;
        }
    }
    let banner = banner.concat();
    assert!(banner.starts_with("posgate is up"), "{banner}");
    assert!(
        !banner.contains("\"timestamp\""),
        "logs on stdout: {banner}"
    );
    // The admin port the banner names answers.
    let admin = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("admin (HTTP)"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the banner names the admin port")
        .trim_end_matches("/metrics")
        .to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let port: u16 = admin.rsplit(':').next().unwrap().parse().unwrap();
    let page = rt.block_on(async {
        readyz_until(port, &mut child, |status, _| status == 200).await;
        let page = reqwest::get(format!("{admin}/metrics")).await.unwrap();
        page.text().await.unwrap()
    });
    assert!(
        page.contains("# TYPE posgate_payments_open gauge"),
        "{page}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("\x1b["), "colour codes in the logs: {err:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 3, "{err}");
    for l in &lines {
        assert!(
            l.starts_with('{') && l.ends_with('}') && l.contains("\"level\":"),
            "not a JSON line: {l}"
        );
    }
    assert!(
        err.contains("\"message\":\"admin HTTP port: /metrics /livez /readyz\""),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&cwd);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// The ports `up` listens on when [`wired`]: the payment service, its admin port, the adapters.
struct Ports {
    payments: u16,
    admin: u16,
    adapters: Vec<(&'static str, u16)>,
}

/// `up` on free ports of its own choosing, the payment service reaching each adapter and the
/// Expirenza adapter reaching the payment service (the embedded defaults name fixed ports).
fn wired(c: &mut Command) -> Ports {
    let p = Ports {
        payments: free_port(),
        admin: free_port(),
        adapters: vec![
            ("wsa", free_port()),
            ("delivery", free_port()),
            ("tillypad", free_port()),
        ],
    };
    c.env(
        "POSGATE_PAYMENTS__LISTEN",
        format!("127.0.0.1:{}", p.payments),
    )
    .env(
        "POSGATE_PAYMENTS__ADMIN_LISTEN",
        format!("127.0.0.1:{}", p.admin),
    )
    .env(
        "POSGATE_EXPIRENZA__PAYMENTS_URL",
        format!("http://127.0.0.1:{}", p.payments),
    );
    for (kind, port) in &p.adapters {
        let upper = kind.to_ascii_uppercase();
        c.env(
            format!("POSGATE_{upper}__LISTEN"),
            format!("127.0.0.1:{port}"),
        );
        c.env(
            format!("POSGATE_PAYMENTS__ADAPTERS__{upper}"),
            format!("http://127.0.0.1:{port}"),
        );
    }
    p
}

/// `/readyz` of the admin port (status 0 while it does not answer).
async fn readyz(admin: u16) -> (u16, String) {
    match reqwest::get(format!("http://127.0.0.1:{admin}/readyz")).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// Polls `/readyz` until `until(status, body)` holds; the last answer.
async fn readyz_until(
    admin: u16,
    child: &mut std::process::Child,
    until: impl Fn(u16, &str) -> bool,
) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = readyz(admin).await;
        if until(status, &body) {
            return (status, body);
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("posgate up exited: {s}");
        }
        assert!(Instant::now() < deadline, "last /readyz: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SERVICES: [&str; 5] = ["payments", "wsa", "delivery", "tillypad", "expirenza"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_is_ready_only_when_every_service_is_the_expirenza_adapter_included() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;

    // The Expirenza adapter cannot reach the registry: every other service serves, `up` is not
    // ready, and /readyz says which service is not and why.
    let cwd = temp_dir("ready-not");
    let mut c = up(&cwd, &["--data-dir", cwd.join("data").to_str().unwrap()]);
    let p = wired(&mut c);
    c.env(
        "POSGATE_EXPIRENZA__PAYMENTS_URL",
        format!("http://127.0.0.1:{}", free_port()),
    );
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (status, body) = readyz_until(p.admin, &mut child, |_, body| {
        SERVICES[..4]
            .iter()
            .all(|s| body.contains(&format!("{s}: serving\n")))
    })
    .await;
    // Give the Expirenza adapter time it would need to read a registry that answers.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (later, later_body) = readyz(p.admin).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!((status, later), (503, 503), "{body}\n{later_body}");
    assert!(
        later_body.contains("expirenza: not serving"),
        "{later_body}"
    );
    let _ = std::fs::remove_dir_all(&cwd);

    // Wired: ready once every service is, each named.
    let cwd = temp_dir("ready");
    let mut c = up(&cwd, &["--data-dir", cwd.join("data").to_str().unwrap()]);
    let p = wired(&mut c);
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (_, body) = readyz_until(p.admin, &mut child, |status, _| status == 200).await;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines,
        SERVICES.map(|s| format!("{s}: serving")),
        "every service, named"
    );
    // Each gRPC server answers the standard health service, with no token, for the server and
    // for each service it serves.
    let mut ports = vec![(
        p.payments,
        vec![
            "",
            "posgate.v1.PaymentService",
            "posgate.v1.RestaurantService",
            "posgate.v1.ChannelService",
        ],
    )];
    for (_, port) in &p.adapters {
        ports.push((*port, vec!["", "posgate.v1.PosAdapter"]));
    }
    for (port, services) in ports {
        let mut h = HealthClient::new(
            tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
                .unwrap()
                .connect()
                .await
                .expect("connect"),
        );
        for service in services {
            let status = h
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap_or_else(|e| panic!("port {port} {service:?}: {e}"))
                .into_inner()
                .status;
            assert_eq!(
                status,
                ServingStatus::Serving as i32,
                "port {port} {service:?}"
            );
        }
        let unknown = h
            .check(HealthCheckRequest {
                service: "posgate.v1.Nothing".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), tonic::Code::NotFound, "port {port}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&cwd);
}
