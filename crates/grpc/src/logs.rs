//! How every posgate process logs, set up by one function ([`init_logging`]) that every binary
//! calls first.
//!
//! Why it exists: a platform team collects logs from stderr and parses them. So logs go to
//! **stderr** (stdout is left to what a person reads: `posgate up`'s banner, the CLI's answers),
//! in the format asked for — `text` for a person, `json` (one object a line, the event's fields
//! and its span's fields flattened) for a log pipeline — and without ANSI colour codes unless
//! stderr is a terminal (and `NO_COLOR` is unset), so files and collectors never get escape
//! sequences.
//!
//! The format is chosen, first match wins: the `--log-format` flag, `POSGATE_LOG_FORMAT`, the
//! `[log] format` key of the posgate TOML file, else `text`. The level filter is `RUST_LOG`
//! (default `info`, sqlx quiet).

use std::io::IsTerminal;
use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// The environment variable that picks the log format (over the config file).
pub const LOG_FORMAT_ENV: &str = "POSGATE_LOG_FORMAT";
/// The level filter when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines; coloured only on a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the message and every field of
    /// the event and of its current span at the top level.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "log format {other:?} is neither \"text\" nor \"json\""
            )),
        }
    }
}

/// The `[log]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub format: Option<LogFormat>,
}

/// The format to use: `flag`, else [`LOG_FORMAT_ENV`], else `[log] format` of `config`, else
/// text. A bad value anywhere is an error naming where it came from.
pub fn resolve_format(flag: Option<LogFormat>, config: Option<&Path>) -> anyhow::Result<LogFormat> {
    if let Some(f) = flag {
        return Ok(f);
    }
    if let Some(v) = std::env::var_os(LOG_FORMAT_ENV) {
        return v
            .to_string_lossy()
            .parse()
            .map_err(|e| anyhow::anyhow!("{LOG_FORMAT_ENV}: {e}"));
    }
    let section: LogConfig = crate::load_section(config, "log")?;
    Ok(section.format.unwrap_or_default())
}

/// Whether text logs may carry colour codes: only on a terminal, and never with `NO_COLOR`.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| DEFAULT_FILTER.into())
}

/// The subscriber for `format` writing to `writer`, with ANSI codes only when `ansi`.
pub fn subscriber<W>(
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    subscriber_with(format, ansi, writer, None)
}

/// [`subscriber`], its spans given a trace as `traces` says (see [`crate::telemetry`]): one
/// subscriber for logs and traces.
pub fn traced_subscriber<W>(
    format: LogFormat,
    ansi: bool,
    writer: W,
    traces: crate::telemetry::Traces,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    subscriber_with(format, ansi, writer, Some(traces))
}

fn subscriber_with<W>(
    format: LogFormat,
    ansi: bool,
    writer: W,
    traces: Option<crate::telemetry::Traces>,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    filtered_subscriber(format, ansi, writer, traces, filter)
}

/// posgate's own spans at `info` and above: what every request and payment runs in, whatever
/// the level of the lines printed.
fn posgate_spans(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.target().starts_with("posgate") && *meta.level() <= tracing::Level::INFO
}

/// The subscriber, what it logs and traces chosen by `lines` (`RUST_LOG`), except that posgate's
/// own spans are kept whatever `lines` says ([`posgate_spans`]): they carry the trace — the
/// `traceparent` passed on to the adapter and the POS, and `trace_id` and the payment's ids on
/// every line printed in them — so `RUST_LOG=warn` prints fewer lines, and a warning still comes
/// with its trace and its payment.
fn filtered_subscriber<W>(
    format: LogFormat,
    ansi: bool,
    writer: W,
    traces: Option<crate::telemetry::Traces>,
    lines: impl Fn() -> EnvFilter,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    use tracing_subscriber::filter::{FilterExt as _, filter_fn};
    let printed = filter_fn(posgate_spans).or(lines());
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt = match format {
        LogFormat::Text => fmt.with_ansi(ansi).with_filter(printed).boxed(),
        LogFormat::Json => fmt
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(printed)
            .boxed(),
    };
    let traced = traces.map(|t| {
        crate::telemetry::layer(t)
            .with_filter(filter_fn(posgate_spans).or(lines()))
            .boxed()
    });
    Box::new(tracing_subscriber::registry().with(fmt).with(traced))
}

/// Sets up logging and tracing for this process: logs to stderr, in the format
/// [`resolve_format`] picks; spans traced and exported as `[telemetry]` / the `OTEL_*`
/// variables say ([`crate::telemetry`]). Call once, first thing in `main` (a second call is a
/// no-op, so tests can call it freely).
pub fn init_logging(flag: Option<LogFormat>, config: Option<&Path>) -> anyhow::Result<()> {
    let format = resolve_format(flag, config)?;
    let traces = crate::telemetry::process_traces(config)?;
    let _ = tracing::subscriber::set_global_default(subscriber_with(
        format,
        colour(),
        std::io::stderr,
        Some(traces),
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::Command;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn formats_parse_and_a_bad_one_is_named() {
        assert_eq!("json".parse::<LogFormat>().unwrap(), LogFormat::Json);
        assert_eq!(" TEXT ".parse::<LogFormat>().unwrap(), LogFormat::Text);
        let e = "yaml".parse::<LogFormat>().unwrap_err();
        assert!(e.contains("\"yaml\""), "{e}");
    }

    #[test]
    fn json_lines_carry_the_span_fields_and_no_colour() {
        let out = Captured::default();
        let sub = subscriber(LogFormat::Json, true, out.clone());
        tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!("pay", payment_id = "p-1", restaurant_id = "r-1");
            let _e = span.enter();
            tracing::info!(bill_id = "b-1", "payment accepted");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("\x1b["), "{text}");
        let line = text.lines().next().expect("one line");
        for needle in [
            r#""message":"payment accepted""#,
            r#""bill_id":"b-1""#,
            r#""payment_id":"p-1""#,
            r#""restaurant_id":"r-1""#,
            r#""level":"INFO""#,
        ] {
            assert!(line.contains(needle), "{needle} in {line}");
        }
    }

    #[test]
    fn at_warn_a_warning_still_comes_with_its_span_and_trace() {
        let out = Captured::default();
        let sub = filtered_subscriber(
            LogFormat::Text,
            false,
            out.clone(),
            Some(crate::telemetry::Traces::Ids),
            || EnvFilter::new("warn"),
        );
        let (sent, logged) = tracing::subscriber::with_default(sub, || {
            let span = tracing::info_span!(
                "payment",
                payment_id = "p-7",
                trace_id = tracing::field::Empty
            );
            crate::telemetry::record_trace_id(&span);
            let _e = span.enter();
            tracing::info!("not printed at warn");
            tracing::warn!("the POS is slow");
            let mut headers = http::HeaderMap::new();
            crate::telemetry::inject_headers(&mut headers);
            let sent = headers
                .get("traceparent")
                .map(|v| v.to_str().unwrap().to_string());
            (
                sent,
                String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            )
        });
        assert!(!logged.contains("not printed at warn"), "{logged}");
        let line = logged.lines().next().expect("the warning");
        assert!(line.contains("the POS is slow"), "{line}");
        assert!(line.contains(r#"payment_id="p-7""#), "{line}");
        let trace = sent.expect("a traceparent is still sent at warn");
        let trace_id = trace.split('-').nth(1).unwrap();
        assert!(
            line.contains(&format!("trace_id={trace_id}")),
            "{line} / {trace}"
        );
    }

    /// Set in the child process the next test starts.
    const CHILD: &str = "POSGATE_LOGS_TEST_CHILD";

    /// In the child: log as a service does, then stop. In the parent: nothing.
    #[test]
    fn child_logs_as_a_service() {
        if std::env::var_os(CHILD).is_none() {
            return;
        }
        init_logging(None, None).unwrap();
        println!("banner line");
        tracing::info!(payment_id = "p-42", "payment accepted");
        tracing::warn!("something to look at");
    }

    /// The real thing, in a child process whose stderr is a pipe.
    #[test]
    fn a_service_logs_json_lines_to_stderr_and_leaves_stdout_alone() {
        let run = |format: &str| {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "logs::tests::child_logs_as_a_service"])
                .args(["--nocapture", "--test-threads", "1"])
                .env(CHILD, "1")
                .env(LOG_FORMAT_ENV, format)
                .env("RUST_LOG", "info")
                .env_remove("NO_COLOR")
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8(out.stdout).unwrap(),
                String::from_utf8(out.stderr).unwrap(),
            )
        };
        let (ok, stdout, stderr) = run("json");
        assert!(ok, "{stdout}{stderr}");
        assert!(stdout.contains("banner line"), "{stdout}");
        assert!(
            !stdout.contains("payment accepted"),
            "logs on stdout: {stdout}"
        );
        assert!(!stderr.contains("\x1b["), "colour codes: {stderr:?}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with('{')).collect();
        assert_eq!(lines.len(), 2, "{stderr}");
        for l in &lines {
            assert!(l.ends_with('}') && l.contains(r#""timestamp":""#), "{l}");
        }
        assert!(lines[0].contains(r#""payment_id":"p-42""#), "{}", lines[0]);
        assert!(lines[1].contains(r#""level":"WARN""#), "{}", lines[1]);

        let (ok, _, stderr) = run("text");
        assert!(ok, "{stderr}");
        assert!(stderr.contains("payment accepted"), "{stderr}");
        assert!(
            !stderr.contains("\x1b["),
            "colour codes on a pipe: {stderr:?}"
        );
        assert!(!stderr.contains(r#""message""#), "{stderr}");

        // A bad value stops the process naming the variable, before anything is logged.
        let (ok, stdout, stderr) = run("xml");
        assert!(!ok);
        assert!(
            stderr.contains(r#"POSGATE_LOG_FORMAT: log format "xml""#),
            "{stdout}{stderr}"
        );
        assert!(!stderr.contains("payment accepted"));
    }
}
