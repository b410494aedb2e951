//! Restaurants given with each call. The payment service sends a restaurant's POS connection
//! (`PosConnection`: settings, secrets, currency scale) with every request, so the adapter
//! keeps no restaurant list and any replica serves any restaurant.
//!
//! [`SETTINGS`] is the one table of what a connection carries: `Describe` reports it, and a
//! connection is read into the same [`WsaRestaurant`] as a `[wsa.restaurants.<id>]` section
//! and checked the same way. Errors name the setting and never quote a value.

use posgate_pos_kit::read_settings;
use posgate_proto::v1::{PosConnection, SettingSpec};

use crate::config::WsaRestaurant;

pub use posgate_pos_kit::Setting;

const fn setting(
    name: &'static str,
    required: bool,
    secret: bool,
    description: &'static str,
) -> Setting {
    Setting {
        name,
        required,
        secret,
        description,
    }
}

/// Every setting a connection carries: one per field of [`WsaRestaurant`], except those in
/// [`NOT_IN_A_CONNECTION`].
pub const SETTINGS: &[Setting] = &[
    setting(
        "base_url",
        true,
        false,
        "White Server base URL, e.g. https://ws.ucs.ru",
    ),
    setting(
        "token",
        true,
        true,
        "AggregatorAuthentication token, sent raw",
    ),
    setting(
        "object_id",
        true,
        false,
        "restaurant code in UCS licensing (objectId)",
    ),
    setting(
        "agent_version",
        true,
        false,
        "White Server Agent: v1 (prepayments) or v2 (exact payment closes the order)",
    ),
    setting(
        "currency_guid",
        true,
        false,
        "r_keeper currency GUID that payments are booked in",
    ),
    setting(
        "tips_currency_guid",
        false,
        false,
        "r_keeper currency GUID for tips as a separate line; unset: tips are not booked",
    ),
    setting(
        "ca_pem",
        false,
        false,
        "PEM bundle of the POS server's own certificate authority, trusted beside the public ones",
    ),
    setting(
        "cash_station_id",
        false,
        false,
        "r_keeper cash station that books payments",
    ),
    setting(
        "cashier_id",
        false,
        false,
        "r_keeper cashier who books payments",
    ),
    setting(
        "mode",
        false,
        false,
        "async (submit, then poll GetTaskResponse; default) or sync",
    ),
    setting(
        "task_timeout_s",
        false,
        false,
        "agent wait in seconds, 1..=180 (default 120)",
    ),
    setting(
        "poll_interval_ms",
        false,
        false,
        "GetTaskResponse polling interval in async mode (default 500)",
    ),
    setting(
        "timeout_margin_ms",
        false,
        false,
        "extra wait on top of task_timeout_s before giving up (default 5000)",
    ),
];

/// Fields of a `[wsa.restaurants.<id>]` section that a connection does not carry, and where the
/// same thing comes from instead.
pub const NOT_IN_A_CONNECTION: &[(&str, &str)] = &[
    (
        "token_file",
        "names a file on the adapter's host: send the token in connection.secrets",
    ),
    (
        "ca_file",
        "names a file on the adapter's host: send the bundle as ca_pem",
    ),
    (
        "currency_scale",
        "is not a setting: it comes as connection.currency_scale",
    ),
];

/// What `Describe` reports as `settings`.
pub fn setting_specs() -> Vec<SettingSpec> {
    posgate_pos_kit::setting_specs(SETTINGS)
}

/// The restaurant a connection describes, checked as a static section is, and its CA bundle.
/// An error names the setting and never quotes a value.
pub fn restaurant_from(conn: &PosConnection) -> Result<(WsaRestaurant, Option<String>), String> {
    posgate_pos_kit::refuse_misplaced(conn, SETTINGS, NOT_IN_A_CONNECTION)?;
    let mut r: WsaRestaurant = read_settings(&conn.settings, &conn.secrets)?;
    r.currency_scale = conn.currency_scale;
    let ca = r
        .checked_ca()
        .map_err(|(name, why)| format!("setting {name:?} {why}"))?;
    Ok((r, ca))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A valid value for every setting in the table.
    fn sample(name: &str) -> &'static str {
        match name {
            "base_url" => "https://ws.example",
            "token" => "tok-SECRET-42",
            "object_id" => "199990246",
            "agent_version" => "v2",
            "currency_guid" => "cur-1",
            "tips_currency_guid" => "tips-1",
            "ca_pem" => "", // checked by its own test below
            "cash_station_id" => "3",
            "cashier_id" => "12",
            "mode" => "sync",
            "task_timeout_s" => "30",
            "poll_interval_ms" => "100",
            "timeout_margin_ms" => "700",
            other => panic!("no sample value for setting {other:?}: add one"),
        }
    }

    /// A connection with the given settings, secrets going where the table says.
    fn conn(names: &[&str]) -> PosConnection {
        let mut c = PosConnection {
            currency_scale: 2,
            version: 1,
            ..Default::default()
        };
        for n in names {
            let s = SETTINGS.iter().find(|s| s.name == *n).unwrap();
            let m = if s.secret {
                &mut c.secrets
            } else {
                &mut c.settings
            };
            m.insert(n.to_string(), sample(n).to_string());
        }
        c
    }

    fn required() -> Vec<&'static str> {
        SETTINGS
            .iter()
            .filter(|s| s.required)
            .map(|s| s.name)
            .collect()
    }

    /// The struct's field names, as serde knows them (from its unknown-field error).
    fn struct_fields() -> BTreeSet<String> {
        let e = serde_json::from_value::<WsaRestaurant>(serde_json::json!({"no_such_field": 1}))
            .unwrap_err()
            .to_string();
        let list = e
            .split_once("expected one of")
            .unwrap_or_else(|| panic!("{e}"))
            .1;
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_table_and_the_exclusions_are_exactly_the_struct_s_fields() {
        let mut listed: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        listed.extend(NOT_IN_A_CONNECTION.iter().map(|(n, _)| *n));
        let set: BTreeSet<String> = listed.iter().map(|n| n.to_string()).collect();
        assert_eq!(set.len(), listed.len(), "a name listed twice: {listed:?}");
        assert_eq!(set, struct_fields());
        assert_eq!(setting_specs().len(), SETTINGS.len());
        assert!(setting_specs().iter().all(|s| !s.description.is_empty()));
    }

    #[test]
    fn exactly_the_required_settings_make_a_restaurant() {
        let (r, ca) = restaurant_from(&conn(&required())).unwrap();
        assert_eq!(r.object_id, 199990246);
        assert_eq!(r.token.expose(), "tok-SECRET-42");
        assert_eq!(r.agent_version, crate::AgentVersion::V2);
        assert_eq!(r.currency_scale, 2);
        assert!(ca.is_none());
        // The scale is the connection's.
        let mut c = conn(&required());
        c.currency_scale = 0;
        assert_eq!(restaurant_from(&c).unwrap().0.currency_scale, 0);
    }

    #[test]
    fn a_missing_required_setting_is_named() {
        for missing in required() {
            let names: Vec<_> = required().into_iter().filter(|n| *n != missing).collect();
            let e = restaurant_from(&conn(&names)).unwrap_err();
            assert!(e.contains(&format!("{missing:?}")), "{missing}: {e}");
            assert!(!e.contains("tok-SECRET-42"), "{e}");
        }
    }

    #[test]
    fn every_optional_setting_is_accepted() {
        for s in SETTINGS
            .iter()
            .filter(|s| !s.required && s.name != "ca_pem")
        {
            let mut names = required();
            names.push(s.name);
            let r = restaurant_from(&conn(&names));
            assert!(r.is_ok(), "{}: {:?}", s.name, r.err());
        }
        let (r, _) = restaurant_from(&conn(
            &[
                required(),
                vec!["mode", "task_timeout_s", "cash_station_id"],
            ]
            .concat(),
        ))
        .unwrap();
        assert_eq!(r.mode, crate::TaskMode::Sync);
        assert_eq!(r.task_timeout_s, 30);
        assert_eq!(r.cash_station_id, Some(3));
    }

    #[test]
    fn unknown_static_only_and_misplaced_settings_are_refused_by_name() {
        let mut c = conn(&required());
        c.settings.insert("colour".into(), "red".into());
        let e = restaurant_from(&c).unwrap_err();
        assert!(e.contains("colour"), "{e}");
        for (name, _) in NOT_IN_A_CONNECTION {
            for upper in [false, true] {
                let mut c = conn(&required());
                let key = if upper {
                    name.to_ascii_uppercase()
                } else {
                    name.to_string()
                };
                c.settings.insert(key, "/etc/passwd".into());
                let e = restaurant_from(&c).unwrap_err();
                assert!(e.contains(&format!("{name:?}")), "{e}");
                assert!(!e.contains("/etc/passwd"), "{e}");
            }
        }
        // A secret sent as a plain setting.
        let mut c = conn(&required());
        let token = c.secrets.remove("token").unwrap();
        c.settings.insert("token".into(), token);
        let e = restaurant_from(&c).unwrap_err();
        assert!(e.contains("\"token\"") && e.contains("secrets"), "{e}");
        assert!(!e.contains("tok-SECRET-42"), "{e}");
    }

    #[test]
    fn bad_values_name_the_setting_and_never_quote_the_value() {
        let cases = [
            ("object_id", "not-a-number-SECRET"),
            ("agent_version", "v9-SECRET"),
            ("mode", "fast-SECRET"),
            ("base_url", "ftp://host-SECRET"),
            ("token", "line\nbreak-SECRET"),
            ("ca_pem", "no certificate here SECRET"),
            // PEM, but not a certificate the TLS stack takes (was "builder error" later).
            (
                "ca_pem",
                "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n",
            ),
            ("poll_interval_ms", "0"),
        ];
        for (name, value) in cases {
            let mut c = conn(&required());
            let m = if name == "token" {
                &mut c.secrets
            } else {
                &mut c.settings
            };
            m.insert(name.into(), value.into());
            let e = restaurant_from(&c).unwrap_err();
            assert!(e.contains(&format!("setting {name:?}")), "{name}: {e}");
            assert!(!e.contains("SECRET"), "{name}: {e}");
        }
        let mut c = conn(&required());
        c.currency_scale = 99;
        assert!(restaurant_from(&c).unwrap_err().contains("currency_scale"));
    }
}
