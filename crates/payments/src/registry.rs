//! The restaurant registry's durable state: one row per restaurant, declared at run time.
//!
//! Every replica reads the same rows, so a restaurant created or changed through one replica is
//! seen by all of them on their next read — nothing to restart. Secret settings (POS tokens,
//! client secrets, the Expirenza key) are sealed with the service's keyring before they are
//! written, bound to their restaurant and name (a sealed value copied to another row does not
//! open), and opened only for the code that calls the POS; the API never returns them.
//! Writes are fenced by `version` (optimistic concurrency), like payments.
//!
//! The engine and `PayBill` read restaurants through [`Registry::cached`]: a replica keeps what
//! it read and forgets it when any restaurant changes — at once on its own writes, on
//! PostgreSQL by `LISTEN posgate_registry` (a trigger notifies every replica), and otherwise
//! by comparing one number (`registry_generation`, moved by triggers) before trusting the cache.
//! So paying a bill reads no restaurant row, yet a change made anywhere counts at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use posgate_core::Secret;
use posgate_secrets::Keyring;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::store::StoreError;

/// A restaurant as an operator declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestaurantSpec {
    pub display_name: String,
    pub pos_kind: String,
    pub currency: String,
    pub currency_scale: u32,
    pub pos_settings: BTreeMap<String, String>,
    /// Secret settings to set; on update, the ones not named stay.
    pub pos_secrets: BTreeMap<String, Secret>,
    pub expirenza: Option<ExpirenzaChannel>,
}

/// The Expirenza pay-at-table channel of a restaurant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpirenzaChannel {
    pub resto_id: String,
    pub ws_url: String,
    pub callback_base_url: String,
    /// Opened on read; sealed in the row. Empty on update keeps the stored key.
    #[serde(skip)]
    pub secret_key: Secret,
    pub tips: String,
    /// The restaurant's tables (empty: any table is taken to exist). Rows written before
    /// tables were kept read as empty.
    #[serde(default)]
    pub tables: Vec<String>,
}

/// An enabled restaurant's Expirenza channel, as the Expirenza adapter is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredChannel {
    pub restaurant_id: String,
    pub version: i64,
    pub channel: ExpirenzaChannel,
}

/// The channel as stored: the key sealed.
#[derive(Serialize, Deserialize)]
struct StoredChannel {
    #[serde(flatten)]
    channel: ExpirenzaChannel,
    #[serde(default)]
    secret_key: String,
}

/// A restaurant as the registry keeps it, secrets opened (for the code that calls the POS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestaurantRecord {
    pub id: String,
    pub spec: RestaurantSpec,
    pub enabled: bool,
    /// Unix ms.
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// Why a registry write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("restaurant {0:?} already exists")]
    Exists(String),
    #[error("no restaurant {0:?}")]
    NotFound(String),
    #[error("restaurant {id:?} is at version {actual}, not {expected}")]
    VersionMismatch {
        id: String,
        expected: i64,
        actual: i64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RegistryError {
    fn from(e: sqlx::Error) -> Self {
        RegistryError::Store(StoreError::Db(e))
    }
}

/// Where a secret setting is sealed for: its restaurant and name.
pub fn secret_place(restaurant_id: &str, name: &str) -> String {
    format!("restaurants.pos_secrets/{restaurant_id}/{name}")
}

fn expirenza_place(restaurant_id: &str) -> String {
    format!("restaurants.expirenza.secret_key/{restaurant_id}")
}

const COLUMNS: &str = "id, display_name, pos_kind, currency, currency_scale, pos_settings, pos_secrets, expirenza, enabled, created_at, updated_at, version";

/// How fresh a cached read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// As of now: a caller deciding whether to take a payment (a restaurant disabled a moment
    /// ago elsewhere must be refused).
    Now,
    /// As of at most [`CHECK_EVERY`] ago: the engine's calls for a payment already taken.
    Recent,
}

/// How long a generation check is trusted for [`Freshness::Recent`] reads.
pub const CHECK_EVERY: Duration = Duration::from_millis(1_000);

/// What one replica knows of the registry between reads (shared by every [`Registry`] handle
/// of one store).
pub struct RegistryCache {
    records: RwLock<HashMap<String, Arc<RestaurantRecord>>>,
    /// Bumped whenever anything is forgotten: a read that started before keeps its answer out
    /// of the cache (it may be older than the change).
    epoch: AtomicU64,
    /// The `registry_generation` the records were read at; -1 before the first check.
    generation: AtomicI64,
    /// When the generation was last compared (ms since `started`).
    checked_at: AtomicI64,
    started: std::time::Instant,
    /// A PostgreSQL listener is keeping the cache current: no generation checks needed.
    listening: AtomicBool,
    /// The connection generation checks run on, one at a time (see [`Registry::check_generation`]).
    reader: tokio::sync::Mutex<crate::writer::Kept>,
    /// Generation reads started, numbered from 1 (counted under `reader`'s lock).
    reads: AtomicU64,
    /// The number of the last generation read that succeeded (its answer applied).
    read_ok: AtomicU64,
    /// Moves on every change seen (for watchers such as the Expirenza channel stream).
    changed: tokio::sync::watch::Sender<u64>,
}

impl Default for RegistryCache {
    fn default() -> Self {
        RegistryCache {
            records: RwLock::default(),
            epoch: AtomicU64::new(0),
            generation: AtomicI64::new(-1),
            checked_at: AtomicI64::new(i64::MIN / 2),
            started: std::time::Instant::now(),
            listening: AtomicBool::new(false),
            reader: tokio::sync::Mutex::default(),
            reads: AtomicU64::new(0),
            read_ok: AtomicU64::new(0),
            changed: tokio::sync::watch::channel(0).0,
        }
    }
}

impl RegistryCache {
    fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Forgets `id` (or everything) and tells watchers.
    fn forget(&self, id: Option<&str>) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        let mut records = self.records.write().unwrap_or_else(|p| p.into_inner());
        match id {
            Some(id) => {
                records.remove(id);
            }
            None => records.clear(),
        }
        drop(records);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// The registry over the payment service's database.
#[derive(Clone)]
pub struct Registry {
    pool: AnyPool,
    keys: Arc<Keyring>,
    cache: Arc<RegistryCache>,
}

impl Registry {
    pub fn new(pool: AnyPool, keys: Arc<Keyring>, cache: Arc<RegistryCache>) -> Registry {
        Registry { pool, keys, cache }
    }

    /// The restaurant as this replica knows it, read from the database only when it changed
    /// since (see the module comment); `None` for a restaurant nobody declared (never cached).
    pub async fn cached(
        &self,
        id: &str,
        fresh: Freshness,
    ) -> Result<Option<Arc<RestaurantRecord>>, RegistryError> {
        self.check_generation(fresh).await?;
        if let Some(r) = self
            .cache
            .records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            return Ok(Some(Arc::clone(r)));
        }
        let epoch = self.cache.epoch.load(Ordering::SeqCst);
        let Some(record) = self.get(id).await?.map(Arc::new) else {
            return Ok(None);
        };
        let mut records = self
            .cache
            .records
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if self.cache.epoch.load(Ordering::SeqCst) == epoch {
            records.insert(id.to_string(), Arc::clone(&record));
        }
        Ok(Some(record))
    }

    /// Compares the registry generation with the cache's unless a listener keeps the cache
    /// current or (for [`Freshness::Recent`]) it was compared less than [`CHECK_EVERY`] ago;
    /// forgets everything when it moved. Returns whether it moved.
    ///
    /// On SQLite this is one read per PayBill, so it runs on a connection kept for it, one read
    /// at a time (taking a connection from sqlx's pool and giving it back cost more than the
    /// read), and a PayBill that waited while another one's read *started* takes that read's
    /// answer: a burst of PayBills shares reads instead of queueing one each, and each still
    /// sees the registry as of after it asked.
    async fn check_generation(&self, fresh: Freshness) -> Result<bool, RegistryError> {
        let c = &self.cache;
        if c.listening.load(Ordering::SeqCst) {
            return Ok(false);
        }
        let now = c.elapsed_ms();
        let every = i64::try_from(CHECK_EVERY.as_millis()).unwrap_or(i64::MAX);
        if fresh == Freshness::Recent && now - c.checked_at.load(Ordering::SeqCst) < every {
            return Ok(false);
        }
        let asked = c.reads.load(Ordering::SeqCst);
        let mut reader = c.reader.lock().await;
        if fresh == Freshness::Now && c.read_ok.load(Ordering::SeqCst) > asked {
            // A read that started after this caller asked has succeeded and been applied (the
            // lock is ours now, so it is over).
            return Ok(false);
        }
        let number = c.reads.fetch_add(1, Ordering::SeqCst) + 1;
        let generation = self.read_generation(&mut reader).await?;
        c.checked_at.store(now, Ordering::SeqCst);
        let before = c.generation.swap(generation, Ordering::SeqCst);
        let moved = before != generation;
        if moved {
            c.forget(None);
        }
        c.read_ok.store(number, Ordering::SeqCst);
        Ok(moved)
    }

    /// Reads `registry_generation` on the kept connection.
    async fn read_generation(
        &self,
        reader: &mut crate::writer::Kept,
    ) -> Result<i64, RegistryError> {
        let conn = reader.connection(&self.pool).await?;
        let read = crate::store::timed(
            "registry_generation",
            sqlx::query_scalar("SELECT generation FROM registry_generation WHERE id = 1")
                .fetch_one(&mut **conn),
        )
        .await;
        reader.done(&self.pool, read.is_ok());
        Ok(read?)
    }

    /// Re-checks the registry generation now (for watchers without a listener): true when the
    /// registry changed since the last look.
    pub async fn refresh(&self) -> Result<bool, RegistryError> {
        self.check_generation(Freshness::Now).await
    }

    /// Moves whenever this replica sees a restaurant change.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.cache.changed.subscribe()
    }

    /// Whether a database listener keeps the cache current (no periodic checks needed).
    pub fn listening(&self) -> bool {
        self.cache.listening.load(Ordering::SeqCst)
    }

    /// On PostgreSQL: keeps the cache current by `LISTEN posgate_registry` on its own
    /// connection (a trigger notifies on every change), in the background while the cache
    /// lives. If the connection drops, everything is forgotten (a change may have been missed)
    /// and generation checks stand in until it is back.
    pub fn listen(&self, database_url: &str) {
        let url = database_url.to_string();
        let cache = Arc::downgrade(&self.cache);
        tokio::spawn(listen(url, cache));
    }

    fn corrupt(id: &str, what: impl Into<String>) -> RegistryError {
        RegistryError::Store(StoreError::Corrupt {
            id: format!("restaurant {id}"),
            what: what.into(),
        })
    }

    fn seal(&self, id: &str, place: &str, plain: &Secret) -> Result<String, RegistryError> {
        self.keys
            .seal(plain.expose(), place)
            .map_err(|e| Self::corrupt(id, format!("sealing a secret: {e}")))
    }

    fn open(&self, id: &str, place: &str, sealed: &str) -> Result<Secret, RegistryError> {
        self.keys
            .open(sealed, place)
            .map(Secret::new)
            .map_err(|e| Self::corrupt(id, format!("opening a secret: {e}")))
    }

    /// The sealed forms of `secrets`, merged over `kept` (already sealed).
    fn sealed_secrets(
        &self,
        id: &str,
        kept: BTreeMap<String, String>,
        secrets: &BTreeMap<String, Secret>,
    ) -> Result<BTreeMap<String, String>, RegistryError> {
        let mut out = kept;
        for (name, value) in secrets {
            out.insert(name.clone(), self.seal(id, &secret_place(id, name), value)?);
        }
        Ok(out)
    }

    fn sealed_channel(
        &self,
        id: &str,
        channel: Option<&ExpirenzaChannel>,
        kept_key: Option<String>,
    ) -> Result<Option<String>, RegistryError> {
        let Some(c) = channel else { return Ok(None) };
        let secret_key = if c.secret_key.is_empty() {
            kept_key.unwrap_or_default()
        } else {
            self.seal(id, &expirenza_place(id), &c.secret_key)?
        };
        let stored = StoredChannel {
            channel: c.clone(),
            secret_key,
        };
        serde_json::to_string(&stored)
            .map(Some)
            .map_err(|e| Self::corrupt(id, e.to_string()))
    }

    pub async fn create(
        &self,
        id: &str,
        spec: &RestaurantSpec,
        now: i64,
    ) -> Result<RestaurantRecord, RegistryError> {
        let secrets = self.sealed_secrets(id, BTreeMap::new(), &spec.pos_secrets)?;
        let channel = self.sealed_channel(id, spec.expirenza.as_ref(), None)?;
        let inserted = sqlx::query(
            "INSERT INTO restaurants (id, display_name, pos_kind, currency, currency_scale, pos_settings, pos_secrets, expirenza, enabled, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, 1)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(&spec.display_name)
        .bind(&spec.pos_kind)
        .bind(&spec.currency)
        .bind(i64::from(spec.currency_scale))
        .bind(json(&spec.pos_settings))
        .bind(json(&secrets))
        .bind(channel)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            return Err(RegistryError::Exists(id.to_string()));
        }
        self.cache.forget(Some(id));
        self.get(id)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))
    }

    /// Replaces the restaurant's description; secrets not named in `spec` stay, `clear` removes
    /// some. Fenced by `expected_version` when given, and always by the version read.
    pub async fn update(
        &self,
        id: &str,
        spec: &RestaurantSpec,
        clear: &[String],
        expected_version: Option<i64>,
        now: i64,
    ) -> Result<RestaurantRecord, RegistryError> {
        let Some(row) = self.raw(id).await? else {
            return Err(RegistryError::NotFound(id.to_string()));
        };
        if let Some(expected) = expected_version
            && expected != row.version
        {
            return Err(RegistryError::VersionMismatch {
                id: id.to_string(),
                expected,
                actual: row.version,
            });
        }
        let mut kept = row.secrets;
        for name in clear {
            kept.remove(name);
        }
        let secrets = self.sealed_secrets(id, kept, &spec.pos_secrets)?;
        let channel = self.sealed_channel(id, spec.expirenza.as_ref(), row.channel_key)?;
        let updated = sqlx::query(
            "UPDATE restaurants SET display_name = $1, pos_kind = $2, currency = $3, currency_scale = $4,
                pos_settings = $5, pos_secrets = $6, expirenza = $7, updated_at = $8, version = version + 1
             WHERE id = $9 AND version = $10",
        )
        .bind(&spec.display_name)
        .bind(&spec.pos_kind)
        .bind(&spec.currency)
        .bind(i64::from(spec.currency_scale))
        .bind(json(&spec.pos_settings))
        .bind(json(&secrets))
        .bind(channel)
        .bind(now)
        .bind(id)
        .bind(row.version)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if !updated {
            let actual = self.raw(id).await?.map_or(0, |r| r.version);
            return Err(RegistryError::VersionMismatch {
                id: id.to_string(),
                expected: row.version,
                actual,
            });
        }
        self.cache.forget(Some(id));
        self.get(id)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))
    }

    /// Stops taking payments for the restaurant (idempotent).
    pub async fn disable(&self, id: &str, now: i64) -> Result<RestaurantRecord, RegistryError> {
        self.set_enabled(id, false, now).await
    }

    /// Takes payments for the restaurant again (idempotent).
    pub async fn enable(&self, id: &str, now: i64) -> Result<RestaurantRecord, RegistryError> {
        self.set_enabled(id, true, now).await
    }

    async fn set_enabled(
        &self,
        id: &str,
        enabled: bool,
        now: i64,
    ) -> Result<RestaurantRecord, RegistryError> {
        let (to, from) = if enabled { (1, 0) } else { (0, 1) };
        sqlx::query(
            "UPDATE restaurants SET enabled = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND enabled = $4",
        )
        .bind(to)
        .bind(now)
        .bind(id)
        .bind(from)
        .execute(&self.pool)
        .await?;
        self.cache.forget(Some(id));
        self.get(id)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))
    }

    /// Re-encrypts every restaurant secret sealed under an old key with the active one (after
    /// a key rotation). Restaurants whose secrets cannot be opened are left as they were and
    /// named; the old key must stay while any remain.
    pub async fn rewrap_secrets(&self) -> Result<crate::store::Resealed, RegistryError> {
        let rows =
            sqlx::query("SELECT id, pos_secrets, expirenza, version FROM restaurants ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        let mut out = crate::store::Resealed::default();
        for row in rows {
            let id: String = row.try_get(0)?;
            let secrets: String = row.try_get(1)?;
            let channel: Option<String> = row.try_get(2)?;
            let version: i64 = row.try_get(3)?;
            let rewrapped = (|| -> Result<Option<(String, Option<String>)>, String> {
                let mut secrets: BTreeMap<String, String> =
                    serde_json::from_str(&secrets).map_err(|e| e.to_string())?;
                let mut changed = false;
                for (name, sealed) in secrets.iter_mut() {
                    if self.keys.is_stale(sealed) {
                        *sealed = self
                            .keys
                            .rewrap(sealed, &secret_place(&id, name))
                            .map_err(|e| e.to_string())?;
                        changed = true;
                    }
                }
                let channel = match channel {
                    None => None,
                    Some(c) => {
                        let mut stored: StoredChannel =
                            serde_json::from_str(&c).map_err(|e| e.to_string())?;
                        if self.keys.is_stale(&stored.secret_key) {
                            stored.secret_key = self
                                .keys
                                .rewrap(&stored.secret_key, &expirenza_place(&id))
                                .map_err(|e| e.to_string())?;
                            changed = true;
                        }
                        Some(serde_json::to_string(&stored).map_err(|e| e.to_string())?)
                    }
                };
                Ok(changed.then(|| (json(&secrets), channel)))
            })();
            match rewrapped {
                Err(_) => out.failed.push(id),
                Ok(None) => {}
                Ok(Some((secrets, channel))) => {
                    // Fenced by the version read; a restaurant changed meanwhile was sealed
                    // under the active key by that change.
                    let n = sqlx::query(
                        "UPDATE restaurants SET pos_secrets = $1, expirenza = $2 WHERE id = $3 AND version = $4",
                    )
                    .bind(secrets)
                    .bind(channel)
                    .bind(&id)
                    .bind(version)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    out.changed += n as usize;
                    self.cache.forget(Some(&id));
                }
            }
        }
        Ok(out)
    }

    /// The restaurant, secrets opened, read from the database.
    pub async fn get(&self, id: &str) -> Result<Option<RestaurantRecord>, RegistryError> {
        let row = crate::store::timed(
            "registry_get",
            sqlx::query(&format!("SELECT {COLUMNS} FROM restaurants WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool),
        )
        .await?;
        row.map(|r| self.record(&r)).transpose()
    }

    /// Restaurants by id after `after_id`, at most `limit`.
    pub async fn list(
        &self,
        include_disabled: bool,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RestaurantRecord>, RegistryError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM restaurants WHERE id > $1 AND (enabled = 1 OR $2 = 1) ORDER BY id LIMIT $3"
        ))
        .bind(after_id.unwrap_or(""))
        .bind(i64::from(include_disabled))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.record(r)).collect()
    }

    /// The Expirenza channels of the enabled restaurants that have one, by id, keys opened.
    /// A row whose channel cannot be read or opened is left out (and logged): it cannot be
    /// served, and it must not keep the others from being served.
    pub async fn channels(&self) -> Result<Vec<RegisteredChannel>, RegistryError> {
        let rows = sqlx::query(
            "SELECT id, expirenza, version FROM restaurants WHERE enabled = 1 AND expirenza IS NOT NULL ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get(0)?;
            let raw: String = r.try_get(1)?;
            match self.channel(&id, &raw) {
                Ok(channel) => out.push(RegisteredChannel {
                    restaurant_id: id,
                    version: r.try_get(2)?,
                    channel,
                }),
                Err(e) => {
                    tracing::warn!(restaurant = %id, error = %e, "Expirenza channel left out")
                }
            }
        }
        Ok(out)
    }

    /// A stored channel, its key opened.
    fn channel(&self, id: &str, stored: &str) -> Result<ExpirenzaChannel, RegistryError> {
        let stored: StoredChannel = serde_json::from_str(stored)
            .map_err(|e| Self::corrupt(id, format!("expirenza: {e}")))?;
        let mut channel = stored.channel;
        if !stored.secret_key.is_empty() {
            channel.secret_key = self.open(id, &expirenza_place(id), &stored.secret_key)?;
        }
        Ok(channel)
    }

    /// The row as stored (secrets sealed), for updates.
    async fn raw(&self, id: &str) -> Result<Option<RawRow>, RegistryError> {
        let row =
            sqlx::query("SELECT pos_secrets, expirenza, version FROM restaurants WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(row) = row else { return Ok(None) };
        let secrets: String = row.try_get(0)?;
        let channel: Option<String> = row.try_get(1)?;
        let channel_key = match channel {
            Some(c) => Some(
                serde_json::from_str::<StoredChannel>(&c)
                    .map_err(|e| Self::corrupt(id, e.to_string()))?
                    .secret_key,
            ),
            None => None,
        };
        Ok(Some(RawRow {
            secrets: serde_json::from_str(&secrets)
                .map_err(|e| Self::corrupt(id, format!("pos_secrets: {e}")))?,
            channel_key: channel_key.filter(|k| !k.is_empty()),
            version: row.try_get(2)?,
        }))
    }

    fn record(&self, r: &AnyRow) -> Result<RestaurantRecord, RegistryError> {
        let id: String = r.try_get("id")?;
        let settings: String = r.try_get("pos_settings")?;
        let secrets: String = r.try_get("pos_secrets")?;
        let secrets: BTreeMap<String, String> = serde_json::from_str(&secrets)
            .map_err(|e| Self::corrupt(&id, format!("pos_secrets: {e}")))?;
        let mut opened = BTreeMap::new();
        for (name, sealed) in secrets {
            let value = self.open(&id, &secret_place(&id, &name), &sealed)?;
            opened.insert(name, value);
        }
        let channel: Option<String> = r.try_get("expirenza")?;
        let expirenza = channel.map(|c| self.channel(&id, &c)).transpose()?;
        let scale: i64 = r.try_get("currency_scale")?;
        let enabled: i64 = r.try_get("enabled")?;
        Ok(RestaurantRecord {
            spec: RestaurantSpec {
                display_name: r.try_get("display_name")?,
                pos_kind: r.try_get("pos_kind")?,
                currency: r.try_get("currency")?,
                currency_scale: u32::try_from(scale)
                    .map_err(|_| Self::corrupt(&id, "currency_scale"))?,
                pos_settings: serde_json::from_str(&settings)
                    .map_err(|e| Self::corrupt(&id, format!("pos_settings: {e}")))?,
                pos_secrets: opened,
                expirenza,
            },
            enabled: enabled != 0,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            version: r.try_get("version")?,
            id,
        })
    }
}

struct RawRow {
    secrets: BTreeMap<String, String>,
    channel_key: Option<String>,
    version: i64,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// The listener task of [`Registry::listen`].
async fn listen(url: String, cache: Weak<RegistryCache>) {
    use sqlx::postgres::PgListener;
    let mut backoff = Duration::from_millis(200);
    loop {
        let Some(c) = cache.upgrade() else { return };
        let mut listener = match PgListener::connect(&url).await {
            Ok(mut l) => match l.listen("posgate_registry").await {
                Ok(()) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN posgate_registry failed; checking the registry generation instead");
                    drop(c);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot connect to listen for registry changes; checking the registry generation instead");
                drop(c);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        // Listening from here on; what was cached before may have missed a change.
        c.listening.store(true, Ordering::SeqCst);
        c.forget(None);
        drop(c);
        backoff = Duration::from_millis(200);
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), listener.try_recv()).await;
            let Some(c) = cache.upgrade() else { return };
            match next {
                // Quiet: only look whether the cache still lives.
                Err(_) => {}
                Ok(Ok(Some(n))) => c.forget(Some(n.payload())),
                // The connection dropped and is being re-established: changes may be lost.
                Ok(Ok(None)) => c.forget(None),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the registry listener failed; checking the registry generation until it is back");
                    c.listening.store(false, Ordering::SeqCst);
                    c.forget(None);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::secrets::SecretsConfig;
    use crate::store::Store;

    /// A WSA restaurant in UAH, with an Expirenza channel `(resto_id, key)` when given.
    pub(crate) fn spec(expirenza: Option<(&str, &str)>) -> RestaurantSpec {
        RestaurantSpec {
            display_name: "R".into(),
            pos_kind: "wsa".into(),
            currency: "UAH".into(),
            currency_scale: 2,
            pos_settings: BTreeMap::new(),
            pos_secrets: BTreeMap::new(),
            expirenza: expirenza.map(|(resto, key)| ExpirenzaChannel {
                resto_id: resto.into(),
                ws_url: "ws://127.0.0.1:9/restaurantEntryPoint".into(),
                callback_base_url: "http://127.0.0.1:9".into(),
                secret_key: Secret::new(key),
                tips: "none".into(),
                tables: vec!["1".into(), "12".into()],
            }),
        }
    }

    /// A burst of PayBills on SQLite (each asks for the registry as of now) shares generation
    /// reads instead of queueing one each, and every one of them still sees a change made
    /// elsewhere before it asked.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_fresh_reads_shares_generation_reads_and_each_sees_an_earlier_change() {
        let dir = std::env::temp_dir().join(format!(
            "posgate-registry-burst-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/p.db", dir.display());
        let keys = Arc::new(SecretsConfig::dev().keyring().unwrap());
        let here = Store::open(&url, Arc::clone(&keys))
            .await
            .unwrap()
            .registry();
        let there = Store::open(&url, keys).await.unwrap().registry();
        there.create("r1", &spec(None), 1).await.unwrap();
        assert!(
            here.cached("r1", Freshness::Now)
                .await
                .unwrap()
                .unwrap()
                .enabled
        );
        there.disable("r1", 2).await.unwrap();
        let before = here.cache.reads.load(Ordering::SeqCst);
        // The 50 ask while a read is under way (the reader held here): on one poll each asks
        // and waits for it. How many reads follow then depends on no timing.
        let reading = here.cache.reader.lock().await;
        let burst = futures::future::join_all((0..50).map(|_| here.cached("r1", Freshness::Now)));
        tokio::pin!(burst);
        assert!(futures::poll!(&mut burst).is_pending());
        drop(reading);
        for a in burst.await {
            assert!(
                !a.unwrap().unwrap().enabled,
                "the change made before asking"
            );
        }
        let reads = here.cache.reads.load(Ordering::SeqCst) - before;
        assert_eq!(
            reads, 1,
            "50 callers who asked before it started share one read"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn channels_are_the_enabled_restaurants_with_one_keys_opened() {
        let keys = Arc::new(SecretsConfig::dev().keyring().unwrap());
        let reg = Store::open("sqlite::memory:", keys)
            .await
            .unwrap()
            .registry();
        reg.create("b", &spec(Some(("resto-b", "key-b"))), 1)
            .await
            .unwrap();
        reg.create("a", &spec(Some(("resto-a", "key-a"))), 1)
            .await
            .unwrap();
        reg.create("plain", &spec(None), 1).await.unwrap();
        reg.create("off", &spec(Some(("resto-off", "k"))), 1)
            .await
            .unwrap();
        reg.disable("off", 2).await.unwrap();
        // An update without a key keeps the stored one and bumps the version.
        reg.update("b", &spec(Some(("resto-b2", ""))), &[], None, 3)
            .await
            .unwrap();

        let set = reg.channels().await.unwrap();
        let seen: Vec<_> = set
            .iter()
            .map(|c| {
                (
                    c.restaurant_id.as_str(),
                    c.version,
                    c.channel.resto_id.as_str(),
                    c.channel.secret_key.expose(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [("a", 1, "resto-a", "key-a"), ("b", 2, "resto-b2", "key-b")]
        );
        assert_eq!(set[0].channel.tips, "none");
        assert_eq!(set[0].channel.tables, ["1", "12"], "tables kept");
    }

    #[test]
    fn a_channel_stored_before_tables_were_kept_reads_without_any() {
        let old = r#"{"resto_id":"r","ws_url":"ws://x","callback_base_url":"http://x","tips":"none","secret_key":"v1:dev:AAAA"}"#;
        let c: StoredChannel = serde_json::from_str(old).unwrap();
        assert!(c.channel.tables.is_empty());
        assert_eq!(c.channel.resto_id, "r");
    }
}
