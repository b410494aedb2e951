//! Configuration of the r_k Delivery adapter: where it listens and, per posgate restaurant id,
//! how to reach r_k Delivery and book money in the restaurant's r_keeper.
//!
//! Loaded by [`load_config`] from a TOML file (`[delivery]` and
//! `[delivery.restaurants.<id>]`) and then from environment variables
//! `POSGATE_DELIVERY__<KEY>` (nested keys separated by `__`), e.g.
//! `POSGATE_DELIVERY__LISTEN=0.0.0.0:50062` or
//! `POSGATE_DELIVERY__RESTAURANTS__DL__CLIENT_SECRET=...`.
//!
//! A restaurant may instead come with each call as a `PosConnection` from the payment
//! service's registry ([`DeliveryRestaurant::from_connection`]): the same settings, named by
//! the one table [`SETTINGS`] (which `Describe` reports), read as text, then prepared and
//! validated exactly like a static section.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
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

/// Where a setting may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The static section and a connection (`PosConnection.secrets` when secret, otherwise
    /// `PosConnection.settings`).
    Anywhere,
    /// Only the static section: a connection naming it is refused with this reason.
    StaticOnly(&'static str),
}

/// One setting of [`DeliveryRestaurant`].
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    /// Required in a connection (serde has no default for it).
    pub required: bool,
    /// Sent in `PosConnection.secrets`, never in `settings`; never logged.
    pub secret: bool,
    pub source: Source,
    pub description: &'static str,
}

const fn setting(name: &'static str, description: &'static str) -> Setting {
    Setting {
        name,
        required: false,
        secret: false,
        source: Source::Anywhere,
        description,
    }
}

impl Setting {
    const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    const fn static_only(mut self, why: &'static str) -> Self {
        self.source = Source::StaticOnly(why);
        self
    }
}

/// Every field of [`DeliveryRestaurant`], once: what `Describe` reports as the connection
/// settings (the static-only ones left out) and what a connection is checked against. A test
/// proves it names exactly the struct's fields.
pub const SETTINGS: &[Setting] = &[
    setting(
        "base_url",
        "r_k Delivery API base URL (default https://delivery.ucs.ru)",
    ),
    setting(
        "auth_url",
        "OAuth2 server (+ /connect/token); required unless base_url is the production host",
    ),
    setting("client_id", "OAuth2 client id of the order source").required(),
    setting("client_secret", "OAuth2 client secret of the order source")
        .required()
        .secret(),
    setting(
        "client_secret_file",
        "file holding client_secret on the adapter's host",
    )
    .static_only("a file on the adapter's host: a connection carries client_secret itself"),
    setting("scopes", "OAuth2 scopes form field (default orders)"),
    setting(
        "currency_guid",
        "r_keeper currency GUID the /pay lines are booked in",
    )
    .required(),
    setting("currency_name", "name of the /pay lines (optional)"),
    setting(
        "currency_scale",
        "digits after the dot of the restaurant's money",
    )
    .static_only("a connection carries it as its currency_scale"),
    setting(
        "utc_offset",
        "UTC offset paidAt is written in, e.g. +03:00 (default +00:00)",
    ),
    setting(
        "restaurant_guid",
        "r_k Delivery restaurantId: ListBills shows only its orders",
    ),
    setting(
        "list_bills",
        "whether ListBills searches orders (true/false, default true)",
    ),
    setting(
        "list_lookback_hours",
        "how far back ListBills searches (default 24)",
    ),
    setting(
        "read_timeout_ms",
        "HTTP timeout of reads and the token request (default 30000)",
    ),
    setting(
        "write_timeout_ms",
        "HTTP timeout of /pay and /complete (default 190000)",
    ),
    setting(
        "settle_margin_ms",
        "how long past write_timeout_ms an unanswered /pay may still apply (default 30000)",
    ),
    setting(
        "ca_file",
        "PEM bundle of extra certificate authorities, as a file on the adapter's host",
    )
    .static_only("a file on the adapter's host: a connection carries the bundle itself as ca_pem"),
    setting(
        "ca_pem",
        "PEM bundle of extra certificate authorities, inline (instead of ca_file)",
    ),
];

/// The [`SETTINGS`] entry of `name` (any case, as connections are read).
pub fn setting_named(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// A setting that is wrong and why; the value is never quoted (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSetting {
    pub name: &'static str,
    pub problem: String,
}

impl BadSetting {
    fn new(name: &'static str, problem: impl Into<String>) -> Self {
        BadSetting {
            name,
            problem: problem.into(),
        }
    }

    /// How a connection's error reads: `setting "client_id" is required`.
    pub fn in_connection(&self) -> String {
        format!("setting {:?} {}", self.name, self.problem)
    }
}

impl std::fmt::Display for BadSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.name, self.problem)
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRestaurant {
    /// API base URL; the adapter appends `/orders/api/v1/orders/...`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for a POS server
    /// whose certificate comes from its own authority (on-premises servers often do).
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// The same bundle inline (a connection from the registry carries it so); one of the two.
    #[serde(default)]
    pub ca_pem: Option<String>,
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
            ca_pem: None,
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

    /// A restaurant from a connection the payment service sent: its settings and secrets
    /// read by [`SETTINGS`], the currency scale the connection's, then prepared and validated
    /// like a static section. Errors name the setting and never quote a value.
    pub fn from_connection(conn: &posgate_proto::v1::PosConnection) -> Result<Self, String> {
        for (name, is_secret) in conn
            .settings
            .keys()
            .map(|k| (k, false))
            .chain(conn.secrets.keys().map(|k| (k, true)))
        {
            let Some(s) = setting_named(name) else {
                continue; // refused by name when read (deny_unknown_fields)
            };
            if let Source::StaticOnly(why) = s.source {
                return Err(BadSetting::new(
                    s.name,
                    format!("is not taken from a connection: {why}"),
                )
                .in_connection());
            }
            if s.secret && !is_secret {
                return Err(BadSetting::new(
                    s.name,
                    "is a secret: it goes in the connection's secrets, not its plain settings",
                )
                .in_connection());
            }
        }
        let mut r: DeliveryRestaurant =
            posgate_pos_kit::read_settings(&conn.settings, &conn.secrets)?;
        r.currency_scale = conn.currency_scale;
        r.derive_auth_url()
            .and_then(|()| r.check())
            .map_err(|b| b.in_connection())?;
        Ok(r)
    }

    /// An unset `auth_url` is derived only from the production `base_url`; any other
    /// `base_url` (a test server, a proxy) needs its auth server named.
    pub fn resolve_auth_url(&mut self, id: &str) -> anyhow::Result<()> {
        self.derive_auth_url()
            .map_err(|b| anyhow::anyhow!("[delivery.restaurants.{id}] {b}"))
    }

    fn derive_auth_url(&mut self) -> Result<(), BadSetting> {
        if !self.auth_url.trim().is_empty() {
            return Ok(());
        }
        if !is_production_base_url(&self.base_url) {
            return Err(BadSetting::new(
                "auth_url",
                format!(
                    "is required when base_url is not the r_k Delivery production host ({DEFAULT_BASE_URL}); base_url is {:?}",
                    self.base_url.trim()
                ),
            ));
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
        self.check()
            .map_err(|b| anyhow::anyhow!("restaurant {id}: {b}"))
    }

    /// The CA bundle to trust beside the public roots: `ca_pem`, or `ca_file` read.
    pub fn ca_bundle(&self) -> Result<Option<String>, BadSetting> {
        match (&self.ca_pem, &self.ca_file) {
            (Some(pem), _) => Ok(Some(pem.clone())),
            (None, Some(f)) => posgate_pos_kit::read_ca_bundle(f)
                .map(Some)
                .map_err(|e| BadSetting::new("ca_file", format!("cannot be used: {e}"))),
            (None, None) => Ok(None),
        }
    }

    fn check(&self) -> Result<(), BadSetting> {
        for (name, url) in [("base_url", &self.base_url), ("auth_url", &self.auth_url)] {
            let url = url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(BadSetting::new(name, "must start with http:// or https://"));
            }
        }
        let required = [
            ("client_id", self.client_id.trim().is_empty()),
            ("client_secret", self.client_secret.is_empty()),
            ("currency_guid", self.currency_guid.trim().is_empty()),
        ];
        if let Some((name, _)) = required.iter().find(|(_, empty)| *empty) {
            return Err(BadSetting::new(name, "is required"));
        }
        if self.currency_scale > MAX_CURRENCY_SCALE {
            return Err(BadSetting::new(
                "currency_scale",
                format!("must be at most {MAX_CURRENCY_SCALE}"),
            ));
        }
        if self.offset().is_none() {
            return Err(BadSetting::new(
                "utc_offset",
                format!("{:?} is not an offset like +03:00", self.utc_offset),
            ));
        }
        for (name, ms) in [
            ("read_timeout_ms", self.read_timeout_ms),
            ("write_timeout_ms", self.write_timeout_ms),
        ] {
            if ms == 0 {
                return Err(BadSetting::new(name, "must be positive"));
            }
        }
        match &self.ca_pem {
            Some(_) if self.ca_file.is_some() => {
                return Err(BadSetting::new(
                    "ca_pem",
                    "and ca_file are both given: give one",
                ));
            }
            Some(pem) => {
                posgate_pos_kit::check_ca_pem(pem).map_err(|e| BadSetting::new("ca_pem", e))?
            }
            None => {}
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

    /// The field names serde knows for a struct (its derive passes them to
    /// `deserialize_struct`): the struct as the settings table must name it.
    fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
        use serde::de::{Error, Visitor, value};
        struct Fields(std::cell::Cell<&'static [&'static str]>);
        impl<'de> serde::Deserializer<'de> for &Fields {
            type Error = value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, value::Error> {
                Err(value::Error::custom("only a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, value::Error> {
                self.0.set(fields);
                Err(value::Error::custom("fields taken"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let f = Fields(std::cell::Cell::new(&[]));
        let _ = T::deserialize(&f);
        f.0.get()
    }

    use posgate_proto::v1::PosConnection;

    /// A value of every optional connection setting, unlike its default, in table order
    /// (`ca_pem`: a real certificate is put in its place).
    const SAMPLES: &[(&str, &str)] = &[
        ("base_url", "https://DELIVERY.ucs.ru/"),
        ("auth_url", "http://127.0.0.1:8091"),
        ("scopes", "orders menu"),
        ("currency_name", "Online"),
        ("utc_offset", "+03:00"),
        ("restaurant_guid", "8a3c1f6e-52d4-4b8e-9c71-0e2f4d5a6b70"),
        ("list_bills", "false"),
        ("list_lookback_hours", "6"),
        ("read_timeout_ms", "1500"),
        ("write_timeout_ms", "2500"),
        ("settle_margin_ms", "700"),
        ("ca_pem", ""),
    ];

    /// A real CA certificate (PEM) for the `ca_pem` setting.
    fn ca_pem_sample() -> String {
        posgate_sim::tls::TestCa::new().ca_pem
    }

    const SECRET: &str = "s3cr3t-Client-Value";

    /// The required settings only: a secret in `secrets`, the rest in `settings`.
    fn required_only() -> PosConnection {
        let mut c = PosConnection {
            currency_scale: 2,
            version: 1,
            ..Default::default()
        };
        for s in SETTINGS.iter().filter(|s| s.required) {
            if s.secret {
                c.secrets.insert(s.name.into(), SECRET.into());
            } else {
                c.settings
                    .insert(s.name.into(), format!("{}-value", s.name));
            }
        }
        c
    }

    #[test]
    fn the_settings_table_names_exactly_the_struct_fields() {
        let mut fields: Vec<&str> = struct_fields::<DeliveryRestaurant>().to_vec();
        let mut table: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        assert!(fields.len() > 10, "{fields:?}");
        fields.sort_unstable();
        table.sort_unstable();
        let listed = table.len();
        table.dedup();
        assert_eq!(listed, table.len(), "a setting listed twice");
        assert_eq!(fields, table);
        for s in SETTINGS {
            assert!(
                !s.description.is_empty() && !s.description.contains('\n'),
                "{}: one line",
                s.name
            );
        }
    }

    #[test]
    fn a_connection_of_exactly_the_required_settings_is_a_restaurant() {
        let r = DeliveryRestaurant::from_connection(&required_only()).unwrap();
        assert_eq!(r.client_id, "client_id-value");
        assert_eq!(r.client_secret.expose(), SECRET);
        assert_eq!(r.currency_guid, "currency_guid-value");
        // Defaults as a static section has them; the production auth server implied.
        assert_eq!(r.base_url, DEFAULT_BASE_URL);
        assert_eq!(r.auth_url, DEFAULT_AUTH_URL);
        assert!(r.list_bills);
        // The scale is the connection's.
        let mut c = required_only();
        c.currency_scale = 3;
        let r = DeliveryRestaurant::from_connection(&c).unwrap();
        assert_eq!(r.currency_scale, 3);
        c.currency_scale = MAX_CURRENCY_SCALE + 1;
        let e = DeliveryRestaurant::from_connection(&c).unwrap_err();
        assert!(e.starts_with("setting \"currency_scale\""), "{e}");
    }

    #[test]
    fn a_connection_missing_a_required_setting_is_refused_naming_it() {
        let required: Vec<&Setting> = SETTINGS.iter().filter(|s| s.required).collect();
        assert_eq!(required.len(), 3);
        for s in required {
            let mut c = required_only();
            c.settings.remove(s.name);
            c.secrets.remove(s.name);
            let e = DeliveryRestaurant::from_connection(&c).unwrap_err();
            assert_eq!(e, format!("setting {:?} is required", s.name));
            // Present but blank is missing too.
            let mut c = required_only();
            if s.secret {
                c.secrets.insert(s.name.into(), String::new());
            } else {
                c.settings.insert(s.name.into(), "  ".into());
            }
            let e = DeliveryRestaurant::from_connection(&c).unwrap_err();
            assert_eq!(e, format!("setting {:?} is required", s.name));
        }
    }

    #[test]
    fn every_optional_connection_setting_is_read() {
        let optional: Vec<&str> = SETTINGS
            .iter()
            .filter(|s| !s.required && s.source == Source::Anywhere)
            .map(|s| s.name)
            .collect();
        let sampled: Vec<&str> = SAMPLES.iter().map(|(n, _)| *n).collect();
        assert_eq!(optional, sampled, "a sample for every optional setting");
        let plain = format!(
            "{:?}",
            DeliveryRestaurant::from_connection(&required_only()).unwrap()
        );
        for (name, value) in SAMPLES {
            let value = if *name == "ca_pem" {
                ca_pem_sample()
            } else {
                value.to_string()
            };
            let mut c = required_only();
            c.settings.insert(name.to_string(), value);
            let r =
                DeliveryRestaurant::from_connection(&c).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_ne!(format!("{r:?}"), plain, "{name} changed nothing");
        }
        // All together, names in any case (read like the environment's).
        let mut c = required_only();
        for (name, value) in SAMPLES.iter().filter(|(n, _)| *n != "ca_pem") {
            c.settings
                .insert(name.to_ascii_uppercase(), value.to_string());
        }
        let r = DeliveryRestaurant::from_connection(&c).unwrap();
        assert_eq!(r.auth_url, "http://127.0.0.1:8091");
        assert_eq!(r.offset(), parse_offset("+03:00"));
        assert!(!r.list_bills);
        assert_eq!((r.read_timeout_ms, r.write_timeout_ms), (1500, 2500));
        assert_eq!(r.settle_ms(), 3200);
    }

    #[test]
    fn a_connection_never_names_a_file_an_unknown_setting_or_a_secret_in_the_open() {
        // name, value, sent as a secret, the setting the error names, what it says.
        let refused = [
            (
                "client_secret_file",
                "/etc/shadow",
                false,
                "client_secret_file",
                "not taken from a connection",
            ),
            (
                "client_secret_file",
                "/etc/shadow",
                true,
                "client_secret_file",
                "not taken from a connection",
            ),
            ("ca_file", "/etc/ssl/ca.pem", false, "ca_file", "ca_pem"),
            (
                "currency_scale",
                "3",
                false,
                "currency_scale",
                "its currency_scale",
            ),
            ("colour", "red", false, "colour", "unknown"),
            ("client_secret", SECRET, false, "client_secret", "secrets"),
            ("CLIENT_SECRET", SECRET, false, "client_secret", "secrets"),
            (
                "read_timeout_ms",
                "SECRET-abc",
                false,
                "read_timeout_ms",
                "cannot read",
            ),
            (
                "list_bills",
                "SECRET-abc",
                false,
                "list_bills",
                "cannot read",
            ),
            ("utc_offset", "Moscow", false, "utc_offset", "+03:00"),
            ("auth_url", "ftp://x", false, "auth_url", "http://"),
            (
                "base_url",
                "http://127.0.0.1:8090",
                false,
                "auth_url",
                "is required when base_url",
            ),
            (
                "write_timeout_ms",
                "0",
                false,
                "write_timeout_ms",
                "positive",
            ),
            (
                "ca_pem",
                "not a certificate SECRET-abc",
                false,
                "ca_pem",
                "PEM",
            ),
            // PEM, but not a certificate the TLS stack takes.
            (
                "ca_pem",
                "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
                false,
                "ca_pem",
                "cannot be trusted",
            ),
        ];
        for (name, value, secret, names, says) in refused {
            let mut c = required_only();
            if secret {
                c.secrets.insert(name.into(), value.into());
            } else {
                if name.eq_ignore_ascii_case("client_secret") {
                    c.secrets.clear();
                }
                c.settings.insert(name.into(), value.into());
            }
            let e = DeliveryRestaurant::from_connection(&c).unwrap_err();
            assert!(
                e.contains(&format!("\"{names}\"")) || e.contains(&format!("`{names}`")),
                "{name}: {e}"
            );
            assert!(e.contains(says), "{name}: {e}");
            assert!(
                !e.contains(SECRET) && !e.contains("SECRET-abc"),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn a_static_section_refuses_an_unknown_key_and_takes_ca_pem() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[delivery.restaurants.dl]
client_id = "cid"
client_secert = "typo"
client_secret = "s"
currency_guid = "cur"
"#,
            )?;
            let e = load_config(Some(Path::new("posgate.toml")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("client_secert"), "{e}");
            jail.create_file(
                "posgate.toml",
                &format!(
                    r#"
[delivery.restaurants.dl]
client_id = "cid"
client_secret = "s"
currency_guid = "cur"
ca_pem = """
{}"""
"#,
                    ca_pem_sample()
                ),
            )?;
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            let pem = cfg.restaurants["dl"].ca_bundle().unwrap().unwrap();
            assert!(pem.contains("BEGIN CERTIFICATE"));
            Ok(())
        });
    }

    #[test]
    fn ca_pem_and_ca_file_are_one_of_the_two() {
        let mut r = DeliveryRestaurant::new("http://x", "id", "secret", "cur");
        r.ca_pem = Some(ca_pem_sample());
        assert!(r.validate("a").is_ok());
        r.ca_file = Some("/tmp/ca.pem".into());
        let e = r.validate("a").unwrap_err().to_string();
        assert!(e.contains("ca_pem and ca_file are both given"), "{e}");
        r.ca_pem = Some("garbage".into());
        r.ca_file = None;
        let e = r.validate("a").unwrap_err().to_string();
        assert!(
            e.contains("ca_pem holds no readable PEM certificate"),
            "{e}"
        );
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
