//! Configuration of the r_k Delivery adapter: where it listens and, per posgate restaurant id,
//! how to reach r_k Delivery and book money in the restaurant's r_keeper.
//!
//! Loaded by [`load_config`] from a TOML file (`[delivery]` and
//! `[delivery.restaurants.<id>]`) and then from environment variables
//! `POSGATE_DELIVERY__<KEY>` (nested keys separated by `__`), e.g.
//! `POSGATE_DELIVERY__LISTEN=0.0.0.0:50062` or
//! `POSGATE_DELIVERY__RESTAURANTS__DL__CLIENT_SECRET=...`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use posgate_core::Secret;
use serde::Deserialize;
use time::UtcOffset;

use crate::wire::parse_offset;

/// Largest currency scale posgate handles.
pub const MAX_CURRENCY_SCALE: u32 = posgate_core::money::MAX_SCALE;
/// Production API host.
pub const DEFAULT_BASE_URL: &str = "https://delivery.ucs.ru";
/// Production OAuth2 host (`/connect/token` is appended); implied only for [`DEFAULT_BASE_URL`].
pub const DEFAULT_AUTH_URL: &str = "https://auth-delivery.ucs.ru";
/// Default `settle_margin_ms`.
pub const DEFAULT_SETTLE_MARGIN_MS: u64 = 30_000;

#[derive(Deserialize, Debug, Clone)]
pub struct DeliveryAdapterConfig {
    /// gRPC listen address. Default `127.0.0.1:50062`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// posgate restaurant id → that restaurant's r_k Delivery settings.
    #[serde(default)]
    pub restaurants: BTreeMap<String, DeliveryRestaurant>,
    /// Service-to-service tokens: the `[auth]` section, shared by every service.
    #[serde(skip)]
    pub auth: posgate_grpc::AuthConfig,
}

impl Default for DeliveryAdapterConfig {
    fn default() -> Self {
        DeliveryAdapterConfig {
            listen: default_listen(),
            restaurants: BTreeMap::new(),
            auth: Default::default(),
        }
    }
}

#[derive(Deserialize, Debug, Clone)]
pub struct DeliveryRestaurant {
    /// API base URL; the adapter appends `/orders/api/v1/orders/...`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for a POS server
    /// whose certificate comes from its own authority (on-premises servers often do).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// OAuth2 server; the adapter appends `/connect/token` unless the URL already ends so.
    /// Unset: [`DEFAULT_AUTH_URL`] when `base_url` is the production host, otherwise the
    /// configuration is refused (the client secret never goes to a host nobody named).
    #[serde(default)]
    pub auth_url: String,
    /// OAuth2 client credentials of the order source.
    pub client_id: String,
    /// Never logged.
    #[serde(default)]
    pub client_secret: Secret,
    /// Alternative to `client_secret`: a file holding it (surrounding whitespace is trimmed).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Sent as the `scopes` form field.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// r_keeper currency GUID that payments are booked in (`code` of the `/pay` lines).
    pub currency_guid: String,
    /// `name` of the `/pay` lines (optional in the API).
    #[serde(default)]
    pub currency_name: String,
    /// Digits after the dot of the restaurant's money.
    #[serde(default = "default_scale")]
    pub currency_scale: u32,
    /// UTC offset `paidAt` is written in, e.g. `+03:00` (the instant is the same either way).
    #[serde(default = "default_offset")]
    pub utc_offset: String,
    /// r_k Delivery `restaurantId`: `ListBills` shows only this restaurant's orders (the
    /// token may see several restaurants of the corporation).
    #[serde(default)]
    pub restaurant_guid: Option<String>,
    /// Whether `ListBills` searches orders (`GET /orders?...`); off: an empty list with a
    /// failure saying so.
    #[serde(default = "yes")]
    pub list_bills: bool,
    /// How far back `ListBills` searches (`fromDate`).
    #[serde(default = "default_lookback")]
    pub list_lookback_hours: u32,
    /// HTTP timeout of reads and of the token request.
    #[serde(default = "default_read_timeout")]
    pub read_timeout_ms: u64,
    /// HTTP timeout of `/pay` and `/complete`: they wait for White Server and r_keeper
    /// (120 s by default there, at most 180 s), so this is longer.
    #[serde(default = "default_write_timeout")]
    pub write_timeout_ms: u64,
    /// After `/pay` went unanswered, how long beyond `write_timeout_ms` r_k Delivery and
    /// White Server may still apply it: `Describe.reconcile_settle_ms` is their sum.
    #[serde(default = "default_settle_margin")]
    pub settle_margin_ms: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50062))
}
fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}
fn default_scopes() -> String {
    "orders".into()
}
fn default_scale() -> u32 {
    2
}
fn default_offset() -> String {
    "+00:00".into()
}
fn yes() -> bool {
    true
}
fn default_lookback() -> u32 {
    24
}
fn default_read_timeout() -> u64 {
    30_000
}
fn default_write_timeout() -> u64 {
    190_000
}
fn default_settle_margin() -> u64 {
    DEFAULT_SETTLE_MARGIN_MS
}

/// Whether `url` is r_k Delivery's production API host (`https://delivery.ucs.ru`, any case,
/// an optional trailing slash or the default port).
pub fn is_production_base_url(url: &str) -> bool {
    let (Ok(u), Ok(prod)) = (
        reqwest::Url::parse(url.trim()),
        reqwest::Url::parse(DEFAULT_BASE_URL),
    ) else {
        return false;
    };
    u.scheme() == prod.scheme()
        && u.host_str() == prod.host_str()
        && u.port_or_known_default() == prod.port_or_known_default()
        && u.path().trim_end_matches('/').is_empty()
        && u.query().is_none()
        && u.username().is_empty()
}

impl DeliveryRestaurant {
    /// A restaurant with the defaults, for tests and embedding; `auth_url` is `base_url` (the
    /// simulator serves the token endpoint next to the API).
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        currency_guid: impl Into<String>,
    ) -> Self {
        let base_url = base_url.into();
        DeliveryRestaurant {
            auth_url: base_url.clone(),
            base_url,
            ca_file: None,
            client_id: client_id.into(),
            client_secret: Secret::new(client_secret),
            client_secret_file: None,
            scopes: default_scopes(),
            currency_guid: currency_guid.into(),
            currency_name: String::new(),
            currency_scale: default_scale(),
            utc_offset: default_offset(),
            restaurant_guid: None,
            list_bills: true,
            list_lookback_hours: default_lookback(),
            read_timeout_ms: default_read_timeout(),
            write_timeout_ms: default_write_timeout(),
            settle_margin_ms: default_settle_margin(),
        }
    }

    /// Makes the restaurant ready to use: secret file read, `auth_url` derived where it may
    /// be, everything validated. Run by [`load_config`] and by the adapter.
    pub fn prepare(&mut self, id: &str) -> anyhow::Result<()> {
        self.resolve_secret()?;
        self.resolve_auth_url(id)?;
        self.validate(id)
    }

    /// An unset `auth_url` is derived only from the production `base_url`; any other
    /// `base_url` (a test server, a proxy) needs its auth server named.
    pub fn resolve_auth_url(&mut self, id: &str) -> anyhow::Result<()> {
        if !self.auth_url.trim().is_empty() {
            return Ok(());
        }
        if !is_production_base_url(&self.base_url) {
            bail!(
                "[delivery.restaurants.{id}] auth_url is required when base_url is not the r_k Delivery production host ({DEFAULT_BASE_URL}); base_url is {:?}",
                self.base_url.trim()
            );
        }
        self.auth_url = DEFAULT_AUTH_URL.into();
        Ok(())
    }

    /// How long after an unanswered `/pay` it may still be applied late.
    pub fn settle_ms(&self) -> u64 {
        self.write_timeout_ms.saturating_add(self.settle_margin_ms)
    }

    /// Fills `client_secret` from `client_secret_file` when only the file is given.
    pub fn resolve_secret(&mut self) -> anyhow::Result<()> {
        if self.client_secret.is_empty()
            && let Some(path) = &self.client_secret_file
        {
            let raw = std::fs::read_to_string(path)
                .with_context(|| format!("reading client_secret_file {}", path.display()))?;
            self.client_secret = Secret::new(raw.trim());
        }
        Ok(())
    }

    /// The parsed `utc_offset`.
    pub fn offset(&self) -> Option<UtcOffset> {
        parse_offset(&self.utc_offset)
    }

    /// Checks what can be checked without talking to r_k Delivery.
    pub fn validate(&self, id: &str) -> anyhow::Result<()> {
        for (name, url) in [("base_url", &self.base_url), ("auth_url", &self.auth_url)] {
            let url = url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("restaurant {id}: {name} must start with http:// or https://");
            }
        }
        if self.client_id.trim().is_empty() {
            bail!("restaurant {id}: client_id is required");
        }
        if self.client_secret.is_empty() {
            bail!("restaurant {id}: client_secret (or client_secret_file) is required");
        }
        if self.currency_guid.trim().is_empty() {
            bail!("restaurant {id}: currency_guid is required");
        }
        if self.currency_scale > MAX_CURRENCY_SCALE {
            bail!("restaurant {id}: currency_scale must be at most {MAX_CURRENCY_SCALE}");
        }
        if self.offset().is_none() {
            bail!(
                "restaurant {id}: utc_offset {:?} is not an offset like +03:00",
                self.utc_offset
            );
        }
        if self.read_timeout_ms == 0 || self.write_timeout_ms == 0 {
            bail!("restaurant {id}: read_timeout_ms and write_timeout_ms must be positive");
        }
        Ok(())
    }
}

/// Loads the adapter's configuration: the `[delivery]` section of the TOML file at `path`
/// (if any), then `POSGATE_DELIVERY__...` environment overrides, and the shared `[auth]`
/// section. Resolves `client_secret_file`s, derives `auth_url`s and validates.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<DeliveryAdapterConfig> {
    let mut cfg: DeliveryAdapterConfig = posgate_grpc::load_section(path, "delivery")?;
    for (id, r) in cfg.restaurants.iter_mut() {
        r.prepare(id)?;
    }
    cfg.auth = posgate_grpc::AuthConfig::load(path)?;
    Ok(cfg)
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
listen = "127.0.0.1:50061"

[delivery]
listen = "127.0.0.1:1234"

[delivery.restaurants.dl]
client_id = "cid"
client_secret = "inline-secret"
currency_guid = "16D72549-14D8-4F31-9E2A-0A833D4F5EED"

[delivery.restaurants.other]
base_url = "http://127.0.0.1:8090"
auth_url = "http://127.0.0.1:8090/connect/token"
client_id = "cid2"
client_secret_file = "secret"
currency_guid = "cur"
currency_scale = 3
utc_offset = "+03:00"
restaurant_guid = "r-guid"
list_bills = false
write_timeout_ms = 1000
"#,
            )?;
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, "127.0.0.1:1234".parse().unwrap());
            let dl = &cfg.restaurants["dl"];
            assert_eq!(dl.base_url, DEFAULT_BASE_URL);
            assert_eq!(dl.auth_url, DEFAULT_AUTH_URL);
            assert_eq!(dl.client_secret.expose(), "inline-secret");
            assert_eq!(dl.scopes, "orders");
            assert_eq!(dl.currency_scale, 2);
            assert_eq!(dl.offset(), Some(UtcOffset::UTC));
            assert!(dl.list_bills);
            assert_eq!(dl.write_timeout_ms, 190_000);
            let other = &cfg.restaurants["other"];
            assert_eq!(other.client_secret.expose(), "from-file");
            assert_eq!(other.currency_scale, 3);
            assert_eq!(other.restaurant_guid.as_deref(), Some("r-guid"));
            assert!(!other.list_bills);
            let dbg = format!("{cfg:?}");
            assert!(!dbg.contains("inline-secret") && !dbg.contains("from-file"));
            Ok(())
        });
    }

    #[test]
    fn env_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[delivery.restaurants.dl]
client_id = "cid"
client_secret = "file-secret"
currency_guid = "cur"
"#,
            )?;
            jail.set_env("POSGATE_DELIVERY__LISTEN", "0.0.0.0:7000");
            jail.set_env(
                "POSGATE_DELIVERY__RESTAURANTS__DL__CLIENT_SECRET",
                "env-secret",
            );
            jail.set_env("POSGATE_DELIVERY__RESTAURANTS__DL__UTC_OFFSET", "+05:00");
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, "0.0.0.0:7000".parse().unwrap());
            let dl = &cfg.restaurants["dl"];
            assert_eq!(dl.client_secret.expose(), "env-secret");
            assert_eq!(dl.utc_offset, "+05:00");
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
    fn auth_url_is_derived_only_from_the_production_base_url() {
        let mut r = DeliveryRestaurant::new(DEFAULT_BASE_URL, "id", "secret", "cur");
        r.auth_url = String::new();
        for prod in [
            "https://delivery.ucs.ru",
            " https://DELIVERY.ucs.ru/ ",
            "https://delivery.ucs.ru:443",
        ] {
            r.base_url = prod.into();
            r.auth_url = String::new();
            r.prepare("dl").unwrap();
            assert_eq!(r.auth_url, DEFAULT_AUTH_URL, "{prod}");
        }
        for other in [
            "http://127.0.0.1:8090",
            "http://delivery.ucs.ru",
            "https://delivery.ucs.ru:8443",
            "https://delivery.ucs.ru.example.com",
            "https://test.delivery.ucs.ru",
            "https://delivery.ucs.ru/proxy",
            "not a url",
        ] {
            r.base_url = other.into();
            r.auth_url = "  ".into();
            let e = r.prepare("dl").unwrap_err().to_string();
            assert!(
                e.starts_with("[delivery.restaurants.dl] auth_url is required when base_url is not the r_k Delivery production host"),
                "{other}: {e}"
            );
            assert!(r.auth_url.trim().is_empty(), "nothing implied for {other}");
        }
        // Named explicitly: kept as given, whatever base_url is.
        r.base_url = "http://127.0.0.1:8090".into();
        r.auth_url = "http://127.0.0.1:8091".into();
        r.prepare("dl").unwrap();
        assert_eq!(r.auth_url, "http://127.0.0.1:8091");
        r.base_url = DEFAULT_BASE_URL.into();
        r.prepare("dl").unwrap();
        assert_eq!(r.auth_url, "http://127.0.0.1:8091");
    }

    #[test]
    fn a_test_base_url_without_auth_url_refuses_to_start() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[delivery.restaurants.staging]
base_url = "https://delivery-test.example.com"
client_id = "cid"
client_secret = "s3cr3t-value"
currency_guid = "cur"
"#,
            )?;
            let e = load_config(Some(Path::new("posgate.toml")))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("[delivery.restaurants.staging] auth_url is required"),
                "{e}"
            );
            assert!(!e.contains("s3cr3t-value"));
            // Naming it from the environment is enough.
            jail.set_env(
                "POSGATE_DELIVERY__RESTAURANTS__STAGING__AUTH_URL",
                "https://auth-test.example.com",
            );
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                cfg.restaurants["staging"].auth_url,
                "https://auth-test.example.com"
            );
            Ok(())
        });
    }

    #[test]
    fn settle_is_the_write_timeout_plus_the_margin() {
        let mut r = DeliveryRestaurant::new("http://x", "id", "secret", "cur");
        assert_eq!(r.settle_ms(), 190_000 + DEFAULT_SETTLE_MARGIN_MS);
        r.write_timeout_ms = 800;
        r.settle_margin_ms = 200;
        assert_eq!(r.settle_ms(), 1_000);
    }

    #[test]
    fn validation() {
        let mut r = DeliveryRestaurant::new("ftp://x", "id", "secret", "cur");
        assert!(r.validate("a").is_err());
        r.base_url = "http://x".into();
        r.auth_url = "http://x".into();
        assert!(r.validate("a").is_ok());
        r.utc_offset = "Moscow".into();
        assert!(r.validate("a").is_err());
        r.utc_offset = "+03:00".into();
        r.client_secret = Secret::new("");
        assert!(r.validate("a").is_err());
        assert!(load_config(Some(Path::new("/nonexistent/posgate.toml"))).is_err());
    }
}
