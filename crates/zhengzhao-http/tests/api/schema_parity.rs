//! The two backends' migrations describe the same tables and columns: a
//! migration added to one backend and forgotten in the other fails here,
//! not in production. Types differ by design (TEXT timestamps in SQLite,
//! TIMESTAMPTZ in PostgreSQL); names must not, except where listed.

use std::collections::{BTreeMap, BTreeSet};

/// Columns one backend has on purpose and the other lacks: (table, column, why).
const ONLY_IN_POSTGRES: &[(&str, &str, &str)] = &[(
    "license_versions",
    "face",
    "SQLite keeps a version's face only inside its signed payload (V3__lean_writes)",
)];

type Schema = BTreeMap<String, BTreeSet<String>>;

/// Tables of the migrations' own bookkeeping, not of the library.
fn is_bookkeeping(table: &str) -> bool {
    table.starts_with("refinery_") || table.starts_with("sqlite_")
}

async fn sqlite_schema() -> Schema {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parity.db");
    let _store = zhengzhao_store_sqlite::SqliteStore::open(&path)
        .await
        .unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut schema = Schema::new();
    for t in tables.into_iter().filter(|t| !is_bookkeeping(t)) {
        let columns: BTreeSet<String> = c
            .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        schema.insert(t, columns);
    }
    schema
}

async fn postgres_schema(url: &str) -> Schema {
    let name = zhengzhao_store_postgres::testing::fresh_schema_name(url).await;
    zhengzhao_store_postgres::PgStore::connect(url, Some(&name))
        .await
        .unwrap();
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query(
            "SELECT c.table_name::text, c.column_name::text
             FROM information_schema.columns c
             JOIN information_schema.tables t
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'",
            &[&name],
        )
        .await
        .unwrap();
    let mut schema = Schema::new();
    for r in rows {
        let (table, column): (String, String) = (r.get(0), r.get(1));
        if !is_bookkeeping(&table) {
            schema.entry(table).or_default().insert(column);
        }
    }
    schema
}

#[tokio::test(flavor = "multi_thread")]
async fn both_backends_have_the_same_tables_and_columns() {
    let Some(url) = zhengzhao_store_postgres::testing::test_database_url() else {
        return;
    };
    let sqlite = sqlite_schema().await;
    let mut postgres = postgres_schema(&url).await;
    assert!(sqlite.len() > 20, "{sqlite:?}");
    for (table, column, _why) in ONLY_IN_POSTGRES {
        assert!(
            postgres.get_mut(*table).unwrap().remove(*column),
            "{table}.{column} is listed as PostgreSQL-only but is not there"
        );
    }
    let tables = |s: &Schema| s.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        tables(&sqlite),
        tables(&postgres),
        "tables differ: only in SQLite {:?}, only in PostgreSQL {:?}",
        tables(&sqlite)
            .difference(&tables(&postgres))
            .collect::<Vec<_>>(),
        tables(&postgres)
            .difference(&tables(&sqlite))
            .collect::<Vec<_>>()
    );
    for (table, columns) in &sqlite {
        let theirs = &postgres[table];
        assert_eq!(
            columns,
            theirs,
            "{table}: only in SQLite {:?}, only in PostgreSQL {:?}",
            columns.difference(theirs).collect::<Vec<_>>(),
            theirs.difference(columns).collect::<Vec<_>>()
        );
    }
}
