//! Holders through a channel (issue 13): a `channel` token signs every
//! request and names the holder in `X-ZZ-On-Behalf-Of` under the signature;
//! the holder sees its own licenses, grants and withdraws consents (with a
//! receipt signed by the region, checked with OpenSSL), and sees who used
//! its licenses. A social scenario reads only within a live consent.

use crate::common::*;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use zhengzhao_core::Actor;
use zhengzhao_core::signed_request::{body_sm3_hex, sign, string_to_sign_for};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

/// A channel platform's client, acting for `holder` (`uscc:…`).
struct Channel<'a> {
    app: &'a TestApp,
    token: String,
    key: String,
}

impl Channel<'_> {
    async fn send_as(
        &self,
        holder: Option<&str>,
        signed_for: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let ts = jiff::Timestamp::now().as_second().to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let text = string_to_sign_for(
            method.as_str(),
            path,
            &ts,
            &nonce,
            &body_sm3_hex(&bytes),
            signed_for,
        );
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token)
            .header("x-zz-timestamp", &ts)
            .header("x-zz-nonce", &nonce)
            .header("x-zz-signature", sign(&self.key, &text).unwrap());
        if let Some(h) = holder {
            req = req.header("x-zz-on-behalf-of", h);
        }
        if body.is_some() {
            req = req.header("content-type", "application/json").body(bytes);
        }
        req.send().await.unwrap()
    }

    async fn send(
        &self,
        holder: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        self.send_as(Some(holder), Some(holder), method, path, body)
            .await
    }
}

async fn shared(app: &TestApp, credential: &str, holder: &str, fields: &[&str]) -> Response {
    app.send_json(
        Method::POST,
        "/api/v1/shared/queries",
        Some(credential),
        &json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "开立对公账户", "fields": fields}),
    )
    .await
}

async fn holders_and_consents(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let mine = app.issue(&clerk, &license_request("h1")).await;
    app.issue(&clerk, &license_request("h2")).await;
    let (h1, h2) = (holder_code_for("h1"), holder_code_for("h2"));
    let (me, other) = (format!("uscc:{h1}"), format!("uscc:{h2}"));
    let region = OrgCode::parse("150000").unwrap();

    // A channel token is made signed, or not at all.
    assert!(
        app.library
            .create_token_with(&Actor::cli(), &region, Role::Channel, "蒙速办", false)
            .await
            .is_err()
    );
    let (_, token, key) = app
        .library
        .create_token_with(&Actor::cli(), &region, Role::Channel, "蒙速办", true)
        .await
        .unwrap();
    let channel = Channel {
        app: &app,
        token,
        key: key.unwrap(),
    };

    // The holder's own licenses, in full; not another holder's.
    let r = channel
        .send(&me, Method::GET, "/api/v1/holder/licenses", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let own: Vec<Value> = r.json().await.unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["license_id"], mine["license_id"]);
    assert_eq!(own[0]["face"]["legal_representative"], "张三");
    // The holder named is covered by the signature: signed for one holder,
    // sent for another, it is refused.
    let r = channel
        .send_as(
            Some(&other),
            Some(&me),
            Method::GET,
            "/api/v1/holder/licenses",
            None,
        )
        .await;
    expect_problem(r, StatusCode::UNAUTHORIZED).await;
    // No holder named: nothing to act for.
    let r = channel
        .send_as(None, None, Method::GET, "/api/v1/holder/licenses", None)
        .await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    // A bad holder id.
    let r = channel
        .send("uscc:123", Method::GET, "/api/v1/holder/licenses", None)
        .await;
    expect_problem(r, StatusCode::BAD_REQUEST).await;
    // Only a channel names a holder.
    let r = app
        .client
        .get(app.url("/api/v1/holder/licenses"))
        .bearer_auth(&clerk)
        .header("x-zz-on-behalf-of", &me)
        .send()
        .await
        .unwrap();
    expect_problem(r, StatusCode::FORBIDDEN).await;
    // A channel reads nothing of the staff API.
    let r = channel
        .send(&me, Method::GET, "/api/v1/licenses", None)
        .await;
    expect_problem(r, StatusCode::FORBIDDEN).await;

    // A social scenario without consent reads nothing.
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name", "credit_code"]}]);
    let (scenario, bank) = app
        .scenario_credential("social", grants.clone(), 1000)
        .await;
    let p = expect_problem(
        shared(&app, &bank, &h1, &["name"]).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/consent-required");

    // The holder consents, for its name only, for 30 days: a receipt signed
    // by the region that OpenSSL verifies.
    let until = app
        .library
        .today()
        .checked_add(jiff::Span::new().days(30))
        .unwrap()
        .to_string();
    let consent = json!({"scenario_id": scenario, "type_codes": [BUSINESS_LICENSE], "fields": ["name"],
                         "purpose": "开立对公账户", "valid_until": until});
    let r = channel
        .send(&me, Method::POST, "/api/v1/consents", Some(&consent))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let granted: Value = r.json().await.unwrap();
    let consent_id = granted["consent_id"].as_str().unwrap().to_owned();
    assert_eq!(granted["state"], "granted");
    let receipt = &granted["receipt"];
    let out = openssl_verify(
        receipt["payload"].as_str().unwrap(),
        receipt["signature"].as_str().unwrap(),
        receipt["certificate"].as_str().unwrap(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let statement: Value = serde_json::from_str(receipt["payload"].as_str().unwrap()).unwrap();
    assert_eq!(statement["consent_id"], consent_id.as_str());
    assert_eq!(statement["holder"]["id"], h1.as_str());
    // Beyond the scenario's grant, or to a scenario that needs none: refused.
    let mut wide = consent.clone();
    wide["fields"] = json!(["name", "legal_representative"]);
    let p = expect_problem(
        channel
            .send(&me, Method::POST, "/api/v1/consents", Some(&wide))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/not-granted");
    let (government, _) = app
        .scenario_credential("government_other", grants.clone(), 1000)
        .await;
    let mut needless = consent.clone();
    needless["scenario_id"] = json!(government);
    expect_problem(
        channel
            .send(&me, Method::POST, "/api/v1/consents", Some(&needless))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // Within the consent: the name only; beyond it (another field, another
    // holder): refused.
    let r = shared(&app, &bank, &h1, &["name"]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["legal_basis"], "consent");
    assert_eq!(
        answer["licenses"][0]["fields"],
        json!({"name": "呼和浩特市青城科技有限公司"})
    );
    for (holder, fields) in [(&h1, &["name", "credit_code"][..]), (&h2, &["name"][..])] {
        let p = expect_problem(
            shared(&app, &bank, holder, fields).await,
            StatusCode::FORBIDDEN,
        )
        .await;
        assert_eq!(p["type"], "/problems/consent-required");
    }

    // A single-use consent to another scenario: one read, then none.
    let (once_scenario, once_bank) = app
        .scenario_credential("social", grants.clone(), 1000)
        .await;
    let once = json!({"scenario_id": once_scenario, "type_codes": [BUSINESS_LICENSE], "fields": ["name"],
                      "purpose": "一次性核验", "single_use": true});
    let r = channel
        .send(&me, Method::POST, "/api/v1/consents", Some(&once))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(
        shared(&app, &once_bank, &h1, &["name"]).await.status(),
        StatusCode::OK
    );
    expect_problem(
        shared(&app, &once_bank, &h1, &["name"]).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Withdrawn: at once. Not twice; not by another holder.
    let withdraw = format!("/api/v1/consents/{consent_id}/withdraw");
    expect_problem(
        channel.send(&other, Method::POST, &withdraw, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = channel.send(&me, Method::POST, &withdraw, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "withdrawn");
    expect_problem(
        channel.send(&me, Method::POST, &withdraw, None).await,
        StatusCode::CONFLICT,
    )
    .await;
    expect_problem(
        shared(&app, &bank, &h1, &["name"]).await,
        StatusCode::FORBIDDEN,
    )
    .await;

    // The holder's consents and their states.
    let list: Vec<Value> = channel
        .send(&me, Method::GET, "/api/v1/consents", None)
        .await
        .json()
        .await
        .unwrap();
    let mut states: Vec<&str> = list.iter().map(|c| c["state"].as_str().unwrap()).collect();
    states.sort_unstable();
    assert_eq!(states, ["used", "withdrawn"]);

    // Who used my license: every read, refused ones too, with scenario,
    // relying party, legal basis, purpose and fields; none of another's.
    let usage: Vec<Value> = channel
        .send(&me, Method::GET, "/api/v1/holder/usage", None)
        .await
        .json()
        .await
        .unwrap();
    let answered: Vec<&Value> = usage.iter().filter(|u| u["result"] == "success").collect();
    assert_eq!(answered.len(), 2, "{usage:?}");
    assert_eq!(answered[0]["scenario_id"], scenario.as_str());
    assert_eq!(
        answered[0]["relying_party"],
        "某银行股份有限公司呼和浩特分行"
    );
    assert_eq!(answered[0]["legal_basis"], "consent");
    assert_eq!(answered[0]["use_cause"], "开立对公账户");
    assert_eq!(answered[0]["fields"], json!(["name"]));
    assert_eq!(answered[0]["consent_id"], consent_id.as_str());
    let refused = usage.iter().filter(|u| u["result"] == "refused").count();
    assert_eq!(refused, 4, "{usage:?}");
    assert!(
        usage
            .iter()
            .all(|u| u["reason"].is_null() || u["reason"] == "consent-required")
    );
    let theirs: Vec<Value> = channel
        .send(&other, Method::GET, "/api/v1/holder/usage", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1, "h2's one refused read only: {theirs:?}");
}
both_backends!(holder_consents, holders_and_consents);

/// The reverse scan: a bank shows a QR code asking for consent; the holder's
/// app reads it, the holder approves (a one-use consent) or declines.
async fn reverse_scan(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    app.issue(&clerk, &license_request("rs1")).await;
    app.issue(&clerk, &license_request("rs2")).await;
    let (h1, h2) = (holder_code_for("rs1"), holder_code_for("rs2"));
    let region = OrgCode::parse("150000").unwrap();
    let (_, token, key) = app
        .library
        .create_token_with(&Actor::cli(), &region, Role::Channel, "蒙速办", true)
        .await
        .unwrap();
    let channel = Channel {
        app: &app,
        token,
        key: key.unwrap(),
    };
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name", "credit_code"]}]);
    let (scenario, bank) = app
        .scenario_credential("social", grants.clone(), 1000)
        .await;
    let ask = json!({"type_codes": [BUSINESS_LICENSE], "fields": ["name"], "use_cause": "柜面开立对公账户"});
    let request = |credential: String, body: Value| {
        let app = &app;
        async move {
            app.send_json(
                Method::POST,
                "/api/v1/shared/consent-requests",
                Some(&credential),
                &body,
            )
            .await
        }
    };

    let r = request(bank.clone(), ask.clone()).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(made["url"].as_str().unwrap().ends_with(&token));
    // Only within the grant; only a social scenario asks.
    let mut wide = ask.clone();
    wide["fields"] = json!(["name", "domicile"]);
    let p = expect_problem(request(bank.clone(), wide).await, StatusCode::FORBIDDEN).await;
    assert_eq!(p["type"], "/problems/not-granted");
    let (_, government) = app.scenario_credential("usage_list", grants, 1000).await;
    expect_problem(
        request(government, ask.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // The holder's app reads what is asked, by whom and why (no credential).
    let r = app.get(&format!("/api/v1/consent-requests/{token}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let view: Value = r.json().await.unwrap();
    assert_eq!(view["scenario_id"], scenario.as_str());
    assert_eq!(view["relying_party"], "某银行股份有限公司呼和浩特分行");
    assert_eq!(view["use_cause"], "柜面开立对公账户");
    assert_eq!(view["fields"], json!(["name"]));
    let forged = format!("{}x", &token[..token.len() - 1]);
    expect_problem(
        app.get(&format!("/api/v1/consent-requests/{forged}")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // The holder approves: a one-use consent; the request is answered once.
    let approve = format!("/api/v1/consent-requests/{token}/approve");
    let r = channel
        .send(&format!("uscc:{h1}"), Method::POST, &approve, None)
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let granted: Value = r.json().await.unwrap();
    assert_eq!(granted["single_use"], true);
    assert_eq!(granted["scope"]["request"], made["request_id"]);
    expect_problem(
        channel
            .send(&format!("uscc:{h1}"), Method::POST, &approve, None)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    let read = |holder: String| {
        let (app, bank) = (&app, bank.clone());
        async move {
            app.send_json(
                Method::POST,
                "/api/v1/shared/queries",
                Some(&bank),
                &json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "柜面开立对公账户", "fields": ["name"]}),
            )
            .await
        }
    };
    let r = read(h1.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["legal_basis"], "consent");
    expect_problem(read(h1.clone()).await, StatusCode::FORBIDDEN).await;

    // Another holder declines another request: nothing to read.
    let second: Value = request(bank.clone(), ask).await.json().await.unwrap();
    let decline = format!(
        "/api/v1/consent-requests/{}/decline",
        second["token"].as_str().unwrap()
    );
    let r = channel
        .send(&format!("uscc:{h2}"), Method::POST, &decline, None)
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    expect_problem(read(h2).await, StatusCode::FORBIDDEN).await;

    // Ten minutes later the code is gone.
    app.clock.advance(std::time::Duration::from_secs(601));
    expect_problem(
        app.get(&format!("/api/v1/consent-requests/{token}")).await,
        StatusCode::GONE,
    )
    .await;
}
both_backends!(consent_reverse_scan, reverse_scan);

/// Requests that overlap: two approvals of one counter request at once
/// make one consent; many reads at once within one single-use consent read
/// once; twenty reads at once against a daily quota of five answer five.
async fn overlapping_requests(app: TestApp) {
    use futures_util::future::join_all;
    let clerk = app.token("150102", Role::IssuerClerk).await;
    app.issue(&clerk, &license_request("ov1")).await;
    let h1 = holder_code_for("ov1");
    let me = format!("uscc:{h1}");
    let region = OrgCode::parse("150000").unwrap();
    let (_, token, key) = app
        .library
        .create_token_with(&Actor::cli(), &region, Role::Channel, "蒙速办", true)
        .await
        .unwrap();
    let channel = Channel {
        app: &app,
        token,
        key: key.unwrap(),
    };
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name"]}]);
    let (_, bank) = app
        .scenario_credential("social", grants.clone(), 1000)
        .await;

    // Two approvals of one request, at once: one consent.
    let made: Value = app
        .send_json(
            Method::POST,
            "/api/v1/shared/consent-requests",
            Some(&bank),
            &json!({"type_codes": [BUSINESS_LICENSE], "fields": ["name"], "use_cause": "柜面开户"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let approve = format!(
        "/api/v1/consent-requests/{}/approve",
        made["token"].as_str().unwrap()
    );
    let answers = join_all((0..2).map(|_| channel.send(&me, Method::POST, &approve, None))).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409]);
    let consents: Vec<Value> = channel
        .send(&me, Method::GET, "/api/v1/consents", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consents.len(), 1);

    // That one-use consent, read by eight at once: read once.
    let reads = join_all((0..8).map(|_| shared(&app, &bank, &h1, &["name"]))).await;
    let ok = reads
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        reads.iter().map(|r| r.status()).collect::<Vec<_>>()
    );

    // A daily quota of five, twenty reads at once: five answered.
    let (_, small) = app.scenario_credential("government_other", grants, 5).await;
    let reads = join_all((0..20).map(|_| shared(&app, &small, &h1, &["name"]))).await;
    let ok = reads
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let over = reads
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, over), (5, 15));
    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    let answered = events
        .iter()
        .filter(|e| e.event.action == "license.shared_read" && e.event.outcome == "success")
        .count();
    assert_eq!(answered, 1 + 5, "one audit event per answered read");
}
both_backends!(overlapping_consents_and_quota, overlapping_requests);

/// Holder ids travel only in bodies: a relying party's request with a
/// query string is refused whole on every shared endpoint (422
/// `/problems/identifier-in-url`), and the holder it names sees the
/// refused attempt in its usage view.
async fn holder_ids_never_in_urls(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let license = app.issue(&clerk, &license_request("url1")).await;
    let holder = holder_code_for("url1");
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name", "credit_code"]}]);
    let (_, government) = app.scenario_credential("usage_list", grants, 1000).await;
    let body = json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "核验"});
    let copies = format!(
        "/api/v1/shared/licenses/{}/copies",
        license["license_id"].as_str().unwrap()
    );
    for path in [
        format!("/api/v1/shared/queries?holder_id={holder}"),
        format!("/api/v1/shared/queries?q={}", holder.to_lowercase()),
        format!("/api/v1/shared/consent-requests?holder={holder}"),
        format!("{copies}?holder_id={holder}"),
        format!("/api/v1/usage/check?holder_id={holder}"),
    ] {
        let r = app
            .send_json(Method::POST, &path, Some(&government), &body)
            .await;
        let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["type"], "/problems/identifier-in-url", "{path}");
        assert!(p.get("licenses").is_none());
    }
    // Without the query the same read is answered.
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/shared/queries",
            Some(&government),
            &body,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // The holder sees the attempts that named it, refused, and the read.
    let region = OrgCode::parse("150000").unwrap();
    let (_, token, key) = app
        .library
        .create_token_with(&Actor::cli(), &region, Role::Channel, "蒙速办", true)
        .await
        .unwrap();
    let channel = Channel {
        app: &app,
        token,
        key: key.unwrap(),
    };
    let usage: Vec<Value> = channel
        .send(
            &format!("uscc:{holder}"),
            Method::GET,
            "/api/v1/holder/usage",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let refused: Vec<&Value> = usage
        .iter()
        .filter(|u| u["reason"] == "identifier-in-url")
        .collect();
    assert_eq!(refused.len(), 5, "{usage:?}");
    assert!(refused.iter().all(|u| u["result"] == "refused"));
    assert_eq!(usage.iter().filter(|u| u["result"] == "success").count(), 1);
}
both_backends!(no_holder_ids_in_urls, holder_ids_never_in_urls);
