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

use crate::Error;
use hmac::{Hmac, KeyInit, Mac};
use sm3::{Digest, Sm3};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use zhengzhao_store::{Store, StoreError};

pub const SIGNING_SECRET_PREFIX: &str = "zzs_";
pub const TIMESTAMP_HEADER: &str = "x-zz-timestamp";
pub const NONCE_HEADER: &str = "x-zz-nonce";
pub const SIGNATURE_HEADER: &str = "x-zz-signature";
/// A channel's request for a holder it authenticated: `{id_type}:{id}`,
/// covered by the signature as one more line of the signed text.
pub const ON_BEHALF_OF_HEADER: &str = "x-zz-on-behalf-of";
/// How far a request's timestamp may be from the server's clock.
pub const REPLAY_WINDOW_SECS: i64 = 300;

/// A fresh HMAC key, shown once to the client.
pub fn generate_signing_secret() -> Result<String, Error> {
    Ok(format!(
        "{SIGNING_SECRET_PREFIX}{}",
        crate::secrets::random_hex(32)?
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

/// [`string_to_sign`], and when the request names a holder
/// (`X-ZZ-On-Behalf-Of`), its value as one more line: the holder a channel
/// acts for cannot be changed without breaking the signature.
pub fn string_to_sign_for(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body_sm3_hex: &str,
    on_behalf_of: Option<&str>,
) -> String {
    let base = string_to_sign(method, path_and_query, timestamp, nonce, body_sm3_hex);
    match on_behalf_of {
        Some(holder) => format!("{base}\n{holder}"),
        None => base,
    }
}

/// HMAC-SM3 of `text` under `secret`, in hex: what a client sends.
pub fn sign(secret: &str, text: &str) -> Result<String, Error> {
    let mut mac = Hmac::<Sm3>::new_from_slice(secret.as_bytes())
        .map_err(|e| Error::Internal(format!("hmac key: {e}")))?;
    mac.update(text.as_bytes());
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// The SM3 of a signed request's body, computed by the frontend before the
/// body is parsed (the HTTP crate's `digest_signed_bodies`).
#[derive(Debug, Clone)]
pub struct BodyDigest(pub String);

/// The three signature headers as the request carried them (`None`: absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
    /// `X-ZZ-On-Behalf-Of`, when the request names a holder.
    pub on_behalf_of: Option<&'a str>,
}

/// When this process last purged expired nonces from the store. The
/// nonces themselves live in the store (`Store::use_request_nonce`), shared
/// by every node on the database and kept across restarts.
#[derive(Default)]
pub struct NonceCache {
    next_purge: AtomicI64,
}

/// How often expired nonces are purged, at most (seconds).
const PURGE_EVERY_SECS: i64 = 60;

impl NonceCache {
    /// Use up `nonce` for `token` for the rest of its replay window: refused
    /// if this token used it before, here, on another node or before a
    /// restart. Now and then, expired nonces are purged in the background.
    pub async fn claim(
        &self,
        store: &Arc<dyn Store>,
        token: uuid::Uuid,
        nonce: &str,
        now: i64,
    ) -> Result<(), Error> {
        let at = |secs: i64| {
            jiff::Timestamp::from_second(secs).map_err(|e| Error::Internal(format!("clock: {e}")))
        };
        match store
            .use_request_nonce(token, nonce, at(now + 2 * REPLAY_WINDOW_SECS)?, at(now)?)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(bad("nonce already used")),
            Err(e) => return Err(e.into()),
        }
        let due = self.next_purge.load(Ordering::Relaxed);
        if now >= due
            && self
                .next_purge
                .compare_exchange(
                    due,
                    now + PURGE_EVERY_SECS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            let (store, now) = (store.clone(), at(now)?);
            tokio::spawn(async move {
                if let Err(e) = store.purge_request_nonces(now).await {
                    tracing::warn!(error = %e, "purging expired request nonces failed");
                }
            });
        }
        Ok(())
    }
}

fn bad(reason: &str) -> Error {
    Error::BadSignature(reason.to_owned())
}

fn header<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, Error> {
    value.ok_or_else(|| {
        bad(&format!(
            "this token must sign its requests: {name} is missing"
        ))
    })
}

/// Check a request made with a token that must sign. `secret` is the
/// unwrapped HMAC key; `now` is Unix seconds. Returns the nonce, which the
/// caller then claims ([`NonceCache::claim`]): only a verified request may
/// use up a nonce, otherwise anyone could burn a client's nonces.
pub fn verify<'h>(
    headers: &SignatureHeaders<'h>,
    method: &str,
    path_and_query: &str,
    digest: Option<&BodyDigest>,
    secret: &str,
    now: i64,
) -> Result<&'h str, Error> {
    let timestamp = header(headers.timestamp, TIMESTAMP_HEADER)?;
    let nonce = header(headers.nonce, NONCE_HEADER)?;
    let signature = header(headers.signature, SIGNATURE_HEADER)?;
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
        &string_to_sign_for(
            method,
            path_and_query,
            timestamp,
            nonce,
            &digest.0,
            headers.on_behalf_of,
        ),
    )?;
    let ok: bool =
        subtle::ConstantTimeEq::ct_eq(want.as_bytes(), signature.to_ascii_lowercase().as_bytes())
            .into();
    if !ok {
        return Err(bad("signature does not match"));
    }
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owned header values; [`SignatureHeaders`] borrows from them.
    fn headers(ts: i64, nonce: &str, sig: &str) -> [String; 3] {
        [ts.to_string(), nonce.to_owned(), sig.to_owned()]
    }

    fn view(h: &[String; 3]) -> SignatureHeaders<'_> {
        SignatureHeaders {
            timestamp: Some(&h[0]),
            nonce: Some(&h[1]),
            signature: Some(&h[2]),
            on_behalf_of: None,
        }
    }

    #[test]
    fn signatures_bind_every_part() {
        let secret = "zzs_00112233";
        let body = body_sm3_hex(b"{\"a\":1}");
        let digest = BodyDigest(body.clone());
        let now = 1_800_000_000;
        let nonce = "n0nce-0000000001";
        let sig = sign(
            secret,
            &string_to_sign("POST", "/api/v1/x?y=1", &now.to_string(), nonce, &body),
        )
        .unwrap();
        let check = |h: &[String; 3], m: &str, p: &str, d: &BodyDigest, t: i64| {
            verify(&view(h), m, p, Some(d), secret, t).map(str::to_owned)
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
        // Outside the window fails; inside succeeds and names the nonce to
        // claim (replays: `tests/api/signed_requests.rs` and the store's
        // conformance suite).
        assert!(check(&h, "POST", "/api/v1/x?y=1", &digest, now + 301).is_err());
        assert_eq!(
            check(&h, "POST", "/api/v1/x?y=1", &digest, now + 299).unwrap(),
            nonce
        );
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
