//! Personal face fields at rest and on output: sealed in the database (plain
//! SQL finds no trace), opened back to the exact signed text (OpenSSL
//! verifies), shown in full only to the issuing org's clerks and objection
//! handlers, masked for other readers, and still readable after the data
//! key is rotated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::role::Role;
use zhengzhao_server::service::Actor;

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
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
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
