//! Data that cannot be true is refused, over HTTP on both backends: a face
//! naming another holder than the license's (422), a second current
//! 营业执照 for one credit code (409 naming the first, also when issued in
//! parallel), and credit codes whose first two characters no registering
//! department assigns (422).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::role::Role;

async fn post_license(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, "/api/v1/licenses", Some(token), body)
        .await
}

/// The `(field, code)` pairs of a validation problem.
fn field_codes(p: &Value) -> Vec<(String, String)> {
    p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn face_must_be_the_holders(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let before = app.audit_count().await;

    // Another company's (valid) credit code on the face.
    let mut other_code = license_request("F-1");
    other_code["face"]["credit_code"] = json!(holder_code_for("someone else"));
    let p = expect_problem(
        post_license(&app, &clerk, &other_code).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_codes(&p),
        [("face/credit_code".into(), "holder_mismatch".into())]
    );
    assert_eq!(
        p["errors"][0]["message"],
        "credit_code must be the same as the holder's id"
    );
    assert_eq!(
        p["errors"][0]["message_zh"],
        "统一社会信用代码应与持证主体代码一致"
    );

    // Another name on the face; and both at once are both reported.
    let mut other_name = license_request("F-2");
    other_name["face"]["name"] = json!("呼和浩特市别的科技有限公司");
    let p = expect_problem(
        post_license(&app, &clerk, &other_name).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_codes(&p),
        [("face/name".into(), "holder_mismatch".into())]
    );
    assert_eq!(p["errors"][0]["message_zh"], "名称应与持证主体名称一致");
    other_name["face"]["credit_code"] = json!(holder_code_for("someone else"));
    let p = expect_problem(
        post_license(&app, &clerk, &other_name).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"].as_array().unwrap().len(), 2, "{p}");

    // A holder code no department could have issued: 95 (market regulation
    // assigns 1, 2 and 3 only), with a right check character.
    let code95 = {
        let body = "95150102MA0N4JXK2";
        let check = CreditCode::check_character_for(&body.chars().collect::<Vec<_>>());
        format!("{body}{check}")
    };
    let mut undefined = license_request("F-3");
    undefined["holder"]["id"] = json!(code95);
    undefined["face"]["credit_code"] = json!(code95);
    let p = expect_problem(
        post_license(&app, &clerk, &undefined).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_codes(&p),
        [
            ("holder/id".into(), "category".into()),
            ("face/credit_code".into(), "category".into())
        ]
    );
    assert_eq!(
        p["errors"][0]["message"],
        "registering department 9 assigns no organisation category 5; its categories are 1, 2, 3"
    );
    assert_eq!(
        p["errors"][0]["message_zh"],
        "登记管理部门代码9下没有机构类别代码5，该部门的机构类别代码为1、2、3"
    );

    // None of that wrote anything.
    assert_eq!(app.audit_count().await, before);
    for record in ["F-1", "F-2", "F-3"] {
        assert!(
            app.library
                .store
                .license_by_source("qiye-dengji", record)
                .await
                .unwrap()
                .is_none()
        );
    }

    // An update is checked against the holder as its version names it.
    let issued = app.issue(&clerk, &license_request("F-4")).await;
    let id = issued["license_id"].as_str().unwrap();
    let versions = format!("/api/v1/licenses/{id}/versions");
    let mut renamed = json!({
        "face": license_request("F-4")["face"].clone(),
        "valid_from": "2024-01-15",
        "reason": {"kind": "change", "text": "名称变更"}
    });
    renamed["face"]["name"] = json!("呼和浩特市青城数据有限公司");
    let before = app.audit_count().await;
    let p = expect_problem(
        app.send_json(Method::POST, &versions, Some(&clerk), &renamed)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_codes(&p),
        [("face/name".into(), "holder_mismatch".into())]
    );
    let mut recoded = renamed.clone();
    recoded["face"]["name"] = license_request("F-4")["face"]["name"].clone();
    recoded["face"]["credit_code"] = json!(holder_code_for("someone else"));
    let p = expect_problem(
        app.send_json(Method::POST, &versions, Some(&clerk), &recoded)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_codes(&p),
        [("face/credit_code".into(), "holder_mismatch".into())]
    );
    assert_eq!(app.audit_count().await, before);
    // With the holder's new name, the renamed face is accepted.
    renamed["holder_name"] = json!("呼和浩特市青城数据有限公司");
    let r = app
        .send_json(Method::POST, &versions, Some(&clerk), &renamed)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v2: Value = r.json().await.unwrap();
    assert_eq!(v2["holder"]["name"], "呼和浩特市青城数据有限公司");
    assert_eq!(v2["face"]["name"], "呼和浩特市青城数据有限公司");
}
both_backends!(face_holder, face_must_be_the_holders);

/// Assert the 409 of a second current license and return its problem.
async fn refused_as_second(resp: reqwest::Response) -> Value {
    let p = expect_problem(resp, StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/current-license-exists");
    assert_eq!(
        p["title_zh"],
        "持证主体已有此类型的有效证照（每个持证主体只能有一张），请先注销或更新该证照"
    );
    p
}

async fn one_business_license_per_credit_code(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;

    // Eight at once for one credit code: exactly one 201, seven 409s naming it.
    let holder = holder_code_for("P-0");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (client, url, token) = (
                app.client.clone(),
                app.url("/api/v1/licenses"),
                clerk.clone(),
            );
            let body = license_request_held_by(&format!("P-{i}"), &holder);
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                (status, r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let created: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    let winner = created[0]["license_id"].as_str().unwrap().to_owned();
    for (status, body) in &answers {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["type"], "/problems/current-license-exists");
            assert_eq!(body["existing_license_id"], winner.as_str(), "{body}");
        }
    }
    let listed: Value = app
        .get_as(&format!("/api/v1/licenses?holder={holder}"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // The exact shape, for the issuing org's own clerk; nothing written.
    let before = app.audit_count().await;
    let p = refused_as_second(
        post_license(&app, &clerk, &license_request_held_by("P-8", &holder)).await,
    )
    .await;
    assert_eq!(
        p,
        json!({
            "type": "/problems/current-license-exists",
            "title": "The holder already has a current license of this type, which allows one per holder",
            "title_zh": "持证主体已有此类型的有效证照（每个持证主体只能有一张），请先注销或更新该证照",
            "status": 409,
            "detail": format!("营业执照 allows one current license per holder, and this holder's is {winner}; revoke it before issuing another, or issue a change as a new version of it (POST /api/v1/licenses/{winner}/versions)"),
            "existing_license_id": winner,
        })
    );
    assert_eq!(app.audit_count().await, before);
    // The winning request sent again is still a replay (200), not a 409.
    let winner_record = answers
        .iter()
        .position(|(s, _)| *s == StatusCode::CREATED)
        .unwrap();
    let replay = post_license(
        &app,
        &clerk,
        &license_request_held_by(&format!("P-{winner_record}"), &holder),
    )
    .await;
    assert_eq!(replay.status(), StatusCode::OK);

    // After an update, the refusal names the current version.
    let v2 = app
        .update_domicile(&clerk, &winner, "内蒙古自治区呼和浩特市新城区新华大街5号")
        .await;
    let p = refused_as_second(
        post_license(&app, &clerk, &license_request_held_by("P-9", &holder)).await,
    )
    .await;
    assert_eq!(p["existing_license_id"], v2.as_str());

    // Another org's clerk learns the identifier (a public type held by a
    // business) and who issued it.
    let other_org = app.token("150103", Role::IssuerClerk).await;
    let mut elsewhere = license_request_held_by("P-10", &holder);
    elsewhere["issuer"] = json!("150103");
    elsewhere["face"]["registration_authority"] = json!("150103");
    let p = refused_as_second(post_license(&app, &other_org, &elsewhere).await).await;
    assert_eq!(p["existing_license_id"], v2.as_str());
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("issued by org 150102, which alone can revoke or update it"),
        "{p}"
    );

    // Revoked, it no longer stands in the way.
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{v2}/revoke"),
            Some(&clerk),
            &json!({"reason": "注销登记"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = post_license(&app, &other_org, &elsewhere).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // Expired is still current (not revoked): it blocks a second one too.
    let expired_holder = holder_code_for("E-1");
    let mut expired = license_request("E-1");
    expired["valid_from"] = json!("2015-01-01");
    expired["valid_until"] = json!("2020-12-31");
    let first = app.issue(&clerk, &expired).await;
    assert_eq!(first["status"], "expired");
    let p = refused_as_second(
        post_license(
            &app,
            &clerk,
            &license_request_held_by("E-2", &expired_holder),
        )
        .await,
    )
    .await;
    assert_eq!(p["existing_license_id"], first["license_id"]);

    // Other types keep allowing several per holder: a 食品经营许可证 is
    // one per premises.
    let food = |record: &str, premises: &str| {
        json!({
            "type_code": "11100000MB0143028R004",
            "issuer": "150102",
            "holder": {"name": "呼和浩特市青城科技有限公司", "id_type": "uscc", "id": holder_code_for("FOOD")},
            "face": {
                "operator_name": "呼和浩特市青城科技有限公司",
                "credit_code": holder_code_for("FOOD"),
                "legal_representative": "张三",
                "domicile": "内蒙古自治区呼和浩特市新城区某某路88号",
                "business_premises": premises,
                "business_format": "餐饮服务经营者",
                "business_items": "热食类食品制售",
                "license_number": format!("JY1150102{record}"),
                "issuing_authority": "150102"
            },
            "valid_from": "2024-01-15",
            "valid_until": "2029-01-14",
            "source": {"system": "shipin", "record_id": record}
        })
    };
    app.issue(&clerk, &food("0000001", "某某路88号")).await;
    app.issue(&clerk, &food("0000002", "某某路90号")).await;
}
both_backends!(one_current, one_business_license_per_credit_code);

/// A type that allows one per holder, held by natural persons and not
/// public: only staff who may read the existing license learn its identifier.
async fn existing_license_named_only_to_who_may_know(app: TestApp) {
    let code = "11100000000013338W301";
    let mut t = license_type(code, "测试人员证");
    t["holder_types"] = json!(["natural_person"]);
    t["public_attribute"] = json!("not_public");
    t["one_current_license_per_holder"] = json!(true);
    t["face_fields"].as_array_mut().unwrap().extend([
        json!({"name": "person_name", "label": "姓名", "type": "text", "required": true, "max_length": 50, "personal": true, "same_as_holder": "name"}),
        json!({"name": "id_number", "label": "身份证件号码", "type": "identity_code", "required": true, "max_length": 18, "personal": true, "same_as_holder": "id"}),
    ]);
    let r = app
        .send_json(Method::POST, "/api/v1/catalog", Some(&app.admin_token), &t)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["one_current_license_per_holder"], true);
    assert_eq!(created["face_fields"][4]["same_as_holder"], "id");

    let person = "11010519491231002X";
    let request = |record: &str, issuer: &str| {
        json!({
            "type_code": code,
            "issuer": issuer,
            "holder": {"name": "张三", "id_type": "resident_id", "id": person},
            "face": {"number": format!("N-{record}"), "grade": "一级", "issued_on": "2024-03-01",
                     "person_name": "张三", "id_number": person},
            "valid_from": "2024-03-01",
            "valid_until": null,
            "source": {"system": "renyuan", "record_id": record}
        })
    };
    let owner = app.token("150102", Role::IssuerClerk).await;
    let first = app.issue(&owner, &request("N-1", "150102")).await;
    let first_id = first["license_id"].as_str().unwrap();

    // The issuer's own clerk and a clerk of the league above: named.
    for (token, issuer) in [
        (owner.clone(), "150102"),
        (app.token("150100", Role::IssuerClerk).await, "150100"),
    ] {
        let p = refused_as_second(
            post_license(&app, &token, &request(&format!("N-{issuer}"), issuer)).await,
        )
        .await;
        assert_eq!(p["existing_license_id"], first_id, "{issuer}: {p}");
    }
    // A clerk of a sibling banner: told only that another org issued one.
    let sibling = app.token("150103", Role::IssuerClerk).await;
    let p = refused_as_second(post_license(&app, &sibling, &request("N-3", "150103")).await).await;
    assert!(p.get("existing_license_id").is_none(), "{p}");
    let text = p.to_string();
    assert!(!text.contains(first_id) && !text.contains("150102"), "{p}");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("has one issued by another org; it is not named here"),
        "{p}"
    );

    // The catalog checks the new keys like every other.
    let mut bad = license_type("11100000000013338W302", "坏证");
    bad["face_fields"][2]["same_as_holder"] = json!("name");
    let p = expect_problem(
        app.send_json(
            Method::POST,
            "/api/v1/catalog",
            Some(&app.admin_token),
            &bad,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(
        field_codes(&p),
        [("face_fields/2/same_as_holder".into(), "field_type".into())]
    );
}
both_backends!(disclosure, existing_license_named_only_to_who_may_know);

/// The seed catalog says which 营业执照 face fields are the holder's and that
/// it allows one current license per holder.
async fn seed_catalog_marks_business_licenses(app: TestApp) {
    let t: Value = app
        .get(&format!("/api/v1/catalog/{BUSINESS_LICENSE}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["one_current_license_per_holder"], true);
    let marks: Vec<(&str, &str)> = t["face_fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| Some((f["name"].as_str()?, f["same_as_holder"].as_str()?)))
        .collect();
    assert_eq!(marks, [("credit_code", "id"), ("name", "name")]);
    // The public notice says so too.
    let html = app.get("/catalog").await.text().await.unwrap();
    assert!(html.contains("每个持证主体只能有一张有效（未注销）证照"));
    assert!(html.contains("须与持证主体代码一致") && html.contains("须与持证主体名称一致"));
}
both_backends!(seed_marks, seed_catalog_marks_business_licenses);
