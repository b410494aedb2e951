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
}
