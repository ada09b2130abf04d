//! The OpenAPI document the server serves is valid OpenAPI, as
//! `openapi-spec-validator` (installed at a pinned version by
//! `scripts/requirements-test.txt`) judges it: every error fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use serde_json::Value;

#[tokio::test]
async fn the_served_openapi_document_validates() {
    // The document does not depend on the storage backend.
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let resp = app.get("/api/v1/openapi.json").await;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let text = resp.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .expect("python3 must be installed: ./scripts/test installs it");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report.contains("No module named openapi_spec_validator"),
        "openapi-spec-validator is missing: ./scripts/test installs it (scripts/requirements-test.txt)"
    );
    assert!(out.status.success(), "{report}");
    assert!(report.contains(": OK"), "{report}");
}
