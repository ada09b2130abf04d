//! Relying parties (issue 13): applying for a scenario, the region's
//! decisions, credentials bound to one scenario, and what a credential may
//! read through `/api/v1/shared/queries` — field by field.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

const SHARED: &str = "/api/v1/shared/queries";

fn grant(fields: &[&str]) -> Value {
    json!([{"type_code": BUSINESS_LICENSE, "fields": fields}])
}

async fn decide(app: &TestApp, token: &str, id: &str, decision: &str) -> reqwest::Response {
    app.send_json(
        Method::POST,
        &format!("/api/v1/scenarios/{id}/decision"),
        Some(token),
        &json!({"decision": decision, "reason": "依规定处理"}),
    )
    .await
}

async fn query(app: &TestApp, credential: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, SHARED, Some(credential), body)
        .await
}

/// Applications: the portal's answer, every broken rule named, grants
/// checked against the catalog; who sees and who decides.
async fn applications_and_decisions(app: TestApp) {
    let approver = app.token("150000", Role::ScenarioApprover).await;
    let application = app.scenario_application("usage_list", grant(&["name", "credit_code"]), 100);

    // The portal: no credential; a private tracking code, never cached.
    let r = app
        .send_json(Method::POST, "/api/v1/scenarios", None, &application)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let submitted: Value = r.json().await.unwrap();
    let id = submitted["scenario_id"].as_str().unwrap().to_owned();
    assert!(
        submitted["tracking_code"]
            .as_str()
            .unwrap()
            .starts_with("zzr_")
    );
    assert_eq!(submitted["state"], "submitted");

    // Broken rules, each named; a field the type does not have.
    let mut bad = application.clone();
    bad["relying_party"]["credit_code"] = json!("91150102MA0N4JXK2D");
    bad["legal_basis"] = json!("");
    let p = expect_problem(
        app.send_json(Method::POST, "/api/v1/scenarios", None, &bad)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"relying_party/credit_code"), "{p}");
    assert!(fields.contains(&"legal_basis"), "{p}");
    let mut unknown = application.clone();
    unknown["grants"] = grant(&["name", "favourite_colour"]);
    let p = expect_problem(
        app.send_json(Method::POST, "/api/v1/scenarios", None, &unknown)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "grants/0/fields/1", "{p}");
    assert_eq!(p["errors"][0]["code"], "unknown_field");

    // Who sees it: the region's approvers, admins and auditors; nobody
    // without a credential; not an issuing clerk.
    let auditor = app.token("150000", Role::Auditor).await;
    for token in [&approver, &auditor] {
        let r = app.get_as(&format!("/api/v1/scenarios/{id}"), token).await;
        assert_eq!(r.status(), StatusCode::OK);
        let view: Value = r.json().await.unwrap();
        assert_eq!(view["state"], "submitted");
        assert_eq!(view["relying_party"]["credit_code"], "91150102MA0N4JXK2C");
        assert_eq!(view["grants"][0]["fields"], json!(["name", "credit_code"]));
    }
    let clerk = app.token("150102", Role::IssuerClerk).await;
    expect_problem(
        app.get_as(&format!("/api/v1/scenarios/{id}"), &clerk).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_problem(
        app.get(&format!("/api/v1/scenarios/{id}")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // A league's approver sees only what it filed: the portal's application
    // is as unknown to it as a scenario that does not exist.
    let league = app.token("150100", Role::ScenarioApprover).await;
    expect_problem(
        app.get_as(&format!("/api/v1/scenarios/{id}"), &league)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // Only the region's approver decides; a reason is required; a decision
    // that does not apply in the state is a conflict.
    expect_problem(
        decide(&app, &league, &id, "approve").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let no_reason = app
        .send_json(
            Method::POST,
            &format!("/api/v1/scenarios/{id}/decision"),
            Some(&approver),
            &json!({"decision": "approve", "reason": " "}),
        )
        .await;
    expect_problem(no_reason, StatusCode::UNPROCESSABLE_ENTITY).await;
    expect_problem(
        decide(&app, &approver, &id, "resume").await,
        StatusCode::CONFLICT,
    )
    .await;
    let r = decide(&app, &approver, &id, "approve").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "approved");

    // Filed by a league (报备): it sees its own filing, the region decides,
    // the league never does.
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/scenarios",
            Some(&league),
            &application,
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let filed: Value = r.json().await.unwrap();
    assert!(filed.get("tracking_code").is_none());
    let filed_id = filed["scenario_id"].as_str().unwrap();
    let seen: Vec<Value> = app
        .get_as("/api/v1/scenarios", &league)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], filed_id);
    assert_eq!(seen[0]["filed_by"], "150100");
    let all: Vec<Value> = app
        .get_as("/api/v1/scenarios", &approver)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    // The region's own filing is never decided by the region's approver.
    let own = app
        .send_json(
            Method::POST,
            "/api/v1/scenarios",
            Some(&approver),
            &application,
        )
        .await;
    let own_id = own.json::<Value>().await.unwrap()["scenario_id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_problem(
        decide(&app, &approver, &own_id, "approve").await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // A clerk files nothing.
    expect_problem(
        app.send_json(
            Method::POST,
            "/api/v1/scenarios",
            Some(&clerk),
            &application,
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Every submission and decision is on the audit log.
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e.event.action.as_str()).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "scenario.submit").count(),
        3
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "scenario.decide").count(),
        1
    );
}
both_backends!(scenario_applications, applications_and_decisions);

/// What a credential reads: exactly the granted fields, or the asked
/// subset; nothing outside the grant, nothing of another holder; a
/// purpose on every request; the scenario's state checked each time.
async fn shared_reads(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("sr1")).await;
    let license_id = issued["license_id"].as_str().unwrap().to_owned();
    app.issue(&clerk, &license_request("sr2")).await;
    let holder = holder_code_for("sr1");
    let (id, credential) = app
        .scenario_credential(
            "usage_list",
            grant(&["name", "credit_code", "domicile"]),
            1000,
        )
        .await;
    let ask = |fields: Option<&[&str]>| {
        let mut body = json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "办理对公开户"});
        if let Some(f) = fields {
            body["fields"] = json!(f);
        }
        body
    };

    // Every granted field, and nothing else.
    let r = query(&app, &credential, &ask(None)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["scenario_id"], id.as_str());
    assert_eq!(answer["legal_basis"], "statutory_duty");
    let licenses = answer["licenses"].as_array().unwrap();
    assert_eq!(licenses.len(), 1, "{answer}");
    let l = &licenses[0];
    assert_eq!(l["license_id"], license_id.as_str());
    assert_eq!(l["status"], "valid");
    let mut shown: Vec<&String> = l["fields"].as_object().unwrap().keys().collect();
    shown.sort();
    assert_eq!(shown, ["credit_code", "domicile", "name"]);
    assert_eq!(l["fields"]["credit_code"], holder.as_str());
    assert_eq!(l["fields"]["name"], "呼和浩特市青城科技有限公司");
    for leak in [
        "legal_representative",
        "business_scope",
        "registered_capital",
    ] {
        assert!(
            !answer.to_string().contains(leak),
            "{leak} leaked: {answer}"
        );
    }

    // A subset: only it.
    let subset: Value = query(&app, &credential, &ask(Some(&["name"])))
        .await
        .json()
        .await
        .unwrap();
    let shown: Vec<&String> = subset["licenses"][0]["fields"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(shown, ["name"]);

    // Outside the grant: refused whole, naming the field; no data.
    let p = expect_problem(
        query(
            &app,
            &credential,
            &ask(Some(&["name", "legal_representative"])),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/not-granted");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("legal_representative")
    );
    assert!(p.get("licenses").is_none());
    let mut other_type = ask(None);
    other_type["type_code"] = json!("11100000MB0143028R002");
    let p = expect_problem(
        query(&app, &credential, &other_type).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/not-granted");

    // Another holder's licenses are that holder's: asking for a holder
    // with none finds none.
    let mut stranger = ask(None);
    stranger["holder_id"] = json!(holder_code_for("nobody"));
    let none: Value = query(&app, &credential, &stranger)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["licenses"], json!([]));

    // A purpose on every request, at most 200 characters.
    for cause in [json!(""), json!("用".repeat(201))] {
        let mut body = ask(None);
        body["use_cause"] = cause;
        let p = expect_problem(
            query(&app, &credential, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "use_cause");
    }
    let mut missing = ask(None);
    missing.as_object_mut().unwrap().remove("use_cause");
    expect_problem(
        query(&app, &credential, &missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // A relying party's credential reads nothing of the staff API.
    for path in [
        "/api/v1/licenses".to_owned(),
        format!("/api/v1/licenses/{license_id}"),
        "/api/v1/scenarios".to_owned(),
        "/api/v1/users".to_owned(),
    ] {
        expect_problem(app.get_as(&path, &credential).await, StatusCode::FORBIDDEN).await;
    }
    // And staff do not read through the shared API.
    expect_problem(query(&app, &clerk, &ask(None)).await, StatusCode::FORBIDDEN).await;

    // Suspended: stops at once; resumed: reads again; revoked: for good.
    let approver = app.token("150000", Role::ScenarioApprover).await;
    assert_eq!(
        decide(&app, &approver, &id, "suspend").await.status(),
        StatusCode::OK
    );
    let p = expect_problem(
        query(&app, &credential, &ask(None)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/scenario-inactive");
    assert_eq!(
        decide(&app, &approver, &id, "resume").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        query(&app, &credential, &ask(None)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        decide(&app, &approver, &id, "revoke").await.status(),
        StatusCode::OK
    );
    let p = expect_problem(
        query(&app, &credential, &ask(None)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/scenario-inactive");

    // Every read is audited with the scenario, the legal basis, the purpose
    // and the fields disclosed; the refusals too, naming why.
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    let reads: Vec<&Value> = events
        .iter()
        .filter(|e| e.event.action == "license.shared_read")
        .map(|e| &e.event.detail)
        .collect();
    let first = reads[0];
    assert_eq!(first["scenario"], id.as_str());
    assert_eq!(first["legal_basis"], "statutory_duty");
    assert_eq!(first["use_cause"], "办理对公开户");
    assert_eq!(first["fields"], json!(["name", "credit_code", "domicile"]));
    assert_eq!(first["licenses"], json!([license_id]));
    assert!(
        !first.to_string().contains(&holder),
        "the holder id is masked"
    );
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.event.action == "license.shared_read" && e.event.outcome == "refused")
        .map(|e| e.event.reason.clone().unwrap_or_default())
        .collect();
    assert_eq!(refused, ["not-granted", "not-granted"]);
}
both_backends!(shared_queries, shared_reads);

/// A social scenario reads only with the holder's consent; a scenario's
/// reads stop at its daily quota with 429 and Retry-After.
async fn consent_and_quota(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    app.issue(&clerk, &license_request("cq1")).await;
    let holder = holder_code_for("cq1");
    let body = json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "开户核验"});
    let (_, social) = app
        .scenario_credential("social", grant(&["name"]), 1000)
        .await;
    let p = expect_problem(query(&app, &social, &body).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p["type"], "/problems/consent-required");
    assert_eq!(p["title_zh"], "需要持证主体授权");

    let (_, small) = app
        .scenario_credential("government_other", grant(&["name"]), 2)
        .await;
    for _ in 0..2 {
        assert_eq!(query(&app, &small, &body).await.status(), StatusCode::OK);
    }
    let r = query(&app, &small, &body).await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let p = expect_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(p["type"], "/problems/quota-exhausted");

    // The per-second rate: a burst of three seconds' worth (10 a second at
    // least), then 429 with Retry-After until it refills.
    let (_, busy) = app
        .scenario_credential("government_other", grant(&["name"]), 100_000)
        .await;
    let mut answered = 0;
    let refused = loop {
        let r = query(&app, &busy, &body).await;
        if r.status() != StatusCode::OK {
            break r;
        }
        answered += 1;
        assert!(answered < 1000, "the rate never applied");
    };
    assert!(answered >= 30, "{answered}");
    assert!(refused.headers().contains_key("retry-after"));
    let p = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(p["type"], "/problems/too-many-requests");
}
both_backends!(scenario_consent_and_quota, consent_and_quota);
