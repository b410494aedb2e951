//! Where the PostgreSQL tests get a server, so `cargo test` passes on a fresh machine:
//!
//! 1. `POSGATE_TEST_POSTGRES` names one: it is used, and a test fails if it cannot connect.
//! 2. Otherwise the local server at 127.0.0.1:5432 (trust auth, database `test`) if it answers.
//! 3. Otherwise a private throwaway cluster, when the PostgreSQL binaries are installed:
//!    `initdb` into a temp dir and `pg_ctl start` on a free loopback port (as the `postgres`
//!    user when the tests run as root, which PostgreSQL refuses), stopped and removed by a
//!    watchdog when the test process ends.
//! 4. Otherwise the test is skipped, said loudly on stderr — unless `CI` is set, where a test
//!    that needs PostgreSQL and gets none fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::sync::OnceCell;

const LOCAL: &str = "postgres://postgres@127.0.0.1:5432/test";

static SERVER: OnceCell<Option<String>> = OnceCell::const_new();

/// The admin URL of a server to make test databases on (once per test process).
pub async fn server() -> Option<String> {
    SERVER.get_or_init(find).await.clone()
}

async fn find() -> Option<String> {
    use sqlx::Connection;
    if let Ok(url) = std::env::var("POSGATE_TEST_POSTGRES") {
        return Some(url);
    }
    let local = tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(LOCAL));
    if let Ok(Ok(c)) = local.await {
        let _ = c.close().await;
        return Some(LOCAL.to_string());
    }
    match tokio::task::spawn_blocking(private_cluster).await {
        Ok(Ok(url)) => Some(url),
        Ok(Err(why)) => skip(&why),
        Err(e) => skip(&format!("starting a private cluster panicked: {e}")),
    }
}

fn skip(why: &str) -> Option<String> {
    if std::env::var_os("CI").is_some() {
        panic!("PostgreSQL is needed for this test and none could be had (CI is set): {why}");
    }
    eprintln!(
        "\\n*** SKIPPED: this test needs PostgreSQL and none could be had: {why}.\\n*** Set POSGATE_TEST_POSTGRES, start a server at 127.0.0.1:5432, or install the PostgreSQL server binaries.\\n"
    );
    None
}

/// Starts a throwaway cluster; its admin URL.
fn private_cluster() -> Result<String, String> {
    let bin = bindir().ok_or("no PostgreSQL server binaries (initdb, pg_ctl) found")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let dir = std::env::temp_dir().join(format!("posgate-pg-{}-{port}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let as_postgres = is_root();
    if as_postgres {
        run(Command::new("chown").arg("postgres:").arg(&dir))?;
    }
    let data = dir.join("data");
    let pg = |tool: &str| {
        let exe = bin.join(tool);
        if as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    };
    run(pg("initdb").arg("-D").arg(&data).args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--no-sync",
    ]))?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200",
        dir.display()
    );
    run(pg("pg_ctl")
        .arg("-D")
        .arg(&data)
        .args(["-o", &options, "-w", "-t", "60", "-l"])
        .arg(dir.join("log"))
        .arg("start"))?;
    // Stops and removes the cluster once this test process is gone, however it ends.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runas}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        runas = if as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        },
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    eprintln!(
        "PostgreSQL tests use a private cluster on 127.0.0.1:{port} ({})",
        dir.display()
    );
    Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres"))
}

/// The folder with `initdb` and `pg_ctl`: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian keeps them off the PATH).
fn bindir() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").exists() && d.join("pg_ctl").exists();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has(&d) {
            return Some(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, d)| has(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(c: &mut Command) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{c:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{c:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
