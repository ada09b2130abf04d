//! SQLite backend: one writer connection (SQLite allows one writer at a time
//! anyway) and a small pool of readers, all in WAL mode with foreign keys on.
//! Blocking calls run on tokio's blocking pool.

mod audit_tree;
mod catalog;
mod journal;
mod keys;
mod licenses;
mod orgs;
mod pool;
mod staff;
mod tokens;
mod writer;

use async_trait::async_trait;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use zhengzhao_domain::catalog::{LicenseTypeSpec, LicenseTypeVersion};
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::{Org, OrgCode};
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

    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        self.read(orgs::all).await
    }

    async fn org(&self, code: &OrgCode) -> StoreResult<Option<Org>> {
        let code = code.clone();
        self.read(move |c| orgs::by_code(c, &code)).await
    }

    async fn org_by_credit_code(&self, code: &CreditCode) -> StoreResult<Option<Org>> {
        let code = code.clone();
        self.read(move |c| orgs::by_credit_code(c, &code)).await
    }

    async fn org_children(&self, code: &OrgCode) -> StoreResult<Vec<Org>> {
        let code = code.clone();
        self.read(move |c| orgs::children(c, &code)).await
    }

    async fn org_within(&self, org: &OrgCode, ancestor: &OrgCode) -> StoreResult<bool> {
        let (org, ancestor) = (org.clone(), ancestor.clone());
        self.read(move |c| orgs::within(c, &org, &ancestor)).await
    }

    async fn org_subtree(&self, ancestor: &OrgCode) -> StoreResult<Vec<Org>> {
        let ancestor = ancestor.clone();
        self.read(move |c| orgs::subtree(c, &ancestor)).await
    }

    async fn add_org(&self, org: &Org, log: &ChangeLog) -> StoreResult<()> {
        let (org, at, log) = (org.clone(), log.audit.at, journal::PreparedLog::new(log));
        self.write(move |tx| {
            orgs::insert(tx, &org, at)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn update_org(&self, change: &OrgUpdate, log: &ChangeLog) -> StoreResult<Org> {
        let (change, at, log) = (change.clone(), log.audit.at, journal::PreparedLog::new(log));
        self.write(move |tx| {
            let org = orgs::update(tx, &change, at)?;
            journal::append(tx, &log)?;
            Ok(org)
        })
        .await
    }

    async fn create_license_type(
        &self,
        spec: &LicenseTypeSpec,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        let (spec, log) = (spec.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let v = catalog::create(tx, &spec, at)?;
            journal::append(tx, &log)?;
            Ok(v)
        })
        .await
    }

    async fn update_license_type(
        &self,
        spec: &LicenseTypeSpec,
        expected_current: u32,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        let (spec, log) = (spec.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let v = catalog::next_version(tx, &spec, expected_current, at)?;
            journal::append(tx, &log)?;
            Ok(v)
        })
        .await
    }

    async fn current_license_types(&self) -> StoreResult<Vec<LicenseTypeVersion>> {
        self.read(catalog::current_all).await
    }

    async fn license_type(
        &self,
        code: &LicenseTypeCode,
        version: Option<u32>,
    ) -> StoreResult<Option<LicenseTypeVersion>> {
        let code = code.clone();
        self.read(move |c| catalog::one(c, &code, version)).await
    }

    async fn license_type_versions(
        &self,
        code: &LicenseTypeCode,
    ) -> StoreResult<Vec<LicenseTypeVersion>> {
        let code = code.clone();
        self.read(move |c| catalog::versions(c, &code)).await
    }

    async fn create_token(&self, token: &NewToken, log: &ChangeLog) -> StoreResult<()> {
        let (token, log) = (token.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            tokens::insert(tx, &token)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
        // On every authenticated request: one unique-index lookup, run on
        // the caller's thread (a blocking-pool hand-off costs more).
        self.inner
            .readers
            .run_point(|c| tokens::by_hash(c, hash))
            .await
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        self.read(tokens::all).await
    }

    async fn revoke_token(
        &self,
        id: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<TokenRecord> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            let t = tokens::revoke(tx, id, at)?;
            journal::append(tx, &log)?;
            Ok(t)
        })
        .await
    }

    async fn license_status_summary(&self) -> StoreResult<(i64, Vec<i64>)> {
        self.read(|c| {
            let max: i64 = c
                .query_row("SELECT COALESCE(MAX(id), 0) FROM licenses", [], |r| {
                    r.get(0)
                })
                .map_err(backend)?;
            let mut stmt = c
                .prepare_cached("SELECT id FROM licenses WHERE revoked_at IS NOT NULL ORDER BY id")
                .map_err(backend)?;
            let revoked = stmt
                .query_map([], |r| r.get(0))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<i64>>>()
                .map_err(backend)?;
            Ok((max, revoked))
        })
        .await
    }

    async fn reserve_status_indexes(&self, count: u32) -> StoreResult<i64> {
        if count == 0 {
            return Err(StoreError::Backend(
                "reserve at least one status index".into(),
            ));
        }
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE status_index_counter SET next_index = next_index + ?1 WHERE id = 1
                 RETURNING next_index - ?1",
            )
            .and_then(|mut s| s.query_row([i64::from(count)], |r| r.get(0)))
            .map_err(backend)
        })
        .await
    }

    async fn version_status_summary(&self) -> StoreResult<VersionStatusSummary> {
        self.read(|c| {
            let next_index: i64 = c
                .query_row(
                    "SELECT next_index FROM status_index_counter WHERE id = 1",
                    [],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            // Only the licenses of the partial index `licenses_not_plain`.
            let mut stmt = c
                .prepare_cached(
                    "SELECT v.status_index, l.revoked_at IS NOT NULL
                     FROM licenses l JOIN license_versions v ON v.license_id = l.id
                     WHERE (l.revoked_at IS NOT NULL OR l.current_version > 1)
                       AND (l.revoked_at IS NOT NULL OR v.version < l.current_version)
                     ORDER BY v.status_index",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            let mut summary = VersionStatusSummary {
                next_index,
                ..Default::default()
            };
            for (index, revoked) in rows {
                if revoked {
                    summary.revoked.push(index);
                } else {
                    summary.superseded.push(index);
                }
            }
            Ok(summary)
        })
        .await
    }

    async fn use_presentation(
        &self,
        jti: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "INSERT INTO presentation_uses (jti, used_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    rusqlite::params![jti.to_string(), at.to_string()],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("presentation {jti} was used")));
            }
            journal::append(tx, &log)
        })
        .await
    }

    async fn use_request_nonce(
        &self,
        token: uuid::Uuid,
        nonce: &str,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> StoreResult<()> {
        let (token, nonce) = (token.to_string(), nonce.to_owned());
        let (expires, now) = (expires_at.as_second(), now.as_second());
        self.write(move |tx| {
            // Inserted, or an expired entry taken over: one row changed.
            // A live entry: none.
            let n = tx
                .execute(
                    "INSERT INTO request_nonces (token_id, nonce, expires_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (token_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
                     WHERE request_nonces.expires_at <= ?4",
                    rusqlite::params![token, nonce, expires, now],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict("nonce already used".into()));
            }
            Ok(())
        })
        .await
    }

    async fn purge_request_nonces(&self, now: jiff::Timestamp) -> StoreResult<u64> {
        let now = now.as_second();
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM request_nonces WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }

    async fn add_data_key(&self, key: &DataKeyRecord, log: &ChangeLog) -> StoreResult<()> {
        let (key, log) = (key.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO data_keys (id, wrapped_key, created_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    key.id.to_string(),
                    key.wrapped_key,
                    key.created_at.to_string()
                ],
            )
            .map_err(backend)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn data_keys(&self) -> StoreResult<Vec<DataKeyRecord>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, wrapped_key, created_at FROM data_keys ORDER BY created_at, id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| <(String, Vec<u8>, String)>::try_from(r))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            rows.into_iter()
                .map(|(id, wrapped_key, at)| {
                    Ok(DataKeyRecord {
                        id: uuid_of(&id)?,
                        wrapped_key,
                        created_at: ts(&at)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn record_event(&self, log: &ChangeLog) -> StoreResult<()> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| journal::append(tx, &log)).await
    }

    async fn record_events(&self, logs: &[ChangeLog]) -> StoreResult<()> {
        let logs: Vec<_> = logs.iter().map(journal::PreparedLog::new).collect();
        self.write(move |tx| logs.iter().try_for_each(|log| journal::append(tx, log)))
            .await
    }

    async fn add_staff_user(&self, user: &StaffUser, log: &ChangeLog) -> StoreResult<()> {
        let (user, log) = (user.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            staff::insert(tx, &user)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn staff_user(&self, id: uuid::Uuid) -> StoreResult<Option<StaffUser>> {
        self.read(move |c| staff::by_id(c, id)).await
    }

    async fn staff_user_by_name(&self, username: &str) -> StoreResult<Option<StaffUser>> {
        let username = username.to_owned();
        self.read(move |c| staff::by_name(c, &username)).await
    }

    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        self.read(staff::all).await
    }

    async fn save_staff_user(
        &self,
        user: &StaffUser,
        end_sessions_at: Option<jiff::Timestamp>,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (user, log) = (user.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            staff::save(tx, &user, end_sessions_at)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn start_staff_session(
        &self,
        seen: &StaffUser,
        totp_step: i64,
        session: &StaffSession,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (seen, session) = (seen.clone(), session.clone());
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            staff::note_login(tx, &seen, totp_step)?;
            staff::insert_session(tx, &session)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn record_failed_login(
        &self,
        seen: &StaffUser,
        threshold: u32,
        lock_until: jiff::Timestamp,
        logs: &FailedLoginLogs,
    ) -> StoreResult<FailedLogin> {
        let seen = seen.clone();
        let counted = journal::PreparedLog::new(&logs.counted);
        let locked = journal::PreparedLog::new(&logs.locked);
        let not_counted = journal::PreparedLog::new(&logs.not_counted);
        self.write(move |tx| {
            let outcome = staff::failed_login(tx, &seen, threshold, lock_until)?;
            let log = match outcome {
                FailedLogin::Counted(_) => &counted,
                FailedLogin::Locked => &locked,
                FailedLogin::NotCounted => &not_counted,
            };
            journal::append(tx, log)?;
            Ok(outcome)
        })
        .await
    }

    async fn staff_session(&self, hash: &[u8]) -> StoreResult<Option<StaffSession>> {
        let hash = hash.to_vec();
        self.read(move |c| staff::session(c, &hash)).await
    }

    async fn touch_staff_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
        let hash = hash.to_vec();
        self.write(move |tx| staff::touch_session(tx, &hash, at))
            .await
    }

    async fn end_staff_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (hash, log) = (hash.to_vec(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            staff::end_session(tx, &hash, at)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_active: bool,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (key, log) = (key.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            keys::add(tx, &key, retire_active)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn active_signing_key(
        &self,
        org: Option<&OrgCode>,
        purpose: KeyPurpose,
    ) -> StoreResult<Option<SigningKeyRecord>> {
        let org = org.cloned();
        self.read(move |c| keys::active(c, org.as_ref(), purpose))
            .await
    }

    async fn signing_key(&self, id: uuid::Uuid) -> StoreResult<Option<SigningKeyRecord>> {
        self.read(move |c| keys::by_id(c, id)).await
    }

    async fn signing_keys(&self, org: Option<&OrgCode>) -> StoreResult<Vec<SigningKeyRecord>> {
        let org = org.cloned();
        self.read(move |c| keys::of_org(c, org.as_ref())).await
    }

    async fn issue_license(
        &self,
        license: &NewLicense,
        channels: &[String],
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        let first = licenses::VersionRow::new(&license.first);
        let (channels, log) = (channels.to_vec(), journal::PreparedLog::new(log));
        let license = Arc::new(license.clone());
        let written = license.clone();
        let key = self
            .write(move |tx| {
                let key = licenses::issue(tx, &written, &first, &channels)?;
                journal::append(tx, &log)?;
                Ok(key)
            })
            .await?;
        // The writer dropped its handle before answering, so this is no copy.
        let license = Arc::try_unwrap(license).unwrap_or_else(|shared| (*shared).clone());
        // Built from what was written rather than read back: the single
        // writer thread only inserts.
        Ok(LicenseRecord {
            key,
            created_at: license.first.issued_at,
            type_code: license.type_code,
            issuer: license.issuer,
            serial: license.serial,
            source_system: license.source_system,
            source_record_id: license.source_record_id,
            revocation: None,
            versions: vec![license.first],
        })
    }

    async fn add_license_version(
        &self,
        key: i64,
        expected_current: u16,
        version: &LicenseVersionRecord,
        channels: &[String],
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        let (version, channels, log) = (
            version.clone(),
            channels.to_vec(),
            journal::PreparedLog::new(log),
        );
        self.write(move |tx| {
            let rec = licenses::add_version(tx, key, expected_current, &version, &channels)?;
            journal::append(tx, &log)?;
            Ok(rec)
        })
        .await
    }

    async fn revoke_license(
        &self,
        key: i64,
        expected_current: u16,
        revocation: &Revocation,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        let (revocation, log) = (revocation.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let rec = licenses::revoke(tx, key, expected_current, &revocation)?;
            journal::append(tx, &log)?;
            Ok(rec)
        })
        .await
    }

    async fn license_by_identifier(&self, id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
        self.inner
            .readers
            .run_point(|c| licenses::by_identifier(c, id))
            .await
    }

    async fn license_by_source(
        &self,
        system: &str,
        record_id: &str,
    ) -> StoreResult<Option<LicenseRecord>> {
        let (system, record_id) = (system.to_owned(), record_id.to_owned());
        self.read(move |c| licenses::by_source(c, &system, &record_id))
            .await
    }

    async fn licenses_of_holders(
        &self,
        holder_ids: &[String],
        type_codes: &[LicenseTypeCode],
    ) -> StoreResult<Vec<LicenseRecord>> {
        let holders =
            serde_json::to_string(holder_ids).map_err(|e| StoreError::Backend(e.to_string()))?;
        let types =
            serde_json::to_string(&type_codes.iter().map(|t| t.as_str()).collect::<Vec<_>>())
                .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.read(move |c| licenses::of_holders(c, &holders, &types))
            .await
    }

    async fn licenses(
        &self,
        filter: &LicenseFilter,
        before_key: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LicenseRecord>> {
        let filter = filter.clone();
        self.read(move |c| licenses::page(c, &filter, before_key, limit))
            .await
    }

    async fn due_deliveries(
        &self,
        now: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        self.read(move |c| licenses::due(c, now, limit)).await
    }

    async fn record_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        log: Option<&ChangeLog>,
    ) -> StoreResult<()> {
        let (outcome, log) = (outcome.clone(), log.map(journal::PreparedLog::new));
        self.write(move |tx| {
            licenses::record(tx, id, &outcome)?;
            match &log {
                Some(l) => journal::append(tx, l),
                None => Ok(()),
            }
        })
        .await
    }

    async fn deliveries_of_licenses(&self, keys: &[i64]) -> StoreResult<Vec<DeliveryRecord>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = serde_json::to_string(keys).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.read(move |c| licenses::of_licenses(c, &keys)).await
    }

    async fn deliveries_of(&self, key: i64) -> StoreResult<Vec<DeliveryRecord>> {
        // Every license view reads these: an indexed lookup of a few rows, inline.
        self.inner
            .readers
            .run_point(|c| licenses::of_license(c, key))
            .await
    }

    async fn audit_events(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.read(move |c| journal::audit_after(c, after, limit))
            .await
    }

    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        self.read(move |c| journal::pending_outbox(c, limit)).await
    }

    async fn search_audit(
        &self,
        query: &AuditQuery,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        let query = query.clone();
        self.read(move |c| journal::audit_search(c, &query, after, limit))
            .await
    }

    async fn backup_to(&self, to: &Path) -> StoreResult<()> {
        self.vacuum_into(to.to_path_buf()).await
    }

    async fn audit_tree_head(&self) -> StoreResult<AuditTreeHead> {
        self.read(audit_tree::head).await
    }

    async fn append_audit_leaves(
        &self,
        head: &AuditTreeHead,
        leaves: &[AuditLeaf],
        nodes: &[AuditNode],
    ) -> StoreResult<()> {
        let (head, leaves, nodes) = (*head, leaves.to_vec(), nodes.to_vec());
        self.write(move |tx| audit_tree::append(tx, &head, &leaves, &nodes))
            .await
    }

    async fn audit_nodes(&self, coords: &[(u32, u64)]) -> StoreResult<Vec<AuditNode>> {
        let coords = coords.to_vec();
        self.read(move |c| audit_tree::nodes(c, &coords)).await
    }

    async fn audit_leaves(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditLeaf>> {
        self.read(move |c| audit_tree::leaves(c, from, limit)).await
    }

    async fn audit_leaf_of(&self, seq: i64) -> StoreResult<Option<AuditLeaf>> {
        self.read(move |c| audit_tree::leaf_of(c, seq)).await
    }

    async fn add_audit_checkpoint(&self, cp: &AuditCheckpoint, log: &ChangeLog) -> StoreResult<()> {
        let (cp, log) = (cp.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            audit_tree::add_checkpoint(tx, &cp)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn audit_checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditCheckpoint>> {
        self.read(move |c| audit_tree::checkpoints(c, from_size, limit, false))
            .await
    }

    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>> {
        Ok(self
            .read(|c| audit_tree::checkpoints(c, 0, 1, true))
            .await?
            .into_iter()
            .next())
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
}
