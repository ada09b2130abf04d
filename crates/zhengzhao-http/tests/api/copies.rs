//! Annotated copies (加注件, issue 13): the only file a relying party
//! receives. pdftotext reads the three annotation lines and only the
//! granted fields; the link works once; the document check says it is a
//! copy, for whom, for what and until when, and that it expired.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::Command;
use zhengzhao_domain::role::Role;

/// The PDF's text, without white space (runs may be split).
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed (./scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect()
}

async fn check(app: &TestApp, pdf: Vec<u8>) -> Value {
    let r = app
        .client
        .post(app.url("/api/v1/verify/document"))
        .header("content-type", "application/pdf")
        .body(pdf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn annotated_copies(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let license = app.issue(&clerk, &license_request("cp1")).await;
    let id = license["license_id"].as_str().unwrap();
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name", "credit_code"]}]);
    let (scenario, bank) = app
        .scenario_credential("government_other", grants.clone(), 1000)
        .await;
    let until = app
        .library
        .today()
        .checked_add(jiff::Span::new().days(30))
        .unwrap();
    let ask = json!({"use_cause": "办理开户核验", "valid_until": until.to_string()});
    let path = format!("/api/v1/shared/licenses/{id}/copies");
    let r = app.send_json(Method::POST, &path, Some(&bank), &ask).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let link: Value = r.json().await.unwrap();
    let url = link["url"].as_str().unwrap();
    let download = url
        .split_once("/api/")
        .map(|(_, p)| format!("/api/{p}"))
        .unwrap();

    // The copy: the annotation, and only the granted fields.
    let r = app.get(&download).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap().to_vec();
    let text = pdf_text(&pdf);
    let date = format!(
        "{}年{:02}月{:02}日",
        until.year(),
        until.month(),
        until.day()
    );
    for line in [
        "此件由某银行股份有限公司呼和浩特分行申请".to_owned(),
        "仅供办理开户核验使用".to_owned(),
        format!("有效期至{date}"),
        "呼和浩特市青城科技有限公司".to_owned(),
        holder_code_for("cp1"),
    ] {
        assert!(text.contains(&line), "{line} not in {text}");
    }
    for not_granted in ["张三", "软件开发", "1000000"] {
        assert!(!text.contains(not_granted), "{not_granted} leaked: {text}");
    }
    // Once only.
    expect_problem(app.get(&download).await, StatusCode::GONE).await;

    // The document check: a genuine copy, for whom, for what, until when.
    let c = check(&app, pdf.clone()).await;
    assert_eq!(c["kind"], "copy", "{c}");
    assert_eq!(c["verdict"], "genuine_copy");
    assert_eq!(c["valid"], true);
    assert_eq!(
        c["copy"]["relying_party"]["name"],
        "某银行股份有限公司呼和浩特分行"
    );
    assert_eq!(c["copy"]["scenario_id"], scenario.as_str());
    assert_eq!(c["copy"]["use_cause"], "办理开户核验");
    assert_eq!(c["copy"]["valid_until"], until.to_string());
    assert_eq!(c["copy"]["expired"], false);
    assert_eq!(c["license_id"], id);
    // Altered: a changed purpose no longer verifies.
    let text_at = pdf.windows(6).position(|w| w == "办理".as_bytes()).unwrap();
    let mut altered = pdf.clone();
    altered[text_at..text_at + 6].copy_from_slice("查询".as_bytes());
    let c = check(&app, altered).await;
    assert_eq!(c["verdict"], "altered", "{c}");
    assert_eq!(c["valid"], false);
    // Past its last day it is expired.
    app.clock
        .advance(std::time::Duration::from_secs(31 * 86_400));
    let c = check(&app, pdf).await;
    assert_eq!(c["verdict"], "genuine_copy_expired");
    assert_eq!(c["copy"]["expired"], true);
    assert_eq!(c["valid"], false);
}
both_backends!(annotated_copy, annotated_copies);

/// A copy is asked like a read: a purpose, at most 90 days, and for a
/// social scenario the holder's consent.
async fn copies_are_refused_like_reads(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let license = app.issue(&clerk, &license_request("cp2")).await;
    let path = format!(
        "/api/v1/shared/licenses/{}/copies",
        license["license_id"].as_str().unwrap()
    );
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name"]}]);
    let (_, social) = app
        .scenario_credential("social", grants.clone(), 1000)
        .await;
    let today = app.library.today();
    let soon = today.tomorrow().unwrap().to_string();
    let p = expect_problem(
        app.send_json(
            Method::POST,
            &path,
            Some(&social),
            &json!({"use_cause": "开户", "valid_until": soon}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/consent-required");
    let (_, government) = app.scenario_credential("usage_list", grants, 1000).await;
    let far = today
        .checked_add(jiff::Span::new().days(91))
        .unwrap()
        .to_string();
    let r = app
        .send_json(
            Method::POST,
            &path,
            Some(&government),
            &json!({"use_cause": "开户", "valid_until": far}),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app
        .send_json(
            Method::POST,
            &path,
            Some(&government),
            &json!({"use_cause": "", "valid_until": soon}),
        )
        .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    // The copy is made at download: a scenario suspended after the link was
    // given stops the link.
    let approver = app.token("150000", Role::ScenarioApprover).await;
    let (id, reader) = app
        .scenario_credential(
            "government_other",
            json!([{"type_code": BUSINESS_LICENSE, "fields": ["name"]}]),
            1000,
        )
        .await;
    let link: Value = app
        .send_json(
            Method::POST,
            &path,
            Some(&reader),
            &json!({"use_cause": "开户", "valid_until": soon}),
        )
        .await
        .json()
        .await
        .unwrap();
    let download = link["url"]
        .as_str()
        .unwrap()
        .split_once("/api/")
        .map(|(_, p)| format!("/api/{p}"))
        .unwrap();
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/scenarios/{id}/decision"),
            Some(&approver),
            &json!({"decision": "suspend", "reason": "核查"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p = expect_problem(app.get(&download).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p["type"], "/problems/scenario-inactive");

    // Staff ask nothing here; a forged link is gone.
    let r = app
        .send_json(
            Method::POST,
            &path,
            Some(&clerk),
            &json!({"use_cause": "开户", "valid_until": soon}),
        )
        .await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    expect_problem(
        app.get("/api/v1/shared/copies/abc.def").await,
        StatusCode::GONE,
    )
    .await;
}
both_backends!(copy_refusals, copies_are_refused_like_reads);
