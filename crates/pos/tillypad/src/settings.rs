//! A Tillypad restaurant's settings, read from its connection (the registry's settings, sent
//! with every call): how to reach its Tillypad XL web API and how to book money in it.
//!
//! Why it exists: [`SETTINGS`] is the one table of what a connection takes (what `Describe`
//! reports; a test holds it to [`TillypadSettings`]), and [`TillypadSettings::from_connection`]
//! reads and checks a connection against it, every error naming the setting and never quoting
//! a value. Tillypad's `/pay-guest` takes no credentials, so no setting is a secret.

use std::fmt;

use posgate_pos_kit::{Setting, connection};
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
    #[serde(default = "posgate_pos_kit::connection::default_u64::<3_000>")]
    pub connect_timeout_ms: u64,
    /// Whole-exchange timeout of one `/pay-guest` (more than `connect_timeout_ms`). Past it
    /// the outcome is unknown.
    #[serde(default = "posgate_pos_kit::connection::default_u64::<30_000>")]
    pub request_timeout_ms: u64,
}

impl TillypadSettings {
    /// The settings a connection describes, checked. Errors name the setting (`setting
    /// "base_url" ...`) and never quote a value.
    pub fn from_connection(conn: &PosConnection) -> Result<TillypadSettings, String> {
        connection::refuse_unlisted(conn, SETTINGS, "Tillypad")?;
        let s: TillypadSettings = posgate_pos_kit::read_settings(&conn.settings, &conn.secrets)?;
        s.check()?;
        Ok(s)
    }

    /// What can be checked without talking to the POS; the error names the setting.
    fn check(&self) -> Result<(), String> {
        connection::check_url("base_url", &self.base_url)?;
        for (name, v) in [
            ("default_pay_type_id", &self.default_pay_type_id),
            ("default_points_type_id", &self.default_points_type_id),
        ] {
            if v.as_deref().is_some_and(|v| !is_guid(v)) {
                return Err(format!("setting {name:?} must be a GUID"));
            }
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms <= self.connect_timeout_ms {
            // A connect that fails on its own timeout means "nothing sent"; one cut by the
            // whole-exchange timeout could not be told apart from a lost answer.
            return Err(
                "setting \"connect_timeout_ms\" must be positive and less than request_timeout_ms"
                    .into(),
            );
        }
        connection::check_ca_setting(self.ca_pem.as_deref())
    }
}

/// The settings a Tillypad connection takes: exactly the fields of [`TillypadSettings`].
pub const SETTINGS: &[Setting] = &[
    Setting::new("base_url", "Tillypad web API base URL: http://<host>:8090 or a relay http://<host>:8059/tillypad-api/<Client>; /pay-guest is appended").required(),
    Setting::new("ca_pem", "PEM bundle of certificate authorities trusted beside the public ones, for a POS server with its own CA"),
    Setting::new("default_pay_type_id", "pay type GUID (payType_ID) payments are booked with unless the request names one"),
    Setting::new("allow_prepaid_pay_type", "true: with no pay type, let Tillypad use the tab's prepaid pay type; false (default): refuse such a payment before sending"),
    Setting::new("default_points_type_id", "points type GUID for DiscountSum.type_ID; unset: Tillypad's module setting"),
    Setting::new("points_field", "body key of the redeemed points: DiscountSum (default) or GuestDiscountPoints"),
    Setting::new("delete_prechecks", "delete-prechecks mode of a first posting: 0 keep (default), 1 delete all, 2 delete unpaid"),
    Setting::new("connect_timeout_ms", "TCP connect timeout in ms (default 3000)"),
    Setting::new("request_timeout_ms", "whole /pay-guest exchange timeout in ms, more than connect_timeout_ms (default 30000)"),
];
