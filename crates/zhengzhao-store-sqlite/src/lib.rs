//! SQLite backend: one writer connection (SQLite allows one writer at a time
//! anyway) and a small pool of readers, all in WAL mode with foreign keys on.
//! Blocking calls run on tokio's blocking pool.

mod aggregates;
mod audit_tree;
mod catalog;
mod holder_sessions;
mod incidents;
mod journal;
mod keys;
mod licenses;
mod objections;
mod orgs;
mod outbox;
mod pool;
mod scenarios;
mod staff;
mod tokens;
mod writer;

use async_trait::async_trait;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zhengzhao_store::*;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Handle to one SQLite library database. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<std::sync::mpsc::Sender<writer::BoxedJob>>,
    readers: pool::ReaderPool,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // FULL: a committed license survives power loss, not only a crash.
    // temp_store MEMORY: each write's savepoint journal (see `writer`) stays
    // in memory instead of a temporary file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA busy_timeout = 10000;",
    )
}

/// Does the file at `path` hold a seeded library? Opens it without creating
/// it and reads only (an empty or foreign database stays as it was).
fn holds_library(path: &Path) -> StoreResult<bool> {
    if !path.is_file() {
        return Ok(false);
    }
    let not_a_database = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => {
            StoreError::Backend(format!("{} is not a SQLite database", path.display()))
        }
        _ => backend(e),
    };
    let c = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(not_a_database)?;
    c.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(backend)?;
    let has_meta: bool = c
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'library_meta'",
            [],
            |r| r.get(0),
        )
        .map_err(not_a_database)?;
    if !has_meta {
        return Ok(false);
    }
    journal::is_seeded(&c)
}

impl SqliteStore {
    /// Open (creating if needed) the database file and apply pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(backend)?
    }

    /// Open the database file only if it already holds a library (its
    /// tables, seeded), then apply pending migrations. `Ok(None)` when the
    /// file is missing or holds no library; nothing is created then. A file
    /// that is not a SQLite database is an error that says so.
    pub async fn open_existing(path: impl AsRef<Path>) -> StoreResult<Option<Self>> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || {
            if !holds_library(&path)? {
                return Ok(None);
            }
            Self::open_blocking(path).map(Some)
        })
        .await
        .map_err(backend)?
    }

    fn open_blocking(path: PathBuf) -> StoreResult<Self> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut writer = Connection::open(&path).map_err(backend)?;
        configure(&writer).map_err(backend)?;
        embedded::migrations::runner()
            .run(&mut writer)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let readers = (0..pool::reader_count())
            .map(|_| pool::open_reader(&path))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        let writer = writer::spawn(writer).map_err(backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                readers: pool::ReaderPool::new(path.clone(), readers),
                path,
                writer: Mutex::new(writer),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` as one write: in its own savepoint of a group-committed
    /// transaction (see `writer`). Returns once the transaction has committed.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job = writer::job(f, tx);
        self.inner
            .writer
            .lock()
            .map_err(|_| StoreError::Backend("writer queue poisoned".into()))?
            .send(job)
            .map_err(|_| StoreError::Backend("writer thread stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("writer thread dropped the write".into()))?
    }

    /// Run `f` on a reader connection.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.readers.run(f).await
    }

    /// Run a consistent online backup into `to` (VACUUM INTO), while serving.
    pub async fn vacuum_into(&self, to: PathBuf) -> StoreResult<()> {
        self.read(move |c| {
            c.execute("VACUUM INTO ?1", [to.to_string_lossy()])
                .map(|_| ())
                .map_err(backend)
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        // A prepared no-op on a reader, inline: health checks come often.
        self.inner
            .readers
            .run_point(|c| {
                c.prepare_cached("SELECT 1")
                    .and_then(|mut s| s.query_row([], |_| Ok(())))
                    .map_err(backend)
            })
            .await
    }

    fn pool_status(&self) -> PoolStatus {
        self.inner.readers.status()
    }

    async fn is_seeded(&self) -> StoreResult<bool> {
        self.read(journal::is_seeded).await
    }

    async fn seed(&self, seed: &Seed, log: &ChangeLog) -> StoreResult<()> {
        let (seed, log) = (seed.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            if journal::is_seeded(tx)? {
                return Err(StoreError::Conflict("library is already seeded".into()));
            }
            for org in &seed.orgs {
                orgs::insert(tx, org, seed.at)?;
            }
            for spec in &seed.catalog {
                catalog::create(tx, spec, seed.at)?;
            }
            tokens::insert(tx, &seed.admin_token)?;
            tx.execute(
                "INSERT INTO library_meta (key, value) VALUES ('seeded_at', ?1)",
                [seed.at.to_string()],
            )
            .map_err(backend)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn backup_to(&self, to: &Path) -> StoreResult<()> {
        self.vacuum_into(to.to_path_buf()).await
    }
}

/// Parse a stored timestamp; a bad one means the row was not written by us.
pub(crate) fn ts(s: &str) -> StoreResult<jiff::Timestamp> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("timestamp '{s}': {e}")))
}

pub(crate) fn uuid_of(s: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("uuid '{s}': {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write that panics fails alone; the writer thread lives on, and the
    /// writes batched with it are unaffected.
    #[tokio::test]
    async fn a_panicking_write_does_not_stop_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("w.db")).await.unwrap();
        let bad = store.write(|c| -> StoreResult<()> {
            c.execute(
                "INSERT INTO library_meta (key, value) VALUES ('half', 'written')",
                [],
            )
            .map_err(backend)?;
            panic!("a bug inside a write")
        });
        let good = store.write(|c| {
            c.execute(
                "INSERT INTO library_meta (key, value) VALUES ('ok', '1')",
                [],
            )
            .map(|_| ())
            .map_err(backend)
        });
        let (bad, good) = tokio::join!(bad, good);
        assert!(bad.is_err());
        good.unwrap();
        let keys: Vec<String> = store
            .read(|c| {
                let mut s = c
                    .prepare("SELECT key FROM library_meta ORDER BY key")
                    .map_err(backend)?;
                let rows = s.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
                    .map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(keys, ["ok"], "the panicking write left nothing behind");
        store
            .write(|c| {
                c.execute(
                    "INSERT INTO library_meta (key, value) VALUES ('later', '1')",
                    [],
                )
                .map(|_| ())
                .map_err(backend)
            })
            .await
            .unwrap();
    }

    /// Writes batched together are still each their own unit: the ones that
    /// fail after writing part of their rows leave nothing, the rest are all kept.
    #[tokio::test]
    async fn failing_writes_in_a_batch_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("w.db")).await.unwrap();
        // Hold the writer busy so that the writes below queue up into one batch.
        let busy = store.write(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            Ok(())
        });
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..300u32 {
            let store = store.clone();
            writes.spawn(async move {
                let outcome = store
                    .write(move |c| {
                        c.execute(
                            "INSERT INTO library_meta (key, value) VALUES (?1, 'x')",
                            [format!("k{i:03}")],
                        )
                        .map_err(backend)?;
                        if i % 7 == 3 {
                            return Err(StoreError::Conflict(format!(
                                "write {i} fails after inserting"
                            )));
                        }
                        Ok(())
                    })
                    .await;
                (i, outcome.is_ok())
            });
        }
        busy.await.unwrap();
        let mut answered = Vec::new();
        while let Some(r) = writes.join_next().await {
            answered.push(r.unwrap());
        }
        answered.sort();
        for (i, ok) in &answered {
            assert_eq!(*ok, i % 7 != 3, "write {i}");
        }
        let kept: Vec<String> = store
            .read(|c| {
                let mut s = c
                    .prepare("SELECT key FROM library_meta WHERE key LIKE 'k%' ORDER BY key")
                    .map_err(backend)?;
                let rows = s.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
                    .map_err(backend)
            })
            .await
            .unwrap();
        let expected: Vec<String> = (0..300u32)
            .filter(|i| i % 7 != 3)
            .map(|i| format!("k{i:03}"))
            .collect();
        assert_eq!(kept, expected);
    }

    /// V3 rebuilds the audit log and outbox tables: their rows, their
    /// numbering and the audit log's append-only triggers survive it.
    #[tokio::test]
    async fn v3_keeps_the_audit_log_and_its_guards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut c = Connection::open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(2))
                .run(&mut c)
                .unwrap();
            for seq in [1, 2, 5] {
                c.execute(
                    "INSERT INTO audit_events (seq, id, at, actor, action, target, outcome, detail)
                     VALUES (?1, ?2, '2026-01-01T00:00:00Z', 'cli', 'test.old', 't', 'success', '{}')",
                    rusqlite::params![seq, format!("old-{seq}")],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let rows = store
            .write(|c| {
                c.execute(
                    "INSERT INTO audit_events (id, at, actor, action, target, outcome, detail)
                     VALUES ('new', '2026-01-02T00:00:00Z', 'cli', 'test.new', 't', 'success', '{}')",
                    [],
                )
                .map_err(backend)?;
                let refused = c.execute("DELETE FROM audit_events WHERE seq = 1", []).is_err()
                    && c.execute("UPDATE audit_events SET actor = 'x'", []).is_err();
                let mut s = c.prepare("SELECT seq, id FROM audit_events ORDER BY seq").map_err(backend)?;
                let rows = s
                    .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                    .map_err(backend)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(backend)?;
                Ok((refused, rows))
            })
            .await
            .unwrap();
        assert!(
            rows.0,
            "the append-only triggers are back after the rebuild"
        );
        let ids: Vec<(i64, &str)> = rows.1.iter().map(|(s, i)| (*s, i.as_str())).collect();
        assert_eq!(ids, [(1, "old-1"), (2, "old-2"), (5, "old-5"), (6, "new")]);
    }

    /// V13 gives every version stored before it its own status index, in
    /// storage order, and reservations continue after them.
    #[tokio::test]
    async fn v13_numbers_existing_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut c = Connection::open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(12))
                .run(&mut c)
                .unwrap();
            c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
            for (key, versions) in [(7, 2), (3, 1)] {
                c.execute(
                    "INSERT INTO licenses (id, type_id, issuer_id, serial, holder_id, current_version,
                                           source_system, source_record_id, created_at)
                     VALUES (?1, 1, 1, ?1, 'h', ?2, 's', ?1, '2026-01-01T00:00:00Z')",
                    rusqlite::params![key, versions],
                )
                .unwrap();
                for v in 1..=versions {
                    c.execute(
                        "INSERT INTO license_versions (license_id, version, identifier, type_version, holder_name,
                                                       holder_id_type, holder_id, valid_from, issued_at, payload,
                                                       signature, key_id)
                         VALUES (?1, ?2, ?3, 1, 'n', 'uscc', 'h', '2026-01-01', '2026-01-01T00:00:00Z', '{}', x'00', 'k')",
                        rusqlite::params![key, v, format!("id-{key}-{v}")],
                    )
                    .unwrap();
                }
            }
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let numbered = store
            .read(|c| {
                let mut s = c
                    .prepare("SELECT identifier, status_index FROM license_versions ORDER BY status_index")
                    .map_err(backend)?;
                let rows = s
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(backend)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(backend)?;
                Ok(rows)
            })
            .await
            .unwrap();
        let numbered: Vec<(&str, i64)> = numbered.iter().map(|(i, n)| (i.as_str(), *n)).collect();
        assert_eq!(numbered, [("id-3-1", 0), ("id-7-1", 1), ("id-7-2", 2)]);
        assert_eq!(store.reserve_status_indexes(5).await.unwrap(), 3);
        let summary = store.version_status_summary().await.unwrap();
        assert_eq!(summary.next_index, 8);
        assert_eq!(summary.superseded, [1]);
    }

    /// V20 carries the old delivery rows over to the outbox relay: each
    /// keeps its license, state (failed → parked), attempts and time, under
    /// its version's platform message; the channel has seen every message
    /// so far, so nothing old is sent again.
    #[tokio::test]
    async fn v20_carries_deliveries_over() {
        use zhengzhao_store::{DeliveryStatus, LicenseStore, OutboxStore};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // Valid identifiers: the relay's rows name the version they carry.
        let t = zhengzhao_domain::codes::LicenseTypeCode::parse("11100000MB0143028R001").unwrap();
        let i = zhengzhao_domain::codes::CreditCode::parse("91150102MA0N4JXK2C").unwrap();
        let ident = |v: u16| {
            zhengzhao_domain::license_id::LicenseId::new(&t, &i, "S1", v)
                .unwrap()
                .to_string()
        };
        {
            let mut c = Connection::open(&path).unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(19))
                .run(&mut c)
                .unwrap();
            c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
            c.execute(
                "INSERT INTO licenses (id, type_id, issuer_id, serial, holder_id, current_version,
                                       source_system, source_record_id, created_at)
                 VALUES (7, 1, 1, 'S1', 'h', 2, 's', 'r', '2026-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
            for v in 1..=2u16 {
                c.execute(
                    "INSERT INTO license_versions (license_id, version, identifier, type_version, holder_name,
                                                   holder_id_type, holder_id, valid_from, issued_at, payload,
                                                   signature, key_id, status_index)
                     VALUES (7, ?1, ?2, 1, 'n', 'uscc', 'h', '2026-01-01', '2026-01-01T00:00:00Z', '{}', x'00', 'k', ?1)",
                    rusqlite::params![v, ident(v)],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO outbox (id, topic, payload, created_at) VALUES (?1, 'platform.license', ?2, '2026-01-01T00:00:00Z')",
                    rusqlite::params![
                        uuid::Uuid::now_v7().to_string(),
                        serde_json::json!({"event": "license.issued", "license_id": ident(v)}).to_string()
                    ],
                )
                .unwrap();
            }
            for (v, channel, status, attempts, delivered) in [
                (1, "app", "delivered", 1, Some("2026-01-01T00:01:00Z")),
                (1, "web", "failed", 12, None),
                (2, "app", "pending", 3, None),
            ] {
                c.execute(
                    "INSERT INTO deliveries (license_id, version, channel, status, attempts, next_attempt_at,
                                             last_error, delivered_at, created_at)
                     VALUES (7, ?1, ?2, ?3, ?4, '2026-01-01T00:05:00Z', 'HTTP 503', ?5, '2026-01-01T00:00:00Z')",
                    rusqlite::params![v, channel, status, attempts, delivered],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let rows = store.deliveries_of(7).await.unwrap();
        let seen: Vec<(String, &str, DeliveryStatus, u32)> = rows
            .iter()
            .map(|d| {
                (
                    d.license_id.to_string(),
                    d.channel.as_str(),
                    d.status,
                    d.attempts,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (ident(1), "app", DeliveryStatus::Delivered, 1),
                (ident(1), "web", DeliveryStatus::Failed, 12),
                (ident(2), "app", DeliveryStatus::Pending, 3),
            ]
        );
        assert_eq!(
            rows[0].delivered_at,
            Some("2026-01-01T00:01:00Z".parse().unwrap())
        );
        assert_eq!(
            rows[2].next_attempt_at,
            Some("2026-01-01T00:05:00Z".parse().unwrap())
        );
        // The channels have seen both messages: nothing new to give them.
        let at = jiff::Timestamp::now();
        assert_eq!(
            store
                .fan_out("channel:app", &["platform.license"], at, 100)
                .await
                .unwrap(),
            0
        );
        let summary = store.outbox_summary().await.unwrap();
        let web = summary
            .iter()
            .find(|s| s.destination == "channel:web")
            .unwrap();
        assert_eq!((web.pending, web.parked), (0, 1));
        // The pending one is claimed as before, in order after the delivered first.
        let claimed = store
            .claim_outbox(
                "channel:app",
                at,
                at.checked_add(jiff::SignedDuration::from_secs(60)).unwrap(),
                10,
            )
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, 4);
    }
}
