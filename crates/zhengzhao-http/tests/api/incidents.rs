//! Emergency incidents and their backlog (issue 14, Art. 9): items are due
//! three working days after the clearing day on the holiday calendar; an
//! item is done when its license operation arrives; a deadline in a year
//! the calendar lacks is provisional until that year is imported.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_core::Actor;
use zhengzhao_domain::role::Role;

fn item(record: &str, operation: &str, on: &str) -> Value {
    json!({"source": {"system": "qiye-dengji", "record_id": record}, "operation": operation, "paper_issued_on": on})
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::POST, path, Some(token), &body).await
}

async fn incident_backlog_and_deadlines(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let r = post(
        &app,
        &clerk,
        "/api/v1/incidents",
        json!({"org": "150102", "cause": "机房断电", "started_at": "2026-09-28T09:00:00+08:00",
               "operations": ["issue", "update"]}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let opened: Value = r.json().await.unwrap();
    let id = opened["incident_id"].as_str().unwrap().to_owned();
    let base = format!("/api/v1/incidents/{id}");

    // Bad items refuse the whole request; nothing is stored.
    for bad in [
        item("in-9", "revoke", "2026-09-29"),
        item("in-9", "issue", "2026-09-27"),
        item("in 9\n", "issue", "2026-09-29"),
    ] {
        let r = post(
            &app,
            &clerk,
            &format!("{base}/backlog"),
            json!({"items": [item("in-1", "issue", "2026-09-29"), bad]}),
        )
        .await;
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let r = post(
        &app,
        &clerk,
        &format!("{base}/backlog"),
        json!({"items": [item("in-1", "issue", "2026-09-29"), item("in-2", "issue", "2026-09-29"), item("in-1", "issue", "2026-09-29")]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        2,
        "a repeat is kept once: {v}"
    );
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "pending" && i["due_on"].is_null())
    );

    // Only the org's clerks, or a region admin or auditor above it.
    let other = app.token("150103", Role::IssuerClerk).await;
    let r = app.get_as(&base, &other).await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    let r = post(
        &app,
        &other,
        &format!("{base}/backlog"),
        json!({"items": [item("x", "issue", "2026-09-29")]}),
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    let city_auditor = app.token("150100", Role::Auditor).await;
    assert_eq!(
        app.get_as(&base, &city_auditor).await.status(),
        StatusCode::OK
    );
    let r = post(
        &app,
        &city_auditor,
        &format!("{base}/close"),
        json!({"cleared_at": "2026-09-30T17:00:00+08:00"}),
    )
    .await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    let bank = app.token("150000", Role::RelyingParty).await;
    expect_problem(app.get_as(&base, &bank).await, StatusCode::FORBIDDEN).await;
    expect_problem(app.get(&base).await, StatusCode::UNAUTHORIZED).await;

    // Cleared on Wednesday 30 September 2026: 1–7 October are holidays,
    // 8 and 9 October working days, Saturday 10 October a make-up workday.
    let r = post(
        &app,
        &clerk,
        &format!("{base}/close"),
        json!({"cleared_at": "2026-09-27T17:00:00+08:00"}),
    )
    .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = post(
        &app,
        &clerk,
        &format!("{base}/close"),
        json!({"cleared_at": "2026-09-30T17:00:00+08:00"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    for i in v["items"].as_array().unwrap() {
        assert_eq!(i["due_on"], "2026-10-10");
        assert_eq!(i["provisional"], false);
        assert_eq!(i["state"], "overdue", "today is past 10 October");
    }
    assert_eq!(v["overdue"], 2);
    let r = post(
        &app,
        &clerk,
        &format!("{base}/close"),
        json!({"cleared_at": "2026-09-30T18:00:00+08:00"}),
    )
    .await;
    expect_problem(r, StatusCode::CONFLICT).await;
    let r = post(
        &app,
        &clerk,
        &format!("{base}/backlog"),
        json!({"items": [item("in-3", "issue", "2026-09-29")]}),
    )
    .await;
    expect_problem(r, StatusCode::CONFLICT).await;

    // The license of in-1 arrives: that item is done.
    app.issue(&clerk, &license_request("in-1")).await;
    let v: Value = app.get_as(&base, &clerk).await.json().await.unwrap();
    let states: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done", "overdue"]);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("zhengzhao_backlog_overdue_items 1"),
        "{metrics}"
    );
    let audit = app
        .get_as(
            "/api/v1/audit/events?action=incident.close",
            &app.admin_token,
        )
        .await;
    let audit: Value = audit.json().await.unwrap();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);

    // Cleared on the last day of 2026: the deadline falls in 2027, which
    // the shipped calendar lacks: weekdays only, provisional.
    let noon: jiff::Timestamp = "2026-12-31T12:00:00+08:00".parse().unwrap();
    let ahead = noon.duration_since(app.library.now()).as_secs();
    app.clock.advance(std::time::Duration::from_secs(
        u64::try_from(ahead).unwrap(),
    ));
    let r = post(
        &app,
        &clerk,
        "/api/v1/incidents",
        json!({"org": "150102", "cause": "网络中断", "started_at": "2026-12-31T08:00:00+08:00", "operations": ["update"]}),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let second: Value = r.json().await.unwrap();
    let second = format!(
        "/api/v1/incidents/{}",
        second["incident_id"].as_str().unwrap()
    );
    let r = post(
        &app,
        &clerk,
        &format!("{second}/backlog"),
        json!({"items": [item("in-1", "update", "2026-12-31")]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = post(
        &app,
        &clerk,
        &format!("{second}/close"),
        json!({"cleared_at": "2026-12-31T10:00:00+08:00"}),
    )
    .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["items"][0]["due_on"], "2027-01-05",
        "Fri 1, Mon 4, Tue 5 January on weekdays"
    );
    assert_eq!(v["items"][0]["provisional"], true);
    // The operator imports 2027 (1 January a holiday): the deadline is firm.
    let year_2027 = "2027-01-01\tholiday\t元旦\n2027-05-01\tholiday\t劳动节\n\
                     2027-10-01\tholiday\t国庆节\n2027-10-02\tholiday\t国庆节\n2027-10-03\tholiday\t国庆节\n";
    assert!(
        app.library
            .import_calendar(&Actor::cli(), "2027-01-01\tholiday\n")
            .await
            .is_err()
    );
    assert_eq!(
        app.library
            .import_calendar(&Actor::cli(), year_2027)
            .await
            .unwrap(),
        [2027]
    );
    let v: Value = app.get_as(&second, &clerk).await.json().await.unwrap();
    assert_eq!(v["items"][0]["due_on"], "2027-01-06");
    assert_eq!(v["items"][0]["provisional"], false);
    assert_eq!(v["items"][0]["state"], "pending");
}
both_backends!(incident_backlog, incident_backlog_and_deadlines);
