//! Configuration of the Expirenza adapter: where posgate's payment service is and, per
//! Expirenza restaurant, how to reach Expirenza and which posgate restaurant it maps to.
//!
//! Loaded by [`load_config`] from a TOML file (`[expirenza]` and
//! `[expirenza.restaurants.<name>]`) and then from environment variables
//! `POSGATE_EXPIRENZA__<KEY>` (nested keys separated by `__`), e.g.
//! `POSGATE_EXPIRENZA__RESTAURANTS__DEMO__SECRET_KEY=...`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use posgate_core::{Secret, Substate};
use posgate_grpc::AuthConfig;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Expirenza's documented WebSocket entry point.
pub const DEFAULT_WS_URL: &str = "wss://api.shaketopay.com.ua/restaurantEntryPoint";
/// Expirenza's documented callback host (`/callback/<operation>` is appended); implied only
/// for the production [`DEFAULT_WS_URL`].
pub const DEFAULT_CALLBACK_BASE_URL: &str = "https://api.shaketopay.com.ua";
/// Expirenza expects the callback within 80 s of the operation.
pub const EXPIRENZA_WINDOW_MS: u64 = 80_000;
/// The name this service's token has in `[auth] tokens` (sent on every PaymentService call).
pub const CALLER_NAME: &str = "expirenza";

#[derive(Deserialize, Debug, Clone)]
pub struct ExpirenzaConfig {
    /// posgate PaymentService gRPC endpoint. Default `http://127.0.0.1:50051`.
    #[serde(default = "default_payments_url")]
    pub payments_url: String,
    /// How long to wait for in-flight operations on shutdown.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_ms: u64,
    /// Expirenza restaurant name (free text, used in logs) → its settings.
    #[serde(default)]
    pub restaurants: BTreeMap<String, ExpirenzaRestaurant>,
    /// Service-to-service tokens: the `[auth]` section shared by every service; this one
    /// sends `tokens.expirenza` to the payment service.
    #[serde(skip)]
    pub auth: AuthConfig,
}

impl Default for ExpirenzaConfig {
    fn default() -> Self {
        ExpirenzaConfig {
            payments_url: default_payments_url(),
            shutdown_grace_ms: default_shutdown_grace(),
            restaurants: BTreeMap::new(),
            auth: AuthConfig::default(),
        }
    }
}

/// How Expirenza's `tips` are posted.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum TipsMode {
    /// Passed as `PayBill.tips`: the POS adapter books them as a separate tender.
    #[default]
    Separate,
    /// Not sent to posgate at all.
    None,
}

#[derive(Deserialize, Debug, Clone)]
pub struct ExpirenzaRestaurant {
    /// Expirenza's WebSocket URL (`wss://…/restaurantEntryPoint`).
    #[serde(default = "default_ws_url")]
    pub ws_url: String,
    /// Base of the callbacks: `<callback_base_url>/callback/<operation>`. Unset:
    /// [`DEFAULT_CALLBACK_BASE_URL`] when `ws_url` is Expirenza's production host, otherwise
    /// the configuration is refused (signed callbacks never go to a host nobody named).
    #[serde(default)]
    pub callback_base_url: String,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for the
    /// WebSocket and the callbacks (a staging platform with its own CA; tests).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The bundle `ca_file` names, read by `prepare`.
    #[serde(skip)]
    pub ca_pem: Option<String>,
    /// The restaurant's id at Expirenza (Basic auth user, `restoId` header).
    #[serde(deserialize_with = "string_like")]
    pub resto_id: String,
    /// The restaurant's secret key at Expirenza. Never logged.
    #[serde(default, deserialize_with = "secret_like")]
    pub secret_key: Secret,
    /// Alternative to `secret_key`: a file holding it (surrounding whitespace is trimmed).
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// The posgate restaurant (`restaurant_id` of the payment service) behind this one.
    #[serde(deserialize_with = "string_like")]
    pub restaurant_id: String,
    #[serde(default)]
    pub tips: TipsMode,
    /// How long a payBill may wait for the POS before it is answered with the best known
    /// state (a retriable FAIL); must stay well inside Expirenza's 80 s window.
    #[serde(default = "default_answer_deadline")]
    pub answer_deadline_ms: u64,
    /// Window for delivering a callback (resending after 5xx/transport errors), counted
    /// from the operation's arrival.
    #[serde(default = "default_window")]
    pub callback_window_ms: u64,
    /// HTTP timeout of one callback POST.
    #[serde(default = "default_callback_timeout")]
    pub callback_timeout_ms: u64,
    /// First delay before resending a failed callback (doubles, jittered, capped at 5 s).
    #[serde(default = "default_callback_retry")]
    pub callback_retry_initial_ms: u64,
    /// Keepalive: the text frame `Resto <restoId> ping` (and a WebSocket ping) this often.
    #[serde(default = "default_ping")]
    pub ping_interval_ms: u64,
    /// Reconnect when nothing at all arrived for this long (0 = never).
    #[serde(default = "default_idle")]
    pub idle_timeout_ms: u64,
    /// Reconnect backoff: first delay, then doubling (±20% jitter) up to the max, forever.
    #[serde(default = "default_reconnect_initial")]
    pub reconnect_initial_ms: u64,
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_ms: u64,
    /// Largest operation frame handled; bigger ones are answered with FAIL where the rID
    /// can be read from their start. Frames above 16× this close the connection.
    #[serde(default = "default_max_frame")]
    pub max_frame_bytes: usize,
    /// Sent as the undocumented `cookie: system=<name>` header (both public clients send
    /// it). Empty: not sent.
    #[serde(default = "default_system_name")]
    pub system_name: String,
    /// FAIL substate for a payment the POS has not confirmed by the deadline (still posting,
    /// outcome unknown, POS unreachable). Must be retriable so Expirenza asks again.
    #[serde(
        default = "default_pending_substate",
        deserialize_with = "substate_like"
    )]
    pub pending_substate: Substate,
    /// `versionInfo`: `partnerId`.
    #[serde(default = "default_partner")]
    pub partner_id: String,
    /// `versionInfo`: `restaurantLicenseDateEnd` (`yyyy.MM.dd`), if any.
    #[serde(default)]
    pub license_date_end: Option<String>,
    /// Tables that exist (getBill by table: an unknown one is `TABLE_NOT_FOUND`, a known
    /// one without an open bill `ORDER_NOT_FOUND`). Empty: every table is taken to exist.
    #[serde(default)]
    pub tables: Vec<String>,
}

fn default_payments_url() -> String {
    "http://127.0.0.1:50051".into()
}
fn default_shutdown_grace() -> u64 {
    10_000
}
fn default_ws_url() -> String {
    DEFAULT_WS_URL.into()
}
fn default_callback_base_url() -> String {
    DEFAULT_CALLBACK_BASE_URL.into()
}

/// Whether `ws_url` is on Expirenza's production host (`wss://api.shaketopay.com.ua/...`, any
/// path, the default port).
pub fn is_production_ws_url(ws_url: &str) -> bool {
    let (Ok(u), Ok(prod)) = (
        reqwest::Url::parse(ws_url.trim()),
        reqwest::Url::parse(DEFAULT_WS_URL),
    ) else {
        return false;
    };
    u.scheme() == prod.scheme()
        && u.host_str() == prod.host_str()
        && u.port_or_known_default() == prod.port_or_known_default()
        && u.username().is_empty()
}
fn default_answer_deadline() -> u64 {
    55_000
}
fn default_window() -> u64 {
    EXPIRENZA_WINDOW_MS
}
fn default_callback_timeout() -> u64 {
    10_000
}
fn default_callback_retry() -> u64 {
    500
}
fn default_ping() -> u64 {
    15_000
}
fn default_idle() -> u64 {
    60_000
}
fn default_reconnect_initial() -> u64 {
    1_000
}
fn default_reconnect_max() -> u64 {
    30_000
}
fn default_max_frame() -> usize {
    1024 * 1024
}
fn default_system_name() -> String {
    "posgate".into()
}
fn default_pending_substate() -> Substate {
    Substate::BillInUse
}
fn default_partner() -> String {
    "posgate".into()
}

impl ExpirenzaRestaurant {
    /// A restaurant with the defaults, for tests and embedding.
    pub fn new(
        resto_id: impl Into<String>,
        secret_key: impl Into<String>,
        restaurant_id: impl Into<String>,
    ) -> Self {
        ExpirenzaRestaurant {
            ws_url: default_ws_url(),
            callback_base_url: default_callback_base_url(),
            ca_file: None,
            ca_pem: None,
            resto_id: resto_id.into(),
            secret_key: Secret::new(secret_key),
            secret_key_file: None,
            restaurant_id: restaurant_id.into(),
            tips: TipsMode::default(),
            answer_deadline_ms: default_answer_deadline(),
            callback_window_ms: default_window(),
            callback_timeout_ms: default_callback_timeout(),
            callback_retry_initial_ms: default_callback_retry(),
            ping_interval_ms: default_ping(),
            idle_timeout_ms: default_idle(),
            reconnect_initial_ms: default_reconnect_initial(),
            reconnect_max_ms: default_reconnect_max(),
            max_frame_bytes: default_max_frame(),
            system_name: default_system_name(),
            pending_substate: default_pending_substate(),
            partner_id: default_partner(),
            license_date_end: None,
            tables: Vec::new(),
        }
    }

    /// Points the restaurant at one host (`ws://host/restaurantEntryPoint`,
    /// `http://host/callback/...`), e.g. a simulator.
    pub fn at(mut self, http_base: &str) -> Self {
        let base = http_base.trim_end_matches('/');
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_string()
        };
        self.ws_url = format!("{ws}/restaurantEntryPoint");
        self.callback_base_url = base.to_string();
        self
    }

    /// Fills `secret_key` from `secret_key_file` when only the file is given.
    pub fn resolve_secret(&mut self) -> anyhow::Result<()> {
        if self.secret_key.is_empty()
            && let Some(path) = &self.secret_key_file
        {
            let raw = std::fs::read_to_string(path)
                .with_context(|| format!("reading secret_key_file {}", path.display()))?;
            self.secret_key = Secret::new(raw.trim());
        }
        Ok(())
    }

    /// An unset `callback_base_url` is derived only from the production `ws_url`; any other
    /// `ws_url` (a test server, the simulator) needs its callback host named.
    pub fn resolve_callback_base_url(&mut self, name: &str) -> anyhow::Result<()> {
        if !self.callback_base_url.trim().is_empty() {
            return Ok(());
        }
        if !is_production_ws_url(&self.ws_url) {
            bail!(
                "[expirenza.restaurants.{name}] callback_base_url is required when ws_url is not Expirenza's production host ({DEFAULT_WS_URL}); ws_url is {:?}",
                self.ws_url.trim()
            );
        }
        self.callback_base_url = DEFAULT_CALLBACK_BASE_URL.into();
        Ok(())
    }

    /// Checks what can be checked without a network.
    pub fn validate(&self, name: &str) -> anyhow::Result<()> {
        let ws = self.ws_url.trim();
        if !(ws.starts_with("ws://") || ws.starts_with("wss://")) {
            bail!("expirenza restaurant {name}: ws_url must start with ws:// or wss://");
        }
        let cb = self.callback_base_url.trim();
        if !(cb.starts_with("http://") || cb.starts_with("https://")) {
            bail!(
                "expirenza restaurant {name}: callback_base_url must start with http:// or https://"
            );
        }
        if self.resto_id.trim().is_empty() || self.resto_id.contains(':') {
            bail!("expirenza restaurant {name}: resto_id is required and may not contain ':'");
        }
        if self.secret_key.is_empty() {
            bail!("expirenza restaurant {name}: secret_key (or secret_key_file) is required");
        }
        if self.restaurant_id.trim().is_empty() {
            bail!(
                "expirenza restaurant {name}: restaurant_id (the posgate restaurant) is required"
            );
        }
        if !self.pending_substate.is_retriable() {
            bail!(
                "expirenza restaurant {name}: pending_substate must be retriable (not OTHER_ERROR)"
            );
        }
        if self.answer_deadline_ms == 0 || self.answer_deadline_ms >= self.callback_window_ms {
            bail!(
                "expirenza restaurant {name}: answer_deadline_ms must be positive and below callback_window_ms ({})",
                self.callback_window_ms
            );
        }
        if self.ping_interval_ms == 0 || self.reconnect_initial_ms == 0 {
            bail!(
                "expirenza restaurant {name}: ping_interval_ms and reconnect_initial_ms must be positive"
            );
        }
        if self.max_frame_bytes < 1024 {
            bail!("expirenza restaurant {name}: max_frame_bytes must be at least 1024");
        }
        Ok(())
    }
}

impl ExpirenzaConfig {
    /// Resolves secret files and validates every restaurant (also run by [`load_config`]).
    pub fn prepare(&mut self) -> anyhow::Result<()> {
        let u = self.payments_url.trim();
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            bail!("expirenza: payments_url must start with http:// or https://");
        }
        let mut seen = BTreeMap::new();
        for (name, r) in self.restaurants.iter_mut() {
            r.resolve_secret()?;
            r.resolve_callback_base_url(name)?;
            if let Some(f) = &r.ca_file {
                r.ca_pem =
                    Some(posgate_pos_kit::read_ca_bundle(f).map_err(|e| {
                        anyhow::anyhow!("[expirenza.restaurants.{name}] ca_file: {e}")
                    })?);
            }
            r.validate(name)?;
            if let Some(other) = seen.insert(r.resto_id.clone(), name.clone()) {
                bail!(
                    "expirenza restaurants {other} and {name} share resto_id {}",
                    r.resto_id
                );
            }
        }
        Ok(())
    }
}

/// Loads the adapter's configuration: the `[expirenza]` section of the TOML file at `path`
/// (if any), then `POSGATE_EXPIRENZA__...` environment overrides, and `[auth]` (then
/// `POSGATE_AUTH__TOKENS__EXPIRENZA`). Resolves `secret_key_file`s, derives
/// `callback_base_url`s and validates.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<ExpirenzaConfig> {
    let mut cfg: ExpirenzaConfig = posgate_grpc::load_section(path, "expirenza")?;
    cfg.auth = AuthConfig::load(path).context("invalid [auth] configuration")?;
    cfg.prepare()?;
    Ok(cfg)
}

// Environment values are parsed as TOML-ish values ("1234" becomes a number), so ids and
// secrets accept numbers and booleans too and keep their text.

struct StringLike;

impl Visitor<'_> for StringLike {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
        Ok(v.to_string())
    }
}

fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(StringLike)
}

fn secret_like<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    d.deserialize_any(StringLike).map(Secret::new)
}

fn substate_like<'de, D: Deserializer<'de>>(d: D) -> Result<Substate, D::Error> {
    let s = d.deserialize_any(StringLike)?;
    Substate::from_str(&s).map_err(de::Error::custom)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error.
mod tests {
    use super::*;

    #[test]
    fn loads_toml_with_defaults_and_secret_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("secret", "  from-file\n")?;
            jail.create_file(
                "posgate.toml",
                r#"
[wsa]
listen = "127.0.0.1:1"

[auth]
tokens = { expirenza = "exp-token", payments = "p" }

[expirenza]
payments_url = "http://127.0.0.1:50051"

[expirenza.restaurants.demo]
ws_url = "ws://127.0.0.1:8091/restaurantEntryPoint"
callback_base_url = "http://127.0.0.1:8091"
resto_id = "demo-resto"
secret_key = "inline-secret"
restaurant_id = "demo"

[expirenza.restaurants.other]
resto_id = 4242
secret_key_file = "secret"
restaurant_id = "demo-v1"
tips = "none"
pending_substate = "close_order_blocked"
"#,
            )?;
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            let demo = &cfg.restaurants["demo"];
            assert_eq!(demo.secret_key.expose(), "inline-secret");
            assert_eq!(demo.tips, TipsMode::Separate);
            assert_eq!(demo.answer_deadline_ms, 55_000);
            assert_eq!(demo.pending_substate, Substate::BillInUse);
            let other = &cfg.restaurants["other"];
            assert_eq!(other.resto_id, "4242");
            assert_eq!(other.secret_key.expose(), "from-file");
            assert_eq!(other.ws_url, DEFAULT_WS_URL);
            assert_eq!(other.callback_base_url, DEFAULT_CALLBACK_BASE_URL);
            assert_eq!(other.tips, TipsMode::None);
            assert_eq!(other.pending_substate, Substate::CloseOrderBlocked);
            assert_eq!(cfg.auth.tokens[CALLER_NAME].expose(), "exp-token");
            let dbg = format!("{cfg:?}");
            assert!(!dbg.contains("inline-secret") && !dbg.contains("from-file"));
            assert!(!dbg.contains("exp-token"));
            Ok(())
        });
    }

    #[test]
    fn env_overrides_and_numbers_stay_text() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[expirenza.restaurants.demo]
resto_id = "r1"
secret_key = "file-secret"
restaurant_id = "demo"
"#,
            )?;
            jail.set_env("POSGATE_EXPIRENZA__RESTAURANTS__DEMO__SECRET_KEY", "123456");
            jail.set_env("POSGATE_EXPIRENZA__RESTAURANTS__DEMO__RESTO_ID", "777");
            jail.set_env("POSGATE_EXPIRENZA__PAYMENTS_URL", "http://10.0.0.1:50051");
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.payments_url, "http://10.0.0.1:50051");
            let demo = &cfg.restaurants["demo"];
            assert_eq!(demo.secret_key.expose(), "123456");
            assert_eq!(demo.resto_id, "777");
            Ok(())
        });
    }

    #[test]
    fn callback_base_url_is_derived_only_from_the_production_ws_url() {
        let mut r = ExpirenzaRestaurant::new("r", "s", "demo");
        for prod in [
            DEFAULT_WS_URL,
            "wss://API.shaketopay.com.ua/restaurantEntryPoint",
            "wss://api.shaketopay.com.ua:443/restaurantEntryPoint/",
        ] {
            r.ws_url = prod.into();
            r.callback_base_url = String::new();
            r.resolve_callback_base_url("demo").unwrap();
            assert_eq!(r.callback_base_url, DEFAULT_CALLBACK_BASE_URL, "{prod}");
            assert!(r.validate("demo").is_ok());
        }
        for other in [
            "ws://127.0.0.1:8090/restaurantEntryPoint",
            "ws://api.shaketopay.com.ua/restaurantEntryPoint",
            "wss://test.shaketopay.com.ua/restaurantEntryPoint",
            "wss://api.shaketopay.com.ua.example.com/restaurantEntryPoint",
            "wss://api.shaketopay.com.ua:8443/restaurantEntryPoint",
            "nonsense",
        ] {
            r.ws_url = other.into();
            r.callback_base_url = " ".into();
            let e = r.resolve_callback_base_url("demo").unwrap_err().to_string();
            assert!(
                e.starts_with("[expirenza.restaurants.demo] callback_base_url is required when ws_url is not Expirenza's production host"),
                "{other}: {e}"
            );
        }
        // Named explicitly: kept as given.
        r.ws_url = "ws://127.0.0.1:8090/restaurantEntryPoint".into();
        r.callback_base_url = "http://127.0.0.1:8090".into();
        r.resolve_callback_base_url("demo").unwrap();
        assert_eq!(r.callback_base_url, "http://127.0.0.1:8090");
    }

    #[test]
    fn a_test_ws_url_without_callback_base_url_refuses_to_start() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[expirenza.restaurants.staging]
ws_url = "wss://staging.example.com/restaurantEntryPoint"
resto_id = "r1"
secret_key = "s3cr3t-key"
restaurant_id = "demo"
"#,
            )?;
            let e = load_config(Some(Path::new("posgate.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("[expirenza.restaurants.staging] callback_base_url is required"),
                "{e}"
            );
            assert!(!e.contains("s3cr3t-key"));
            jail.set_env(
                "POSGATE_EXPIRENZA__RESTAURANTS__STAGING__CALLBACK_BASE_URL",
                "https://staging.example.com",
            );
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                cfg.restaurants["staging"].callback_base_url,
                "https://staging.example.com"
            );
            Ok(())
        });
    }

    #[test]
    fn validation() {
        let ok = ExpirenzaRestaurant::new("r", "s", "demo");
        assert!(ok.validate("x").is_ok());
        let mut r = ok.clone();
        r.secret_key = Secret::new("");
        assert!(r.validate("x").is_err());
        let mut r = ok.clone();
        r.pending_substate = Substate::OtherError;
        assert!(r.validate("x").is_err());
        let mut r = ok.clone();
        r.answer_deadline_ms = 90_000;
        assert!(r.validate("x").is_err());
        let mut r = ok.clone();
        r.ws_url = "http://x".into();
        assert!(r.validate("x").is_err());
        let r = ok.at("http://127.0.0.1:9/");
        assert_eq!(r.ws_url, "ws://127.0.0.1:9/restaurantEntryPoint");
        assert_eq!(r.callback_base_url, "http://127.0.0.1:9");
        assert!(load_config(Some(Path::new("/nonexistent/posgate.toml"))).is_err());
    }
}
