//! `deploy/alerts.yml` is a Prometheus rules file an operator can load as it is: it has the
//! rules file's shape (checked field by field, no unknown keys), every alert says how bad it is
//! and what to do, and every posgate metric it reads is one the code defines — a metric renamed
//! in a `metric_definitions.rs` without its alert fails here, not silently in production.
//! (`promtool check rules deploy/alerts.yml` checks the PromQL itself where promtool exists.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    alert: String,
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `metric_definitions.rs` under `dir`.
fn definition_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            definition_files(&p, out);
        } else if p.file_name().is_some_and(|n| n == "metric_definitions.rs") {
            out.push(p);
        }
    }
}

/// The `posgate_...` words of a text.
fn metric_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("posgate_") {
        let word: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[i + word.len()..];
        out.push(word);
    }
    out
}

/// The metrics the code defines: each `pub const NAME: &str = "posgate_...";`.
fn defined_metrics() -> BTreeSet<String> {
    let mut files = Vec::new();
    definition_files(&root().join("crates"), &mut files);
    assert!(files.len() >= 3, "metric_definitions.rs files: {files:?}");
    let mut names = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for line in text
            .lines()
            .filter(|l| l.trim_start().starts_with("pub const"))
        {
            names.extend(metric_words(line));
        }
    }
    names
}

fn is_duration(s: &str) -> bool {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && "smhdwy".contains(unit)
}

/// What is wrong with a rules file, in words; empty when nothing is.
fn problems(text: &str) -> Vec<String> {
    let file: RulesFile = match serde_yaml_ng::from_str(text) {
        Ok(f) => f,
        Err(e) => return vec![format!("not a Prometheus rules file: {e}")],
    };
    let defined = defined_metrics();
    let mut out = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            out.push(what);
        }
    };
    let mut alerts = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for g in &file.groups {
        check(
            groups.insert(g.name.clone()),
            format!("group {} twice", g.name),
        );
        check(!g.rules.is_empty(), format!("group {} is empty", g.name));
        if let Some(i) = &g.interval {
            check(is_duration(i), format!("{}: interval {i:?}", g.name));
        }
        for r in &g.rules {
            let a = &r.alert;
            check(alerts.insert(a.clone()), format!("alert {a} twice"));
            check(
                a.starts_with("Posgate") && a.chars().all(|c| c.is_ascii_alphanumeric()),
                format!("{a}: not PosgateCamelCase"),
            );
            let severity = r.labels.get("severity").map_or("", |s| s.as_str());
            check(
                ["page", "ticket"].contains(&severity),
                format!("{a}: severity {severity:?} is neither page nor ticket"),
            );
            for key in ["summary", "description"] {
                check(
                    r.annotations.get(key).is_some_and(|v| !v.trim().is_empty()),
                    format!("{a}: no {key}"),
                );
            }
            if let Some(f) = &r.for_ {
                check(is_duration(f), format!("{a}: for {f:?}"));
            }
            for (open, close) in [('(', ')'), ('{', '}'), ('[', ']')] {
                check(
                    r.expr.matches(open).count() == r.expr.matches(close).count(),
                    format!("{a}: unbalanced {open}{close}"),
                );
            }
            let used = metric_words(&r.expr);
            check(!used.is_empty(), format!("{a} reads no posgate metric"));
            for m in used {
                let base = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| m.strip_suffix(s).filter(|b| defined.contains(*b)))
                    .unwrap_or(&m);
                check(
                    defined.contains(base),
                    format!("{a} reads {m}, which no metric_definitions.rs defines"),
                );
            }
        }
    }
    // What an on-call engineer must hear about.
    for must in [
        "PosgatePaymentsNeedAttention",
        "PosgatePosErrors",
        "PosgateOutcomeUnknownTooLong",
        "PosgateExpirenzaDisconnected",
    ] {
        check(alerts.contains(must), format!("{must} is missing"));
    }
    out
}

#[test]
fn the_alert_rules_are_loadable_and_read_only_metrics_posgate_defines() {
    let text = std::fs::read_to_string(root().join("deploy/alerts.yml")).unwrap();
    assert_eq!(problems(&text), Vec::<String>::new());
}

#[test]
fn the_checker_names_what_is_wrong() {
    let text = std::fs::read_to_string(root().join("deploy/alerts.yml")).unwrap();
    // A metric renamed in the code but not in the rules.
    let renamed = text.replace(
        "posgate_payment_oldest_open_age_seconds",
        "posgate_payment_oldest_age_seconds",
    );
    let p = problems(&renamed);
    assert!(
        p.iter()
            .any(|p| p
                .contains("PosgateOutcomeUnknownTooLong reads posgate_payment_oldest_age_seconds")),
        "{p:?}"
    );
    // A misspelt key, and a rule with no severity.
    let p = problems(&text.replacen("annotations:", "anotations:", 1));
    assert!(
        p.iter().any(|p| p.contains("unknown field `anotations`")),
        "{p:?}"
    );
    let p = problems(&text.replacen("severity: page", "severity: loud", 1));
    assert!(p.iter().any(|p| p.contains("\"loud\"")), "{p:?}");
}
