//! Signed requests for system clients (business systems, platforms).
//!
//! A token created with `--signed` carries an HMAC key besides its bearer
//! secret. Every request with such a token must then carry
//!
//! - `X-ZZ-Timestamp`: Unix seconds, within ±300 s of the server's clock;
//! - `X-ZZ-Nonce`: 16 to 64 characters of `[A-Za-z0-9_-]`, never reused;
//! - `X-ZZ-Signature`: lower-case hex HMAC-SM3, keyed with the UTF-8 bytes of
//!   the `zzs_…` secret, over [`string_to_sign`]:
//!
//! ```text
//! ZZ-HMAC-SM3\n<METHOD>\n<path?query>\n<timestamp>\n<nonce>\n<hex SM3 of the body>
//! ```
//!
//! The bearer token alone is then worthless to someone who copies it from a
//! log or a proxy: without the HMAC key no request verifies, and a captured
//! signed request cannot be replayed (nonce) or replayed later (timestamp) or
//! altered (method, path, query and body are all covered).

use crate::error::ApiError;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sm3::{Digest, Sm3};
use std::collections::HashMap;
use std::sync::Mutex;

pub const SIGNING_SECRET_PREFIX: &str = "zzs_";
pub const TIMESTAMP_HEADER: &str = "x-zz-timestamp";
pub const NONCE_HEADER: &str = "x-zz-nonce";
pub const SIGNATURE_HEADER: &str = "x-zz-signature";
/// How far a request's timestamp may be from the server's clock.
pub const REPLAY_WINDOW_SECS: i64 = 300;
/// Nonces remembered at most; beyond this, signed requests are refused
/// (503) until old nonces expire, rather than forgetting live ones.
const MAX_NONCES: usize = 1_000_000;

/// A fresh HMAC key, shown once to the client.
pub fn generate_signing_secret() -> Result<String, ApiError> {
    Ok(format!(
        "{SIGNING_SECRET_PREFIX}{}",
        crate::auth::random_hex(32)?
    ))
}

/// Associated data when the key is wrapped: ties the blob to its token.
pub fn wrap_aad(token_id: uuid::Uuid) -> Vec<u8> {
    format!("token-signing:{token_id}").into_bytes()
}

pub fn body_sm3_hex(body: &[u8]) -> String {
    hex::encode(Sm3::digest(body))
}

pub fn string_to_sign(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body_sm3_hex: &str,
) -> String {
    format!("ZZ-HMAC-SM3\n{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_sm3_hex}")
}

/// HMAC-SM3 of `text` under `secret`, in hex: what a client sends.
pub fn sign(secret: &str, text: &str) -> Result<String, ApiError> {
    let mut mac = Hmac::<Sm3>::new_from_slice(secret.as_bytes())
        .map_err(|e| ApiError::Internal(format!("hmac key: {e}")))?;
    mac.update(text.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// The SM3 of a signed request's body, computed by [`digest_signed_bodies`].
#[derive(Debug, Clone)]
pub struct BodyDigest(pub String);

/// Middleware: for requests that carry a signature, read the body (within
/// the body limit), note its SM3 for the authenticator, and pass it on.
pub async fn digest_signed_bodies(
    State(max_body): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(SIGNATURE_HEADER) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, max_body).await else {
        return ApiError::TooLarge.into_response();
    };
    parts.extensions.insert(BodyDigest(body_sm3_hex(&bytes)));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Nonces seen within the replay window, per token.
#[derive(Default)]
pub struct NonceCache {
    seen: Mutex<HashMap<(uuid::Uuid, String), i64>>,
}

impl NonceCache {
    /// Remember a nonce until `expires`; false if it was already used.
    fn claim(&self, token: uuid::Uuid, nonce: &str, now: i64) -> Result<bool, ApiError> {
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| ApiError::Internal("nonce cache poisoned".into()))?;
        if seen.len() >= MAX_NONCES / 2 {
            seen.retain(|_, expires| *expires > now);
        }
        if seen.len() >= MAX_NONCES {
            return Err(ApiError::Unavailable(
                "too many signed requests in flight".into(),
            ));
        }
        let key = (token, nonce.to_owned());
        if seen.get(&key).is_some_and(|&e| e > now) {
            return Ok(false);
        }
        seen.insert(key, now + 2 * REPLAY_WINDOW_SECS);
        Ok(true)
    }
}

fn bad(reason: &str) -> ApiError {
    ApiError::BadSignature(reason.to_owned())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or_else(|| {
            bad(&format!(
                "this token must sign its requests: {name} is missing"
            ))
        })?
        .to_str()
        .map_err(|_| bad(&format!("{name} is not text")))
}

/// Check a request made with a token that must sign. `secret` is the
/// unwrapped HMAC key; `now` is Unix seconds.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    headers: &HeaderMap,
    method: &str,
    path_and_query: &str,
    digest: Option<&BodyDigest>,
    token: uuid::Uuid,
    secret: &str,
    nonces: &NonceCache,
    now: i64,
) -> Result<(), ApiError> {
    let timestamp = header(headers, TIMESTAMP_HEADER)?;
    let nonce = header(headers, NONCE_HEADER)?;
    let signature = header(headers, SIGNATURE_HEADER)?;
    let digest = digest.ok_or_else(|| bad("request body was not digested"))?;
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| bad("X-ZZ-Timestamp must be Unix seconds"))?;
    if (now - ts).abs() > REPLAY_WINDOW_SECS {
        return Err(bad("X-ZZ-Timestamp is outside the 300-second window"));
    }
    if !(16..=64).contains(&nonce.len())
        || !nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad(
            "X-ZZ-Nonce must be 16 to 64 characters of A-Z a-z 0-9 - _",
        ));
    }
    let want = sign(
        secret,
        &string_to_sign(method, path_and_query, timestamp, nonce, &digest.0),
    )?;
    let ok: bool =
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), signature.to_ascii_lowercase().as_bytes())
            .into();
    if !ok {
        return Err(bad("signature does not match"));
    }
    // Only a verified request may use up a nonce: otherwise anyone could
    // fill the cache or burn a client's nonces.
    if !nonces.claim(token, nonce, now)? {
        return Err(bad("nonce already used"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(ts: i64, nonce: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            TIMESTAMP_HEADER,
            HeaderValue::from_str(&ts.to_string()).unwrap(),
        );
        h.insert(NONCE_HEADER, HeaderValue::from_str(nonce).unwrap());
        h.insert(SIGNATURE_HEADER, HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn signatures_bind_every_part_and_replays_fail() {
        let secret = "zzs_00112233";
        let body = body_sm3_hex(b"{\"a\":1}");
        let digest = BodyDigest(body.clone());
        let nonces = NonceCache::default();
        let token = uuid::Uuid::now_v7();
        let now = 1_800_000_000;
        let nonce = "n0nce-0000000001";
        let sig = sign(
            secret,
            &string_to_sign("POST", "/api/v1/x?y=1", &now.to_string(), nonce, &body),
        )
        .unwrap();
        let check = |h: &HeaderMap, m: &str, p: &str, d: &BodyDigest, t: i64| {
            verify(h, m, p, Some(d), token, secret, &nonces, t)
        };
        let h = headers(now, nonce, &sig);
        // Any change to method, path, query or body fails.
        assert!(check(&h, "PUT", "/api/v1/x?y=1", &digest, now).is_err());
        assert!(check(&h, "POST", "/api/v1/x?y=2", &digest, now).is_err());
        assert!(
            check(
                &h,
                "POST",
                "/api/v1/x?y=1",
                &BodyDigest(body_sm3_hex(b"{}")),
                now
            )
            .is_err()
        );
        // Outside the window fails; inside succeeds once, then is a replay.
        assert!(check(&h, "POST", "/api/v1/x?y=1", &digest, now + 301).is_err());
        check(&h, "POST", "/api/v1/x?y=1", &digest, now + 299).unwrap();
        let replay = check(&h, "POST", "/api/v1/x?y=1", &digest, now + 10);
        assert!(matches!(replay, Err(ApiError::BadSignature(m)) if m.contains("nonce")));
        // Wrong key.
        let forged = sign(
            "zzs_other",
            &string_to_sign("POST", "/p", &now.to_string(), "n0nce-0000000002", &body),
        )
        .unwrap();
        assert!(
            check(
                &headers(now, "n0nce-0000000002", &forged),
                "POST",
                "/p",
                &digest,
                now
            )
            .is_err()
        );
        // The SM3 of "abc" (GB/T 32905 appendix A) is what clients hash with.
        assert_eq!(
            body_sm3_hex(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }
}
