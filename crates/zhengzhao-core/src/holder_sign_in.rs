//! Holders signing in themselves, through the region's identity provider
//! (OpenID Connect, authorization code flow with PKCE), as the other way in
//! beside a channel acting for them (`holders`).
//!
//! The core keeps the state machine; the protocol itself (discovery, the
//! authorization URL, the code exchange, the ID token's signature, issuer,
//! audience, expiry and nonce) is an [`IdentityProvider`] the frontend
//! plugs in, since it needs an HTTP client (`zhengzhao_http::oidc`).
//!
//! 1. [`Library::begin_holder_sign_in`]: a random `state`, `nonce` and PKCE
//!    verifier; the state's hash, the nonce and the verifier are stored (for
//!    ten minutes); the browser gets the state in a cookie and is sent to
//!    the provider.
//! 2. [`Library::finish_holder_sign_in`]: the callback must bring back the
//!    same state in its query and in the cookie (so another site cannot
//!    finish a sign-in it started in this browser); the stored sign-in is
//!    taken, once; the provider redeems the code with the verifier and
//!    checks the ID token; its claims must name a holder by a valid unified
//!    social credit code or resident id. A session starts, audited as
//!    `holder.signed_in` under the holder.
//! 3. The session cookie is a bearer secret stored as its SM3 hash; unsafe
//!    requests also carry its CSRF token. It ends at the staff sessions'
//!    idle and absolute timeouts, or at [`Library::sign_out_holder`].
//!
//! A signed-in holder has no role and is accepted only on the holder's own
//! endpoints (`policy::require_holder`).

use crate::library::Actor;
use crate::principal::{HolderRef, HolderVia};
use crate::secrets::{random_hex, same_secret, token_hash};
use crate::{ActorId, Error, Library, Principal, Result};
use async_trait::async_trait;
use serde::Serialize;
use serde_json::json;
use sm3::Digest;
use std::time::Duration;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{ChangeLog, HolderSession, HolderSignIn};

/// The cookie of a holder's session.
pub const HOLDER_SESSION_COOKIE: &str = "zz_holder";
/// The cookie that binds a sign-in under way to the browser that began it.
pub const HOLDER_SIGN_IN_COOKIE: &str = "zz_holder_sign_in";
/// How long the provider may take to send the browser back.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(10 * 60);
const SESSION_PREFIX: &str = "zzh_";
/// Where the browser goes after signing in, unless it asked for a page.
const DEFAULT_RETURN_TO: &str = "/";

/// The protocol with the identity provider.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// The provider's issuer URL, as the audit log names it.
    fn issuer(&self) -> &str;

    /// Where to send the browser: the provider's authorization endpoint with
    /// this state and nonce, and the S256 challenge of `pkce_verifier`.
    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<String>;

    /// Redeem `code` with the PKCE verifier (and the client's secret), and
    /// verify the ID token: signature by the provider's keys, issuer,
    /// audience, expiry (at `now`) and `nonce`. `SignInFailed` otherwise.
    async fn redeem(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: jiff::Timestamp,
    ) -> Result<VerifiedIdentity>;
}

/// What a verified ID token says of the person signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    /// The provider's subject identifier (`sub`).
    pub subject: String,
    /// The holder's id type (`uscc` or `resident_id`) and id, from the
    /// claims the configuration names.
    pub holder_id_type: String,
    pub holder_id: String,
}

/// A sign-in begun: send the browser to `redirect_to`, with `state` in the
/// [`HOLDER_SIGN_IN_COOKIE`] cookie for [`SIGN_IN_TTL`].
#[derive(Debug)]
pub struct SignInStart {
    pub redirect_to: String,
    pub state: String,
}

/// What the provider sent back to the callback, and the browser's cookie.
#[derive(Debug, Default)]
pub struct SignInCallback<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    /// The provider's refusal (`error`, e.g. `access_denied`).
    pub error: Option<&'a str>,
    pub cookie_state: Option<&'a str>,
}

/// A session started: the cookie's value and where the browser goes now.
#[derive(Debug)]
pub struct SignedIn {
    pub session_secret: String,
    pub expires_at: jiff::Timestamp,
    pub return_to: String,
}

/// The signed-in holder as the holder's own pages see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HolderSessionView {
    /// `uscc` or `resident_id`.
    pub id_type: String,
    /// The holder's id (a resident id masked).
    pub holder: String,
    /// Send it as `X-CSRF-Token` with every POST.
    pub csrf_token: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: jiff::Timestamp,
    /// The identity provider that vouched for the holder.
    pub issuer: String,
}

/// A live holder session behind a cookie.
#[derive(Debug, Clone)]
pub struct HolderSessionCaller {
    pub principal: Principal,
    pub view: HolderSessionView,
    hash: Vec<u8>,
}

impl HolderSessionCaller {
    /// Whether `sent` is this session's CSRF token.
    pub fn csrf_matches(&self, sent: &str) -> bool {
        same_secret(sent, &self.view.csrf_token)
    }
}

/// A local path to return to after signing in: absolute on this site, not
/// `//host` or `/\host` (which browsers read as another site), printable.
fn local_path(return_to: Option<&str>) -> Result<String> {
    let Some(p) = return_to.filter(|p| !p.is_empty()) else {
        return Ok(DEFAULT_RETURN_TO.into());
    };
    // Long enough for a holder page that carries a counter's request
    // (`/holder/requests/{token}`, a token of at most 4 KiB).
    let ok = p.len() <= 4608
        && p.starts_with('/')
        && !p.starts_with("//")
        && !p.starts_with("/\\")
        && p.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(p.to_owned())
    } else {
        Err(Error::Malformed(
            "return_to must be a path on this site, such as /consent-requests/… / return_to应为本站路径".into(),
        ))
    }
}

fn failed(why: &str) -> Error {
    Error::SignInFailed(why.into())
}

fn after(at: jiff::Timestamp, d: Duration) -> Result<jiff::Timestamp> {
    let span = jiff::SignedDuration::try_from(d)
        .map_err(|e| Error::Internal(format!("duration {d:?}: {e}")))?;
    at.checked_add(span)
        .map_err(|e| Error::Internal(format!("time {at} + {d:?}: {e}")))
}

impl Library {
    fn identity_provider(&self) -> Result<&dyn IdentityProvider> {
        self.identity_provider.as_deref().ok_or_else(|| {
            Error::NotFound(
                "holder sign-in is not configured on this library (--holder-oidc-issuer) / 本库未配置持证主体统一身份认证登录".into(),
            )
        })
    }

    /// Begin a holder's sign-in at the identity provider.
    pub async fn begin_holder_sign_in(&self, return_to: Option<&str>) -> Result<SignInStart> {
        let provider = self.identity_provider()?;
        let return_to = local_path(return_to)?;
        let (state, nonce, verifier) = (random_hex(32)?, random_hex(16)?, random_hex(32)?);
        let redirect_to = provider
            .authorization_url(&state, &nonce, &verifier)
            .await?;
        let now = self.now();
        let sign_in = HolderSignIn {
            state_hash: token_hash(&state),
            nonce,
            pkce_verifier: verifier,
            return_to,
            created_at: now,
            expires_at: after(now, SIGN_IN_TTL)?,
        };
        self.store.add_holder_sign_in(&sign_in, now).await?;
        Ok(SignInStart { redirect_to, state })
    }

    /// Finish a sign-in from the provider's callback: start the holder's session.
    pub async fn finish_holder_sign_in(
        &self,
        callback: SignInCallback<'_>,
        client_addr: Option<String>,
    ) -> Result<SignedIn> {
        let provider = self.identity_provider()?;
        let state = callback
            .state
            .ok_or_else(|| failed("no state in the callback"))?;
        let same_browser = callback.cookie_state.is_some_and(|c| same_secret(c, state));
        if !same_browser {
            return Err(failed(
                "this browser did not begin the sign-in (its cookie is missing or differs)",
            ));
        }
        let now = self.now();
        // Taken before anything else: a state is answered once, refused or not.
        let sign_in = self
            .store
            .take_holder_sign_in(&token_hash(state), now)
            .await?
            .ok_or_else(|| failed("unknown, used or expired sign-in"))?;
        if let Some(error) = callback.error {
            let error: String = error.chars().take(64).collect();
            return Err(failed(&format!("the identity provider refused: {error}")));
        }
        let code = callback
            .code
            .ok_or_else(|| failed("no code in the callback"))?;
        let identity = provider
            .redeem(code, &sign_in.pkce_verifier, &sign_in.nonce, now)
            .await?;
        let holder = self
            .holder_ref(&format!(
                "{}:{}",
                identity.holder_id_type, identity.holder_id
            ))
            .map_err(|_| {
                failed("the ID token does not name a holder by a valid credit code or resident id")
            })?;
        self.start_holder_session(
            provider.issuer(),
            &identity,
            holder,
            client_addr,
            sign_in.return_to,
        )
        .await
    }

    async fn start_holder_session(
        &self,
        issuer: &str,
        identity: &VerifiedIdentity,
        holder: HolderRef,
        client_addr: Option<String>,
        return_to: String,
    ) -> Result<SignedIn> {
        let now = self.now();
        let secret = format!("{SESSION_PREFIX}{}", random_hex(32)?);
        let session = HolderSession {
            hash: token_hash(&secret),
            id: uuid::Uuid::now_v7(),
            id_type: holder.id_type.to_owned(),
            holder_key: holder.key.clone(),
            holder_shown: holder.shown.clone(),
            issuer: issuer.to_owned(),
            subject_sm3: hex::encode(sm3::Sm3::digest(identity.subject.as_bytes())),
            csrf_token: random_hex(16)?,
            created_at: now,
            last_seen_at: now,
            expires_at: after(now, self.session_policy.absolute_timeout)?,
            client_addr: client_addr.clone(),
            ended_at: None,
        };
        let principal = session_principal(&session, holder, client_addr);
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(&principal),
            "holder.signed_in",
            crate::holders::holder_target(&session.holder_key),
            json!({"issuer": issuer, "subject_sm3": session.subject_sm3, "session": session.id}),
        ));
        self.store.start_holder_session(&session, &log).await?;
        Ok(SignedIn {
            session_secret: secret,
            expires_at: session.expires_at,
            return_to,
        })
    }

    /// The holder behind a session cookie, if the session is live (not
    /// ended, not idle too long, not past its absolute end).
    pub async fn holder_session_caller(
        &self,
        secret: &str,
        client_addr: Option<String>,
    ) -> Result<Option<HolderSessionCaller>> {
        if !secret.starts_with(SESSION_PREFIX) || secret.len() != SESSION_PREFIX.len() + 64 {
            return Ok(None);
        }
        let hash = token_hash(secret);
        let Some(session) = self.store.holder_session(&hash).await? else {
            return Ok(None);
        };
        let at = self.now();
        let policy = self.session_policy;
        if at >= session.expires_at || at >= after(session.last_seen_at, policy.idle_timeout)? {
            return Ok(None);
        }
        // Activity is noted now and then, as for staff sessions.
        let touch_every = (policy.idle_timeout / 4).min(Duration::from_secs(60));
        if at >= after(session.last_seen_at, touch_every)? {
            self.store.touch_holder_session(&hash, at).await?;
        }
        let holder = HolderRef {
            id_type: if session.id_type == "uscc" {
                "uscc"
            } else {
                "resident_id"
            },
            key: session.holder_key.clone(),
            shown: session.holder_shown.clone(),
        };
        let view = HolderSessionView {
            id_type: session.id_type.clone(),
            holder: session.holder_shown.clone(),
            csrf_token: session.csrf_token.clone(),
            expires_at: session.expires_at,
            issuer: session.issuer.clone(),
        };
        Ok(Some(HolderSessionCaller {
            principal: session_principal(&session, holder, client_addr),
            view,
            hash,
        }))
    }

    /// End a holder's session (signing out).
    pub async fn sign_out_holder(&self, caller: &HolderSessionCaller) -> Result<()> {
        let principal = &caller.principal;
        let holder = crate::policy::require_holder(principal)?;
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(principal),
            "holder.signed_out",
            crate::holders::holder_target(&holder.key),
            json!({}),
        ));
        self.store
            .end_holder_session(&caller.hash, self.now(), &log)
            .await?;
        Ok(())
    }
}

/// The principal of a holder's session: the holder itself, no role.
fn session_principal(
    session: &HolderSession,
    holder: HolderRef,
    client_addr: Option<String>,
) -> Principal {
    Principal {
        actor: ActorId::Holder {
            via: HolderVia::SignIn(session.id),
            holder: holder.shown.clone(),
        },
        // A holder belongs to no org; audit events need one, and with no
        // role the region's code grants nothing.
        org: OrgCode::region(),
        roles: Vec::new(),
        client_addr,
        session: None,
        scenario: None,
        holder: Some(holder),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(local_path(None).ok().as_deref(), Some("/"));
        assert_eq!(
            local_path(Some("/api/v1/consent-requests/abc?x=1"))
                .ok()
                .as_deref(),
            Some("/api/v1/consent-requests/abc?x=1")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "/a b",
            "/\u{7f}",
        ] {
            assert!(local_path(Some(bad)).is_err(), "{bad}");
        }
    }
}
