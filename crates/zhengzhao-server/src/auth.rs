//! Who is calling. Three ways in:
//!
//! - an API token (`Authorization: Bearer zzt_…`), stored as its SM3 hash
//!   only; a token made with `--signed` must also sign every request
//!   (`crate::signed_request`);
//! - a staff session cookie (`zz_session`), from a login with password and
//!   one-time code; unsafe methods then need the session's CSRF token in
//!   `X-CSRF-Token` (forms carry it as a field and are checked by their
//!   handler);
//! - nothing: public endpoints only.
//!
//! A token is `zzt_` and 64 hex digits (256 random bits). The prefix lets
//! secret scanners recognise a leaked token.

use crate::error::ApiError;
use crate::service::staff::SESSION_COOKIE;
use crate::signed_request::{self, BodyDigest};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use sm3::{Digest, Sm3};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

pub const TOKEN_PREFIX: &str = "zzt_";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// `bytes` random bytes from the OS, in hex: every secret the library
/// hands out (tokens, HMAC keys, session ids, CSRF tokens) is made here.
/// Fails only if the OS has no randomness to give.
pub fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// A fresh token secret (256 bits).
pub fn generate_token() -> Result<String, ApiError> {
    Ok(format!("{TOKEN_PREFIX}{}", random_hex(32)?))
}

/// What is stored and looked up: SM3 of the whole token text.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sm3::digest(token.as_bytes()).to_vec()
}

/// Who is calling: the identity behind a valid token or session.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `token:<uuid>` or `user:<uuid>`, as written to the audit log.
    pub actor: String,
    pub org: OrgCode,
    /// A token holds one role; a staff user may hold several.
    pub roles: Vec<Role>,
    pub client_addr: Option<String>,
    /// Present when the caller is a staff session.
    pub session: Option<SessionInfo>,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// The session behind a staff caller.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub hash: Vec<u8>,
    pub csrf_token: String,
    pub expires_at: jiff::Timestamp,
    pub must_change_password: bool,
    pub username: String,
    pub display_name: String,
}

/// The client's address for audit events: forwarded by a trusted proxy,
/// else the TCP peer (`crate::http::tls::client_ip`).
fn client_addr(parts: &Parts) -> Option<String> {
    crate::http::tls::client_ip(&parts.extensions).map(|ip| ip.to_string())
}

fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthenticated)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated);
    }
    Ok(Some(token.trim()))
}

/// The value of one cookie from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

pub fn same_secret(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

async fn token_caller(parts: &Parts, state: &AppState, token: &str) -> Result<Caller, ApiError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
        return Err(ApiError::Unauthenticated);
    }
    let record = state
        .store
        .token_by_hash(&token_hash(token))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if let Some(wrapped) = &record.signing_secret {
        let secret = state
            .library
            .master_key()?
            .decrypt(&signed_request::wrap_aad(record.id), wrapped)
            .map_err(|e| ApiError::Internal(format!("signing key of token {}: {e}", record.id)))?;
        let secret = String::from_utf8(secret)
            .map_err(|_| ApiError::Internal(format!("signing key of token {}", record.id)))?;
        let path = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path(), |p| p.as_str());
        let now = jiff::Timestamp::now().as_second();
        let nonce = signed_request::verify(
            &parts.headers,
            parts.method.as_str(),
            path,
            parts.extensions.get::<BodyDigest>(),
            &secret,
            now,
        )?;
        state
            .library
            .nonces
            .claim(&state.store, record.id, nonce, now)
            .await?;
    }
    Ok(Caller {
        actor: format!("token:{}", record.id),
        org: record.org,
        roles: vec![record.role],
        client_addr: client_addr(parts),
        session: None,
    })
}

/// The caller a bearer token named, found once per request by
/// [`check_bearer`] (a signed request's nonce can be used only once).
#[derive(Debug, Clone)]
struct BearerCaller(Caller);

/// Middleware on every route: a request with an `Authorization` header is
/// refused with 401 unless the token is valid (and, for a signed token,
/// the request is signed), on public endpoints too, so a mistyped or
/// revoked token is noticed rather than silently ignored. The caller found
/// is kept for the extractors.
pub async fn check_bearer(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (mut parts, body) = request.into_parts();
    let caller = match bearer(&parts) {
        Ok(None) => None,
        Ok(Some(token)) => match token_caller(&parts, &state, token).await {
            Ok(c) => Some(c),
            Err(e) => return e.into_response(),
        },
        Err(e) => return e.into_response(),
    };
    if let Some(c) = caller {
        parts.extensions.insert(BearerCaller(c));
    }
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// Resolve the caller, if any. A bearer token wins over a cookie. A
/// present but invalid token is refused with 401; a stale session cookie
/// counts as no caller (the browser just logs in again).
async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    if let Some(token) = bearer(parts)? {
        if let Some(BearerCaller(c)) = parts.extensions.get::<BearerCaller>() {
            return Ok(Some(c.clone()));
        }
        return token_caller(parts, state, token).await.map(Some);
    }
    session_from_cookie(parts, state).await
}

/// The live staff session the `zz_session` cookie names, if any.
async fn session_from_cookie(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    state
        .library
        .session_caller(secret, client_addr(parts))
        .await
}

/// Unsafe methods from a session need the CSRF token in a header.
fn check_csrf(parts: &Parts, caller: &Caller) -> Result<(), ApiError> {
    let Some(session) = &caller.session else {
        return Ok(());
    };
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Csrf)?;
    if same_secret(sent, &session.csrf_token) {
        Ok(())
    } else {
        Err(ApiError::Csrf)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = resolve(parts, state)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        check_csrf(parts, &caller)?;
        if caller
            .session
            .as_ref()
            .is_some_and(|s| s.must_change_password)
        {
            return Err(ApiError::PasswordChangeRequired);
        }
        Ok(caller)
    }
}

/// A staff session, even one that must change its password first (for the
/// session endpoints themselves). CSRF is checked as for [`Caller`].
#[derive(Debug, Clone)]
pub struct SessionCaller(pub Caller);

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = resolve(parts, state)
            .await?
            .filter(|c| c.session.is_some())
            .ok_or(ApiError::Unauthenticated)?;
        check_csrf(parts, &caller)?;
        Ok(SessionCaller(caller))
    }
}

/// The session caller of a page, if logged in: forms check their own CSRF field.
#[derive(Debug, Clone)]
pub struct PageSession(pub Option<Caller>);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageSession(session_from_cookie(parts, state).await?))
    }
}

/// The client's IP address, for audit events of callers not yet known.
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_addr(parts)))
    }
}

/// For public endpoints that show staff a little more (e.g. not-public
/// catalog types). A present but invalid token is still refused with 401,
/// so a mistyped token is noticed rather than silently ignored.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // A session that must change its password first counts as nobody here.
        let caller = resolve(parts, state)
            .await?
            .filter(|c| !c.session.as_ref().is_some_and(|s| s.must_change_password));
        Ok(MaybeCaller(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), 68);
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
        // SM3("abc") from GB/T 32905 appendix A.
        assert_eq!(
            hex::encode(token_hash("abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.append(
            axum::http::header::COOKIE,
            "a=1; zz_session=abc ; b=2".parse().unwrap(),
        );
        h.append(axum::http::header::COOKIE, "c=3".parse().unwrap());
        assert_eq!(cookie(&h, "zz_session"), Some("abc"));
        assert_eq!(cookie(&h, "c"), Some("3"));
        assert_eq!(cookie(&h, "zz"), None);
    }
}
