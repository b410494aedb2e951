//! The services under test, each its own `posgate serve` process (this same binary), so each
//! one's memory and CPU is its own: started with a clean environment (no `POSGATE_*` from the
//! caller's shell), logging to a file in the run's folder, stopped with SIGTERM (then SIGKILL).
//! Their peak RSS and CPU time are read from `/proc/<pid>/status` (VmHWM) and
//! `/proc/<pid>/stat` (utime + stime). Each runs in a process group of its own, stopped as a
//! group: a service under a profiler (`--wrap`) is the wrapper's child, and a signal to the
//! wrapper alone left the service running after the run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Service {
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Service {
    /// Starts `posgate <args>`, its output into `<dir>/<name>.log`. `quiet`: log warnings
    /// only (the simulator, which is not posgate); otherwise `RUST_LOG` as the caller has it,
    /// or the services' default (info), as in production.
    /// `wrap`: a command the service runs under (a profiler: `heaptrack`, `valgrind
    /// --tool=callgrind`), its words; the figures read from `/proc` are then the wrapper's.
    pub fn start(
        name: &str,
        args: &[String],
        dir: &Path,
        quiet: bool,
        wrap: Option<&[String]>,
    ) -> anyhow::Result<Service> {
        let log = dir.join(format!("{name}.log"));
        let out =
            std::fs::File::create(&log).map_err(|e| anyhow::anyhow!("{}: {e}", log.display()))?;
        let exe = std::env::current_exe()?;
        let mut cmd = match wrap {
            Some([first, rest @ ..]) => {
                let mut c = Command::new(first);
                c.args(rest).arg(exe);
                c
            }
            _ => Command::new(exe),
        };
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("POSGATE_") {
                cmd.env_remove(k);
            }
        }
        if quiet {
            cmd.env("RUST_LOG", "warn");
        }
        let child = cmd
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {name}: {e}"))?;
        Ok(Service {
            name: name.to_string(),
            log,
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Err` with the end of its log if it has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => anyhow::bail!(
                "{} exited ({status}); the end of its log ({}):\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 15)
            ),
        }
    }

    /// SIGTERM to the service (under a wrapper: to its posgate processes, so a profiler sees
    /// its program end and writes its data), then SIGKILL to the whole group after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        for pid in self.services() {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                self.signal_group("-KILL");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.signal_group("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The posgate processes of this service: those of its process group (the child leads it)
    /// running this executable — the child itself, or under a wrapper the wrapped service.
    fn services(&self) -> Vec<u32> {
        let group = self.child.id();
        let exe = std::env::current_exe().ok();
        let found: Vec<u32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| group_of(*pid) == Some(group))
            .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).ok() == exe)
            .collect();
        if found.is_empty() { vec![group] } else { found }
    }

    /// Sends `signal` (`-TERM`, `-KILL`) to every process of the service's group.
    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal_group("-KILL");
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The fields of `/proc/<pid>/stat` from the third (state) on; `None` if the process is gone.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields start after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The process group of process `pid` (field 5 of stat(5)).
fn group_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
pub fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// CPU time (user + system) of a process so far, in clock ticks; `None` if it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    // Fields 14 and 15 of stat(5); `fields` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Peak resident set size (VmHWM) of a process, in KiB; `None` if it is gone.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A free loopback port for a service to listen on, bound, read and released. It is taken
/// below the kernel's ephemeral range (the ports it hands to `bind(0)` and to outgoing
/// connections): a port from that range, released, could be handed to another program's
/// listener or connection before the service binds it (seen with the tests running at once).
pub fn free_port() -> anyhow::Result<u16> {
    const BELOW_EPHEMERAL: std::ops::Range<u16> = 20_000..32_000;
    for _ in 0..200 {
        let port = BELOW_EPHEMERAL.start
            + (rand::random::<u16>() % (BELOW_EPHEMERAL.end - BELOW_EPHEMERAL.start));
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until something accepts connections on `port`, or `service` exits, or 60 s pass.
pub async fn wait_port(service: &mut Service, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        service.check_alive()?;
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} did not open port {port} in 60 s; its log: {}",
            service.name,
            service.log.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
