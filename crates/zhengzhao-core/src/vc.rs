//! Interop export (issue 5 §6, issue 11 §3): a license as a W3C Verifiable
//! Credential 2.0 with an `eddsa-jcs-2022` Data Integrity proof by the
//! issuing org's Ed25519 key, beside (not instead of) the SM2-signed
//! document; and everything a standard verifier fetches to check it.
//!
//! The org's Ed25519 key is derived from the master key and the org code
//! (SM3 of both, as the seed): nothing more to store or back up, and the same
//! key after a restore. What a verifier (Digital Bazaar's `@digitalbazaar/vc`,
//! checked by `tests/api/vc.rs` with `tools/vc-verifier`) dereferences:
//! - the proof's `verificationMethod`, `/api/v1/orgs/{code}/vc-key`: the key
//!   as a Multikey whose `controller` is
//! - `/api/v1/orgs/{code}/controller`: a controller document listing the key
//!   under `assertionMethod`. It is also the credential's `issuer.id` (the
//!   verifier requires the two to match).
//! - `/ns/license/v1`: the JSON-LD context of the license vocabulary
//!   (`contexts/license-v1.jsonld`, compiled in). VC 2.0 has no `@vocab`, so
//!   without it every license term would be dropped by JSON-LD processors;
//!   the face, whose fields differ per license type, is a JSON literal.
//! - the status list credentials of `credentialStatus`: Bitstring Status
//!   Lists, signed like the license by the issuing org (the verifier requires
//!   the list's issuer to be the credential's), with a validity window.
//!
//! There is no `relatedResource`: VC 2.0 requires a digest with it, and the
//! SM2 document as served is not one fixed byte string (it carries the
//! certificate and is masked per reader), so no digest of it would hold.
//!
//! Proof (W3C vc-di-eddsa, eddsa-jcs-2022): hash = SHA-256(JCS(proof
//! options)) ‖ SHA-256(JCS(credential without proof)); the Ed25519 signature
//! of that, multibase base58btc, is the `proofValue`.

use super::Library;
use super::status_list::StatusPurpose;
use crate::{Error, Result};
use jiff::Timestamp;
use serde_json::{Value, json};
use zhengzhao_crypto::ed25519::{VcKey, multibase_base58btc, sha256};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{LicenseRecord, LicenseVersionRecord};

/// The VC 2.0 base context.
pub const CREDENTIALS_V2: &str = "https://www.w3.org/ns/credentials/v2";
/// The license vocabulary, served at `/ns/license/v1`; `tools/vc-verifier`
/// bundles this same file.
pub const LICENSE_CONTEXT: &str = include_str!("../contexts/license-v1.jsonld");

fn jcs(v: &Value) -> Result<String> {
    zhengzhao_crypto::canonical_json_value(v).map_err(|e| Error::Internal(e.to_string()))
}

/// An XSD dateTimeStamp to the second, as the proof and the lists carry.
fn xsd_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Library {
    fn vc_key(&self, org: &OrgCode) -> Result<VcKey> {
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

    pub fn license_context_url(&self) -> String {
        self.urls.license_context()
    }

    pub fn vc_key_id(&self, org: &OrgCode) -> String {
        self.urls.org_vc_key(org.as_str())
    }

    /// The org as the controller of its key and the issuer of its credentials.
    pub fn vc_controller_id(&self, org: &OrgCode) -> String {
        self.urls.org_controller(org.as_str())
    }

    /// Where a credential of `org` finds the status list for `purpose`.
    pub fn status_list_credential_url(&self, org: &OrgCode, purpose: StatusPurpose) -> String {
        self.urls
            .org_status_list_credential(org.as_str(), purpose.as_str())
    }

    /// Where the region's copy of the list for `purpose` is: beside its
    /// SM2-signed form.
    pub fn library_status_list_credential_url(&self, purpose: StatusPurpose) -> String {
        self.urls.region_status_list_credential(purpose.as_str())
    }

    /// The org's Ed25519 key as a Multikey document.
    pub fn vc_key_document(&self, org: &OrgCode) -> Result<Value> {
        let key = self.vc_key(org)?;
        Ok(json!({
            "@context": ["https://w3id.org/security/multikey/v1"],
            "id": self.vc_key_id(org),
            "type": "Multikey",
            "controller": self.vc_controller_id(org),
            "publicKeyMultibase": key.public_key_multibase(),
        }))
    }

    /// The org's controller document (W3C Controlled Identifiers; the DID
    /// v1 context defines its terms, the Multikey context the key's): the
    /// key may assert credentials on the org's behalf.
    pub fn vc_controller_document(&self, org: &OrgCode) -> Result<Value> {
        let mut key = self.vc_key_document(org)?;
        if let Some(k) = key.as_object_mut() {
            k.remove("@context");
        }
        let key_id = self.vc_key_id(org);
        Ok(json!({
            "@context": [
                "https://www.w3.org/ns/did/v1",
                "https://w3id.org/security/multikey/v1",
            ],
            "id": self.vc_controller_id(org),
            "verificationMethod": [key],
            "assertionMethod": [key_id],
        }))
    }

    /// `credential` with an eddsa-jcs-2022 proof by `org`'s key added.
    fn add_vc_proof(
        &self,
        org: &OrgCode,
        mut credential: Value,
        created: Timestamp,
    ) -> Result<Value> {
        let key = self.vc_key(org)?;
        let mut proof = json!({
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-jcs-2022",
            "created": xsd_time(created),
            "verificationMethod": self.vc_key_id(org),
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

    /// The credential for one version, with its proof.
    pub async fn license_vc(&self, l: &LicenseRecord, v: &LicenseVersionRecord) -> Result<Value> {
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        let issuer = self
            .cached_org(&l.issuer)
            .await?
            .ok_or_else(|| Error::Internal("issuer vanished".into()))?;
        let index = v.status_index.to_string();
        let status_entry = |purpose: StatusPurpose| {
            let list = self.status_list_credential_url(&issuer.code, purpose);
            json!({
                "id": format!("{list}#{index}"),
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose.as_str(),
                "statusListIndex": index,
                "statusListCredential": list,
            })
        };
        let mut credential = json!({
            "@context": [CREDENTIALS_V2, self.license_context_url()],
            "id": self.urls.verify_page(&v.license_id.to_string()),
            "type": ["VerifiableCredential", "ElectronicLicenseCredential"],
            "issuer": {
                "id": self.vc_controller_id(&issuer.code),
                "name": issuer.name,
                "creditCode": issuer.credit_code,
            },
            "validFrom": format!("{}T00:00:00+08:00", v.valid_from),
            "credentialSubject": {
                "licenseId": v.license_id,
                "version": v.version,
                "licenseType": {"code": l.type_code, "name": t.map(|t| t.spec.draft().name.clone()).unwrap_or_default()},
                "licenseNumber": v.license_number,
                "holder": {"name": v.holder.name, "idType": v.holder.id_type, "idNumber": v.holder.id},
                "face": v.face,
            },
            "credentialStatus": [
                status_entry(StatusPurpose::Revocation),
                status_entry(StatusPurpose::Suspension),
            ],
        });
        if let (Some(until), Some(obj)) = (v.valid_until, credential.as_object_mut()) {
            obj.insert(
                "validUntil".into(),
                json!(format!("{until}T23:59:59+08:00")),
            );
        }
        self.add_vc_proof(&issuer.code, credential, self.now())
    }

    /// A W3C `BitstringStatusListCredential` at `url` for `encoded_list`
    /// (gzip, multibase base64url), issued and signed by `org`, valid in the
    /// list's window. The proof's `created` is the list's `valid_from`, so
    /// the same list gives the same bytes (Ed25519 is deterministic).
    pub fn status_list_credential(
        &self,
        org: &OrgCode,
        url: &str,
        purpose: StatusPurpose,
        encoded_list: &str,
        valid_from: Timestamp,
        valid_until: Timestamp,
    ) -> Result<Value> {
        let credential = super::status_list::list_credential(
            url,
            &self.vc_controller_id(org),
            purpose.as_str(),
            encoded_list,
            xsd_time(valid_from),
            xsd_time(valid_until),
        );
        self.add_vc_proof(org, credential, valid_from)
    }

    /// `org`'s signed copy of the library's list for `purpose`, at `url`.
    pub async fn org_status_list_credential(
        &self,
        org: &OrgCode,
        url: &str,
        purpose: StatusPurpose,
    ) -> Result<Value> {
        let lists = self.status_lists().await?;
        self.status_list_credential(
            org,
            url,
            purpose,
            lists.encoded(purpose),
            lists.valid_from,
            lists.valid_until,
        )
    }
}
