//! Where a payment's time goes, as the services see it: the bench reads the payment service's
//! and the adapter's own Prometheus histograms (`/metrics` on their admin ports) before and
//! after the posgate run, and reports each step's calls and mean time per payment — the store's
//! writes, the adapter calls, the adapter's handling and its HTTP exchanges with the POS. Also
//! what one durable write costs on this disk (a 4 KiB write and `fdatasync`), the floor under
//! every commit.
//!
//! Means from each histogram's `_sum` and `_count`: exact, and what a figure per payment needs.
#![allow(clippy::float_arithmetic)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One scrape: every sample's value by its series (`name{labels}` as the exporter wrote it).
#[derive(Default, Clone)]
pub struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    /// Reads `url` (a `/metrics` page); an unreachable page is an empty scrape (the breakdown
    /// then says nothing rather than failing the run).
    pub async fn read(http: &reqwest::Client, url: &str) -> Scrape {
        let text = match http.get(url).timeout(Duration::from_secs(5)).send().await {
            Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
            _ => String::new(),
        };
        Scrape::parse(&text)
    }

    /// The Prometheus text format's samples (comments and malformed lines skipped).
    pub fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            if let Ok(v) = value.trim().parse::<f64>() {
                samples.insert(series.trim().to_string(), v);
            }
        }
        Scrape(samples)
    }

    /// What moved between `before` and `self` (a series `before` lacks counts from zero).
    pub fn since(&self, before: &Scrape) -> Scrape {
        Scrape(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0.0)))
                .collect(),
        )
    }

    /// `histogram`'s sum and count over the series whose `label` is each value, summed over
    /// their other labels: `(label value, sum seconds, count)`.
    fn by_label(&self, histogram: &str, label: &str) -> BTreeMap<String, (f64, f64)> {
        let mut out: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for (part, slot) in [("_sum", 0), ("_count", 1)] {
            let prefix = format!("{histogram}{part}");
            for (series, v) in &self.0 {
                let Some(labels) = series.strip_prefix(&prefix) else {
                    continue;
                };
                if !(labels.is_empty() || labels.starts_with('{')) {
                    continue;
                }
                let key = label_value(labels, label).unwrap_or_default();
                let e = out.entry(key).or_default();
                if slot == 0 {
                    e.0 += v;
                } else {
                    e.1 += v;
                }
            }
        }
        out
    }

    /// A histogram's count summed over all its series.
    fn count(&self, histogram: &str) -> f64 {
        self.by_label(histogram, "").values().map(|(_, n)| n).sum()
    }
}

/// The value of `label` in a `{a="x",b="y"}` label set.
fn label_value(labels: &str, label: &str) -> Option<String> {
    let inner = labels.strip_prefix('{')?.strip_suffix('}')?;
    inner.split("\",").find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == label).then(|| v.trim_matches('"').to_string())
    })
}

/// One step of a payment, as one service measured it.
#[derive(Serialize)]
pub struct Step {
    /// Which service measured it.
    pub seen_by: &'static str,
    pub step: String,
    /// How many per payment.
    pub per_payment: f64,
    /// Mean time of one.
    pub mean_ms: f64,
    /// `per_payment` × `mean_ms`.
    pub ms_per_payment: f64,
}

/// The services' own view of the run.
#[derive(Serialize, Default)]
pub struct Breakdown {
    pub steps: Vec<Step>,
    /// Transactions the payment service's writer lanes committed, per payment (both databases:
    /// a batch of writes is one).
    pub write_commits_per_payment: Option<f64>,
    /// A 4 KiB write and `fdatasync` in the run's folder, p50 of 200: what the disk makes every
    /// commit wait at least.
    pub disk_sync_p50_ms: Option<f64>,
}

/// The histograms a breakdown reads: (service, histogram, the label that names the step,
/// how the step is named).
const READ: [(&str, &str, &str, &str); 5] = [
    (
        "payments",
        "posgate_pay_bill_duration_seconds",
        "",
        "PayBill, accepted to answered",
    ),
    (
        "payments",
        "posgate_db_query_duration_seconds",
        "query",
        "store",
    ),
    (
        "payments",
        "posgate_pos_call_duration_seconds",
        "operation",
        "adapter call",
    ),
    (
        "adapter",
        "posgate_grpc_server_request_duration_seconds",
        "method",
        "handling",
    ),
    (
        "adapter",
        "posgate_pos_http_request_duration_seconds",
        "",
        "HTTP exchange with the POS",
    ),
];

impl Breakdown {
    /// The steps that moved between the scrapes, per payment of `payments`.
    pub fn of(payments_moved: &Scrape, adapter_moved: &Scrape, payments: u64) -> Breakdown {
        let n = payments.max(1) as f64;
        let mut steps = Vec::new();
        for (service, histogram, label, what) in READ {
            let moved = if service == "payments" {
                payments_moved
            } else {
                adapter_moved
            };
            for (value, (sum, count)) in moved.by_label(histogram, label) {
                // The writer lanes' batches time writes already counted one by one.
                if count < 0.5 || value == "write_batch" {
                    continue;
                }
                let value = value.rsplit('/').next().unwrap_or_default();
                let step = if value.is_empty() {
                    what.to_string()
                } else {
                    format!("{what}: {value}")
                };
                let mean_ms = round3(sum * 1000.0 / count);
                steps.push(Step {
                    seen_by: service,
                    step,
                    per_payment: round3(count / n),
                    mean_ms,
                    ms_per_payment: round3(sum * 1000.0 / n),
                });
            }
        }
        let commits = payments_moved.count("posgate_db_write_batch_size");
        Breakdown {
            steps,
            write_commits_per_payment: (commits > 0.0).then(|| round3(commits / n)),
            disk_sync_p50_ms: None,
        }
    }

    /// The breakdown as a table.
    pub fn text(&self) -> String {
        if self.steps.is_empty() {
            return String::new();
        }
        let mut s = format!(
            "\nwhere a payment's time goes, as the services measured it\n{:<10}{:<44}{:>12}{:>10}{:>14}\n",
            "seen by", "step", "per payment", "mean ms", "ms/payment"
        );
        for st in &self.steps {
            s += &format!(
                "{:<10}{:<44}{:>12}{:>10}{:>14}\n",
                st.seen_by, st.step, st.per_payment, st.mean_ms, st.ms_per_payment
            );
        }
        if let Some(c) = self.write_commits_per_payment {
            s += &format!("write commits per payment: {c}");
            if let Some(d) = self.disk_sync_p50_ms {
                s += &format!("; one 4 KiB write + fdatasync on this disk: p50 {d} ms");
            }
            s += "\n";
        }
        s
    }
}

/// Times `rounds` 4 KiB writes each followed by `fdatasync` in `dir`: the p50 in ms.
pub fn disk_sync_p50_ms(dir: &Path, rounds: usize) -> Option<f64> {
    let path = dir.join("disk-sync-probe");
    let mut file = std::fs::File::create(&path).ok()?;
    let block = [0x5au8; 4096];
    let mut took: Vec<Duration> = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t0 = Instant::now();
        file.write_all(&block).ok()?;
        file.sync_data().ok()?;
        took.push(t0.elapsed());
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    took.sort();
    let p50 = took.get(took.len() / 2)?;
    Some(round3(p50.as_secs_f64() * 1000.0))
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# HELP posgate_db_query_duration_seconds Time of one store operation
# TYPE posgate_db_query_duration_seconds histogram
posgate_db_query_duration_seconds_bucket{query="save",result="ok",le="0.001"} 1
posgate_db_query_duration_seconds_sum{query="save",result="ok"} 0.5
posgate_db_query_duration_seconds_count{query="save",result="ok"} 1
posgate_db_write_batch_size_count 1
"#;
    const AFTER: &str = r#"posgate_db_query_duration_seconds_sum{query="save",result="ok"} 2.5
posgate_db_query_duration_seconds_count{query="save",result="ok"} 5
posgate_db_query_duration_seconds_sum{query="save",result="error"} 1
posgate_db_query_duration_seconds_count{query="save",result="error"} 1
posgate_db_query_duration_seconds_sum{query="insert",result="ok"} 1.5
posgate_db_query_duration_seconds_count{query="insert",result="ok"} 2
posgate_db_query_duration_seconds_sum{query="write_batch",result="ok"} 9
posgate_db_query_duration_seconds_count{query="write_batch",result="ok"} 3
posgate_pay_bill_duration_seconds_sum{result="closed"} 4
posgate_pay_bill_duration_seconds_count{result="closed"} 2
posgate_db_write_batch_size_count 7
"#;
    const ADAPTER: &str = r#"posgate_grpc_server_request_duration_seconds_sum{server="wsa",method="posgate.v1.PosAdapter/GetBill"} 0.2
posgate_grpc_server_request_duration_seconds_count{server="wsa",method="posgate.v1.PosAdapter/GetBill"} 2
posgate_pos_http_request_duration_seconds_sum{pos="r_keeper_wsa",result="200"} 0.3
posgate_pos_http_request_duration_seconds_count{pos="r_keeper_wsa",result="200"} 3
posgate_pos_http_request_duration_seconds_sum{pos="r_keeper_wsa",result="500"} 0.1
posgate_pos_http_request_duration_seconds_count{pos="r_keeper_wsa",result="500"} 1
"#;

    fn step<'b>(b: &'b Breakdown, name: &str) -> &'b Step {
        b.steps
            .iter()
            .find(|s| s.step == name)
            .unwrap_or_else(|| panic!("no step {name:?} in {:?}", names(b)))
    }

    fn names(b: &Breakdown) -> Vec<&str> {
        b.steps.iter().map(|s| s.step.as_str()).collect()
    }

    #[test]
    fn each_step_is_what_moved_per_payment_over_its_labels() {
        let moved = Scrape::parse(AFTER).since(&Scrape::parse(BEFORE));
        let adapter = Scrape::parse(ADAPTER).since(&Scrape::default());
        let b = Breakdown::of(&moved, &adapter, 2);
        // save: 4 ok since (2.0 s) and 1 error (1.0 s): 5 saves, 3.0 s, over 2 payments.
        let save = step(&b, "store: save");
        assert_eq!(
            (save.per_payment, save.mean_ms, save.ms_per_payment),
            (2.5, 600.0, 1500.0)
        );
        let insert = step(&b, "store: insert");
        assert_eq!((insert.per_payment, insert.mean_ms), (1.0, 750.0));
        assert_eq!(step(&b, "PayBill, accepted to answered").mean_ms, 2000.0);
        let get = step(&b, "handling: GetBill");
        assert_eq!(
            (get.seen_by, get.per_payment, get.mean_ms),
            ("adapter", 1.0, 100.0)
        );
        let http = step(&b, "HTTP exchange with the POS");
        assert_eq!((http.per_payment, http.mean_ms), (2.0, 100.0));
        // Batches time writes counted one by one: not a step of their own.
        assert!(!names(&b).iter().any(|n| n.contains("write_batch")));
        assert_eq!(b.write_commits_per_payment, Some(3.0));
        assert!(b.text().contains("store: save"));
    }

    #[test]
    fn nothing_scraped_is_no_breakdown() {
        let b = Breakdown::of(&Scrape::default(), &Scrape::parse("garbage\n# x"), 10);
        assert!(b.steps.is_empty() && b.write_commits_per_payment.is_none());
        assert_eq!(b.text(), "");
    }

    #[test]
    fn a_label_is_read_from_its_set() {
        let l = r#"{server="wsa",method="posgate.v1.PosAdapter/GetBill"}"#;
        assert_eq!(
            label_value(l, "method").as_deref(),
            Some("posgate.v1.PosAdapter/GetBill")
        );
        assert_eq!(label_value(l, "server").as_deref(), Some("wsa"));
        assert_eq!(label_value(l, "pos"), None);
        assert_eq!(label_value("", "pos"), None);
    }

    #[test]
    fn the_disk_probe_times_its_writes() {
        let dir = std::env::temp_dir().join(format!("posgate-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p50 = disk_sync_p50_ms(&dir, 5).expect("a writable folder is probed");
        assert!(p50 > 0.0, "{p50}");
        assert!(
            !dir.join("disk-sync-probe").exists(),
            "the probe's file is removed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
