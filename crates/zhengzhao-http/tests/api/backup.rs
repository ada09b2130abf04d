//! Scheduled backups inside `serve`: taken at the interval, pruned to the
//! newest few, and each a library that opens and verifies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zhengzhao_core::Library;
use zhengzhao_core::backup::scheduled_backup;
use zhengzhao_domain::role::Role;

/// Completed scheduled backups in `dir`, oldest first.
fn backups_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("zhengzhao-") && name.ends_with(".db")
        })
        .collect();
    files.sort();
    files
}

async fn check(backup: &Path, licenses: u64) {
    let store = zhengzhao_store_sqlite::SqliteStore::open(backup)
        .await
        .unwrap();
    let library = Library::new(std::sync::Arc::new(store));
    let signatures = library.verify_license_signatures().await.unwrap();
    assert_eq!(signatures.problem, None);
    assert_eq!(signatures.licenses, licenses);
    assert_eq!(library.verify_audit().await.unwrap().problem, None);
}

// SQLite only: scheduled backups are SQLite files (PostgreSQL's is pg_dump, below).
#[tokio::test]
async fn scheduled_backups_keep_the_newest() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let dir = tempfile::tempdir().unwrap();
    let mut taken = Vec::new();
    for i in 0..3 {
        app.issue(&clerk, &license_request(&format!("K{i}"))).await;
        taken.push(scheduled_backup(&app.library, dir.path(), 2).await.unwrap());
    }
    assert_eq!(backups_in(dir.path()), taken[1..], "the oldest was pruned");
    check(&taken[2], 3).await;
    check(&taken[1], 2).await;
}

// SQLite only: scheduled backups are SQLite files (PostgreSQL's is pg_dump, below).
#[tokio::test]
async fn serve_takes_backups_at_its_interval() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.backup_dir = Some(dir);
        c.backup_interval = Duration::from_millis(100);
        c.backup_keep = 3;
    })
    .await
    .unwrap();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    app.issue(&clerk, &license_request("S1")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // Wait for a backup taken after the issuance: one that holds the license.
    loop {
        let files = backups_in(backups.path());
        if let Some(newest) = files.last() {
            let store = zhengzhao_store_sqlite::SqliteStore::open(newest)
                .await
                .unwrap();
            let library = Library::new(std::sync::Arc::new(store));
            if library.verify_license_signatures().await.unwrap().licenses == 1 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no backup with the license"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The PostgreSQL path of docs/backup-and-restore.md: pg_dump of the
/// library's schema, pg_restore into a new database, and the restored
/// library verifies.
#[tokio::test]
async fn pg_dump_and_restore_give_a_library_that_verifies() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        eprintln!("skipped: the PostgreSQL half is skipped on purpose");
        return;
    };
    let (url, schema) = app.postgres.clone().unwrap();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    for i in 0..3 {
        app.issue(&clerk, &license_request(&format!("PG{i}"))).await;
    }
    app.library
        .checkpoint_audit(&zhengzhao_core::Actor::cli())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("zz.dump");
    let out = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--schema", &schema, "--file"])
        .arg(&dump)
        .arg(&url)
        .output()
        .expect("pg_dump (postgresql-client) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let database = format!("{schema}_restored");
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE DATABASE {database}"))
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let restored_url = format!("{base}/{database}");
    let out = std::process::Command::new("pg_restore")
        .args(["--no-owner", "--dbname", &restored_url])
        .arg(&dump)
        .output()
        .unwrap();
    let (restored_url_c, schema_c) = (restored_url.clone(), schema.clone());
    let restored = async move {
        let (restored_url, schema) = (restored_url_c, schema_c);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let store = zhengzhao_store_postgres::PgStore::connect(&restored_url, Some(&schema))
            .await
            .unwrap();
        let library = Library::new(std::sync::Arc::new(store));
        let audit = library.verify_audit().await.unwrap();
        assert_eq!(audit.problem, None);
        assert_eq!(audit.checkpoints_checked, 1);
        let signatures = library.verify_license_signatures().await.unwrap();
        assert_eq!((signatures.problem, signatures.licenses), (None, 3));
    };
    // Run the checks, then drop the scratch database whatever they found.
    let outcome = tokio::spawn(restored).await;
    let _ = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        .await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The second license version's identifier, and its payload changed with
/// plain SQL: in a SQLite backup copy taken into `dir`, or on PostgreSQL
/// (backed up with pg_dump, not by the library) in the library's own schema;
/// the library that then reads it.
async fn alter_a_signed_payload(app: &TestApp, dir: &Path) -> (String, Library) {
    const PICK: &str =
        "SELECT identifier FROM license_versions ORDER BY license_id LIMIT 1 OFFSET 1";
    const ALTER: &str = "UPDATE license_versions SET payload = replace(payload, '\"version\":1', '\"version\":2') WHERE identifier = $1";
    let Some((url, schema)) = &app.postgres else {
        let backup = scheduled_backup(&app.library, dir, 1).await.unwrap();
        let c = rusqlite::Connection::open(&backup).unwrap();
        let id: String = c.query_row(PICK, [], |r| r.get(0)).unwrap();
        c.execute(&ALTER.replace("$1", "?1"), [&id]).unwrap();
        drop(c);
        let store = zhengzhao_store_sqlite::SqliteStore::open(&backup)
            .await
            .unwrap();
        return (id, Library::new(std::sync::Arc::new(store)));
    };
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("SET search_path TO {schema}"))
        .await
        .unwrap();
    let id: String = client.query_one(PICK, &[]).await.unwrap().get(0);
    client.execute(ALTER, &[&id]).await.unwrap();
    (id, app.library.clone())
}

/// A license version whose stored signature was altered is named.
async fn an_altered_signature_is_found(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    for i in 0..3 {
        app.issue(&clerk, &license_request(&format!("X{i}"))).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let (id, library) = alter_a_signed_payload(&app, dir.path()).await;
    let report = library.verify_license_signatures().await.unwrap();
    let problem = report.problem.expect("the altered version must be found");
    assert!(problem.contains(&id), "{problem}");
}
both_backends!(altered_signature, an_altered_signature_is_found);
