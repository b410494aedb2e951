//! Configuration of the WSA adapter: where it listens and, per posgate restaurant id, how to
//! reach that restaurant's White Server and book money in its r_keeper.
//!
//! Loaded by [`load_config`] from a TOML file (`[wsa]` and `[wsa.restaurants.<id>]`) and then
//! from environment variables `POSGATE_WSA__<KEY>` (nested keys separated by `__`), e.g.
//! `POSGATE_WSA__LISTEN=0.0.0.0:50061` or `POSGATE_WSA__RESTAURANTS__DEMO__TOKEN=...`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use posgate_core::Secret;
use serde::Deserialize;

/// Largest `timeout` White Server accepts (seconds).
pub const MAX_TASK_TIMEOUT_S: u64 = 180;
/// Largest currency scale posgate handles.
pub const MAX_CURRENCY_SCALE: u32 = posgate_core::money::MAX_SCALE;

#[derive(Deserialize, Debug, Clone)]
pub struct WsaAdapterConfig {
    /// gRPC listen address. Default `127.0.0.1:50061`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// posgate restaurant id → that restaurant's WSA settings.
    #[serde(default)]
    pub restaurants: BTreeMap<String, WsaRestaurant>,
    /// Service-to-service tokens: the `[auth]` section, shared by every service.
    #[serde(skip)]
    pub auth: posgate_grpc::AuthConfig,
}

impl Default for WsaAdapterConfig {
    fn default() -> Self {
        WsaAdapterConfig {
            listen: default_listen(),
            restaurants: BTreeMap::new(),
            auth: Default::default(),
        }
    }
}

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

/// One restaurant's WSA settings: a `[wsa.restaurants.<id>]` section, or a connection sent
/// with a call (see [`crate::connection`]). Unknown names are refused, so a misspelt setting
/// is an error instead of a silent default.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct WsaRestaurant {
    /// White Server base URL, e.g. `https://ws.ucs.ru`; the adapter appends
    /// `/wsserverlp/api/v2/aggregators/Create`.
    pub base_url: String,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for a POS server
    /// whose certificate comes from its own authority (on-premises servers often do).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// The same bundle inline (what a connection sends); one of `ca_file` and `ca_pem`.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// `AggregatorAuthentication` token, sent raw. Never logged.
    #[serde(default)]
    pub token: Secret,
    /// Alternative to `token`: a file holding it (surrounding whitespace is trimmed).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Restaurant code in UCS licensing (`params.<mode>.objectId`).
    pub object_id: i64,
    pub agent_version: AgentVersion,
    /// r_keeper currency GUID that payments are booked in.
    pub currency_guid: String,
    /// If set, tips are a separate payment line in this currency; if not, tips are not booked.
    #[serde(default)]
    pub tips_currency_guid: Option<String>,
    /// Digits after the dot of the restaurant's money.
    #[serde(default = "default_scale")]
    pub currency_scale: u32,
    #[serde(default)]
    pub cash_station_id: Option<i64>,
    #[serde(default)]
    pub cashier_id: Option<i64>,
    #[serde(default)]
    pub mode: TaskMode,
    /// Agent wait, sent as `params.<mode>.timeout`; clamped to 1..=180.
    #[serde(default = "default_task_timeout")]
    pub task_timeout_s: u64,
    /// How often `GetTaskResponse` is polled in async mode.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_ms: u64,
    /// Extra time on top of `task_timeout_s` before the adapter gives up waiting (HTTP timeout
    /// in sync mode, polling deadline in async mode).
    #[serde(default = "default_margin")]
    pub timeout_margin_ms: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50061))
}
fn default_scale() -> u32 {
    2
}
fn default_task_timeout() -> u64 {
    120
}
fn default_poll_interval() -> u64 {
    500
}
fn default_margin() -> u64 {
    5_000
}

impl WsaRestaurant {
    /// A restaurant with the defaults, for tests and embedding.
    pub fn new(
        base_url: impl Into<String>,
        token: impl Into<String>,
        object_id: i64,
        agent_version: AgentVersion,
        currency_guid: impl Into<String>,
    ) -> Self {
        WsaRestaurant {
            base_url: base_url.into(),
            ca_file: None,
            ca_pem: None,
            token: Secret::new(token),
            token_file: None,
            object_id,
            agent_version,
            currency_guid: currency_guid.into(),
            tips_currency_guid: None,
            currency_scale: default_scale(),
            cash_station_id: None,
            cashier_id: None,
            mode: TaskMode::default(),
            task_timeout_s: default_task_timeout(),
            poll_interval_ms: default_poll_interval(),
            timeout_margin_ms: default_margin(),
        }
    }

    /// `task_timeout_s` clamped to what White Server accepts.
    pub fn effective_task_timeout_s(&self) -> u64 {
        self.task_timeout_s.clamp(1, MAX_TASK_TIMEOUT_S)
    }

    /// Fills `token` from `token_file` when only the file is given.
    pub fn resolve_token(&mut self) -> anyhow::Result<()> {
        if self.token.is_empty()
            && let Some(path) = &self.token_file
        {
            let raw = std::fs::read_to_string(path)
                .with_context(|| format!("reading token_file {}", path.display()))?;
            self.token = Secret::new(raw.trim());
        }
        Ok(())
    }

    /// The first problem that can be seen without talking to the POS, as (the setting, what
    /// is wrong with it); the texts never quote a value.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        CHECKS
            .iter()
            .find(|(_, wrong, _)| wrong(self))
            .map(|(name, _, why)| (*name, *why))
    }

    /// Checks what can be checked without talking to the POS.
    pub fn validate(&self, id: &str) -> anyhow::Result<()> {
        match self.problem() {
            Some((name, why)) => bail!("restaurant {id}: {name} {why}"),
            None => Ok(()),
        }
    }

    /// The settings checked and the CA bundle read: all a restaurant needs before its client
    /// is built. An error names the setting.
    pub fn checked_ca(&self) -> Result<Option<String>, (&'static str, String)> {
        if let Some((name, why)) = self.problem() {
            return Err((name, why.to_string()));
        }
        self.ca_bundle()
    }

    /// The restaurant's own certificate authorities (PEM), from `ca_file` or `ca_pem`, checked
    /// by the kit (certificates the TLS stack takes); an error names the setting.
    pub fn ca_bundle(&self) -> Result<Option<String>, (&'static str, String)> {
        if let Some(f) = &self.ca_file {
            return posgate_pos_kit::read_ca_bundle(f)
                .map(Some)
                .map_err(|e| ("ca_file", e));
        }
        let Some(pem) = &self.ca_pem else {
            return Ok(None);
        };
        posgate_pos_kit::check_ca_pem(pem)
            .map(|()| Some(pem.clone()))
            .map_err(|e| ("ca_pem", e))
    }
}

/// A check of a restaurant's settings: the setting, whether it is wrong, what is wrong.
type Check = (&'static str, fn(&WsaRestaurant) -> bool, &'static str);

/// Every check [`WsaRestaurant::problem`] makes, in order.
const CHECKS: &[Check] = &[
    (
        "base_url",
        |r| {
            let u = r.base_url.trim();
            !(u.starts_with("http://") || u.starts_with("https://"))
        },
        "must start with http:// or https://",
    ),
    ("token", |r| r.token.is_empty(), "is required"),
    (
        "token",
        |r| reqwest::header::HeaderValue::from_str(r.token.expose()).is_err(),
        "is not a valid HTTP header value (it is sent as one)",
    ),
    (
        "currency_guid",
        |r| r.currency_guid.trim().is_empty(),
        "is required",
    ),
    (
        "tips_currency_guid",
        |r| {
            r.tips_currency_guid
                .as_deref()
                .is_some_and(|g| g.trim().is_empty())
        },
        "is empty (omit it to not book tips)",
    ),
    (
        "currency_scale",
        |r| r.currency_scale > MAX_CURRENCY_SCALE,
        "is above the largest scale posgate handles",
    ),
    (
        "poll_interval_ms",
        |r| r.poll_interval_ms == 0,
        "must be positive",
    ),
    (
        "ca_pem",
        |r| r.ca_pem.is_some() && r.ca_file.is_some(),
        "and ca_file are both set; give one of the two",
    ),
];

/// Loads the adapter's configuration: the `[wsa]` section of the TOML file at `path` (if
/// any), then `POSGATE_WSA__...` environment overrides. Resolves `token_file`s and validates.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<WsaAdapterConfig> {
    let mut cfg: WsaAdapterConfig = posgate_grpc::load_section(path, "wsa")?;
    for (id, r) in cfg.restaurants.iter_mut() {
        r.resolve_token()?;
        r.validate(id)?;
    }
    cfg.auth = posgate_grpc::AuthConfig::load(path)?;
    Ok(cfg)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error.
mod tests {
    use super::*;

    #[test]
    fn loads_toml_with_defaults_and_token_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("token", "  tok-from-file\n")?;
            jail.create_file(
                "posgate.toml",
                r#"
top = "level keys of other services are fine"

[other]
x = 1

[wsa]
listen = "127.0.0.1:1234"

[wsa.restaurants.demo]
base_url = "https://ws.ucs.ru"
token = "tok-inline"
object_id = 199990246
agent_version = "v2"
currency_guid = "cur-1"

[wsa.restaurants.old]
base_url = "http://localhost:9"
token_file = "token"
object_id = 1
agent_version = "v1"
currency_guid = "cur-2"
tips_currency_guid = "tips-1"
mode = "sync"
task_timeout_s = 500
currency_scale = 3
"#,
            )?;
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, "127.0.0.1:1234".parse().unwrap());
            let demo = &cfg.restaurants["demo"];
            assert_eq!(demo.token.expose(), "tok-inline");
            assert_eq!(demo.mode, TaskMode::Async);
            assert_eq!(demo.currency_scale, 2);
            assert_eq!(demo.task_timeout_s, 120);
            assert_eq!(demo.poll_interval_ms, 500);
            assert_eq!(demo.agent_version, AgentVersion::V2);
            let old = &cfg.restaurants["old"];
            assert_eq!(old.token.expose(), "tok-from-file");
            assert_eq!(old.mode, TaskMode::Sync);
            assert_eq!(old.effective_task_timeout_s(), 180);
            assert_eq!(old.tips_currency_guid.as_deref(), Some("tips-1"));
            assert_eq!(old.agent_version, AgentVersion::V1);
            // The token never shows in Debug output.
            let dbg = format!("{cfg:?}");
            assert!(!dbg.contains("tok-inline") && !dbg.contains("tok-from-file"));
            Ok(())
        });
    }

    #[test]
    fn no_file_no_env_is_the_default() {
        figment::Jail::expect_with(|_jail| {
            let cfg = load_config(None).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, default_listen());
            assert!(cfg.restaurants.is_empty());
            Ok(())
        });
    }

    #[test]
    fn rejects_missing_token_and_bad_url() {
        let mut r = WsaRestaurant::new("ftp://x", "t", 1, AgentVersion::V2, "c");
        assert!(r.validate("a").is_err());
        r.base_url = "http://x".into();
        assert!(r.validate("a").is_ok());
        r.token = Secret::new("");
        assert!(r.validate("a").is_err());
    }

    #[test]
    fn a_misspelt_key_in_a_restaurant_section_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[wsa.restaurants.demo]
base_url = "https://ws.ucs.ru"
token = "t"
object_id = 1
agent_version = "v2"
currency_guid = "cur"
tips_curency_guid = "typo"
"#,
            )?;
            let e = load_config(Some(Path::new("posgate.toml"))).unwrap_err();
            assert!(format!("{e:#}").contains("tips_curency_guid"), "{e:#}");
            Ok(())
        });
    }

    #[test]
    fn the_shipped_deploy_config_still_loads_with_unknown_keys_refused() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../deploy/posgate.toml");
        let cfg = load_config(Some(&path)).unwrap();
        assert!(
            cfg.restaurants.is_empty(),
            "restaurants live in the registry"
        );
    }

    /// The demo restaurants `posgate up` declares are valid WSA connections.
    #[test]
    fn the_shipped_demo_restaurants_are_valid_connections() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../deploy/restaurants.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let text_of = |v: &toml::Value| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut seen = 0;
        for (id, r) in doc["restaurants"].as_table().unwrap() {
            if r["pos_kind"].as_str() != Some("wsa") {
                continue;
            }
            let table = |k: &str| {
                r.get(k)
                    .and_then(|t| t.as_table())
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), text_of(v))).collect())
                    .unwrap_or_default()
            };
            let conn = posgate_proto::v1::PosConnection {
                settings: table("pos_settings"),
                secrets: table("pos_secrets"),
                currency_scale: 2,
                version: 1,
            };
            crate::connection::restaurant_from(&conn).unwrap_or_else(|e| panic!("{id}: {e}"));
            seen += 1;
        }
        assert_eq!(seen, 2, "demo and demo-v1");
    }

    #[test]
    fn checks_name_the_setting_and_never_quote_it() {
        let ok = WsaRestaurant::new("http://x", "t", 1, AgentVersion::V2, "c");
        assert_eq!(ok.problem(), None);
        type Spoil = fn(&mut WsaRestaurant);
        let cases: [(&str, Spoil); 5] = [
            ("token", |r| r.token = Secret::new("tok\nSECRET")),
            ("ca_pem", |r| {
                r.ca_pem = Some("pem".into());
                r.ca_file = Some("ca.pem".into());
            }),
            ("currency_guid", |r| r.currency_guid = " ".into()),
            ("poll_interval_ms", |r| r.poll_interval_ms = 0),
            ("currency_scale", |r| {
                r.currency_scale = MAX_CURRENCY_SCALE + 1
            }),
        ];
        for (name, spoil) in cases {
            let mut r = ok.clone();
            spoil(&mut r);
            assert_eq!(r.problem().map(|p| p.0), Some(name));
            let e = r.validate("demo").unwrap_err().to_string();
            assert!(e.starts_with(&format!("restaurant demo: {name} ")), "{e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
        let mut r = ok.clone();
        r.ca_pem = Some("no certificate".into());
        assert_eq!(r.checked_ca().unwrap_err().0, "ca_pem");
    }

    #[test]
    fn env_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[wsa.restaurants.demo]
base_url = "https://ws.ucs.ru"
token = "file-token"
object_id = 1
agent_version = "v2"
currency_guid = "cur"
"#,
            )?;
            jail.set_env("POSGATE_WSA__LISTEN", "0.0.0.0:7000");
            jail.set_env("POSGATE_WSA__RESTAURANTS__DEMO__TOKEN", "env-token");
            jail.set_env("POSGATE_WSA__RESTAURANTS__DEMO__MODE", "sync");
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, "0.0.0.0:7000".parse().unwrap());
            let demo = &cfg.restaurants["demo"];
            assert_eq!(demo.token.expose(), "env-token");
            assert_eq!(demo.mode, TaskMode::Sync);
            Ok(())
        });
    }

    #[test]
    fn missing_file_is_an_error() {
        assert!(load_config(Some(Path::new("/nonexistent/posgate.toml"))).is_err());
    }
}
