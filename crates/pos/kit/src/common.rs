//! Connection settings every POS kind accepts, declared once here and read by the kit before a
//! connection reaches its connector: `trace_headers`.
//!
//! Why it exists: some settings are about how posgate talks HTTP, not about a POS — whether the
//! W3C `traceparent` goes out with each request, for one. Declared in each connector they would
//! be written three times and drift; here the kit lists them after the connector's own in
//! `Describe.settings`, takes them out of the connection ([`split_common`]) so a connector never
//! sees a name it does not know, and applies them around every call to the connector
//! ([`crate::http::PosCall`]).

use std::collections::HashMap;

use posgate_proto::v1::PosConnection;
use serde::Deserialize;

use crate::connection::{Setting, read_settings};

/// The settings of [`CommonSettings`], one row per field.
#[rustfmt::skip]
pub const COMMON_SETTINGS: &[Setting] = &[
    Setting::new("trace_headers", "send the W3C traceparent header with each HTTP request to the POS: true (default) or false, for a POS server that refuses headers it does not know"),
];

/// What every restaurant's connection may say, whatever its POS.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CommonSettings {
    /// Send `traceparent` (and `tracestate`) with each HTTP request to the POS, so its calls
    /// join the payment's trace. On by default.
    #[serde(default = "yes")]
    pub trace_headers: bool,
}

fn yes() -> bool {
    true
}

impl Default for CommonSettings {
    fn default() -> Self {
        CommonSettings {
            trace_headers: true,
        }
    }
}

/// Whether `name` is one of [`COMMON_SETTINGS`] (in any case, as settings are read).
fn is_common(name: &str) -> bool {
    COMMON_SETTINGS
        .iter()
        .any(|s| s.name.eq_ignore_ascii_case(name))
}

/// The common settings of `conn`, and the connection without them for the connector. A common
/// setting sent as a secret is refused by name; a value is never quoted.
pub fn split_common(conn: &PosConnection) -> Result<(CommonSettings, PosConnection), String> {
    if let Some(k) = conn.secrets.keys().find(|k| is_common(k)) {
        return Err(format!(
            "setting {:?} is not a secret: send it in connection.settings",
            k.to_ascii_lowercase()
        ));
    }
    let (common, own): (HashMap<_, _>, HashMap<_, _>) = conn
        .settings
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| is_common(k));
    let settings = read_settings(&common, &HashMap::new())?;
    Ok((
        settings,
        PosConnection {
            settings: own,
            ..conn.clone()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(settings: &[(&str, &str)], secrets: &[(&str, &str)]) -> PosConnection {
        let map = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        PosConnection {
            settings: map(settings),
            secrets: map(secrets),
            currency_scale: 2,
            version: 7,
        }
    }

    #[test]
    fn the_table_is_the_structs_fields() {
        let names: Vec<&str> = COMMON_SETTINGS.iter().map(|s| s.name).collect();
        assert_eq!(names, crate::field_names::<CommonSettings>());
        assert!(COMMON_SETTINGS.iter().all(|s| !s.required && !s.secret));
    }

    #[test]
    fn common_settings_are_taken_out_and_the_rest_is_left_to_the_connector() {
        let c = conn(
            &[("base_url", "http://pos"), ("TRACE_HEADERS", "false")],
            &[("token", "SECRET-1")],
        );
        let (common, own) = split_common(&c).unwrap();
        assert!(!common.trace_headers);
        assert_eq!(own.settings.len(), 1);
        assert_eq!(own.settings["base_url"], "http://pos");
        assert_eq!(own.secrets["token"], "SECRET-1");
        assert_eq!((own.currency_scale, own.version), (2, 7));

        let (common, own) = split_common(&conn(&[("base_url", "u")], &[])).unwrap();
        assert_eq!(common, CommonSettings::default());
        assert!(common.trace_headers, "sent unless a restaurant says not");
        assert_eq!(own.settings.len(), 1);
    }

    #[test]
    fn a_bad_common_setting_is_refused_by_name_without_its_value() {
        let e = split_common(&conn(&[("trace_headers", "SECRET-maybe")], &[])).unwrap_err();
        assert!(e.starts_with("setting \"trace_headers\""), "{e}");
        assert!(!e.contains("SECRET"), "{e}");
        let e = split_common(&conn(&[], &[("Trace_Headers", "false")])).unwrap_err();
        assert_eq!(
            e,
            "setting \"trace_headers\" is not a secret: send it in connection.settings"
        );
    }
}
