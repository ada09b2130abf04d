//! Offline verification (issue 5 §5): a signed revocation status list in the
//! W3C Bitstring Status List shape, one bit per license, that a verifier
//! caches and checks without telling the library which license it checks;
//! and the issuers' certificates with the root, at stable URLs.
//!
//! A license's status index is its license key (a number assigned once, in
//! issuance order); its signed document names the index and the list's URL.
//! Bit `i` is the `i`-th bit counting from the most significant bit of the
//! first byte, as the W3C recommendation orders them. The list is at least
//! 131,072 bits (16 KiB), the recommendation's floor for herd privacy.

use super::{Library, now};
use crate::error::{ApiError, ApiResult};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};

/// Bits in the smallest list.
pub const MIN_BITS: usize = 131_072;
/// A list is rebuilt at most this often, and at once after a revocation here.
const LIST_TTL: Duration = Duration::from_secs(60);

/// The signed list: the credential, an SM2 signature by the region over its
/// RFC 8785 canonical form, and the certificate to check it with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusListView {
    #[schema(value_type = Object)]
    pub credential: Value,
    /// Base64 of the DER SM2-with-SM3 signature over the canonical credential.
    pub signature: String,
    pub certificate: String,
}

#[derive(Default)]
pub struct StatusListCache {
    list: Mutex<Option<(Instant, Arc<StatusListView>)>>,
}

/// The bitstring with these bits set, gzip-compressed, multibase base64url.
pub fn encode_bits(len: usize, set: &[i64]) -> ApiResult<String> {
    let mut bytes = vec![0u8; len.div_ceil(8)];
    for &i in set {
        let Ok(i) = usize::try_from(i) else { continue };
        if let Some(b) = bytes.get_mut(i / 8) {
            *b |= 0x80 >> (i % 8);
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let packed = gz.finish().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(format!("u{}", URL_SAFE_NO_PAD.encode(packed)))
}

impl Library {
    pub fn status_list_url(&self) -> String {
        format!("{}/api/v1/status-list", self.public_url)
    }

    /// Forget the built list (after a revocation).
    pub(crate) fn status_list_changed(&self) {
        if let Ok(mut l) = self.status_list.list.lock() {
            *l = None;
        }
    }

    pub async fn status_list(&self) -> ApiResult<Arc<StatusListView>> {
        if let Ok(l) = self.status_list.list.lock()
            && let Some((at, view)) = l.as_ref()
            && at.elapsed() < LIST_TTL
        {
            return Ok(view.clone());
        }
        let (max, revoked) = self.store.license_status_summary().await?;
        let len = usize::try_from(max + 1)
            .unwrap_or(0)
            .div_ceil(MIN_BITS)
            .max(1)
            * MIN_BITS;
        let url = self.status_list_url();
        let credential = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": format!("{}/api/v1/orgs/{REGION_CODE}", self.public_url),
            "validFrom": now().to_string(),
            "credentialSubject": {
                "id": format!("{url}#list"),
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": encode_bits(len, &revoked)?,
            }
        });
        let text = zhengzhao_crypto::canonical_json_value(&credential)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let region = OrgCode::parse(REGION_CODE).map_err(|e| ApiError::Internal(e.to_string()))?;
        let org = self
            .cached_org(&region)
            .await?
            .ok_or_else(|| ApiError::Internal("the region org is missing".into()))?;
        let key = self.signer_for(&org).await?;
        let signature = key
            .pair
            .sign(text.as_bytes())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let view = Arc::new(StatusListView {
            credential,
            signature: B64.encode(signature),
            certificate: key.certificate_pem.clone(),
        });
        if let Ok(mut l) = self.status_list.list.lock() {
            *l = Some((Instant::now(), view.clone()));
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn bits_count_from_the_left_of_the_first_byte() {
        let text = encode_bits(MIN_BITS, &[0, 9, 131_071, 131_072, -1]).unwrap();
        let packed = URL_SAFE_NO_PAD
            .decode(text.strip_prefix('u').unwrap())
            .unwrap();
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len(), MIN_BITS / 8);
        assert_eq!(bytes[0], 0x80);
        assert_eq!(bytes[1], 0x40);
        assert_eq!(bytes[MIN_BITS / 8 - 1], 0x01);
        assert_eq!(bytes.iter().map(|b| b.count_ones()).sum::<u32>(), 3);
    }
}
