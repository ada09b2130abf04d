//! Capabilities: tokens that are themselves the grant — a presentation code,
//! a counter's consent request, an annotated copy's link. The claims are
//! JSON, MACed (HMAC-SM3) under a key derived from the master key and the
//! token's purpose, written `base64url(claims).base64url(mac)`; nothing is
//! stored until one is used. One purpose's token never opens as another's.

use crate::{Error, Library, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;

impl Library {
    fn capability_mac(&self, purpose: &[u8], body: &[u8]) -> Result<Vec<u8>> {
        let key = zhengzhao_crypto::sm3(&[purpose, &self.master_key()?.to_bytes()].concat());
        let mut mac = hmac::Hmac::<sm3::Sm3>::new_from_slice(&key)
            .map_err(|e| Error::Internal(e.to_string()))?;
        mac.update(body);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// A token for `claims`, for `purpose` (e.g. `b"zhengzhao copy v1"`).
    pub(crate) fn seal_capability<T: Serialize>(
        &self,
        purpose: &[u8],
        claims: &T,
    ) -> Result<String> {
        let body = serde_json::to_vec(claims).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(format!(
            "{}.{}",
            B64URL.encode(&body),
            B64URL.encode(self.capability_mac(purpose, &body)?)
        ))
    }

    /// The claims of a genuine token of `purpose`; `None` for anything
    /// else (longer than `max_len`, malformed, altered, another purpose's).
    pub(crate) fn open_capability<T: DeserializeOwned>(
        &self,
        purpose: &[u8],
        token: &str,
        max_len: usize,
    ) -> Result<Option<T>> {
        if token.len() > max_len {
            return Ok(None);
        }
        let Some((body, sig)) = token.split_once('.') else {
            return Ok(None);
        };
        let (Ok(body), Ok(sig)) = (B64URL.decode(body), B64URL.decode(sig)) else {
            return Ok(None);
        };
        let want = self.capability_mac(purpose, &body)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            want.as_slice(),
            sig.as_slice(),
        )) {
            return Ok(None);
        }
        Ok(serde_json::from_slice(&body).ok())
    }

    /// `payload` signed with the region's active key (SM2 with SM3): the
    /// signature in base64 and the signer's certificate (status lists,
    /// consent receipts, annotated copies).
    pub(crate) async fn sign_as_region(&self, payload: &[u8]) -> Result<(String, String)> {
        use base64::engine::general_purpose::STANDARD as B64;
        let region = zhengzhao_domain::org::OrgCode::parse(zhengzhao_domain::org::REGION_CODE)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let org = self
            .cached_org(&region)
            .await?
            .ok_or_else(|| Error::Internal("the region org is missing".into()))?;
        let key = self.signer_for(&org).await?;
        let signature = key
            .pair
            .sign(payload)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok((B64.encode(signature), key.certificate_pem.clone()))
    }
}
