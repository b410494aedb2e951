//! A restaurant's r_k Delivery settings, as its connection carries them: how to reach
//! r_k Delivery and its OAuth2 server, and how to book money in the restaurant's r_keeper.
//!
//! Why it exists: the payment service sends each restaurant's `PosConnection` (its registry
//! settings as text, the client secret among the secrets) with every call. [`SETTINGS`] is the
//! one table of what a connection carries (what `Describe` reports); [`NOT_IN_A_CONNECTION`]
//! names what the retired static sections had and a connection is refused with directions;
//! [`DeliverySettings::from_connection`] reads and checks them. Errors name the setting and
//! never quote a secret.

use posgate_core::Secret;
use posgate_pos_kit::Setting;
use posgate_proto::v1::PosConnection;
use serde::Deserialize;
use time::UtcOffset;

use crate::wire::parse_offset;

/// Production API host.
pub const DEFAULT_BASE_URL: &str = "https://delivery.ucs.ru";
/// Production OAuth2 host (`/connect/token` is appended); implied only for [`DEFAULT_BASE_URL`].
pub const DEFAULT_AUTH_URL: &str = "https://auth-delivery.ucs.ru";
/// Default `settle_margin_ms`.
pub const DEFAULT_SETTLE_MARGIN_MS: u64 = 30_000;

/// Every field of [`DeliverySettings`], once: what `Describe` reports and what a connection is
/// checked against. A test proves it names exactly the struct's fields.
pub const SETTINGS: &[Setting] = &[
    Setting::new(
        "base_url",
        "r_k Delivery API base URL (default https://delivery.ucs.ru)",
    ),
    Setting::new(
        "auth_url",
        "OAuth2 server (+ /connect/token); required unless base_url is the production host",
    ),
    Setting::new("client_id", "OAuth2 client id of the order source").required(),
    Setting::new("client_secret", "OAuth2 client secret of the order source")
        .required()
        .secret(),
    Setting::new("scopes", "OAuth2 scopes form field (default orders)"),
    Setting::new(
        "currency_guid",
        "r_keeper currency GUID the /pay lines are booked in",
    )
    .required(),
    Setting::new("currency_name", "name of the /pay lines (optional)"),
    Setting::new(
        "utc_offset",
        "UTC offset paidAt is written in, e.g. +03:00 (default +00:00)",
    ),
    Setting::new(
        "restaurant_guid",
        "r_k Delivery restaurantId: ListBills shows only its orders",
    ),
    Setting::new(
        "list_bills",
        "whether ListBills searches orders (true/false, default true)",
    ),
    Setting::new(
        "list_lookback_hours",
        "how far back ListBills searches (default 24)",
    ),
    Setting::new(
        "read_timeout_ms",
        "HTTP timeout of reads and the token request (default 30000)",
    ),
    Setting::new(
        "write_timeout_ms",
        "HTTP timeout of /pay and /complete (default 190000)",
    ),
    Setting::new(
        "settle_margin_ms",
        "how long past write_timeout_ms an unanswered /pay may still apply (default 30000)",
    ),
    Setting::new(
        "ca_pem",
        "PEM bundle of extra certificate authorities the r_k Delivery server's certificate may come from",
    ),
];

/// What the retired `[delivery.restaurants.<id>]` sections had that a connection does not
/// carry, and where it comes from instead.
pub const NOT_IN_A_CONNECTION: &[(&str, &str)] = &[
    (
        "client_secret_file",
        "a file on the adapter's host: a connection carries client_secret itself",
    ),
    (
        "ca_file",
        "a file on the adapter's host: a connection carries the bundle itself as ca_pem",
    ),
    (
        "currency_scale",
        "a connection carries it as its currency_scale",
    ),
];

/// One restaurant's r_k Delivery settings.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// API base URL; the adapter appends `/orders/api/v1/orders/...`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for a server
    /// whose certificate comes from its own authority.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// OAuth2 server; the adapter appends `/connect/token` unless the URL already ends so.
    /// Unset: [`DEFAULT_AUTH_URL`] when `base_url` is the production host, otherwise refused
    /// (the client secret never goes to a host nobody named).
    #[serde(default)]
    pub auth_url: String,
    /// OAuth2 client credentials of the order source.
    pub client_id: String,
    /// Never logged.
    #[serde(default)]
    pub client_secret: Secret,
    /// Sent as the `scopes` form field.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// r_keeper currency GUID that payments are booked in (`code` of the `/pay` lines).
    pub currency_guid: String,
    /// `name` of the `/pay` lines (optional in the API).
    #[serde(default)]
    pub currency_name: String,
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

fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}
fn default_scopes() -> String {
    "orders".into()
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

/// A setting that is wrong, and why; the value is never quoted (it may be a secret).
fn bad(name: &str, problem: impl std::fmt::Display) -> String {
    format!("setting {name:?} {problem}")
}

impl DeliverySettings {
    /// The settings a connection carries: misplaced ones refused by name, then read as text by
    /// [`SETTINGS`], `auth_url` derived where it may be, everything checked.
    pub fn from_connection(conn: &PosConnection) -> Result<Self, String> {
        posgate_pos_kit::refuse_misplaced(conn, SETTINGS, NOT_IN_A_CONNECTION)?;
        let mut s: DeliverySettings =
            posgate_pos_kit::read_settings(&conn.settings, &conn.secrets)?;
        s.derive_auth_url()?;
        s.check()?;
        Ok(s)
    }

    /// An unset `auth_url` is derived only from the production `base_url`; any other
    /// `base_url` (a test server, a proxy) needs its auth server named.
    fn derive_auth_url(&mut self) -> Result<(), String> {
        if !self.auth_url.trim().is_empty() {
            return Ok(());
        }
        if !is_production_base_url(&self.base_url) {
            return Err(bad(
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

    /// The parsed `utc_offset`.
    pub fn offset(&self) -> Option<UtcOffset> {
        parse_offset(&self.utc_offset)
    }

    /// Checks what can be checked without talking to r_k Delivery.
    fn check(&self) -> Result<(), String> {
        for (name, url) in [("base_url", &self.base_url), ("auth_url", &self.auth_url)] {
            let url = url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(name, "must start with http:// or https://"));
            }
        }
        let required = [
            ("client_id", self.client_id.trim().is_empty()),
            ("client_secret", self.client_secret.is_empty()),
            ("currency_guid", self.currency_guid.trim().is_empty()),
        ];
        if let Some((name, _)) = required.iter().find(|(_, empty)| *empty) {
            return Err(bad(name, "is required"));
        }
        if self.offset().is_none() {
            return Err(bad(
                "utc_offset",
                format!("{:?} is not an offset like +03:00", self.utc_offset),
            ));
        }
        for (name, ms) in [
            ("read_timeout_ms", self.read_timeout_ms),
            ("write_timeout_ms", self.write_timeout_ms),
        ] {
            if ms == 0 {
                return Err(bad(name, "must be positive"));
            }
        }
        if let Some(pem) = &self.ca_pem {
            posgate_pos_kit::check_ca_pem(pem).map_err(|e| bad("ca_pem", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of every optional setting, unlike its default, in table order (`ca_pem`: a
    /// real certificate is put in its place).
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

    fn with(extra: &[(&str, &str)]) -> Result<DeliverySettings, String> {
        let mut c = required_only();
        for (k, v) in extra {
            c.settings.insert(k.to_string(), v.to_string());
        }
        DeliverySettings::from_connection(&c)
    }

    #[test]
    fn the_settings_table_names_exactly_the_struct_fields() {
        let mut fields = posgate_pos_kit::field_names::<DeliverySettings>().to_vec();
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
        for (name, _) in NOT_IN_A_CONNECTION {
            assert!(!table.contains(name), "{name} is not a setting");
        }
    }

    #[test]
    fn a_connection_of_exactly_the_required_settings_is_a_restaurant() {
        let r = DeliverySettings::from_connection(&required_only()).unwrap();
        assert_eq!(r.client_id, "client_id-value");
        assert_eq!(r.client_secret.expose(), SECRET);
        assert_eq!(r.currency_guid, "currency_guid-value");
        // The defaults; the production auth server implied.
        assert_eq!(r.base_url, DEFAULT_BASE_URL);
        assert_eq!(r.auth_url, DEFAULT_AUTH_URL);
        assert_eq!(r.scopes, "orders");
        assert_eq!(r.offset(), Some(UtcOffset::UTC));
        assert!(r.list_bills);
        assert_eq!((r.read_timeout_ms, r.write_timeout_ms), (30_000, 190_000));
        assert!(!format!("{r:?}").contains(SECRET));
    }

    #[test]
    fn a_connection_missing_a_required_setting_is_refused_naming_it() {
        let required: Vec<&Setting> = SETTINGS.iter().filter(|s| s.required).collect();
        assert_eq!(required.len(), 3);
        for s in required {
            let mut c = required_only();
            c.settings.remove(s.name);
            c.secrets.remove(s.name);
            let e = DeliverySettings::from_connection(&c).unwrap_err();
            assert_eq!(e, format!("setting {:?} is required", s.name));
            // Present but blank is missing too.
            let mut c = required_only();
            if s.secret {
                c.secrets.insert(s.name.into(), String::new());
            } else {
                c.settings.insert(s.name.into(), "  ".into());
            }
            let e = DeliverySettings::from_connection(&c).unwrap_err();
            assert_eq!(e, format!("setting {:?} is required", s.name));
        }
    }

    #[test]
    fn every_optional_connection_setting_is_read() {
        let optional: Vec<&str> = SETTINGS
            .iter()
            .filter(|s| !s.required)
            .map(|s| s.name)
            .collect();
        let sampled: Vec<&str> = SAMPLES.iter().map(|(n, _)| *n).collect();
        assert_eq!(optional, sampled, "a sample for every optional setting");
        let plain = format!("{:?}", with(&[]).unwrap());
        for (name, value) in SAMPLES {
            let value = if *name == "ca_pem" {
                ca_pem_sample()
            } else {
                value.to_string()
            };
            let r = with(&[(name, &value)]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_ne!(format!("{r:?}"), plain, "{name} changed nothing");
        }
        // All together, names in any case (read like the environment's).
        let upper: Vec<(String, &str)> = SAMPLES
            .iter()
            .filter(|(n, _)| *n != "ca_pem")
            .map(|(n, v)| (n.to_ascii_uppercase(), *v))
            .collect();
        let upper: Vec<(&str, &str)> = upper.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let r = with(&upper).unwrap();
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
                "not accepted from a connection",
            ),
            (
                "client_secret_file",
                "/etc/shadow",
                true,
                "client_secret_file",
                "not accepted from a connection",
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
            let e = DeliverySettings::from_connection(&c).unwrap_err();
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
    fn auth_url_is_derived_only_from_the_production_base_url() {
        for prod in [
            "https://delivery.ucs.ru",
            " https://DELIVERY.ucs.ru/ ",
            "https://delivery.ucs.ru:443",
        ] {
            let r = with(&[("base_url", prod)]).unwrap();
            assert_eq!(r.auth_url, DEFAULT_AUTH_URL, "{prod}");
            let r = with(&[("base_url", prod), ("auth_url", "  ")]).unwrap();
            assert_eq!(r.auth_url, DEFAULT_AUTH_URL, "{prod}: blank is unset");
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
            let e = with(&[("base_url", other), ("auth_url", "  ")]).unwrap_err();
            assert!(
                e.starts_with("setting \"auth_url\" is required when base_url is not the r_k Delivery production host"),
                "{other}: {e}"
            );
        }
        let e = with(&[("base_url", "ftp://x"), ("auth_url", "http://a")]).unwrap_err();
        assert_eq!(
            e,
            "setting \"base_url\" must start with http:// or https://"
        );
        // Named explicitly: kept as given, whatever base_url is.
        for base in ["http://127.0.0.1:8090", DEFAULT_BASE_URL] {
            let r = with(&[("base_url", base), ("auth_url", "http://127.0.0.1:8091")]).unwrap();
            assert_eq!(r.auth_url, "http://127.0.0.1:8091");
        }
    }

    #[test]
    fn settle_is_the_write_timeout_plus_the_margin() {
        assert_eq!(
            with(&[]).unwrap().settle_ms(),
            190_000 + DEFAULT_SETTLE_MARGIN_MS
        );
        let r = with(&[("write_timeout_ms", "800"), ("settle_margin_ms", "200")]).unwrap();
        assert_eq!(r.settle_ms(), 1_000);
    }

    #[test]
    fn a_ca_bundle_is_checked_when_read() {
        let r = with(&[("ca_pem", &ca_pem_sample())]).unwrap();
        assert!(r.ca_pem.unwrap().contains("BEGIN CERTIFICATE"));
        let e = with(&[("ca_pem", "garbage")]).unwrap_err();
        assert!(
            e.contains("\"ca_pem\" holds no readable PEM certificate"),
            "{e}"
        );
    }
}
