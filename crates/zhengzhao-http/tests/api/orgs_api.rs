//! The org tree over HTTP: the seeded tree, subtree-scoped administration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{TestApp, expect_problem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

fn count(nodes: &[Value]) -> usize {
    nodes
        .iter()
        .map(|n| 1 + n["children"].as_array().map_or(0, |c| count(c)))
        .sum()
}

async fn seeded_tree_follows_article_5(app: TestApp) {
    let body: Value = app.get("/api/v1/orgs").await.json().await.unwrap();
    let roots = body["items"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    let region = &roots[0];
    assert_eq!(region["code"], "150000");
    assert_eq!(region["name"], "内蒙古自治区市场监督管理局");
    assert_eq!(region["level"], "region");
    assert_eq!(count(roots), 116);
    let direct: Vec<&str> = region["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(direct.len(), 14, "{direct:?}");
    assert!(direct.contains(&"150781") && direct.contains(&"152501"));
    // Every org carries a credit code with a valid check character.
    fn walk(n: &Value) {
        let cc = n["credit_code"].as_str().unwrap();
        zhengzhao_domain::codes::CreditCode::parse(cc).unwrap();
        n["children"]
            .as_array()
            .into_iter()
            .flatten()
            .for_each(walk);
    }
    walk(region);

    let hulunbuir: Value = app
        .get("/api/v1/orgs?parent=150700")
        .await
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = hulunbuir["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&"150702") && !kids.contains(&"150781"),
        "{kids:?}"
    );
    let one: Value = app.get("/api/v1/orgs/152501").await.json().await.unwrap();
    assert_eq!(one["name"], "二连浩特市市场监督管理局");
    assert_eq!(one["parent"], "150000");

    expect_problem(
        app.get("/api/v1/orgs?parent=159900").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_problem(
        app.get("/api/v1/orgs?parent=15x").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_problem(
        app.get("/api/v1/orgs?bogus=1").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    expect_problem(app.get("/api/v1/orgs/999999").await, StatusCode::NOT_FOUND).await;
}
both_backends!(seeded_tree, seeded_tree_follows_article_5);

async fn admins_act_within_their_subtree(app: TestApp) {
    let hohhot_admin = app.token("150100", Role::RegionAdmin).await;
    // Replace a placeholder credit code inside the subtree.
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/orgs/150102",
            Some(&hohhot_admin),
            &json!({"credit_code": "11150102MB1234567A"}),
        )
        .await;
    let p = expect_problem(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "credit_code");
    let check = p["errors"][0]["message"].as_str().unwrap();
    assert!(check.contains("check character should be"), "{check}");
    let valid = {
        let body = "11150102MB1234567";
        let c = zhengzhao_domain::codes::CreditCode::with_check_character(body).unwrap();
        c.to_string()
    };
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/orgs/150102",
            Some(&hohhot_admin),
            &json!({"credit_code": valid}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let org: Value = resp.json().await.unwrap();
    assert_eq!(org["credit_code"], valid.as_str());
    assert_eq!(org["credit_code_placeholder"], false);
    // The same code for another org is a conflict.
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/orgs/150103",
            Some(&hohhot_admin),
            &json!({"credit_code": valid}),
        )
        .await;
    expect_problem(resp, StatusCode::CONFLICT).await;
    // Outside the subtree: refused, and unchanged.
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/orgs/150702",
            Some(&hohhot_admin),
            &json!({"name": "改名"}),
        )
        .await;
    expect_problem(resp, StatusCode::FORBIDDEN).await;
    let untouched: Value = app.get("/api/v1/orgs/150702").await.json().await.unwrap();
    assert_eq!(untouched["name"], "海拉尔区市场监督管理局");
    // Names are unique: taking another org's name (even one outside the
    // subtree) is a conflict that changes nothing and is not audited.
    let events = app.audit_count().await;
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/orgs/150102",
            Some(&hohhot_admin),
            &json!({"name": "海拉尔区市场监督管理局"}),
        )
        .await;
    let p = expect_problem(resp, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("150702"), "{p}");
    let kept: Value = app.get("/api/v1/orgs/150102").await.json().await.unwrap();
    assert_eq!(kept["name"], "新城区市场监督管理局");
    assert_eq!(app.audit_count().await, events);
    // A rename to a free name is stored and audited with before and after.
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/orgs/150102",
            Some(&hohhot_admin),
            &json!({"name": "呼和浩特市新城区市场监督管理局"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let renamed: Value = app
        .get_as("/api/v1/audit/events?action=org.update", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let last = renamed["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["target"], "org:150102");
    assert_eq!(last["detail"]["before"]["name"], "新城区市场监督管理局");
    assert_eq!(
        last["detail"]["after"]["name"],
        "呼和浩特市新城区市场监督管理局"
    );
    // Not an admin: refused.
    let clerk = app.token("150100", Role::IssuerClerk).await;
    let resp = app
        .send_json(
            Method::PATCH,
            "/api/v1/orgs/150102",
            Some(&clerk),
            &json!({"name": "改名"}),
        )
        .await;
    expect_problem(resp, StatusCode::FORBIDDEN).await;

    // An approval bureau beside the district authority.
    let bureau = json!({"code": "150102-SP", "name": "新城区行政审批和政务服务局", "kind": "approval_bureau", "parent": "150102", "credit_code": "11430000006122244L"});
    let resp = app
        .send_json(Method::POST, "/api/v1/orgs", Some(&hohhot_admin), &bureau)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["level"], "banner");
    assert_eq!(created["kind"], "approval_bureau");
    let kids: Value = app
        .get("/api/v1/orgs?parent=150102")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kids["items"][0]["code"], "150102-SP");
    // A league admin elsewhere cannot add under Hohhot.
    let hulunbuir_admin = app.token("150700", Role::RegionAdmin).await;
    let mut other = bureau.clone();
    other["code"] = json!("150103-SP");
    other["parent"] = json!("150103");
    other["credit_code"] = json!("11220000013544541J");
    let resp = app
        .send_json(Method::POST, "/api/v1/orgs", Some(&hulunbuir_admin), &other)
        .await;
    expect_problem(resp, StatusCode::FORBIDDEN).await;
    // A code outside the parent's division.
    other["code"] = json!("150200-SP");
    let resp = app
        .send_json(Method::POST, "/api/v1/orgs", Some(&hohhot_admin), &other)
        .await;
    expect_problem(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(app.get("/api/v1/orgs/150103-SP").await.status() == StatusCode::NOT_FOUND);
}
both_backends!(subtree_admin, admins_act_within_their_subtree);
