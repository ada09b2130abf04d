//! PostgreSQL backend: a deadpool connection pool; each write is one
//! transaction. Migrations run under an advisory lock so that several nodes
//! starting together apply them once.

mod audit_tree;
mod catalog;
mod db;
mod journal;
mod keys;
mod licenses;
mod orgs;
mod row;
mod staff;
mod tokens;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use row::RowExt;
use std::str::FromStr;
use tokio_postgres::NoTls;
use zhengzhao_domain::catalog::{LicenseTypeSpec, LicenseTypeVersion};
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::{Org, OrgCode};
use zhengzhao_store::*;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Key of the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x7a68_656e_677a_6831;

#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Unique-violation errors become conflicts; everything else is a backend error.
pub(crate) fn classify(e: tokio_postgres::Error) -> StoreError {
    match e.code() {
        Some(c) if *c == tokio_postgres::error::SqlState::UNIQUE_VIOLATION => {
            StoreError::Conflict(e.to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Is `name` safe to splice into `SET search_path` / `CREATE SCHEMA`?
fn plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl PgStore {
    /// Connect, and migrate. With `schema`, everything lives in that schema
    /// (created if missing): tests use one schema each.
    pub async fn connect(url: &str, schema: Option<&str>) -> StoreResult<Self> {
        let pool = Self::pool(url, schema)?;
        let mut client = pool.get().await.map_err(backend)?;
        if let Some(s) = schema {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}"))
                .await
                .map_err(backend)?;
        }
        Self::migrate(&mut client).await?;
        Ok(Self { pool })
    }

    /// Connect only if the database (the schema, when given) already holds a
    /// library (its tables, seeded), then migrate. `Ok(None)` when it holds
    /// none; nothing is created then, not even the schema.
    pub async fn connect_existing(url: &str, schema: Option<&str>) -> StoreResult<Option<Self>> {
        let pool = Self::pool(url, schema)?;
        let mut client = pool.get().await.map_err(backend)?;
        let has_meta: bool = client
            .query_one("SELECT to_regclass('library_meta') IS NOT NULL", &[])
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
        if !has_meta || !journal::is_seeded(&client).await? {
            return Ok(None);
        }
        Self::migrate(&mut client).await?;
        Ok(Some(Self { pool }))
    }

    fn pool(url: &str, schema: Option<&str>) -> StoreResult<Pool> {
        let mut cfg = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Backend(format!("bad database URL: {e}")))?;
        if let Some(s) = schema {
            if !plain_identifier(s) {
                return Err(StoreError::Backend(format!("bad schema name '{s}'")));
            }
            cfg.options(format!("-c search_path={s}"));
        }
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let size = std::thread::available_parallelism()
            .map_or(4, |n| n.get() * 4)
            .clamp(4, 32);
        Pool::builder(mgr).max_size(size).build().map_err(backend)
    }

    /// Apply pending migrations, under an advisory lock.
    async fn migrate(client: &mut deadpool_postgres::Object) -> StoreResult<()> {
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend)?;
        let migrated = embedded::migrations::runner()
            .run_async(&mut ***client)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()));
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend)?;
        migrated.map(|_| ())
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(backend)
    }
}

/// One write: `$body` in a transaction named `$tx`, then `$log` (its audit
/// event and outbox messages) journaled in the same transaction, then
/// commit; evaluates to `Ok(body's value)`. A `?` in the body returns
/// early and the dropped transaction rolls everything back. (A macro, not
/// a method taking an async closure: with `async_trait` the closure's
/// `Send` bound sent the compiler into minutes of trait solving.)
macro_rules! journaled {
    ($store:expr, $log:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let $tx = client.transaction().await.map_err(backend)?;
        let out = $body;
        journal::append(&$tx, $log).await?;
        $tx.commit().await.map_err(backend)?;
        Ok(out)
    }};
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client()
            .await?
            .execute("SELECT 1", &[])
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn pool_status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            size: s.max_size,
            available: s.available + (s.max_size - s.size),
        }
    }

    async fn is_seeded(&self) -> StoreResult<bool> {
        journal::is_seeded(&self.client().await?).await
    }

    async fn seed(&self, seed: &Seed, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            // Serialise concurrent first starts: the second waits, then sees the seed.
            tx.execute("LOCK TABLE library_meta IN EXCLUSIVE MODE", &[])
                .await
                .map_err(backend)?;
            if journal::is_seeded(&tx).await? {
                return Err(StoreError::Conflict("library is already seeded".into()));
            }
            for org in &seed.orgs {
                orgs::insert(&tx, org, seed.at).await?;
            }
            for spec in &seed.catalog {
                catalog::create(&tx, spec, seed.at).await?;
            }
            tokens::insert(&tx, &seed.admin_token).await?;
            tx.execute(
                "INSERT INTO library_meta (key, value) VALUES ('seeded_at', $1)",
                &[&seed.at.to_string()],
            )
            .await
            .map_err(backend)?;
        })
    }

    async fn orgs(&self) -> StoreResult<Vec<Org>> {
        orgs::all(&self.client().await?).await
    }

    async fn org(&self, code: &OrgCode) -> StoreResult<Option<Org>> {
        orgs::by_code(&self.client().await?, code).await
    }

    async fn org_by_credit_code(&self, code: &CreditCode) -> StoreResult<Option<Org>> {
        orgs::by_credit_code(&self.client().await?, code).await
    }

    async fn org_children(&self, code: &OrgCode) -> StoreResult<Vec<Org>> {
        orgs::children(&self.client().await?, code).await
    }

    async fn org_within(&self, org: &OrgCode, ancestor: &OrgCode) -> StoreResult<bool> {
        orgs::within(&self.client().await?, org, ancestor).await
    }

    async fn org_subtree(&self, ancestor: &OrgCode) -> StoreResult<Vec<Org>> {
        orgs::subtree(&self.client().await?, ancestor).await
    }

    async fn add_org(&self, org: &Org, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            orgs::insert(&tx, org, log.audit.at).await?;
        })
    }

    async fn update_org(&self, change: &OrgUpdate, log: &ChangeLog) -> StoreResult<Org> {
        journaled!(self, log, |tx| {
            orgs::update(&tx, change, log.audit.at).await?
        })
    }

    async fn create_license_type(
        &self,
        spec: &LicenseTypeSpec,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        journaled!(self, log, |tx| { catalog::create(&tx, spec, at).await? })
    }

    async fn update_license_type(
        &self,
        spec: &LicenseTypeSpec,
        expected_current: u32,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        journaled!(self, log, |tx| {
            catalog::next_version(&tx, spec, expected_current, at).await?
        })
    }

    async fn current_license_types(&self) -> StoreResult<Vec<LicenseTypeVersion>> {
        catalog::current_all(&self.client().await?).await
    }

    async fn license_type(
        &self,
        code: &LicenseTypeCode,
        version: Option<u32>,
    ) -> StoreResult<Option<LicenseTypeVersion>> {
        catalog::one(&self.client().await?, code, version).await
    }

    async fn license_type_versions(
        &self,
        code: &LicenseTypeCode,
    ) -> StoreResult<Vec<LicenseTypeVersion>> {
        catalog::versions(&self.client().await?, code).await
    }

    async fn create_token(&self, token: &NewToken, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            tokens::insert(&tx, token).await?;
        })
    }

    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
        tokens::by_hash(&self.client().await?, hash).await
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        tokens::all(&self.client().await?).await
    }

    async fn revoke_token(
        &self,
        id: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<TokenRecord> {
        journaled!(self, log, |tx| { tokens::revoke(&tx, id, at).await? })
    }

    async fn license_status_summary(&self) -> StoreResult<(i64, Vec<i64>)> {
        let c = self.client().await?;
        let max: i64 = c
            .query_one("SELECT COALESCE(MAX(id), 0)::BIGINT FROM licenses", &[])
            .await
            .map_err(backend)?
            .col(0, "license count")?;
        let revoked = c
            .query(
                "SELECT id FROM licenses WHERE revoked_at IS NOT NULL ORDER BY id",
                &[],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.col(0, "license"))
            .collect::<StoreResult<_>>()?;
        Ok((max, revoked))
    }

    async fn reserve_status_indexes(&self, count: u32) -> StoreResult<i64> {
        if count == 0 {
            return Err(StoreError::Backend(
                "reserve at least one status index".into(),
            ));
        }
        let c = self.client().await?;
        c.query_one(
            "UPDATE status_index_counter SET next_index = next_index + $1 WHERE id = 1
             RETURNING next_index - $1",
            &[&i64::from(count)],
        )
        .await
        .map_err(backend)?
        .col(0, "status index")
    }

    async fn version_status_summary(&self) -> StoreResult<VersionStatusSummary> {
        let c = self.client().await?;
        let next_index: i64 = c
            .query_one(
                "SELECT next_index FROM status_index_counter WHERE id = 1",
                &[],
            )
            .await
            .map_err(backend)?
            .col(0, "status index")?;
        // Only the licenses of the partial index `licenses_not_plain`.
        let rows = c
            .query(
                "SELECT v.status_index, l.revoked_at IS NOT NULL
                 FROM licenses l JOIN license_versions v ON v.license_id = l.id
                 WHERE (l.revoked_at IS NOT NULL OR l.current_version > 1)
                   AND (l.revoked_at IS NOT NULL OR v.version < l.current_version)
                 ORDER BY v.status_index",
                &[],
            )
            .await
            .map_err(backend)?;
        let mut summary = VersionStatusSummary {
            next_index,
            ..Default::default()
        };
        for r in &rows {
            let index: i64 = r.col(0, "status index")?;
            if r.col::<bool>(1, "revoked")? {
                summary.revoked.push(index);
            } else {
                summary.superseded.push(index);
            }
        }
        Ok(summary)
    }

    async fn use_presentation(
        &self,
        jti: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO presentation_uses (jti, used_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&jti, &at],
                )
                .await
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("presentation {jti} was used")));
            }
        })
    }

    async fn use_request_nonce(
        &self,
        token: uuid::Uuid,
        nonce: &str,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> StoreResult<()> {
        // Inserted, or an expired entry taken over: one row. A live entry
        // (committed by any node, or waited for if in flight): none.
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO request_nonces (token_id, nonce, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (token_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE request_nonces.expires_at <= $4",
                &[&token, &nonce, &expires_at, &now],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::Conflict("nonce already used".into()));
        }
        Ok(())
    }

    async fn purge_request_nonces(&self, now: jiff::Timestamp) -> StoreResult<u64> {
        self.client()
            .await?
            .execute("DELETE FROM request_nonces WHERE expires_at <= $1", &[&now])
            .await
            .map_err(backend)
    }

    async fn add_data_key(&self, key: &DataKeyRecord, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            tx.execute(
                "INSERT INTO data_keys (id, wrapped_key, created_at) VALUES ($1, $2, $3)",
                &[&key.id, &key.wrapped_key, &key.created_at],
            )
            .await
            .map_err(classify)?;
        })
    }

    async fn data_keys(&self) -> StoreResult<Vec<DataKeyRecord>> {
        self.client()
            .await?
            .query(
                "SELECT id, wrapped_key, created_at FROM data_keys ORDER BY created_at, id",
                &[],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(DataKeyRecord {
                    id: r.col(0, "data key")?,
                    wrapped_key: r.col(1, "data key")?,
                    created_at: r.col(2, "data key")?,
                })
            })
            .collect()
    }

    async fn record_event(&self, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {})
    }

    async fn record_events(&self, logs: &[ChangeLog]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        for log in logs {
            journal::append(&tx, log).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn add_staff_user(&self, user: &StaffUser, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::insert(&tx, user).await?;
        })
    }

    async fn staff_user(&self, id: uuid::Uuid) -> StoreResult<Option<StaffUser>> {
        staff::by_id(&self.client().await?, id).await
    }

    async fn staff_user_by_name(&self, username: &str) -> StoreResult<Option<StaffUser>> {
        staff::by_name(&self.client().await?, username).await
    }

    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        staff::all(&self.client().await?).await
    }

    async fn save_staff_user(
        &self,
        user: &StaffUser,
        end_sessions_at: Option<jiff::Timestamp>,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::save(&tx, user, end_sessions_at).await?;
        })
    }

    async fn start_staff_session(
        &self,
        seen: &StaffUser,
        totp_step: i64,
        session: &StaffSession,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::note_login(&tx, seen, totp_step).await?;
            staff::insert_session(&tx, session).await?;
        })
    }

    async fn record_failed_login(
        &self,
        seen: &StaffUser,
        threshold: u32,
        lock_until: jiff::Timestamp,
        logs: &FailedLoginLogs,
    ) -> StoreResult<FailedLogin> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let outcome = staff::failed_login(&tx, seen, threshold, lock_until).await?;
        journal::append(&tx, logs.for_outcome(outcome)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    async fn staff_session(&self, hash: &[u8]) -> StoreResult<Option<StaffSession>> {
        staff::session(&self.client().await?, hash).await
    }

    async fn touch_staff_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
        staff::touch_session(&self.client().await?, hash, at).await
    }

    async fn end_staff_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::end_session(&tx, hash, at).await?;
        })
    }

    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_active: bool,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            keys::add(&tx, key, retire_active).await?;
        })
    }

    async fn active_signing_key(
        &self,
        org: Option<&OrgCode>,
        purpose: KeyPurpose,
    ) -> StoreResult<Option<SigningKeyRecord>> {
        keys::active(&self.client().await?, org, purpose).await
    }

    async fn signing_key(&self, id: uuid::Uuid) -> StoreResult<Option<SigningKeyRecord>> {
        keys::by_id(&self.client().await?, id).await
    }

    async fn revoke_signing_key(
        &self,
        revocation: &KeyRevocation,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            keys::revoke(&tx, revocation).await?;
        })
    }

    async fn key_revocations(&self) -> StoreResult<Vec<KeyRevocation>> {
        keys::revocations(&self.client().await?).await
    }

    async fn signing_keys(&self, org: Option<&OrgCode>) -> StoreResult<Vec<SigningKeyRecord>> {
        keys::of_org(&self.client().await?, org).await
    }

    async fn issue_license(
        &self,
        license: &NewLicense,
        channels: &[String],
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        journaled!(self, log, |tx| {
            licenses::issue(&tx, license, channels).await?
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
        journaled!(self, log, |tx| {
            licenses::add_version(&tx, key, expected_current, version, channels).await?
        })
    }

    async fn revoke_license(
        &self,
        key: i64,
        expected_current: u16,
        revocation: &Revocation,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        journaled!(self, log, |tx| {
            licenses::revoke(&tx, key, expected_current, revocation).await?
        })
    }

    async fn license_by_identifier(&self, id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
        licenses::by_identifier(&self.client().await?, id).await
    }

    async fn license_by_source(
        &self,
        system: &str,
        record_id: &str,
    ) -> StoreResult<Option<LicenseRecord>> {
        licenses::by_source(&self.client().await?, system, record_id).await
    }

    async fn licenses_of_holders(
        &self,
        holder_ids: &[String],
        type_codes: &[LicenseTypeCode],
    ) -> StoreResult<Vec<LicenseRecord>> {
        let types: Vec<&str> = type_codes.iter().map(|t| t.as_str()).collect();
        licenses::of_holders(&self.client().await?, holder_ids, &types).await
    }

    async fn licenses(
        &self,
        filter: &LicenseFilter,
        before_key: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LicenseRecord>> {
        licenses::page(&self.client().await?, filter, before_key, limit).await
    }

    async fn due_deliveries(
        &self,
        now: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<DeliveryRecord>> {
        licenses::due(&self.client().await?, now, limit).await
    }

    async fn record_delivery(
        &self,
        id: i64,
        outcome: &DeliveryOutcome,
        log: Option<&ChangeLog>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        licenses::record(&tx, id, outcome).await?;
        if let Some(l) = log {
            journal::append(&tx, l).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn deliveries_of_licenses(&self, keys: &[i64]) -> StoreResult<Vec<DeliveryRecord>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        licenses::of_licenses(&self.client().await?, keys).await
    }

    async fn deliveries_of(&self, key: i64) -> StoreResult<Vec<DeliveryRecord>> {
        licenses::of_license(&self.client().await?, key).await
    }

    async fn audit_events(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        journal::audit_after(&self.client().await?, after, limit).await
    }

    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        journal::pending_outbox(&self.client().await?, limit).await
    }

    async fn search_audit(
        &self,
        query: &AuditQuery,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        journal::audit_search(&self.client().await?, query, after, limit).await
    }

    async fn backup_to(&self, _to: &std::path::Path) -> StoreResult<()> {
        Err(StoreError::Backend(
            "a PostgreSQL library is backed up with pg_dump (docs/backup-and-restore.md)".into(),
        ))
    }

    async fn audit_tree_head(&self) -> StoreResult<AuditTreeHead> {
        audit_tree::head(&self.client().await?).await
    }

    async fn append_audit_leaves(
        &self,
        head: &AuditTreeHead,
        leaves: &[AuditLeaf],
        nodes: &[AuditNode],
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        audit_tree::append(&tx, head, leaves, nodes).await?;
        tx.commit().await.map_err(backend)
    }

    async fn audit_nodes(&self, coords: &[(u32, u64)]) -> StoreResult<Vec<AuditNode>> {
        audit_tree::nodes(&self.client().await?, coords).await
    }

    async fn audit_leaves(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditLeaf>> {
        audit_tree::leaves(&self.client().await?, from, limit).await
    }

    async fn audit_leaf_of(&self, seq: i64) -> StoreResult<Option<AuditLeaf>> {
        audit_tree::leaf_of(&self.client().await?, seq).await
    }

    async fn add_audit_checkpoint(&self, cp: &AuditCheckpoint, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            audit_tree::add_checkpoint(&tx, cp).await?;
        })
    }

    async fn audit_checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditCheckpoint>> {
        audit_tree::checkpoints(&self.client().await?, from_size, limit, false).await
    }

    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>> {
        Ok(audit_tree::checkpoints(&self.client().await?, 0, 1, true)
            .await?
            .into_iter()
            .next())
    }
}

/// Helpers for tests that need a private PostgreSQL schema.
pub mod testing {
    use tokio_postgres::NoTls;

    /// The test database, from `TEST_DATABASE_URL`. Without it a test of the
    /// PostgreSQL half fails — a suite that quietly ran only on SQLite would
    /// look green — unless that half is skipped on purpose with
    /// `ZHENGZHAO_SKIP_POSTGRES_TESTS=1` (never under `CI=true`); then `None`,
    /// and the test says that it skipped.
    #[allow(clippy::panic)] // test support: a missing database fails the test
    pub fn test_database_url() -> Option<String> {
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            return Some(url);
        }
        let skip = std::env::var("ZHENGZHAO_SKIP_POSTGRES_TESTS").as_deref() == Ok("1");
        if !skip || std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "TEST_DATABASE_URL is not set: point it at a PostgreSQL database \
                 (postgres://postgres@127.0.0.1:5432/test, see the README's \"Test it\"), \
                 or set ZHENGZHAO_SKIP_POSTGRES_TESTS=1 to skip the PostgreSQL half on purpose"
            );
        }
        eprintln!("skipped on purpose: ZHENGZHAO_SKIP_POSTGRES_TESTS=1");
        None
    }

    const PREFIX: &str = "zz_test_";

    /// A new schema name, unique to this call (`PgStore::connect` creates it).
    /// Also drops test schemas left by runs more than an hour old, so that a
    /// shared test database does not grow without end. Best effort: failures
    /// there are ignored, since the test itself will report a broken database.
    pub async fn fresh_schema_name(url: &str) -> String {
        let now = jiff::Timestamp::now().as_second();
        if let Ok((client, conn)) = tokio_postgres::connect(url, NoTls).await {
            tokio::spawn(conn);
            if let Ok(rows) = client
                .query(
                    "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
                    &[&PREFIX],
                )
                .await
            {
                for row in rows {
                    let Ok(name) = row.try_get::<_, String>(0) else {
                        continue;
                    };
                    let born = name[PREFIX.len()..]
                        .split('_')
                        .next()
                        .and_then(|s| s.parse::<i64>().ok());
                    if born.is_some_and(|b| b < now - 3600) && super::plain_identifier(&name) {
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                            .await;
                    }
                }
            }
        }
        format!("{PREFIX}{now}_{}", uuid::Uuid::now_v7().simple())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement is prepared once per connection (`db.rs`): running the
    /// same read again adds no prepared statement on the server.
    #[tokio::test]
    async fn statements_are_prepared_once_per_connection() {
        let Some(url) = testing::test_database_url() else {
            return;
        };
        let schema = testing::fresh_schema_name(&url).await;
        let store = PgStore::connect(&url, Some(&schema)).await.unwrap();
        let c = store.client().await.unwrap();
        // Counted with the plain client: unnamed statements are not listed.
        let prepared = async |c: &deadpool_postgres::Object| -> i64 {
            (**c)
                .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
                .await
                .unwrap()
                .get(0)
        };
        let before = prepared(&c).await;
        orgs::all(&c).await.unwrap();
        let after_first = prepared(&c).await;
        orgs::all(&c).await.unwrap();
        orgs::all(&c).await.unwrap();
        assert_eq!(
            after_first,
            before + 1,
            "the first read prepares its statement"
        );
        assert_eq!(prepared(&c).await, after_first, "later reads reuse it");
    }
}
