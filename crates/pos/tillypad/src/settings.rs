//! A Tillypad restaurant's settings, read from its connection (the registry's settings, sent
//! with every call): how to reach its Tillypad XL web API and how to book money in it.
//!
//! Why it exists: [`SETTINGS`] is the one table of what a connection takes (what `Describe`
//! reports; a test holds it to [`TillypadSettings`]), and [`TillypadSettings::from_connection`]
//! reads and checks a connection against it, every error naming the setting and never quoting
//! a value. Tillypad's `/pay-guest` takes no credentials, so no setting is a secret.

use std::fmt;

use posgate_pos_kit::Setting;
use posgate_proto::v1::PosConnection;
use serde::Deserialize;

use crate::wire::{PointsField, is_guid};

/// What `/pay-guest?delete-prechecks=N` does with the tab's bills (prechecks), as the vendor
/// documents it. Written `"0"`, `"1"` or `"2"`.
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
        let text = String::deserialize(d)?;
        DeletePrechecks::parse(&text)
            .ok_or_else(|| serde::de::Error::custom("delete_prechecks must be 0, 1 or 2"))
    }
}

/// A restaurant's Tillypad settings: every field is a row of [`SETTINGS`].
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct TillypadSettings {
    /// Tillypad web API base URL: `http://<host>:8090` (on-prem) or a relay path such as
    /// `http://service.tillypad.ru:8059/tillypad-api/<Client>`; `/pay-guest` is appended.
    pub base_url: String,
    /// A PEM bundle of certificate authorities trusted beside the public ones, for a POS server
    /// whose certificate comes from its own authority (on-premises servers often do).
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
    /// `delete-prechecks` mode of a first posting unless the request overrides it
    /// (`pos_options.delete_prechecks`).
    #[serde(default)]
    pub delete_prechecks: DeletePrechecks,
    /// TCP connect timeout. A connect that fails or times out means nothing was sent.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Whole-exchange timeout of one `/pay-guest` (more than `connect_timeout_ms`). Past it
    /// the outcome is unknown.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

fn default_connect_timeout() -> u64 {
    3_000
}
fn default_request_timeout() -> u64 {
    30_000
}

impl TillypadSettings {
    /// The settings a connection describes, checked. Errors name the setting (`setting
    /// "base_url" ...`) and never quote a value.
    pub fn from_connection(conn: &PosConnection) -> Result<TillypadSettings, String> {
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
        let s: TillypadSettings = posgate_pos_kit::read_settings(&conn.settings, &conn.secrets)?;
        s.check()
            .map_err(|(name, why)| format!("setting {name:?} {why}"))?;
        Ok(s)
    }

    /// What can be checked without talking to the POS: the setting that is wrong, and why.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let url = self.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(("base_url", "must start with http:// or https://".into()));
        }
        for (name, v) in [
            ("default_pay_type_id", &self.default_pay_type_id),
            ("default_points_type_id", &self.default_points_type_id),
        ] {
            if v.as_deref().is_some_and(|v| !is_guid(v)) {
                return Err((name, "must be a GUID".into()));
            }
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms <= self.connect_timeout_ms {
            // A connect that fails on its own timeout means "nothing sent"; one cut by the
            // whole-exchange timeout could not be told apart from a lost answer.
            return Err((
                "connect_timeout_ms",
                "must be positive and less than request_timeout_ms".into(),
            ));
        }
        if let Some(pem) = &self.ca_pem {
            posgate_pos_kit::check_ca_pem(pem).map_err(|e| ("ca_pem", e))?;
        }
        Ok(())
    }
}

const fn setting(name: &'static str, required: bool, description: &'static str) -> Setting {
    Setting {
        name,
        required,
        secret: false,
        description,
    }
}

/// The settings a Tillypad connection takes: exactly the fields of [`TillypadSettings`].
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
