//! The region's identity provider, spoken to with OpenID Connect (the
//! `openidconnect` crate): discovery, the authorization request with PKCE
//! (S256), the code exchange with the client's secret, and the ID token's
//! checks (signature by the provider's published keys, issuer, audience,
//! expiry, nonce). The sign-in's state machine is the core's
//! (`zhengzhao_core::holder_sign_in`); this is only the protocol.
//!
//! The provider's metadata and keys are fetched when first needed and again
//! after an hour, or at once when an ID token is signed by a key not yet
//! known (the provider rotated its keys). Redirects are not followed: the
//! URLs come from the provider's own metadata, and following them would
//! let a response steer the library's requests elsewhere.

use crate::config::HolderOidc;
use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, ClaimsVerificationError, Client,
    ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IdToken, IdTokenFields, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, StandardErrorResponse, StandardTokenResponse,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use zhengzhao_core::holder_sign_in::{IdentityProvider, VerifiedIdentity};
use zhengzhao_core::{Error, Result};

/// Metadata older than this is fetched again before use.
const REDISCOVER_AFTER: Duration = Duration::from_secs(3600);
/// A provider that does not answer within this time fails the sign-in.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Every claim of the ID token beyond the standard ones: the configuration
/// names which carry the holder's id and id type.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type HolderIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type HolderTokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type HolderClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    HolderTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The identity provider of `--holder-oidc-issuer`.
pub struct OidcProvider {
    settings: HolderOidc,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: openidconnect::reqwest::Client,
    discovered: tokio::sync::RwLock<Option<(CoreProviderMetadata, Instant)>>,
}

fn failed(why: String) -> Error {
    Error::SignInFailed(why)
}

impl OidcProvider {
    /// A provider for these settings; `callback_url` is this library's
    /// `…/api/v1/holder/sign-in/callback`, registered with the provider.
    pub fn new(settings: HolderOidc, callback_url: &str) -> std::result::Result<Self, String> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| format!("holder OIDC issuer '{}': {e}", settings.issuer))?;
        let redirect = RedirectUrl::new(callback_url.to_owned())
            .map_err(|e| format!("holder sign-in callback URL '{callback_url}': {e}"))?;
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| format!("HTTP client for the identity provider: {e}"))?;
        Ok(Self {
            settings,
            issuer,
            redirect,
            http,
            discovered: tokio::sync::RwLock::new(None),
        })
    }

    /// The provider's metadata (with its keys): cached, or fetched when
    /// stale or when `fresh` is asked for.
    async fn metadata(&self, fresh: bool) -> Result<CoreProviderMetadata> {
        if !fresh
            && let Some((m, at)) = self.discovered.read().await.as_ref()
            && at.elapsed() < REDISCOVER_AFTER
        {
            return Ok(m.clone());
        }
        let m = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(issuer = %self.issuer.as_str(), error = %e, "identity provider discovery failed");
                Error::Unavailable(format!(
                    "the identity provider cannot be reached / 统一身份认证服务暂不可用: {e}"
                ))
            })?;
        *self.discovered.write().await = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    fn client(&self, metadata: CoreProviderMetadata) -> HolderClient {
        Client::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    fn verify<'t>(
        client: &HolderClient,
        id_token: &'t HolderIdToken,
        nonce: &str,
        now: jiff::Timestamp,
    ) -> std::result::Result<
        &'t openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>,
        ClaimsVerificationError,
    > {
        let now = chrono::DateTime::from_timestamp(now.as_second(), 0).unwrap_or_default();
        let verifier = client.id_token_verifier().set_time_fn(move || now);
        id_token.claims(&verifier, &Nonce::new(nonce.to_owned()))
    }

    /// A claim the configuration names, as text.
    fn claim(&self, claims: &OtherClaims, name: &str) -> Result<String> {
        claims
            .claims
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| failed(format!("the ID token has no text claim '{name}'")))
    }
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<String> {
        let client = self.client(self.metadata(false).await?);
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            pkce_verifier.to_owned(),
        ));
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let (url, _, _) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.to_string())
    }

    async fn redeem(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
        now: jiff::Timestamp,
    ) -> Result<VerifiedIdentity> {
        let client = self.client(self.metadata(false).await?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| failed(format!("the identity provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                failed(format!(
                    "the identity provider did not redeem the code: {e}"
                ))
            })?;
        let id_token = openidconnect::TokenResponse::id_token(&response)
            .ok_or_else(|| failed("the identity provider sent no ID token".into()))?;
        let claims = match Self::verify(&client, id_token, nonce, now) {
            // Signed by a key not yet known: the provider may have rotated
            // its keys since they were fetched.
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                let client = self.client(self.metadata(true).await?);
                Self::verify(&client, id_token, nonce, now)
            }
            other => other,
        }
        .map_err(|e| failed(format!("the ID token did not verify: {e}")))?;
        Ok(VerifiedIdentity {
            subject: claims.subject().to_string(),
            holder_id_type: self.claim(claims.additional_claims(), &self.settings.id_type_claim)?,
            holder_id: self.claim(claims.additional_claims(), &self.settings.id_claim)?,
        })
    }
}
