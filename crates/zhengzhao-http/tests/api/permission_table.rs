//! The relying-party permission table (issue 13): for every relying-party
//! kind, scenario kind, scenario state and consent state, what `POST /api/v1/shared/queries`
//! answers, asserted field by field — exactly the asked granted fields when
//! allowed, a problem and no data otherwise, and never another holder's
//! license through a consent that is not theirs.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_core::Actor;
use zhengzhao_core::signed_request::{body_sm3_hex, sign, string_to_sign_for};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

const GRANTED: [&str; 2] = ["name", "credit_code"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Consent {
    /// No consent at all.
    None,
    /// A live consent covering both granted fields.
    Live,
    /// A live consent covering `name` only.
    NameOnly,
    Withdrawn,
    /// A one-use consent already spent.
    Spent,
    /// A consent whose last day has passed.
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Approved,
    Suspended,
    Revoked,
}

/// A signed channel request for `holder`.
async fn as_holder(
    app: &TestApp,
    channel: &(String, String),
    holder: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Value {
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let ts = jiff::Timestamp::now().as_second().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let on_behalf = format!("uscc:{holder}");
    let text = string_to_sign_for(
        method.as_str(),
        path,
        &ts,
        &nonce,
        &body_sm3_hex(&bytes),
        Some(&on_behalf),
    );
    let r = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&channel.0)
        .header("x-zz-timestamp", &ts)
        .header("x-zz-nonce", &nonce)
        .header("x-zz-signature", sign(&channel.1, &text).unwrap())
        .header("x-zz-on-behalf-of", &on_behalf)
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

async fn read(app: &TestApp, credential: &str, holder: &str, fields: &[&str]) -> reqwest::Response {
    app.send_json(
        Method::POST,
        "/api/v1/shared/queries",
        Some(credential),
        &json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "核验", "fields": fields}),
    )
    .await
}

async fn table(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    app.issue(&clerk, &license_request("pt-a")).await;
    app.issue(&clerk, &license_request("pt-b")).await;
    let (a, b) = (holder_code_for("pt-a"), holder_code_for("pt-b"));
    let approver = app.token("150000", Role::ScenarioApprover).await;
    let region = OrgCode::parse("150000").unwrap();
    let (_, token, key) = app
        .library
        .create_token_with(&Actor::cli(), &region, Role::Channel, "蒙速办", true)
        .await
        .unwrap();
    let channel = (token, key.unwrap());
    let tomorrow = app.library.today().tomorrow().unwrap().to_string();
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": GRANTED}]);

    // Every combination gets its own scenario, set up first; then the clock
    // moves two days (expiring the consents that end tomorrow); then each is read.
    // A bank or a platform never reads by legal duty: it cannot even apply to.
    for party in ["social", "platform"] {
        for kind in ["usage_list", "government_other"] {
            let r = app
                .send_json(
                    Method::POST,
                    "/api/v1/scenarios",
                    None,
                    &app.scenario_application_by(party, kind, grants.clone(), 1000),
                )
                .await;
            let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert!(
                p.to_string().contains("kind_mismatch"),
                "{party} {kind}: {p}"
            );
        }
    }

    let mut cases = Vec::new();
    // Every relying-party kind with the scenario kinds it may apply for:
    // only a government reads by legal duty; banks and platforms by consent.
    for (party, kind) in [
        ("government", "usage_list"),
        ("government", "government_other"),
        ("social", "social"),
        ("platform", "social"),
    ] {
        let consents: &[Consent] = if kind == "social" {
            &[
                Consent::None,
                Consent::Live,
                Consent::NameOnly,
                Consent::Withdrawn,
                Consent::Spent,
                Consent::Expired,
            ]
        } else {
            &[Consent::None]
        };
        for &consent in consents {
            for state in [State::Approved, State::Suspended, State::Revoked] {
                let application = app.scenario_application_by(party, kind, grants.clone(), 1000);
                let (id, credential) = app.approved_credential(&application).await;
                let give = |fields: &[&str], extra: Value| {
                    let mut body = json!({"scenario_id": id, "type_codes": [BUSINESS_LICENSE], "fields": fields, "purpose": "开户核验"});
                    body.as_object_mut()
                        .unwrap()
                        .extend(extra.as_object().unwrap().clone());
                    body
                };
                let far = json!({"valid_until": app.library.today().checked_add(jiff::Span::new().days(30)).unwrap().to_string()});
                match consent {
                    Consent::None => {}
                    Consent::Live => {
                        as_holder(
                            &app,
                            &channel,
                            &a,
                            Method::POST,
                            "/api/v1/consents",
                            Some(&give(&GRANTED, far.clone())),
                        )
                        .await;
                    }
                    Consent::NameOnly => {
                        as_holder(
                            &app,
                            &channel,
                            &a,
                            Method::POST,
                            "/api/v1/consents",
                            Some(&give(&["name"], far.clone())),
                        )
                        .await;
                    }
                    Consent::Withdrawn => {
                        let k = as_holder(
                            &app,
                            &channel,
                            &a,
                            Method::POST,
                            "/api/v1/consents",
                            Some(&give(&GRANTED, far.clone())),
                        )
                        .await;
                        let path = format!(
                            "/api/v1/consents/{}/withdraw",
                            k["consent_id"].as_str().unwrap()
                        );
                        as_holder(&app, &channel, &a, Method::POST, &path, None).await;
                    }
                    Consent::Spent => {
                        as_holder(
                            &app,
                            &channel,
                            &a,
                            Method::POST,
                            "/api/v1/consents",
                            Some(&give(&GRANTED, json!({"single_use": true}))),
                        )
                        .await;
                        assert_eq!(
                            read(&app, &credential, &a, &GRANTED).await.status(),
                            StatusCode::OK
                        );
                    }
                    Consent::Expired => {
                        as_holder(
                            &app,
                            &channel,
                            &a,
                            Method::POST,
                            "/api/v1/consents",
                            Some(&give(&GRANTED, json!({"valid_until": tomorrow}))),
                        )
                        .await;
                    }
                }
                let decision = match state {
                    State::Approved => None,
                    State::Suspended => Some("suspend"),
                    State::Revoked => Some("revoke"),
                };
                if let Some(d) = decision {
                    let r = app
                        .send_json(
                            Method::POST,
                            &format!("/api/v1/scenarios/{id}/decision"),
                            Some(&approver),
                            &json!({"decision": d, "reason": "表格测试"}),
                        )
                        .await;
                    assert_eq!(r.status(), StatusCode::OK);
                }
                cases.push((party, kind, consent, state, credential));
            }
        }
    }
    app.clock
        .advance(std::time::Duration::from_secs(2 * 86_400));

    for (party, kind, consent, state, credential) in &cases {
        let case = format!("{party} {kind} / consent {consent:?} / scenario {state:?}");
        let in_force = *state == State::Approved;
        let by_duty = *kind != "social";
        for asked in [&GRANTED[..], &["name"][..], &["credit_code"][..]] {
            let covered = match consent {
                Consent::Live => true,
                Consent::NameOnly => asked == ["name"],
                _ => false,
            };
            let r = read(&app, credential, &a, asked).await;
            if in_force && (by_duty || covered) {
                assert_eq!(r.status(), StatusCode::OK, "{case} {asked:?}");
                let answer: Value = r.json().await.unwrap();
                let licenses = answer["licenses"].as_array().unwrap();
                assert_eq!(licenses.len(), 1, "{case}");
                let mut shown: Vec<&str> = licenses[0]["fields"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                shown.sort_unstable();
                let mut want = asked.to_vec();
                want.sort_unstable();
                assert_eq!(shown, want, "{case}: exactly the fields asked");
                assert_eq!(
                    licenses[0]["fields"]["credit_code"].as_str().is_some(),
                    asked.contains(&"credit_code")
                );
                assert_eq!(
                    answer["legal_basis"],
                    if by_duty { "statutory_duty" } else { "consent" },
                    "{case}"
                );
            } else {
                let want = if !in_force {
                    "/problems/scenario-inactive"
                } else {
                    "/problems/consent-required"
                };
                let p = expect_problem(r, StatusCode::FORBIDDEN).await;
                assert_eq!(p["type"], want, "{case} {asked:?}");
                assert!(p.get("licenses").is_none());
            }
        }
        // A field outside the grant: refused whole, whatever else holds.
        let r = read(&app, credential, &a, &["name", "domicile"]).await;
        let p = expect_problem(r, StatusCode::FORBIDDEN).await;
        let want = if in_force {
            "/problems/not-granted"
        } else {
            "/problems/scenario-inactive"
        };
        assert_eq!(p["type"], want, "{case}");
        // Holder A's consent is not holder B's.
        let r = read(&app, credential, &b, &GRANTED).await;
        if in_force && by_duty {
            let answer: Value = r.json().await.unwrap();
            assert_eq!(
                answer["licenses"][0]["fields"]["credit_code"],
                b.as_str(),
                "{case}"
            );
        } else {
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{case}: B through A's consent"
            );
        }
    }
    // And past its last day, every scenario is expired.
    app.clock
        .advance(std::time::Duration::from_secs(300 * 86_400));
    for (_, kind, _, _, credential) in cases.iter().take(3) {
        let p = expect_problem(
            read(&app, credential, &a, &GRANTED).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(
            p["type"], "/problems/scenario-inactive",
            "{kind} past valid_until"
        );
    }
}
both_backends!(relying_party_permission_table, table);
