//! The shared storage suite on PostgreSQL: each case gets its own schema in
//! the database named by `TEST_DATABASE_URL`. Without that variable the cases
//! fail, unless skipped on purpose (`testing::test_database_url`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use zhengzhao_store_postgres::PgStore;

async fn fresh() -> Option<PgStore> {
    let url = zhengzhao_store_postgres::testing::test_database_url()?;
    let schema = zhengzhao_store_postgres::testing::fresh_schema_name(&url).await;
    Some(PgStore::connect(&url, Some(&schema)).await.unwrap())
}

zhengzhao_store::conformance_suite!(fresh);
