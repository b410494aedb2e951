//! A restaurant's WSA settings, read from the connection the payment service sends with every
//! call (the registry's `pos_settings` and `pos_secrets`), never from the adapter's own config.
//!
//! Why it exists: [`SETTINGS`] is the one table of what a WSA connection carries (`Describe`
//! reports it, and a test holds it to [`WsaSettings`]' fields), and [`WsaSettings::read`] is the
//! one reading of a connection: every error names the setting and never quotes a value.

use posgate_core::Secret;
use posgate_pos_kit::connection;
use posgate_pos_kit::connection::Check::{self, Positive, Required, Wrong};
use posgate_pos_kit::{Setting, read_settings, refuse_misplaced};
use posgate_proto::v1::PosConnection;
use serde::Deserialize;

/// Largest `timeout` White Server accepts (seconds).
pub const MAX_TASK_TIMEOUT_S: u64 = 180;

/// Which White Server Agent the restaurant runs; it decides how PayOrder books money.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AgentVersion {
    /// PayOrder adds a prepayment (never more than due); the order closes once covered.
    #[serde(alias = "1", alias = "V1")]
    V1,
    /// PayOrder pays exactly what is due and closes the order; CompleteOrder exists.
    #[serde(alias = "2", alias = "V2")]
    V2,
}

/// How tasks are sent to White Server.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TaskMode {
    /// `params.async`: submit, then poll `GetTaskResponse` until the answer comes.
    #[default]
    Async,
    /// `params.sync`: one HTTP call that waits for the agent.
    Sync,
}

/// Every setting a connection carries: one per field of [`WsaSettings`].
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    Setting::new("base_url", "White Server base URL, e.g. https://ws.ucs.ru").required(),
    Setting::new("token", "AggregatorAuthentication token, sent raw").required().secret(),
    Setting::new("object_id", "restaurant code in UCS licensing (objectId)").required(),
    Setting::new("agent_version", "White Server Agent: v1 (prepayments) or v2 (exact payment closes the order)").required(),
    Setting::new("currency_guid", "r_keeper currency GUID that payments are booked in").required(),
    Setting::new("tips_currency_guid", "r_keeper currency GUID for tips as a separate line; unset: tips are not booked"),
    Setting::new("ca_pem", "PEM bundle of the POS server's own certificate authority, trusted beside the public ones"),
    Setting::new("cash_station_id", "r_keeper cash station that books payments"),
    Setting::new("cashier_id", "r_keeper cashier who books payments"),
    Setting::new("mode", "async (submit, then poll GetTaskResponse; default) or sync"),
    Setting::new("task_timeout_s", "agent wait in seconds, 1..=180 (default 120)"),
    Setting::new("poll_interval_ms", "longest GetTaskResponse polling interval in async mode (default 500; polls start 20 ms after submitting and back off to it)"),
    Setting::new("timeout_margin_ms", "extra wait on top of task_timeout_s before giving up (default 5000)"),
];

/// One restaurant's WSA settings. Unknown names are refused, so a misspelt setting is an error
/// instead of a silent default.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct WsaSettings {
    /// White Server base URL; the adapter appends `/wsserverlp/api/v2/aggregators/Create`.
    pub base_url: String,
    /// `AggregatorAuthentication` token, sent raw. Never logged.
    pub token: Secret,
    /// Restaurant code in UCS licensing (`params.<mode>.objectId`).
    pub object_id: i64,
    pub agent_version: AgentVersion,
    /// r_keeper currency GUID that payments are booked in.
    pub currency_guid: String,
    /// If set, tips are a separate payment line in this currency; if not, tips are not booked.
    #[serde(default)]
    pub tips_currency_guid: Option<String>,
    /// Certificate authorities (PEM) trusted beside the public ones, for a POS server whose
    /// certificate comes from its own authority (on-premises servers often do).
    #[serde(default)]
    pub ca_pem: Option<String>,
    #[serde(default)]
    pub cash_station_id: Option<i64>,
    #[serde(default)]
    pub cashier_id: Option<i64>,
    #[serde(default)]
    pub mode: TaskMode,
    /// Agent wait, sent as `params.<mode>.timeout`; clamped to 1..=180.
    #[serde(default = "posgate_pos_kit::connection::default_u64::<120>")]
    pub task_timeout_s: u64,
    /// The longest wait between `GetTaskResponse` polls in async mode (they start sooner).
    #[serde(default = "posgate_pos_kit::connection::default_u64::<500>")]
    pub poll_interval_ms: u64,
    /// Extra time on top of `task_timeout_s` before the adapter gives up waiting (HTTP timeout
    /// in sync mode, polling deadline in async mode).
    #[serde(default = "posgate_pos_kit::connection::default_u64::<5_000>")]
    pub timeout_margin_ms: u64,
}

/// The checks [`WsaSettings::read`] makes after reading (and the URL), in order.
const CHECKS: &[Check<WsaSettings>] = &[
    Wrong("token", |r| r.token.is_empty(), "is required"),
    Wrong(
        "token",
        |r| reqwest::header::HeaderValue::from_str(r.token.expose()).is_err(),
        "is not a valid HTTP header value (it is sent as one)",
    ),
    Required("currency_guid", |r| &r.currency_guid),
    Wrong(
        "tips_currency_guid",
        |r| {
            r.tips_currency_guid
                .as_deref()
                .is_some_and(|g| g.trim().is_empty())
        },
        "is empty (omit it to not book tips)",
    ),
    Positive("poll_interval_ms", |r| r.poll_interval_ms),
];

impl WsaSettings {
    /// The settings a connection describes, checked, with its CA bundle checked by the kit.
    /// An error names the setting (`setting "object_id" is required`) and never quotes a value.
    pub fn read(conn: &PosConnection) -> Result<WsaSettings, String> {
        refuse_misplaced(conn, SETTINGS, &[])?;
        let s: WsaSettings = read_settings(&conn.settings, &conn.secrets)?;
        connection::check_url("base_url", &s.base_url)?;
        connection::check_all(&s, CHECKS)?;
        connection::check_ca_setting(s.ca_pem.as_deref())?;
        Ok(s)
    }

    /// `task_timeout_s` clamped to what White Server accepts.
    pub fn effective_task_timeout_s(&self) -> u64 {
        self.task_timeout_s.clamp(1, MAX_TASK_TIMEOUT_S)
    }
}
