//! The issuance catalog over HTTP: public reads, versioned writes by the
//! region, and bad input that is refused with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{TestApp, expect_problem, license_type};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

async fn public_catalog_lists_types_without_not_public_ones(app: TestApp) {
    let resp = app.get("/api/v1/catalog").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert!(items.len() >= 8, "{} items", items.len());
    for item in items {
        for key in [
            "code",
            "name",
            "holder_types",
            "standard_level",
            "public_attribute",
            "aggregation_start",
            "version",
            "face_fields",
        ] {
            assert!(!item[key].is_null(), "{key} missing in {item}");
        }
        assert_ne!(item["public_attribute"], "not_public");
        for f in item["face_fields"].as_array().unwrap() {
            for key in ["name", "label", "type", "required"] {
                assert!(!f[key].is_null(), "{key} missing in {f}");
            }
        }
    }
    let licence = items.iter().find(|i| i["name"] == "营业执照").unwrap();
    let labels: Vec<&str> = licence["face_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    for label in [
        "统一社会信用代码",
        "名称",
        "类型",
        "法定代表人",
        "经营范围",
        "注册资本",
        "成立日期",
        "住所",
        "登记机关",
    ] {
        assert!(labels.contains(&label), "{label} missing from {labels:?}");
    }
    // Staff see the not-public types too.
    let staff: Value = app
        .get_as("/api/v1/catalog", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let staff_items = staff["items"].as_array().unwrap();
    assert!(staff_items.len() > items.len());
    let hidden = staff_items
        .iter()
        .find(|i| i["public_attribute"] == "not_public")
        .unwrap();
    let code = hidden["code"].as_str().unwrap();
    expect_problem(
        app.get(&format!("/api/v1/catalog/{code}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        app.get_as(&format!("/api/v1/catalog/{code}"), &app.admin_token)
            .await
            .status(),
        StatusCode::OK
    );
    // A wrong token is refused rather than silently treated as public.
    expect_problem(
        app.get_as("/api/v1/catalog", "zzt_wrong").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // The public notice page, in Chinese.
    let page = app.get("/catalog").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("电子证照发证目录"));
    assert!(html.contains("营业执照") && html.contains("食品小作坊登记证"));
    assert!(
        !html.contains(code),
        "not-public type {code} appears on the public page"
    );
}
both_backends!(
    public_catalog,
    public_catalog_lists_types_without_not_public_ones
);

async fn region_admin_creates_and_versions_a_type(app: TestApp) {
    let code = "11100000000013338W201";
    let before = app.audit_count().await;
    let resp = app
        .send_json(
            Method::POST,
            "/api/v1/catalog",
            Some(&app.admin_token),
            &license_type(code, "建筑业企业资质证书"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: Value = resp.json().await.unwrap();
    assert_eq!(created["version"], 1);
    assert_eq!(created["face_fields"][1]["values"], json!(["一级", "二级"]));

    let mut v2 = license_type(code, "建筑业企业资质证书");
    v2["face_fields"].as_array_mut().unwrap().push(json!({"name": "scope", "label": "资质范围", "type": "long_text", "required": false, "max_length": 2000}));
    let resp = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/catalog/{code}"),
            Some(&app.admin_token),
            &v2,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["face_fields"].as_array().unwrap().len(), 4);

    let current: Value = app
        .get(&format!("/api/v1/catalog/{code}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["version"], 2);
    let old: Value = app
        .get(&format!("/api/v1/catalog/{code}/versions/1"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["version"], 1);
    assert_eq!(old["face_fields"].as_array().unwrap().len(), 3);
    let all: Value = app
        .get(&format!("/api/v1/catalog/{code}/versions"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    expect_problem(
        app.get(&format!("/api/v1/catalog/{code}/versions/3")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The same definition again is not a new version.
    let same = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/catalog/{code}"),
            Some(&app.admin_token),
            &v2,
        )
        .await;
    expect_problem(same, StatusCode::CONFLICT).await;
    // Creating an existing code is a conflict.
    let dup = app
        .send_json(
            Method::POST,
            "/api/v1/catalog",
            Some(&app.admin_token),
            &license_type(code, "重复"),
        )
        .await;
    expect_problem(dup, StatusCode::CONFLICT).await;

    // Two changes, two audit events, each pushing to the platform.
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    assert_eq!(events.len(), before + 2);
    let last = &events[events.len() - 1].event;
    assert_eq!(last.action, "catalog.update");
    assert_eq!(last.target, format!("license_type:{code}"));
    assert!(last.actor.starts_with("token:"));
    assert_eq!(last.org.as_deref(), Some("150000"));
    let outbox = app.library.store.pending_outbox(100).await.unwrap();
    let versions: Vec<&Value> = outbox
        .iter()
        .filter(|m| m.message.payload["code"] == code)
        .map(|m| &m.message.payload["version"])
        .collect();
    assert_eq!(versions, [&json!(1), &json!(2)]);
}
both_backends!(create_and_version, region_admin_creates_and_versions_a_type);

/// Each bad request: a clear 4xx problem, and afterwards the catalog and the
/// audit log are exactly as before.
async fn bad_input_is_refused_and_changes_nothing(app: TestApp) {
    let catalog_before: Value = app
        .get_as("/api/v1/catalog", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let audit_before = app.audit_count().await;
    let admin = app.admin_token.clone();
    let post = |body: Vec<u8>, ct: &'static str| {
        let req = app
            .client
            .post(app.url("/api/v1/catalog"))
            .bearer_auth(&admin)
            .header("content-type", ct)
            .body(body);
        async move { req.send().await.unwrap() }
    };

    let p = expect_problem(
        post(b"{\"code\": ".to_vec(), "application/json").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("not valid JSON"),
        "{p}"
    );

    expect_problem(
        post(b"{}".to_vec(), "text/plain").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;

    let mut unknown = license_type("11100000000013338W202", "未知字段");
    unknown["colour"] = json!("red");
    let p = expect_problem(
        post(serde_json::to_vec(&unknown).unwrap(), "application/json").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{p}"
    );

    let mut big = license_type("11100000000013338W203", "过大");
    big["validity"] = json!("长".repeat(100_000));
    expect_problem(
        post(serde_json::to_vec(&big).unwrap(), "application/json").await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;

    let bad_code = license_type("11100000000013338A204", "坏代码");
    let p = expect_problem(
        post(serde_json::to_vec(&bad_code).unwrap(), "application/json").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "code");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("check character should be W"),
        "{p}"
    );

    let mut bad_type = license_type("11100000000013338W205", "坏类型");
    bad_type["face_fields"][2]["type"] = json!("colour");
    let p = expect_problem(
        post(serde_json::to_vec(&bad_type).unwrap(), "application/json").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "face_fields/2/type");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown variant `colour`"),
        "{p}"
    );

    let mut rules = license_type("11100000000013338W206", "规则");
    rules["face_fields"][1]["values"] = json!([]);
    rules["issuing_orgs"] = json!(["152999"]);
    let p = expect_problem(
        post(serde_json::to_vec(&rules).unwrap(), "application/json").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"face_fields/1/values") && fields.contains(&"issuing_orgs/0"),
        "{fields:?}"
    );
    assert!(p["errors"][0]["message_zh"].as_str().is_some());

    // Catalog edits by anyone but the region's admins.
    let league_admin = app.token("150100", Role::RegionAdmin).await;
    let clerk = app.token("150000", Role::IssuerClerk).await;
    let good = license_type("11100000000013338W207", "好的");
    expect_problem(
        app.send_json(Method::POST, "/api/v1/catalog", Some(&league_admin), &good)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_problem(
        app.send_json(Method::POST, "/api/v1/catalog", Some(&clerk), &good)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_problem(
        app.send_json(Method::POST, "/api/v1/catalog", None, &good)
            .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let licence_code = "11100000MB0143028R001";
    let mut edit: Value = app
        .get(&format!("/api/v1/catalog/{licence_code}"))
        .await
        .json()
        .await
        .unwrap();
    for k in ["version", "version_created_at"] {
        edit.as_object_mut().unwrap().remove(k);
    }
    edit["name"] = json!("改名");
    expect_problem(
        app.send_json(
            Method::PUT,
            &format!("/api/v1/catalog/{licence_code}"),
            Some(&league_admin),
            &edit,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // A PUT whose body names another code.
    let resp = app
        .send_json(
            Method::PUT,
            "/api/v1/catalog/11100000MB0143028R002",
            Some(&app.admin_token),
            &edit,
        )
        .await;
    expect_problem(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    // Unknown type.
    let mut ghost = license_type("11100000000013338W299", "无");
    ghost["code"] = json!("11100000000013338W299");
    expect_problem(
        app.send_json(
            Method::PUT,
            "/api/v1/catalog/11100000000013338W299",
            Some(&app.admin_token),
            &ghost,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Path codes of the wrong shape.
    expect_problem(
        app.get("/api/v1/catalog/nope").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    expect_problem(
        app.get(&format!("/api/v1/catalog/{licence_code}/versions/x"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let catalog_after: Value = app
        .get_as("/api/v1/catalog", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(catalog_after, catalog_before);
    // Only the two token creations above were audited.
    assert_eq!(app.audit_count().await, audit_before + 2);
    assert!(
        app.library
            .store
            .pending_outbox(100)
            .await
            .unwrap()
            .is_empty()
    );
}
both_backends!(bad_input, bad_input_is_refused_and_changes_nothing);
