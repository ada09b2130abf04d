//! Operations surface: health, metrics, OpenAPI and its viewer, request ids,
//! unknown routes, security headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod common;

use common::{TestApp, expect_problem};
use reqwest::StatusCode;
use serde_json::Value;

async fn operations_endpoints_answer(app: TestApp) {
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("x-request-id"));
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );

    // Make a request to a templated route, then look for it in the metrics.
    app.get("/api/v1/orgs/150781").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("zhengzhao_http_requests_total{"),
        "{metrics}"
    );
    assert!(
        metrics.contains("route=\"/api/v1/orgs/{code}\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("zhengzhao_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("zhengzhao_db_pool_size{backend="),
        "{metrics}"
    );
    assert!(!metrics.contains(&app.admin_token));

    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/catalog",
        "/api/v1/catalog/{code}",
        "/api/v1/orgs",
        "/healthz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let viewer = app.get("/api/docs/").await;
    assert_eq!(viewer.status(), StatusCode::OK);
    assert!(viewer.text().await.unwrap().contains("swagger"));

    expect_problem(app.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND).await;
    let index = app.get("/").await.text().await.unwrap();
    assert!(index.contains("电子证照发证目录公示"));
}
both_backends!(operations, operations_endpoints_answer);

/// Each start records its settings in the audit log (configuration changes
/// show as differences between starts), and no secret among them.
async fn starts_are_on_the_record(app: TestApp) {
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let starts: Vec<_> = events
        .iter()
        .filter(|e| e.event.action == "server.start")
        .collect();
    assert_eq!(starts.len(), 1);
    let d = &starts[0].event.detail;
    assert_eq!(d["tls"], false);
    assert_eq!(d["session"]["lockout_threshold"], 5);
    assert_eq!(d["session"]["idle_timeout_secs"], 1800);
    assert!(d["backend"] == "sqlite" || d["backend"] == "postgres");
    let text = serde_json::to_string(&starts[0]).unwrap();
    assert!(!text.contains("postgres://"), "{text}");
    assert!(!text.contains(&app.admin_token));
}
both_backends!(start_record, starts_are_on_the_record);
