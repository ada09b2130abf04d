//! A fixed set of read-only connections handed out one per blocking task.

use rusqlite::Connection;
use std::sync::Mutex;
use tokio::sync::Semaphore;
use zhengzhao_store::{PoolStatus, StoreError, StoreResult};

pub(crate) fn open_reader(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let c = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;")?;
    // Readers map the database file instead of copying each page through
    // read(2), and keep 16 MiB of pages each: the public check of a random
    // license among 100,000 went from ~20k to ~24k a second (BENCHMARKS.md).
    // The map is read-only and virtual; WAL frames are still read, so a
    // reader sees exactly what it saw before.
    c.execute_batch("PRAGMA mmap_size = 2147418112; PRAGMA cache_size = -16384;")?;
    Ok(c)
}

pub(crate) fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 16)
}

pub(crate) struct ReaderPool {
    path: std::path::PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    size: usize,
}

impl ReaderPool {
    pub(crate) fn new(path: std::path::PathBuf, conns: Vec<Connection>) -> Self {
        let size = conns.len();
        Self {
            path,
            idle: Mutex::new(conns),
            permits: Semaphore::new(size),
            size,
        }
    }

    pub(crate) fn status(&self) -> PoolStatus {
        PoolStatus {
            size: self.size,
            available: self.permits.available_permits(),
        }
    }

    /// A short point read (one license by key or identifier: a few index
    /// lookups in the page cache, tens of microseconds) run on the calling
    /// task's thread: handing it to the blocking pool and back would cost
    /// more than the read. Anything that may scan uses [`Self::run`].
    pub(crate) async fn run_point<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        let conn = self
            .idle
            .lock()
            .map_err(|_| StoreError::Backend("reader pool poisoned".into()))?
            .pop();
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path).map_err(|e| StoreError::Backend(e.to_string()))?,
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        drop(permit);
        out
    }

    pub(crate) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        // A permit guarantees an idle connection is there to take.
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Backend("reader pool closed".into()))?;
        let conn = self
            .idle
            .lock()
            .map_err(|_| StoreError::Backend("reader pool poisoned".into()))?
            .pop();
        // A connection can be lost when a caller is cancelled mid-query (its
        // blocking task finishes with nobody to hand the connection back):
        // then the permit finds the pool short, and a new connection fills in.
        let conn = match conn {
            Some(c) => c,
            None => open_reader(&self.path).map_err(|e| StoreError::Backend(e.to_string()))?,
        };
        let joined = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await;
        match joined {
            Ok((conn, out)) => {
                // Back in the pool before the permit is released (end of scope),
                // so a permit always finds an idle connection.
                if let Ok(mut idle) = self.idle.lock() {
                    idle.push(conn);
                }
                drop(permit);
                out
            }
            Err(e) => {
                // The task panicked and took its connection with it: retire its permit too.
                permit.forget();
                Err(StoreError::Backend(e.to_string()))
            }
        }
    }
}
