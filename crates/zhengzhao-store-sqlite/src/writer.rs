//! Group commit: one writer thread owns the write connection. Each write is a
//! job run inside its own SAVEPOINT; jobs that queue up while a commit is
//! being made durable (fsync) share the next transaction. A failing job rolls
//! back to its savepoint alone; a failing COMMIT fails every job in it. No
//! job's caller hears "ok" before its changes are committed.

use rusqlite::Connection;
use std::sync::mpsc;
use zhengzhao_store::{StoreError, StoreResult};

/// Called after the batch's COMMIT with its error, if any.
pub(crate) type Finish = Box<dyn FnOnce(Option<&str>) + Send>;
/// Runs one write; `None` means the batch could not start and the job must fail.
pub(crate) type Job = Box<dyn FnOnce(Option<&Connection>) -> Finish + Send>;

/// Largest number of writes committed together.
const MAX_BATCH: usize = 512;

pub(crate) fn spawn(conn: Connection) -> std::io::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("zhengzhao-sqlite-writer".into())
        .spawn(move || run(conn, rx))?;
    Ok(tx)
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for job in batch {
                job(None)(Some(&msg));
            }
            continue;
        }
        let finishes: Vec<Finish> = batch
            .into_iter()
            .map(|job| {
                // A bug that panics inside one write must not take the writer
                // thread (and with it every later write) down: that write
                // fails, its savepoint is rolled back, the batch goes on.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Some(&conn))))
                    .unwrap_or_else(|_| {
                        let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
                        Box::new(|_| {})
                    })
            })
            .collect();
        let outcome = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if outcome.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishes {
            finish(outcome.as_ref().err().map(String::as_str));
        }
    }
}

/// Run `f` inside a savepoint on `conn`, releasing it on success and rolling
/// it back on failure, so one failed job leaves the rest of its batch intact.
pub(crate) fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    // Cached statements: the writer runs these twice per write.
    let run = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    run("SAVEPOINT job").map_err(|e| StoreError::Backend(e.to_string()))?;
    match f(conn) {
        Ok(v) => {
            run("RELEASE job").map_err(|e| StoreError::Backend(e.to_string()))?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e)
        }
    }
}
