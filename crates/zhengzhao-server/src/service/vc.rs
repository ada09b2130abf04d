//! Interop export (issue 5 §6): a license as a W3C Verifiable Credential 2.0
//! with an `eddsa-jcs-2022` Data Integrity proof by the issuing org's
//! Ed25519 key, beside (not instead of) the SM2-signed document.
//!
//! The org's Ed25519 key is derived from the master key and the org code
//! (SM3 of both, as the seed): nothing more to store or back up, and the same
//! key after a restore. Its public half is published as a Multikey at
//! `/api/v1/orgs/{code}/vc-key`, the proof's `verificationMethod`.
//!
//! Proof (W3C vc-di-eddsa, eddsa-jcs-2022): hash = SHA-256(JCS(proof
//! options)) ‖ SHA-256(JCS(credential without proof)); the Ed25519 signature
//! of that, multibase base58btc, is the `proofValue`.

use super::Library;
use crate::error::{ApiError, ApiResult};
use serde_json::{Value, json};
use zhengzhao_crypto::ed25519::{VcKey, multibase_base58btc, sha256};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{LicenseRecord, LicenseVersionRecord};

fn jcs(v: &Value) -> ApiResult<String> {
    zhengzhao_crypto::canonical_json_value(v).map_err(|e| ApiError::Internal(e.to_string()))
}

impl Library {
    fn vc_key(&self, org: &OrgCode) -> ApiResult<VcKey> {
        let master = self.master_key()?;
        let seed = zhengzhao_crypto::sm3(
            &[
                b"zhengzhao vc ed25519 v1".as_slice(),
                &master.to_bytes(),
                org.as_str().as_bytes(),
            ]
            .concat(),
        );
        Ok(VcKey::from_seed(&seed))
    }

    pub fn vc_key_id(&self, org: &OrgCode) -> String {
        format!("{}/api/v1/orgs/{org}/vc-key", self.public_url)
    }

    /// The org's Ed25519 key as a Multikey document.
    pub fn vc_key_document(&self, org: &OrgCode) -> ApiResult<Value> {
        let key = self.vc_key(org)?;
        let id = self.vc_key_id(org);
        Ok(json!({
            "@context": ["https://w3id.org/security/multikey/v1"],
            "id": id,
            "type": "Multikey",
            "controller": format!("{}/api/v1/orgs/{org}", self.public_url),
            "publicKeyMultibase": key.public_key_multibase(),
        }))
    }

    /// The credential for one version, with its proof.
    pub async fn license_vc(
        &self,
        l: &LicenseRecord,
        v: &LicenseVersionRecord,
    ) -> ApiResult<Value> {
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        let issuer = self
            .cached_org(&l.issuer)
            .await?
            .ok_or_else(|| ApiError::Internal("issuer vanished".into()))?;
        let base = &self.public_url;
        let status_url = self.status_list_url();
        let mut credential = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": format!("{base}/verify/{}", v.license_id),
            "type": ["VerifiableCredential", "ElectronicLicenseCredential"],
            "issuer": {
                "id": format!("{base}/api/v1/orgs/{}", issuer.code),
                "name": issuer.name,
                "creditCode": issuer.credit_code,
            },
            "validFrom": format!("{}T00:00:00+08:00", v.valid_from),
            "credentialSubject": {
                "licenseId": v.license_id,
                "version": v.version,
                "licenseType": {"code": l.type_code, "name": t.map(|t| t.spec.draft().name.clone()).unwrap_or_default()},
                "licenseNumber": v.license_number,
                "holder": {"name": v.holder.name, "idType": v.holder.id_type, "id": v.holder.id},
                "face": v.face,
            },
            "credentialStatus": {
                "id": format!("{status_url}#{}", l.key),
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": l.key.to_string(),
                "statusListCredential": status_url,
            },
            "relatedResource": [{
                "id": format!("{base}/api/v1/licenses/{}/document", v.license_id),
                "mediaType": "application/json",
                "description": "the SM2-signed document (GB/T 38540 style), the license of record",
            }],
        });
        if let (Some(until), Some(obj)) = (v.valid_until, credential.as_object_mut()) {
            obj.insert(
                "validUntil".into(),
                json!(format!("{until}T23:59:59+08:00")),
            );
        }
        let key = self.vc_key(&issuer.code)?;
        let mut proof = json!({
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": super::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "verificationMethod": self.vc_key_id(&issuer.code),
            "proofPurpose": "assertionMethod",
            "@context": credential["@context"].clone(),
        });
        let mut hash = sha256(jcs(&proof)?.as_bytes()).to_vec();
        hash.extend_from_slice(&sha256(jcs(&credential)?.as_bytes()));
        let signature = key.sign(&hash);
        if let Some(p) = proof.as_object_mut() {
            p.insert("proofValue".into(), json!(multibase_base58btc(&signature)));
        }
        if let Some(obj) = credential.as_object_mut() {
            obj.insert("proof".into(), proof);
        }
        Ok(credential)
    }
}
