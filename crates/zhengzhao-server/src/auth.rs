//! API tokens: how they are made, stored (as an SM3 hash only) and checked.
//!
//! A token is `zzt_` and 64 hex digits (256 random bits). The prefix lets
//! secret scanners recognise a leaked token.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use sm3::{Digest, Sm3};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

pub const TOKEN_PREFIX: &str = "zzt_";

/// A fresh token secret. Fails only if the OS has no randomness to give.
pub fn generate_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// What is stored and looked up: SM3 of the whole token text.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sm3::digest(token.as_bytes()).to_vec()
}

/// Who is calling: the identity behind a valid bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `token:<uuid>` (later also `user:<uuid>`), as written to the audit log.
    pub actor: String,
    pub org: OrgCode,
    pub role: Role,
    pub client_addr: Option<String>,
}

fn client_addr(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<crate::http::tls::ClientAddr>>()
        .map(|ConnectInfo(a)| a.0.ip().to_string())
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

async fn resolve(parts: &Parts, state: &AppState) -> Result<Option<Caller>, ApiError> {
    let Some(token) = bearer(parts)? else {
        return Ok(None);
    };
    if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + 64 {
        return Err(ApiError::Unauthenticated);
    }
    let record = state
        .store
        .token_by_hash(&token_hash(token))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Some(Caller {
        actor: format!("token:{}", record.id),
        org: record.org,
        role: record.role,
        client_addr: client_addr(parts),
    }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve(parts, state)
            .await?
            .ok_or(ApiError::Unauthenticated)
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
        Ok(MaybeCaller(resolve(parts, state).await?))
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
}
