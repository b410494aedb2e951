//! Group commit for the payment store: writes are handed to a few writer lanes, and each lane
//! runs every write waiting at that moment in **one** transaction, then answers each write once
//! the transaction has committed. Under load many payments share one commit (one `fsync`
//! instead of many); alone, a write is committed at once, as before.
//!
//! Why: each payment's durability points (accepted, the recovery point before the POS write,
//! the outcome) are commits, and a commit is the expensive part of a write — on SQLite it also
//! holds the only write lock, and several connections competing for it sleep in SQLite's busy
//! handler. With lanes, SQLite has exactly one writer connection (no competition at all) and
//! PostgreSQL a few.
//!
//! A write is a closure run on the lane's transaction; it may run twice: if anything in a batch
//! fails, the batch is rolled back and each write is run again in its own transaction, so one
//! bad write never fails the others. A write's answer is delivered only after its commit, so a
//! caller never acts on something that may still be rolled back. Writes to one payment go
//! through one lane (chosen by a key), in the order they were handed over.
//!
//! A write made of one statement ([`Writers::write_single`]: a save, whose history row and bill
//! release are triggers of that statement) that finds its lane idle runs on its own in
//! autocommit: one round trip instead of BEGIN, the statement and COMMIT. One statement is
//! atomic and durable by itself.
//!
//! A lane keeps its connection between writes ([`Kept`]): taking one from sqlx's pool and giving
//! it back for each write cost ~0.1 ms and ~100 µs of CPU per write (sqlx hands a returned
//! connection to a task of its own), measured on SQLite against a held connection (autocommit
//! UPDATE p50 0.33 → 0.21 ms, CPU 233 → 113–133 µs).

use std::any::Any;
use std::time::Instant;

use futures::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, AnyPool, Connection as _};
use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;

/// A write's answer, type-erased for the lane.
type Answer = Result<Box<dyn Any + Send>, StoreError>;

/// A write: run on the lane's transaction; may be run again (see the module comment).
type WriteFn = Box<dyn for<'c> FnMut(&'c mut AnyConnection) -> BoxFuture<'c, Answer> + Send>;

struct Job {
    run: WriteFn,
    reply: oneshot::Sender<Answer>,
    /// One statement: alone, it needs no explicit transaction.
    single: bool,
}

/// Most writes one transaction takes.
const MAX_BATCH: usize = 256;

/// The writer lanes of one store.
#[derive(Clone)]
pub(crate) struct Writers {
    lanes: Vec<mpsc::UnboundedSender<Job>>,
}

impl Writers {
    /// Starts `lanes` writer tasks over `pool` (they end when the last handle is dropped), each
    /// keeping a connection of its own between writes (see the module comment).
    pub(crate) fn start(pool: AnyPool, lanes: usize) -> Writers {
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(lane(
                    Lane {
                        pool: pool.clone(),
                        kept: Kept::default(),
                    },
                    rx,
                ));
                tx
            })
            .collect();
        Writers { lanes }
    }

    /// Runs `write` in the lane of `key` (a payment id: one payment's writes keep their order)
    /// and returns its answer once committed.
    pub(crate) async fn write<T, F>(&self, key: &str, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnMut(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.send(key, write, false).await
    }

    /// [`Writers::write`] for a write that runs exactly one statement (its triggers included):
    /// alone in its lane, it is run in autocommit (see the module comment).
    pub(crate) async fn write_single<T, F>(&self, key: &str, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnMut(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        self.send(key, write, true).await
    }

    async fn send<T, F>(&self, key: &str, mut write: F, single: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnMut(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let lane = &self.lanes[lane_of(key, self.lanes.len())];
        let (reply, answer) = oneshot::channel();
        let run: WriteFn = Box::new(move |conn| {
            let fut = write(conn);
            Box::pin(async move { fut.await.map(|t| Box::new(t) as Box<dyn Any + Send>) })
        });
        lane.send(Job { run, reply, single })
            .map_err(|_| closed())?;
        let answer = answer.await.map_err(|_| closed())??;
        answer
            .downcast::<T>()
            .map(|t| *t)
            .map_err(|_| StoreError::Corrupt {
                id: key.to_string(),
                what: "a write answered with the wrong type".into(),
            })
    }
}

impl Writers {
    /// Splits `keys` by the lane their writes take, so a write touching many payments (the
    /// heartbeat's lease renewal) runs one part per lane, in that lane's order: two lanes never
    /// wait on each other's rows.
    pub(crate) fn by_lane(&self, keys: &[String]) -> Vec<Vec<String>> {
        let mut parts = vec![Vec::new(); self.lanes.len()];
        for k in keys {
            parts[lane_of(k, self.lanes.len())].push(k.clone());
        }
        parts.retain(|p| !p.is_empty());
        parts
    }
}

fn closed() -> StoreError {
    StoreError::Db(sqlx::Error::PoolClosed)
}

/// Which lane a key's writes take (FNV-1a: stable, cheap, spreads uuids evenly).
fn lane_of(key: &str, lanes: usize) -> usize {
    if lanes <= 1 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % lanes as u64) as usize
}

/// A connection kept between uses, where taking one from sqlx's pool and giving it back each
/// time costs more than the statement (see the module comment). Given back after a failed use
/// (the pool drops a broken one; the next use takes another), and never kept from a pool of
/// one connection (SQLite `:memory:`), whose other users need it too.
#[derive(Default)]
pub(crate) struct Kept(Option<PoolConnection<sqlx::Any>>);

impl Kept {
    /// The kept connection, or one taken from `pool` now.
    pub(crate) async fn connection(
        &mut self,
        pool: &AnyPool,
    ) -> Result<&mut PoolConnection<sqlx::Any>, sqlx::Error> {
        if self.0.is_none() {
            self.0 = Some(pool.acquire().await?);
        }
        self.0.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// After a use: keeps the connection if the use went through and `pool` has others.
    pub(crate) fn done(&mut self, pool: &AnyPool, ok: bool) {
        if !ok || pool.options().get_max_connections() <= 1 {
            self.0 = None;
        }
    }
}

/// A lane's way to the database: its pool, and the connection it keeps between writes.
struct Lane {
    pool: AnyPool,
    kept: Kept,
}

impl Lane {
    async fn connection(&mut self) -> Result<&mut PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.kept.connection(&self.pool).await?)
    }

    fn done(&mut self, ok: bool) {
        self.kept.done(&self.pool, ok);
    }
}

/// One lane: takes what is waiting, commits it together, answers.
async fn lane(mut lane: Lane, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        crate::metric_definitions::write_batch(jobs.len());
        if jobs.len() > 1 {
            let answers = batch(&mut lane, &mut jobs).await;
            lane.done(answers.is_ok());
            match answers {
                Ok(answers) => {
                    for (job, answer) in jobs.into_iter().zip(answers) {
                        let _ = job.reply.send(Ok(answer));
                    }
                    crate::metric_definitions::db_query("write_batch", true, started.elapsed());
                    continue;
                }
                Err(e) => {
                    crate::metric_definitions::db_query("write_batch", false, started.elapsed());
                    tracing::debug!(error = %e, writes = jobs.len(), "a batch of writes failed; writing each alone");
                }
            }
        }
        for mut job in jobs {
            let answer = alone(&mut lane, &mut job).await;
            lane.done(answer.is_ok());
            let _ = job.reply.send(answer);
        }
    }
}

/// Every job in one transaction; any failure rolls all of it back.
async fn batch(lane: &mut Lane, jobs: &mut [Job]) -> Result<Vec<Box<dyn Any + Send>>, StoreError> {
    let mut tx = lane.connection().await?.begin().await?;
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs.iter_mut() {
        answers.push((job.run)(&mut tx).await?);
    }
    tx.commit().await?;
    Ok(answers)
}

/// One job in its own transaction (one statement: in autocommit, its own transaction).
async fn alone(lane: &mut Lane, job: &mut Job) -> Answer {
    let conn = lane.connection().await?;
    if job.single {
        return (job.run)(conn).await;
    }
    let mut tx = conn.begin().await?;
    let answer = (job.run)(&mut tx).await?;
    tx.commit().await?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_always_takes_the_same_lane_and_keys_spread() {
        let mut used = [0usize; 4];
        for i in 0..400 {
            let key = format!("01935a2e-7c1d-7000-8000-{i:012}");
            let lane = lane_of(&key, 4);
            assert_eq!(lane, lane_of(&key, 4));
            used[lane] += 1;
        }
        assert!(used.iter().all(|n| *n > 50), "{used:?}");
        assert_eq!(lane_of("anything", 1), 0);
    }
}
