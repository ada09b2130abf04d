//! Issuing, updating and revoking licenses over HTTP, on both backends; the
//! signed document checked by OpenSSL alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{
    BUSINESS_LICENSE, TestApp, expect_problem, holder_code_for, license_request,
    license_request_held_by, openssl_verify,
};
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::Command;
use zhengzhao_domain::role::Role;

async fn clerk(app: &TestApp) -> String {
    app.token("150102", Role::IssuerClerk).await
}

async fn issue_update_revoke_end_to_end(app: TestApp) {
    let clerk = clerk(&app).await;
    let resp = app
        .send_json(
            Method::POST,
            "/api/v1/licenses",
            Some(&clerk),
            &license_request("R-1"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let issued: Value = resp.json().await.unwrap();
    let first_id = issued["license_id"].as_str().unwrap().to_owned();
    assert!(
        first_id.starts_with("1.2.156.3005.2.11100000MB0143028R001."),
        "{first_id}"
    );
    zhengzhao_domain::license_id::LicenseId::parse(&first_id).unwrap();
    assert_eq!(issued["version"], 1);
    assert_eq!(issued["status"], "valid");
    assert_eq!(issued["license_number"], holder_code_for("R-1"));
    assert_eq!(issued["face"]["registered_capital"], "1000000.00");
    assert_eq!(issued["issuer"]["code"], "150102");

    // The same request again: the same license, 200.
    let again = app
        .send_json(
            Method::POST,
            "/api/v1/licenses",
            Some(&clerk),
            &license_request("R-1"),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(
        again.json::<Value>().await.unwrap()["license_id"],
        first_id.as_str()
    );
    // A conflicting one: 409 naming what differs.
    let mut other = license_request("R-1");
    other["face"]["legal_representative"] = json!("李四");
    let p = expect_problem(
        app.send_json(Method::POST, "/api/v1/licenses", Some(&clerk), &other)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("face/legal_representative"),
        "{p}"
    );

    // Update twice, then address the license by its first identifier.
    let mut update = json!({"face": license_request("R-1")["face"].clone(), "valid_from": "2024-01-15", "valid_until": null});
    update["face"]["domicile"] = json!("内蒙古自治区呼和浩特市新城区新华大街1号");
    // An update must say why (变更 / 更正 / 补发): without a reason, with an
    // unknown kind or an empty text it is refused and writes nothing.
    let before = app.audit_count().await;
    for (reason, field) in [
        (None, "reason"),
        (Some(json!({"kind": "whim", "text": "x"})), "reason/kind"),
        (Some(json!({"kind": "change", "text": "  "})), "reason/text"),
    ] {
        let mut bad = update.clone();
        if let Some(r) = reason {
            bad["reason"] = r;
        }
        let p = expect_problem(
            app.send_json(
                Method::POST,
                &format!("/api/v1/licenses/{first_id}/versions"),
                Some(&clerk),
                &bad,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(p.to_string().contains(field), "{field}: {p}");
    }
    assert_eq!(app.audit_count().await, before);
    update["reason"] = json!({"kind": "change", "text": "住所变更登记"});
    let v2: Value = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{first_id}/versions"),
            Some(&clerk),
            &update,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v2["version"], 2, "{v2}");
    assert_eq!(v2["versions"][0].get("reason"), None, "{v2}");
    assert_eq!(v2["versions"][1]["reason"]["kind"], "change", "{v2}");
    assert_eq!(v2["versions"][1]["reason"]["text"], "住所变更登记", "{v2}");
    let events: Value = app
        .get_as(
            "/api/v1/audit/events?action=license.update",
            &app.admin_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        events["items"][0]["detail"]["reason"],
        json!({"kind": "change", "text": "住所变更登记"})
    );
    update["face"]["registered_capital"] = json!("2000000.5");
    update["reason"] = json!({"kind": "correction", "text": "更正注册资本录入错误"});
    let resp = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{first_id}/versions"),
            Some(&clerk),
            &update,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v3: Value = resp.json().await.unwrap();
    let third_id = v3["license_id"].as_str().unwrap().to_owned();
    assert!(third_id.contains(".003."), "{third_id}");
    assert_eq!(v3["versions"].as_array().unwrap().len(), 3);

    let old: Value = app
        .get_as(&format!("/api/v1/licenses/{first_id}"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old["status"], "superseded");
    assert_eq!(old["version"], 1);
    assert_eq!(old["current_license_id"], third_id.as_str());
    assert_eq!(old["current_version"], 3);

    // Revoke by the first identifier.
    let resp = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{first_id}/revoke"),
            Some(&clerk),
            &json!({"reason": "企业申请注销登记"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let revoked: Value = resp.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation"]["reason"], "企业申请注销登记");
    assert!(
        revoked["revocation"]["by"]
            .as_str()
            .unwrap()
            .starts_with("token:")
    );
    // A revoked license cannot be updated or revoked again.
    let before = app.audit_count().await;
    expect_problem(
        app.send_json(
            Method::POST,
            &format!("/api/v1/licenses/{third_id}/versions"),
            Some(&clerk),
            &update,
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    expect_problem(
        app.send_json(
            Method::POST,
            &format!("/api/v1/licenses/{third_id}/revoke"),
            Some(&clerk),
            &json!({"reason": "再次"}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(app.audit_count().await, before);

    let history: Value = app
        .get_as(&format!("/api/v1/licenses/{third_id}/history"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["revoked", "revoked", "revoked"]);

    // Issue, update and revoke each wrote one audit event in its
    // transaction; each read is on the record too, with who read it.
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e.event.action.as_str())
        .filter(|a| a.starts_with("license."))
        .collect();
    assert_eq!(
        actions,
        [
            "license.issue",
            "license.update",
            "license.update",
            "license.read",
            "license.revoke",
            "license.read_history"
        ]
    );
    let read = events
        .iter()
        .find(|e| e.event.action == "license.read")
        .unwrap();
    assert_eq!(read.event.target, format!("license:{first_id}"));
    assert!(read.event.actor.starts_with("token:"));
    assert_eq!(read.event.detail["personal_data"], "full");
    let pushed = app.library.store.pending_outbox(100).await.unwrap();
    let license_events: Vec<&str> = pushed
        .iter()
        .filter(|m| m.message.topic == "platform.license")
        .map(|m| m.message.payload["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        license_events,
        [
            "license.issued",
            "license.updated",
            "license.updated",
            "license.revoked"
        ]
    );

    // The list by holder, paged. R-1 is revoked, so its holder may be
    // issued another 营业执照.
    let holder = holder_code_for("R-1");
    let r2 = app
        .send_json(
            Method::POST,
            "/api/v1/licenses",
            Some(&clerk),
            &license_request_held_by("R-2", &holder),
        )
        .await;
    assert_eq!(r2.status(), StatusCode::CREATED);
    let page: Value = app
        .get_as(
            &format!(
                "/api/v1/licenses?holder={}&type={BUSINESS_LICENSE}&limit=1",
                holder
            ),
            &clerk,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get_as(
            &format!("/api/v1/licenses?holder={}&limit=1&cursor={cursor}", holder),
            &clerk,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["items"][0]["current_license_id"], third_id.as_str());
    let other_league = app.token("150700", Role::Auditor).await;
    let none: Value = app
        .get_as(
            &format!("/api/v1/licenses?holder={}", holder),
            &other_league,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());
    expect_problem(
        app.get_as(&format!("/api/v1/licenses/{third_id}"), &other_league)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let region_auditor = app.token("150000", Role::Auditor).await;
    assert_eq!(
        app.get_as(&format!("/api/v1/licenses/{third_id}"), &region_auditor)
            .await
            .status(),
        StatusCode::OK
    );
}
both_backends!(lifecycle, issue_update_revoke_end_to_end);

/// The document verifies with OpenSSL 3 and nothing else of ours.
async fn signed_document_verifies_with_openssl(app: TestApp) {
    let clerk = clerk(&app).await;
    let issued: Value = app.issue(&clerk, &license_request("R-SIG")).await;
    let id = issued["license_id"].as_str().unwrap();
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let (payload, signature, certificate) = (
        doc["payload"].as_str().unwrap(),
        doc["signature"].as_str().unwrap(),
        doc["certificate"].as_str().unwrap(),
    );
    let ok = openssl_verify(payload, signature, certificate);
    assert!(
        ok.status.success(),
        "{} {}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Signature Verified Successfully"));
    // One changed byte of the payload and OpenSSL refuses it.
    let tampered = payload.replace("张三", "李四");
    assert!(
        !openssl_verify(&tampered, signature, certificate)
            .status
            .success()
    );
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, certificate).unwrap();
    // The certificate names the issuer and is an SM2 certificate from the local test CA.
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-nameopt", "utf8", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("SM2-with-SM3"), "{text}");
    assert!(text.contains("新城区市场监督管理局"), "{text}");
    assert!(text.contains("TEST CA"), "{text}");
    // The payload is canonical JSON of what the license says.
    let p: Value = serde_json::from_str(doc["payload"].as_str().unwrap()).unwrap();
    assert_eq!(p["license_id"], id);
    assert_eq!(p["face"]["legal_representative"], "张三");
    assert_eq!(
        zhengzhao_crypto::canonical_json(&p).unwrap(),
        doc["payload"].as_str().unwrap()
    );
}
both_backends!(openssl, signed_document_verifies_with_openssl);

/// Each bad request: a clear 4xx problem, nothing written, nothing signed.
async fn bad_license_requests_change_nothing(app: TestApp) {
    let clerk = clerk(&app).await;
    let before_audit = app.audit_count().await;
    let post = |body: Value, token: String| {
        let req = app
            .client
            .post(app.url("/api/v1/licenses"))
            .bearer_auth(token)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    let mut missing = license_request("B-1");
    missing["face"]
        .as_object_mut()
        .unwrap()
        .remove("business_scope");
    let p = expect_problem(
        post(missing, clerk.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "face/business_scope");

    let mut unknown = license_request("B-2");
    unknown["face"]["favourite_colour"] = json!("red");
    let p = expect_problem(
        post(unknown, clerk.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "unknown_field");

    let mut date = license_request("B-3");
    date["face"]["established_date"] = json!("2024-02-30");
    let p = expect_problem(
        post(date, clerk.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "face/established_date");
    let mut range = license_request("B-4");
    range["valid_until"] = json!("2300-01-01");
    expect_problem(
        post(range, clerk.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let mut order = license_request("B-5");
    order["valid_until"] = json!("2020-01-01");
    expect_problem(
        post(order, clerk.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    let mut bad_holder = license_request("B-6");
    bad_holder["holder"]["id"] = json!("91150102MA0N4JXK2A");
    let p = expect_problem(
        post(bad_holder, clerk.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "holder/id");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("check character should be")
    );
    let mut person = license_request("B-7");
    person["holder"] =
        json!({"name": "张三", "id_type": "resident_id", "id": "11010519491231002X"});
    let p = expect_problem(
        post(person, clerk.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "holder/id_type");

    // Another org's clerk, a wrong role, no token.
    let other = app.token("150103", Role::IssuerClerk).await;
    expect_problem(
        post(license_request("B-8"), other).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let auditor = app.token("150102", Role::Auditor).await;
    expect_problem(
        post(license_request("B-9"), auditor).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_problem(
        app.send_json(
            Method::POST,
            "/api/v1/licenses",
            None,
            &license_request("B-10"),
        )
        .await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // Malformed identifiers in the URL.
    expect_problem(
        app.get_as("/api/v1/licenses/1.2.3", &clerk).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Only the two token creations were audited; no license and no key exist.
    assert_eq!(app.audit_count().await, before_audit + 2);
    let page: Value = app
        .get_as("/api/v1/licenses", &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());
    assert!(
        app.library
            .store
            .signing_keys(None)
            .await
            .unwrap()
            .is_empty(),
        "nothing was signed, so no CA key was made"
    );
}
both_backends!(bad_input, bad_license_requests_change_nothing);

/// The license file: an A4 PDF whose Chinese text pdftotext gets back.
async fn license_pdf_reads_back(app: TestApp) {
    let clerk = clerk(&app).await;
    let issued: Value = app.issue(&clerk, &license_request("R-PDF")).await;
    let id = issued["license_id"].as_str().unwrap();
    let resp = app
        .get_as(&format!("/api/v1/licenses/{id}/pdf"), &clerk)
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(
        bytes.len() < 120_000,
        "{} bytes: is the font subset?",
        bytes.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("license.pdf");
    std::fs::write(&file, &bytes).unwrap();
    // -raw: content-stream order, so the landscape page's two columns do not interleave.
    let out = Command::new("pdftotext")
        .arg("-raw")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed: ./scripts/test installs it");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for expected in [
        "营业执照",
        "统一社会信用代码",
        "呼和浩特市青城科技有限公司",
        "法定代表人",
        "张三",
        "2024年01月15日",
        "新城区市场监督管理局",
        "电子签名",
        "1000000.00元",
    ] {
        assert!(
            squeezed.contains(expected),
            "{expected} missing from:\n{text}"
        );
    }
    assert!(squeezed.contains(id), "identifier missing from:\n{text}");
    let other = app.token("150700", Role::IssuerClerk).await;
    expect_problem(
        app.get_as(&format!("/api/v1/licenses/{id}/pdf"), &other)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
}
both_backends!(pdf, license_pdf_reads_back);

/// Rotation and import (Art. 10): a new key signs from then on; licenses
/// signed by an old key still verify under its certificate.
async fn rotated_and_imported_keys_keep_old_documents_verifiable(app: TestApp) {
    use zhengzhao_crypto::{cert, sm2sig::KeyPair};
    let clerk = clerk(&app).await;
    let first: Value = app.issue(&clerk, &license_request("K-1")).await;
    let org = app
        .library
        .store
        .org(&zhengzhao_domain::org::OrgCode::parse("150102").unwrap())
        .await
        .unwrap()
        .unwrap();
    let actor = zhengzhao_core::Actor::cli();
    app.library.rotate_key(&actor, &org).await.unwrap();
    let second: Value = app.issue(&clerk, &license_request("K-2")).await;

    // A certificate from an outside CA, imported with its key.
    let now = std::time::SystemTime::now();
    let ca_key = KeyPair::generate().unwrap();
    let ca = cert::make_ca(&ca_key, "CN=某电子认证服务机构,O=CA,C=CN", now, 10).unwrap();
    let org_key = KeyPair::generate().unwrap();
    let subject = cert::subject_name(&org.name, &org.name, Some(org.credit_code.as_str()));
    let issued_cert = cert::issue(&ca_key, &ca, &subject, &org_key.public_key(), now, 3).unwrap();
    let cert_pem = cert::to_pem(&issued_cert).unwrap();
    let key_pem = {
        use zhengzhao_crypto::sm2sig::KeyPair as K;
        let der = org_key.to_pkcs8_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<String> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        K::from_pkcs8_pem(&pem).unwrap();
        pem
    };
    // A key that does not belong to the certificate is refused.
    let stranger = KeyPair::generate().unwrap().to_pkcs8_der().unwrap();
    let stranger_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(stranger)
    );
    assert!(
        app.library
            .import_key(&actor, &org, &cert_pem, &stranger_pem)
            .await
            .is_err()
    );
    app.library
        .import_key(&actor, &org, &cert_pem, &key_pem)
        .await
        .unwrap();
    let third: Value = app.issue(&clerk, &license_request("K-3")).await;

    let mut certs = Vec::new();
    for l in [&first, &second, &third] {
        let id = l["license_id"].as_str().unwrap();
        let doc: Value = app
            .get_as(&format!("/api/v1/licenses/{id}/document"), &clerk)
            .await
            .json()
            .await
            .unwrap();
        let c = cert::from_pem(doc["certificate"].as_str().unwrap()).unwrap();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(doc["signature"].as_str().unwrap())
            .unwrap();
        cert::public_key(&c)
            .unwrap()
            .verify(doc["payload"].as_str().unwrap().as_bytes(), &sig)
            .unwrap();
        certs.push(doc["certificate"].as_str().unwrap().to_owned());
    }
    assert_ne!(certs[0], certs[1], "rotation made a new certificate");
    assert_eq!(certs[2], cert_pem, "the imported certificate signs now");
    let keys = app
        .library
        .store
        .signing_keys(Some(&org.code))
        .await
        .unwrap();
    assert_eq!(keys.len(), 3);
    assert_eq!(keys.iter().filter(|k| k.retired_at.is_none()).count(), 1);
    let actions: Vec<String> = app
        .library
        .store
        .audit_events(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.action)
        .filter(|a| a.starts_with("key."))
        .collect();
    assert_eq!(
        actions,
        ["key.create", "key.create", "key.rotate", "key.import"]
    );
    // No API answer ever carries a private key.
    for k in &keys {
        assert!(!k.certificate_pem.contains("PRIVATE"));
    }
}
both_backends!(
    keys,
    rotated_and_imported_keys_keep_old_documents_verifiable
);

/// A source record already used by another org's license: 409, saying only
/// that the record id is taken, never that license, its org or what differs;
/// the caller's own org's record is described as before.
async fn conflict_with_another_orgs_source_record_says_nothing_of_it(app: TestApp) {
    let clerk = clerk(&app).await;
    let theirs = app.issue(&clerk, &license_request("SRC-1")).await;
    let their_id = theirs["license_id"].as_str().unwrap().to_owned();
    let other = app.token("150103", Role::IssuerClerk).await;
    // The other org has issued before (its signing key exists).
    let mut own = license_request("SRC-OWN");
    own["issuer"] = json!("150103");
    app.issue(&other, &own).await;
    let licenses = || app.raw_count("SELECT count(*) FROM licenses");
    let (before, audit) = (licenses().await, app.audit_count().await);
    let mut mine = license_request("SRC-1");
    mine["issuer"] = json!("150103");
    mine["face"]["legal_representative"] = json!("李四");
    let p = expect_problem(
        app.send_json(Method::POST, "/api/v1/licenses", Some(&other), &mine)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    let text = p.to_string();
    for secret in [
        their_id.as_str(),
        "150102",
        "face/",
        "holder",
        "legal_representative",
        "issuer,",
    ] {
        assert!(!text.contains(secret), "the 409 tells {secret}: {text}");
    }
    assert!(p["detail"].as_str().unwrap().contains("SRC-1"), "{p}");
    assert_eq!((licenses().await, app.audit_count().await), (before, audit));
    // The same request as theirs, from the other org: the same answer.
    let mut same = license_request("SRC-1");
    same["issuer"] = json!("150103");
    let q = expect_problem(
        app.send_json(Method::POST, "/api/v1/licenses", Some(&other), &same)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(q["detail"], p["detail"]);
    // Its own org's record: described.
    let mut changed = license_request("SRC-1");
    changed["face"]["legal_representative"] = json!("李四");
    let p = expect_problem(
        app.send_json(Method::POST, "/api/v1/licenses", Some(&clerk), &changed)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains(&their_id) && detail.contains("face/legal_representative"));
}
both_backends!(
    foreign_conflict,
    conflict_with_another_orgs_source_record_says_nothing_of_it
);
