//! Personal face fields at rest and on output: sealed in the database (plain
//! SQL finds no trace), opened back to the exact signed text (OpenSSL
//! verifies), shown in full only to the issuing org's clerks and objection
//! handlers, masked for other readers, and still readable after the data
//! key is rotated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_core::Actor;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::role::Role;

const SOLE_TRADER: &str = "11100000MB0143028R002";
const OPERATOR: &str = "乌力吉巴雅尔";

fn sole_trader(record: &str, operator: &str) -> Value {
    let code = CreditCode::with_check_character(&format!(
        "92150102MA0{:06}",
        record.len() * 7919 % 999_999
    ))
    .unwrap()
    .to_string();
    json!({
        "type_code": SOLE_TRADER,
        "issuer": "150102",
        "holder": {"name": "新城区草原奶茶店", "id_type": "uscc", "id": code},
        "face": {
            "credit_code": code,
            "name": "新城区草原奶茶店",
            "entity_type": "个体工商户",
            "operator": operator,
            "composition_form": "个人经营",
            "business_scope": "餐饮服务。",
            "established_date": "2025-03-01",
            "business_premises": "内蒙古自治区呼和浩特市新城区某某街1号",
            "registration_authority": "150102",
            "registration_date": "2026-11-29"
        },
        "valid_from": "2025-03-01",
        "valid_until": null,
        "source": {"system": "geti-dengji", "record_id": record}
    })
}

async fn personal_fields(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &sole_trader("P-1", OPERATOR)).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    // The issuing clerk sees the field as issued.
    assert_eq!(issued["face"]["operator"], OPERATOR);

    // At rest: no trace of the value, anywhere in the version row.
    let plain = app
        .raw_count(&format!(
            "SELECT count(*) FROM license_versions WHERE payload LIKE '%{OPERATOR}%'"
        ))
        .await;
    assert_eq!(plain, 0, "the personal field is stored in the clear");
    let sealed = app
        .raw_count("SELECT count(*) FROM license_versions WHERE payload LIKE '%zzenc:v1:%'")
        .await;
    assert_eq!(sealed, 1);
    if app.backend == Backend::Postgres {
        let face = app
            .raw_count(&format!(
                "SELECT count(*) FROM license_versions WHERE face::text LIKE '%{OPERATOR}%'"
            ))
            .await;
        assert_eq!(face, 0, "the face column holds the field in the clear");
    }

    // Opened: the document is the signed text again, and OpenSSL agrees.
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let payload = doc["payload"].as_str().unwrap();
    assert!(payload.contains(OPERATOR));
    let out = openssl_verify(
        payload,
        doc["signature"].as_str().unwrap(),
        doc["certificate"].as_str().unwrap(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Other readers within the subtree see it masked, and get no document or PDF.
    let region_admin = app.token("150000", Role::RegionAdmin).await;
    let auditor = app.token("150100", Role::Auditor).await;
    for reader in [&region_admin, &auditor] {
        let view: Value = app
            .get_as(&format!("/api/v1/licenses/{id}"), reader)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(view["face"]["operator"], "乌****尔");
        assert_eq!(
            view["face"]["business_scope"], "餐饮服务。",
            "only personal fields are masked"
        );
        let list: Value = app
            .get_as("/api/v1/licenses?limit=10", reader)
            .await
            .json()
            .await
            .unwrap();
        assert!(!list.to_string().contains(OPERATOR));
        let r = app
            .get_as(&format!("/api/v1/licenses/{id}/document"), reader)
            .await;
        expect_problem(r, StatusCode::FORBIDDEN).await;
        let r = app
            .get_as(&format!("/api/v1/licenses/{id}/pdf"), reader)
            .await;
        expect_problem(r, StatusCode::FORBIDDEN).await;
        let history: Value = app
            .get_as(&format!("/api/v1/licenses/{id}/history"), reader)
            .await
            .json()
            .await
            .unwrap();
        assert!(!history.to_string().contains(OPERATOR));
    }
    // A clerk of another org under the same city sees nothing at all.
    let other_clerk = app.token("150103", Role::IssuerClerk).await;
    let r = app
        .get_as(&format!("/api/v1/licenses/{id}"), &other_clerk)
        .await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    // An objection handler above the issuer sees it in full (to check objections).
    let handler = app.token("150100", Role::ObjectionHandler).await;
    let view: Value = app
        .get_as(&format!("/api/v1/licenses/{id}"), &handler)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["face"]["operator"], OPERATOR);

    // An update is sealed too; the full history opens.
    let mut face = sole_trader("P-1", "乌力吉").get("face").cloned().unwrap();
    face["business_premises"] = json!("内蒙古自治区呼和浩特市新城区某某街2号");
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{id}/versions"),
            Some(&clerk),
            &json!({"face": face, "valid_from": "2025-03-01", "valid_until": null, "reason": {"kind": "change", "text": "经营场所变更"}}),
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(
        app.raw_count("SELECT count(*) FROM license_versions WHERE payload LIKE '%乌力吉%'")
            .await,
        0
    );

    // Rotation: new data is sealed with the new key, old data still opens.
    let new_key = app.library.rotate_data_key(&Actor::cli()).await.unwrap();
    let second = app.issue(&clerk, &sole_trader("P-22", "其其格")).await;
    assert_eq!(second["face"]["operator"], "其其格");
    assert_eq!(
        app.raw_count(&format!(
            "SELECT count(*) FROM license_versions WHERE payload LIKE '%{new_key}%'"
        ))
        .await,
        1
    );
    assert_eq!(app.raw_count("SELECT count(*) FROM data_keys").await, 2);
    let old: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/history"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["versions"][0]["face"]["operator"], OPERATOR);
    assert_eq!(old["versions"][1]["face"]["operator"], "乌力吉");

    // What a restore checks: every signature, over the opened payloads.
    let report = app.library.verify_license_signatures().await.unwrap();
    assert_eq!(report.versions, 3);
    assert!(report.problem.is_none(), "{:?}", report.problem);

    // A sealed value moved to another license does not open there.
    app.raw_sql(&format!(
        "UPDATE license_versions SET payload = (SELECT payload FROM license_versions WHERE payload LIKE '%{new_key}%') WHERE identifier = '{id}'"
    ))
    .await;
    let r = app.get_as(&format!("/api/v1/licenses/{id}"), &clerk).await;
    let p = expect_problem(r, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(p["type"], "/problems/unreadable-license");
    assert!(p["detail"].as_str().unwrap().contains(&id), "{p}");
}
both_backends!(personal, personal_fields);

/// A natural person's license: the holder's name and resident id are
/// personal too, masked for other readers; the id number field is sealed.
async fn natural_person_holder(app: TestApp) {
    let clerk = app.token("150100", Role::IssuerClerk).await;
    let id_number = "11010519491231002X";
    let body = json!({
        "type_code": "11100000MB0143028R009",
        "issuer": "150100",
        "holder": {"name": "张三丰", "id_type": "resident_id", "id": id_number},
        "face": {
            "holder_name": "张三丰",
            "gender": "男",
            "id_number": id_number,
            "photo": "photos/zsf-2026.jpg",
            "work_items": "叉车司机（N1）",
            "certificate_number": "TS-2026-0001",
            "issuing_authority": "150100"
        },
        "valid_from": "2026-01-01",
        "valid_until": "2029-12-31",
        "source": {"system": "tezhong-shebei", "record_id": "NP-1"}
    });
    let issued = app.issue(&clerk, &body).await;
    let lid = issued["license_id"].as_str().unwrap().to_owned();
    assert_eq!(issued["holder"]["id"], id_number);
    // At rest: neither the resident id nor the name, in any column.
    for needle in [id_number, "张三丰"] {
        let found = app
            .raw_count(&format!(
                "SELECT count(*) FROM license_versions WHERE payload LIKE '%{needle}%' OR holder_id LIKE '%{needle}%' OR holder_name LIKE '%{needle}%'"
            ))
            .await;
        assert_eq!(found, 0, "{needle} is stored in the clear");
    }
    // The holder filter still finds the license by the resident id.
    let found: Value = app
        .get_as(&format!("/api/v1/licenses?holder={id_number}"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["holder"]["name"], "张三丰");
    // The clerk's document verifies: the opened payload is the signed text.
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{lid}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert!(doc["payload"].as_str().unwrap().contains(id_number));
    let out = openssl_verify(
        doc["payload"].as_str().unwrap(),
        doc["signature"].as_str().unwrap(),
        doc["certificate"].as_str().unwrap(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let auditor = app.token("150000", Role::Auditor).await;
    let view: Value = app
        .get_as(&format!("/api/v1/licenses/{lid}"), &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["holder"]["name"], "张**");
    assert_eq!(view["holder"]["id"], "1101**********002X");
    assert_eq!(view["face"]["id_number"], "1101**********002X");
    assert_eq!(view["face"]["gender"], "*");
    assert!(!view.to_string().contains(id_number));
    // A value shaped like a sealed one is refused in any field, before anything is stored.
    let before = app.audit_count().await;
    let mut forged = sole_trader("P-Z", OPERATOR);
    forged["face"]["business_scope"] = json!("zzenc:v1:00000000-0000-0000-0000-000000000000:AAAA");
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/licenses",
            Some(&app.token("150102", Role::IssuerClerk).await),
            &forged,
        )
        .await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["field"], "face/business_scope");
    assert_eq!(
        app.audit_count().await,
        before + 1,
        "only the token.create of the clerk"
    );
}
both_backends!(natural_person, natural_person_holder);

/// The reserved sealed form (`zzenc:…`) in any input that reaches storage:
/// 422 naming the field, and nothing written (no license, no version, no
/// audit event).
const RESERVED: &str = "zzenc:v1:00000000-0000-0000-0000-000000000000:AAAA";

/// An update request (one place to change when the update's body grows).
fn update_body(face: Value) -> Value {
    json!({"face": face, "valid_from": "2024-01-15", "valid_until": null, "reason": {"kind": "correction", "text": "更正"}})
}

async fn reserved_form_is_refused(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let league_clerk = app.token("150100", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("RES-0")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let counts = || async {
        (
            app.raw_count("SELECT count(*) FROM licenses").await,
            app.raw_count("SELECT count(*) FROM license_versions").await,
            app.audit_count().await,
        )
    };
    let before = counts().await;

    let issue = |f: &dyn Fn(&mut Value)| {
        let mut body = license_request("RES-1");
        f(&mut body);
        body
    };
    let person = json!({
        "type_code": "11100000MB0143028R009",
        "issuer": "150100",
        "holder": {"name": RESERVED, "id_type": "resident_id", "id": "11010519491231002X"},
        "face": {
            "holder_name": "张三丰", "gender": "男", "id_number": "11010519491231002X",
            "photo": "p/1.jpg", "work_items": "叉车司机（N1）",
            "certificate_number": "TS-R", "issuing_authority": "150100"
        },
        "valid_from": "2026-01-01", "valid_until": "2029-12-31",
        "source": {"system": "ts", "record_id": "RES-P"}
    });
    let mut photo = person.clone();
    photo["holder"]["name"] = json!("张三丰");
    photo["face"]["photo"] = json!(RESERVED);
    let versions = format!("/api/v1/licenses/{id}/versions");
    let mut face = license_request("x")["face"].clone();
    face["domicile"] = json!(RESERVED);
    let mut renamed = update_body(license_request("x")["face"].clone());
    renamed["holder_name"] = json!(format!("  {RESERVED}"));
    let mut reasoned = update_body(license_request("x")["face"].clone());
    reasoned["reason"]["text"] = json!(RESERVED);
    let cases: Vec<(&str, String, &String, Value, &str)> = vec![
        (
            "issue",
            "/api/v1/licenses".into(),
            &clerk,
            issue(&|b: &mut Value| b["holder"]["name"] = json!(RESERVED)),
            "holder/name",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &clerk,
            issue(&|b: &mut Value| b["holder"]["name"] = json!(format!(" {RESERVED}"))),
            "holder/name",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &clerk,
            issue(&|b: &mut Value| b["holder"]["id"] = json!(RESERVED)),
            "holder/id",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &clerk,
            issue(&|b: &mut Value| b["face"]["domicile"] = json!(RESERVED)),
            "face/domicile",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &clerk,
            issue(&|b: &mut Value| b["face"]["business_scope"] = json!(format!("\r\n{RESERVED}"))),
            "face/business_scope",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &clerk,
            issue(&|b: &mut Value| b["source"]["system"] = json!(RESERVED)),
            "source/system",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &clerk,
            issue(&|b: &mut Value| b["source"]["record_id"] = json!(RESERVED)),
            "source/record_id",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &league_clerk,
            person,
            "holder/name",
        ),
        (
            "issue",
            "/api/v1/licenses".into(),
            &league_clerk,
            photo,
            "face/photo",
        ),
        ("update", versions.clone(), &clerk, renamed, "holder_name"),
        ("update", versions.clone(), &clerk, reasoned, "reason/text"),
        (
            "update",
            versions.clone(),
            &clerk,
            update_body(face),
            "face/domicile",
        ),
        (
            "revoke",
            format!("/api/v1/licenses/{id}/revoke"),
            &clerk,
            json!({"reason": RESERVED}),
            "reason",
        ),
    ];
    for (what, path, token, body, field) in cases {
        let r = app.send_json(Method::POST, &path, Some(token), &body).await;
        let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field && e["code"] == "reserved"),
            "{what} with the sealed form in {field}: {p}"
        );
        assert_eq!(counts().await, before, "{what} ({field}) wrote something");
    }
    // The license is as it was, and readable by everyone who could read it.
    let view: Value = app
        .get_as(&format!("/api/v1/licenses/{id}"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "valid");
    assert_eq!(view["current_version"], 1);
    let region = app.token("150000", Role::Auditor).await;
    let list = app.get_as("/api/v1/licenses", &region).await;
    assert_eq!(list.status(), StatusCode::OK);
}
both_backends!(reserved_form, reserved_form_is_refused);

/// One license whose stored data cannot be read (a sealed value under an
/// unknown data key, as a poisoned row left by older versions; a sealed
/// value moved from another license) breaks nothing else: lists leave it
/// out and name it, the public check of other licenses, the batch check,
/// the document check and the signature check of a restore go on; reading
/// it is a clear error naming it; it can still be revoked.
async fn an_unreadable_license_breaks_nothing_else(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let good = app.issue(&clerk, &license_request("UNR-1")).await;
    let good_id = good["license_id"].as_str().unwrap().to_owned();
    let bad_holder = CreditCode::with_check_character("91150102MA0N4JXK4")
        .unwrap()
        .to_string();
    let mut body = license_request("UNR-2");
    body["holder"] =
        json!({"name": "呼和浩特市毒化记录有限公司", "id_type": "uscc", "id": bad_holder});
    body["face"]["credit_code"] = json!(bad_holder);
    body["face"]["name"] = json!("呼和浩特市毒化记录有限公司");
    let bad = app.issue(&clerk, &body).await;
    let bad_id = bad["license_id"].as_str().unwrap().to_owned();
    let moved = app.issue(&clerk, &sole_trader("UNR-3", OPERATOR)).await;
    let moved_id = moved["license_id"].as_str().unwrap().to_owned();
    let donor = app.issue(&clerk, &sole_trader("UNR-44", "其其格")).await;
    let donor_id = donor["license_id"].as_str().unwrap().to_owned();
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{good_id}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();

    // Plant: a holder name in the sealed form under a data key nobody has
    // (what a reserved-prefix name became before it was refused) ...
    app.raw_sql(&format!(
        "UPDATE license_versions SET payload = replace(payload, '\"id_type\":\"uscc\",\"name\":\"呼和浩特市毒化记录有限公司\"', '\"id_type\":\"uscc\",\"name\":\"zzenc:v1:0190c3e1-0000-7000-8000-000000000000:AAAA\"') WHERE identifier = '{bad_id}'"
    ))
    .await;
    // ... and a sealed value moved from another license (it does not open here).
    app.raw_sql(&format!(
        "UPDATE license_versions SET payload = (SELECT payload FROM license_versions WHERE identifier = '{donor_id}') WHERE identifier = '{moved_id}'"
    ))
    .await;
    let mut unreadable = vec![bad_id.clone(), moved_id.clone()];
    unreadable.sort();

    // Lists: the others are there, the two are named and left out.
    let list: Value = app
        .get_as("/api/v1/licenses?limit=100", &clerk)
        .await
        .json()
        .await
        .unwrap();
    let shown: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["license_id"].as_str().unwrap())
        .collect();
    assert_eq!(shown.len(), 2, "{list}");
    assert!(shown.contains(&good_id.as_str()) && shown.contains(&donor_id.as_str()));
    let mut named: Vec<String> = serde_json::from_value(list["unreadable"].clone()).unwrap();
    named.sort();
    assert_eq!(named, unreadable);
    // Paged one by one from another org above, nothing stops the pages.
    let region = app.token("150000", Role::Auditor).await;
    let (mut seen, mut skipped, mut cursor) = (Vec::new(), Vec::new(), String::new());
    for _ in 0..10 {
        let r = app
            .get_as(&format!("/api/v1/licenses?limit=1{cursor}"), &region)
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let page: Value = r.json().await.unwrap();
        for v in page["items"].as_array().unwrap() {
            seen.push(v["license_id"].as_str().unwrap().to_owned());
        }
        for v in page["unreadable"].as_array().into_iter().flatten() {
            skipped.push(v.as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    skipped.sort();
    assert_eq!((seen.len(), skipped), (2, unreadable.clone()));
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    assert!(
        events.iter().any(|e| e.event.action == "license.list"
            && e.event.detail["unreadable"].to_string().contains(&bad_id)),
        "the list's read event names what was left out"
    );

    // Reading it: a clear error naming it, and no internal detail.
    for path in [
        format!("/api/v1/licenses/{bad_id}"),
        format!("/api/v1/verify/{bad_id}"),
    ] {
        let r = app.get_as(&path, &clerk).await;
        let p = expect_problem(r, StatusCode::INTERNAL_SERVER_ERROR).await;
        assert_eq!(p["type"], "/problems/unreadable-license", "{path}");
        assert!(p["detail"].as_str().unwrap().contains(&bad_id));
        assert!(!p.to_string().contains("data key"), "{p}");
    }
    // The public check of the others.
    for id in [&good_id, &donor_id] {
        let v: Value = app
            .get(&format!("/api/v1/verify/{id}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            (v["status"].clone(), v["signature_valid"].clone()),
            (json!("valid"), json!(true)),
            "{v}"
        );
    }
    // The document check of another license.
    let r = app
        .send_json(Method::POST, "/api/v1/verify/document", None, &doc)
        .await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (c["valid"].clone(), c["library_record"].clone()),
        (json!(true), json!("current"))
    );
    // The batch check: the good holder answered, the bad one a clear error, audited.
    let platform = app.token("150000", Role::Platform).await;
    let before = app.audit_count().await;
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/verify/batch",
            Some(&platform),
            &json!({"items": [
                {"credit_code": holder_code_for("UNR-1"), "name": "呼和浩特市青城科技有限公司"},
                {"credit_code": bad_holder, "name": "呼和浩特市毒化记录有限公司"}
            ]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["exists"], true);
    assert_eq!(lines[0]["license_id"], good_id.as_str());
    assert_eq!(lines[1]["error"], "unreadable", "{text}");
    assert_eq!(lines[1]["exists"], false);
    assert!(lines[1]["message"].is_string() && lines[1]["message_zh"].is_string());
    assert!(
        !text.contains("data key") && !text.contains("internal"),
        "{text}"
    );
    assert_eq!(app.audit_count().await, before + 2, "every item is audited");
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    assert_eq!(events.last().unwrap().event.detail["error"], "unreadable");

    // What a restore checks: every other signature, the two named.
    let report = app.library.verify_license_signatures().await.unwrap();
    assert!(report.problem.is_none(), "{:?}", report.problem);
    assert_eq!(report.licenses, 2);
    let mut named = report.unreadable.clone();
    named.sort();
    assert_eq!(named, unreadable);
    let (checked, bad_count) = app.library.warm_verify_cache().await.unwrap();
    assert_eq!((checked, bad_count), (2, 2));

    // Its issuer can still revoke it.
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{bad_id}/revoke"),
            Some(&clerk),
            &json!({"reason": "存储数据损坏，注销后重新制发"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let revoked: Value = r.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
}
both_backends!(unreadable, an_unreadable_license_breaks_nothing_else);

/// A type whose holders are natural persons but which marks no face field
/// personal: the holder's name and resident id are personal data all the
/// same. Readers who see them masked get no document, PDF or credential,
/// and every read event says what was disclosed.
async fn natural_person_holder_is_personal_data(app: TestApp) {
    let code = "11100000000013338W301";
    let mut t = license_type(code, "测试从业人员证书");
    t["holder_types"] = json!(["natural_person"]);
    let r = app
        .send_json(Method::POST, "/api/v1/catalog", Some(&app.admin_token), &t)
        .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let clerk = app.token("150100", Role::IssuerClerk).await;
    let resident = "11010519491231002X";
    let issued = app
        .issue(
            &clerk,
            &json!({
                "type_code": code,
                "issuer": "150100",
                "holder": {"name": "王小明", "id_type": "resident_id", "id": resident},
                "face": {"number": "RY-0001", "grade": "一级", "issued_on": "2026-01-05"},
                "valid_from": "2026-01-05",
                "valid_until": null,
                "source": {"system": "renyuan", "record_id": "NP-NOFIELD"}
            }),
        )
        .await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let reads = |action: &'static str| {
        let app = &app;
        async move {
            app.library
                .store
                .audit_events(0, 100_000)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.event.action == action)
                .map(|e| {
                    (
                        e.event.actor.clone(),
                        e.event.detail["personal_data"].clone(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    for (org, role) in [
        ("150000", Role::Auditor),
        ("150000", Role::RegionAdmin),
        ("150100", Role::Auditor),
    ] {
        let reader = app.token(org, role).await;
        let view: Value = app
            .get_as(&format!("/api/v1/licenses/{id}"), &reader)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(view["holder"]["name"], "王**");
        assert_eq!(view["holder"]["id"], "1101**********002X");
        for kind in ["document", "pdf", "vc"] {
            let r = app
                .get_as(&format!("/api/v1/licenses/{id}/{kind}"), &reader)
                .await;
            let p = expect_problem(r, StatusCode::FORBIDDEN).await;
            assert!(!p.to_string().contains(resident) && !p.to_string().contains("王小明"));
        }
    }
    // Each masked reader's read says "masked"; no document, PDF or
    // credential read was recorded for them (nothing was handed out).
    let read = reads("license.read").await;
    assert_eq!(read.len(), 3);
    assert!(read.iter().all(|(_, p)| p == "masked"), "{read:?}");
    for action in [
        "license.read_document",
        "license.read_pdf",
        "license.read_vc",
    ] {
        assert!(reads(action).await.is_empty(), "{action}");
    }
    // The issuing clerk gets them in full, and the events say so.
    for kind in ["document", "pdf", "vc"] {
        let r = app
            .get_as(&format!("/api/v1/licenses/{id}/{kind}"), &clerk)
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{kind}");
    }
    for action in [
        "license.read_document",
        "license.read_pdf",
        "license.read_vc",
    ] {
        assert_eq!(reads(action).await.len(), 1, "{action}");
        assert_eq!(reads(action).await[0].1, "full", "{action}");
    }
}
both_backends!(
    natural_person_no_field,
    natural_person_holder_is_personal_data
);

/// An individual business (个体工商户) named after its operator: its name
/// is the operator's, a personal field, so the public check and every
/// masked view mask it too.
async fn individual_business_named_after_its_operator(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let mut body = sole_trader("OPNAME-1", OPERATOR);
    body["holder"]["name"] = json!(OPERATOR);
    body["face"]["name"] = json!(OPERATOR);
    let issued = app.issue(&clerk, &body).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    assert_eq!(issued["holder"]["name"], OPERATOR, "its clerk sees it");

    let public: Value = app
        .get(&format!("/api/v1/verify/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        public["holder"],
        json!({"kind": "organization", "name": "乌****尔"})
    );
    let html = app
        .get(&format!("/verify/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(OPERATOR));
    let region = app.token("150000", Role::RegionAdmin).await;
    for path in [
        format!("/api/v1/licenses/{id}"),
        "/api/v1/licenses".to_owned(),
        format!("/api/v1/licenses/{id}/history"),
    ] {
        let text = app.get_as(&path, &region).await.text().await.unwrap();
        assert!(!text.contains(OPERATOR), "{path}: {text}");
        assert!(text.contains("乌****尔"), "{path}");
    }
    // A business with its own name keeps it public.
    let other = app.issue(&clerk, &sole_trader("OPNAME-22", OPERATOR)).await;
    let public: Value = app
        .get(&format!(
            "/api/v1/verify/{}",
            other["license_id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(public["holder"]["name"], "新城区草原奶茶店");
}
both_backends!(operator_name, individual_business_named_after_its_operator);
