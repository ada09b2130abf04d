//! The shared storage suite on PostgreSQL: each case gets its own schema in
//! the database named by `TEST_DATABASE_URL`. Without that variable the cases
//! skip, except under `CI=true`, where a missing database is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use zhengzhao_store_postgres::PgStore;

async fn fresh() -> Option<PgStore> {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but TEST_DATABASE_URL is not set: the PostgreSQL half must run in CI"
        );
        return None;
    };
    let schema = zhengzhao_store_postgres::testing::fresh_schema_name(&url).await;
    Some(PgStore::connect(&url, Some(&schema)).await.unwrap())
}

zhengzhao_store::conformance_suite!(fresh);
