//! PostgreSQL backend: a deadpool connection pool; each write is one
//! transaction. Migrations run under an advisory lock so that several nodes
//! starting together apply them once.

/// One write: `$body` in a transaction named `$tx`, then `$log` (its audit
/// event and outbox messages) journaled in the same transaction, then
/// commit; evaluates to `Ok(body's value)`. A `?` in the body returns
/// early and the dropped transaction rolls everything back. (A macro, not
/// a method taking an async closure: with `async_trait` the closure's
/// `Send` bound sent the compiler into minutes of trait solving.)
macro_rules! journaled {
    ($store:expr, $log:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let $tx = client.transaction().await.map_err($crate::backend)?;
        let out = $body;
        $crate::journal::append(&$tx, $log).await?;
        $tx.commit().await.map_err($crate::backend)?;
        Ok(out)
    }};
}

mod aggregates;
mod audit_tree;
mod catalog;
mod db;
mod holder_sessions;
mod incidents;
mod journal;
mod keys;
mod licenses;
mod objections;
mod orgs;
mod outbox;
mod row;
mod scenarios;
mod staff;
mod tokens;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::str::FromStr;
use tokio_postgres::NoTls;
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

    async fn backup_to(&self, _to: &std::path::Path) -> StoreResult<()> {
        Err(StoreError::Backend(
            "a PostgreSQL library is backed up with pg_dump (docs/backup-and-restore.md)".into(),
        ))
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

    /// V19 carries the old delivery rows over to the outbox relay, as
    /// SQLite's V20 does (`v20_carries_deliveries_over` there).
    #[tokio::test]
    async fn v19_carries_deliveries_over() {
        let Some(url) = testing::test_database_url() else {
            return;
        };
        let schema = testing::fresh_schema_name(&url).await;
        let t = zhengzhao_domain::codes::LicenseTypeCode::parse("11100000MB0143028R001").unwrap();
        let i = zhengzhao_domain::codes::CreditCode::parse("91150102MA0N4JXK2C").unwrap();
        let ident = |v: u16| {
            zhengzhao_domain::license_id::LicenseId::new(&t, &i, "S1", v)
                .unwrap()
                .to_string()
        };
        {
            let pool = PgStore::pool(&url, Some(&schema)).unwrap();
            let mut c = pool.get().await.unwrap();
            c.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .await
                .unwrap();
            embedded::migrations::runner()
                .set_target(refinery::Target::Version(18))
                .run_async(&mut **c)
                .await
                .unwrap();
            // Old rows only: no org, type or key behind them.
            c.batch_execute("SET session_replication_role = replica")
                .await
                .unwrap();
            c.execute(
                "INSERT INTO licenses (id, type_id, issuer_id, serial, holder_id, current_version,
                                       source_system, source_record_id, created_at)
                 VALUES (7, 1, 1, 'S1', 'h', 2, 's', 'r', now())",
                &[],
            )
            .await
            .unwrap();
            for v in 1..=2i32 {
                let id = ident(u16::try_from(v).unwrap());
                c.execute(
                    "INSERT INTO license_versions (license_id, version, identifier, type_version, holder_name,
                         holder_id_type, holder_id, face, valid_from, issued_at, payload, signature, key_id, status_index)
                     VALUES (7, $1, $2, 1, 'n', 'uscc', 'h', '{}', '2026-01-01', now(), '{}', '\\x00', $3, $4)",
                    &[&v, &id, &uuid::Uuid::nil(), &i64::from(v)],
                )
                .await
                .unwrap();
                c.execute(
                    "INSERT INTO outbox (id, topic, payload, created_at) VALUES ($1, 'platform.license', $2, now())",
                    &[&uuid::Uuid::now_v7(), &serde_json::json!({"event": "license.issued", "license_id": id})],
                )
                .await
                .unwrap();
            }
            for (v, channel, status, attempts) in [
                (1i32, "app", "delivered", 1i32),
                (1, "web", "failed", 12),
                (2, "app", "pending", 3),
            ] {
                c.execute(
                    "INSERT INTO deliveries (license_id, version, channel, status, attempts, next_attempt_at,
                                             last_error, delivered_at, created_at)
                     VALUES (7, $1, $2, $3, $4, '2026-01-01T00:05:00Z', 'HTTP 503',
                             CASE WHEN $3 = 'delivered' THEN '2026-01-01T00:01:00Z'::timestamptz END, now())",
                    &[&v, &channel, &status, &attempts],
                )
                .await
                .unwrap();
            }
        }
        let store = PgStore::connect(&url, Some(&schema)).await.unwrap();
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
            rows[2].next_attempt_at,
            Some("2026-01-01T00:05:00Z".parse().unwrap())
        );
        let now = jiff::Timestamp::now();
        assert_eq!(
            store
                .fan_out("channel:app", &["platform.license"], now, 100)
                .await
                .unwrap(),
            0,
            "the channels have seen every message"
        );
        let summary = store.outbox_summary().await.unwrap();
        let web = summary
            .iter()
            .find(|s| s.destination == "channel:web")
            .unwrap();
        assert_eq!((web.pending, web.parked), (0, 1));
    }
}
