//! Staff accounts over HTTP: creation by a security admin, login with
//! password and TOTP, the forced password change, CSRF, lockout, idle and
//! absolute session timeouts, separation of duties, and the login pages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod common;

use common::*;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use zhengzhao_domain::role::Role;
use zhengzhao_server::credentials::{totp_code, totp_step};

/// A created account's credentials.
struct Account {
    id: String,
    username: String,
    password: String,
    totp: Vec<u8>,
}

/// A logged-in session: the cookie and the CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Wait if the current TOTP step is about to end, so a code made now is
/// still inside the server's window when it arrives.
async fn fresh_step() {
    let into = unix_now().rem_euclid(30);
    if into >= 25 {
        tokio::time::sleep(Duration::from_secs(u64::try_from(31 - into).unwrap())).await;
    }
}

/// The code for the current step plus `offset` (the server takes -1..=+1,
/// each step once).
fn code(a: &Account, offset: i64) -> String {
    totp_code(&a.totp, totp_step(unix_now()) + offset).unwrap()
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
    fresh_step().await;
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
    fresh_step().await;
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
    fresh_step().await;
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

/// Idle and absolute timeouts end sessions.
#[tokio::test]
async fn sessions_time_out() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.session_policy.idle_timeout = Duration::from_secs(2);
        c.session_policy.absolute_timeout = Duration::from_secs(5);
    })
    .await
    .unwrap();
    fresh_step().await;
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
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(get(&idle).await, StatusCode::UNAUTHORIZED);
    // Absolute: used every second, still over after 5 s.
    let busy = login(&app, &a, &a.password, 0).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(get(&busy).await, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get(&busy).await, StatusCode::UNAUTHORIZED);
}

/// The login page: a form with a CSRF cookie, the account page, logout.
#[tokio::test]
async fn login_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    fresh_step().await;
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
