//! The shared storage suite on SQLite: each case gets a fresh database file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use zhengzhao_store_sqlite::SqliteStore;

async fn fresh() -> Option<SqliteStore> {
    // Keep the directory alive for the test's duration by leaking it; the OS
    // temp cleaner removes it, and a failing test leaves it to inspect.
    let dir = tempfile::tempdir().unwrap().keep();
    Some(SqliteStore::open(dir.join("library.db")).await.unwrap())
}

zhengzhao_store::conformance_suite!(fresh);
