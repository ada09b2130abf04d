//! The tamper-evident audit log: signed checkpoints (checked with OpenSSL),
//! inclusion and consistency proofs over HTTP, who may ask for what, and
//! `verify` catching rows edited, deleted or reordered with plain SQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_crypto::merkle;
use zhengzhao_domain::role::Role;
use zhengzhao_server::service::Actor;
use zhengzhao_store::AuditRecord;

fn hash(v: &Value) -> merkle::Hash {
    B64.decode(v.as_str().unwrap()).unwrap().try_into().unwrap()
}

fn hashes(v: &Value) -> Vec<merkle::Hash> {
    v.as_array().unwrap().iter().map(hash).collect()
}

/// Issue `n` licenses as a clerk of 150102.
async fn issue_some(app: &TestApp, n: usize, prefix: &str) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    for i in 0..n {
        app.issue(&clerk, &license_request(&format!("{prefix}{i}")))
            .await;
    }
}

/// The signed note verifies with OpenSSL and the certificate it comes with.
fn openssl_verifies(cp: &Value) {
    let ok = openssl_verify(
        cp["note"].as_str().unwrap(),
        cp["signature"].as_str().unwrap(),
        cp["certificate"].as_str().unwrap(),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

async fn checkpoints_and_proofs(app: TestApp) {
    let none = app.get("/api/v1/audit/checkpoint").await;
    expect_problem(none, StatusCode::NOT_FOUND).await;

    issue_some(&app, 3, "P").await;
    let security = app.token("150000", Role::SecurityAdmin).await;
    for (token, status) in [
        (
            app.token("150000", Role::Auditor).await,
            StatusCode::FORBIDDEN,
        ),
        (
            app.token("150100", Role::SecurityAdmin).await,
            StatusCode::FORBIDDEN,
        ),
        ("zzt_not_a_token".to_owned(), StatusCode::UNAUTHORIZED),
    ] {
        let resp = app
            .send_json(
                Method::POST,
                "/api/v1/audit/checkpoints",
                Some(&token),
                &json!({}),
            )
            .await;
        expect_problem(resp, status).await;
    }
    let events_before = app.audit_count().await;
    let resp = app
        .send_json(
            Method::POST,
            "/api/v1/audit/checkpoints",
            Some(&security),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first["tree_size"], events_before);
    // Asked again with nothing new (beyond checkpoint events, and the
    // region key made for the first one): the same checkpoint, 200 not 201.
    let empty = json!({});
    let sign = || {
        app.send_json(
            Method::POST,
            "/api/v1/audit/checkpoints",
            Some(&security),
            &empty,
        )
    };
    let second: Value = sign().await.json().await.unwrap();
    let again = sign().await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.json::<Value>().await.unwrap(), second);
    let first = second;
    let latest: Value = app
        .get("/api/v1/audit/checkpoint")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(latest, first, "the checkpoint is public");
    openssl_verifies(&latest);
    let size1 = first["tree_size"].as_u64().unwrap();
    let root1 = hash(&first["root_hash"]);
    assert!(
        first["note"]
            .as_str()
            .unwrap()
            .starts_with(&format!("zhengzhao audit log 150000\n{size1}\n")),
        "{first}"
    );

    // Inclusion of the last issuance, for auditors above the issuing org only.
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let issued: &AuditRecord = events
        .iter()
        .rev()
        .find(|e| e.event.action == "license.issue")
        .unwrap();
    let path = format!(
        "/api/v1/audit/proofs/inclusion?seq={}&tree_size={size1}",
        issued.seq
    );
    for (org, role, status) in [
        ("150200", Role::Auditor, StatusCode::FORBIDDEN),
        ("150102", Role::IssuerClerk, StatusCode::FORBIDDEN),
    ] {
        let token = app.token(org, role).await;
        expect_problem(app.get_as(&path, &token).await, status).await;
    }
    let auditor = app.token("150100", Role::Auditor).await;
    let resp = app.get_as(&path, &auditor).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let proof: Value = resp.json().await.unwrap();
    let index = proof["leaf_index"].as_u64().unwrap();
    let leaf = zhengzhao_server::service::audit_log::leaf_hash(issued).unwrap();
    assert_eq!(hash(&proof["leaf_hash"]), leaf);
    assert!(merkle::verify_inclusion(
        index,
        size1,
        &leaf,
        &hashes(&proof["proof"]),
        &root1
    ));
    let unknown = format!("/api/v1/audit/proofs/inclusion?seq={}", 10_000_000);
    expect_problem(app.get_as(&unknown, &auditor).await, StatusCode::NOT_FOUND).await;

    // The log grows; the new checkpoint is consistent with the old one.
    issue_some(&app, 2, "Q").await;
    let second = app.library.checkpoint_audit(&Actor::cli()).await.unwrap();
    assert!(second.tree_size > size1);
    let resp = app
        .get(&format!(
            "/api/v1/audit/proofs/consistency?from={size1}&to={}",
            second.tree_size
        ))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let consistency: Value = resp.json().await.unwrap();
    assert!(merkle::verify_consistency(
        size1,
        second.tree_size,
        &root1,
        &second.root,
        &hashes(&consistency["proof"])
    ));
    let backwards = app
        .get(&format!(
            "/api/v1/audit/proofs/consistency?from={}&to={size1}",
            second.tree_size
        ))
        .await;
    expect_problem(backwards, StatusCode::UNPROCESSABLE_ENTITY).await;

    let report = app.library.verify_audit().await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(
        report.checkpoints_checked, 3,
        "three checkpoints were signed above"
    );
    assert!(report.entries_checked >= second.tree_size);
}
both_backends!(checkpoints, checkpoints_and_proofs);

/// A library with history and a checkpoint over it; the entry numbers (1-based
/// positions in the log) and sequence numbers of two license issuances.
async fn with_history(app: &TestApp) -> ((u64, i64), (u64, i64)) {
    issue_some(app, 4, "T").await;
    app.library.checkpoint_audit(&Actor::cli()).await.unwrap();
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let issues: Vec<(u64, i64)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.event.action == "license.issue")
        .map(|(i, e)| (i as u64 + 1, e.seq))
        .collect();
    (issues[1], issues[3])
}

/// What someone with database access does first: lift the append-only guard.
fn drop_guards(app: &TestApp) -> &'static str {
    match app.backend {
        Backend::Sqlite => {
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
        }
        Backend::Postgres => "DROP TRIGGER audit_events_no_change ON audit_events;",
    }
}

async fn verify_problem(app: &TestApp) -> String {
    app.library
        .verify_audit()
        .await
        .unwrap()
        .problem
        .expect("verify must fail")
}

async fn tampering_is_caught_at_the_right_entry(app: TestApp) {
    // Untouched, the log verifies.
    with_history(&app).await;
    assert_eq!(app.library.verify_audit().await.unwrap().problem, None);

    // Edited.
    let edited = TestApp::spawn(app.backend).await.unwrap();
    let ((entry, seq), _) = with_history(&edited).await;
    edited
        .raw_sql(&format!(
            "{} UPDATE audit_events SET actor = 'mallory' WHERE seq = {seq};",
            drop_guards(&edited)
        ))
        .await;
    let problem = verify_problem(&edited).await;
    assert!(
        problem.contains(&format!("entry #{entry} (seq {seq}) was altered")),
        "{problem}"
    );

    // Deleted.
    let deleted = TestApp::spawn(app.backend).await.unwrap();
    let ((entry, seq), _) = with_history(&deleted).await;
    deleted
        .raw_sql(&format!(
            "{} DELETE FROM audit_events WHERE seq = {seq};",
            drop_guards(&deleted)
        ))
        .await;
    let problem = verify_problem(&deleted).await;
    assert!(
        problem.contains(&format!("entry #{entry} (seq {seq}) was deleted")),
        "{problem}"
    );

    // Reordered: two events swap places.
    let reordered = TestApp::spawn(app.backend).await.unwrap();
    let ((entry, a), (_, b)) = with_history(&reordered).await;
    reordered
        .raw_sql(&format!(
            "{} UPDATE audit_events SET seq = -seq WHERE seq IN ({a}, {b});
             UPDATE audit_events SET seq = {b} WHERE seq = -{a};
             UPDATE audit_events SET seq = {a} WHERE seq = -{b};",
            drop_guards(&reordered)
        ))
        .await;
    let problem = verify_problem(&reordered).await;
    assert!(
        problem.contains(&format!("entry #{entry} (seq {a}) was altered")),
        "{problem}"
    );
}
both_backends!(tampering, tampering_is_caught_at_the_right_entry);

/// Like a transparency log, the library checks its tree against the last
/// signed checkpoint before it starts, and refuses to start on a mismatch.
/// (And one server per data directory: a second start there is refused.)
#[tokio::test]
async fn a_rewritten_tree_stops_the_start() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    issue_some(&app, 2, "S").await;
    app.library.checkpoint_audit(&Actor::cli()).await.unwrap();
    let mut config = zhengzhao_server::ServerConfig::new(&app.data_dir);
    config.listen = "127.0.0.1:0".into();
    let Err(e) = zhengzhao_server::Application::build(config).await else {
        panic!("a second server on a data directory in use must not start");
    };
    assert!(
        e.to_string().contains("another process holds the library"),
        "{e}"
    );

    // A copy of the library elsewhere, with its master key, starts.
    let copy = tempfile::tempdir().unwrap();
    let taken = zhengzhao_server::service::backup::scheduled_backup(&app.library, copy.path(), 1)
        .await
        .unwrap();
    std::fs::rename(&taken, copy.path().join("zhengzhao.db")).unwrap();
    std::fs::copy(
        app.data_dir.join("master-key"),
        copy.path().join("master-key"),
    )
    .unwrap();
    let mut config = zhengzhao_server::ServerConfig::new(copy.path());
    config.listen = "127.0.0.1:0".into();
    let started = zhengzhao_server::Application::build(config.clone()).await;
    assert!(started.is_ok(), "{:?}", started.err());
    drop(started);
    // The start-up check folds the stored right edge of the tree; rewriting
    // the interior nodes changes it (a single leaf is `audit verify`'s job).
    rusqlite::Connection::open(copy.path().join("zhengzhao.db"))
        .unwrap()
        .execute_batch(
            "DROP TRIGGER audit_nodes_no_update;
             UPDATE audit_nodes SET hash = zeroblob(32);",
        )
        .unwrap();
    let Err(e) = zhengzhao_server::Application::build(config).await else {
        panic!("a library whose tree lost its checkpointed root must not start");
    };
    assert!(e.to_string().contains("audit log"), "{e}");
}

/// A running library finds an audit event edited after it joined the tree
/// by itself: the background check (`sweep_audit`, which `serve` runs at
/// `audit_sweep_interval`; here called directly) hashes new entries at once
/// and passes over the whole log a batch at a time; `/metrics` shows the
/// finding and the seq of the entry.
async fn the_background_check_finds_edited_entries(backend: Backend) {
    let quiet = |c: &mut zhengzhao_server::ServerConfig| {
        c.audit_sweep_interval = std::time::Duration::from_secs(3600);
    };
    let Some(app) = TestApp::spawn_with(backend, quiet).await else {
        eprintln!("skipped: TEST_DATABASE_URL not set");
        return;
    };
    let metric = |text: &str, name: &str| -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    };
    with_history(&app).await;
    let clean = app.library.sweep_audit(1000).await.unwrap();
    assert_eq!(clean.problem, None);
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&text, "zhengzhao_audit_integrity_ok"), 1, "{text}");

    // A new entry, edited right after it joined the tree, is found in the
    // next round even though the pass over the whole log (2 entries per
    // round here) is far from it.
    issue_some(&app, 1, "N").await;
    app.library.integrate_audit().await.unwrap();
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let new_seq = events
        .iter()
        .rev()
        .find(|e| e.event.action == "license.issue")
        .unwrap()
        .seq;
    app.raw_sql(&format!(
        "{} UPDATE audit_events SET actor = 'mallory' WHERE seq = {new_seq};",
        drop_guards(&app)
    ))
    .await;
    let found = app.library.sweep_audit(2).await.unwrap();
    let problem = found.problem.expect("the edited new entry must be found");
    assert_eq!(problem.seq, Some(new_seq), "{problem:?}");
    assert!(
        problem
            .message
            .contains(&format!("(seq {new_seq}) was altered")),
        "{problem:?}"
    );
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&text, "zhengzhao_audit_integrity_ok"), 0, "{text}");
    assert_eq!(
        metric(&text, "zhengzhao_audit_integrity_first_bad_seq"),
        new_seq,
        "{text}"
    );

    // An old entry, edited long after it was added, is found by the pass.
    let other = TestApp::spawn_with(backend, quiet).await.unwrap();
    let ((_, old), _) = with_history(&other).await;
    assert_eq!(other.library.sweep_audit(5).await.unwrap().problem, None);
    other
        .raw_sql(&format!(
            "{} UPDATE audit_events SET org = '150200' WHERE seq = {old};",
            drop_guards(&other)
        ))
        .await;
    let mut rounds = 0;
    let problem = loop {
        let status = other.library.sweep_audit(5).await.unwrap();
        if let Some(p) = status.problem {
            break p;
        }
        rounds += 1;
        assert!(rounds < 100, "the pass never found the edited entry");
    };
    assert_eq!(problem.seq, Some(old), "{problem:?}");
    let text = other.get("/metrics").await.text().await.unwrap();
    assert_eq!(metric(&text, "zhengzhao_audit_integrity_ok"), 0, "{text}");
    assert_eq!(
        metric(&text, "zhengzhao_audit_integrity_first_bad_seq"),
        old,
        "{text}"
    );
    assert!(metric(&text, "zhengzhao_audit_sweep_checked_entries") > 0);
}

mod background_check {
    #[tokio::test]
    async fn sqlite() {
        super::the_background_check_finds_edited_entries(super::Backend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::the_background_check_finds_edited_entries(super::Backend::Postgres).await;
    }
}

async fn search_and_export_within_the_subtree(app: TestApp) {
    let hohhot = app.token("150102", Role::IssuerClerk).await;
    let baotou = app.token("150202", Role::IssuerClerk).await;
    let first = app.issue(&hohhot, &license_request("E1")).await;
    app.issue(&hohhot, &license_request("E2")).await;
    let mut other = license_request("E3");
    other["issuer"] = json!("150202");
    other["face"]["registration_authority"] = json!("150202");
    app.issue(&baotou, &other).await;

    let auditor = app.token("150100", Role::Auditor).await;
    let page: Value = app
        .get_as("/api/v1/audit/events?action=license.issue", &auditor)
        .await
        .json()
        .await
        .unwrap();
    let orgs: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["org"].as_str().unwrap())
        .collect();
    assert_eq!(
        orgs,
        ["150102", "150102"],
        "only the auditor's subtree: {page}"
    );

    let region = app.token("150000", Role::Auditor).await;
    let all: Value = app
        .get_as("/api/v1/audit/events?action=license.issue", &region)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 3);

    for (path, token, status) in [
        (
            "/api/v1/audit/events?org=150200",
            &auditor,
            StatusCode::FORBIDDEN,
        ),
        ("/api/v1/audit/events", &hohhot, StatusCode::FORBIDDEN),
        (
            "/api/v1/audit/events?from=yesterday",
            &auditor,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/audit/events?format=xml",
            &auditor,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "/api/v1/audit/events?limit=0",
            &auditor,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        expect_problem(app.get_as(path, token).await, status).await;
    }

    let id = first["license_id"].as_str().unwrap();
    let about: Value = app
        .get_as(&format!("/api/v1/audit/events?license={id}"), &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(about["items"].as_array().unwrap().len(), 1, "{about}");
    assert_eq!(about["items"][0]["action"], "license.issue");

    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let none: Value = app
        .get_as(&format!("/api/v1/audit/events?from={later}"), &region)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"], json!([]));

    let one: Value = app
        .get_as(
            "/api/v1/audit/events?action=license.issue&limit=1",
            &auditor,
        )
        .await
        .json()
        .await
        .unwrap();
    let after = one["next_after"].as_i64().unwrap();
    let next: Value = app
        .get_as(
            &format!("/api/v1/audit/events?action=license.issue&limit=1&after={after}"),
            &auditor,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(next["items"][0]["seq"].as_i64().unwrap() > after);

    let csv = app
        .get_as(
            "/api/v1/audit/events?action=license.issue&format=csv",
            &auditor,
        )
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("seq,id,at,actor,org"));
    assert!(lines[1].contains("\"license.issue\""));
    let jsonl = app
        .get_as(
            "/api/v1/audit/events?action=license.issue&format=jsonl",
            &auditor,
        )
        .await
        .text()
        .await
        .unwrap();
    let parsed: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0]["org"], "150102");
}
both_backends!(search, search_and_export_within_the_subtree);

/// Searching by any version's identifier finds the whole license's events
/// (issue, updates, revocation); public audit endpoints still refuse a
/// token that is present but wrong.
async fn license_search_spans_versions(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("AUDIT-V")).await;
    let first = issued["license_id"].as_str().unwrap().to_owned();
    let second = app
        .update_domicile(&clerk, &first, "内蒙古自治区呼和浩特市新城区新华大街2号")
        .await;
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{first}/revoke"),
            Some(&clerk),
            &json!({"reason": "注销"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let auditor = app.token("150000", Role::Auditor).await;
    for id in [&first, &second] {
        let page: Value = app
            .get_as(&format!("/api/v1/audit/events?license={id}"), &auditor)
            .await
            .json()
            .await
            .unwrap();
        let actions: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["license.issue", "license.update", "license.revoke"],
            "by {id}"
        );
    }
    let r = app
        .get_as("/api/v1/audit/events?license=not-an-id", &auditor)
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    for path in [
        "/api/v1/audit/checkpoint",
        "/api/v1/audit/proofs/consistency?from=0&to=1",
    ] {
        let r = app.get_as(path, "nonsense").await;
        expect_problem(r, StatusCode::UNAUTHORIZED).await;
    }
}
both_backends!(license_search, license_search_spans_versions);
