//! Staff login pages: `/login`, `/account` (details, password change) and
//! `/logout`. Plain HTML forms, no scripts.
//!
//! CSRF: the login form uses a double-submit cookie (`zz_login_csrf`, set
//! with the form, must equal the form field), so another site cannot log a
//! browser in under its own account. Once logged in, every form carries the
//! session's CSRF token, which another site cannot read.

use crate::auth::{ClientIp, PageSession, cookie};
use crate::error::ApiResult;
use crate::http::no_store;
use crate::http::pages::render;
use crate::http::staff::session_cookie;
use crate::state::AppState;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zhengzhao_core::secrets::same_secret;
use zhengzhao_core::{Error, Principal};

const LOGIN_CSRF_COOKIE: &str = "zz_login_csrf";

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub error: Option<String>,
    pub csrf_token: String,
    pub username: String,
    pub threshold: u32,
    pub lock_minutes: u64,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub notice: Option<String>,
    pub error: Option<String>,
    pub display_name: String,
    pub username: String,
    pub org: String,
    pub roles: String,
    pub expires: String,
    pub idle_minutes: u64,
    pub must_change: bool,
    pub csrf_token: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub csrf_token: String,
    pub username: String,
    pub password: String,
    pub totp_code: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf_token: String,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    pub csrf_token: String,
    pub current_password: String,
    pub new_password: String,
}

fn login_page(
    s: &AppState,
    error: Option<String>,
    username: &str,
    status: StatusCode,
) -> ApiResult<Response> {
    let token = zhengzhao_core::secrets::random_hex(16)?;
    let policy = s.library.session_policy();
    // Shown back in the form only when it could be a username at all.
    let username = if username.len() <= 32 { username } else { "" };
    let mut resp = render(&LoginPage {
        error,
        csrf_token: token.clone(),
        username: username.to_owned(),
        threshold: policy.lockout_threshold,
        lock_minutes: policy.lockout_duration.as_secs() / 60,
    })?;
    *resp.status_mut() = status;
    let secure = if s.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let cookie = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=1800{secure}"
    ))
    .map_err(|e| Error::Internal(e.to_string()))?;
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(no_store(resp))
}

/// `GET /login`
pub async fn login_form(
    State(s): State<AppState>,
    PageSession(caller): PageSession,
) -> ApiResult<Response> {
    if caller.is_some() {
        return Ok(Redirect::to("/console").into_response());
    }
    login_page(&s, None, "", StatusCode::OK)
}

/// `POST /login`
pub async fn login_submit(
    State(s): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    Form(form): Form<LoginForm>,
) -> ApiResult<Response> {
    let cookie_token = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if cookie_token.is_empty() || !same_secret(cookie_token, &form.csrf_token) {
        return login_page(
            &s,
            Some("页面已过期，请重新登录。".into()),
            &form.username,
            StatusCode::FORBIDDEN,
        );
    }
    let result = s
        .library
        .login(
            &form.username,
            &form.password,
            &form.totp_code,
            ip.as_deref(),
        )
        .await;
    let login = match result {
        Ok(l) => l,
        Err(Error::LoginFailed) => {
            return login_page(
                &s,
                Some("用户名、密码或动态口令错误。".into()),
                &form.username,
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(e @ (Error::TooManyRequests(_) | Error::Busy(_))) => {
            let (status, message, retry) = match e {
                Error::TooManyRequests(secs) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "登录尝试过于频繁，请稍后再试。",
                    secs,
                ),
                Error::Busy(secs) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "服务器繁忙，请稍后再试。",
                    secs,
                ),
                _ => (StatusCode::SERVICE_UNAVAILABLE, "", 1),
            };
            let mut resp = login_page(&s, Some(message.into()), &form.username, status)?;
            if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Ok(resp);
        }
        Err(Error::Locked(until)) => {
            let until = until
                .to_zoned(zhengzhao_core::china_tz())
                .strftime("%Y-%m-%d %H:%M")
                .to_string();
            return login_page(
                &s,
                Some(format!("多次登录失败，账号已锁定至{until}。")),
                &form.username,
                StatusCode::LOCKED,
            );
        }
        Err(e) => return Err(e.into()),
    };
    let max_age = login
        .session
        .expires_at
        .duration_since(login.session.created_at)
        .as_secs();
    // The console; first the account page while the initial password stands.
    let next = if login.user.must_change_password {
        "/account"
    } else {
        "/console"
    };
    let mut resp = Redirect::to(next).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&s, &login.secret, max_age),
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("zz_login_csrf=; Path=/login; Max-Age=0"),
    );
    Ok(no_store(resp))
}

fn account_page(
    s: &AppState,
    caller: &Principal,
    notice: Option<String>,
    error: Option<String>,
) -> ApiResult<Response> {
    let Some(session) = &caller.session else {
        return Ok(Redirect::to("/login").into_response());
    };
    let roles: Vec<&str> = caller.roles.iter().map(|r| r.label_zh()).collect();
    let resp = render(&AccountPage {
        notice,
        error,
        display_name: session.display_name.clone(),
        username: session.username.clone(),
        org: caller.org.to_string(),
        roles: roles.join("、"),
        expires: session
            .expires_at
            .to_zoned(zhengzhao_core::china_tz())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        idle_minutes: s.library.session_policy().idle_timeout.as_secs() / 60,
        must_change: session.must_change_password,
        csrf_token: session.csrf_token.clone(),
    })?;
    Ok(no_store(resp))
}

/// `GET /account`
pub async fn account(
    State(s): State<AppState>,
    PageSession(caller): PageSession,
) -> ApiResult<Response> {
    match caller {
        Some(c) => account_page(&s, &c, None, None),
        None => Ok(Redirect::to("/login").into_response()),
    }
}

fn form_csrf_ok(caller: &Principal, sent: &str) -> bool {
    caller
        .session
        .as_ref()
        .is_some_and(|s| same_secret(sent, &s.csrf_token))
}

/// `POST /account/password`
pub async fn change_password(
    State(s): State<AppState>,
    PageSession(caller): PageSession,
    Form(form): Form<PasswordForm>,
) -> ApiResult<Response> {
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !form_csrf_ok(&caller, &form.csrf_token) {
        return Err(Error::Csrf.into());
    }
    match s
        .library
        .change_own_password(&caller, &form.current_password, &form.new_password)
        .await
    {
        Ok(()) => {
            let mut resp = login_page(
                &s,
                Some("密码已修改，请用新密码重新登录。".into()),
                "",
                StatusCode::OK,
            )?;
            resp.headers_mut()
                .append(header::SET_COOKIE, session_cookie(&s, "", 0));
            Ok(resp)
        }
        Err(Error::Validation(errors)) => {
            let msg = errors
                .iter()
                .map(|e| e.message_zh.clone())
                .collect::<Vec<_>>()
                .join("；");
            let mut resp = account_page(&s, &caller, None, Some(msg))?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`
pub async fn logout(
    State(s): State<AppState>,
    PageSession(caller): PageSession,
    Form(form): Form<CsrfForm>,
) -> ApiResult<Response> {
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !form_csrf_ok(&caller, &form.csrf_token) {
        return Err(Error::Csrf.into());
    }
    s.library.logout(&caller).await?;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&s, "", 0));
    Ok(resp)
}
