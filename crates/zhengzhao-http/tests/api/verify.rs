//! Public verification over HTTP, without a token: the answer's exact
//! fields (nothing personal), statuses through update and revocation,
//! a natural person's name masked, a tampered row caught despite the cache,
//! wrong shapes and unknown ids, the Chinese pages, and the rate limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

async fn public_check(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("V-1")).await;
    let first = issued["license_id"].as_str().unwrap().to_owned();

    let r = app.get(&format!("/api/v1/verify/{first}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "valid");
    assert_eq!(v["signature_valid"], true);
    assert_eq!(
        v["holder"],
        json!({"kind": "organization", "name": "呼和浩特市青城科技有限公司"})
    );
    assert_eq!(v["issuer"]["code"], "150102");
    assert_eq!(v["type_code"], BUSINESS_LICENSE);
    assert_eq!(v["current_license_id"], first.as_str());
    // Exactly these fields: no face data, no holder id (an objection flag
    // names fields, never their values).
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "checked_at",
            "current_license_id",
            "current_version",
            "holder",
            "issuer",
            "license_id",
            "objection_fields",
            "revoked_at",
            "signature_valid",
            "status",
            "type_code",
            "type_name",
            "under_objection",
            "valid_from",
            "valid_until",
            "version"
        ]
    );
    let holder = holder_code_for("V-1");
    assert!(!v.to_string().contains(&holder) || v["issuer"]["credit_code"] == holder.as_str());
    assert!(
        !v.to_string().contains("张三"),
        "the legal representative is face data"
    );

    // Update: the old identifier is superseded and points at the current one.
    let second = app
        .update_domicile(&clerk, &first, "内蒙古自治区呼和浩特市新城区新华大街9号")
        .await;
    let v: Value = app
        .get(&format!("/api/v1/verify/{first}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "superseded");
    assert_eq!(v["current_license_id"], second.as_str());
    assert_eq!(v["current_version"], 2);
    let v: Value = app
        .get(&format!("/api/v1/verify/{second}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "valid");

    // A row altered in the database is caught, though the check was answered before.
    app.raw_sql(&format!(
        "UPDATE license_versions SET payload = replace(payload, '新华大街9号', '新华大街8号') WHERE identifier = '{second}'"
    ))
    .await;
    let v: Value = app
        .get(&format!("/api/v1/verify/{second}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["signature_valid"], false);

    // Revocation shows at once.
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{first}/revoke"),
            Some(&clerk),
            &json!({"reason": "注销"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = app
        .get(&format!("/api/v1/verify/{first}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "revoked");
    assert!(v["revoked_at"].is_string());

    // Wrong shape: 422 before any lookup; well-formed but unknown: 404.
    let p = expect_problem(
        app.get("/api/v1/verify/not-an-id").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "license_id");
    let unknown = zhengzhao_domain::license_id::LicenseId::new(
        &zhengzhao_domain::codes::LicenseTypeCode::parse(BUSINESS_LICENSE).unwrap(),
        &zhengzhao_domain::codes::CreditCode::parse(
            issued["issuer"]["credit_code"].as_str().unwrap(),
        )
        .unwrap(),
        "0000000000000000000000000000ABCD",
        1,
    )
    .unwrap();
    let p = expect_problem(
        app.get(&format!("/api/v1/verify/{unknown}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(p["title_zh"].is_string());
    // The page, in Chinese, without inline scripts.
    let page = app.get(&format!("/verify/{second}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("核验") && html.contains("呼和浩特市青城科技有限公司"),
        "{html}"
    );
    // No inline script: the one script is the site's own enhancement.
    assert_eq!(
        html.matches("<script").count(),
        html.matches(r#"<script src="/assets/page.js" defer></script>"#)
            .count(),
        "{html}"
    );
    let page = app.get(&format!("/verify?id={first}")).await;
    assert!(page.text().await.unwrap().contains("已注销"));
    let page = app.get("/verify?id=bad").await;
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text().await.unwrap().contains("标识格式不正确"));
    assert_eq!(app.get("/verify").await.status(), StatusCode::OK);
}
both_backends!(public, public_check);

/// A natural person's name is masked; no id number appears.
async fn natural_person_is_masked(app: TestApp) {
    let clerk = app.token("150100", Role::IssuerClerk).await;
    let id_number = "11010519491231002X";
    let issued = app
        .issue(
            &clerk,
            &json!({
                "type_code": "11100000MB0143028R009",
                "issuer": "150100",
                "holder": {"name": "张三丰", "id_type": "resident_id", "id": id_number},
                "face": {
                    "holder_name": "张三丰", "gender": "男", "id_number": id_number,
                    "photo": "p/1.jpg", "work_items": "叉车司机（N1）",
                    "certificate_number": "TS-1", "issuing_authority": "150100"
                },
                "valid_from": "2026-01-01", "valid_until": "2029-12-31",
                "source": {"system": "ts", "record_id": "NP-V"}
            }),
        )
        .await;
    let id = issued["license_id"].as_str().unwrap();
    let v: Value = app
        .get(&format!("/api/v1/verify/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["holder"],
        json!({"kind": "natural_person", "name": "张**"})
    );
    assert_eq!(
        v["signature_valid"], true,
        "opened back to the signed bytes"
    );
    assert!(!v.to_string().contains(id_number));
    let html = app
        .get(&format!("/verify/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(id_number) && !html.contains("张三丰"));
}
both_backends!(natural_person, natural_person_is_masked);

/// Past the per-address rate, 429 with Retry-After; other routes unaffected.
// SQLite only: the rate limiter and the id's shape check answer before any store access.
#[tokio::test]
async fn public_checks_are_rate_limited() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_rate_limit = zhengzhao_http::http::rate_limit::PublicRateLimit {
            per_second: 1,
            burst: 3,
        };
    })
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = app.get("/api/v1/verify/not-an-id").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&retry), "{retry}");
            let p = expect_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
            assert_eq!(p["type"], "/problems/too-many-requests");
            statuses.push(429);
        } else {
            statuses.push(r.status().as_u16());
        }
    }
    assert_eq!(statuses, [422, 422, 422, 429, 429]);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

/// Document check: the library's own document is genuine and current; an
/// older version says so; an altered field is named; a document signed by a
/// key the library does not hold is not valid.
async fn document_check(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("D-1")).await;
    let first = issued["license_id"].as_str().unwrap().to_owned();
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{first}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let check = |body: Value| {
        let app = &app;
        async move {
            let r = app
                .send_json(Method::POST, "/api/v1/verify/document", None, &body)
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<Value>().await.unwrap()
        }
    };
    let c = check(doc.clone()).await;
    assert_eq!(c["verdict"], "genuine_current", "{c}");
    assert_eq!(c["valid"], true, "{c}");
    assert_eq!(c["signature_valid"], true, "{c}");
    assert_eq!(c["library_record"], "current");
    assert_eq!(c["status"], "valid");
    assert_eq!(c["schema"], "zhengzhao.license/2");
    assert_eq!(c["status_signed"], true);
    assert_eq!(c["license_id"], first.as_str());
    assert_eq!(c["problems"], json!([]));

    // After an update, the first document is genuine but an older version.
    let second = app
        .update_domicile(&clerk, &first, "内蒙古自治区呼和浩特市新城区新华大街7号")
        .await;
    let c = check(doc.clone()).await;
    assert_eq!(
        (
            c["verdict"].clone(),
            c["valid"].clone(),
            c["signature_valid"].clone(),
            c["library_record"].clone(),
            c["status"].clone()
        ),
        (
            json!("genuine_superseded"),
            json!(false),
            json!(true),
            json!("older_version"),
            json!("superseded")
        ),
        "{c}"
    );

    // Altered: the signature fails, and nothing is compared with the
    // library's record (no status, no field named).
    let mut altered = doc.clone();
    altered["payload"] = json!(
        doc["payload"]
            .as_str()
            .unwrap()
            .replace("某某路88号", "某某路99号")
    );
    let c = check(altered).await;
    assert_eq!(c["verdict"], "altered", "{c}");
    assert_eq!(c["valid"], false);
    assert_eq!(c["signature_valid"], false);
    assert_eq!(c["library_record"], "not_compared");
    assert_eq!(c["status"], Value::Null);
    let parts: Vec<&str> = c["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part"].as_str().unwrap())
        .collect();
    assert_eq!(parts, ["signature"], "{c}");

    // Signed by a key the library does not hold, with its own certificate.
    let key = zhengzhao_crypto::sm2sig::KeyPair::generate().unwrap();
    let sig = key
        .sign(doc["payload"].as_str().unwrap().as_bytes())
        .unwrap();
    use base64::Engine;
    let mut forged = doc.clone();
    forged["signature"] = json!(base64::engine::general_purpose::STANDARD.encode(sig));
    let c = check(forged).await;
    assert_eq!(c["verdict"], "altered", "{c}");
    assert_eq!(c["valid"], false);
    assert_eq!(c["issued_by_this_library"], false);
    assert_eq!(c["problems"][0]["part"], "signature");
    // ... and with the signer's own certificate sent along: it verifies
    // only under a key this library does not hold.
    let mut own_cert = forged_with_certificate(&doc, &key);
    own_cert["signature"] = forged_signature(&doc, &key);
    let c = check(own_cert).await;
    assert_eq!(c["verdict"], "not_issued_here", "{c}");
    assert_eq!(c["signature_valid"], false);
    assert_eq!(c["problems"][0]["part"], "certificate", "{c}");

    // Not a document: 422, with a reason.
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/verify/document",
            None,
            &json!({"hello": 1}),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let c = check(json!({"payload": "not json", "signature": "%%%"})).await;
    assert_eq!(c["valid"], false);
    assert_eq!(c["library_record"], "not_compared");

    // A genuine document whose stored row was changed since: compared,
    // and the changed field named.
    app.raw_sql(&format!(
        "UPDATE license_versions SET payload = replace(payload, '某某路88号', '某某路77号') WHERE identifier = '{first}'"
    ))
    .await;
    let c = check(doc.clone()).await;
    assert_eq!(
        (
            c["signature_valid"].clone(),
            c["library_record"].clone(),
            c["verdict"].clone()
        ),
        (json!(true), json!("differs"), json!("genuine_superseded")),
        "{c}"
    );
    assert_eq!(c["problems"][0]["part"], "payload/face/domicile", "{c}");

    // Revoked: every version's genuine document says so.
    let current: Value = app
        .get_as(&format!("/api/v1/licenses/{second}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{first}/revoke"),
            Some(&clerk),
            &json!({"reason": "注销"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for d in [current, doc] {
        let c = check(d).await;
        assert_eq!(
            (
                c["verdict"].clone(),
                c["valid"].clone(),
                c["status"].clone()
            ),
            (json!("genuine_revoked"), json!(false), json!("revoked")),
            "{c}"
        );
    }
}
both_backends!(document, document_check);

fn forged_signature(doc: &Value, key: &zhengzhao_crypto::sm2sig::KeyPair) -> Value {
    use base64::Engine;
    let sig = key
        .sign(doc["payload"].as_str().unwrap().as_bytes())
        .unwrap();
    json!(base64::engine::general_purpose::STANDARD.encode(sig))
}

/// `doc` with a self-made certificate for `key`, in the issuer's name.
fn forged_with_certificate(doc: &Value, key: &zhengzhao_crypto::sm2sig::KeyPair) -> Value {
    use zhengzhao_crypto::cert;
    let now = std::time::SystemTime::now();
    let ca = zhengzhao_crypto::sm2sig::KeyPair::generate().unwrap();
    let ca_cert = cert::make_ca(
        &ca,
        &cert::subject_name("伪造根证书", "伪造", None),
        now,
        10,
    )
    .unwrap();
    let subject = cert::subject_name("新城区市场监督管理局", "新城区市场监督管理局", None);
    let c = cert::issue(&ca, &ca_cert, &subject, &key.public_key(), now, 1).unwrap();
    let mut forged = doc.clone();
    forged["certificate"] = json!(cert::to_pem(&c).unwrap());
    forged
}

/// The document check is no oracle on what the library stores: with a
/// made-up signature, a payload that guesses a natural person's name and
/// resident id wrongly gets exactly the answer of one that has them right.
async fn document_check_is_no_oracle(app: TestApp) {
    let clerk = app.token("150100", Role::IssuerClerk).await;
    let id_number = "11010519491231002X";
    let issued = app
        .issue(
            &clerk,
            &json!({
                "type_code": "11100000MB0143028R009",
                "issuer": "150100",
                "holder": {"name": "张三丰", "id_type": "resident_id", "id": id_number},
                "face": {
                    "holder_name": "张三丰", "gender": "男", "id_number": id_number,
                    "photo": "p/1.jpg", "work_items": "叉车司机（N1）",
                    "certificate_number": "TS-O", "issuing_authority": "150100"
                },
                "valid_from": "2026-01-01", "valid_until": "2029-12-31",
                "source": {"system": "ts", "record_id": "NP-ORACLE"}
            }),
        )
        .await;
    let id = issued["license_id"].as_str().unwrap();
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    use base64::Engine;
    let made_up = base64::engine::general_purpose::STANDARD.encode([0x30u8; 72]);
    let right = doc["payload"].as_str().unwrap().to_owned();
    let wrong = right
        .replace("张三丰", "张三风")
        .replace(id_number, "110105194912310038");
    assert_ne!(right, wrong);
    let mut answers = Vec::new();
    for payload in [&right, &wrong] {
        for certificate in [doc["certificate"].clone(), Value::Null] {
            let body =
                json!({"payload": payload, "signature": made_up, "certificate": certificate});
            let r = app
                .send_json(Method::POST, "/api/v1/verify/document", None, &body)
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            answers.push(r.json::<Value>().await.unwrap());
        }
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:#?}");
    assert_eq!(answers[0]["valid"], false);
    assert_eq!(answers[0]["library_record"], "not_compared");
    assert_eq!(answers[0]["status"], Value::Null);
    assert_eq!(answers[0]["problems"].as_array().unwrap().len(), 1);
    // The genuine document is compared, and matches.
    let r = app
        .send_json(Method::POST, "/api/v1/verify/document", None, &doc)
        .await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (c["valid"].clone(), c["library_record"].clone()),
        (json!(true), json!("current"))
    );
}
both_backends!(document_oracle, document_check_is_no_oracle);

/// Offline verification: the signed status list (checked with OpenSSL) has
/// exactly the revoked license's bit set, at the index its document names;
/// the certificates endpoint holds the issuer's certificate and the root.
/// A status list as an offline verifier reads it: the SM2 signature (by
/// OpenSSL) over the signed text, the validity window, the entries.
pub(crate) fn read_list(list: &Value, purpose: &str) -> Vec<u8> {
    use base64::Engine;
    use std::io::Read;
    let out = openssl_verify(
        list["payload"].as_str().unwrap(),
        list["signature"].as_str().unwrap(),
        list["certificate"].as_str().unwrap(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cred: Value = serde_json::from_str(list["payload"].as_str().unwrap()).unwrap();
    assert_eq!(cred, list["credential"]);
    assert_eq!(
        cred["type"],
        json!(["VerifiableCredential", "BitstringStatusListCredential"])
    );
    assert_eq!(cred["credentialSubject"]["statusPurpose"], purpose);
    let from: jiff::Timestamp = cred["validFrom"].as_str().unwrap().parse().unwrap();
    let until: jiff::Timestamp = cred["validUntil"].as_str().unwrap().parse().unwrap();
    let now = jiff::Timestamp::now();
    assert!(from <= now && now < until, "{from} {until}");
    assert_eq!(
        until.duration_since(from),
        jiff::SignedDuration::from_hours(1)
    );
    let encoded = cred["credentialSubject"]["encodedList"].as_str().unwrap();
    let packed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.strip_prefix('u').unwrap())
        .unwrap();
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&packed[..])
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// Entry `i` of `size` bits, most significant bit first.
pub(crate) fn entry(bytes: &[u8], size: usize, i: i64) -> u8 {
    let i = usize::try_from(i).unwrap();
    (0..size).fold(0, |acc, b| {
        let bit = i * size + b;
        acc << 1 | (bytes[bit / 8] >> (7 - bit % 8) & 1)
    })
}

/// Every version has its own status, signed into its document (issue 11
/// §1, §2): valid, superseded after an update, revoked; the lists are
/// signed, carry a validity window, and a document cannot be pointed at
/// another entry without breaking its signature.
async fn offline_status_list(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let a = app.issue(&clerk, &license_request("S-1")).await;
    let b = app.issue(&clerk, &license_request("S-2")).await;
    let doc = |id: String| {
        let app = &app;
        let clerk = clerk.clone();
        async move {
            app.get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let a1 = a["license_id"].as_str().unwrap().to_owned();
    let b1 = b["license_id"].as_str().unwrap().to_owned();
    let (da1, db1) = (doc(a1.clone()).await, doc(b1.clone()).await);
    // Cached before the changes: an update or revocation rebuilds at once.
    let before: Value = app
        .get("/api/v1/status-lists/message")
        .await
        .json()
        .await
        .unwrap();
    let a2 = app
        .update_domicile(&clerk, &a1, "内蒙古自治区呼和浩特市新城区新华大街9号")
        .await;
    let da2 = doc(a2.clone()).await;
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{b1}/revoke"),
            Some(&clerk),
            &json!({"reason": "注销"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The entry is inside the signed payload, and the response's one-bit
    // index is the same entry.
    let index = |d: &Value| {
        assert_eq!(d["schema"], "zhengzhao.license/2");
        let payload: Value = serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
        let status = &payload["status"];
        assert_eq!(status["statusPurpose"], "message");
        assert_eq!(status["statusSize"], 2);
        assert!(
            status["statusListCredential"]
                .as_str()
                .unwrap()
                .ends_with("/api/v1/status-lists/message")
        );
        assert!(
            d["status_list_url"]
                .as_str()
                .unwrap()
                .ends_with("/api/v1/status-lists/revocation")
        );
        let i: i64 = status["statusListIndex"].as_str().unwrap().parse().unwrap();
        assert_eq!(d["status_list_index"], i);
        i
    };
    let (ia1, ia2, ib1) = (index(&da1), index(&da2), index(&db1));
    assert!(ia1 != ia2 && ia2 != ib1 && ia1 != ib1);

    let message: Value = app
        .get("/api/v1/status-lists/message")
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(before["credential"], message["credential"]);
    let bits = read_list(&message, "message");
    assert_eq!(bits.len(), 131_072 * 2 / 8);
    assert_eq!(
        [
            entry(&bits, 2, ia1),
            entry(&bits, 2, ia2),
            entry(&bits, 2, ib1)
        ],
        [1, 0, 2],
        "superseded, valid, revoked"
    );
    assert_eq!(bits.iter().map(|b| b.count_ones()).sum::<u32>(), 2);
    let revocation: Value = app
        .get("/api/v1/status-lists/revocation")
        .await
        .json()
        .await
        .unwrap();
    let bits = read_list(&revocation, "revocation");
    assert_eq!(
        [
            entry(&bits, 1, ia1),
            entry(&bits, 1, ia2),
            entry(&bits, 1, ib1)
        ],
        [1, 0, 1],
        "no longer in force: superseded or revoked"
    );
    let suspension: Value = app
        .get("/api/v1/status-lists/suspension")
        .await
        .json()
        .await
        .unwrap();
    let bits = read_list(&suspension, "suspension");
    assert!(bits.iter().all(|&b| b == 0));
    expect_problem(
        app.get("/api/v1/status-lists/other").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The revoked document pointed at the valid entry: its signature no
    // longer verifies (OpenSSL), and the document check says altered.
    let payload = db1["payload"].as_str().unwrap();
    let moved = payload.replace(
        &format!("\"statusListIndex\":\"{ib1}\""),
        &format!("\"statusListIndex\":\"{ia2}\""),
    );
    assert_ne!(moved, payload);
    let out = openssl_verify(
        &moved,
        db1["signature"].as_str().unwrap(),
        db1["certificate"].as_str().unwrap(),
    );
    assert!(!out.status.success());
    let mut forged = db1.clone();
    forged["payload"] = json!(moved);
    let c: Value = app
        .send_json(Method::POST, "/api/v1/verify/document", None, &forged)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["verdict"], "altered", "{c}");

    // The list of schema-1 documents (by license key) is still served,
    // with a validity window too.
    let old: Value = app.get("/api/v1/status-list").await.json().await.unwrap();
    let bits = read_list(&old, "revocation");
    assert_eq!(bits.iter().map(|b| b.count_ones()).sum::<u32>(), 1);

    let certs: Value = app.get("/api/v1/certificates").await.json().await.unwrap();
    let issuer_certs: Vec<&str> = certs["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["org"] == "150102")
        .map(|c| c["certificate"].as_str().unwrap())
        .collect();
    assert!(issuer_certs.contains(&da1["certificate"].as_str().unwrap()));
    assert_eq!(certs["roots"].as_array().unwrap().len(), 1);
}
both_backends!(offline, offline_status_list);

/// A document signed before issue 11 (schema 1: no status entry in the
/// payload) still verifies, and is reported as such: its status comes from
/// the library's record and the list by license key.
async fn schema_1_documents_still_verify(app: TestApp) {
    use base64::Engine;
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("OLD-1")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    // What the library signed before: the same statement without `status`.
    let mut old: Value = serde_json::from_str(doc["payload"].as_str().unwrap()).unwrap();
    old.as_object_mut().unwrap().remove("status");
    old["schema"] = json!("zhengzhao.license/1");
    let text = zhengzhao_crypto::canonical_json_value(&old).unwrap();
    let org = app
        .library
        .store
        .org(&OrgCode::parse("150102").unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = app.library.signer_for(&org).await.unwrap();
    let sig = key.pair.sign(text.as_bytes()).unwrap();
    let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
    let blob = match app.backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("decode('{hex}', 'hex')"),
    };
    app.raw_sql(&format!(
        "UPDATE license_versions SET payload = '{}', signature = {blob} WHERE identifier = '{id}'",
        text.replace('\'', "''")
    ))
    .await;
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["schema"], "zhengzhao.license/1");
    assert!(
        doc["status_list_url"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/status-list")
    );
    assert_eq!(
        doc["signature"],
        json!(base64::engine::general_purpose::STANDARD.encode(&sig))
    );
    let c: Value = app
        .send_json(Method::POST, "/api/v1/verify/document", None, &doc)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            c["verdict"].clone(),
            c["signature_valid"].clone(),
            c["schema"].clone(),
            c["status_signed"].clone(),
            c["library_record"].clone()
        ),
        (
            json!("genuine_current"),
            json!(true),
            json!("zhengzhao.license/1"),
            json!(false),
            json!("current")
        ),
        "{c}"
    );
}
both_backends!(schema_1, schema_1_documents_still_verify);

/// The PDF the library produced can be checked as it is: the signed document
/// rides inside it; a PDF whose embedded document was altered is caught.
async fn pdf_document_check(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("PDF-1")).await;
    let id = issued["license_id"].as_str().unwrap();
    let pdf = app
        .get_as(&format!("/api/v1/licenses/{id}/pdf"), &clerk)
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let post = |bytes: Vec<u8>| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/verify/document"))
                .header("content-type", "application/pdf")
                .body(bytes)
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(pdf.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let c: Value = r.json().await.unwrap();
    assert_eq!(
        (c["valid"].clone(), c["library_record"].clone()),
        (json!(true), json!("current")),
        "{c}"
    );
    assert_eq!(c["license_id"], id);

    // The address changed inside the file: caught (the signature fails;
    // nothing is compared with the record).
    let text = String::from_utf8_lossy(&pdf).into_owned();
    assert!(
        text.contains("某某路88号"),
        "the embedded document is stored uncompressed"
    );
    let from = "某某路88号".as_bytes();
    let to = "某某路99号".as_bytes();
    let mut altered = pdf.clone();
    let at = altered.windows(from.len()).position(|w| w == from).unwrap();
    altered[at..at + to.len()].copy_from_slice(to);
    let c: Value = post(altered).await.json().await.unwrap();
    assert_eq!(c["valid"], false);
    assert_eq!(c["library_record"], "not_compared");
    assert_eq!(c["problems"][0]["part"], "signature", "{c}");

    // Not one of ours.
    let r = post(b"%PDF-1.7\n% some other PDF\n".to_vec()).await;
    assert_eq!(
        expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await["errors"][0]["code"],
        "no_signed_document"
    );
    let r = post(b"plain text".to_vec()).await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
}
both_backends_with!(pdf_document, pdf_document_check, pdf_sized_bodies);

/// A license PDF is larger than the default 64 KiB body limit.
fn pdf_sized_bodies(c: &mut zhengzhao_http::ServerConfig) {
    c.max_body_bytes = 4 * 1024 * 1024;
}

/// Page routes answer errors as Chinese HTML pages under the pages' CSP,
/// the rate limiter's 429 included; the API answers every error as a
/// problem document, the document check's 413 and a 405 included.
// SQLite only: error pages, body limits and rate limits are the HTTP layer's, not the store's.
#[tokio::test]
async fn errors_are_pages_on_pages_and_problems_on_the_api() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.public_rate_limit = zhengzhao_http::http::rate_limit::PublicRateLimit {
            per_second: 1,
            burst: 3,
        };
    })
    .await
    .unwrap();
    async fn page(resp: reqwest::Response, status: StatusCode, says: &str) -> String {
        assert_eq!(resp.status(), status);
        let h = resp.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{status}: {:?}",
            h["content-type"]
        );
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .starts_with("default-src 'none'")
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains(says), "{status}: {html}");
        assert!(html.contains("<html lang=\"zh-CN\">"));
        html
    }
    // 404: an unknown page, and a path no page route takes.
    page(
        app.get("/no-such-page").await,
        StatusCode::NOT_FOUND,
        "未找到",
    )
    .await;
    page(
        app.get("/verify/a/b").await,
        StatusCode::NOT_FOUND,
        "未找到",
    )
    .await;
    // 405 on a page.
    let r = app.client.delete(app.url("/catalog")).send().await.unwrap();
    page(r, StatusCode::METHOD_NOT_ALLOWED, "不支持此请求方法").await;
    // 422: a login form without its fields.
    let r = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=x")
        .send()
        .await
        .unwrap();
    page(r, StatusCode::UNPROCESSABLE_ENTITY, "未通过校验").await;
    // 413: a form larger than the body limit.
    let r = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("username={}", "x".repeat(128 * 1024)))
        .send()
        .await
        .unwrap();
    page(r, StatusCode::PAYLOAD_TOO_LARGE, "过大").await;
    // The API: every error a problem document in English and Chinese.
    let big = vec![b' '; 128 * 1024];
    for kind in ["application/json", "application/pdf"] {
        let r = app
            .client
            .post(app.url("/api/v1/verify/document"))
            .header("content-type", kind)
            .body(big.clone())
            .send()
            .await
            .unwrap();
        let p = expect_problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert_eq!(p["type"], "/problems/too-large");
    }
    let r = app
        .client
        .delete(app.url("/api/v1/certificates"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("allow"));
    let p = expect_problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(p["type"], "/problems/method-not-allowed");
    assert_eq!(p["title_zh"], "不支持此请求方法");
    expect_problem(
        app.get("/api/v1/no-such-thing").await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // 429 from the rate limiter on the page a QR code opens.
    let mut limited = None;
    for _ in 0..1000 {
        let r = app.get("/verify/11100000MB0143028R001").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the page is rate-limited");
    assert!(r.headers().contains_key("retry-after"));
    let html = page(r, StatusCode::TOO_MANY_REQUESTS, "访问过于频繁").await;
    assert!(
        html.contains("秒后再试") && html.contains("请求编号"),
        "{html}"
    );
}

/// A server error on a page is a page too (the licenses table is gone).
async fn server_errors_on_pages_are_pages(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("E-500")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    app.raw_sql("ALTER TABLE licenses RENAME TO licenses_elsewhere")
        .await;
    let r = app.get(&format!("/verify/{id}")).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = r.text().await.unwrap();
    assert!(html.contains("服务器内部错误"), "{html}");
    assert!(!html.contains("licenses"), "no internal detail: {html}");
    let r = app.get(&format!("/api/v1/verify/{id}")).await;
    let p = expect_problem(r, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert!(p.get("detail").is_none());
}
both_backends!(server_errors, server_errors_on_pages_are_pages);

/// A present but invalid token is refused with 401 on every public
/// endpoint too, as on the others; pages answer it as a page.
async fn invalid_tokens_are_refused_everywhere(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("BAD-TOKEN")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let p: Value = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{id}/presentations"),
            Some(&clerk),
            &json!({"fields": ["name"], "single_use": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    let presentation = p["token"].as_str().unwrap().to_owned();
    let document: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let public: Vec<(Method, String)> = vec![
        (Method::GET, format!("/api/v1/verify/{id}")),
        (Method::POST, "/api/v1/verify/document".into()),
        (Method::GET, "/api/v1/status-list".into()),
        (Method::GET, "/api/v1/certificates".into()),
        (Method::GET, "/api/v1/catalog".into()),
        (Method::GET, format!("/api/v1/catalog/{BUSINESS_LICENSE}")),
        (
            Method::GET,
            format!("/api/v1/catalog/{BUSINESS_LICENSE}/versions"),
        ),
        (Method::GET, "/api/v1/audit/checkpoint".into()),
        (Method::GET, "/api/v1/orgs/150102/vc-key".into()),
        (Method::GET, format!("/api/v1/presentations/{presentation}")),
        (
            Method::GET,
            format!("/api/v1/presentations/{presentation}/qr.png"),
        ),
        (
            Method::GET,
            format!("/api/v1/presentations/{presentation}/qr.svg"),
        ),
    ];
    let unknown = format!("zzt_{}", "0a".repeat(32));
    for bad in [unknown.as_str(), "not-a-token", "zzt_short"] {
        for (method, path) in &public {
            // Without a token: answered (not 401; the audit log has no
            // checkpoint yet, so that one is a 404).
            let mut plain = app.client.request(method.clone(), app.url(path));
            if *method == Method::POST {
                plain = plain.json(&document);
            }
            let r = plain.send().await.unwrap();
            assert!(
                r.status().is_success() || r.status() == StatusCode::NOT_FOUND,
                "{method} {path}: {}",
                r.status()
            );
            let mut req = app
                .client
                .request(method.clone(), app.url(path))
                .bearer_auth(bad);
            if *method == Method::POST {
                req = req.json(&document);
            }
            let r = req.send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {bad}"
            );
            assert_eq!(
                expect_problem(r, StatusCode::UNAUTHORIZED).await["type"],
                "/problems/unauthenticated"
            );
        }
        for path in [format!("/verify/{id}"), "/verify".into(), "/catalog".into()] {
            let r = app.get_as(&path, bad).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert!(
                r.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html")
            );
        }
    }
}
both_backends!(invalid_tokens, invalid_tokens_are_refused_everywhere);

/// Run `openssl` with `args` in `dir`; (success, stdout + stderr).
fn openssl(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Issue 11 §6: the issuers' certificates chain to the root with OpenSSL
/// (given the SM2 distinguishing id), a look-alike certificate does not;
/// certificates name their CRL, which the library serves; a revoked key's
/// certificate is on it, and what that key signed from the revocation time
/// on no longer counts as genuine, while what it signed before still does.
async fn chain_and_crl(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let first = app.issue(&clerk, &license_request("CRL-1")).await;
    let second = app.issue(&clerk, &license_request("CRL-2")).await;
    let id = |l: &Value| l["license_id"].as_str().unwrap().to_owned();
    let doc = |id: String| {
        let app = &app;
        let clerk = clerk.clone();
        async move {
            app.get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let (d1, d2) = (doc(id(&first)).await, doc(id(&second)).await);
    let certs: Value = app.get("/api/v1/certificates").await.json().await.unwrap();
    let root = &certs["roots"][0];
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("root.pem", root["certificate"].as_str().unwrap());
    write("issuer.pem", d1["certificate"].as_str().unwrap());
    let distid = "distid:1234567812345678";
    let (ok, out) = openssl(
        dir.path(),
        &[
            "verify",
            "-vfyopt",
            distid,
            "-CAfile",
            "root.pem",
            "issuer.pem",
        ],
    );
    assert!(ok, "{out}");
    // A certificate in the issuer's name from a self-made CA: refused.
    let forged =
        forged_with_certificate(&d1, &zhengzhao_crypto::sm2sig::KeyPair::generate().unwrap());
    write("forged.pem", forged["certificate"].as_str().unwrap());
    let (ok, out) = openssl(
        dir.path(),
        &[
            "verify",
            "-vfyopt",
            distid,
            "-CAfile",
            "root.pem",
            "forged.pem",
        ],
    );
    assert!(!ok, "{out}");

    // The certificate names the CA's CRL, served here.
    let crl_path = format!("/api/v1/crl/{}", root["key_id"].as_str().unwrap());
    let (ok, out) = openssl(
        dir.path(),
        &[
            "x509",
            "-in",
            "issuer.pem",
            "-noout",
            "-ext",
            "crlDistributionPoints",
        ],
    );
    assert!(
        ok && out.contains(&format!("URI:{}", app.url(&crl_path))),
        "{out}"
    );
    let fetch_crl = || async {
        let r = app.get(&crl_path).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/pkix-crl");
        std::fs::write(dir.path().join("crl.der"), r.bytes().await.unwrap()).unwrap();
        openssl(
            dir.path(),
            &["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text"],
        )
    };
    let (ok, out) = fetch_crl().await;
    assert!(ok && out.contains("No Revoked Certificates"), "{out}");
    expect_problem(
        app.get(&format!("/api/v1/crl/{}", uuid::Uuid::now_v7()))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let pdf_of = |id: String| {
        let app = &app;
        let clerk = clerk.clone();
        async move {
            app.get_as(&format!("/api/v1/licenses/{id}/pdf"), &clerk)
                .await
                .bytes()
                .await
                .unwrap()
                .to_vec()
        }
    };
    let check_pdf = |pdf: Vec<u8>| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/verify/document"))
                .header("content-type", "application/pdf")
                .body(pdf)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let old_pdf = pdf_of(id(&first)).await;
    assert_eq!(
        check_pdf(old_pdf.clone()).await["verdict"],
        "genuine_current"
    );

    // Revoked from between the two issuances (a compromise found late).
    let payload =
        |d: &Value| -> Value { serde_json::from_str(d["payload"].as_str().unwrap()).unwrap() };
    let t1: jiff::Timestamp = payload(&d1)["issued_at"].as_str().unwrap().parse().unwrap();
    let key_id = app
        .library
        .store
        .signing_keys(Some(&OrgCode::parse("150102").unwrap()))
        .await
        .unwrap()[0]
        .id;
    let at = t1 + jiff::SignedDuration::from_micros(1);
    app.library
        .revoke_key(
            &zhengzhao_core::Actor::cli(),
            key_id,
            "key_compromise",
            Some(at),
        )
        .await
        .unwrap();
    let (ok, out) = fetch_crl().await;
    assert!(ok && out.contains("Key Compromise"), "{out}");
    let (_, serial) = openssl(
        dir.path(),
        &["x509", "-in", "issuer.pem", "-noout", "-serial"],
    );
    let serial = serial.trim().trim_start_matches("serial=");
    assert!(
        out.contains(&format!("Serial Number: {serial}")),
        "{serial}\n{out}"
    );
    // OpenSSL checks the CRL's SM2 signature (with the standard
    // distinguishing id, which `openssl crl`/`verify -crl_check` cannot be
    // given) over its TBS part, by the root's key: the README's recipe.
    let (_, parsed) = openssl(
        dir.path(),
        &["asn1parse", "-inform", "DER", "-in", "crl.der"],
    );
    let offset = |line: &str| line.split(':').next().unwrap().trim().to_owned();
    let tbs_at = offset(parsed.lines().nth(1).unwrap());
    let sig_at = offset(
        parsed
            .lines()
            .rev()
            .find(|l| l.contains("BIT STRING"))
            .unwrap(),
    );
    for (at, file) in [(&tbs_at, "crl-tbs.der"), (&sig_at, "crl-sig.der")] {
        let (ok, out) = openssl(
            dir.path(),
            &[
                "asn1parse",
                "-inform",
                "DER",
                "-in",
                "crl.der",
                "-strparse",
                at,
                "-out",
                file,
                "-noout",
            ],
        );
        assert!(ok, "{out}");
    }
    let (ok, out) = openssl(
        dir.path(),
        &[
            "x509", "-in", "root.pem", "-pubkey", "-noout", "-out", "ROOT.pem",
        ],
    );
    assert!(ok, "{out}");
    let verify_crl = || {
        openssl(
            dir.path(),
            &[
                "pkeyutl",
                "-verify",
                "-rawin",
                "-digest",
                "sm3",
                "-pkeyopt",
                distid,
                "-pubin",
                "-inkey",
                "ROOT.pem",
                "-in",
                "crl-tbs.der",
                "-sigfile",
                "crl-sig.der",
            ],
        )
    };
    let (ok, out) = verify_crl();
    assert!(
        ok && out.contains("Signature Verified Successfully"),
        "{out}"
    );
    let mut tbs = std::fs::read(dir.path().join("crl-tbs.der")).unwrap();
    let last = tbs.len() - 1;
    tbs[last] ^= 1;
    std::fs::write(dir.path().join("crl-tbs.der"), tbs).unwrap();
    assert!(!verify_crl().0, "a changed CRL must not verify");

    // Signed before the revocation time: genuine. After: not.
    let check = |d: Value| {
        let app = &app;
        async move {
            app.send_json(Method::POST, "/api/v1/verify/document", None, &d)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let c = check(d1.clone()).await;
    assert_eq!(c["verdict"], "genuine_current", "{c}");
    let c = check(d2.clone()).await;
    assert_eq!(
        (
            c["verdict"].clone(),
            c["signature_valid"].clone(),
            c["library_record"].clone()
        ),
        (
            json!("not_issued_here"),
            json!(false),
            json!("not_compared")
        ),
        "{c}"
    );
    let public = |id: String| {
        let app = &app;
        async move {
            app.get(&format!("/api/v1/verify/{id}"))
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(public(id(&first)).await["signature_valid"], true);
    assert_eq!(public(id(&second)).await["signature_valid"], false);
    // A PDF file signed by the revoked key counts at no time (its signing
    // time is the signer's word); downloaded again, it is signed afresh.
    let c = check_pdf(old_pdf).await;
    assert_eq!(
        (c["verdict"].clone(), c["pdf_signature_valid"].clone()),
        (json!("altered"), json!(false)),
        "{c}"
    );
    let c = check_pdf(pdf_of(id(&first)).await).await;
    assert_eq!(c["verdict"], "genuine_current", "{c}");
    // The org signs on with a new key; twice revoking is a conflict.
    let third = app.issue(&clerk, &license_request("CRL-3")).await;
    let d3 = doc(id(&third)).await;
    assert_ne!(d3["certificate"], d1["certificate"]);
    assert_eq!(check(d3).await["verdict"], "genuine_current");
    let again = app
        .library
        .revoke_key(
            &zhengzhao_core::Actor::cli(),
            key_id,
            "key_compromise",
            None,
        )
        .await;
    assert!(again.is_err());
}
both_backends!(crl, chain_and_crl);

/// Licenses issued in parallel over HTTP get distinct status entries: the
/// in-process block of reserved indexes hands each out once, and the
/// block reservations in the store never overlap.
async fn parallel_issues_get_distinct_status_entries(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let requests: Vec<Value> = (0..24)
        .map(|i| license_request(&format!("PAR-{i}")))
        .collect();
    let issued =
        futures_util::future::join_all(requests.iter().map(|r| app.issue(&clerk, r))).await;
    let mut indexes = Vec::new();
    for l in &issued {
        let d: Value = app
            .get_as(
                &format!(
                    "/api/v1/licenses/{}/document",
                    l["license_id"].as_str().unwrap()
                ),
                &clerk,
            )
            .await
            .json()
            .await
            .unwrap();
        indexes.push(d["status_list_index"].as_i64().unwrap());
    }
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 24, "{indexes:?}");
}
both_backends!(parallel_status, parallel_issues_get_distinct_status_entries);

/// `/verify` finds a business license by unified social credit code and
/// name, as the enterprise credit publicity system does; a name that does
/// not belong to the code finds nothing, and a malformed code is 422.
async fn verify_by_credit_code_and_name(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("cc-1")).await;
    let code = holder_code_for("cc-1");
    let page =
        |name: &str, code: &str| format!("/verify?credit_code={code}&name={}", urlencode(name));
    let r = app.get(&page("呼和浩特市青城科技有限公司", &code)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(issued["license_id"].as_str().unwrap()) && html.contains("有效"),
        "{html}"
    );
    let r = app.get(&page("别的公司", &code)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        !r.text()
            .await
            .unwrap()
            .contains(issued["license_id"].as_str().unwrap())
    );
    let r = app
        .get(&page("呼和浩特市青城科技有限公司", "91150102MA0N4JXK2Z"))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

both_backends!(verify_by_credit_code, verify_by_credit_code_and_name);

/// The certificates page names each issuer by its org, links the root's
/// revocation list and the three status lists, and every link it offers
/// answers.
async fn certificates_page_links_what_it_names(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    app.issue(&clerk, &license_request("certs-1")).await;
    let r = app.get("/certificates").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("新城区市场监督管理局（150102）"), "{html}");
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|l| l.starts_with("/api/v1/crl/") || l.starts_with("/api/v1/status-lists/"))
        .collect();
    assert_eq!(links.len(), 4, "{links:?}");
    for link in links {
        assert_eq!(app.get(link).await.status(), StatusCode::OK, "{link}");
    }
}
both_backends!(certificates_page, certificates_page_links_what_it_names);
