//! `/api/v1/users` (staff accounts) and `/api/v1/session` (login, logout,
//! password change). Responses that carry credentials are `no-store`.

use crate::auth::{Caller, ClientIp, SessionCaller};
use crate::error::{ApiResult, Problem};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhengzhao_core::Actor;
use zhengzhao_core::staff::{
    InitialCredentials, Login, NewStaff, SESSION_COOKIE, StaffChange, StaffView,
};
use zhengzhao_core::{Error, Principal};

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffList {
    pub items: Vec<StaffView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffWithCredentials {
    pub user: StaffView,
    #[serde(flatten)]
    pub credentials: InitialCredentials,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The 6-digit code from the authenticator app.
    pub totp_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    pub org: String,
    pub roles: Vec<zhengzhao_domain::role::Role>,
    /// Send back in `X-CSRF-Token` with every POST, PUT, PATCH or DELETE.
    pub csrf_token: String,
    pub expires_at: String,
    pub idle_timeout_secs: u64,
    pub must_change_password: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

fn parse_id(raw: &str) -> zhengzhao_core::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("user {raw}")))
}

/// The session cookie: HttpOnly (no script reads it), SameSite=Strict (no
/// other site sends it), Secure when the server speaks TLS.
pub fn session_cookie(state: &AppState, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("zz_session=; Max-Age=0"))
}

pub fn session_view(state: &AppState, caller: &Principal) -> ApiResult<SessionView> {
    let s = caller
        .session
        .as_ref()
        .ok_or_else(|| Error::Forbidden("not a session".into()))?;
    Ok(SessionView {
        user_id: caller
            .actor
            .user_id()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        username: s.username.clone(),
        display_name: s.display_name.clone(),
        org: caller.org.to_string(),
        roles: caller.roles.clone(),
        csrf_token: s.csrf_token.clone(),
        expires_at: s.expires_at.to_string(),
        idle_timeout_secs: state.library.session_policy().idle_timeout.as_secs(),
        must_change_password: s.must_change_password,
    })
}

pub fn login_view(state: &AppState, login: &Login) -> SessionView {
    SessionView {
        user_id: login.user.id.to_string(),
        username: login.user.username.clone(),
        display_name: login.user.display_name.clone(),
        org: login.user.org.to_string(),
        roles: login.user.roles.clone(),
        csrf_token: login.session.csrf_token.clone(),
        expires_at: login.session.expires_at.to_string(),
        idle_timeout_secs: state.library.session_policy().idle_timeout.as_secs(),
        must_change_password: login.user.must_change_password,
    }
}

/// Create a staff account (security admin, within its subtree).
#[utoipa::path(post, path = "/api/v1/users", tag = "staff", operation_id = "users_create", request_body = NewStaff,
    responses((status = 201, body = StaffWithCredentials), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(new): ApiJson<NewStaff>,
) -> ApiResult<Response> {
    let (user, credentials) = s
        .library
        .create_staff_user(Some(&caller), &Actor::from(&caller.0), new)
        .await?;
    Ok(no_store(
        (
            StatusCode::CREATED,
            Json(StaffWithCredentials { user, credentials }),
        )
            .into_response(),
    ))
}

/// Accounts within the caller's subtree (security admin, auditor).
#[utoipa::path(get, path = "/api/v1/users", tag = "staff", operation_id = "users_list",
    responses((status = 200, body = StaffList), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<StaffList>> {
    Ok(Json(StaffList {
        items: s.library.staff_users(&caller).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "staff", operation_id = "users_get",
    responses((status = 200, body = StaffView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<StaffView>> {
    Ok(Json(s.library.staff_user(&caller, parse_id(&id)?).await?))
}

/// Change roles, name, or disable (security admin; never one's own account).
/// 200 means the change is stored; 409 (nothing changed) only if the account
/// kept changing under it.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "staff", operation_id = "users_update", request_body = StaffChange,
    responses((status = 200, body = StaffView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<StaffChange>,
) -> ApiResult<Json<StaffView>> {
    Ok(Json(
        s.library
            .update_staff_user(&caller, parse_id(&id)?, change)
            .await?,
    ))
}

/// New initial password and TOTP secret; unlocks the account and ends its sessions.
#[utoipa::path(post, path = "/api/v1/users/{id}/reset", tag = "staff",
    responses((status = 200, body = StaffWithCredentials), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn reset(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (user, credentials) = s
        .library
        .reset_staff_credentials(Some(&caller), &Actor::from(&caller.0), parse_id(&id)?)
        .await?;
    Ok(no_store(
        Json(StaffWithCredentials { user, credentials }).into_response(),
    ))
}

/// Log in with username, password and one-time code; sets the session cookie.
/// Attempts are limited per client address and per username (429 with
/// `Retry-After`, nothing checked or counted); when password checks are
/// all busy and the short queue is full, 503 with `Retry-After` at once.
#[utoipa::path(post, path = "/api/v1/session", tag = "staff", request_body = LoginRequest,
    responses((status = 201, body = SessionView), (status = 401, body = Problem), (status = 423, body = Problem),
        (status = 429, body = Problem), (status = 503, body = Problem)))]
pub async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let login = s
        .library
        .login(&req.username, &req.password, &req.totp_code, ip.as_deref())
        .await?;
    let max_age = login
        .session
        .expires_at
        .duration_since(login.session.created_at)
        .as_secs();
    let mut resp = (StatusCode::CREATED, Json(login_view(&s, &login))).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&s, &login.secret, max_age),
    );
    Ok(no_store(resp))
}

/// The current session (also when a password change is due).
#[utoipa::path(get, path = "/api/v1/session", tag = "staff",
    responses((status = 200, body = SessionView), (status = 401, body = Problem)))]
pub async fn current(
    State(s): State<AppState>,
    SessionCaller(caller): SessionCaller,
) -> ApiResult<Response> {
    Ok(no_store(Json(session_view(&s, &caller)?).into_response()))
}

/// Log out: the session ends and the cookie is cleared.
#[utoipa::path(delete, path = "/api/v1/session", tag = "staff",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn logout(
    State(s): State<AppState>,
    SessionCaller(caller): SessionCaller,
) -> ApiResult<Response> {
    s.library.logout(&caller).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&s, "", 0));
    Ok(resp)
}

/// Change one's own password (policy applies); every session then ends.
#[utoipa::path(post, path = "/api/v1/session/password", tag = "staff", request_body = PasswordChange,
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn change_password(
    State(s): State<AppState>,
    SessionCaller(caller): SessionCaller,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<Response> {
    s.library
        .change_own_password(&caller, &req.current_password, &req.new_password)
        .await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&s, "", 0));
    Ok(resp)
}
