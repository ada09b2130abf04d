//! A holder signing in through the region's identity provider
//! (`zhengzhao_core::holder_sign_in`): begin, the provider's callback, the
//! session, and signing out.
//!
//! Cookies: `zz_holder_sign_in` carries the sign-in's state from the begin
//! to the callback (path-bound to the sign-in endpoints, ten minutes);
//! `zz_holder` is the session. Both are `SameSite=Lax`: the callback is a
//! navigation from the provider's site, and a `Strict` cookie would not
//! come along with it.

use crate::auth::{ClientIp, HolderSession, cookie};
use crate::error::{ApiResult, Problem};
use crate::http::no_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use zhengzhao_core::holder_sign_in::{
    HOLDER_SESSION_COOKIE, HOLDER_SIGN_IN_COOKIE, HolderSessionView, SIGN_IN_TTL, SignInCallback,
};

const SIGN_IN_PATH: &str = "/api/v1/holder/sign-in";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct BeginQuery {
    /// A path on this site to go to once signed in [default: /].
    pub return_to: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's refusal, e.g. `access_denied`.
    pub error: Option<String>,
}

fn cookie_header(s: &AppState, name: &str, value: &str, path: &str, max_age: u64) -> HeaderValue {
    let secure = if s.config.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("zz_holder=; Max-Age=0"))
}

fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    no_store(resp)
}

/// Begin signing in: 303 to the identity provider's authorization endpoint.
#[utoipa::path(get, path = "/api/v1/holder/sign-in", tag = "holders", operation_id = "holder_sign_in",
    params(BeginQuery),
    responses((status = 303, description = "to the identity provider"),
        (status = 400, body = Problem), (status = 404, body = Problem, description = "sign-in not configured"),
        (status = 503, body = Problem, description = "the identity provider cannot be reached")))]
pub async fn begin(State(s): State<AppState>, Query(q): Query<BeginQuery>) -> ApiResult<Response> {
    let start = s
        .library
        .begin_holder_sign_in(q.return_to.as_deref())
        .await?;
    let bind = cookie_header(
        &s,
        HOLDER_SIGN_IN_COOKIE,
        &start.state,
        SIGN_IN_PATH,
        SIGN_IN_TTL.as_secs(),
    );
    Ok(see_other(&start.redirect_to, vec![bind]))
}

/// The identity provider's answer: 303 to the page asked for, signed in.
#[utoipa::path(get, path = "/api/v1/holder/sign-in/callback", tag = "holders", operation_id = "holder_sign_in_callback",
    params(CallbackQuery),
    responses((status = 303, description = "signed in: the session cookie is set"),
        (status = 401, body = Problem, description = "the sign-in did not complete")))]
pub async fn callback(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let answer = SignInCallback {
        state: q.state.as_deref(),
        code: q.code.as_deref(),
        error: q.error.as_deref(),
        cookie_state: cookie(&headers, HOLDER_SIGN_IN_COOKIE),
    };
    let signed_in = s.library.finish_holder_sign_in(answer, ip).await?;
    let max_age = s.library.session_policy().absolute_timeout.as_secs();
    let cookies = vec![
        cookie_header(
            &s,
            HOLDER_SESSION_COOKIE,
            &signed_in.session_secret,
            "/",
            max_age,
        ),
        cookie_header(&s, HOLDER_SIGN_IN_COOKIE, "", SIGN_IN_PATH, 0),
    ];
    Ok(see_other(&signed_in.return_to, cookies))
}

/// The signed-in holder, and the CSRF token its POSTs carry.
#[utoipa::path(get, path = "/api/v1/holder/session", tag = "holders", operation_id = "holder_session",
    responses((status = 200, body = HolderSessionView), (status = 401, body = Problem)))]
pub async fn session(HolderSession(session): HolderSession) -> Response {
    no_store(Json(session.view).into_response())
}

/// Sign out: the session ends at once.
#[utoipa::path(post, path = "/api/v1/holder/sign-out", tag = "holders", operation_id = "holder_sign_out",
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn sign_out(
    State(s): State<AppState>,
    HolderSession(session): HolderSession,
) -> ApiResult<Response> {
    s.library.sign_out_holder(&session).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&s, HOLDER_SESSION_COOKIE, "", "/", 0),
    );
    Ok(resp)
}
