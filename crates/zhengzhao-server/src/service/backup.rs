//! What a restore checks before it reports success: besides the audit log
//! (`audit_log::verify_audit`), every signature of every license version.

use super::Library;
use crate::error::ApiResult;
use std::collections::HashMap;
use zhengzhao_crypto::sm2sig::PublicKey;
use zhengzhao_store::LicenseFilter;

/// What `verify_license_signatures` found.
#[derive(Debug, Clone, Default)]
pub struct SignatureReport {
    pub licenses: u64,
    pub versions: u64,
    /// The first version whose signature does not verify, if any.
    pub problem: Option<String>,
}

impl Library {
    /// Check every stored license version's signature over its payload
    /// against the public key it names (no master key needed).
    pub async fn verify_license_signatures(&self) -> ApiResult<SignatureReport> {
        let mut report = SignatureReport::default();
        let mut keys: HashMap<uuid::Uuid, Option<PublicKey>> = HashMap::new();
        let mut before = None;
        loop {
            let page = self
                .store
                .licenses(&LicenseFilter::default(), before, 500)
                .await?;
            let Some(last) = page.last() else {
                return Ok(report);
            };
            before = Some(last.key);
            for license in &page {
                report.licenses += 1;
                for v in &license.versions {
                    if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(v.key_id) {
                        let key = self.store.signing_key(v.key_id).await?;
                        slot.insert(key.and_then(|k| PublicKey::from_sec1(&k.public_key).ok()));
                    }
                    let verified = keys
                        .get(&v.key_id)
                        .and_then(Option::as_ref)
                        .is_some_and(|pk| pk.verify(v.payload.as_bytes(), &v.signature).is_ok());
                    if !verified {
                        report.problem = Some(format!(
                            "license version {} does not verify under key {}",
                            v.license_id, v.key_id
                        ));
                        return Ok(report);
                    }
                    report.versions += 1;
                }
            }
        }
    }
}
