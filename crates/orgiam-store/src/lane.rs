//! SQLite's write lane: group commit for the single writer.
//!
//! SQLite has one writer, so every write waits for the one before it; with one transaction per
//! write, concurrent writers queue behind one fsync each. The lane lets them share it: writes
//! run one at a time, each in a `SAVEPOINT` of a shared batch transaction, and the first
//! writer of a batch to come back after its statements commits the batch for everyone in it.
//!
//! Guarantees:
//! - a write is acknowledged only once the `COMMIT` that contains it returned; a failed
//!   `COMMIT` fails every write of its batch;
//! - a write that fails, or whose future is dropped while it holds the lane (the request
//!   timeout), is rolled back to its savepoint and leaves nothing in the batch; the other
//!   writes of the batch are unaffected;
//! - once [`LaneWrite::commit`] was called the outcome no longer depends on the caller: the
//!   commit runs in a task of its own, so a batch is never left uncommitted because its
//!   writers went away. Every other wait on the lane is in such a task too;
//! - the lane's [`tokio::sync::Mutex`] is fair, so writers are served in arrival order and a
//!   writer coming back to commit queues behind those that arrived meanwhile (who thereby
//!   join its batch);
//! - the connection is taken from the write pool when a batch begins and returned after it
//!   ends, so the pool's other users (key touches, the change-log sweep) run between batches.
//!   Nothing holding the lane may wait for the write pool.

use std::sync::{Arc, OnceLock};

use orgiam_core::{Error, Result};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor as _};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::db::db;

/// The lane: the write pool and the batch open on its connection, if any.
pub(crate) struct Lane {
    pool: AnyPool,
    state: Arc<Mutex<Option<OpenBatch>>>,
}

/// A batch transaction in progress on the write connection.
struct OpenBatch {
    conn: PoolConnection<Any>,
    batch: Arc<Batch>,
    /// A write's savepoint is open: its holder is running, or went away mid-write.
    savepoint: bool,
    /// Writes released into this batch that wait for its commit.
    released: usize,
}

/// What every write of one batch learns once it ended.
#[derive(Default)]
struct Batch {
    outcome: OnceLock<std::result::Result<(), String>>,
}

/// One write holding the lane, inside its savepoint; derefs to the connection.
pub(crate) struct LaneWrite {
    guard: OwnedMappedMutexGuard<Option<OpenBatch>, OpenBatch>,
    tidy: TidyOnDrop,
}

/// Tidies the lane after a write dropped without committing (failed or cancelled): the lane's
/// next holder would roll its savepoint back anyway, but with no next holder the batch would
/// keep the write connection.
struct TidyOnDrop(Option<Arc<Lane>>);

impl Drop for TidyOnDrop {
    fn drop(&mut self) {
        if let (Some(lane), Ok(rt)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            rt.spawn(async move { lane.tidy().await });
        }
    }
}

impl std::ops::Deref for LaneWrite {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.guard.conn
    }
}

impl std::ops::DerefMut for LaneWrite {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.guard.conn
    }
}

impl LaneWrite {
    /// Ends this write's savepoint in its batch and waits until the batch is committed: by this
    /// write if it is the first of the batch to get the lane back, else by the one that was.
    /// Runs in a task of its own, so the batch is committed whatever happens to the caller;
    /// `on_durable` is called once the write is on disk.
    pub(crate) async fn commit(self, on_durable: impl FnOnce() + Send + 'static) -> Result<()> {
        let LaneWrite {
            mut guard,
            mut tidy,
        } = self;
        let Some(lane) = tidy.0.take() else {
            return Err(Error::internal("a lane write without its lane"));
        };
        let task = tokio::spawn(async move {
            if let Err(e) = guard.conn.execute("RELEASE write").await {
                drop(guard);
                lane.tidy().await;
                return Err(db(e));
            }
            guard.savepoint = false;
            guard.released += 1;
            let batch = guard.batch.clone();
            drop(guard);
            lane.await_batch(&batch).await?;
            on_durable();
            Ok(())
        });
        joined(task.await)
    }

    /// Undoes this write (it changed nothing worth keeping) and waits until the batch it read
    /// from is committed, so that an answer drawn from writes released into the batch before
    /// it (an "already there") is never given before they are durable.
    pub(crate) async fn settle(self) -> Result<()> {
        let LaneWrite {
            mut guard,
            mut tidy,
        } = self;
        let Some(lane) = tidy.0.take() else {
            return Err(Error::internal("a lane write without its lane"));
        };
        let task = tokio::spawn(async move {
            // on failure the savepoint stays open: `tidy` (through `recover`) rolls it back
            for statement in ["ROLLBACK TO write", "RELEASE write"] {
                if let Err(e) = guard.conn.execute(statement).await {
                    drop(guard);
                    lane.tidy().await;
                    return Err(db(e));
                }
            }
            guard.savepoint = false;
            let others = guard.released;
            let batch = guard.batch.clone();
            drop(guard);
            if others == 0 {
                // nothing of anyone else's to wait for: the empty batch is ended
                lane.tidy().await;
                return Ok(());
            }
            lane.await_batch(&batch).await
        });
        joined(task.await)
    }
}

tokio::task_local! {
    /// The batch of the last lane write begun in this task (see [`remember_batches`]).
    static SEEN: std::cell::RefCell<Option<Arc<Batch>>>;
}

/// Runs `f` noting the batch of each lane write it begins, for [`Lane::settle_seen`].
pub async fn remember_batches<F: std::future::Future>(f: F) -> F::Output {
    SEEN.scope(std::cell::RefCell::new(None), f).await
}

/// The outcome recorded when a batch that held no released write is ended.
const EMPTY_BATCH: &str = "the batch held no write";

/// A task's failure (a panic, or the runtime shutting down) as an error.
fn joined<T>(r: std::result::Result<Result<T>, tokio::task::JoinError>) -> Result<T> {
    r.map_err(|e| Error::internal(format!("write lane task: {e}")))?
}

impl Lane {
    /// A lane over `pool` (SQLite's write pool of one connection).
    pub(crate) fn new(pool: AnyPool) -> Arc<Lane> {
        Arc::new(Lane {
            pool,
            state: Arc::new(Mutex::new(None)),
        })
    }

    /// Waits for the lane and opens a savepoint in the current batch (beginning one if none is
    /// open). Runs in a task of its own: a caller dropped while waiting leaves no half-begun
    /// batch, and the write it would have got is dropped, and tidied, with the task.
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<LaneWrite> {
        let lane = self.clone();
        let write = joined(tokio::spawn(async move { lane.begin_here().await }).await)?;
        // the caller's task (a request, under [`remember_batches`]) notes the batch it read in
        let _ = SEEN.try_with(|seen| *seen.borrow_mut() = Some(write.guard.batch.clone()));
        Ok(write)
    }

    async fn begin_here(self: Arc<Self>) -> Result<LaneWrite> {
        let mut state = self.state.clone().lock_owned().await;
        self.recover(&mut state).await;
        if state.is_none() {
            let mut conn = self.pool.acquire().await.map_err(db)?;
            // IMMEDIATE: the write lock is taken now, so no statement of the batch can fail
            // with SQLITE_BUSY because another process wrote first
            conn.execute("BEGIN IMMEDIATE").await.map_err(db)?;
            *state = Some(OpenBatch {
                conn,
                batch: Arc::default(),
                savepoint: false,
                released: 0,
            });
        }
        let mut guard = OwnedMutexGuard::try_map(state, Option::as_mut)
            .map_err(|_| Error::internal("the write lane has no batch"))?;
        guard.savepoint = true;
        let opened = guard.conn.execute("SAVEPOINT write").await.map(drop);
        let write = LaneWrite {
            guard,
            tidy: TidyOnDrop(Some(self.clone())),
        };
        match opened {
            Ok(()) => Ok(write),
            Err(e) => {
                drop(write);
                Err(db(e))
            }
        }
    }

    /// Rolls back the savepoint of a write that went away mid-write. If that fails the batch
    /// cannot be trusted: it is rolled back whole, and every write in it fails.
    async fn recover(&self, state: &mut Option<OpenBatch>) {
        let Some(open) = state.as_mut().filter(|o| o.savepoint) else {
            return;
        };
        let undone = async {
            open.conn.execute("ROLLBACK TO write").await?;
            open.conn.execute("RELEASE write").await
        }
        .await;
        match undone {
            Ok(_) => open.savepoint = false,
            Err(e) => {
                tracing::error!(error = %e, "write lane: a savepoint could not be rolled back");
                if let Some(open) = state.take() {
                    end(open, "ROLLBACK", format!("the batch was rolled back: {e}")).await;
                }
            }
        }
    }

    /// Waits for `batch` to end, back in the lane's queue behind every writer that arrived
    /// meanwhile: commits it if it is still open when the lane is ours (everyone released
    /// into it is then in it), and returns its outcome.
    async fn await_batch(&self, batch: &Arc<Batch>) -> Result<()> {
        let mut state = self.state.lock().await;
        self.recover(&mut state).await;
        if state.as_ref().is_some_and(|o| Arc::ptr_eq(&o.batch, batch)) {
            if let Some(open) = state.take() {
                end(open, "COMMIT", String::new()).await;
            }
        }
        drop(state);
        match batch.outcome.get() {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(Error::internal(format!("database: {e}"))),
            None => Err(Error::internal("a write's batch ended without an outcome")),
        }
    }

    /// Waits until the batch the current task last wrote in (under [`remember_batches`]) has
    /// ended, committing it if writes released into it still wait: an answer drawn from what
    /// that write read (a conflict with a batch-mate's row) is then never given before the
    /// batch-mate's write is durable. An error if that batch failed to commit.
    pub(crate) async fn settle_seen(&self) -> Result<()> {
        let Some(batch) = SEEN.try_with(|s| s.borrow_mut().take()).ok().flatten() else {
            return Ok(());
        };
        let mut state = self.state.lock().await;
        self.recover(&mut state).await;
        if let Some(open) = state.take_if(|o| Arc::ptr_eq(&o.batch, &batch)) {
            if open.released == 0 {
                // nothing of anyone else's in it: what the write read was durable already
                *state = Some(open);
                return Ok(());
            }
            end(open, "COMMIT", String::new()).await;
        }
        drop(state);
        match batch.outcome.get() {
            None | Some(Ok(())) => Ok(()),
            Some(Err(e)) if e == EMPTY_BATCH => Ok(()),
            Some(Err(e)) => Err(Error::unavailable(format!(
                "a concurrent write this answer depends on failed ({e}); retry"
            ))),
        }
    }

    /// After a write that did not commit: rolls its savepoint back, and ends the batch if no
    /// released write waits for it (it holds nothing then).
    async fn tidy(&self) {
        let mut state = self.state.lock().await;
        self.recover(&mut state).await;
        if state.as_ref().is_some_and(|o| o.released == 0) {
            if let Some(open) = state.take() {
                end(open, "ROLLBACK", EMPTY_BATCH.into()).await;
            }
        }
    }
}

/// Ends a batch with `COMMIT` or `ROLLBACK` and records its outcome (`failure` for a
/// rollback). A batch whose end failed is rolled back; a connection that cannot even do that
/// is closed rather than returned to the pool.
async fn end(mut open: OpenBatch, statement: &str, failure: String) {
    let outcome = match open.conn.execute(statement).await {
        Ok(_) if statement == "COMMIT" => Ok(()),
        Ok(_) => Err(failure),
        Err(e) => {
            tracing::error!(error = %e, statement, "write lane: a batch could not end");
            let failed = Err(format!("{statement}: {e}"));
            if open.conn.execute("ROLLBACK").await.is_err() {
                let _ = open.batch.outcome.set(failed);
                let _ = open.conn.close().await;
                return;
            }
            failed
        }
    };
    let _ = open.batch.outcome.set(outcome);
}
