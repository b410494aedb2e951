//! Durable payment state in SQLite (the embedded default) or PostgreSQL (several replicas share
//! one database), chosen by the URL. The statements are the same for both (`$n` parameters,
//! `ON CONFLICT`); only the migrations differ. Every write is one short statement or a
//! transaction that starts with a write, so concurrent callers never deadlock on SQLite's single
//! writer, and under PostgreSQL's row locks a conditional UPDATE re-checks its condition.
//!
//! Exactly-once rests on three things enforced here, not by read-then-write in the service:
//! - `idempotency_key` is UNIQUE: a repeat can never create a second payment;
//! - a worker *claims* a payment with a conditional UPDATE (lease), and every later write is
//!   fenced by `lease_owner`, so two workers never drive one payment;
//! - a bill has at most one payment posting to it at a time (`bill_locks` primary key).
//!
//! Card codes are kept because a payment may have to be posted again, so they are sealed with
//! the service's [`Keyring`] before they are written and opened when read, each bound to its
//! payment and tender ([`card_place`]): the database, its files and its backups hold no
//! plaintext card code. Rows from before sealing (`card_codes_sealed = 0`) are sealed when the
//! store opens; [`Store::rewrap_card_codes`] moves every code to the active key after a rotation.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use posgate_core::payment::Lifecycle;
use posgate_core::{Money, PayRequest, PaymentState, Step, Substate, TenderLine};
use posgate_secrets::Keyring;
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Row};

use crate::writer::Writers;

/// Connections to a SQLite file: the writer lane's, the registry reader's and two for the other
/// reads (point reads of a few rows, the scheduler's scan). Each is a thread of sqlx's with its
/// own page cache, and each thread that allocates gets a malloc arena of its own: with 8, the
/// payment service peaked ~10 MiB higher at 10,000 payments in flight, no faster at 16.
const SQLITE_CONNECTIONS: u32 = 4;

/// Writer lanes on PostgreSQL (each a connection committing batches); SQLite has one writer.
const POSTGRES_WRITE_LANES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row for payment {id}: {what}")]
    Corrupt { id: String, what: String },
    #[error("schema version {found} is older than this build's {expected}: not migrated")]
    Schema { found: i64, expected: i64 },
    #[error(
        "schema version {found} is newer than this build's {expected}: a newer build migrated the database; stop this one"
    )]
    NewerSchema { found: i64, expected: i64 },
    #[error("card code of payment {id}: {source}")]
    Sealing {
        id: String,
        source: posgate_secrets::SecretsError,
    },
}

/// The bill as read from the POS just before posting; reconciliation compares against it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillSnapshot {
    pub total: String,
    pub amount_due: String,
    pub paid: String,
    pub status: i32,
    pub pos_status: String,
    pub bill_printed: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredTender {
    tender_id: String,
    amount: String,
    #[serde(default)]
    card_code: String,
}

#[derive(Debug, Clone)]
pub struct PaymentRecord {
    pub id: String,
    pub request: PayRequest,
    pub lifecycle: Lifecycle,
    pub substate: Option<Substate>,
    pub pos_code: Option<String>,
    pub pos_text: Option<String>,
    pub pos_reference: Option<String>,
    pub bill_before: Option<BillSnapshot>,
    /// What the POS reported about the posting (e.g. applied discounts).
    pub pos_details: BTreeMap<String, String>,
    /// A write to the POS may be under way (recovery point saved just before sending).
    pub sending: bool,
    /// Unix ms when the POS left the current write unanswered.
    pub unknown_since: Option<i64>,
    pub attempts: u32,
    pub checks: u32,
    /// Unix ms.
    pub next_attempt_at: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

pub enum Inserted {
    New(PaymentRecord),
    Existing(PaymentRecord),
}

/// A lease a worker takes on a payment: by whom, until when (unix ms).
#[derive(Debug, Clone)]
pub struct Lease {
    pub owner: String,
    pub until: i64,
}

/// What a scan for work found: payments due now, and when the next one falls due.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// Ids of payments with work due now and no live lease, soonest first.
    pub ids: Vec<String>,
    /// Their restaurants, in the same order (a worker waits for its restaurant's slot before
    /// reading the payment).
    pub restaurants: Vec<String>,
    /// When the next payment not yet due falls due (unix ms); `None` when nothing is owed.
    /// `now` when more are due than the scan took: the scan after [`Due::last`] finds them.
    pub next_at: Option<i64>,
    /// Where this scan stopped (due time, id): the next page of a backlog starts after it.
    pub last: Option<DueKey>,
}

/// A position in the due order (due time, then id), to page through a backlog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueKey {
    pub due_at: i64,
    pub id: String,
}

/// Ids per statement when many leases are renewed at once (well under SQLite's parameter limit).
const RENEW_CHUNK: usize = 500;

/// Runs one store operation and records its time under `query` in
/// [`crate::metric_definitions::DB_QUERY_DURATION`].
pub(crate) async fn timed<T, E>(
    query: &'static str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let out = f.await;
    crate::metric_definitions::db_query(query, out.is_ok(), started.elapsed());
    out
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub restaurant_id: Option<String>,
    pub bill_id: Option<String>,
    pub states: Vec<PaymentState>,
    /// Return payments with ids after this one (ids are time-ordered).
    pub after_id: Option<String>,
    pub limit: u32,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    keys: Arc<Keyring>,
    /// What this process knows of the restaurant registry (shared by its [`Store::registry`]s).
    restaurants: Arc<crate::registry::RegistryCache>,
    /// Where payment writes go: group commit (see [`crate::writer`]).
    writers: Writers,
    /// The newest migration this build applies: what [`Store::check_health`] expects to find.
    schema: i64,
}

/// The newest version among a migrator's migrations.
fn newest(m: &sqlx::migrate::Migrator) -> i64 {
    m.iter().map(|m| m.version).max().unwrap_or(0)
}

const COLUMNS: &str = "id, idempotency_key, restaurant_id, bill_id, amount, tips, scale, tenders, card_codes_sealed, fiscal_data, close, points, pos_options, pos_details, sending, unknown_since, state, step, substate, pos_code, pos_text, pos_reference, bill_before, attempts, checks, next_attempt_at, version, created_at, updated_at";

/// Where a card code is sealed for: its payment and tender, so a sealed code copied to another
/// payment or tender does not open.
pub fn card_place(payment_id: &str, tender: usize) -> String {
    format!("payments.tenders.card_code/{payment_id}/{tender}")
}

/// Which rows a reseal pass visits, and what it does to their card codes.
#[derive(Clone, Copy)]
enum Reseal {
    /// Rows written before sealing: their plaintext codes are sealed.
    Legacy,
    /// Rows with a code sealed under any key: those not under the active key are rewrapped.
    Rotate,
}

impl Reseal {
    fn filter(self) -> &'static str {
        match self {
            Reseal::Legacy => "card_codes_sealed = 0",
            Reseal::Rotate => r#"tenders LIKE '%"card_code":"v1:%'"#,
        }
    }
}

/// Rows a reseal pass reads at once.
const RESEAL_PAGE: i64 = 200;

/// What a reseal pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Payments whose card codes were rewritten.
    pub changed: usize,
    /// Payments whose card codes could not be opened (e.g. their key is no longer configured),
    /// left as they were. After a rotation the old key must stay while any remain.
    pub failed: Vec<String>,
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://path/to/file.db` or
    /// `sqlite::memory:`), applies migrations and seals card codes left in plaintext by an
    /// earlier version. `keys` seal new card codes and open stored ones.
    /// The restaurant registry on the same database and keyring.
    pub fn registry(&self) -> crate::registry::Registry {
        crate::registry::Registry::new(
            self.pool.clone(),
            Arc::clone(&self.keys),
            Arc::clone(&self.restaurants),
        )
    }

    pub async fn open(url: &str, keys: Arc<Keyring>) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                // No ping before every use (a round trip per statement): a connection broken
                // by a server restart fails its statement, which every caller retries.
                .test_before_acquire(false)
                .connect(url)
                .await?;
            let migrator = sqlx::migrate!("./migrations/postgres");
            migrator.run(&pool).await?;
            let schema = newest(&migrator);
            let store = Store {
                writers: Writers::start(pool.clone(), POSTGRES_WRITE_LANES),
                pool,
                keys,
                schema,
                restaurants: Arc::default(),
            };
            store.reseal(Reseal::Legacy).await?;
            store.registry().listen(url);
            return Ok(store);
        }
        let memory = url.contains(":memory:");
        if !memory
            && let Some(path) = url
                .strip_prefix("sqlite://")
                .or(url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
        }
        let url = if url.contains('?') || memory {
            url.to_string()
        } else {
            format!("{url}?mode=rwc")
        };
        let pool = AnyPoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if memory { 1 } else { SQLITE_CONNECTIONS })
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL: readers never wait for the writer. FULL: a payment acknowledged to a
                    // caller survives power loss. busy_timeout: writers queue instead of failing.
                    for pragma in [
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA busy_timeout = 10000",
                        "PRAGMA foreign_keys = ON",
                    ] {
                        sqlx::query(pragma).execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.run(&pool).await?;
        let schema = newest(&migrator);
        let store = Store {
            // One writer: SQLite takes one at a time, and a queue in this process is cheaper
            // than connections sleeping in SQLite's busy handler.
            writers: Writers::start(pool.clone(), 1),
            pool,
            keys,
            schema,
            restaurants: Arc::default(),
        };
        if store.reseal(Reseal::Legacy).await?.changed > 0 {
            store.scrub_sqlite_file().await;
        }
        Ok(store)
    }

    /// Whether the database answers and carries this build's schema — what the service's health
    /// says (`SERVING` only while this holds) — and the payments in each of `states`: how many,
    /// and the oldest one's time basis (unix ms: when it went unanswered for outcome_unknown, its
    /// last change otherwise), for the gauges of the metrics page. One statement (an indexed
    /// read), run every `health_interval_ms`: with nothing to do, the service reads the database
    /// as little as it can. A newer schema is refused too: an older replica still running after
    /// a newer one migrated the database would write in the old way (migration 0007 moved
    /// history rows and bill releases into triggers), so it reports `NOT_SERVING` and load
    /// balancers stop sending it work.
    pub async fn check_health(
        &self,
        states: &[PaymentState],
    ) -> Result<Vec<(PaymentState, i64, Option<i64>)>, StoreError> {
        // The schema's row first (its state empty), then one row per state found.
        let mut sql = String::from(
            "SELECT '' AS state, (SELECT MAX(version) FROM _sqlx_migrations) AS n, CAST(NULL AS BIGINT) AS oldest",
        );
        if !states.is_empty() {
            let list = states
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            sql.push_str(&format!(
                " UNION ALL SELECT state, COUNT(*), MIN(COALESCE(unknown_since, updated_at)) FROM payments WHERE state IN ({list}) GROUP BY state"
            ));
        }
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        let mut found = 0;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let state: String = row.try_get(0)?;
            if state.is_empty() {
                found = row.try_get::<Option<i64>, _>(1)?.unwrap_or(0);
            } else if let Ok(state) = state.parse::<PaymentState>() {
                out.push((state, row.try_get(1)?, row.try_get(2)?));
            }
        }
        match found.cmp(&self.schema) {
            std::cmp::Ordering::Less => Err(StoreError::Schema {
                found,
                expected: self.schema,
            }),
            std::cmp::Ordering::Greater => Err(StoreError::NewerSchema {
                found,
                expected: self.schema,
            }),
            std::cmp::Ordering::Equal => Ok(out),
        }
    }

    /// The connection pool: (open connections, idle ones).
    pub fn pool_stats(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// After plaintext card codes were overwritten in a SQLite file, rewrites the file so their
    /// old bytes do not linger in free pages or the WAL. Best effort: the codes are sealed
    /// already; if another process keeps the file busy, the warning asks for a manual VACUUM.
    async fn scrub_sqlite_file(&self) {
        for stmt in ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"] {
            if let Err(e) = sqlx::query(stmt).execute(&self.pool).await {
                tracing::warn!(error = %e, "{stmt} after sealing card codes failed: old plaintext may remain in the file's free pages; run VACUUM on it when no service uses it");
                return;
            }
        }
    }

    /// Re-seals every card code not under the active key with it (after a key rotation; see
    /// README "Secrets at rest"). Returns how many payments were rewritten. Safe to run while
    /// the service runs and on several replicas: each row is replaced only if unchanged since
    /// it was read. Rows from before sealing that it meets are sealed too.
    pub async fn rewrap_card_codes(&self) -> Result<Resealed, StoreError> {
        self.reseal(Reseal::Rotate).await
    }

    /// One pass over the rows `how` selects, in id order, rewriting those whose card codes
    /// change. A row changed meanwhile by someone else (another replica's pass) is left to them.
    async fn reseal(&self, how: Reseal) -> Result<Resealed, StoreError> {
        let sql = format!(
            "SELECT id, tenders, card_codes_sealed FROM payments WHERE {} AND id > $1 ORDER BY id LIMIT $2",
            how.filter()
        );
        let mut after = String::new();
        let mut done = Resealed::default();
        loop {
            let rows = sqlx::query(&sql)
                .bind(&after)
                .bind(RESEAL_PAGE)
                .fetch_all(&self.pool)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id")?;
            for r in &rows {
                let id: String = r.try_get("id")?;
                let old: String = r.try_get("tenders")?;
                let legacy = r.try_get::<i64, _>("card_codes_sealed")? == 0;
                let new = match self.reseal_tenders(&id, &old, legacy) {
                    Ok(new) => new,
                    Err(e) => {
                        tracing::warn!(payment_id = %id, error = %e, "card codes left as they are");
                        done.failed.push(id);
                        continue;
                    }
                };
                if new.is_none() && !legacy {
                    continue;
                }
                let updated = sqlx::query(
                    "UPDATE payments SET tenders = $1, card_codes_sealed = 1 WHERE id = $2 AND tenders = $3",
                )
                .bind(new.as_deref().unwrap_or(&old))
                .bind(&id)
                .bind(&old)
                .execute(&self.pool)
                .await?
                .rows_affected();
                done.changed += usize::from(updated == 1 && new.is_some());
            }
        }
        if done.changed > 0 {
            tracing::info!(
                payments = done.changed,
                key = self.keys.active_id(),
                "card codes sealed with the active key"
            );
        }
        Ok(done)
    }

    /// The tenders JSON with plaintext codes sealed (`seal_plain`: a row from before sealing)
    /// and codes under an old key rewrapped; `None` when nothing changes.
    fn reseal_tenders(
        &self,
        id: &str,
        json: &str,
        seal_plain: bool,
    ) -> Result<Option<String>, StoreError> {
        let mut tenders: Vec<StoredTender> =
            serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
                id: id.to_string(),
                what: tenders_error(&e),
            })?;
        let mut changed = false;
        for (i, t) in tenders.iter_mut().enumerate() {
            let place = card_place(id, i);
            let code = &t.card_code;
            let new = if self.keys.is_stale(code) {
                self.keys.rewrap(code, &place)
            } else if seal_plain && !code.is_empty() && !posgate_secrets::is_sealed(code) {
                self.keys.seal(code, &place)
            } else {
                continue;
            };
            t.card_code = new.map_err(|source| StoreError::Sealing {
                id: id.to_string(),
                source,
            })?;
            changed = true;
        }
        if !changed {
            return Ok(None);
        }
        serde_json::to_string(&tenders)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                id: id.to_string(),
                what: tenders_error(&e),
            })
    }

    /// Stores a new payment, or returns the one already stored under its idempotency key.
    pub async fn insert(
        &self,
        id: &str,
        req: &PayRequest,
        now: i64,
    ) -> Result<Inserted, StoreError> {
        Ok(self.insert_leased(id, req, now, None).await?.0)
    }

    /// [`Store::insert`], and when `lease` is given a new payment is stored already leased to
    /// its worker, and the same statement takes its bill when no other payment holds it (a
    /// trigger, migration 0008): the worker starts posting without claiming the payment or the
    /// bill again. Returns whether the bill was asked for (a new, leased payment): whether it
    /// was *taken* is proven by the posting's recovery point, which is refused unless the
    /// payment holds its bill ([`Store::save_step`]). A new payment is returned as built, not
    /// read back.
    pub async fn insert_leased(
        &self,
        id: &str,
        req: &PayRequest,
        now: i64,
        lease: Option<&Lease>,
    ) -> Result<(Inserted, bool), StoreError> {
        timed("insert", self.insert_inner(id, req, now, lease)).await
    }

    async fn insert_inner(
        &self,
        id: &str,
        req: &PayRequest,
        now: i64,
        lease: Option<&Lease>,
    ) -> Result<(Inserted, bool), StoreError> {
        let tenders = req
            .tenders
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(StoredTender {
                    tender_id: t.tender_id.clone(),
                    amount: t.amount.to_string(),
                    card_code: match t.card_code.as_str() {
                        "" => String::new(),
                        code => self.keys.seal(code, &card_place(id, i)).map_err(|source| {
                            StoreError::Sealing {
                                id: id.to_string(),
                                source,
                            }
                        })?,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let lc = Lifecycle::new(req.close);
        let row = Arc::new(NewRow {
            id: id.to_string(),
            req: req.clone(),
            tenders: serde_json::to_string(&tenders).unwrap_or_else(|_| "[]".into()),
            lease: lease.cloned(),
            now,
            lc,
        });
        let keys = Arc::clone(&self.keys);
        // One statement that writes (a read follows only when the key was taken already).
        let outcome = self
            .writers
            .write_single(id, move |conn| {
                insert_row(conn, Arc::clone(&row), Arc::clone(&keys)).boxed()
            })
            .await?;
        if let InsertOutcome::Existing(rec) = outcome {
            return Ok((Inserted::Existing(*rec), false));
        }
        let bill_asked = lease.is_some();
        let rec = PaymentRecord {
            id: id.to_string(),
            request: req.clone(),
            lifecycle: lc,
            substate: None,
            pos_code: None,
            pos_text: None,
            pos_reference: None,
            bill_before: None,
            pos_details: BTreeMap::new(),
            sending: false,
            unknown_since: None,
            attempts: 0,
            checks: 0,
            next_attempt_at: now,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        Ok((Inserted::New(rec), bill_asked))
    }

    pub async fn get(&self, id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        let row = timed(
            "get",
            sqlx::query(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool),
        )
        .await?;
        row.map(|r| decode(&r, &self.keys)).transpose()
    }

    pub async fn get_by_key(&self, key: &str) -> Result<Option<PaymentRecord>, StoreError> {
        let row = timed(
            "get_by_key",
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM payments WHERE idempotency_key = $1"
            ))
            .bind(key)
            .fetch_optional(&self.pool),
        )
        .await?;
        row.map(|r| decode(&r, &self.keys)).transpose()
    }

    pub async fn list(&self, f: &ListFilter) -> Result<Vec<PaymentRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM payments WHERE 1 = 1");
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.restaurant_id.is_some() {
            sql.push_str(&format!(" AND restaurant_id = {}", next()));
        }
        if f.bill_id.is_some() {
            sql.push_str(&format!(" AND bill_id = {}", next()));
        }
        if !f.states.is_empty() {
            let marks: Vec<String> = f.states.iter().map(|_| next()).collect();
            sql.push_str(&format!(" AND state IN ({})", marks.join(", ")));
        }
        if f.after_id.is_some() {
            sql.push_str(&format!(" AND id > {}", next()));
        }
        sql.push_str(&format!(" ORDER BY id LIMIT {}", next()));
        let mut q = sqlx::query(&sql);
        if let Some(r) = &f.restaurant_id {
            q = q.bind(r);
        }
        if let Some(b) = &f.bill_id {
            q = q.bind(b);
        }
        for s in &f.states {
            q = q.bind(s.as_str());
        }
        if let Some(a) = &f.after_id {
            q = q.bind(a);
        }
        q = q.bind(i64::from(f.limit));
        let rows = timed("list", q.fetch_all(&self.pool)).await?;
        rows.iter().map(|r| decode(r, &self.keys)).collect()
    }

    /// The scheduler's one read: payments due now (at most `limit`) and when the next falls
    /// due. A leased payment falls due when its lease ends (its worker may have died), so a long
    /// POS call does not keep the scheduler reading. Reads only payments owed work (the partial
    /// `payments_due` index), never the finished ones, however many are stored.
    pub async fn scan_due(&self, now: i64, limit: u32) -> Result<Due, StoreError> {
        self.scan_due_after(now, limit, None).await
    }

    /// [`Store::scan_due`] from after `after` in the due order (due time, then id): a backlog
    /// larger than one scan (a shift opening with thousands of payments due at once) is read
    /// page by page instead of the same first page again while its payments wait for their
    /// restaurants' slots.
    pub async fn scan_due_after(
        &self,
        now: i64,
        limit: u32,
        after: Option<&DueKey>,
    ) -> Result<Due, StoreError> {
        let (after_at, after_id) = after.map_or((i64::MIN, ""), |k| (k.due_at, k.id.as_str()));
        let rows = timed(
            "scan_due",
            sqlx::query(
                "SELECT id, restaurant_id, due_at FROM (
                   SELECT id, restaurant_id,
                          CASE WHEN lease_until > next_attempt_at THEN lease_until ELSE next_attempt_at END AS due_at
                   FROM payments WHERE step <> 'done' AND state <> 'needs_attention') owed
                 WHERE due_at > $2 OR (due_at = $2 AND id > $3)
                 ORDER BY due_at, id LIMIT $1",
            )
            .bind(i64::from(limit) + 1)
            .bind(after_at)
            .bind(after_id)
            .fetch_all(&self.pool),
        )
        .await?;
        let mut due = Due::default();
        for row in &rows {
            let at: i64 = row.try_get(2)?;
            if at > now {
                due.next_at = Some(at);
                break;
            }
            if due.ids.len() == limit as usize {
                // More are due than one scan takes: the next scan is due at once.
                due.next_at = Some(now);
                break;
            }
            let id: String = row.try_get(0)?;
            due.last = Some(DueKey {
                due_at: at,
                id: id.clone(),
            });
            due.ids.push(id);
            due.restaurants.push(row.try_get(1)?);
        }
        Ok(due)
    }

    /// Extends every lease `owner` holds among `ids` (the payments its workers are driving) in
    /// a few statements however many there are: one replica's heartbeat. A payment whose lease
    /// was taken over is not touched (its old worker's writes are refused anyway). Returns how
    /// many leases were extended.
    pub async fn renew_many(
        &self,
        ids: &[String],
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut renewed = 0;
        for part in self.writers.by_lane(ids) {
            for chunk in part.chunks(RENEW_CHUNK) {
                let marks = (0..chunk.len())
                    .map(|i| format!("${}", i + 3))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "UPDATE payments SET lease_until = $1 WHERE lease_owner = $2 AND id IN ({marks})"
                );
                let (key, chunk, owner) = (chunk[0].clone(), chunk.to_vec(), owner.to_string());
                // In the lane of these payments: a renewal never waits on another lane's rows
                // while that lane waits on it.
                renewed += timed(
                    "renew_many",
                    self.writers.write_single(&key, move |conn| {
                        let (sql, chunk, owner) = (sql.clone(), chunk.clone(), owner.clone());
                        async move {
                            let mut q = sqlx::query(&sql).bind(now + lease_ms).bind(owner);
                            for id in &chunk {
                                q = q.bind(id);
                            }
                            Ok(q.execute(conn).await?.rows_affected())
                        }
                        .boxed()
                    }),
                )
                .await?;
            }
        }
        Ok(renewed)
    }

    /// Takes the payment for `owner` until `now + lease_ms`, if its work is due and no live
    /// lease is held. Returns the payment as claimed.
    pub async fn claim(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let (id_, owner) = (id.to_string(), owner.to_string());
        let claimed = timed(
            "claim",
            self.writers.write_single(id, move |conn| {
                let (id, owner) = (id_.clone(), owner.clone());
                async move {
                    Ok(sqlx::query(
                        "UPDATE payments SET lease_owner = $1, lease_until = $2, release_bill = 0
                         WHERE id = $3 AND step <> 'done' AND state <> 'needs_attention' AND next_attempt_at <= $4
                           AND (lease_until IS NULL OR lease_until < $5)",
                    )
                    .bind(owner)
                    .bind(now + lease_ms)
                    .bind(id)
                    .bind(now)
                    .bind(now)
                    .execute(conn)
                    .await?
                    .rows_affected()
                        == 1)
                }
                .boxed()
            }),
        )
        .await?;
        if claimed {
            self.get(id).await
        } else {
            Ok(None)
        }
    }

    /// Extends a lease this worker still holds (a long POS call is under way), so a short lease
    /// never expires under a live worker. False when the lease is someone else's now. Touches
    /// neither the version nor the payment: only `lease_until`.
    pub async fn renew(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        Ok(timed(
            "renew",
            sqlx::query("UPDATE payments SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
                .bind(now + lease_ms)
                .bind(id)
                .bind(owner)
                .execute(&self.pool),
        )
        .await?
        .rows_affected()
            == 1)
    }

    /// Writes a worker's change to a payment it holds. Fenced by the lease: a worker whose lease
    /// was taken over writes nothing and gets `false`. `release` gives the lease up.
    pub async fn save(
        &self,
        rec: &PaymentRecord,
        owner: &str,
        now: i64,
        release: bool,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.save_step(rec, owner, now, release, false, note).await
    }

    /// [`Store::save`], and with `unlock_bill` the payment's hold on its bill is let go in the
    /// same transaction (the step that ends the payment's business with the bill). A posting's
    /// recovery point (posting, `sending`) is also refused unless the payment holds its bill:
    /// nothing goes to the POS without it ([`Store::bill_holder`] tells which it was).
    pub async fn save_step(
        &self,
        rec: &PaymentRecord,
        owner: &str,
        now: i64,
        release: bool,
        unlock_bill: bool,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        let change = change(rec, owner, now, release, unlock_bill, note);
        self.write_change(&rec.id, change).await
    }

    /// The recovery point of a posting whose bill was read before the payment held it (while
    /// it was stored: [`crate::engine::Engine::read_bill_ahead`]): refused as
    /// [`Store::save_step`]'s is, and also while any other payment of the bill is stored. One
    /// of them may have posted to the bill around that read; if none is stored, none has (a
    /// payment is never deleted, and none posts without its bill, which this one has held since
    /// before this statement) and the read tells what one made now would.
    pub async fn save_sending_read_ahead(
        &self,
        rec: &PaymentRecord,
        owner: &str,
        now: i64,
        note: &str,
    ) -> Result<bool, StoreError> {
        let mut change = change(rec, owner, now, false, false, Some(note));
        change.bill_unshared = true;
        self.write_change(&rec.id, change).await
    }

    async fn write_change(&self, id: &str, change: Change) -> Result<bool, StoreError> {
        let change = Arc::new(change);
        // One statement: the history row and the bill's release are its triggers'.
        let saved = self
            .writers
            .write_single(id, move |conn| save_row(conn, Arc::clone(&change)).boxed());
        timed("save", saved).await
    }

    /// Gives up a lease without changing the payment (e.g. the bill is busy), due again at `next_at`.
    pub async fn release(&self, id: &str, owner: &str, next_at: i64) -> Result<(), StoreError> {
        let (id_, owner) = (id.to_string(), owner.to_string());
        timed(
            "release",
            self.writers.write_single(id, move |conn| {
                let (id, owner) = (id_.clone(), owner.clone());
                async move {
                    sqlx::query(
                        "UPDATE payments SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $1
                         WHERE id = $2 AND lease_owner = $3",
                    )
                    .bind(next_at)
                    .bind(id)
                    .bind(owner)
                    .execute(conn)
                    .await?;
                    Ok(())
                }
                .boxed()
            }),
        )
        .await
    }

    /// Takes the bill for this payment. True if this payment holds it now (also when it already did).
    pub async fn lock_bill(
        &self,
        restaurant_id: &str,
        bill_id: &str,
        payment_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (r, b, p) = (
            restaurant_id.to_string(),
            bill_id.to_string(),
            payment_id.to_string(),
        );
        timed(
            "lock_bill",
            self.writers.write(payment_id, move |conn| {
                let (r, b, p) = (r.clone(), b.clone(), p.clone());
                async move { lock_bill_in(conn, &r, &b, &p, now).await }.boxed()
            }),
        )
        .await
    }

    /// The payment holding the bill, if any (read, outside the writers).
    pub async fn bill_holder(
        &self,
        restaurant_id: &str,
        bill_id: &str,
    ) -> Result<Option<String>, StoreError> {
        timed(
            "bill_holder",
            sqlx::query_scalar(
                "SELECT payment_id FROM bill_locks WHERE restaurant_id = $1 AND bill_id = $2",
            )
            .bind(restaurant_id)
            .bind(bill_id)
            .fetch_optional(&self.pool),
        )
        .await
        .map_err(StoreError::from)
    }

    pub async fn unlock_bill(
        &self,
        restaurant_id: &str,
        bill_id: &str,
        payment_id: &str,
    ) -> Result<(), StoreError> {
        let (r, b, p) = (
            restaurant_id.to_string(),
            bill_id.to_string(),
            payment_id.to_string(),
        );
        timed(
            "unlock_bill",
            self.writers.write_single(payment_id, move |conn| {
                let (r, b, p) = (r.clone(), b.clone(), p.clone());
                async move { unlock_bill_in(conn, &r, &b, &p).await }.boxed()
            }),
        )
        .await
    }

    /// The payment's history: (version, unix ms, state, step, substate, note).
    pub async fn history(
        &self,
        id: &str,
    ) -> Result<Vec<(i64, i64, String, String, Option<String>, Option<String>)>, StoreError> {
        let rows = timed(
            "history",
            sqlx::query(
                "SELECT version, at, state, step, substate, note FROM payment_events WHERE payment_id = $1 ORDER BY version",
            )
            .bind(id)
            .fetch_all(&self.pool),
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect())
    }
}

/// A new payment as the insert writes it (card codes already sealed in `tenders`).
struct NewRow {
    id: String,
    req: PayRequest,
    tenders: String,
    lease: Option<Lease>,
    now: i64,
    lc: Lifecycle,
}

enum InsertOutcome {
    New,
    Existing(Box<PaymentRecord>),
}

/// The insert's write: the payment, and by its triggers its first history row and (leased) its
/// bill when free; or the payment already stored under its key (read after the insert did
/// nothing: in a batch, in the same transaction, as it may be in this very batch).
async fn insert_row(
    conn: &mut AnyConnection,
    row: Arc<NewRow>,
    keys: Arc<Keyring>,
) -> Result<InsertOutcome, StoreError> {
    let (req, lc, now) = (&row.req, row.lc, row.now);
    let inserted = sqlx::query(
        "INSERT INTO payments (id, idempotency_key, restaurant_id, bill_id, amount, tips, scale, tenders, card_codes_sealed, fiscal_data, close, points, pos_options, state, step, next_attempt_at, version, created_at, updated_at, lease_owner, lease_until, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, $11, $12, $13, $14, $15, 1, $16, $17, $18, $19, 'accepted')
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&row.id)
    .bind(&req.idempotency_key)
    .bind(&req.restaurant_id)
    .bind(&req.bill_id)
    .bind(req.amount.to_string())
    .bind(req.tips.to_string())
    .bind(req.amount.scale() as i64)
    .bind(&row.tenders)
    .bind(serde_json::to_string(&req.fiscal_data).unwrap_or_else(|_| "{}".into()))
    .bind(i64::from(req.close))
    .bind(req.points.to_string())
    .bind(serde_json::to_string(&req.pos_options).unwrap_or_else(|_| "{}".into()))
    .bind(lc.state.as_str())
    .bind(lc.step.as_str())
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(row.lease.as_ref().map(|l| l.owner.clone()))
    .bind(row.lease.as_ref().map(|l| l.until))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !inserted {
        let found = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM payments WHERE idempotency_key = $1"
        ))
        .bind(&req.idempotency_key)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::Corrupt {
            id: row.id.clone(),
            what: "the payment holding this idempotency key vanished".into(),
        })?;
        return Ok(InsertOutcome::Existing(Box::new(decode(&found, &keys)?)));
    }
    // Its history row (migration 0007) and, leased, its bill (0008) are the insert's triggers'.
    Ok(InsertOutcome::New)
}

/// A worker's change to a payment, as [`Store::save_step`] writes it: the columns a step
/// changes, not a copy of the whole payment (its request never changes after the insert).
struct Change {
    id: String,
    state: &'static str,
    step: &'static str,
    substate: Option<&'static str>,
    pos_code: Option<String>,
    pos_text: Option<String>,
    pos_reference: Option<String>,
    /// JSON, as stored.
    bill_before: Option<String>,
    /// JSON, as stored.
    pos_details: String,
    attempts: i64,
    checks: i64,
    next_attempt_at: i64,
    sending: i64,
    unknown_since: Option<i64>,
    /// The version this change was made from: the write is refused unless it is still current.
    version: i64,
    owner: String,
    now: i64,
    release: bool,
    unlock_bill: bool,
    /// The posting's recovery point: refused unless the payment holds its bill.
    needs_bill: bool,
    note: Option<String>,
    /// Refused while another payment of the bill is stored ([`Store::save_sending_read_ahead`]).
    bill_unshared: bool,
}

/// The change a save writes, from the payment as its worker has it.
fn change(
    rec: &PaymentRecord,
    owner: &str,
    now: i64,
    release: bool,
    unlock_bill: bool,
    note: Option<&str>,
) -> Change {
    Change {
        id: rec.id.clone(),
        state: rec.lifecycle.state.as_str(),
        step: rec.lifecycle.step.as_str(),
        substate: rec.substate.map(|s| s.as_str()),
        pos_code: rec.pos_code.clone(),
        pos_text: rec.pos_text.clone(),
        pos_reference: rec.pos_reference.clone(),
        bill_before: rec
            .bill_before
            .as_ref()
            .map(|b| serde_json::to_string(b).unwrap_or_default()),
        pos_details: serde_json::to_string(&rec.pos_details).unwrap_or_else(|_| "{}".into()),
        attempts: i64::from(rec.attempts),
        checks: i64::from(rec.checks),
        next_attempt_at: rec.next_attempt_at,
        sending: i64::from(rec.sending),
        unknown_since: rec.unknown_since,
        version: rec.version,
        owner: owner.to_string(),
        now,
        release,
        unlock_bill,
        needs_bill: rec.sending && rec.lifecycle.state == PaymentState::Posting,
        note: note.map(str::to_string),
        bill_unshared: false,
    }
}

/// The save's write: fenced by lease owner and version; with its history row (and the bill's
/// release) only if the payment was still this worker's.
async fn save_row(conn: &mut AnyConnection, c: Arc<Change>) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE payments SET state = $1, step = $2, substate = $3, pos_code = $4, pos_text = $5, pos_reference = $6,
                bill_before = $7, pos_details = $8, attempts = $9, checks = $10, next_attempt_at = $11, version = $12, updated_at = $13,
                lease_owner = CASE WHEN $14 THEN NULL ELSE lease_owner END,
                lease_until = CASE WHEN $15 THEN NULL ELSE lease_until END,
                sending = $16, unknown_since = $17, note = $21, release_bill = $22
         WHERE id = $18 AND lease_owner = $19 AND version = $20
           AND ($23 = 0 OR EXISTS (SELECT 1 FROM bill_locks b
                                   WHERE b.restaurant_id = payments.restaurant_id
                                     AND b.bill_id = payments.bill_id AND b.payment_id = payments.id))
           AND ($24 = 0 OR NOT EXISTS (SELECT 1 FROM payments o
                                       WHERE o.restaurant_id = payments.restaurant_id
                                         AND o.bill_id = payments.bill_id AND o.id <> payments.id))",
    )
    .bind(c.state)
    .bind(c.step)
    .bind(c.substate)
    .bind(&c.pos_code)
    .bind(&c.pos_text)
    .bind(&c.pos_reference)
    .bind(&c.bill_before)
    .bind(&c.pos_details)
    .bind(c.attempts)
    .bind(c.checks)
    .bind(c.next_attempt_at)
    .bind(c.version + 1)
    .bind(c.now)
    .bind(c.release)
    .bind(c.release)
    .bind(c.sending)
    .bind(c.unknown_since)
    .bind(&c.id)
    .bind(&c.owner)
    .bind(c.version)
    .bind(c.note.as_deref())
    .bind(i64::from(c.unlock_bill))
    .bind(i64::from(c.needs_bill))
    .bind(i64::from(c.bill_unshared))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    // The new version's history row, and the bill's release when asked, are the update
    // trigger's (migration 0007): nothing happens unless the fenced update did.
    Ok(updated)
}

/// Takes the bill for the payment inside `tx`: true if the payment holds it now (also when it
/// already did). The insert does nothing when another payment holds it.
async fn lock_bill_in(
    tx: &mut AnyConnection,
    restaurant_id: &str,
    bill_id: &str,
    payment_id: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let taken = sqlx::query(
        "INSERT INTO bill_locks (restaurant_id, bill_id, payment_id, acquired_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (restaurant_id, bill_id) DO NOTHING",
    )
    .bind(restaurant_id)
    .bind(bill_id)
    .bind(payment_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if taken {
        return Ok(true);
    }
    let holder: Option<String> = sqlx::query_scalar(
        "SELECT payment_id FROM bill_locks WHERE restaurant_id = $1 AND bill_id = $2",
    )
    .bind(restaurant_id)
    .bind(bill_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(holder.as_deref() == Some(payment_id))
}

/// Lets the bill go inside `tx`, if this payment holds it.
async fn unlock_bill_in(
    tx: &mut AnyConnection,
    restaurant_id: &str,
    bill_id: &str,
    payment_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM bill_locks WHERE restaurant_id = $1 AND bill_id = $2 AND payment_id = $3",
    )
    .bind(restaurant_id)
    .bind(bill_id)
    .bind(payment_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Why a tenders column did not parse, without serde's message: it may quote a card code.
fn tenders_error(e: &serde_json::Error) -> String {
    format!(
        "tenders: not the expected JSON (line {}, column {})",
        e.line(),
        e.column()
    )
}

fn decode(r: &AnyRow, keys: &Keyring) -> Result<PaymentRecord, StoreError> {
    let id: String = r.try_get("id")?;
    let corrupt = |what: String| StoreError::Corrupt {
        id: id.clone(),
        what,
    };
    let scale = r.try_get::<i64, _>("scale")? as u32;
    let money = |col: &str| -> Result<Money, StoreError> {
        let s: String = r.try_get(col)?;
        Money::parse(&s, scale).map_err(|e| corrupt(format!("{col}: {e}")))
    };
    let tenders: Vec<StoredTender> = serde_json::from_str(&r.try_get::<String, _>("tenders")?)
        .map_err(|e| corrupt(tenders_error(&e)))?;
    // A row from before sealing holds plaintext until the store next opens (e.g. written by an
    // older replica still running during the upgrade); any other unsealed code is refused.
    let legacy = r.try_get::<i64, _>("card_codes_sealed")? == 0;
    let tenders = tenders
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let card_code = match t.card_code {
                c if c.is_empty() || (legacy && !posgate_secrets::is_sealed(&c)) => c,
                c if posgate_secrets::is_sealed(&c) => {
                    keys.open(&c, &card_place(&id, i))
                        .map_err(|source| StoreError::Sealing {
                            id: id.clone(),
                            source,
                        })?
                }
                _ => return Err(corrupt(format!("tenders[{i}].card_code is not sealed"))),
            };
            Ok(TenderLine {
                amount: Money::parse(&t.amount, scale).map_err(|e| corrupt(e.to_string()))?,
                tender_id: t.tender_id,
                card_code,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let fiscal_data: BTreeMap<String, String> =
        serde_json::from_str(&r.try_get::<String, _>("fiscal_data")?)
            .map_err(|e| corrupt(format!("fiscal_data: {e}")))?;
    let close = r.try_get::<i64, _>("close")? != 0;
    let json_map = |col: &str| -> Result<BTreeMap<String, String>, StoreError> {
        serde_json::from_str(&r.try_get::<String, _>(col)?)
            .map_err(|e| corrupt(format!("{col}: {e}")))
    };
    let state = PaymentState::from_str(&r.try_get::<String, _>("state")?).map_err(corrupt)?;
    let step = Step::from_str(&r.try_get::<String, _>("step")?).map_err(corrupt)?;
    let substate = r
        .try_get::<Option<String>, _>("substate")?
        .map(|s| Substate::from_str(&s).map_err(corrupt))
        .transpose()?;
    let bill_before = r
        .try_get::<Option<String>, _>("bill_before")?
        .map(|s| serde_json::from_str(&s).map_err(|e| corrupt(format!("bill_before: {e}"))))
        .transpose()?;
    Ok(PaymentRecord {
        request: PayRequest {
            idempotency_key: r.try_get("idempotency_key")?,
            restaurant_id: r.try_get("restaurant_id")?,
            bill_id: r.try_get("bill_id")?,
            amount: money("amount")?,
            tips: money("tips")?,
            tenders,
            fiscal_data,
            close,
            points: money("points")?,
            pos_options: json_map("pos_options")?,
        },
        pos_details: json_map("pos_details")?,
        sending: r.try_get::<i64, _>("sending")? != 0,
        unknown_since: r.try_get("unknown_since")?,
        lifecycle: Lifecycle { state, step, close },
        substate,
        pos_code: r.try_get("pos_code")?,
        pos_text: r.try_get("pos_text")?,
        pos_reference: r.try_get("pos_reference")?,
        bill_before,
        attempts: r.try_get::<i64, _>("attempts")? as u32,
        checks: r.try_get::<i64, _>("checks")? as u32,
        next_attempt_at: r.try_get("next_attempt_at")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        id,
    })
}
