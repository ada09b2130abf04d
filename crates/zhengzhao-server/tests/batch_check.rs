//! Batch check for platforms (Art. 16) over HTTP: only a `platform` token;
//! up to 1,000 items; one JSON line per item in order (exists, status, name
//! match, identifier); one audit event per item; a platform reads nothing
//! else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

async fn batch_check(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("BATCH-1")).await;
    let id = issued["license_id"].as_str().unwrap();
    let platform = app.token("150000", Role::Platform).await;
    let body = json!({"items": [
        {"credit_code": holder_code(), "name": "呼和浩特市青城科技有限公司"},
        {"credit_code": holder_code(), "name": "别的公司"},
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
    assert!(lines[2]["error"].is_string(), "a malformed code says why");
    assert_eq!(
        (lines[3]["exists"].clone(), lines[3]["status"].clone()),
        (json!(false), Value::Null)
    );
    assert_eq!(
        app.audit_count().await,
        before + 4,
        "one audit event per item"
    );

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
