//! Who is calling. Three ways in:
//!
//! - an API token (`Authorization: Bearer zzt_…`), stored as its SM3 hash
//!   only; a token made with `--signed` must also sign every request
//!   (`crate::signed_request`);
//! - a staff session cookie (`zz_session`), from a login with password and
//!   one-time code; unsafe methods then need the session's CSRF token in
//!   `X-CSRF-Token` (forms carry it as a field and are checked by their
//!   handler);
//! - a holder's session cookie (`zz_holder`), from signing in at the
//!   region's identity provider: taken only by the holder's own endpoints
//!   ([`HolderCaller`]), with a CSRF token as for staff;
//! - nothing: public endpoints only.
//!
//! The tokens themselves, sessions and signatures are checked by the core
//! (`Library::token_principal`, `Library::session_caller`); this module
//! only reads them off the request and hands the core what it needs.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use zhengzhao_core::holder_sign_in::{HOLDER_SESSION_COOKIE, HolderSessionCaller};
use zhengzhao_core::secrets::same_secret;
use zhengzhao_core::signed_request::{
    BodyDigest, NONCE_HEADER, ON_BEHALF_OF_HEADER, SIGNATURE_HEADER, SignatureHeaders,
    TIMESTAMP_HEADER,
};
use zhengzhao_core::staff::SESSION_COOKIE;
use zhengzhao_core::tokens::RequestToVerify;
use zhengzhao_core::{Error, Principal};

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated principal of a request (401 without one; 403 for a
/// session that must change its password first). Dereferences to the
/// core's [`Principal`], which is what every use case takes.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl std::ops::Deref for Caller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
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
    let value = value.to_str().map_err(|_| Error::Unauthenticated)?;
    let (scheme, token) = value.split_once(' ').ok_or(Error::Unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::Unauthenticated.into());
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

/// A signature header's text: absent is `None`, non-text is refused.
fn signature_header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Error> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| Error::BadSignature(format!("{name} is not text")))
        })
        .transpose()
}

async fn token_caller(parts: &Parts, state: &AppState, token: &str) -> Result<Principal, ApiError> {
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |p| p.as_str());
    let request = RequestToVerify {
        method: parts.method.as_str(),
        path_and_query: path,
        signature: SignatureHeaders {
            timestamp: signature_header(&parts.headers, TIMESTAMP_HEADER)?,
            nonce: signature_header(&parts.headers, NONCE_HEADER)?,
            signature: signature_header(&parts.headers, SIGNATURE_HEADER)?,
            on_behalf_of: signature_header(&parts.headers, ON_BEHALF_OF_HEADER)?,
        },
        body_digest: parts.extensions.get::<BodyDigest>(),
    };
    Ok(state
        .library
        .token_principal(token, &request, client_addr(parts))
        .await?)
}

/// The caller a bearer token named, found once per request by
/// [`check_bearer`] (a signed request's nonce can be used only once).
#[derive(Debug, Clone)]
struct BearerCaller(Principal);

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
async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    if let Some(token) = bearer(parts)? {
        if let Some(BearerCaller(c)) = parts.extensions.get::<BearerCaller>() {
            return Ok(Some(c.clone()));
        }
        return token_caller(parts, state, token).await.map(Some);
    }
    session_from_cookie(parts, state).await
}

/// The live staff session the `zz_session` cookie names, if any.
async fn session_from_cookie(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<Principal>, ApiError> {
    let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .library
        .session_caller(secret, client_addr(parts))
        .await?)
}

/// Unsafe methods from a session need the CSRF token in a header.
fn check_csrf(parts: &Parts, caller: &Principal) -> Result<(), ApiError> {
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
        .ok_or(Error::Csrf)?;
    if same_secret(sent, &session.csrf_token) {
        Ok(())
    } else {
        Err(Error::Csrf.into())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = resolve(parts, state).await?.ok_or(Error::Unauthenticated)?;
        check_csrf(parts, &caller)?;
        if caller
            .session
            .as_ref()
            .is_some_and(|s| s.must_change_password)
        {
            return Err(Error::PasswordChangeRequired.into());
        }
        Ok(Caller(caller))
    }
}

/// A token's caller if the request brings one, else nobody (the public
/// forms), with the client's address for the audit log.
#[derive(Debug, Clone)]
pub struct MaybeTokenCaller {
    pub caller: Option<Principal>,
    pub client_addr: Option<String>,
}

impl FromRequestParts<AppState> for MaybeTokenCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = match bearer(parts)? {
            Some(_) => resolve(parts, state).await?,
            None => None,
        };
        Ok(Self {
            caller,
            client_addr: client_addr(parts),
        })
    }
}

/// A staff session, even one that must change its password first (for the
/// session endpoints themselves). CSRF is checked as for [`Caller`].
#[derive(Debug, Clone)]
pub struct SessionCaller(pub Principal);

impl FromRequestParts<AppState> for SessionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = resolve(parts, state)
            .await?
            .filter(|c| c.session.is_some())
            .ok_or(Error::Unauthenticated)?;
        check_csrf(parts, &caller)?;
        Ok(SessionCaller(caller))
    }
}

/// The session caller of a page, if logged in: forms check their own CSRF field.
#[derive(Debug, Clone)]
pub struct PageSession(pub Option<Principal>);

impl FromRequestParts<AppState> for PageSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageSession(session_from_cookie(parts, state).await?))
    }
}

/// The live holder session the `zz_holder` cookie names, if any.
async fn holder_session_from_cookie(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<HolderSessionCaller>, ApiError> {
    let Some(secret) = cookie(&parts.headers, HOLDER_SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .library
        .holder_session_caller(secret, client_addr(parts))
        .await?)
}

/// The holder signed in on a page, if any (forms check their own CSRF field).
#[derive(Debug, Clone)]
pub struct PageHolder(pub Option<HolderSessionCaller>);

impl FromRequestParts<AppState> for PageHolder {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageHolder(holder_session_from_cookie(parts, state).await?))
    }
}

/// A holder's session (the `zz_holder` cookie), 401 without one; unsafe
/// methods need its CSRF token in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct HolderSession(pub HolderSessionCaller);

impl FromRequestParts<AppState> for HolderSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = holder_session_from_cookie(parts, state)
            .await?
            .ok_or(Error::Unauthenticated)?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .ok_or(Error::Csrf)?;
            if !session.csrf_matches(sent) {
                return Err(Error::Csrf.into());
            }
        }
        Ok(HolderSession(session))
    }
}

/// The caller of a holder's own endpoints: a holder signed in (its
/// session cookie), else as for [`Caller`] (a channel's token naming the
/// holder; anyone else is refused by the policy). A holder's cookie counts
/// only here: everywhere else it is no caller at all.
#[derive(Debug, Clone)]
pub struct HolderCaller(pub Principal);

impl std::ops::Deref for HolderCaller {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequestParts<AppState> for HolderCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if bearer(parts)?.is_none() && cookie(&parts.headers, HOLDER_SESSION_COOKIE).is_some() {
            let HolderSession(session) = HolderSession::from_request_parts(parts, state).await?;
            return Ok(HolderCaller(session.principal));
        }
        let Caller(caller) = Caller::from_request_parts(parts, state).await?;
        Ok(HolderCaller(caller))
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
pub struct MaybeCaller(pub Option<Principal>);

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
