//! The tamper-evident audit log: signed checkpoints (C2SP signed notes,
//! checked with Python `cryptography` from the specs and with OpenSSL),
//! inclusion and consistency proofs over HTTP, who may ask for what, and
//! `verify` catching rows edited, deleted or reordered with plain SQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_core::Actor;
use zhengzhao_crypto::merkle;
use zhengzhao_domain::role::Role;
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
    let origin = first["origin"].as_str().unwrap();
    assert!(
        first["note"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{origin}\n{size1}\n")),
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
    assert_eq!(
        proof["checkpoint"], first,
        "the proof names the checkpoint it is relative to"
    );
    let index = proof["leaf_index"].as_u64().unwrap();
    let leaf = zhengzhao_core::audit_log::leaf_hash(issued).unwrap();
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
    assert_eq!(consistency["from_checkpoint"], first);
    assert_eq!(
        consistency["to_checkpoint"]["root_hash"],
        B64.encode(second.root)
    );
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

/// The uncompressed SM2 point (65 bytes) of a PEM certificate, by OpenSSL.
fn sm2_point(certificate: &str) -> Vec<u8> {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, certificate).unwrap();
    let public = Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl must be installed");
    assert!(public.status.success());
    let mut der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut der.stdin.take().unwrap(), &public.stdout).unwrap();
    let der = der.wait_with_output().unwrap();
    assert!(der.status.success());
    // SubjectPublicKeyInfo ends with the BIT STRING of the point 04‖X‖Y.
    let point = der.stdout[der.stdout.len() - 65..].to_vec();
    assert_eq!(point[0], 4);
    point
}

/// Run the independent checker (`note_verify.py`: the C2SP specs in Python
/// `cryptography`) on a signed note with a verifier key.
fn python_opens(signed_note: &str, vkey: &str, sm2_point: &[u8]) -> (bool, Value) {
    let dir = tempfile::tempdir().unwrap();
    let (script, note) = (dir.path().join("verify.py"), dir.path().join("note"));
    std::fs::write(&script, include_str!("note_verify.py")).unwrap();
    std::fs::write(&note, signed_note).unwrap();
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&note)
        .arg(vkey)
        .arg(hex::encode(sm2_point))
        .output()
        .expect(
            "python3 with the cryptography package must be installed: ./scripts/test installs it",
        );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.success(), report)
}

/// A checkpoint is a C2SP signed note: origin without spaces, size, root and
/// the time inside the signed text; an Ed25519 line that a note verifier
/// holding the published verifier key accepts (and that nothing else
/// passes), and an SM2 line beside it that OpenSSL verifies and note
/// verifiers skip.
async fn checkpoints_are_signed_notes(app: TestApp) {
    issue_some(&app, 2, "N").await;
    let security = app.token("150000", Role::SecurityAdmin).await;
    let resp = app
        .send_json(
            Method::POST,
            "/api/v1/audit/checkpoints",
            Some(&security),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let cp: Value = resp.json().await.unwrap();
    assert_eq!(cp["format"], "c2sp-tlog-checkpoint");
    let origin = cp["origin"].as_str().unwrap();
    assert!(
        origin.starts_with("zhengzhao/audit-sm3/150000/"),
        "{origin}"
    );
    assert!(!origin.contains(char::is_whitespace) && !origin.contains('+'));
    let text = cp["note"].as_str().unwrap();
    let created_at: jiff::Timestamp = cp["created_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        text,
        format!(
            "{origin}\n{}\n{}\ntime {created_at}\n",
            cp["tree_size"],
            cp["root_hash"].as_str().unwrap()
        )
    );
    let signed = cp["signed_note"].as_str().unwrap();
    assert!(
        signed.starts_with(&format!("{text}\n\u{2014} {origin} ")),
        "{signed}"
    );
    assert_eq!(signed.matches('\u{2014}').count(), 2, "{signed}");

    // The verifier key is public, and the same for the command line.
    let key: Value = app
        .get("/api/v1/audit/verifier-key")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(key["origin"], origin);
    assert_eq!(key["algorithm"], "Ed25519");
    let vkey = key["vkey"].as_str().unwrap();
    assert!(vkey.starts_with(&format!("{origin}+")), "{vkey}");
    assert_eq!(app.library.audit_verifier_key().unwrap().vkey, vkey);

    let point = sm2_point(cp["certificate"].as_str().unwrap());
    let (ok, report) = python_opens(signed, vkey, &point);
    assert!(ok, "{report}");
    assert_eq!(report["text"], text);
    assert_eq!(report["origin"], origin);
    assert_eq!(report["tree_size"], cp["tree_size"]);
    assert_eq!(report["root_hash"], cp["root_hash"]);
    assert_eq!(report["extensions"], json!([format!("time {created_at}")]));
    assert_eq!(report["verified_lines"], 1);
    // The SM2 line: skipped by the note verifier, its key ID as documented,
    // and its signature is the checkpoint's SM2 signature, which OpenSSL
    // verifies over the text with the certificate.
    let unknown = report["unknown_lines"].as_array().unwrap();
    assert_eq!(unknown.len(), 1, "{report}");
    assert_eq!(unknown[0]["name"], origin);
    assert_eq!(unknown[0]["key_id"], report["sm2_key_id"]);
    assert_eq!(unknown[0]["signature"], cp["signature"]);
    let sm2 = openssl_verify(
        text,
        unknown[0]["signature"].as_str().unwrap(),
        cp["certificate"].as_str().unwrap(),
    );
    assert!(
        sm2.status.success(),
        "{}",
        String::from_utf8_lossy(&sm2.stderr)
    );

    // What the checker refuses: a changed text, another log's key, no
    // Ed25519 line at all.
    let size = cp["tree_size"].as_u64().unwrap();
    let grown = signed.replacen(&format!("\n{size}\n"), &format!("\n{}\n", size + 1), 1);
    assert!(!python_opens(&grown, vkey, &point).0);
    // (The verifier key of Go's sumdb/note example.)
    let other = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let (ok, report) = python_opens(signed, other, &point);
    assert!(!ok, "{report}");
    assert_eq!(report["error"], "no signature by the verifier key");
    let ed25519_line = signed.lines().find(|l| l.starts_with('\u{2014}')).unwrap();
    let without = signed.replace(&format!("{ed25519_line}\n"), "");
    assert!(!python_opens(&without, vkey, &point).0);

    // The log grows: an event not yet under a signed checkpoint gets a proof
    // against the whole log now, which names no checkpoint.
    issue_some(&app, 1, "M").await;
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let newest = events
        .iter()
        .rev()
        .find(|e| e.event.action == "license.issue")
        .unwrap();
    let auditor = app.token("150000", Role::Auditor).await;
    let proof: Value = app
        .get_as(
            &format!("/api/v1/audit/proofs/inclusion?seq={}", newest.seq),
            &auditor,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(proof["tree_size"].as_u64().unwrap() > size);
    assert_eq!(proof["checkpoint"], Value::Null, "{proof}");
    // An older event's proof is against the latest checkpoint by default.
    let older = events
        .iter()
        .find(|e| e.event.action == "license.issue")
        .unwrap();
    let proof: Value = app
        .get_as(
            &format!("/api/v1/audit/proofs/inclusion?seq={}", older.seq),
            &auditor,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(proof["tree_size"], size);
    assert_eq!(proof["checkpoint"], cp);
    assert_eq!(app.library.verify_audit().await.unwrap().problem, None);
}
both_backends!(signed_notes, checkpoints_are_signed_notes);

/// A library whose checkpoints were signed before they were signed notes
/// (the legacy format) still starts and verifies; those checkpoints are
/// served as `legacy` and still verify with OpenSSL; the next one is a
/// signed note; and an Ed25519 line rewritten in the database is caught.
async fn legacy_checkpoints_still_verify(app: TestApp) {
    use zhengzhao_core::audit_log::legacy_checkpoint_note;
    issue_some(&app, 2, "O").await;
    let region = app
        .library
        .store
        .org(&zhengzhao_domain::org::OrgCode::parse("150000").unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = app.library.signer_for(&region).await.unwrap();
    // A checkpoint as the library signed them before (same code path as
    // then: the old text, SM2 over it, stored with its audit event).
    let size = app.library.integrate_audit().await.unwrap();
    let root = app.library.audit_root(size).await.unwrap();
    let note = legacy_checkpoint_note(size, &root);
    let legacy = zhengzhao_store::AuditCheckpoint {
        tree_size: size,
        root,
        created_at: jiff::Timestamp::now(),
        key_id: key.id,
        signature: key.pair.sign(note.as_bytes()).unwrap(),
        note: note.clone(),
    };
    let event = zhengzhao_store::AuditEvent {
        id: uuid::Uuid::new_v4(),
        at: jiff::Timestamp::now(),
        actor: "cli".into(),
        org: None,
        role: None,
        client_addr: None,
        action: "audit.checkpoint".into(),
        target: format!("audit_tree:{size}"),
        outcome: "success".into(),
        reason: None,
        detail: json!({"tree_size": size}),
    };
    app.library
        .store
        .add_audit_checkpoint(&legacy, &zhengzhao_store::ChangeLog::audit_only(event))
        .await
        .unwrap();
    app.library.check_audit_head().await.unwrap();
    let report = app.library.verify_audit().await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.checkpoints_checked, 1);
    let served: Value = app
        .get("/api/v1/audit/checkpoint")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(served["format"], "legacy");
    assert_eq!(served["note"], note);
    assert_eq!(served["origin"], Value::Null);
    assert_eq!(served["signed_note"], Value::Null);
    openssl_verifies(&served);

    // The next checkpoint (the log grew by the legacy one's event) is a note.
    let next = app.library.checkpoint_audit(&Actor::cli()).await.unwrap();
    assert!(next.tree_size > size);
    let view = app.library.checkpoint_view(&next).await.unwrap();
    assert_eq!(view.format, "c2sp-tlog-checkpoint");
    app.library.check_audit_head().await.unwrap();
    let report = app.library.verify_audit().await.unwrap();
    assert_eq!(report.problem, None);
    assert_eq!(report.checkpoints_checked, 2);
    // A proof against the legacy checkpoint names it.
    let first = app.library.store.audit_events(0, 1).await.unwrap()[0].seq;
    let proof = app
        .library
        .inclusion_proof(first, Some(size))
        .await
        .unwrap();
    assert_eq!(proof.checkpoint.unwrap().format, "legacy");

    // Someone with database access swaps the Ed25519 line for one of
    // another key: the SM2 line still holds, but the start-up check and
    // `verify` refuse the checkpoint.
    let signed = view.signed_note.unwrap();
    let line = signed.lines().find(|l| l.starts_with('\u{2014}')).unwrap();
    let (name, sig) = line.rsplit_once(' ').unwrap();
    let mut bytes = B64.decode(sig).unwrap();
    bytes[10] ^= 1;
    let forged = signed.replace(line, &format!("{name} {}", B64.encode(bytes)));
    let unguard = match app.backend {
        Backend::Sqlite => "DROP TRIGGER audit_checkpoints_no_update;",
        Backend::Postgres => "DROP TRIGGER audit_checkpoints_no_change ON audit_checkpoints;",
    };
    app.raw_sql(&format!(
        "{unguard} UPDATE audit_checkpoints SET note = '{forged}' WHERE tree_size = {};",
        next.tree_size
    ))
    .await;
    let problem = verify_problem(&app).await;
    assert!(
        problem.contains(&format!(
            "checkpoint at tree size {} is not signed by the log's Ed25519 key",
            next.tree_size
        )),
        "{problem}"
    );
    let e = app.library.check_audit_head().await.unwrap_err();
    assert!(e.to_string().contains("Ed25519"), "{e}");
}
both_backends!(legacy_checkpoints, legacy_checkpoints_still_verify);

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
async fn a_rewritten_tree_stops_the_start(app: TestApp) {
    issue_some(&app, 2, "S").await;
    app.library.checkpoint_audit(&Actor::cli()).await.unwrap();
    let mut config = zhengzhao_http::ServerConfig::new(&app.data_dir);
    config.listen = "127.0.0.1:0".into();
    on_the_same_database(&app, &mut config);
    let Err(e) = zhengzhao_http::Application::build(config).await else {
        panic!("a second server on a data directory in use must not start");
    };
    assert!(
        e.to_string().contains("another process holds the library"),
        "{e}"
    );

    // A copy of the library elsewhere, with its master key, starts. (On
    // PostgreSQL the library is its schema, which pg_dump copies, not the
    // library: there, another data directory with the master key on it.)
    let copy = tempfile::tempdir().unwrap();
    if app.backend == Backend::Sqlite {
        let taken = zhengzhao_core::backup::scheduled_backup(&app.library, copy.path(), 1)
            .await
            .unwrap();
        std::fs::rename(&taken, copy.path().join("zhengzhao.db")).unwrap();
    }
    std::fs::copy(
        app.data_dir.join("master-key"),
        copy.path().join("master-key"),
    )
    .unwrap();
    let mut config = zhengzhao_http::ServerConfig::new(copy.path());
    config.listen = "127.0.0.1:0".into();
    on_the_same_database(&app, &mut config);
    let started = zhengzhao_http::Application::build(config.clone()).await;
    assert!(started.is_ok(), "{:?}", started.err());
    drop(started);
    // The start-up check folds the stored right edge of the tree; rewriting
    // the interior nodes changes it (a single leaf is `audit verify`'s job).
    match app.backend {
        Backend::Sqlite => rusqlite::Connection::open(copy.path().join("zhengzhao.db"))
            .unwrap()
            .execute_batch(
                "DROP TRIGGER audit_nodes_no_update;
                 UPDATE audit_nodes SET hash = zeroblob(32);",
            )
            .unwrap(),
        Backend::Postgres => {
            app.raw_sql(
                "DROP TRIGGER audit_nodes_no_change ON audit_nodes;
                 UPDATE audit_nodes SET hash = decode(repeat('00', 32), 'hex');",
            )
            .await;
        }
    }
    let Err(e) = zhengzhao_http::Application::build(config).await else {
        panic!("a library whose tree lost its checkpointed root must not start");
    };
    assert!(e.to_string().contains("audit log"), "{e}");
}
both_backends!(rewritten_tree, a_rewritten_tree_stops_the_start);

/// On PostgreSQL, `config` names `app`'s database and schema.
fn on_the_same_database(app: &TestApp, config: &mut zhengzhao_http::ServerConfig) {
    if let Some((url, schema)) = &app.postgres {
        config.database_url = Some(url.clone());
        config.database_schema = Some(schema.clone());
    }
}

/// A running library finds an audit event edited after it joined the tree
/// by itself: the background check (`sweep_audit`, which `serve` runs at
/// `audit_sweep_interval`; here called directly) hashes new entries at once
/// and passes over the whole log a batch at a time; `/metrics` shows the
/// finding and the seq of the entry.
async fn the_background_check_finds_edited_entries(backend: Backend) {
    let quiet = |c: &mut zhengzhao_http::ServerConfig| {
        c.audit_sweep_interval = std::time::Duration::from_secs(3600);
    };
    let Some(app) = TestApp::spawn_with(backend, quiet).await else {
        eprintln!("skipped: the PostgreSQL half is skipped on purpose");
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
        "/api/v1/audit/verifier-key",
        "/api/v1/audit/proofs/consistency?from=0&to=1",
    ] {
        let r = app.get_as(path, "nonsense").await;
        expect_problem(r, StatusCode::UNAUTHORIZED).await;
    }
}
both_backends!(license_search, license_search_spans_versions);
