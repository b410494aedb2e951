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
use posgate_pos_kit::connection::Check::{self, Positive, Required, Wrong};
use posgate_pos_kit::connection::{self, bad};
use posgate_proto::v1::PosConnection;
use serde::Deserialize;
use time::UtcOffset;

use posgate_pos_kit::clock::parse_offset;

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
    #[serde(default = "posgate_pos_kit::connection::yes")]
    pub list_bills: bool,
    /// How far back `ListBills` searches (`fromDate`).
    #[serde(default = "posgate_pos_kit::connection::default_u32::<24>")]
    pub list_lookback_hours: u32,
    /// HTTP timeout of reads and of the token request.
    #[serde(default = "posgate_pos_kit::connection::default_u64::<30_000>")]
    pub read_timeout_ms: u64,
    /// HTTP timeout of `/pay` and `/complete`: they wait for White Server and r_keeper
    /// (120 s by default there, at most 180 s), so this is longer.
    #[serde(default = "posgate_pos_kit::connection::default_u64::<190_000>")]
    pub write_timeout_ms: u64,
    /// After `/pay` went unanswered, how long beyond `write_timeout_ms` r_k Delivery and
    /// White Server may still apply it: `Describe.reconcile_settle_ms` is their sum.
    #[serde(default = "posgate_pos_kit::connection::default_u64::<DEFAULT_SETTLE_MARGIN_MS>")]
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

/// What [`DeliverySettings::from_connection`] checks after reading (and the URLs), in order.
const CHECKS: &[Check<DeliverySettings>] = &[
    Required("client_id", |s| &s.client_id),
    Wrong(
        "client_secret",
        |s| s.client_secret.is_empty(),
        "is required",
    ),
    Required("currency_guid", |s| &s.currency_guid),
    Wrong(
        "utc_offset",
        |s| s.offset().is_none(),
        "is not an offset like +03:00",
    ),
    Positive("read_timeout_ms", |s| s.read_timeout_ms),
    Positive("write_timeout_ms", |s| s.write_timeout_ms),
];

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
        // The production API host: any case, an optional trailing slash or the default port.
        if !connection::is_root_of(&self.base_url, DEFAULT_BASE_URL) {
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
        connection::check_url("base_url", &self.base_url)?;
        connection::check_url("auth_url", &self.auth_url)?;
        connection::check_all(self, CHECKS)?;
        connection::check_ca_setting(self.ca_pem.as_deref())
    }
}
