//! Batch check for platforms (Art. 16) over HTTP: only a `platform` token;
//! up to 1,000 items; one JSON line per item in order (exists, status, name
//! match, identifier); one audit event per item; a platform reads nothing
//! else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

async fn batch_check(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("BATCH-1")).await;
    let id = issued["license_id"].as_str().unwrap();
    let platform = app.token("150000", Role::Platform).await;
    let body = json!({"items": [
        {"credit_code": holder_code_for("BATCH-1"), "name": "呼和浩特市青城科技有限公司"},
        {"credit_code": holder_code_for("BATCH-1"), "name": "别的公司"},
        {"credit_code": "BADCODE", "name": "坏代码"},
        {"credit_code": zhengzhao_domain::codes::CreditCode::with_check_character("91150102MA0N4JXK3").unwrap().to_string(), "name": "无此企业"}
    ]});

    // Only a platform; staff roles are refused (they have other ways to read).
    for token in [clerk.clone(), app.token("150000", Role::RegionAdmin).await] {
        let r = app
            .send_json(Method::POST, "/api/v1/verify/batch", Some(&token), &body)
            .await;
        expect_problem(r, StatusCode::FORBIDDEN).await;
    }
    let r = app
        .send_json(Method::POST, "/api/v1/verify/batch", None, &body)
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED).await;

    let before = app.audit_count().await;
    let r = app
        .send_json(Method::POST, "/api/v1/verify/batch", Some(&platform), &body)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["index"], 0);
    assert_eq!(
        (
            lines[0]["exists"].clone(),
            lines[0]["status"].clone(),
            lines[0]["name_matches"].clone()
        ),
        (json!(true), json!("valid"), json!(true))
    );
    assert_eq!(lines[0]["license_id"], id);
    assert_eq!(lines[1]["name_matches"], false);
    assert_eq!(lines[2]["exists"], false);
    // A malformed code: a stable code and a message in both languages.
    assert_eq!(lines[2]["error"], "malformed_code", "{text}");
    assert!(lines[2]["message"].is_string() && lines[2]["message_zh"].is_string());
    assert_eq!(lines[0]["error"], Value::Null);
    assert_eq!(
        (lines[3]["exists"].clone(), lines[3]["status"].clone()),
        (json!(false), Value::Null)
    );
    assert_eq!(
        app.audit_count().await,
        before + 4,
        "one audit event per item"
    );
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    let malformed = events
        .iter()
        .find(|e| e.event.action == "verify.batch_item" && e.event.detail["index"] == 2)
        .unwrap();
    assert_eq!(malformed.event.detail["error"], "malformed_code");

    // Bounds: nothing, or more than 1,000 items, is refused before any lookup.
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"credit_code": holder_code(), "name": "x"}))
        .collect();
    for items in [json!([]), json!(too_many)] {
        let r = app
            .send_json(
                Method::POST,
                "/api/v1/verify/batch",
                Some(&platform),
                &json!({"items": items}),
            )
            .await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    assert_eq!(app.audit_count().await, before + 4);

    // A platform reads licenses no other way.
    for path in [
        format!("/api/v1/licenses/{id}"),
        "/api/v1/licenses".to_owned(),
        format!("/api/v1/licenses/{id}/document"),
    ] {
        expect_problem(app.get_as(&path, &platform).await, StatusCode::FORBIDDEN).await;
    }
}
both_backends!(batch, batch_check);

/// Every item field is length-checked before anything is looked up or
/// logged: a huge credit code or name refuses the request (422, naming the
/// item), and nothing is written to the audit log.
async fn oversized_items_are_refused_unlogged(app: TestApp) {
    let platform = app.token("150000", Role::Platform).await;
    let before = app.audit_count().await;
    let huge = "9".repeat(60_000);
    for (items, field) in [
        (
            json!([{"credit_code": holder_code(), "name": "x"}, {"credit_code": huge, "name": "x"}]),
            "items/1/credit_code",
        ),
        (
            json!([{"credit_code": holder_code(), "name": "名".repeat(201)}]),
            "items/0/name",
        ),
        (
            json!([{"credit_code": format!("{}\u{0}", holder_code()), "name": "x"}]),
            "items/0/credit_code",
        ),
    ] {
        let r = app
            .send_json(
                Method::POST,
                "/api/v1/verify/batch",
                Some(&platform),
                &json!({ "items": items }),
            )
            .await;
        let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert!(
            p.to_string().len() < 2_000,
            "the problem does not echo the value"
        );
    }
    assert_eq!(app.audit_count().await, before, "nothing was logged");
    // Within the limits (spaces around a code are trimmed), each item is answered and logged small.
    let padded = format!("  {}  ", holder_code());
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/verify/batch",
            Some(&platform),
            &json!({"items": [{"credit_code": padded, "name": "名".repeat(200)}, {"credit_code": "X".repeat(64), "name": "x"}]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.unwrap().lines().count(), 2);
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    assert_eq!(events.len(), before + 2);
    for e in &events[before..] {
        let size = serde_json::to_string(&e.event).unwrap().len();
        assert!(size < 1_000, "an audit event of {size} bytes");
    }
}
both_backends!(oversized, oversized_items_are_refused_unlogged);
