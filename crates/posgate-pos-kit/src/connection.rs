//! A restaurant's POS connection, as the payment service sends it with every call, read into
//! the adapter's own typed settings.
//!
//! Settings travel as text (`map<string, string>`): one reading for every adapter, the same as
//! the environment's (`"42"` is a number where the type wants a number and text where it wants
//! text, `"true"` a boolean), plain settings and secrets merged (one name in both is refused),
//! every error naming the setting and never quoting a value.

use std::collections::HashMap;

use serde::de::DeserializeOwned;

/// The adapter's settings type `T` from a connection's plain settings and secrets.
///
/// `envy` does the reading: it is the well-kept crate that deserializes text key/values (the
/// environment) into typed structs — numbers, booleans, enums, `Option`s — which is exactly
/// what settings sent as `map<string, string>` need.
pub fn read_settings<T: DeserializeOwned>(
    settings: &HashMap<String, String>,
    secrets: &HashMap<String, String>,
) -> Result<T, String> {
    if let Some(k) = secrets.keys().find(|k| settings.contains_key(*k)) {
        return Err(format!(
            "setting {k:?} is given both as a plain setting and as a secret"
        ));
    }
    let all = settings
        .iter()
        .chain(secrets)
        .map(|(k, v)| (k.clone(), v.clone()));
    envy::from_iter::<_, T>(all).map_err(|e| match e {
        envy::Error::MissingValue(name) => format!("setting {name:?} is required"),
        // envy quotes the value it could not read; a value may be a secret, so name only the
        // setting ("... provided by NAME").
        envy::Error::Custom(msg) => match msg.rsplit_once(" provided by ") {
            Some((_, name)) => format!(
                "setting {:?} has a value this POS cannot read",
                name.to_ascii_lowercase()
            ),
            None => format!("settings: {msg}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct S {
        base_url: String,
        object_id: i64,
        #[serde(default)]
        station: Option<String>,
        #[serde(default)]
        fast: bool,
        token: String,
    }

    fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn text_reads_as_the_type_wants() {
        let s: S = read_settings(
            &map(&[
                ("base_url", "https://ws.ucs.ru"),
                ("object_id", "199990246"),
                ("station", "5"),
                ("fast", "true"),
            ]),
            &map(&[("token", "12345")]),
        )
        .unwrap();
        assert_eq!(
            s,
            S {
                base_url: "https://ws.ucs.ru".into(),
                object_id: 199990246,
                station: Some("5".into()),
                fast: true,
                token: "12345".into(),
            }
        );
    }

    #[test]
    fn errors_name_the_setting_and_never_quote_a_secret() {
        let e =
            read_settings::<S>(&map(&[("base_url", "x")]), &map(&[("token", "t0k")])).unwrap_err();
        assert!(e.contains("object_id") && e.contains("required"), "{e}");
        let e = read_settings::<S>(
            &map(&[("base_url", "x"), ("object_id", "abc")]),
            &map(&[("token", "SECRET-1")]),
        )
        .unwrap_err();
        assert!(e.contains("object_id"), "{e}");
        assert!(!e.contains("abc"), "the value is not quoted: {e}");
        let e = read_settings::<S>(
            &map(&[("base_url", "x"), ("object_id", "1"), ("colour", "red")]),
            &map(&[("token", "SECRET-1")]),
        )
        .unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = read_settings::<S>(
            &map(&[("base_url", "x"), ("object_id", "1"), ("token", "a")]),
            &map(&[("token", "SECRET-1")]),
        )
        .unwrap_err();
        assert!(e.contains("both"), "{e}");
        assert!(!e.contains("SECRET-1"));
    }
}
