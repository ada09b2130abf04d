//! Public check of a license by identifier (Art. 3 查询核验, Art. 12): the
//! hottest path of the library, answered to anyone without a token.
//!
//! What it says is public by design: status, type, issuer, validity, the
//! current version, whether the stored signature verifies, and the holder as
//! the public may know it (an organisation's name; a natural person's name
//! masked). Never face data, never an id number.
//!
//! Speed: SM2 verification (~0.2 ms) would dominate. Verification results are
//! kept in a bounded set keyed by SM3(key id ‖ payload ‖ signature): a hit
//! means "these exact bytes verified before", so an update, a revocation or
//! an edit of the stored row (which changes the bytes or adds a version)
//! never reuses a stale answer; the status itself is read fresh every time.

use super::Library;
use crate::licenses::{IssuerView, current_version, status_of};
use crate::{Error, Result};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use utoipa::ToSchema;
use zhengzhao_crypto::sm2sig::PublicKey;
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_store::{LicenseRecord, LicenseVersionRecord};

/// Verified (key, payload, signature) triples remembered at most.
pub const VERIFIED_CAPACITY: usize = 2_000_000;

/// The holder as the public may know them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublicHolder {
    /// `organization` or `natural_person`.
    pub kind: &'static str,
    /// An organisation's name (public under the credit publicity rules), or
    /// a natural person's name masked (张*).
    pub name: String,
}

/// The public answer about one identifier.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyResult {
    #[schema(value_type = String)]
    pub license_id: LicenseId,
    pub version: u16,
    /// `valid`, `superseded` (an older version), `revoked`, `expired` or `not_yet_valid`.
    pub status: &'static str,
    #[schema(value_type = String)]
    pub type_code: LicenseTypeCode,
    pub type_name: String,
    pub issuer: IssuerView,
    #[schema(value_type = String, format = Date)]
    pub valid_from: jiff::civil::Date,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<jiff::civil::Date>,
    #[schema(value_type = String)]
    pub current_license_id: LicenseId,
    pub current_version: u16,
    /// The stored signature of this version verifies under its issuer's key.
    pub signature_valid: bool,
    pub holder: PublicHolder,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub checked_at: jiff::Timestamp,
    /// Under objection (异议标注, Art. 19): an objection was accepted and
    /// is not decided yet; rely on the fields it concerns with care.
    pub under_objection: bool,
    /// The fields the open objections concern (empty when none).
    pub objection_fields: Vec<String>,
}

/// Public keys by key id, and the set of verified triples.
#[derive(Default)]
pub struct VerifyCache {
    keys: Mutex<HashMap<uuid::Uuid, Option<Arc<PublicKey>>>>,
    verified: Mutex<HashSet<[u8; 16]>>,
}

fn fingerprint(v: &LicenseVersionRecord) -> [u8; 16] {
    let mut input = Vec::with_capacity(16 + v.payload.len() + v.signature.len());
    input.extend_from_slice(v.key_id.as_bytes());
    input.extend_from_slice(v.payload.as_bytes());
    input.extend_from_slice(&v.signature);
    let digest = zhengzhao_crypto::sm3(&input);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

impl Library {
    pub(crate) async fn public_key(&self, id: uuid::Uuid) -> Result<Option<Arc<PublicKey>>> {
        if let Some(k) = self
            .verify_cache
            .keys
            .lock()
            .ok()
            .and_then(|m| m.get(&id).cloned())
        {
            return Ok(k);
        }
        let key = self
            .store
            .signing_key(id)
            .await?
            .and_then(|k| PublicKey::from_sec1(&k.public_key).ok())
            .map(Arc::new);
        if let Ok(mut m) = self.verify_cache.keys.lock() {
            m.insert(id, key.clone());
        }
        Ok(key)
    }

    /// Note that `v`'s bytes are known good: the version this process just
    /// signed and stored. (An edit of the stored row changes the bytes, so
    /// it is still checked afresh.)
    pub(crate) fn remember_verified(&self, v: &LicenseVersionRecord) {
        let print = fingerprint(v);
        if let Ok(mut set) = self.verify_cache.verified.lock() {
            if set.len() >= VERIFIED_CAPACITY {
                set.clear();
            }
            set.insert(print);
        }
    }

    /// Check every stored signature once and remember the good ones, on all
    /// cores (after a start, so the public check does no SM2 work). Returns
    /// (versions checked, bad ones).
    pub async fn warm_verify_cache(&self) -> Result<(u64, u64)> {
        let mut before = None;
        let (mut checked, mut bad) = (0u64, 0u64);
        loop {
            // A license that cannot be read is logged, counted bad and left out.
            let page = self
                .open_page(&zhengzhao_store::LicenseFilter::default(), before, 2000)
                .await?;
            let Some(last) = page.next_before else {
                return Ok((checked, bad));
            };
            before = Some(last);
            bad += page.unreadable.len() as u64;
            let mut work: Vec<(LicenseVersionRecord, Arc<PublicKey>)> = Vec::new();
            for l in page.licenses {
                for v in l.versions {
                    match self.public_key(v.key_id).await? {
                        Some(k) => work.push((v, k)),
                        None => bad += 1,
                    }
                }
            }
            checked += work.len() as u64;
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let chunk = work.len().div_ceil(threads).max(1);
            let results: Vec<(Vec<[u8; 16]>, u64)> = std::thread::scope(|scope| {
                let workers: Vec<_> = work
                    .chunks(chunk)
                    .map(|part| {
                        scope.spawn(move || {
                            let mut good = Vec::with_capacity(part.len());
                            let mut failed = 0u64;
                            for (v, k) in part {
                                if k.verify(v.payload.as_bytes(), &v.signature).is_ok() {
                                    good.push(fingerprint(v));
                                } else {
                                    failed += 1;
                                }
                            }
                            (good, failed)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap_or((Vec::new(), 0)))
                    .collect()
            });
            if let Ok(mut set) = self.verify_cache.verified.lock() {
                for (good, failed) in results {
                    bad += failed;
                    for p in good {
                        if set.len() < VERIFIED_CAPACITY {
                            set.insert(p);
                        }
                    }
                }
            }
        }
    }

    /// Forget every remembered signature and public key (after a key
    /// revocation: what verified before may not count now).
    pub(crate) fn forget_verified_signatures(&self) {
        if let Ok(mut set) = self.verify_cache.verified.lock() {
            set.clear();
        }
        if let Ok(mut keys) = self.verify_cache.keys.lock() {
            keys.clear();
        }
    }

    /// Does the stored signature of `v` verify, by a key not revoked before
    /// `v` was signed? Remembered per exact bytes.
    pub async fn signature_valid(&self, v: &LicenseVersionRecord) -> Result<bool> {
        if !self.signed_before_revocation(v.key_id, v.issued_at).await? {
            return Ok(false);
        }
        let print = fingerprint(v);
        if self
            .verify_cache
            .verified
            .lock()
            .is_ok_and(|set| set.contains(&print))
        {
            return Ok(true);
        }
        let Some(key) = self.public_key(v.key_id).await? else {
            return Ok(false);
        };
        let ok = key.verify(v.payload.as_bytes(), &v.signature).is_ok();
        if ok && let Ok(mut set) = self.verify_cache.verified.lock() {
            if set.len() >= VERIFIED_CAPACITY {
                set.clear();
            }
            set.insert(print);
        }
        Ok(ok)
    }

    /// The public check of `raw` (any version's identifier). A malformed
    /// identifier is a 422 before any lookup; an unknown one a 404.
    /// The business license of the enterprise with this unified social
    /// credit code and this name (as the enterprise credit publicity system
    /// finds one): its current version's public answer. A code and name
    /// that do not belong together are "not found", like an unknown code.
    pub async fn verify_business_license(
        &self,
        credit_code: &str,
        name: &str,
    ) -> Result<VerifyResult> {
        self.count_checks(crate::check_counts::CheckWay::CreditCode, 1);
        let code = zhengzhao_domain::codes::CreditCode::parse(credit_code.trim())
            .map_err(|e| Error::Validation(vec![e.at("credit_code")]))?;
        let types: Vec<zhengzhao_domain::codes::LicenseTypeCode> =
            crate::batch_check::BUSINESS_LICENSE_TYPES
                .iter()
                .filter_map(|t| zhengzhao_domain::codes::LicenseTypeCode::parse(t).ok())
                .collect();
        let not_found = || {
            Error::NotFound("no business license with this credit code and name / 未找到该统一社会信用代码与名称对应的营业执照".into())
        };
        let found = self
            .store
            .licenses_of_holders(&[code.to_string()], &types)
            .await?;
        // The one in force first; else the newest.
        let l = found
            .iter()
            .find(|l| l.revocation.is_none())
            .or_else(|| found.first())
            .ok_or_else(not_found)?;
        let l = self.open_license(l.clone()).await?;
        let current = current_version(&l)?;
        if current.holder.name.trim() != name.trim() {
            return Err(not_found());
        }
        let id = current.license_id.clone();
        self.public_result(&l, &id).await
    }

    /// Where a scanned QR code leads on this site: the check page of a
    /// license's code or a holder's presentation code, or of an identifier
    /// alone. Any other text (another site's link, which could imitate
    /// ours) leads nowhere: the visitor is never sent off this site.
    pub fn scanned_code_path(&self, text: &str) -> Result<String> {
        let text = text.trim();
        let foreign = || {
            Error::field(
                "picture",
                "not_ours",
                "the QR code is not a check code of this library",
                "该二维码不是本库的证照核验码，请勿通过它办理业务",
            )
        };
        if let Some(path) = text.strip_prefix(self.urls.base()) {
            // Exactly a check page: a license's identifier, or a
            // presentation token's own characters (no `%`, no dots that a
            // browser would read as going up).
            let token_ok = |t: &str| {
                !t.is_empty()
                    && t.len() <= 4096
                    && !t.contains("..")
                    && !t.starts_with('.')
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            };
            if let Some(token) = path.strip_prefix("/verify/p/") {
                return if token_ok(token) {
                    Ok(path.to_owned())
                } else {
                    Err(foreign())
                };
            }
            return match path.strip_prefix("/verify/").map(LicenseId::parse) {
                Some(Ok(id)) => Ok(format!("/verify/{id}")),
                _ => Err(foreign()),
            };
        }
        match LicenseId::parse(text) {
            Ok(id) => Ok(format!("/verify/{id}")),
            Err(_) => Err(foreign()),
        }
    }

    pub async fn verify_public(&self, raw: &str) -> Result<VerifyResult> {
        self.count_checks(crate::check_counts::CheckWay::Identifier, 1);
        let (l, id) = self.find_license(raw).await?;
        self.public_result(&l, &id).await
    }

    /// The public answer about version `id` of an opened license.
    pub(crate) async fn public_result(
        &self,
        l: &LicenseRecord,
        id: &LicenseId,
    ) -> Result<VerifyResult> {
        let current = current_version(l)?;
        let v = l
            .versions
            .iter()
            .find(|v| &v.license_id == id)
            .ok_or_else(|| Error::NotFound(format!("license {id}")))?;
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        let issuer = self
            .cached_org(&l.issuer)
            .await?
            .ok_or_else(|| Error::Internal("issuer vanished".into()))?;
        let natural = v.holder.id_type == "resident_id";
        let holder = PublicHolder {
            kind: if natural {
                "natural_person"
            } else {
                "organization"
            },
            // Masked for a natural person, and for an organisation named
            // with a personal value (an individual business named after its operator).
            name: crate::disclosure::disclose(
                crate::disclosure::Reader::Public,
                &l.type_code,
                t.as_deref(),
                v,
            )?
            .holder_name,
        };
        Ok(VerifyResult {
            license_id: v.license_id.clone(),
            version: v.version,
            status: status_of(l, v, self.today()),
            type_code: l.type_code.clone(),
            type_name: t.map(|t| t.spec.draft().name.clone()).unwrap_or_default(),
            issuer: IssuerView {
                code: issuer.code.clone(),
                name: issuer.name.clone(),
                credit_code: CreditCode::parse(v.license_id.issuer_code())
                    .unwrap_or_else(|_| issuer.credit_code.clone()),
            },
            valid_from: v.valid_from,
            valid_until: v.valid_until,
            current_license_id: current.license_id.clone(),
            current_version: current.version,
            signature_valid: self.signature_valid(v).await?,
            holder,
            revoked_at: l.revocation.as_ref().map(|r| r.at),
            checked_at: self.now(),
            under_objection: l.objection_fields.is_some(),
            objection_fields: l.objection_fields.clone().unwrap_or_default(),
        })
    }
}
