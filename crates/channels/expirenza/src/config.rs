//! Configuration of the Expirenza adapter: where posgate's payment service is, and how every
//! restaurant's Expirenza connection behaves (keepalive, reconnects, deadlines, a CA for a
//! staging platform). Service settings only: the restaurants themselves (`resto_id`, key, URLs,
//! tips, tables) are the payment service's registry's, streamed to the adapter
//! ([`crate::registry`]); a file that still has the retired `[expirenza.restaurants]` section is
//! refused, saying where they go now ([`RETIRED`]).
//!
//! Loaded by [`load_config`] from the `[expirenza]` section of a TOML file and then from
//! environment variables `POSGATE_EXPIRENZA__<KEY>`, e.g.
//! `POSGATE_EXPIRENZA__PAYMENTS_URL=http://10.0.0.1:50051`. Unknown keys are refused.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use posgate_core::{Secret, Substate};
use posgate_grpc::{AuthConfig, Retired};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Expirenza's documented WebSocket entry point.
pub const DEFAULT_WS_URL: &str = "wss://api.shaketopay.com.ua/restaurantEntryPoint";
/// Expirenza's documented callback host (`/callback/<operation>` is appended).
pub const DEFAULT_CALLBACK_BASE_URL: &str = "https://api.shaketopay.com.ua";
/// Expirenza expects the callback within 80 s of the operation.
pub const EXPIRENZA_WINDOW_MS: u64 = 80_000;
/// The name this service's token has in `[auth] tokens` (sent on every PaymentService call).
pub const CALLER_NAME: &str = "expirenza";

/// Sections of `[expirenza]` that are no longer read, and where what they held goes now.
pub const RETIRED: &[Retired] = &[Retired {
    key: "restaurants",
    instead: "Expirenza restaurants are declared in the restaurant registry with their posgate restaurant, not in the config file. Put each one's resto_id, ws_url, callback_base_url, secret_key (or secret_key_file), tips and tables in the [restaurants.<restaurant_id>.expirenza] table of a restaurants file (deploy/restaurants.toml is an example) and declare it with `posgate restaurant import <file>`; answer_deadline_ms, ping_interval_ms, reconnect_*, ca_file and the other connection settings are keys of [expirenza] itself, the same for every restaurant",
}];

/// The `[expirenza]` section.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExpirenzaConfig {
    /// posgate PaymentService gRPC endpoint. Default `http://127.0.0.1:50051`.
    #[serde(default = "default_payments_url")]
    pub payments_url: String,
    /// How long to wait for in-flight operations on shutdown.
    #[serde(default = "default_shutdown_grace")]
    pub shutdown_grace_ms: u64,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for the
    /// WebSockets and the callbacks (a staging platform with its own CA; tests).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The bundle `ca_file` names, read by [`ExpirenzaConfig::prepare`].
    #[serde(skip)]
    pub ca_pem: Option<String>,
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
    #[serde(default = "default_partner", deserialize_with = "string_like")]
    pub partner_id: String,
    /// `versionInfo`: `restaurantLicenseDateEnd` (`yyyy.MM.dd`), if any.
    #[serde(default)]
    pub license_date_end: Option<String>,
    /// The admin HTTP port (`/metrics`, `/livez`, `/readyz`), e.g. `127.0.0.1:9092`; none when
    /// unset.
    #[serde(default)]
    pub admin_listen: Option<std::net::SocketAddr>,
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
            ca_file: None,
            ca_pem: None,
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
            admin_listen: None,
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

/// One Expirenza restaurant as a [`crate::Handler`] serves it: who it is (from the registry)
/// and how its connection behaves (from `[expirenza]`, [`ExpirenzaConfig::restaurant`]).
#[derive(Debug, Clone)]
pub struct ExpirenzaRestaurant {
    /// Expirenza's WebSocket URL (`wss://…/restaurantEntryPoint`).
    pub ws_url: String,
    /// Base of the callbacks: `<callback_base_url>/callback/<operation>`.
    pub callback_base_url: String,
    /// Certificate authorities trusted beside the public ones (`[expirenza] ca_file`).
    pub ca_pem: Option<String>,
    /// The restaurant's id at Expirenza (Basic auth user, `restoId` header).
    pub resto_id: String,
    /// The restaurant's secret key at Expirenza. Never logged.
    pub secret_key: Secret,
    /// The posgate restaurant (`restaurant_id` of the payment service) behind this one.
    pub restaurant_id: String,
    pub tips: TipsMode,
    /// Tables that exist (getBill by table: an unknown one is `TABLE_NOT_FOUND`, a known
    /// one without an open bill `ORDER_NOT_FOUND`). Empty: every table is taken to exist.
    pub tables: Vec<String>,
    /// See [`ExpirenzaConfig`] for these.
    pub answer_deadline_ms: u64,
    pub callback_window_ms: u64,
    pub callback_timeout_ms: u64,
    pub callback_retry_initial_ms: u64,
    pub ping_interval_ms: u64,
    pub idle_timeout_ms: u64,
    pub reconnect_initial_ms: u64,
    pub reconnect_max_ms: u64,
    pub max_frame_bytes: usize,
    pub system_name: String,
    pub pending_substate: Substate,
    pub partner_id: String,
    pub license_date_end: Option<String>,
}

fn default_payments_url() -> String {
    "http://127.0.0.1:50051".into()
}
fn default_shutdown_grace() -> u64 {
    10_000
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
    /// A restaurant on Expirenza's production host with the default connection settings, for
    /// tests and embedding.
    pub fn new(
        resto_id: impl Into<String>,
        secret_key: impl Into<String>,
        restaurant_id: impl Into<String>,
    ) -> Self {
        ExpirenzaConfig::default().restaurant(resto_id, secret_key, restaurant_id)
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

    /// What is wrong with the connection settings, naming the key; `None` when nothing is.
    fn settings_problem(&self) -> Option<String> {
        if !self.pending_substate.is_retriable() {
            return Some("pending_substate must be retriable (not OTHER_ERROR)".into());
        }
        if self.answer_deadline_ms == 0 || self.answer_deadline_ms >= self.callback_window_ms {
            return Some(format!(
                "answer_deadline_ms must be positive and below callback_window_ms ({})",
                self.callback_window_ms
            ));
        }
        if self.ping_interval_ms == 0 || self.reconnect_initial_ms == 0 {
            return Some("ping_interval_ms and reconnect_initial_ms must be positive".into());
        }
        if self.max_frame_bytes < 1024 {
            return Some("max_frame_bytes must be at least 1024".into());
        }
        None
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
            bail!("expirenza restaurant {name}: secret_key is required");
        }
        if self.restaurant_id.trim().is_empty() {
            bail!(
                "expirenza restaurant {name}: restaurant_id (the posgate restaurant) is required"
            );
        }
        if let Some(p) = self.settings_problem() {
            bail!("expirenza restaurant {name}: {p}");
        }
        Ok(())
    }
}

impl ExpirenzaConfig {
    /// A restaurant with these connection settings, on Expirenza's production host (the
    /// registry names its own `ws_url` and `callback_base_url`).
    pub fn restaurant(
        &self,
        resto_id: impl Into<String>,
        secret_key: impl Into<String>,
        restaurant_id: impl Into<String>,
    ) -> ExpirenzaRestaurant {
        ExpirenzaRestaurant {
            ws_url: DEFAULT_WS_URL.into(),
            callback_base_url: DEFAULT_CALLBACK_BASE_URL.into(),
            ca_pem: self.ca_pem.clone(),
            resto_id: resto_id.into(),
            secret_key: Secret::new(secret_key),
            restaurant_id: restaurant_id.into(),
            tips: TipsMode::default(),
            tables: Vec::new(),
            answer_deadline_ms: self.answer_deadline_ms,
            callback_window_ms: self.callback_window_ms,
            callback_timeout_ms: self.callback_timeout_ms,
            callback_retry_initial_ms: self.callback_retry_initial_ms,
            ping_interval_ms: self.ping_interval_ms,
            idle_timeout_ms: self.idle_timeout_ms,
            reconnect_initial_ms: self.reconnect_initial_ms,
            reconnect_max_ms: self.reconnect_max_ms,
            max_frame_bytes: self.max_frame_bytes,
            system_name: self.system_name.clone(),
            pending_substate: self.pending_substate,
            partner_id: self.partner_id.clone(),
            license_date_end: self.license_date_end.clone(),
        }
    }

    /// Reads `ca_file` and checks every setting (also run by [`load_config`]).
    pub fn prepare(&mut self) -> anyhow::Result<()> {
        let u = self.payments_url.trim();
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            bail!("[expirenza] payments_url must start with http:// or https://");
        }
        if let Some(f) = &self.ca_file {
            self.ca_pem = Some(
                posgate_pos_kit::read_ca_bundle(f)
                    .map_err(|e| anyhow::anyhow!("[expirenza] ca_file: {e}"))?,
            );
        }
        if let Some(p) = self.restaurant("-", "-", "-").settings_problem() {
            bail!("[expirenza] {p}");
        }
        Ok(())
    }
}

/// Loads the adapter's configuration: the `[expirenza]` section of the TOML file at `path`
/// (if any), then `POSGATE_EXPIRENZA__...` environment overrides, and `[auth]` (then
/// `POSGATE_AUTH__TOKENS__EXPIRENZA`). Reads `ca_file` and validates.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<ExpirenzaConfig> {
    let mut cfg: ExpirenzaConfig = posgate_grpc::load_section_retiring(path, "expirenza", RETIRED)?;
    cfg.auth = AuthConfig::load(path).context("invalid [auth] configuration")?;
    cfg.prepare()?;
    Ok(cfg)
}

// Environment values are parsed as TOML-ish values ("1234" becomes a number), so ids accept
// numbers and booleans too and keep their text.

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

fn substate_like<'de, D: Deserializer<'de>>(d: D) -> Result<Substate, D::Error> {
    let s = d.deserialize_any(StringLike)?;
    Substate::from_str(&s).map_err(de::Error::custom)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error.
mod tests {
    use super::*;

    #[test]
    fn loads_the_service_settings_with_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[wsa]
listen = "127.0.0.1:1"

[auth]
tokens = { expirenza = "exp-token", payments = "p" }

[expirenza]
payments_url = "http://127.0.0.1:50051"
answer_deadline_ms = 30000
pending_substate = "close_order_blocked"
partner_id = 4242
"#,
            )?;
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.answer_deadline_ms, 30_000);
            assert_eq!(cfg.pending_substate, Substate::CloseOrderBlocked);
            assert_eq!(cfg.partner_id, "4242", "numbers stay text");
            assert_eq!(cfg.ping_interval_ms, 15_000, "default");
            assert_eq!(cfg.auth.tokens[CALLER_NAME].expose(), "exp-token");
            assert!(!format!("{cfg:?}").contains("exp-token"));
            // Every restaurant gets them; who it is comes from the registry.
            let r = cfg.restaurant("resto", "k3y-secret", "demo");
            assert_eq!(r.answer_deadline_ms, 30_000);
            assert_eq!(r.pending_substate, Substate::CloseOrderBlocked);
            assert_eq!(r.ws_url, DEFAULT_WS_URL);
            assert!(
                !format!("{r:?}").contains("k3y-secret"),
                "the key is never printed"
            );
            Ok(())
        });
    }

    #[test]
    fn env_overrides() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("posgate.toml", "[expirenza]\nping_interval_ms = 1000\n")?;
            jail.set_env("POSGATE_EXPIRENZA__PAYMENTS_URL", "http://10.0.0.1:50051");
            jail.set_env("POSGATE_EXPIRENZA__PING_INTERVAL_MS", "500");
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.payments_url, "http://10.0.0.1:50051");
            assert_eq!(cfg.ping_interval_ms, 500);
            Ok(())
        });
    }

    #[test]
    fn a_file_with_static_restaurants_is_refused_saying_to_import_them() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[expirenza]
payments_url = "http://127.0.0.1:50051"

[expirenza.restaurants.demo]
resto_id = "demo-resto"
secret_key = "s3cr3t-key"
restaurant_id = "demo"
"#,
            )?;
            let e = load_config(Some(Path::new("posgate.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("[expirenza.restaurants] is no longer read (it holds demo)"),
                "{e}"
            );
            assert!(e.contains("posgate restaurant import <file>"), "{e}");
            assert!(e.contains("[restaurants.<restaurant_id>.expirenza]"), "{e}");
            assert!(!e.contains("s3cr3t-key"), "{e}");
            Ok(())
        });
        // Through the environment alone, too.
        figment::Jail::expect_with(|jail| {
            jail.create_file("posgate.toml", "[expirenza]\n")?;
            jail.set_env("POSGATE_EXPIRENZA__RESTAURANTS__STAGING__RESTO_ID", "r1");
            let e = load_config(Some(Path::new("posgate.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("[expirenza.restaurants] is no longer read (it holds staging)"),
                "{e}"
            );
            assert!(e.contains("POSGATE_EXPIRENZA__RESTAURANTS__*"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("posgate.toml", "[expirenza]\nping_intervl_ms = 1000\n")?;
            let e = load_config(Some(Path::new("posgate.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("ping_intervl_ms"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn bad_service_settings_are_refused_naming_the_key() {
        for (toml, key) in [
            ("answer_deadline_ms = 90000", "answer_deadline_ms"),
            ("pending_substate = \"OTHER_ERROR\"", "pending_substate"),
            ("ping_interval_ms = 0", "ping_interval_ms"),
            ("max_frame_bytes = 10", "max_frame_bytes"),
            ("payments_url = \"127.0.0.1:50051\"", "payments_url"),
            ("ca_file = \"/nonexistent/ca.pem\"", "ca_file"),
        ] {
            figment::Jail::expect_with(|jail| {
                jail.create_file("posgate.toml", &format!("[expirenza]\n{toml}\n"))?;
                let e = load_config(Some(Path::new("posgate.toml")))
                    .unwrap_err()
                    .to_string();
                assert!(e.starts_with("[expirenza] "), "{toml}: {e}");
                assert!(e.contains(key), "{toml}: {e}");
                Ok(())
            });
        }
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
