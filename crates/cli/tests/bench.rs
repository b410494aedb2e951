//! `posgate bench` keeps working: a few-second run on SQLite (the services as real separate
//! processes, the WSA simulator, the echo baseline) writes a report with every field and
//! 20 closed payments. The figures themselves are never asserted: this machine is shared and
//! noisy, and the benchmark's job is to measure them, not a test's.

use std::process::Command;

use serde_json::Value;

#[test]
fn a_short_run_closes_every_payment_and_reports_every_figure() {
    let dir = std::env::temp_dir().join(format!("posgate-bench-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_posgate"))
        .args(["bench", "--count", "20", "--concurrency", "4", "--json"])
        .arg(&json)
        .output()
        .expect("run posgate bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "posgate bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("posgate PayBill"), "{stdout}");

    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let p = &r["posgate"];
    assert_eq!(p["payments"], 20, "{r:#}");
    assert_eq!(p["closed"], 20, "every payment closed: {r:#}");
    assert_eq!(p["errors"], serde_json::json!({}), "{r:#}");
    for f in ["throughput_per_s", "ratio_to_echo", "elapsed_s"] {
        assert!(p[f].is_number(), "posgate.{f}: {r:#}");
    }
    for f in ["p50_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms"] {
        assert!(
            p["latency_ms"][f].is_number(),
            "posgate.latency_ms.{f}: {r:#}"
        );
        assert!(
            r["echo"]["latency_ms"][f].is_number(),
            "echo.latency_ms.{f}: {r:#}"
        );
    }
    for f in ["p50_ms", "p99_ms", "p999_ms"] {
        assert!(
            p["added_latency_ms"][f].is_number(),
            "added_latency_ms.{f}: {r:#}"
        );
    }
    // The baseline: the same count, and run again for 2 s when that was over sooner (a steady
    // figure, not a warm-up's).
    let echo_ok = r["echo"]["ok"].as_u64().unwrap_or(0);
    let echo_s = r["echo"]["elapsed_s"].as_f64().unwrap_or(0.0);
    assert!(
        echo_ok >= 20 && echo_s >= 2.0,
        "the baseline ran at least the count, for at least 2 s: {r:#}"
    );
    assert!(r["echo"]["throughput_per_s"].is_number());

    let c = &r["config"];
    assert_eq!(c["pos"], "wsa-sync");
    assert_eq!(c["db"], "sqlite");
    assert_eq!(c["concurrency"], 4);
    assert_eq!(c["count"], 20);

    // Each service as its own process, and this client.
    let procs = r["processes"].as_array().expect("processes");
    let names: Vec<&str> = procs.iter().filter_map(|p| p["name"].as_str()).collect();
    for want in [
        "payment service",
        "wsa adapter",
        "simulator",
        "bench client",
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let pids: std::collections::BTreeSet<u64> =
        procs.iter().filter_map(|p| p["pid"].as_u64()).collect();
    assert_eq!(pids.len(), 4, "four distinct processes: {procs:?}");
    for p in procs {
        assert!(p["peak_rss_mib"].is_number(), "{p}");
        assert!(p["cpu_s"].is_number(), "{p}");
    }

    // SQLite keeps no transaction counter: said as null, not made up.
    assert_eq!(r["database"]["kind"], "sqlite");
    assert!(r["database"]["xact_per_payment"].is_null(), "{r:#}");

    // Where the time went, read from both services' own metrics: a happy WSA payment is one
    // insert, two saves (the recovery point and the outcome), one GetBill and one PostPayment
    // from the payment service, each handled by the adapter with one HTTP exchange.
    let b = &r["breakdown"];
    let steps = b["steps"].as_array().expect("breakdown.steps");
    let per_payment = |seen_by: &str, step: &str| {
        steps
            .iter()
            .find(|s| s["seen_by"] == seen_by && s["step"] == step)
            .and_then(|s| s["per_payment"].as_f64())
            .unwrap_or_else(|| panic!("{seen_by} {step:?} in {steps:#?}"))
    };
    assert_eq!(per_payment("payments", "store: insert"), 1.0);
    assert_eq!(per_payment("payments", "store: save"), 2.0);
    assert_eq!(per_payment("payments", "adapter call: get_bill"), 1.0);
    assert_eq!(per_payment("payments", "adapter call: post_payment"), 1.0);
    assert_eq!(per_payment("adapter", "handling: PostPayment"), 1.0);
    assert_eq!(per_payment("adapter", "HTTP exchange with the POS"), 2.0);
    // Every payment was stored leased and driven at once: the per-restaurant limit (by
    // default the concurrency) never sent one the queued way (read, claimed, bill locked).
    for queued in ["store: claim", "store: lock_bill"] {
        assert!(
            !steps.iter().any(|s| s["step"] == queued),
            "{queued}: {steps:#?}"
        );
    }
    assert!(
        steps.iter().all(|s| s["mean_ms"].as_f64() > Some(0.0)),
        "{steps:#?}"
    );
    let commits = b["write_commits_per_payment"].as_f64().unwrap_or(0.0);
    assert!(
        (1.0..=3.5).contains(&commits),
        "at most three commits a payment, fewer when they share: {b:#}"
    );
    assert!(b["disk_sync_p50_ms"].as_f64() > Some(0.0), "{b:#}");
    assert!(stdout.contains("where a payment's time goes"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shift-opening herd, small: every payment meets a closed shift, waits, and closes once
/// the shifts open; no restaurant's POS saw more calls at once than its limit.
#[test]
fn a_short_herd_drains_every_payment_within_the_restaurants_limits() {
    let dir = std::env::temp_dir().join(format!("posgate-herd-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("herd.json");
    let out = Command::new(env!("CARGO_BIN_EXE_posgate"))
        .args([
            "bench",
            "--herd",
            "--count",
            "24",
            "--restaurants",
            "3",
            "--concurrency",
            "8",
            "--pos-latency-ms",
            "50",
            "--payments-set",
            "retry.initial_ms=1000",
            "--payments-set",
            "retry.max_delay_ms=1000",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("run posgate bench --herd");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "posgate bench --herd failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["submit_errors"], serde_json::json!({}), "{r:#}");
    assert_eq!(
        r["waiting_at_open"], 24,
        "every payment met the closed shift: {r:#}"
    );
    assert_eq!(
        r["closed"], 24,
        "every payment closed once the shifts opened: {r:#}"
    );
    assert_eq!(r["not_closed"], serde_json::json!({}), "{r:#}");
    assert_eq!(
        r["max_in_flight_per_restaurant"], 2,
        "the service's default limit: {r:#}"
    );
    assert_eq!(r["restaurants_over_limit"], 0, "{r:#}");
    let most = r["max_in_flight_seen"].as_u64().expect("a count");
    assert!((1..=2).contains(&most), "{r:#}");
    for f in [
        "first_due_s",
        "last_due_s",
        "last_closed_s",
        "drained_after_last_due_s",
    ] {
        assert!(r[f].is_number(), "{f}: {r:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
