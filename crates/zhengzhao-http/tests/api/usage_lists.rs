//! Usage lists (issue 13, Art. 11–13): an org's region_admin keeps its list
//! in versions; the counter checks an applicant and learns which materials
//! the library holds (no paper to ask for) and which it does not.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

const ITEM: &str = "/api/v1/usage-lists/150102/items/SC-001";
const FOOD: &str = "11100000MB0143028R004";

fn item(name: &str) -> Value {
    json!({"name": name, "materials": [
        {"name": "营业执照", "type_code": BUSINESS_LICENSE},
        {"name": "食品经营许可证", "type_code": FOOD}
    ]})
}

async fn usage_lists_and_checks(app: TestApp) {
    let admin = app.token("150102", Role::RegionAdmin).await;
    let r = app
        .send_json(Method::PUT, ITEM, Some(&admin), &item("开办餐饮店"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 1);
    let r = app
        .send_json(Method::PUT, ITEM, Some(&admin), &item("开办餐饮店（堂食）"))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);

    // Only the org's own region_admin writes it.
    for (org, role) in [("150100", Role::RegionAdmin), ("150102", Role::IssuerClerk)] {
        let token = app.token(org, role).await;
        let r = app
            .send_json(Method::PUT, ITEM, Some(&token), &item("x"))
            .await;
        expect_problem(r, StatusCode::FORBIDDEN).await;
    }
    let mut bad = item("x");
    bad["materials"][1]["type_code"] = json!("11100000MB0143028R999");
    let p = expect_problem(
        app.send_json(Method::PUT, ITEM, Some(&admin), &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "materials/1/type_code");
    let r = app
        .send_json(
            Method::PUT,
            "/api/v1/usage-lists/150102/items/bad%20code",
            Some(&admin),
            &item("x"),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Public to read: the current version.
    let list: Vec<Value> = app
        .get("/api/v1/usage-lists/150102")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["version"], 2);
    assert_eq!(list[0]["name"], "开办餐饮店（堂食）");

    // The counter's check: the business license is held, the food license not.
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let license = app.issue(&clerk, &license_request("u1")).await;
    let holder = holder_code_for("u1");
    let check = json!({"org": "150102", "item_code": "SC-001", "holder_id": holder});
    let r = app
        .send_json(Method::POST, "/api/v1/usage/check", Some(&clerk), &check)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["item_version"], 2);
    assert_eq!(answer["materials"][0]["held"], true);
    assert_eq!(answer["materials"][0]["license_id"], license["license_id"]);
    assert_eq!(answer["materials"][0]["status"], "valid");
    assert_eq!(answer["materials"][1]["held"], false);
    assert!(answer["materials"][1].get("license_id").is_none());
    assert_eq!(answer["not_held"], json!(["食品经营许可证"]));

    // Staff of another league check nothing of this org.
    let stranger = app.token("150700", Role::IssuerClerk).await;
    let r = app
        .send_json(Method::POST, "/api/v1/usage/check", Some(&stranger), &check)
        .await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    // A usage_list scenario's credential checks; another kind's does not.
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name"]}]);
    let (_, counter) = app
        .scenario_credential("usage_list", grants.clone(), 1000)
        .await;
    let r = app
        .send_json(Method::POST, "/api/v1/usage/check", Some(&counter), &check)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, other) = app
        .scenario_credential("government_other", grants, 1000)
        .await;
    let p = expect_problem(
        app.send_json(Method::POST, "/api/v1/usage/check", Some(&other), &check)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/not-granted");

    // Every change and check is on the audit log; the holder id masked.
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.action == "usage_list.put")
            .count(),
        2
    );
    let checks: Vec<&Value> = events
        .iter()
        .filter(|e| e.event.action == "usage.check")
        .map(|e| &e.event.detail)
        .collect();
    assert_eq!(checks.len(), 2);
    assert!(!checks[0].to_string().contains(&holder));
    assert_eq!(checks[0]["held"], json!([license["license_id"]]));
}
both_backends!(usage_lists, usage_lists_and_checks);
