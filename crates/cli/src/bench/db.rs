//! The payment service's database for one run: a fresh SQLite file, or a fresh database created
//! on the PostgreSQL server given (dropped afterwards). On PostgreSQL the server's own counters
//! (`pg_stat_database`) say how many transactions and row writes the payments cost, and
//! `pg_stat_activity` which server processes work for this database (their CPU time).

use std::path::Path;

use sqlx::{Connection, PgConnection, Row};

pub enum Database {
    Sqlite {
        url: String,
    },
    Postgres {
        url: String,
        admin: String,
        name: String,
    },
}

/// `pg_stat_database` counters of one database.
#[derive(Clone, Copy, Debug, Default)]
pub struct PgCounters {
    pub xact_commit: i64,
    pub xact_rollback: i64,
    pub tup_inserted: i64,
    pub tup_updated: i64,
    pub tup_deleted: i64,
}

impl PgCounters {
    pub fn since(&self, before: &PgCounters) -> PgCounters {
        PgCounters {
            xact_commit: self.xact_commit - before.xact_commit,
            xact_rollback: self.xact_rollback - before.xact_rollback,
            tup_inserted: self.tup_inserted - before.tup_inserted,
            tup_updated: self.tup_updated - before.tup_updated,
            tup_deleted: self.tup_deleted - before.tup_deleted,
        }
    }
}

impl Database {
    /// `spec` is `sqlite` (a file in `dir`) or a `postgres://` URL of a server (any database
    /// on it that the user can connect to; a new one is created beside it).
    pub async fn create(spec: &str, dir: &Path) -> anyhow::Result<Database> {
        if spec == "sqlite" {
            return Ok(Database::Sqlite {
                url: format!("sqlite://{}", dir.join("posgate.db").display()),
            });
        }
        anyhow::ensure!(
            spec.starts_with("postgres://") || spec.starts_with("postgresql://"),
            "--db: expected `sqlite` or a postgres:// URL, got {:?}",
            redact(spec)
        );
        let name = format!(
            "posgate_bench_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let mut conn = PgConnection::connect(spec)
            .await
            .map_err(|e| anyhow::anyhow!("--db: cannot connect to {}: {e}", redact(spec)))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(|e| anyhow::anyhow!("--db: cannot create database {name}: {e}"))?;
        let _ = conn.close().await;
        Ok(Database::Postgres {
            url: with_database(spec, &name),
            admin: spec.to_string(),
            name,
        })
    }

    /// What the payment service is configured with.
    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite { url } | Database::Postgres { url, .. } => url,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }

    /// Stores `n` finished payments (closed, with one history row each, written by the
    /// database's history trigger) spread over
    /// `restaurants`, as a long-running service would have: what `--stored` measures against.
    /// Written in one statement per table (a few seconds per million rows).
    pub async fn prefill(&self, n: u64, restaurants: &[String]) -> anyhow::Result<()> {
        if n == 0 || restaurants.is_empty() {
            return Ok(());
        }
        let (series, cast) = match self {
            // `g.n` is 1..=n.
            Database::Sqlite { .. } => (
                format!(
                    "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {n}) SELECT"
                ),
                "",
            ),
            Database::Postgres { .. } => ("SELECT".to_string(), "::text"),
        };
        let from = match self {
            Database::Sqlite { .. } => "FROM g".to_string(),
            Database::Postgres { .. } => format!("FROM generate_series(1, {n}) AS g(n)"),
        };
        let restaurant = restaurants
            .iter()
            .enumerate()
            .map(|(i, r)| format!("WHEN {i} THEN '{}'", r.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(" ");
        let count = restaurants.len();
        let payments = format!(
            "INSERT INTO payments (id, idempotency_key, restaurant_id, bill_id, amount, tips, scale, tenders, card_codes_sealed, fiscal_data, close, points, pos_options, state, step, attempts, next_attempt_at, version, created_at, updated_at, note)
             {series} 'stored-' || g.n{cast}, 'stored-' || g.n{cast}, CASE g.n % {count} {restaurant} END, 'stored-bill-' || g.n{cast}, '100.00', '0.00', 2, '[]', 1, '{{}}', 1, '0.00', '{{}}', 'closed', 'done', 1, 0, 3, 1, 1, 'the POS booked the payment'
             {from}"
        );
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(self.url()).await?;
        for sql in [payments, "ANALYZE".to_string()] {
            sqlx::query(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| anyhow::anyhow!("--stored: {e}"))?;
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// The counters of this run's database (PostgreSQL only), fresh from the statistics (a
    /// backend reports its counts when its transaction ends, at most once a second, and when
    /// it exits).
    pub async fn counters(&self) -> anyhow::Result<Option<PgCounters>> {
        let Database::Postgres { admin, name, .. } = self else {
            return Ok(None);
        };
        let mut conn = PgConnection::connect(admin).await?;
        let row = sqlx::query(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted \
             FROM pg_stat_database WHERE datname = $1",
        )
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
        let _ = conn.close().await;
        Ok(Some(PgCounters {
            xact_commit: row.try_get(0)?,
            xact_rollback: row.try_get(1)?,
            tup_inserted: row.try_get(2)?,
            tup_updated: row.try_get(3)?,
            tup_deleted: row.try_get(4)?,
        }))
    }

    /// Process ids of the server processes connected to this run's database.
    pub async fn backends(&self) -> anyhow::Result<Vec<u32>> {
        let Database::Postgres { admin, name, .. } = self else {
            return Ok(Vec::new());
        };
        let mut conn = PgConnection::connect(admin).await?;
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .fetch_all(&mut conn)
        .await?;
        let _ = conn.close().await;
        Ok(pids
            .into_iter()
            .filter_map(|p| u32::try_from(p).ok())
            .collect())
    }

    /// Waits (up to `secs`) until no server process is connected to this run's database, so
    /// every one has reported its counts.
    pub async fn wait_disconnected(&self, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            match self.backends().await {
                Ok(b) if b.is_empty() => return,
                Err(_) => return,
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
            }
        }
    }

    /// Drops the run's PostgreSQL database (the SQLite file goes with the run's folder).
    pub async fn drop_db(&self) {
        if let Database::Postgres { admin, name, .. } = self
            && let Ok(mut conn) = PgConnection::connect(admin).await
        {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

/// `url` with its database (the path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let host_start = rest.find('/').unwrap_or(rest.len());
    match rest[..host_start].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end], &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_beside_the_given_one() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/test", "b1"),
            "postgres://u:p@h:5432/b1"
        );
        assert_eq!(with_database("postgres://h", "b1"), "postgres://h/b1");
        assert_eq!(
            with_database("postgres://h/x?sslmode=disable", "b1"),
            "postgres://h/b1?sslmode=disable"
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
