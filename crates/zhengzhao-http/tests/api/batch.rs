//! `POST /api/v1/licenses/batch` (issue 14): JSON Lines in, one line out
//! per input line, in order; idempotent on each line's source record.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

async fn send(app: &TestApp, token: &str, content_type: &str, body: String) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/licenses/batch"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn batch_lines_in_order(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let mut bad_face = license_request("bt-3");
    bad_face["face"]["name"] = json!("");
    let mut other_org = license_request("bt-4");
    other_org["issuer"] = json!("150103");
    let lines = [
        license_request("bt-1").to_string(),
        license_request("bt-2").to_string(),
        bad_face.to_string(),
        "{not json".to_owned(),
        other_org.to_string(),
        license_request("bt-1").to_string(),
    ];
    let body = lines.join("\n") + "\n";
    let r = send(&app, &clerk, "application/x-ndjson", body.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let out: Vec<Value> = r
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seen: Vec<(i64, &str)> = out
        .iter()
        .map(|o| (o["line"].as_i64().unwrap(), o["status"].as_str().unwrap()))
        .collect();
    // The repeat of line 1 in the same batch runs beside it: one of the
    // two is issued, the other answered as its replay.
    let mut twins = [seen[0].1, seen[5].1];
    twins.sort_unstable();
    assert_eq!(twins, ["imported", "unchanged"]);
    assert_eq!(
        seen[1..5],
        [
            (2, "imported"),
            (3, "rejected"),
            (4, "rejected"),
            (5, "rejected")
        ]
    );
    assert_eq!((seen[0].0, seen[5].0), (1, 6));
    assert_eq!(out[2]["problem"], "validation");
    assert!(out[2]["fields"].to_string().contains("face/name"));
    assert!(
        !out[2].to_string().contains("呼和浩特"),
        "no data echoed: {}",
        out[2]
    );
    assert_eq!(out[3]["problem"], "malformed");
    assert_eq!(out[4]["problem"], "forbidden");
    assert_eq!(out[0]["license_id"], out[5]["license_id"]);
    let first = out[0]["license_id"].as_str().unwrap();
    let view: Value = app
        .get_as(&format!("/api/v1/licenses/{first}"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["holder"]["id"], holder_code_for("bt-1").as_str());

    // Sent again: the imported lines are unchanged, nothing is duplicated.
    let r = send(&app, &clerk, "application/jsonl", body).await;
    let again: Vec<Value> = r
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let statuses: Vec<&str> = again
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "unchanged",
            "unchanged",
            "rejected",
            "rejected",
            "rejected",
            "unchanged"
        ]
    );

    // Only JSON Lines, only an issuing clerk.
    let r = send(&app, &clerk, "application/json", lines[0].clone()).await;
    expect_problem(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let auditor = app.token("150102", Role::Auditor).await;
    let r = send(&app, &auditor, "application/x-ndjson", lines[1].clone()).await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
}
both_backends!(licenses_batch, batch_lines_in_order);
