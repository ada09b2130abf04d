//! Holders signing in themselves through the region's identity provider
//! (issue 13): OpenID Connect, authorization code with PKCE, against
//! `oidc_provider.py`, a provider written from the specs in Python that
//! checks the client id, redirect URI, PKCE S256 and client secret itself.
//! The test is the browser: it follows each redirect and keeps the cookies.

use crate::common::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use std::io::BufRead;
use zhengzhao_domain::role::Role;
use zhengzhao_http::config::HolderOidc;

const CLIENT_ID: &str = "zhengzhao-test";
const CLIENT_SECRET: &str = "s3cret+with/odd=chars";

/// The provider, stopped when dropped.
struct Idp {
    base: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("oidc_provider.py");
        std::fs::write(&script, include_str!("oidc_provider.py")).unwrap();
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .args([CLIENT_ID, CLIENT_SECRET])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the test identity provider");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("PORT ").expect("PORT <n>");
        Self {
            base: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        }
    }

    async fn control(&self, body: Value) {
        let r = Client::new()
            .post(format!("{}/control", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    /// Who signs in next: an organisation holder named by credit code.
    async fn next_login(&self, sub: &str, id_type: &str, id: &str) {
        self.control(json!({"login": {"sub": sub, "claims": {"holder_id": id, "holder_id_type": id_type}}, "misbehave": null}))
            .await;
    }

    async fn token_log(&self) -> Vec<Value> {
        Client::new()
            .get(format!("{}/control/log", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

async fn spawn(backend: Backend) -> Option<(TestApp, Idp)> {
    let idp = Idp::start();
    let issuer = idp.base.clone();
    let app = TestApp::spawn_with(backend, move |c| {
        c.holder_oidc = Some(HolderOidc {
            issuer,
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            id_claim: HolderOidc::DEFAULT_ID_CLAIM.into(),
            id_type_claim: HolderOidc::DEFAULT_ID_TYPE_CLAIM.into(),
        });
    })
    .await?;
    Some((app, idp))
}

macro_rules! with_provider {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let (app, idp) = super::spawn($crate::common::Backend::Sqlite).await.unwrap();
                super::$body(app, idp).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some((app, idp)) = super::spawn($crate::common::Backend::Postgres).await else {
                    eprintln!("skipped: the PostgreSQL half is skipped on purpose");
                    return;
                };
                super::$body(app, idp).await;
            }
        }
    };
}

/// A browser that does not follow redirects (the test follows them).
fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &Response) -> String {
    r.headers()
        .get(LOCATION)
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value a response sets for cookie `name` (`""` when it clears it).
fn set_cookie(r: &Response, name: &str) -> Option<String> {
    r.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().unwrap();
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = pair.split_once('=')?;
        (k == name).then(|| val.to_owned())
    })
}

/// Begin at the library and go to the provider: the provider's redirect
/// back (the callback URL) and the sign-in cookie's value.
async fn to_provider(app: &TestApp, return_to: Option<&str>) -> (String, String) {
    let b = browser();
    let mut begin = app.url("/api/v1/holder/sign-in");
    if let Some(p) = return_to {
        begin = format!("{begin}?return_to={}", urlencode(p));
    }
    let r = b.get(begin).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let state_cookie = set_cookie(&r, "zz_holder_sign_in").unwrap();
    let authorize = location(&r);
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let r = b.get(&authorize).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text().await.unwrap());
    (location(&r), state_cookie)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn callback(callback_url: &str, state_cookie: Option<&str>) -> Response {
    let mut req = browser().get(callback_url);
    if let Some(c) = state_cookie {
        req = req.header(COOKIE, format!("zz_holder_sign_in={c}"));
    }
    req.send().await.unwrap()
}

/// Sign in fully: the session cookie and where the browser was sent.
async fn sign_in(app: &TestApp, return_to: Option<&str>) -> (String, String) {
    let (back, state) = to_provider(app, return_to).await;
    let r = callback(&back, Some(&state)).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(set_cookie(&r, "zz_holder_sign_in").as_deref(), Some(""));
    (set_cookie(&r, "zz_holder").unwrap(), location(&r))
}

async fn as_holder(
    app: &TestApp,
    session: &str,
    method: Method,
    path: &str,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header(COOKIE, format!("zz_holder={session}"));
    if let Some(t) = csrf {
        req = req.header("x-csrf-token", t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

/// The whole path: a bank's counter asks for consent, the holder scans the
/// code, signs in at the region's identity provider, comes back to the
/// request, approves it with its session, and the bank reads once; the
/// holder sees the read in its usage view, its licenses only, and signs out.
async fn holder_signs_in_and_answers_a_counter(app: TestApp, idp: Idp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let mine = app.issue(&clerk, &license_request("si1")).await;
    let theirs = app.issue(&clerk, &license_request("si2")).await;
    let holder = holder_code_for("si1");
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name", "credit_code"]}]);
    let (scenario, bank) = app.scenario_credential("social", grants, 1000).await;
    let r = app
        .send_json(
            Method::POST,
            "/api/v1/shared/consent-requests",
            Some(&bank),
            &json!({"type_codes": [BUSINESS_LICENSE], "fields": ["name"], "use_cause": "柜面开立对公账户"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let request_page = format!("/api/v1/consent-requests/{token}");

    idp.next_login("person-1", "uscc", &holder.to_lowercase())
        .await;
    let (session, went_to) = sign_in(&app, Some(&request_page)).await;
    assert_eq!(went_to, request_page);
    // The provider was asked with PKCE and redeemed the code with its
    // verifier (it refuses a wrong one) and the client's secret.
    let log = idp.token_log().await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["has_verifier"], true);
    assert_eq!(log[0]["status"], 200);

    let r = as_holder(
        &app,
        &session,
        Method::GET,
        "/api/v1/holder/session",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["id_type"], "uscc");
    assert_eq!(me["holder"], holder.as_str());
    assert_eq!(me["issuer"], idp.base.as_str());
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();

    // Its own licenses only.
    let r = as_holder(
        &app,
        &session,
        Method::GET,
        "/api/v1/holder/licenses",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let licenses: Value = r.json().await.unwrap();
    let ids: Vec<&str> = licenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["license_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine["license_id"].as_str().unwrap()]);
    assert_ne!(ids[0], theirs["license_id"].as_str().unwrap());

    // Approving needs the session's CSRF token; then the bank reads once.
    let approve = format!("{request_page}/approve");
    let p = expect_problem(
        as_holder(&app, &session, Method::POST, &approve, None, None).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(p["type"], "/problems/csrf");
    let r = as_holder(&app, &session, Method::POST, &approve, Some(&csrf), None).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let read = json!({"holder_id": holder, "type_code": BUSINESS_LICENSE, "use_cause": "柜面开立对公账户", "fields": ["name"]});
    let r = app
        .send_json(Method::POST, "/api/v1/shared/queries", Some(&bank), &read)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    expect_problem(
        app.send_json(Method::POST, "/api/v1/shared/queries", Some(&bank), &read)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let r = as_holder(
        &app,
        &session,
        Method::GET,
        "/api/v1/holder/usage",
        None,
        None,
    )
    .await;
    let usage: Vec<Value> = r.json().await.unwrap();
    let results: Vec<&str> = usage
        .iter()
        .map(|u| u["result"].as_str().unwrap())
        .collect();
    assert!(
        results.contains(&"success") && results.contains(&"refused"),
        "{usage:?}"
    );

    // The holder grants a consent of its own (its session, not a channel's
    // token), and withdraws it.
    let consent = json!({"scenario_id": scenario, "type_codes": [BUSINESS_LICENSE], "fields": ["name"],
                         "purpose": "开立对公账户", "single_use": true});
    let r = as_holder(
        &app,
        &session,
        Method::POST,
        "/api/v1/consents",
        Some(&csrf),
        Some(&consent),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let id = r.json::<Value>().await.unwrap()["consent_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = as_holder(
        &app,
        &session,
        Method::POST,
        &format!("/api/v1/consents/{id}/withdraw"),
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    // The sign-in is on the record under the holder, by the provider's subject's hash only.
    let r = app
        .get_as(
            "/api/v1/audit/events?action=holder.signed_in",
            &app.admin_token,
        )
        .await;
    let events: Value = r.json().await.unwrap();
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    let text = events.to_string();
    assert!(
        text.contains(&format!("holder:{holder}@session:")),
        "{text}"
    );
    assert!(!text.contains("person-1"), "the subject is kept as a hash");

    // The holder's cookie opens nothing but the holder's own endpoints.
    let license = format!("/api/v1/licenses/{}", mine["license_id"].as_str().unwrap());
    for path in [license.as_str(), "/api/v1/scenarios", "/api/v1/session"] {
        let r = as_holder(&app, &session, Method::GET, path, None, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    // Signing out needs the CSRF token and ends the session at once.
    let r = as_holder(
        &app,
        &session,
        Method::POST,
        "/api/v1/holder/sign-out",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = as_holder(
        &app,
        &session,
        Method::POST,
        "/api/v1/holder/sign-out",
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for path in ["/api/v1/holder/licenses", "/api/v1/holder/session"] {
        let r = as_holder(&app, &session, Method::GET, path, None, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
}
with_provider!(sign_in_end_to_end, holder_signs_in_and_answers_a_counter);

/// Refused with no session, for the reason `why` names.
async fn refused(r: Response, why: &str) {
    assert!(
        set_cookie(&r, "zz_holder").is_none(),
        "no session on a refusal"
    );
    let p = expect_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(p["type"], "/problems/sign-in-failed");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains(why), "{why}: {detail}");
}

/// Every way a sign-in can go wrong is refused with no session: a callback
/// from another browser, a replayed or raced callback, the provider's
/// refusal, an ID token that is expired, for another client, of another
/// issuer, with another nonce or signed by an unknown key, a holder id that
/// is not one, and a sign-in left too long. Rotated provider keys are fetched.
async fn sign_in_refusals(app: TestApp, idp: Idp) {
    let holder = holder_code_for("sr1");
    let audit_before = app.audit_count().await;

    // The callback must come back to the browser that began.
    idp.next_login("p", "uscc", &holder).await;
    let (back, state) = to_provider(&app, None).await;
    refused(callback(&back, None).await, "did not begin").await;
    refused(callback(&back, Some("0000")).await, "did not begin").await;
    // The browser that began still can (another's try spends nothing).
    let r = callback(&back, Some(&state)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Two callbacks racing with one state: exactly one session.
    let (back, state) = to_provider(&app, None).await;
    let (a, b) = tokio::join!(callback(&back, Some(&state)), callback(&back, Some(&state)));
    let statuses = [a.status(), b.status()];
    assert!(
        statuses.contains(&StatusCode::SEE_OTHER) && statuses.contains(&StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    // A finished sign-in is not finished again.
    refused(callback(&back, Some(&state)).await, "used").await;

    // The provider refuses (nobody signed in there).
    idp.control(json!({"login": null})).await;
    let (back, state) = to_provider(&app, None).await;
    assert!(back.contains("error=access_denied"), "{back}");
    refused(callback(&back, Some(&state)).await, "access_denied").await;

    // ID tokens that must not be believed.
    idp.next_login("p", "uscc", &holder).await;
    for (bad, why) in [
        ("expired", "Expired"),
        ("wrong_audience", "Invalid audiences"),
        ("wrong_issuer", "Invalid issuer"),
        ("wrong_nonce", "Invalid nonce"),
        ("foreign_key", "Signature verification failed"),
    ] {
        idp.control(json!({"misbehave": bad})).await;
        let (back, state) = to_provider(&app, None).await;
        refused(callback(&back, Some(&state)).await, why).await;
    }
    idp.control(json!({"misbehave": null})).await;

    // Claims that name no holder.
    for (id_type, id) in [
        ("uscc", "91150102MA0N4JXK2D"),
        ("passport", holder.as_str()),
    ] {
        idp.next_login("p", id_type, id).await;
        let (back, state) = to_provider(&app, None).await;
        refused(
            callback(&back, Some(&state)).await,
            "does not name a holder",
        )
        .await;
    }

    // Two sign-ins went through: the first browser's and the race's winner.
    let signed_in = app
        .get_as(
            "/api/v1/audit/events?action=holder.signed_in",
            &app.admin_token,
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        signed_in["items"].as_array().unwrap().len(),
        2,
        "{signed_in}"
    );
    assert_eq!(app.audit_count().await, audit_before + 2);

    // The provider rotates its key: the library fetches the new one.
    idp.next_login("p", "uscc", &holder).await;
    idp.control(json!({"rotate_key": true})).await;
    let (session, _) = sign_in(&app, None).await;
    let r = as_holder(
        &app,
        &session,
        Method::GET,
        "/api/v1/holder/session",
        None,
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // Left at the provider for more than ten minutes (last: the provider's
    // tokens follow the real clock, the library's is moved on).
    let (back, state) = to_provider(&app, None).await;
    app.clock.advance(std::time::Duration::from_secs(601));
    refused(callback(&back, Some(&state)).await, "expired sign-in").await;

    // Only local pages are returned to.
    for evil in ["https://evil.example/", "//evil.example/x"] {
        let r = browser()
            .get(app.url(&format!(
                "/api/v1/holder/sign-in?return_to={}",
                urlencode(evil)
            )))
            .send()
            .await
            .unwrap();
        expect_problem(r, StatusCode::BAD_REQUEST).await;
    }
}
with_provider!(sign_in_refused, sign_in_refusals);

/// Without `--holder-oidc-issuer` there is no sign-in, and it says so.
async fn sign_in_not_configured(app: TestApp) {
    let r = browser()
        .get(app.url("/api/v1/holder/sign-in"))
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, StatusCode::NOT_FOUND).await;
    assert!(
        p["detail"].as_str().unwrap().contains("holder-oidc-issuer"),
        "{p}"
    );
}
both_backends!(sign_in_unconfigured, sign_in_not_configured);

/// A holder page's form: the session cookie, and the CSRF field when given.
async fn holder_form(
    app: &TestApp,
    session: &str,
    path: &str,
    csrf: Option<&str>,
    fields: &[(&str, &str)],
) -> Response {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    if let Some(t) = csrf {
        form.push(("csrf_token", t));
    }
    browser()
        .post(app.url(path))
        .header(COOKIE, format!("zz_holder={session}"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The holder's pages act for the signed-in holder only: a presentation
/// code of its own license (not another's), a consent, an answer to a
/// counter's request, each refused without the session's CSRF field and
/// changing nothing then; without a session the pages send to sign-in and
/// come back.
async fn holder_pages_act_for_their_holder(app: TestApp, idp: Idp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let mine = app.issue(&clerk, &license_request("hp1")).await;
    let theirs = app.issue(&clerk, &license_request("hp2")).await;
    let (mine, theirs) = (
        mine["license_id"].as_str().unwrap().to_owned(),
        theirs["license_id"].as_str().unwrap().to_owned(),
    );
    let present = format!("/holder/licenses/{mine}/present");

    // Not signed in: to the holder page, which signs in and comes back.
    let r = browser().get(app.url(&present)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(
        to.starts_with("/holder?return_to=%2Fholder%2Flicenses%2F"),
        "{to}"
    );
    let page = browser().get(app.url(&to)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/api/v1/holder/sign-in?return_to=%2Fholder%2Flicenses%2F"),
        "the sign-in link keeps where to come back"
    );

    idp.next_login("person-2", "uscc", &holder_code_for("hp1"))
        .await;
    let (session, _) = sign_in(&app, Some(&present)).await;
    let me: Value = as_holder(
        &app,
        &session,
        Method::GET,
        "/api/v1/holder/session",
        None,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let made = "SELECT count(*) FROM audit_events WHERE action = 'presentation.create'";

    let fields = [
        ("fields", "name"),
        ("ttl_secs", "300"),
        ("single_use", "true"),
    ];
    let r = holder_form(&app, &session, &present, None, &fields).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = holder_form(&app, &session, &present, Some("forged"), &fields).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let other = format!("/holder/licenses/{theirs}/present");
    let r = holder_form(&app, &session, &other, Some(&csrf), &fields).await;
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "another holder's license is unknown"
    );
    assert_eq!(app.raw_count(made).await, 0);
    let r = holder_form(
        &app,
        &session,
        &present,
        Some(&csrf),
        &[("fields", "no_such_field"), ("ttl_secs", "300")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text().await.unwrap().contains("出现问题"),
        "the error summary"
    );
    let r = holder_form(&app, &session, &present, Some(&csrf), &fields).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("data:image/png;base64,"),
        "the QR code is on the page"
    );
    let url = html
        .split("id=\"presentation-url\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(url.contains("/verify/p/"), "{url}");
    assert_eq!(app.raw_count(made).await, 1);

    // A consent through the page: refused without the token.
    let grants = json!([{"type_code": BUSINESS_LICENSE, "fields": ["name", "credit_code"]}]);
    let (scenario, bank) = app.scenario_credential("social", grants, 1000).await;
    let scenario = scenario.to_string();
    let consent = [
        ("scenario_id", scenario.as_str()),
        ("fields", "name"),
        ("purpose", "开立对公账户"),
        ("duration", "once"),
    ];
    let r = holder_form(&app, &session, "/holder/consents", None, &consent).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.raw_count("SELECT count(*) FROM consents").await, 0);
    let r = holder_form(&app, &session, "/holder/consents", Some(&csrf), &consent).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.raw_count("SELECT count(*) FROM consents").await, 1);

    // Withdrawing it on the page: refused without the token, then done.
    let mine: Value = as_holder(&app, &session, Method::GET, "/api/v1/consents", None, None)
        .await
        .json()
        .await
        .unwrap();
    let withdraw = format!(
        "/holder/consents/{}/withdraw",
        mine[0]["consent_id"].as_str().unwrap()
    );
    let withdrawn = "SELECT count(*) FROM consents WHERE state = 'withdrawn'";
    let r = holder_form(&app, &session, &withdraw, None, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.raw_count(withdrawn).await, 0);
    let r = holder_form(&app, &session, &withdraw, Some(&csrf), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.raw_count(withdrawn).await, 1);

    // A counter's request: its page_url is the holder page; answering
    // needs the token; answered once.
    let asked: Value = app
        .send_json(
            Method::POST,
            "/api/v1/shared/consent-requests",
            Some(&bank),
            &json!({"type_codes": [BUSINESS_LICENSE], "fields": ["name"], "use_cause": "柜面开立对公账户"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let page_url = asked["page_url"].as_str().unwrap();
    let path = &page_url[page_url.find("/holder/requests/").unwrap()..];
    let r = browser()
        .get(app.url(path))
        .header(COOKIE, format!("zz_holder={session}"))
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("柜面开立对公账户") && html.contains("/approve"),
        "{html}"
    );
    let approve = format!("{path}/approve");
    let r = holder_form(&app, &session, &approve, None, &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.raw_count("SELECT count(*) FROM consents").await, 1);
    let r = holder_form(&app, &session, &approve, Some(&csrf), &[]).await;
    assert!(r.text().await.unwrap().contains("id=\"answered\""));
    assert_eq!(app.raw_count("SELECT count(*) FROM consents").await, 2);
    let r = holder_form(&app, &session, &approve, Some(&csrf), &[]).await;
    assert!(r.text().await.unwrap().contains("已答复过"));
    assert_eq!(app.raw_count("SELECT count(*) FROM consents").await, 2);
}
with_provider!(holder_page_actions, holder_pages_act_for_their_holder);
