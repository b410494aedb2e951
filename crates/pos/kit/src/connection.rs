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
/// what settings sent as `map<string, string>` need. Its errors do not always name the setting
/// (an enum's refusal, an unknown name) and may quote the value; see [`name_the_culprit`].
pub fn read_settings<T: DeserializeOwned>(
    settings: &HashMap<String, String>,
    secrets: &HashMap<String, String>,
) -> Result<T, String> {
    if let Some(k) = secrets.keys().find(|k| settings.contains_key(*k)) {
        return Err(format!(
            "setting {k:?} is given both as a plain setting and as a secret"
        ));
    }
    // Read in one fixed order, so that a failure can be found again entry by entry.
    let mut all: Vec<(String, String)> = settings
        .iter()
        .chain(secrets)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    all.sort();
    envy::from_iter::<_, T>(all.iter().cloned()).map_err(|e| match e {
        envy::Error::MissingValue(name) => format!("setting {name:?} is required"),
        // envy quotes the value it could not read; a value may be a secret, so name only the
        // setting ("... provided by NAME").
        envy::Error::Custom(msg) => match msg.rsplit_once(" provided by ") {
            Some((_, name)) => format!(
                "setting {:?} has a value this POS cannot read",
                name.to_ascii_lowercase()
            ),
            None => name_the_culprit::<T>(&all),
        },
    })
}

/// What serde says without naming the setting, and how it is told (the value never is).
const UNNAMED: &[(&str, &str)] = &[
    // "unknown field `colour`, expected one of `a`, `b`": names only field names.
    ("unknown field ", "is unknown"),
    // "duplicate field `token`": the same name twice in another case.
    (
        "duplicate field ",
        "is given twice (names are read in any case)",
    ),
    // "unknown variant `<value>`, expected `v1` or `v2`": the value is quoted, the expected
    // names are not values.
    ("unknown variant ", "has a value this POS cannot read"),
];

/// The error of a `Custom` failure that does not name the setting (serde's enum and field
/// errors, or a type's own `Deserialize`), naming it. Deserialization stops at the first entry
/// it refuses, so the entry that turns the sorted prefix's error into a `Custom` one is the
/// setting to name. Only the setting's name and the names serde expected are said.
fn name_the_culprit<T: DeserializeOwned>(all: &[(String, String)]) -> String {
    let culprit =
        (1..=all.len()).find_map(
            |n| match envy::from_iter::<_, T>(all[..n].iter().cloned()) {
                Err(envy::Error::Custom(msg)) => Some((all[n - 1].0.to_ascii_lowercase(), msg)),
                _ => None,
            },
        );
    let Some((name, msg)) = culprit else {
        return "settings cannot be read (the reason is not shown: it may quote a value)".into();
    };
    let (why, expected) = UNNAMED
        .iter()
        .find(|(start, _)| msg.starts_with(start))
        .map(|(_, why)| (*why, msg.split_once(", expected ").map(|(_, e)| e)))
        .unwrap_or(("has a value this POS cannot read", None));
    match expected {
        Some(e) => format!("setting {name:?} {why} (expected {e})"),
        None => format!("setting {name:?} {why}"),
    }
}

/// One setting a connection carries: a row of an adapter's settings table, what `Describe`
/// reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub required: bool,
    /// Sent in `PosConnection.secrets`, never in `settings`.
    pub secret: bool,
    pub description: &'static str,
}

impl Setting {
    /// An optional plain setting; [`Setting::required`] and [`Setting::secret`] say otherwise,
    /// so a table reads as `Setting::new("client_secret", "...").required().secret()`.
    pub const fn new(name: &'static str, description: &'static str) -> Setting {
        Setting {
            name,
            required: false,
            secret: false,
            description,
        }
    }

    pub const fn required(mut self) -> Setting {
        self.required = true;
        self
    }

    pub const fn secret(mut self) -> Setting {
        self.secret = true;
        self
    }
}

/// The field names of a settings struct, as its derived `Deserialize` asks for them: what a
/// test compares the settings table with, so that a field cannot be added without its row.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error, Visitor, value};
    /// A deserializer that only records the fields a struct asks for.
    struct Catch(std::cell::Cell<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for &Catch {
        type Error = value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, value::Error> {
            Err(value::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, value::Error> {
            self.0.set(fields);
            Err(value::Error::custom("fields caught"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let catch = Catch(std::cell::Cell::new(&[]));
    let _ = T::deserialize(&catch);
    catch.0.get()
}

/// `DescribeResponse.settings` from an adapter's settings table.
pub fn setting_specs(table: &[Setting]) -> Vec<posgate_proto::v1::SettingSpec> {
    table
        .iter()
        .map(|s| posgate_proto::v1::SettingSpec {
            name: s.name.into(),
            required: s.required,
            secret: s.secret,
            description: s.description.into(),
        })
        .collect()
}

/// Every name a connection carries, and whether it came among the secrets.
fn sent_names(conn: &posgate_proto::v1::PosConnection) -> impl Iterator<Item = (&String, bool)> {
    let plain = conn.settings.keys().map(|k| (k, false));
    plain.chain(conn.secrets.keys().map(|k| (k, true)))
}

/// Refuses, by name and before anything is read, what a connection must not carry: a
/// static-only field (`static_only`: name, why; e.g. a file on the adapter's host) and a
/// secret of `table` sent as a plain setting. Names are compared in any case, as they are
/// read; no value is quoted.
pub fn refuse_misplaced(
    conn: &posgate_proto::v1::PosConnection,
    table: &[Setting],
    static_only: &[(&str, &str)],
) -> Result<(), String> {
    let keys = sent_names(conn);
    for (key, sent_as_secret) in keys {
        if let Some((name, why)) = static_only
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
        {
            return Err(format!(
                "setting {name:?} is not accepted from a connection: {why}"
            ));
        }
        if let Some(s) = table
            .iter()
            .find(|s| s.secret && !sent_as_secret && s.name.eq_ignore_ascii_case(key))
        {
            return Err(format!(
                "setting {:?} is a secret: send it in connection.secrets, not in settings",
                s.name
            ));
        }
    }
    Ok(())
}

/// Refuses, by name and before anything is read, a connection that carries anything but the
/// rows of `table`, each where its row says (a secret in `secrets`, a plain setting in
/// `settings`): for a POS (named `pos` in the error) that takes no other name from anywhere.
pub fn refuse_unlisted(
    conn: &posgate_proto::v1::PosConnection,
    table: &[Setting],
    pos: &str,
) -> Result<(), String> {
    let keys = sent_names(conn);
    for (name, sent_as_secret) in keys {
        let key = name.to_ascii_lowercase();
        let Some(s) = table.iter().find(|s| s.name == key) else {
            let known: Vec<&str> = table.iter().map(|s| s.name).collect();
            return Err(format!(
                "setting {key:?} is unknown to {pos} (accepted: {})",
                known.join(", ")
            ));
        };
        match (s.secret, sent_as_secret) {
            (true, false) => {
                return Err(format!("setting {key:?} is a secret: send it in secrets"));
            }
            (false, true) => {
                return Err(format!(
                    "setting {key:?} is not a secret: send it in settings"
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks an URL setting: it starts with `http://` or `https://`. The error names the setting
/// and does not quote the value.
pub fn check_url(name: &str, url: &str) -> Result<(), String> {
    let url = url.trim();
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    Err(format!(
        "setting {name:?} must start with http:// or https://"
    ))
}

/// Checks a `ca_pem` setting, when given, by [`crate::check_ca_pem`]: `setting "ca_pem" ...`.
pub fn check_ca_setting(pem: Option<&str>) -> Result<(), String> {
    match pem {
        Some(pem) => crate::check_ca_pem(pem).map_err(|e| format!("setting \"ca_pem\" {e}")),
        None => Ok(()),
    }
}

/// A number setting's default for `#[serde(default = "posgate_pos_kit::connection::default_u64::<N>")]`.
pub fn default_u64<const N: u64>() -> u64 {
    N
}

/// A number setting's default, as [`default_u64`].
pub fn default_u32<const N: u32>() -> u32 {
    N
}

/// A flag's default `true` (`#[serde(default = "posgate_pos_kit::connection::yes")]`).
pub fn yes() -> bool {
    true
}

/// A setting that is wrong, and why: `setting "name" <problem>` (never quoting the value).
pub fn bad(name: &str, problem: impl std::fmt::Display) -> String {
    format!("setting {name:?} {problem}")
}

/// One check of a connector's settings, naming the setting it is about.
pub enum Check<S> {
    /// Text that must not be blank: "is required".
    Required(&'static str, fn(&S) -> &str),
    /// A number that must not be 0: "must be positive".
    Positive(&'static str, fn(&S) -> u64),
    /// Wrong when the test holds, for the reason given.
    Wrong(&'static str, fn(&S) -> bool, &'static str),
}

impl<S> Check<S> {
    /// The setting and what is wrong with it, when `settings` fail this check.
    fn failed(&self, settings: &S) -> Option<(&'static str, &'static str)> {
        match *self {
            Check::Required(name, text) => text(settings)
                .trim()
                .is_empty()
                .then_some((name, "is required")),
            Check::Positive(name, n) => (n(settings) == 0).then_some((name, "must be positive")),
            Check::Wrong(name, wrong, why) => wrong(settings).then_some((name, why)),
        }
    }
}

/// The first of `checks` that `settings` fail, as [`bad`] says it.
pub fn check_all<S>(settings: &S, checks: &[Check<S>]) -> Result<(), String> {
    match checks.iter().find_map(|c| c.failed(settings)) {
        Some((name, why)) => Err(bad(name, why)),
        None => Ok(()),
    }
}

/// Whether `url` is the root of `root`'s host: the same scheme, host and port (the default
/// one or named), no path but `/`, no query, no user (any case, a trailing slash allowed).
pub fn is_root_of(url: &str, root: &str) -> bool {
    let (Ok(u), Ok(r)) = (reqwest::Url::parse(url.trim()), reqwest::Url::parse(root)) else {
        return false;
    };
    u.scheme() == r.scheme()
        && u.host_str() == r.host_str()
        && u.port_or_known_default() == r.port_or_known_default()
        && u.path().trim_end_matches('/').is_empty()
        && u.query().is_none()
        && u.username().is_empty()
}

/// How many restaurants built from connections one adapter keeps.
pub const CONNECTION_CACHE_CAPACITY: usize = 10_000;

/// Restaurant id → (connection fingerprint, what was built, build order).
type Entries<R> = HashMap<String, (u64, std::sync::Arc<R>, u64)>;

/// What an adapter built from restaurants' connections (parsed settings, HTTP clients, token
/// caches), kept while the connection is unchanged: a restaurant's `version` (or its settings)
/// changing builds it anew; per-credential state such as an OAuth token cache lives as long as
/// its entry. Bounded: past `capacity` restaurants the oldest-built entry goes.
pub struct ConnectionCache<R> {
    capacity: usize,
    entries: std::sync::Mutex<Entries<R>>,
    built: std::sync::atomic::AtomicU64,
}

impl<R> ConnectionCache<R> {
    pub fn new(capacity: usize) -> Self {
        ConnectionCache {
            capacity: capacity.max(1),
            entries: std::sync::Mutex::new(HashMap::new()),
            built: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The restaurant built from `conn`, building it (with `build`) when absent or changed.
    pub fn get_or_build(
        &self,
        restaurant_id: &str,
        conn: &posgate_proto::v1::PosConnection,
        build: impl FnOnce(&posgate_proto::v1::PosConnection) -> Result<R, String>,
    ) -> Result<std::sync::Arc<R>, String> {
        let fingerprint = fingerprint(conn);
        if let Some((fp, r, _)) = self.lock().get(restaurant_id)
            && *fp == fingerprint
        {
            return Ok(std::sync::Arc::clone(r));
        }
        let built = std::sync::Arc::new(build(conn)?);
        let order = self
            .built
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(restaurant_id) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, (_, _, o))| *o)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                entries.remove(&k);
            }
        }
        entries.insert(
            restaurant_id.to_string(),
            (fingerprint, std::sync::Arc::clone(&built), order),
        );
        Ok(built)
    }

    /// How many restaurants are cached.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<R>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A fingerprint of everything in a connection (not only its version: a restaurant declared
/// in two registries, or a test, may reuse versions).
fn fingerprint(conn: &posgate_proto::v1::PosConnection) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    conn.version.hash(&mut h);
    conn.currency_scale.hash(&mut h);
    for m in [&conn.settings, &conn.secrets] {
        let mut kv: Vec<_> = m.iter().collect();
        kv.sort();
        kv.hash(&mut h);
    }
    h.finish()
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
        #[serde(default)]
        mode: Mode,
        #[serde(default)]
        level: Option<Level>,
    }

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        #[default]
        Async,
        Sync,
    }

    /// A type whose own error quotes the value, as a hand-written `Deserialize` may.
    #[derive(Debug, PartialEq)]
    struct Level(u8);

    impl<'de> serde::Deserialize<'de> for Level {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            match s.as_str() {
                "low" => Ok(Level(0)),
                "high" => Ok(Level(1)),
                _ => Err(serde::de::Error::custom(format!("no level {s}"))),
            }
        }
    }

    fn map(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn field_names_are_the_struct_s_and_a_setting_is_built_as_said() {
        assert_eq!(
            field_names::<S>(),
            [
                "base_url",
                "object_id",
                "station",
                "fast",
                "token",
                "mode",
                "level"
            ]
        );
        assert!(field_names::<Mode>().is_empty(), "an enum has no fields");
        assert_eq!(
            Setting::new("token", "d").required().secret(),
            Setting {
                name: "token",
                required: true,
                secret: true,
                description: "d"
            }
        );
        let plain = Setting::new("station", "d");
        assert!(!plain.required && !plain.secret);
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
                mode: Mode::Async,
                level: None,
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

    /// The required settings of `S`, and `extra` on top (a secret when named `token`).
    fn read_with(extra: &[(&str, &str)]) -> Result<S, String> {
        let mut settings = map(&[("base_url", "x"), ("object_id", "1")]);
        let mut secrets = map(&[("token", "SECRET-1")]);
        for (k, v) in extra {
            let m = if k.eq_ignore_ascii_case("token") {
                &mut secrets
            } else {
                &mut settings
            };
            m.insert(k.to_string(), v.to_string());
        }
        read_settings(&settings, &secrets)
    }

    /// Extra settings, the setting the error names, what it says.
    type Case = (
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );

    #[test]
    fn an_error_without_the_name_is_named_and_never_quotes_the_value() {
        // (extra settings, the setting named, what the error says)
        let cases: &[Case] = &[
            // serde's enum refusal: "unknown variant `fast-SECRET`, expected ..."
            (
                &[("mode", "fast-SECRET")],
                "mode",
                "expected `async` or `sync`",
            ),
            (&[("MODE", "fast-SECRET")], "mode", "cannot read"),
            // a type's own error quoting the value
            (&[("level", "SECRET-lvl")], "level", "cannot read"),
            // an unknown name: said so, with the names that are known
            (
                &[("colour", "SECRET-red")],
                "colour",
                "is unknown (expected one of",
            ),
            // two bad values: the first in name order is named
            (
                &[("mode", "SECRET-a"), ("level", "SECRET-b")],
                "level",
                "cannot read",
            ),
            // the same name twice in two cases
            (&[("mode", "sync"), ("Mode", "sync")], "mode", "twice"),
        ];
        for (extra, named, says) in cases {
            let e = read_with(extra).unwrap_err();
            assert!(
                e.starts_with(&format!("setting {named:?} ")),
                "{extra:?}: {e}"
            );
            assert!(e.contains(says), "{extra:?}: {e}");
            assert!(!e.contains("SECRET"), "{extra:?}: {e}");
        }
        // Good values of the same settings are read.
        let s = read_with(&[("mode", "sync"), ("level", "high")]).unwrap();
        assert_eq!((s.mode, s.level), (Mode::Sync, Some(Level(1))));
    }

    #[test]
    fn misplaced_settings_are_refused_by_name_in_any_case() {
        use posgate_proto::v1::PosConnection;
        const TABLE: &[Setting] = &[
            Setting {
                name: "base_url",
                required: true,
                secret: false,
                description: "url",
            },
            Setting {
                name: "token",
                required: true,
                secret: true,
                description: "token",
            },
        ];
        const STATIC: &[(&str, &str)] = &[("token_file", "names a file: send the token")];
        let conn = |settings: &[(&str, &str)], secrets: &[(&str, &str)]| PosConnection {
            settings: map(settings),
            secrets: map(secrets),
            ..Default::default()
        };
        let ok = conn(&[("base_url", "u")], &[("token", "SECRET-1")]);
        refuse_misplaced(&ok, TABLE, STATIC).unwrap();
        for (c, says) in [
            (
                conn(&[("TOKEN_FILE", "/SECRET/path")], &[]),
                "setting \"token_file\" is not accepted from a connection: names a file",
            ),
            (
                conn(&[], &[("token_file", "/SECRET/path")]),
                "setting \"token_file\" is not accepted",
            ),
            (
                conn(&[("Token", "SECRET-1")], &[]),
                "setting \"token\" is a secret: send it in connection.secrets",
            ),
        ] {
            let e = refuse_misplaced(&c, TABLE, STATIC).unwrap_err();
            assert!(e.starts_with(says), "{e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
        let specs = setting_specs(TABLE);
        assert_eq!(
            specs
                .iter()
                .map(|s| (s.name.as_str(), s.secret))
                .collect::<Vec<_>>(),
            [("base_url", false), ("token", true)]
        );
    }

    #[test]
    fn the_cache_builds_once_per_connection_and_anew_when_it_changes() {
        use posgate_proto::v1::PosConnection;
        let cache = ConnectionCache::<String>::new(2);
        let mut conn = PosConnection {
            settings: map(&[("base_url", "http://a")]),
            secrets: map(&[("token", "t1")]),
            currency_scale: 2,
            version: 1,
        };
        let builds = std::cell::Cell::new(0);
        let build = |c: &PosConnection| {
            builds.set(builds.get() + 1);
            Ok(c.secrets["token"].clone())
        };
        assert_eq!(*cache.get_or_build("r1", &conn, build).unwrap(), "t1");
        assert_eq!(*cache.get_or_build("r1", &conn, build).unwrap(), "t1");
        assert_eq!(builds.get(), 1, "built once");
        conn.secrets.insert("token".into(), "t2".into());
        assert_eq!(*cache.get_or_build("r1", &conn, build).unwrap(), "t2");
        assert_eq!(
            builds.get(),
            2,
            "a changed secret builds anew, even at the same version"
        );
        // Bounded: a third restaurant evicts the oldest.
        cache.get_or_build("r2", &conn, build).unwrap();
        cache.get_or_build("r3", &conn, build).unwrap();
        assert_eq!(cache.len(), 2);
        // A failed build leaves nothing behind.
        assert!(
            cache
                .get_or_build("r4", &conn, |_| Err("bad".into()))
                .is_err()
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn the_root_of_a_host() {
        let root = "https://delivery.ucs.ru";
        for yes in [
            "https://delivery.ucs.ru",
            " https://DELIVERY.ucs.ru/ ",
            "https://delivery.ucs.ru:443",
        ] {
            assert!(is_root_of(yes, root), "{yes}");
        }
        for no in [
            "http://delivery.ucs.ru",
            "https://delivery.ucs.ru.evil.example",
            "https://delivery.ucs.ru:8443",
            "https://delivery.ucs.ru/api",
            "https://delivery.ucs.ru/?a=1",
            "https://user@delivery.ucs.ru",
            "delivery.ucs.ru",
        ] {
            assert!(!is_root_of(no, root), "{no}");
        }
    }

    #[test]
    fn the_first_failed_check_names_its_setting() {
        use Check::{Positive, Required, Wrong};
        const CHECKS: &[Check<(u64, u64, &str)>] = &[
            Positive("a", |s| s.0),
            Wrong("b", |s| s.1 < s.0, "must be at least a"),
            Required("c", |s| s.2),
        ];
        assert_eq!(check_all(&(1, 1, "x"), CHECKS), Ok(()));
        let e = check_all(&(0, 0, ""), CHECKS);
        assert_eq!(e, Err("setting \"a\" must be positive".into()));
        let e = check_all(&(2, 1, ""), CHECKS);
        assert_eq!(e, Err("setting \"b\" must be at least a".into()));
        let e = check_all(&(2, 2, " \t"), CHECKS);
        assert_eq!(e, Err("setting \"c\" is required".into()));
        assert!((yes(), default_u32::<7>()) == (true, 7));
    }
}
