//! A fixed set of read-only connections handed out one per blocking task.

use rusqlite::Connection;
use std::sync::Mutex;
use tokio::sync::Semaphore;
use zhengzhao_store::{PoolStatus, StoreError, StoreResult};

pub(crate) fn reader_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(2, 16)
}

pub(crate) struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    size: usize,
}

impl ReaderPool {
    pub(crate) fn new(conns: Vec<Connection>) -> Self {
        let size = conns.len();
        Self {
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
            .pop()
            .ok_or_else(|| StoreError::Backend("reader pool empty".into()))?;
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|e| {
            // The task panicked and took its connection with it: retire its permit too.
            permit.forget();
            StoreError::Backend(e.to_string())
        })?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
        out
    }
}
