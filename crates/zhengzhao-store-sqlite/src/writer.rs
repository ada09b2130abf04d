//! Group commit: one writer thread owns the write connection, and writes that
//! queue up while a batch is being committed (fsync) share the next
//! transaction. No caller hears "ok" before its changes are committed.
//!
//! Each write must stay its own unit: one failing write may not take the
//! others in its batch with it. A SAVEPOINT per write would give that, but it
//! copies every page a write touches into the savepoint journal, which is
//! most of the writer's work. So a batch first runs optimistically, all
//! writes in one plain transaction. Only if some write fails (an error or a
//! panic) is the whole transaction rolled back and the batch run again, this
//! time each write inside its own savepoint, so the failing one is rolled back
//! alone. That is why a write is a `Fn`: it may run twice, and only the last
//! run counts. A failing COMMIT fails every write in the batch.

use rusqlite::Connection;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use zhengzhao_store::{StoreError, StoreResult};

/// One write, as the writer thread sees it.
pub(crate) trait Job: Send {
    /// Run the write; `false` if it failed (its changes must not be kept).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Forget an earlier run's outcome: the write now counts as failed with `why`.
    fn reset(&mut self, why: &str);
    /// Answer the caller: the batch committed (`None`) or failed with this error.
    fn finish(self: Box<Self>, commit_error: Option<&str>);
}

/// A write of `f`, answered on `reply`.
pub(crate) struct Write<T, F> {
    f: Option<F>,
    outcome: Option<StoreResult<T>>,
    reply: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Write<T, F> {
    pub(crate) fn new(f: F, reply: tokio::sync::oneshot::Sender<StoreResult<T>>) -> Self {
        Self {
            f: Some(f),
            outcome: None,
            reply,
        }
    }
}

impl<T, F> Job for Write<T, F>
where
    T: Send,
    F: Fn(&Connection) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = &self.f else { return false };
        let outcome = f(conn);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn reset(&mut self, why: &str) {
        self.outcome = Some(Err(StoreError::Backend(why.to_owned())));
    }

    fn finish(mut self: Box<Self>, commit_error: Option<&str>) {
        // Drop what the write captured before answering, so the caller gets
        // its data back unshared (see `SqliteStore::issue_license`).
        self.f = None;
        let answer = match (self.outcome.take(), commit_error) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), None) => Ok(v),
            (Some(Ok(_)), Some(e)) => Err(StoreError::Backend(format!("commit failed: {e}"))),
            (None, e) => Err(StoreError::Backend(
                e.unwrap_or("the write did not run").to_owned(),
            )),
        };
        let _ = self.reply.send(answer);
    }
}

pub(crate) type BoxedJob = Box<dyn Job>;

/// Largest number of writes committed together.
const MAX_BATCH: usize = 512;

pub(crate) fn spawn(conn: Connection) -> std::io::Result<mpsc::Sender<BoxedJob>> {
    let (tx, rx) = mpsc::channel::<BoxedJob>();
    std::thread::Builder::new()
        .name("zhengzhao-sqlite-writer".into())
        .spawn(move || run(conn, rx))?;
    Ok(tx)
}

/// Run a statement that takes no parameters, cached: these run per write.
fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql).and_then(|mut s| s.execute([]))?;
    Ok(())
}

/// Run one job; a panic inside it counts as a failure, and the writer thread
/// (and with it every later write) goes on.
fn attempt(job: &mut BoxedJob, conn: &Connection) -> bool {
    catch_unwind(AssertUnwindSafe(|| job.run(conn))).unwrap_or(false)
}

fn run(conn: Connection, rx: mpsc::Receiver<BoxedJob>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter().take(MAX_BATCH - 1));
        if let Err(e) = exec(&conn, "BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for job in batch {
                job.finish(Some(&msg));
            }
            continue;
        }
        let all_ok = batch.iter_mut().all(|job| attempt(job, &conn));
        if !all_ok {
            retry_one_by_one(&conn, &mut batch);
        }
        let committed = exec(&conn, "COMMIT").map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = exec(&conn, "ROLLBACK");
        }
        for job in batch {
            job.finish(committed.as_ref().err().map(String::as_str));
        }
    }
}

/// The slow path: start the transaction again and run every job of the batch
/// in its own savepoint, keeping the ones that succeed.
fn retry_one_by_one(conn: &Connection, batch: &mut [BoxedJob]) {
    // A failed statement may have ended the transaction already; either way
    // nothing of the optimistic run is kept.
    let _ = exec(conn, "ROLLBACK");
    for job in batch.iter_mut() {
        job.reset("the write batch could not be run again after a failure");
    }
    if exec(conn, "BEGIN IMMEDIATE").is_err() {
        return;
    }
    for job in batch.iter_mut() {
        if exec(conn, "SAVEPOINT job").is_err() {
            continue;
        }
        if attempt(job, conn) {
            let _ = exec(conn, "RELEASE job");
        } else {
            let _ = exec(conn, "ROLLBACK TO job");
            let _ = exec(conn, "RELEASE job");
        }
    }
}

/// Wrap a write for the writer thread.
pub(crate) fn job<T, F>(f: F, reply: tokio::sync::oneshot::Sender<StoreResult<T>>) -> BoxedJob
where
    T: Send + 'static,
    F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
{
    Box::new(Write::new(f, reply))
}
