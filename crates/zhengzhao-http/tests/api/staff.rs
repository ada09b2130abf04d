//! Staff accounts over HTTP: creation by a security admin, login with
//! password and TOTP, the forced password change, CSRF, lockout, idle and
//! absolute session timeouts, separation of duties, and the login pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use zhengzhao_core::clock::{AdjustableClock, Clock};
use zhengzhao_core::credentials::{totp_code, totp_step, verify_password};
use zhengzhao_core::login_limits::LoginRate;
use zhengzhao_domain::role::Role;

/// A created account's credentials.
struct Account {
    id: String,
    username: String,
    password: String,
    totp: Vec<u8>,
    /// The server's clock, which the codes follow.
    clock: Arc<AdjustableClock>,
}

/// A logged-in session: the cookie and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

/// If the current TOTP step is about to end, move the server's clock into
/// the next one, so a code made now is still inside the server's window
/// when it arrives.
fn fresh_step(app: &TestApp) {
    let into = app.clock.now().as_second().rem_euclid(30);
    if into >= 25 {
        app.clock
            .advance(Duration::from_secs(u64::try_from(31 - into).unwrap()));
    }
}

/// The code for the server's current step plus `offset` (the server takes
/// -1..=+1, each step once).
fn code(a: &Account, offset: i64) -> String {
    totp_code(&a.totp, totp_step(a.clock.now().as_second()) + offset).unwrap()
}

async fn create_user(
    app: &TestApp,
    admin: &str,
    username: &str,
    org: &str,
    roles: &[&str],
) -> Account {
    let resp = app
        .send_json(
            Method::POST,
            "/api/v1/users",
            Some(admin),
            &json!({"username": username, "display_name": "测试人员", "org": org, "roles": roles}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED, "creating {username}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert!(body["user"].get("password_hash").is_none());
    assert!(
        body["totp_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/zhengzhao:")
    );
    Account {
        id: body["user"]["id"].as_str().unwrap().to_owned(),
        username: username.to_owned(),
        password: body["initial_password"].as_str().unwrap().to_owned(),
        totp: data_encoding::BASE32_NOPAD
            .decode(body["totp_secret"].as_str().unwrap().as_bytes())
            .unwrap(),
        clock: app.clock.clone(),
    }
}

async fn login_raw(app: &TestApp, username: &str, password: &str, code: &str) -> Response {
    app.send_json(
        Method::POST,
        "/api/v1/session",
        None,
        &json!({"username": username, "password": password, "totp_code": code}),
    )
    .await
}

fn session_cookie(resp: &Response) -> String {
    let set = resp.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn login(app: &TestApp, a: &Account, password: &str, offset: i64) -> Session {
    let resp = login_raw(app, &a.username, password, &code(a, offset)).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "login of {}",
        a.username
    );
    let cookie = session_cookie(&resp);
    let body: Value = resp.json().await.unwrap();
    Session {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// A request with the session cookie; `csrf` adds the header.
async fn with_session(
    app: &TestApp,
    method: Method,
    path: &str,
    s: &Session,
    csrf: bool,
    body: Option<&Value>,
) -> Response {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header(COOKIE, &s.cookie);
    if csrf {
        req = req.header("x-csrf-token", &s.csrf);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

const NEW_PASSWORD: &str = "Grassland-Horse-2026";

/// First login must change the password; then the account works within its
/// role and org, and unsafe requests need the CSRF token.
async fn login_change_password_and_work(app: TestApp) {
    fresh_step(&app);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let clerk = create_user(&app, &security, "clerk.wang", "150102", &["issuer_clerk"]).await;

    // Wrong password, wrong code: the same answer.
    let r = login_raw(&app, "clerk.wang", "Wrong-Password-1", &code(&clerk, 0)).await;
    let wrong_pw = expect_problem(r, StatusCode::UNAUTHORIZED).await;
    let r = login_raw(&app, "clerk.wang", &clerk.password, "000000").await;
    let wrong_code = expect_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong_pw, wrong_code);
    let r = login_raw(&app, "nobody", &clerk.password, "000000").await;
    assert_eq!(expect_problem(r, StatusCode::UNAUTHORIZED).await, wrong_pw);

    let s = login(&app, &clerk, &clerk.password, -1).await;
    // The same one-time code is not accepted twice.
    let r = login_raw(&app, "clerk.wang", &clerk.password, &code(&clerk, -1)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED).await;

    // Until the password is changed, nothing else is allowed.
    let r = with_session(&app, Method::GET, "/api/v1/licenses", &s, false, None).await;
    let p = expect_problem(r, StatusCode::FORBIDDEN).await;
    assert_eq!(p["type"], "/problems/password-change-required");
    let r = with_session(&app, Method::GET, "/api/v1/session", &s, false, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["must_change_password"], true);
    assert_eq!(me["roles"], json!(["issuer_clerk"]));

    let change = json!({"current_password": clerk.password, "new_password": "short"});
    // Without the CSRF header: refused, nothing changes.
    let r = with_session(
        &app,
        Method::POST,
        "/api/v1/session/password",
        &s,
        false,
        Some(&change),
    )
    .await;
    assert_eq!(
        expect_problem(r, StatusCode::FORBIDDEN).await["type"],
        "/problems/csrf"
    );
    // The policy applies.
    let r = with_session(
        &app,
        Method::POST,
        "/api/v1/session/password",
        &s,
        true,
        Some(&change),
    )
    .await;
    let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["errors"][0]["code"], "password_policy");
    let with_name =
        json!({"current_password": clerk.password, "new_password": "Clerk.Wang-2026-x"});
    let r = with_session(
        &app,
        Method::POST,
        "/api/v1/session/password",
        &s,
        true,
        Some(&with_name),
    )
    .await;
    expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let change = json!({"current_password": clerk.password, "new_password": NEW_PASSWORD});
    let r = with_session(
        &app,
        Method::POST,
        "/api/v1/session/password",
        &s,
        true,
        Some(&change),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    // Changing the password ends the session.
    let r = with_session(&app, Method::GET, "/api/v1/session", &s, false, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = login_raw(&app, "clerk.wang", &clerk.password, &code(&clerk, 0)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED).await;

    let s = login(&app, &clerk, NEW_PASSWORD, 0).await;
    // The clerk issues within its org, with the CSRF header; without it, no.
    let body = license_request("STAFF-1");
    let r = with_session(
        &app,
        Method::POST,
        "/api/v1/licenses",
        &s,
        false,
        Some(&body),
    )
    .await;
    assert_eq!(
        expect_problem(r, StatusCode::FORBIDDEN).await["type"],
        "/problems/csrf"
    );
    let r = with_session(
        &app,
        Method::POST,
        "/api/v1/licenses",
        &s,
        true,
        Some(&body),
    )
    .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // A clerk manages no accounts and reads no audit log.
    let r = with_session(&app, Method::GET, "/api/v1/users", &s, false, None).await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    let r = with_session(&app, Method::GET, "/api/v1/audit/events", &s, false, None).await;
    expect_problem(r, StatusCode::FORBIDDEN).await;

    // The audit log names the user, the role and the address for each act.
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let issued = events
        .iter()
        .rev()
        .find(|e| e.event.action == "license.issue")
        .unwrap();
    assert_eq!(issued.event.actor, format!("user:{}", clerk.id));
    assert_eq!(issued.event.role.as_deref(), Some("issuer_clerk"));
    assert_eq!(issued.event.client_addr.as_deref(), Some("127.0.0.1"));
    let logins: Vec<_> = events
        .iter()
        .filter(|e| e.event.action == "session.login")
        .collect();
    let outcomes: Vec<&str> = logins.iter().map(|e| e.event.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "failed", "failed", "failed", "success", "failed", "failed", "success"
        ]
    );
    assert_eq!(logins[2].event.target, "user:unknown");
    assert!(
        events
            .iter()
            .any(|e| e.event.action == "user.password_change")
    );
    // No secret reaches the audit log.
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(&clerk.password) && !all.contains(NEW_PASSWORD));

    // Logout needs the CSRF header too, and ends the session.
    let r = with_session(&app, Method::DELETE, "/api/v1/session", &s, false, None).await;
    expect_problem(r, StatusCode::FORBIDDEN).await;
    let r = with_session(&app, Method::DELETE, "/api/v1/session", &s, true, None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = with_session(&app, Method::GET, "/api/v1/licenses", &s, false, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
both_backends!(login_flow, login_change_password_and_work);

/// Five failures in a row lock the account, even against the right
/// password; a security admin's reset unlocks it with new credentials.
async fn lockout_and_reset(app: TestApp) {
    fresh_step(&app);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let a = create_user(
        &app,
        &security,
        "locked.li",
        "150100",
        &["objection_handler"],
    )
    .await;
    let before = app.audit_count().await;
    for _ in 0..5 {
        let r = login_raw(&app, &a.username, "Wrong-Password-1", &code(&a, 0)).await;
        expect_problem(r, StatusCode::UNAUTHORIZED).await;
    }
    let r = login_raw(&app, &a.username, &a.password, &code(&a, 0)).await;
    let p = expect_problem(r, StatusCode::LOCKED).await;
    assert_eq!(p["type"], "/problems/account-locked");
    assert_eq!(
        app.audit_count().await,
        before + 6,
        "every attempt is audited"
    );
    let user: Value = app
        .get_as(&format!("/api/v1/users/{}", a.id), &security)
        .await
        .json()
        .await
        .unwrap();
    assert!(user["locked_until"].is_string());

    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/users/{}/reset", a.id),
            Some(&security),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert!(body["user"]["locked_until"].is_null());
    let fresh = Account {
        id: a.id.clone(),
        username: a.username.clone(),
        password: body["initial_password"].as_str().unwrap().to_owned(),
        totp: data_encoding::BASE32_NOPAD
            .decode(body["totp_secret"].as_str().unwrap().as_bytes())
            .unwrap(),
        clock: app.clock.clone(),
    };
    // The old password no longer works; the new one does.
    let r = login_raw(&app, &a.username, &a.password, &code(&fresh, 0)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED).await;
    login(&app, &fresh, &fresh.password, 0).await;
}
both_backends!(lockout, lockout_and_reset);

/// Accounts are managed only by security admins, within their subtree,
/// never their own; an auditor holds no other role and changes nothing.
async fn separation_of_duties(app: TestApp) {
    fresh_step(&app);
    let region_security = app.token("150000", Role::SecurityAdmin).await;
    let city_security_account = create_user(
        &app,
        &region_security,
        "sec.hohhot",
        "150100",
        &["security_admin"],
    )
    .await;
    let region_admin = app.token("150000", Role::RegionAdmin).await;
    let city_security = app.token("150100", Role::SecurityAdmin).await;
    let city_auditor = app.token("150100", Role::Auditor).await;
    let new_user = |name: &str, org: &str, roles: Value| json!({"username": name, "display_name": "张三", "org": org, "roles": roles});

    // Only a security admin creates accounts, and only within its subtree.
    for (token, org, want) in [
        (&region_admin, "150102", StatusCode::FORBIDDEN),
        (&city_auditor, "150102", StatusCode::FORBIDDEN),
        (&city_security, "150702", StatusCode::FORBIDDEN),
        (&city_security, "150000", StatusCode::FORBIDDEN),
        (&city_security, "150102", StatusCode::CREATED),
    ] {
        let name = format!("user{}", app.audit_count().await);
        let r = app
            .send_json(
                Method::POST,
                "/api/v1/users",
                Some(token),
                &new_user(&name, org, json!(["issuer_clerk"])),
            )
            .await;
        assert_eq!(r.status(), want, "create in {org}");
    }
    // Incompatible roles are refused with a reason, and nothing is written.
    let before = app.audit_count().await;
    for roles in [
        json!(["auditor", "issuer_clerk"]),
        json!(["security_admin", "region_admin"]),
        json!(["catalog_admin"]),
        json!(["platform"]),
        json!([]),
    ] {
        let r = app
            .send_json(
                Method::POST,
                "/api/v1/users",
                Some(&city_security),
                &new_user("mixed.roles", "150102", roles.clone()),
            )
            .await;
        let p = expect_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p["errors"][0]["field"], "roles", "{roles}");
    }
    let taken = app
        .send_json(
            Method::POST,
            "/api/v1/users",
            Some(&city_security),
            &new_user("sec.hohhot", "150102", json!(["auditor"])),
        )
        .await;
    expect_problem(taken, StatusCode::CONFLICT).await;
    assert_eq!(app.audit_count().await, before);

    // No one changes their own roles, even a security admin.
    let s = login(
        &app,
        &city_security_account,
        &city_security_account.password,
        0,
    )
    .await;
    let change =
        json!({"current_password": city_security_account.password, "new_password": NEW_PASSWORD});
    let r = with_session(
        &app,
        Method::POST,
        "/api/v1/session/password",
        &s,
        true,
        Some(&change),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let s = login(&app, &city_security_account, NEW_PASSWORD, 1).await;
    let own = format!("/api/v1/users/{}", city_security_account.id);
    let r = with_session(
        &app,
        Method::PATCH,
        &own,
        &s,
        true,
        Some(&json!({"roles": ["security_admin", "issuer_clerk"]})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = with_session(
        &app,
        Method::POST,
        &format!("{own}/reset"),
        &s,
        true,
        Some(&json!({})),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // But reads their own account.
    let r = with_session(&app, Method::GET, &own, &s, false, None).await;
    assert_eq!(r.status(), StatusCode::OK);

    // The city auditor lists the city's accounts (not the region's) and changes none.
    let list: Value = app
        .get_as("/api/v1/users", &city_auditor)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"sec.hohhot"));
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["org"].as_str().unwrap().starts_with("1501"))
    );
    let r = app
        .send_json(
            Method::PATCH,
            &own,
            Some(&city_auditor),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The region security admin disables the city one: its session ends at once.
    let r = app
        .send_json(
            Method::PATCH,
            &own,
            Some(&region_security),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = with_session(&app, Method::GET, "/api/v1/session", &s, false, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let update = events
        .iter()
        .rev()
        .find(|e| e.event.action == "user.update")
        .unwrap();
    assert_eq!(update.event.detail["disabled"], true);
}
both_backends!(duties, separation_of_duties);

/// Idle of 2 s and absolute of 5 s session timeouts.
fn short_sessions(c: &mut zhengzhao_http::ServerConfig) {
    c.session_policy.idle_timeout = Duration::from_secs(2);
    c.session_policy.absolute_timeout = Duration::from_secs(5);
}

/// Idle and absolute timeouts end sessions.
async fn sessions_time_out(app: TestApp) {
    fresh_step(&app);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let a = create_user(&app, &security, "idle.zhao", "150000", &["auditor"]).await;
    let get = |s: &Session| {
        let s = Session {
            cookie: s.cookie.clone(),
            csrf: s.csrf.clone(),
        };
        let app = &app;
        async move {
            with_session(app, Method::GET, "/api/v1/session", &s, false, None)
                .await
                .status()
        }
    };
    // Idle: unused for longer than 2 s.
    let idle = login(&app, &a, &a.password, -1).await;
    app.clock.advance(Duration::from_millis(2500));
    assert_eq!(get(&idle).await, StatusCode::UNAUTHORIZED);
    // Absolute: used every second, still over after 5 s.
    let busy = login(&app, &a, &a.password, 0).await;
    for _ in 0..4 {
        app.clock.advance(Duration::from_millis(1000));
        assert_eq!(get(&busy).await, StatusCode::OK);
    }
    app.clock.advance(Duration::from_millis(1500));
    assert_eq!(get(&busy).await, StatusCode::UNAUTHORIZED);
}
both_backends_with!(session_timeouts, sessions_time_out, short_sessions);

/// The login page: a form with a CSRF cookie, the account page, logout.
async fn login_pages(app: TestApp) {
    fresh_step(&app);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let a = create_user(
        &app,
        &security,
        "page.sun",
        "150100",
        &["scenario_approver"],
    )
    .await;
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("form-action 'self'")
    );
    let csrf_cookie = page.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("工作人员登录") && html.contains("动态口令"));
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(csrf_cookie, format!("zz_login_csrf={token}"));

    let form = |code: String| {
        vec![
            ("csrf_token", token.clone()),
            ("username", a.username.clone()),
            ("password", a.password.clone()),
            ("totp_code", code),
        ]
    };
    // Without the cookie (a cross-site post): refused.
    let r = client
        .post(app.url("/login"))
        .form(&form(code(&a, -1)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .post(app.url("/login"))
        .header(COOKIE, &csrf_cookie)
        .form(&form("123456".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("用户名、密码或动态口令错误")
    );
    let r = client
        .post(app.url("/login"))
        .header(COOKIE, &csrf_cookie)
        .form(&form(code(&a, 0)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/account");
    let session = r
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("zz_session="))
        .unwrap();

    let account = client
        .get(app.url("/account"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    let html = account.text().await.unwrap();
    assert!(
        html.contains("page.sun") && html.contains("场景审批人员") && html.contains("请先修改密码")
    );
    let csrf = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();

    // Logout with a wrong CSRF field is refused; with the right one it works.
    let r = client
        .post(app.url("/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf_token", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .post(app.url("/logout"))
        .header(COOKIE, &session)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = client
        .get(app.url("/account"))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/login");
}
both_backends!(pages, login_pages);

/// The console's forms are taken only with the session's CSRF token (a
/// hidden field): without it or with another one, refused and nothing is
/// issued; with it, the license is issued and the browser sent to it.
async fn console_forms_need_the_csrf_token(app: TestApp) {
    fresh_step(&app);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let s = console_session(&app, &security, "form.zhao", "150102", "issuer_clerk").await;
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let code = holder_code_for("form-1");
    let post = |token: Option<String>| {
        let mut form: Vec<(&str, String)> = vec![
            ("type_code", BUSINESS_LICENSE.into()),
            ("holder_name", "呼和浩特市青城科技有限公司".into()),
            ("holder_id_type", "uscc".into()),
            ("holder_id", code.clone()),
            ("face.credit_code", code.clone()),
            ("face.name", "呼和浩特市青城科技有限公司".into()),
            ("face.entity_type", "有限责任公司".into()),
            ("face.business_scope", "软件开发".into()),
            ("face.established_date", "2024-01-15".into()),
            ("face.registration_authority", "150102".into()),
            ("face.registration_date", "2024-01-15".into()),
            ("valid_from", "2024-01-15".into()),
        ];
        if let Some(t) = token {
            form.push(("csrf_token", t));
        }
        client
            .post(app.url("/console/licenses/new"))
            .header(COOKIE, &s.cookie)
            .form(&form)
            .send()
    };
    for token in [None, Some("0".repeat(s.csrf.len()))] {
        let r = post(token).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.raw_count("SELECT count(*) FROM licenses").await, 0);
    let r = post(Some(s.csrf.clone())).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/console/licenses/1.2.156.3005.2.")
    );
    assert_eq!(app.raw_count("SELECT count(*) FROM licenses").await, 1);
}
both_backends!(console_forms, console_forms_need_the_csrf_token);

/// No rate limits, and room for every login in the hashing queue: each
/// login of a parallel burst is checked (none refused as limited or busy).
fn every_login_checked(c: &mut zhengzhao_http::ServerConfig) {
    let limits = &mut c.session_policy.login_limits;
    limits.per_address = LoginRate::OFF;
    limits.per_username = LoginRate::OFF;
    limits.hash_queue = 64;
}

/// No rate limits, and two password checks at once with two waiting: a
/// burst overflows the hashing queue.
fn two_hash_slots(c: &mut zhengzhao_http::ServerConfig) {
    let limits = &mut c.session_policy.login_limits;
    limits.per_address = LoginRate::OFF;
    limits.per_username = LoginRate::OFF;
    limits.hash_concurrency = 2;
    limits.hash_queue = 2;
}

/// Logins per address: a burst of 8; per username: a burst of 3.
fn small_login_bursts(c: &mut zhengzhao_http::ServerConfig) {
    let limits = &mut c.session_policy.login_limits;
    limits.per_address = LoginRate {
        per_minute: 1,
        burst: 8,
    };
    limits.per_username = LoginRate {
        per_minute: 1,
        burst: 3,
    };
}

/// Room for a 1 MB username in a request.
fn large_bodies(c: &mut zhengzhao_http::ServerConfig) {
    c.max_body_bytes = 2 * 1024 * 1024;
}

/// Login events so far.
async fn login_events(app: &TestApp) -> usize {
    app.library
        .store
        .audit_events(0, 100_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event.action == "session.login")
        .count()
}

/// The stored account behind `a`, read as the library stores it.
async fn stored(app: &TestApp, a: &Account) -> zhengzhao_store::StaffUser {
    app.library
        .store
        .staff_user(a.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// `n` wrong logins for `username` in parallel; `act` goes in while they
/// are being checked. The answer to `act` and the statuses of the logins.
async fn during_wrong_logins<F: std::future::Future<Output = Response>>(
    app: &TestApp,
    username: &str,
    n: usize,
    act: F,
) -> (Response, Vec<StatusCode>) {
    let mut logins = tokio::task::JoinSet::new();
    for i in 0..n {
        let (client, url) = (app.client.clone(), app.url("/api/v1/session"));
        let body = json!({"username": username, "password": format!("Wrong-Password-{i}"), "totp_code": "000000"});
        logins.spawn(async move { client.post(url).json(&body).send().await.unwrap().status() });
    }
    let answer = act.await;
    let statuses = logins.join_all().await;
    for s in &statuses {
        assert!(
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::LOCKED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::SERVICE_UNAVAILABLE
            ]
            .contains(s),
            "a wrong login answered {s}"
        );
    }
    (answer, statuses)
}

/// How many events of `action` name `target`.
async fn events_about(app: &TestApp, action: &str, target: &str) -> usize {
    app.library
        .store
        .audit_events(0, 100_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event.action == action && e.event.target == target)
        .count()
}

/// 30 wrong logins in parallel with a security admin's change (disable,
/// role removal, credential reset) and with the user's own password
/// change: each answer of success means the change is stored, and no
/// failed login writes the old account back.
async fn account_changes_survive_parallel_failed_logins(app: TestApp) {
    let security = app.token("150000", Role::SecurityAdmin).await;
    let users = |id: &str| format!("/api/v1/users/{id}");

    // Disabled meanwhile: stays disabled, the right password does not log in.
    let a = create_user(&app, &security, "race.disable", "150102", &["issuer_clerk"]).await;
    let (r, _) = during_wrong_logins(
        &app,
        &a.username,
        30,
        app.send_json(
            Method::PATCH,
            &users(&a.id),
            Some(&security),
            &json!({"disabled": true}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        stored(&app, &a).await.disabled_at.is_some(),
        "the disable holds"
    );
    let r = login_raw(&app, &a.username, &a.password, &code(&a, 0)).await;
    expect_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        events_about(&app, "user.update", &format!("user:{}", a.id)).await,
        1
    );

    // A role removed meanwhile stays removed.
    let b = create_user(
        &app,
        &security,
        "race.roles",
        "150102",
        &["issuer_clerk", "objection_handler"],
    )
    .await;
    let (r, _) = during_wrong_logins(
        &app,
        &b.username,
        30,
        app.send_json(
            Method::PATCH,
            &users(&b.id),
            Some(&security),
            &json!({"roles": ["objection_handler"]}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(stored(&app, &b).await.roles, vec![Role::ObjectionHandler]);

    // Credentials reset meanwhile: the new ones are stored, the old
    // password no longer works.
    let c = create_user(&app, &security, "race.reset", "150102", &["issuer_clerk"]).await;
    let (r, _) = during_wrong_logins(
        &app,
        &c.username,
        30,
        app.send_json(
            Method::POST,
            &format!("{}/reset", users(&c.id)),
            Some(&security),
            &json!({}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let new_password = body["initial_password"].as_str().unwrap();
    let row = stored(&app, &c).await;
    assert!(
        verify_password(new_password, &row.password_hash),
        "the reset holds"
    );
    assert!(!verify_password(&c.password, &row.password_hash));
    let r = login_raw(&app, &c.username, &c.password, &code(&c, 0)).await;
    assert!(r.status().is_client_error(), "old password: {}", r.status());

    // The user's own password change meanwhile holds too.
    let d = create_user(&app, &security, "race.passwd", "150102", &["issuer_clerk"]).await;
    let s = login(&app, &d, &d.password, 0).await;
    let change = json!({"current_password": d.password, "new_password": NEW_PASSWORD});
    let (r, _) = during_wrong_logins(
        &app,
        &d.username,
        30,
        with_session(
            &app,
            Method::POST,
            "/api/v1/session/password",
            &s,
            true,
            Some(&change),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let row = stored(&app, &d).await;
    assert!(
        verify_password(NEW_PASSWORD, &row.password_hash),
        "the change holds"
    );
    assert!(!row.must_change_password);
    let r = login_raw(&app, &d.username, &d.password, &code(&d, 1)).await;
    assert!(r.status().is_client_error(), "old password: {}", r.status());
}
both_backends_with!(
    changes_survive_failed_logins,
    account_changes_survive_parallel_failed_logins,
    every_login_checked
);

/// 20 wrong logins in parallel: exactly five are counted and the fifth
/// locks, once; the rest neither count again nor extend the lock, and
/// every attempt that was checked is audited once.
async fn parallel_failures_lock_exactly_once(app: TestApp) {
    let security = app.token("150000", Role::SecurityAdmin).await;
    let a = create_user(&app, &security, "race.lock", "150102", &["issuer_clerk"]).await;
    let (_, statuses) =
        during_wrong_logins(&app, &a.username, 20, async { app.get("/healthz").await }).await;
    let row = stored(&app, &a).await;
    assert!(row.locked_until.is_some(), "locked: {row:?}");
    assert_eq!(row.failed_logins, 0, "the count starts again at the lock");

    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    let attempts: Vec<_> = events
        .iter()
        .filter(|e| e.event.action == "session.login" && e.event.target == format!("user:{}", a.id))
        .collect();
    let reasons: Vec<&str> = attempts
        .iter()
        .map(|e| e.event.reason.as_deref().unwrap_or(""))
        .collect();
    let locks = reasons
        .iter()
        .filter(|r| r.contains("account locked until"))
        .count();
    let counted = reasons.iter().filter(|r| **r == "wrong password").count();
    assert_eq!((counted, locks), (4, 1), "{reasons:#?}");
    // Each attempt was checked, and audited once.
    assert_eq!(attempts.len(), 20, "{reasons:#?}");
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::UNAUTHORIZED, StatusCode::LOCKED].contains(s))
    );

    // Locked: the right password is refused too, and the lock is not moved.
    let r = login_raw(&app, &a.username, &a.password, &code(&a, 0)).await;
    expect_problem(r, StatusCode::LOCKED).await;
    assert_eq!(stored(&app, &a).await.locked_until, row.locked_until);
}
both_backends_with!(
    lock_exactly_once,
    parallel_failures_lock_exactly_once,
    every_login_checked
);

/// A flood of logins for an unknown user: password checks never run more
/// than their bound at once, the excess is answered 503 at once (problem,
/// both languages, `Retry-After`) with no audit event, and `/healthz` keeps
/// answering throughout.
async fn login_flood_is_bounded(app: TestApp) {
    let before = login_events(&app).await;
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/session"));
        let body = json!({"username": "nobody.here", "password": format!("Guess-{i}"), "totp_code": "000000"});
        flood.spawn(async move { client.post(url).json(&body).send().await.unwrap() });
    }
    // The health check answers while the flood is on.
    for _ in 0..10 {
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
    let mut failed = 0;
    let mut busy = 0;
    for resp in flood.join_all().await {
        match resp.status() {
            StatusCode::UNAUTHORIZED => failed += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert_eq!(resp.headers()["retry-after"], "1");
                let p = expect_problem(resp, StatusCode::SERVICE_UNAVAILABLE).await;
                assert_eq!(p["type"], "/problems/busy");
                assert_eq!(p["title_zh"], "服务器繁忙，请稍后再试");
            }
            other => panic!("a flooded login answered {other}"),
        }
    }
    assert!(busy > 0 && failed > 0, "{failed} checked, {busy} refused");
    let stats = app.library.login_stats();
    assert_eq!(stats.hash_slots, 2);
    assert!(
        (1..=2).contains(&stats.hash_peak),
        "peak {}",
        stats.hash_peak
    );
    assert_eq!(stats.hash_running, 0);
    assert_eq!(stats.refused_busy, busy);
    // The same figures on /metrics.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for line in [
        "zhengzhao_password_hash_slots 2".to_owned(),
        format!("zhengzhao_password_hash_peak {}", stats.hash_peak),
        format!("zhengzhao_login_refused_total{{reason=\"busy\"}} {busy}"),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    // One event per checked attempt; none for the refused ones.
    assert_eq!(login_events(&app).await, before + failed);
}
both_backends_with!(login_flood, login_flood_is_bounded, two_hash_slots);

/// Logins are limited per username and per client address before anything
/// is checked: a refused attempt is 429 with `Retry-After` (the form too),
/// counts nothing towards the lockout and writes no audit event.
async fn logins_are_limited_per_username_and_address(app: TestApp) {
    let security = app.token("150000", Role::SecurityAdmin).await;
    let a = create_user(&app, &security, "limited.zhou", "150100", &["auditor"]).await;
    let before = login_events(&app).await;
    for _ in 0..3 {
        let r = login_raw(&app, &a.username, "Wrong-Password-1", "000000").await;
        expect_problem(r, StatusCode::UNAUTHORIZED).await;
    }
    // The fourth for this username: refused before any check.
    let r = login_raw(&app, &a.username, &a.password, &code(&a, 0)).await;
    assert!(r.headers().contains_key("retry-after"));
    let p = expect_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(p["title_zh"], "请求过于频繁，请稍后再试");
    assert_eq!(stored(&app, &a).await.failed_logins, 3);
    assert_eq!(login_events(&app).await, before + 3);

    // The login form goes through the same limit.
    let client = Client::new();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let csrf_cookie = page.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = csrf_cookie.trim_start_matches("zz_login_csrf=").to_owned();
    let r = client
        .post(app.url("/login"))
        .header(COOKIE, &csrf_cookie)
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", a.username.as_str()),
            ("password", a.password.as_str()),
            ("totp_code", code(&a, 0).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("登录尝试过于频繁"));

    // Other usernames from the same address: up to the address's burst of 8
    // (five used above), then refused whatever the username.
    for name in ["other.one", "other.two", "other.three"] {
        let r = login_raw(&app, name, "Wrong-Password-1", "000000").await;
        expect_problem(r, StatusCode::UNAUTHORIZED).await;
    }
    let r = login_raw(&app, "other.four", "Wrong-Password-1", "000000").await;
    expect_problem(r, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(login_events(&app).await, before + 6);
    let stats = app.library.login_stats();
    assert_eq!((stats.refused_username, stats.refused_address), (2, 1));
}
both_backends_with!(
    login_limits,
    logins_are_limited_per_username_and_address,
    small_login_bursts
);

/// A 1 MB username (JSON or form) is refused like any failed login and
/// logged only as a short, marked prefix: no audit event grows with it.
async fn long_usernames_do_not_inflate_the_audit_log(app: TestApp) {
    let long = "a".repeat(1_000_000);
    let r = login_raw(&app, &long, "Wrong-Password-1", "000000").await;
    expect_problem(r, StatusCode::UNAUTHORIZED).await;
    let client = Client::new();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let csrf_cookie = page.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let token = csrf_cookie.trim_start_matches("zz_login_csrf=").to_owned();
    let r = client
        .post(app.url("/login"))
        .header(COOKIE, &csrf_cookie)
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", long.as_str()),
            ("password", "Wrong-Password-1"),
            ("totp_code", "000000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().len() < 100_000, "not echoed back");

    let events = app.library.store.audit_events(0, 100_000).await.unwrap();
    let logins: Vec<_> = events
        .iter()
        .filter(|e| e.event.action == "session.login")
        .collect();
    assert_eq!(logins.len(), 2);
    for e in &logins {
        assert_eq!(e.event.detail["username_truncated"], true);
        assert_eq!(e.event.detail["username_bytes"], 1_000_000);
    }
    for e in &events {
        let size = serde_json::to_string(e).unwrap().len();
        assert!(size < 2_048, "an event of {size} bytes: {}", e.event.action);
    }
}
both_backends_with!(
    long_usernames,
    long_usernames_do_not_inflate_the_audit_log,
    large_bodies
);

/// A console session of a new account, past its first password change.
async fn console_session(
    app: &TestApp,
    security: &str,
    username: &str,
    org: &str,
    role: &str,
) -> Session {
    let account = create_user(app, security, username, org, &[role]).await;
    let s = login(app, &account, &account.password, -1).await;
    let change = json!({"current_password": account.password, "new_password": NEW_PASSWORD});
    let r = with_session(
        app,
        Method::POST,
        "/api/v1/session/password",
        &s,
        true,
        Some(&change),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    login(app, &account, NEW_PASSWORD, 0).await
}

/// A console form posted with the session's CSRF field.
async fn console_post(app: &TestApp, s: &Session, path: &str, fields: &[(&str, &str)]) -> Response {
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", &s.csrf));
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url(path))
        .header(COOKIE, &s.cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The incident backlog and scenario filing forms: the wrong role is
/// refused and nothing is written; an incident of another org is not
/// found; the right role registers and files.
async fn console_forms_refuse_the_wrong_role(app: TestApp) {
    fresh_step(&app);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let api_clerk = app.token("150102", Role::IssuerClerk).await;
    let started = app
        .clock
        .now()
        .checked_sub(jiff::SignedDuration::from_hours(2))
        .unwrap()
        .to_string();
    let opened: Value = app
        .send_json(
            Method::POST,
            "/api/v1/incidents",
            Some(&api_clerk),
            &json!({"org": "150102", "cause": "机房断电", "started_at": started, "operations": ["issue"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let backlog = format!(
        "/console/incidents/{}/backlog",
        opened["incident_id"].as_str().unwrap()
    );
    let today = app
        .clock
        .now()
        .to_zoned(jiff::tz::offset(8).to_time_zone())
        .date()
        .to_string();
    let item = [
        ("system", "qiye-dengji"),
        ("record_id", "P-1"),
        ("operation", "issue"),
        ("paper_issued_on", today.as_str()),
    ];
    let items = "SELECT count(*) FROM backlog_items";

    let auditor = console_session(&app, &security, "wrongrole.auditor", "150102", "auditor").await;
    let r = console_post(&app, &auditor, &backlog, &item).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let elsewhere =
        console_session(&app, &security, "wrongorg.clerk", "150103", "issuer_clerk").await;
    let r = console_post(&app, &elsewhere, &backlog, &item).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "another org's incident");
    assert_eq!(app.raw_count(items).await, 0);
    let clerk = console_session(&app, &security, "right.clerk", "150102", "issuer_clerk").await;
    let r = console_post(&app, &clerk, &backlog, &item).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(app.raw_count(items).await, 1);

    let filing = [
        ("type_code", BUSINESS_LICENSE),
        ("fields", "name"),
        ("party_name", "呼和浩特市不动产登记中心"),
        ("party_code", "12150100MB0000001H"),
        ("party_kind", "government"),
        ("kind", "government_other"),
        ("name", "不动产登记核验营业执照"),
        ("purpose", "办理企业不动产登记时核验营业执照"),
        ("legal_basis", "《不动产登记暂行条例》"),
        ("expected_daily_volume", "50"),
        ("valid_from", today.as_str()),
        ("valid_until", "2030-12-31"),
        ("contact_name", "吴十"),
        ("contact_phone", "0471-7654321"),
    ];
    let r = console_post(&app, &clerk, "/console/scenarios/file", &filing).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.raw_count("SELECT count(*) FROM scenarios").await, 0);
    let league = console_session(
        &app,
        &security,
        "league.approver",
        "150100",
        "scenario_approver",
    )
    .await;
    let r = console_post(&app, &league, "/console/scenarios/file", &filing).await;
    let status = r.status();
    let html = r.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{html}");
    assert!(html.contains("备案已提交") && !html.contains("scenario-code"));
    assert_eq!(
        app.raw_count("SELECT count(*) FROM scenarios WHERE filed_by IS NOT NULL")
            .await,
        1
    );
}
both_backends!(console_role_forms, console_forms_refuse_the_wrong_role);

/// The catalog editor: only the region's catalog (or region) admin opens
/// it or saves through it; a clerk or the region's auditor is refused
/// and nothing is written; the admin's form makes the type, and a second
/// one with the same code is refused with the API's message.
async fn catalog_editor_refuses_the_wrong_role(app: TestApp) {
    fresh_step(&app);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let form = [
        ("row_count", "2"),
        ("code", "11100000MB0143028R078"),
        ("name", "测试许可证"),
        ("authority_name", "国家市场监督管理总局"),
        ("authority_code", "11100000MB0143028R"),
        ("issuing_levels", "banner"),
        ("holder_types", "legal_person"),
        ("aggregation_start", "2026-01-01"),
        ("public_attribute", "public"),
        ("standard_level", "region"),
        ("template", "a4-portrait"),
        ("f0.name", "permit_no"),
        ("f0.label", "许可证编号"),
        ("f0.type", "text"),
        ("f0.max_length", "30"),
        ("f0.required", "true"),
        ("f1.name", ""),
        ("f1.label", ""),
    ];
    let types = "SELECT count(*) FROM license_type_versions";
    let before = app.raw_count(types).await;
    let clerk = console_session(&app, &security, "cat.clerk", "150102", "issuer_clerk").await;
    let auditor = console_session(&app, &security, "cat.auditor", "150000", "auditor").await;
    for s in [&clerk, &auditor] {
        let r = Client::new()
            .get(app.url("/console/catalog"))
            .header(COOKIE, &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = console_post(&app, s, "/console/catalog", &form).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.raw_count(types).await, before);
    let admin = console_session(&app, &security, "cat.admin", "150000", "catalog_admin").await;
    let r = console_post(&app, &admin, "/console/catalog", &form).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    assert_eq!(app.raw_count(types).await, before + 1);
    let r = app.get("/api/v1/catalog/11100000MB0143028R078").await;
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["face_fields"][0]["name"], "permit_no");
    assert_eq!(
        made["face_fields"].as_array().unwrap().len(),
        1,
        "the blank row is left out"
    );
    let r = console_post(&app, &admin, "/console/catalog", &form).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("出现问题"));
    assert_eq!(app.raw_count(types).await, before + 1);

    // The next version, from the form opened on version 1: an enum whose
    // values hold spaces and commas keeps them (one value per line). A
    // second save from the same (now stale) form is refused, not merged.
    let path = "/console/catalog/11100000MB0143028R078";
    let mut next: Vec<(&str, &str)> = form
        .iter()
        .filter(|(k, _)| !matches!(*k, "row_count" | "code" | "f1.name" | "f1.label"))
        .copied()
        .collect();
    next.extend([
        ("row_count", "2"),
        ("version", "1"),
        ("f1.name", "scope"),
        ("f1.label", "许可范围"),
        ("f1.type", "enum"),
        ("f1.max_length", "40"),
        ("f1.values", "食品销售, 含冷食\r\n餐饮服务 (小型)\r\n"),
    ]);
    let r = console_post(&app, &admin, path, &next).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap()
    );
    let made: Value = app
        .get("/api/v1/catalog/11100000MB0143028R078")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(made["version"], 2);
    assert_eq!(
        made["face_fields"][1]["values"],
        json!(["食品销售, 含冷食", "餐饮服务 (小型)"])
    );
    let mut stale = next.clone();
    stale.retain(|(k, _)| *k != "f0.label");
    stale.push(("f0.label", "许可证号"));
    let r = console_post(&app, &admin, path, &stale).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(r.text().await.unwrap().contains("第2版"));
    assert_eq!(app.raw_count(types).await, before + 2);
}
both_backends!(catalog_editor, catalog_editor_refuses_the_wrong_role);

/// The dashboard's verification volume counts every check, however many
/// arrive at once, by the way it came in: twenty checks by identifier in
/// parallel and one by credit code and name show as 20 and 1 for today.
async fn dashboard_counts_checks(app: TestApp) {
    fresh_step(&app);
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("checks-1")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let url = app.url(&format!("/api/v1/verify/{id}"));
    let checks = (0..20).map(|_| app.client.get(&url).send());
    for r in futures_util::future::join_all(checks).await {
        assert_eq!(r.unwrap().status(), StatusCode::OK);
    }
    let by_code = format!(
        "/verify?credit_code={}&name=%E5%91%BC%E5%92%8C%E6%B5%A9%E7%89%B9%E5%B8%82%E9%9D%92%E5%9F%8E%E7%A7%91%E6%8A%80%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8",
        holder_code_for("checks-1")
    );
    assert_eq!(app.get(&by_code).await.status(), StatusCode::OK);
    let security = app.token("150000", Role::SecurityAdmin).await;
    let s = console_session(&app, &security, "checks.clerk", "150102", "issuer_clerk").await;
    let html = Client::new()
        .get(app.url("/console"))
        .header(COOKIE, &s.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let today = app
        .clock
        .now()
        .to_zoned(jiff::tz::offset(8).to_time_zone())
        .date()
        .to_string();
    let row = format!(
        "<tr><th scope=\"row\">{today}</th><td>21</td><td>按证照标识 20、按信用代码和名称 1</td></tr>"
    );
    assert!(html.contains(&row), "{row} not in the dashboard");
    assert!(
        html.contains("id=\"checks-chart-title\""),
        "the chart is drawn"
    );
}
both_backends!(dashboard_checks, dashboard_counts_checks);
