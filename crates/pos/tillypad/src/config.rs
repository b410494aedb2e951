//! Configuration of the Tillypad adapter: where it listens and, per posgate restaurant id,
//! how to reach that restaurant's Tillypad XL web API and how to book money in it.
//!
//! Loaded by [`load_config`] from a TOML file (`[tillypad]` and
//! `[tillypad.restaurants.<id>]`) and then from environment variables
//! `POSGATE_TILLYPAD__<KEY>` (nested keys separated by `__`), e.g.
//! `POSGATE_TILLYPAD__LISTEN=0.0.0.0:50063` or
//! `POSGATE_TILLYPAD__RESTAURANTS__TP__DELETE_PRECHECKS=2`.
//!
//! The same [`TillypadRestaurant`] is also read from a restaurant's `PosConnection` (the
//! registry's settings, sent with every call): [`SETTINGS`] is the one table of the settings a
//! connection takes (what `Describe` reports), [`NOT_FROM_CONNECTION`] the struct's fields a
//! connection cannot set, and [`TillypadRestaurant::from_connection`] reads and checks them
//! exactly as the static configuration is checked.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

use crate::wire::{PointsField, is_guid};

/// Largest currency scale posgate handles.
pub const MAX_CURRENCY_SCALE: u32 = posgate_core::money::MAX_SCALE;

#[derive(Deserialize, Debug, Clone)]
pub struct TillypadAdapterConfig {
    /// gRPC listen address. Default `127.0.0.1:50063`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// posgate restaurant id → that restaurant's Tillypad settings.
    #[serde(default)]
    pub restaurants: BTreeMap<String, TillypadRestaurant>,
    /// Service-to-service tokens: the `[auth]` section, shared by every service.
    #[serde(skip)]
    pub auth: posgate_grpc::AuthConfig,
}

impl Default for TillypadAdapterConfig {
    fn default() -> Self {
        TillypadAdapterConfig {
            listen: default_listen(),
            restaurants: BTreeMap::new(),
            auth: Default::default(),
        }
    }
}

/// What `/pay-guest?delete-prechecks=N` does with the tab's bills (prechecks), as the vendor
/// documents it. Written as `0`, `1` or `2` (a number or a string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeletePrechecks {
    /// `0` "Не удалять" (don't delete): the points discount applies only to the part of the
    /// tab not yet sent to payment; items already in a precheck get no discount. If nothing
    /// is left outside prechecks, Tillypad answers «Счет уже передан в оплату».
    /// Tillypad's own default when the flag is absent.
    #[default]
    Keep,
    /// `1` "Удалить все пречеки" (delete all prechecks): the discount applies to the whole
    /// tab; if any precheck is «Оплачен» (paid), Tillypad answers that the tab is already paid.
    DeleteAll,
    /// `2` "Удалить неоплаченные пречеки" (delete unpaid prechecks): prechecks whose payment
    /// has not started are cancelled; the others are deleted if they have no receipts.
    DeleteUnpaid,
}

impl DeletePrechecks {
    pub fn as_u8(self) -> u8 {
        match self {
            DeletePrechecks::Keep => 0,
            DeletePrechecks::DeleteAll => 1,
            DeletePrechecks::DeleteUnpaid => 2,
        }
    }

    /// Parses `"0"`, `"1"` or `"2"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "0" => Some(DeletePrechecks::Keep),
            "1" => Some(DeletePrechecks::DeleteAll),
            "2" => Some(DeletePrechecks::DeleteUnpaid),
            _ => None,
        }
    }
}

impl fmt::Display for DeletePrechecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u8())
    }
}

impl<'de> Deserialize<'de> for DeletePrechecks {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Int(i) => i.to_string(),
            Raw::Str(s) => s,
        };
        DeletePrechecks::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("delete_prechecks must be 0, 1 or 2, not {text:?}"))
        })
    }
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TillypadRestaurant {
    /// Tillypad web API base URL: `http://<host>:8090` (on-prem) or a relay path such as
    /// `http://service.tillypad.ru:8059/tillypad-api/<Client>`; `/pay-guest` is appended.
    pub base_url: String,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for a POS server
    /// whose certificate comes from its own authority (on-premises servers often do).
    /// One of `ca_file` and `ca_pem`.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// The same bundle inline (PEM text): how a connection from the registry sends it.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Pay type GUID (`payType_ID`) payments are booked with unless the request names one.
    #[serde(default)]
    pub default_pay_type_id: Option<String>,
    /// With no pay type from the request or `default_pay_type_id`, send no `payType_ID` and
    /// let Tillypad use the tab's prepaid pay type (`gsdlv_pytp_ID_Prepaid`). When false
    /// (default), such a payment is refused before anything is sent.
    #[serde(default)]
    pub allow_prepaid_pay_type: bool,
    /// Points type GUID for `DiscountSum.type_ID`; when unset it is left out and Tillypad
    /// takes it from its module settings.
    #[serde(default)]
    pub default_points_type_id: Option<String>,
    /// Body key of the redeemed points: `"DiscountSum"` (default) or `"GuestDiscountPoints"`.
    #[serde(default)]
    pub points_field: PointsField,
    /// `delete-prechecks` mode unless the request overrides it (`pos_options.delete_prechecks`).
    #[serde(default)]
    pub delete_prechecks: DeletePrechecks,
    /// Digits after the dot of the restaurant's money.
    #[serde(default = "default_scale")]
    pub currency_scale: u32,
    /// TCP connect timeout. A connect that fails or times out means nothing was sent.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Whole-exchange timeout of one `/pay-guest` (more than `connect_timeout_ms`). Past it
    /// the outcome is unknown.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50063))
}
fn default_scale() -> u32 {
    2
}
fn default_connect_timeout() -> u64 {
    3_000
}
fn default_request_timeout() -> u64 {
    30_000
}

impl TillypadRestaurant {
    /// A restaurant with the defaults, for tests and embedding.
    pub fn new(base_url: impl Into<String>) -> Self {
        TillypadRestaurant {
            base_url: base_url.into(),
            ca_file: None,
            ca_pem: None,
            default_pay_type_id: None,
            allow_prepaid_pay_type: false,
            default_points_type_id: None,
            points_field: PointsField::default(),
            delete_prechecks: DeletePrechecks::default(),
            currency_scale: default_scale(),
            connect_timeout_ms: default_connect_timeout(),
            request_timeout_ms: default_request_timeout(),
        }
    }

    /// Builder: the default pay type.
    pub fn with_pay_type(mut self, id: impl Into<String>) -> Self {
        self.default_pay_type_id = Some(id.into());
        self
    }

    /// Checks what can be checked without talking to the POS (a `ca_file` is read later, by
    /// [`TillypadRestaurant::ca_bundle`]).
    pub fn validate(&self, id: &str) -> anyhow::Result<()> {
        self.check()
            .map_err(|e| anyhow::anyhow!("restaurant {id}: {e}"))
    }

    /// [`TillypadRestaurant::validate`], the error naming the setting.
    pub fn check(&self) -> Result<(), SettingError> {
        let url = self.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SettingError::new(
                "base_url",
                "must start with http:// or https://",
            ));
        }
        for (name, v) in [
            ("default_pay_type_id", &self.default_pay_type_id),
            ("default_points_type_id", &self.default_points_type_id),
        ] {
            if let Some(v) = v
                && !is_guid(v)
            {
                return Err(SettingError::new(
                    name,
                    format!("must be a GUID, not {v:?}"),
                ));
            }
        }
        if self.currency_scale > MAX_CURRENCY_SCALE {
            return Err(SettingError::new(
                "currency_scale",
                format!("must be at most {MAX_CURRENCY_SCALE}"),
            ));
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms <= self.connect_timeout_ms {
            // A connect that fails on its own timeout means "nothing sent"; one cut by the
            // whole-exchange timeout could not be told apart from a lost answer.
            return Err(SettingError::new(
                "connect_timeout_ms",
                "must be positive and less than request_timeout_ms",
            ));
        }
        match (&self.ca_file, &self.ca_pem) {
            (Some(_), Some(_)) => {
                return Err(SettingError::new(
                    "ca_pem",
                    "and ca_file are both set: give the bundle one way",
                ));
            }
            (None, Some(pem)) => {
                posgate_pos_kit::check_ca_pem(pem).map_err(|e| SettingError::new("ca_pem", e))?
            }
            _ => {}
        }
        Ok(())
    }

    /// The CA bundle to trust beside the public roots: `ca_pem`, or `ca_file` read now.
    pub fn ca_bundle(&self) -> Result<Option<String>, SettingError> {
        match (&self.ca_file, &self.ca_pem) {
            (Some(f), _) => posgate_pos_kit::read_ca_bundle(f)
                .map(Some)
                .map_err(|e| SettingError::new("ca_file", format!("cannot be used: {e}"))),
            (None, pem) => Ok(pem.clone()),
        }
    }

    /// The restaurant a connection describes: its settings read as the static section's
    /// (the same struct, the same checks), the currency scale from `connection.currency_scale`.
    /// Errors name the setting and never quote a value sent as a secret.
    pub fn from_connection(
        conn: &posgate_proto::v1::PosConnection,
    ) -> Result<TillypadRestaurant, String> {
        posgate_pos_kit::refuse_misplaced(conn, SETTINGS, NOT_FROM_CONNECTION)?;
        for (name, secret) in conn
            .settings
            .keys()
            .map(|k| (k, false))
            .chain(conn.secrets.keys().map(|k| (k, true)))
        {
            let key = name.to_ascii_lowercase();
            let Some(s) = SETTINGS.iter().find(|s| s.name == key) else {
                let known: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
                return Err(format!(
                    "setting {key:?} is unknown to Tillypad (accepted: {})",
                    known.join(", ")
                ));
            };
            if s.secret != secret {
                return Err(if secret {
                    format!("setting {key:?} is not a secret: send it in settings")
                } else {
                    format!("setting {key:?} is a secret: send it in secrets")
                });
            }
        }
        let mut r: TillypadRestaurant =
            posgate_pos_kit::read_settings(&conn.settings, &conn.secrets)?;
        r.currency_scale = conn.currency_scale;
        r.check().map_err(|e| {
            if e.setting == "currency_scale" {
                format!("currency_scale {}", e.why)
            } else {
                format!("setting {:?} {}", e.setting, e.why)
            }
        })?;
        Ok(r)
    }
}

/// A setting that is wrong, and why (the why never quotes a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub setting: &'static str,
    pub why: String,
}

impl SettingError {
    fn new(setting: &'static str, why: impl Into<String>) -> Self {
        SettingError {
            setting,
            why: why.into(),
        }
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.setting, self.why)
    }
}

pub use posgate_pos_kit::Setting;

const fn setting(name: &'static str, required: bool, description: &'static str) -> Setting {
    Setting {
        name,
        required,
        secret: false,
        description,
    }
}

/// The settings a Tillypad connection takes: every field of [`TillypadRestaurant`] but those
/// in [`NOT_FROM_CONNECTION`] (a test holds the two tables to the struct). Tillypad's
/// `/pay-guest` takes no credentials, so none is secret.
pub const SETTINGS: &[Setting] = &[
    setting(
        "base_url",
        true,
        "Tillypad web API base URL: http://<host>:8090 or a relay http://<host>:8059/tillypad-api/<Client>; /pay-guest is appended",
    ),
    setting(
        "ca_pem",
        false,
        "PEM bundle of certificate authorities trusted beside the public ones, for a POS server with its own CA",
    ),
    setting(
        "default_pay_type_id",
        false,
        "pay type GUID (payType_ID) payments are booked with unless the request names one",
    ),
    setting(
        "allow_prepaid_pay_type",
        false,
        "true: with no pay type, let Tillypad use the tab's prepaid pay type; false (default): refuse such a payment before sending",
    ),
    setting(
        "default_points_type_id",
        false,
        "points type GUID for DiscountSum.type_ID; unset: Tillypad's module setting",
    ),
    setting(
        "points_field",
        false,
        "body key of the redeemed points: DiscountSum (default) or GuestDiscountPoints",
    ),
    setting(
        "delete_prechecks",
        false,
        "delete-prechecks mode of a first posting: 0 keep (default), 1 delete all, 2 delete unpaid",
    ),
    setting(
        "connect_timeout_ms",
        false,
        "TCP connect timeout in ms (default 3000)",
    ),
    setting(
        "request_timeout_ms",
        false,
        "whole /pay-guest exchange timeout in ms, more than connect_timeout_ms (default 30000)",
    ),
];

/// Fields of [`TillypadRestaurant`] a connection cannot set, and why.
pub const NOT_FROM_CONNECTION: &[(&str, &str)] = &[
    (
        "ca_file",
        "a file on the adapter's host; a connection sends the bundle inline as ca_pem",
    ),
    ("currency_scale", "it comes from connection.currency_scale"),
];

/// Loads the adapter's configuration: the `[tillypad]` section of the TOML file at `path` (if
/// any), then `POSGATE_TILLYPAD__...` environment overrides. Validates every restaurant.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<TillypadAdapterConfig> {
    let mut cfg: TillypadAdapterConfig = posgate_grpc::load_section(path, "tillypad")?;
    for (id, r) in &cfg.restaurants {
        r.validate(id)?;
    }
    cfg.auth = posgate_grpc::AuthConfig::load(path)?;
    Ok(cfg)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error.
mod tests {
    use super::*;

    const PAY: &str = "3E2A6F10-8C4B-4D7A-9B15-2F6C0D1A7E01";

    #[test]
    fn loads_toml_with_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                &format!(
                    r#"
[wsa]
listen = "127.0.0.1:50061"

[tillypad]
listen = "127.0.0.1:1234"

[tillypad.restaurants.tp]
base_url = "http://127.0.0.1:8090"
default_pay_type_id = "{PAY}"
delete_prechecks = 2

[tillypad.restaurants.relay]
base_url = "http://service.tillypad.ru:8059/tillypad-api/Client"
allow_prepaid_pay_type = true
delete_prechecks = "1"
points_field = "GuestDiscountPoints"
default_points_type_id = "60D367B5-15D2-D24D-8A74-A28F40C8CB9D"
currency_scale = 3
request_timeout_ms = 5000
"#
                ),
            )?;
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, "127.0.0.1:1234".parse().unwrap());
            let tp = &cfg.restaurants["tp"];
            assert_eq!(tp.default_pay_type_id.as_deref(), Some(PAY));
            assert_eq!(tp.delete_prechecks, DeletePrechecks::DeleteUnpaid);
            assert!(!tp.allow_prepaid_pay_type);
            assert_eq!(tp.points_field, PointsField::DiscountSum);
            assert_eq!(tp.currency_scale, 2);
            assert_eq!(tp.connect_timeout_ms, 3_000);
            assert_eq!(tp.request_timeout_ms, 30_000);
            let relay = &cfg.restaurants["relay"];
            assert!(relay.allow_prepaid_pay_type);
            assert_eq!(relay.delete_prechecks, DeletePrechecks::DeleteAll);
            assert_eq!(relay.points_field, PointsField::GuestDiscountPoints);
            assert_eq!(relay.currency_scale, 3);
            assert_eq!(relay.request_timeout_ms, 5_000);
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
    fn env_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[tillypad.restaurants.tp]
base_url = "http://127.0.0.1:8090"
"#,
            )?;
            jail.set_env("POSGATE_TILLYPAD__LISTEN", "0.0.0.0:7000");
            jail.set_env("POSGATE_TILLYPAD__RESTAURANTS__TP__DELETE_PRECHECKS", "2");
            jail.set_env(
                "POSGATE_TILLYPAD__RESTAURANTS__TP__DEFAULT_PAY_TYPE_ID",
                PAY,
            );
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(cfg.listen, "0.0.0.0:7000".parse().unwrap());
            let tp = &cfg.restaurants["tp"];
            assert_eq!(tp.delete_prechecks, DeletePrechecks::DeleteUnpaid);
            assert_eq!(tp.default_pay_type_id.as_deref(), Some(PAY));
            Ok(())
        });
    }

    #[test]
    fn rejects_bad_values() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                r#"
[tillypad.restaurants.tp]
base_url = "http://127.0.0.1:8090"
delete_prechecks = 3
"#,
            )?;
            let err = load_config(Some(Path::new("posgate.toml"))).unwrap_err();
            assert!(format!("{err:#}").contains("delete_prechecks"), "{err:#}");
            Ok(())
        });
        let mut r = TillypadRestaurant::new("ftp://x");
        assert!(r.validate("a").is_err());
        r.base_url = "http://x".into();
        assert!(r.validate("a").is_ok());
        r.default_pay_type_id = Some("card".into());
        assert!(r.validate("a").is_err());
        r.default_pay_type_id = Some(PAY.into());
        r.currency_scale = 9;
        assert!(r.validate("a").is_err());
        r.currency_scale = 2;
        r.request_timeout_ms = r.connect_timeout_ms;
        assert!(r.validate("a").is_err());
    }

    #[test]
    fn missing_file_is_an_error() {
        assert!(load_config(Some(Path::new("/nonexistent/posgate.toml"))).is_err());
    }

    /// The fields `TillypadRestaurant`'s derived `Deserialize` asks for, caught by a
    /// deserializer that only records them.
    fn struct_fields() -> Vec<&'static str> {
        use serde::de::{self, Visitor};
        struct Catch<'a>(&'a mut Vec<&'static str>);
        impl<'de> serde::Deserializer<'de> for Catch<'_> {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _name: &'static str,
                fields: &'static [&'static str],
                _v: V,
            ) -> Result<V::Value, Self::Error> {
                self.0.extend_from_slice(fields);
                Err(de::Error::custom("caught"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut fields = Vec::new();
        let _ = TillypadRestaurant::deserialize(Catch(&mut fields));
        fields
    }

    fn conn(
        settings: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) -> posgate_proto::v1::PosConnection {
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        posgate_proto::v1::PosConnection {
            settings: map(settings),
            secrets: map(secrets),
            currency_scale: 2,
            version: 1,
        }
    }

    /// A valid value, not the default, of every setting in the table.
    fn sample(name: &str, ca_pem: &str) -> String {
        match name {
            "base_url" => "https://10.0.0.5:8090".into(),
            "ca_pem" => ca_pem.into(),
            "default_pay_type_id" => PAY.into(),
            "allow_prepaid_pay_type" => "true".into(),
            "default_points_type_id" => "60D367B5-15D2-D24D-8A74-A28F40C8CB9D".into(),
            "points_field" => "GuestDiscountPoints".into(),
            "delete_prechecks" => "2".into(),
            "connect_timeout_ms" => "700".into(),
            "request_timeout_ms" => "9000".into(),
            other => panic!("no sample value for setting {other:?}: add one"),
        }
    }

    #[test]
    fn the_settings_table_matches_the_struct() {
        let mut fields = struct_fields();
        assert!(fields.contains(&"base_url"), "{fields:?}");
        let mut listed: Vec<&str> = SETTINGS
            .iter()
            .map(|s| s.name)
            .chain(NOT_FROM_CONNECTION.iter().map(|(n, _)| *n))
            .collect();
        fields.sort_unstable();
        listed.sort_unstable();
        let before = listed.len();
        listed.dedup();
        assert_eq!(before, listed.len(), "a name is listed twice");
        assert_eq!(
            fields, listed,
            "SETTINGS + NOT_FROM_CONNECTION = TillypadRestaurant's fields"
        );
        for s in SETTINGS {
            assert!(
                !s.description.is_empty() && !s.description.contains('\n'),
                "{s:?}"
            );
            assert!(!s.secret, "Tillypad takes no credentials: {s:?}");
        }

        let ca = posgate_sim::tls::TestCa::new();
        let with = |names: &[&str], extra: &[(&str, &str)]| {
            let mut c = conn(extra, &[]);
            for n in names {
                c.settings.insert(n.to_string(), sample(n, &ca.ca_pem));
            }
            TillypadRestaurant::from_connection(&c)
        };
        let required: Vec<&str> = SETTINGS
            .iter()
            .filter(|s| s.required)
            .map(|s| s.name)
            .collect();

        // Exactly the required settings build a restaurant with the defaults.
        let r = with(&required, &[]).unwrap();
        assert_eq!(r.delete_prechecks, DeletePrechecks::Keep);
        assert_eq!(r.connect_timeout_ms, 3_000);

        // A missing required one is named.
        for name in &required {
            let without: Vec<&str> = required.iter().copied().filter(|n| n != name).collect();
            let e = with(&without, &[]).unwrap_err();
            assert_eq!(e, format!("setting {name:?} is required"));
        }

        // Every optional one is accepted, and read (not ignored).
        for s in SETTINGS.iter().filter(|s| !s.required) {
            let mut names = required.clone();
            names.push(s.name);
            let r = with(&names, &[]).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            let default = with(&required, &[]).unwrap();
            assert_ne!(
                format!("{r:?}"),
                format!("{default:?}"),
                "{} was not read",
                s.name
            );
        }
        let all: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let r = with(&all, &[]).unwrap();
        assert_eq!(r.delete_prechecks, DeletePrechecks::DeleteUnpaid);
        assert_eq!(r.points_field, PointsField::GuestDiscountPoints);
        assert!(r.allow_prepaid_pay_type);
        assert_eq!(r.ca_bundle().unwrap().as_deref(), Some(ca.ca_pem.as_str()));

        // An unknown name, and the fields a connection cannot set, are refused by name.
        let e = with(&required, &[("object_id", "199990246")]).unwrap_err();
        assert!(
            e.starts_with("setting \"object_id\" is unknown to Tillypad"),
            "{e}"
        );
        for (name, _) in NOT_FROM_CONNECTION {
            let e = with(&required, &[(name, "3")]).unwrap_err();
            assert!(
                e.contains(&format!("setting {name:?} is not accepted")),
                "{e}"
            );
        }
    }

    #[test]
    fn a_connection_is_checked_like_the_static_section() {
        let base = ("base_url", "http://127.0.0.1:8090");
        let ok = TillypadRestaurant::from_connection(&conn(&[base], &[])).unwrap();
        assert_eq!(ok.currency_scale, 2, "from connection.currency_scale");
        let mut c = conn(&[base], &[]);
        c.currency_scale = 0;
        assert_eq!(
            TillypadRestaurant::from_connection(&c)
                .unwrap()
                .currency_scale,
            0
        );
        c.currency_scale = MAX_CURRENCY_SCALE + 1;
        let e = TillypadRestaurant::from_connection(&c).unwrap_err();
        assert!(e.starts_with("currency_scale must be at most"), "{e}");

        for (settings, named) in [
            (vec![("base_url", "ftp://x")], "base_url"),
            (
                vec![base, ("default_pay_type_id", "card")],
                "default_pay_type_id",
            ),
            (
                vec![base, ("default_points_type_id", "7")],
                "default_points_type_id",
            ),
            (vec![base, ("delete_prechecks", "7")], "delete_prechecks"),
            (vec![base, ("points_field", "Points")], "points_field"),
            (
                vec![base, ("allow_prepaid_pay_type", "yes please")],
                "allow_prepaid_pay_type",
            ),
            (
                vec![base, ("connect_timeout_ms", "-1")],
                "connect_timeout_ms",
            ),
            (
                vec![base, ("request_timeout_ms", "100")],
                "connect_timeout_ms",
            ),
            (vec![base, ("ca_pem", "not a certificate")], "ca_pem"),
            // PEM, but not a certificate the TLS stack takes.
            (
                vec![
                    base,
                    (
                        "ca_pem",
                        "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
                    ),
                ],
                "ca_pem",
            ),
        ] {
            let e = TillypadRestaurant::from_connection(&conn(&settings, &[])).unwrap_err();
            assert!(
                e.starts_with(&format!("setting {named:?}")),
                "{settings:?}: {e}"
            );
        }

        // Nothing of Tillypad's is a secret: a setting sent as one is refused, unquoted.
        let e = TillypadRestaurant::from_connection(&conn(
            &[],
            &[("base_url", "http://SECRET-host:8090")],
        ))
        .unwrap_err();
        assert!(e.contains("\"base_url\" is not a secret"), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        let e = TillypadRestaurant::from_connection(&conn(&[base], &[("token", "SECRET-1")]))
            .unwrap_err();
        assert!(e.contains("token") && !e.contains("SECRET-1"), "{e}");
    }

    #[test]
    fn the_static_section_takes_ca_pem_and_refuses_unknown_keys() {
        let ca = posgate_sim::tls::TestCa::new();
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "posgate.toml",
                &format!(
                    "[tillypad.restaurants.tp]\nbase_url = \"https://127.0.0.1:8090\"\nca_pem = '''\n{}'''\n",
                    ca.ca_pem
                ),
            )?;
            let cfg = load_config(Some(Path::new("posgate.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(
                cfg.restaurants["tp"].ca_bundle().unwrap().as_deref(),
                Some(ca.ca_pem.as_str())
            );
            jail.create_file(
                "typo.toml",
                "[tillypad.restaurants.tp]\nbase_url = \"http://127.0.0.1:8090\"\ndefault_paytype_id = \"x\"\n",
            )?;
            let err = load_config(Some(Path::new("typo.toml"))).unwrap_err();
            assert!(format!("{err:#}").contains("default_paytype_id"), "{err:#}");
            Ok(())
        });
        let mut r = TillypadRestaurant::new("https://x");
        r.ca_pem = Some(ca.ca_pem.clone());
        assert!(r.validate("a").is_ok());
        r.ca_file = Some("/etc/ssl/pos.pem".into());
        let e = r.validate("a").unwrap_err().to_string();
        assert!(e.contains("ca_pem and ca_file are both set"), "{e}");
        r.ca_pem = None;
        r.ca_file = Some("/nonexistent/pos.pem".into());
        assert_eq!(r.ca_bundle().unwrap_err().setting, "ca_file");
    }
}
