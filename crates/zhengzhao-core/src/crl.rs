//! Key revocation (issue 11 §6): `zhengzhao keys revoke` withdraws a
//! (compromised) org key. Its certificate goes on the local CA's CRL, which
//! the library serves at the URL every org certificate names as its CRL
//! distribution point (`GET /api/v1/crl/{ca key id}`, DER); and anything
//! the key signed at or after the revocation time is no longer genuine —
//! the public check, the document check and offline verifiers (by the CRL's
//! revocation date against the document's `issued_at`) all say so.
//!
//! A key imported with a real CA's certificate can be revoked here too
//! (the library stops trusting it), but it is that CA's CRL that lists it.

use super::{Actor, Library};
use crate::{Error, Result};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};
use zhengzhao_crypto::cert;
use zhengzhao_store::{ChangeLog, KeyPurpose, KeyRevocation, KeySource, StoreError};

/// A CRL is rebuilt at most this often, and at once after a revocation.
const CRL_TTL: Duration = Duration::from_secs(60);
/// `nextUpdate`: verifiers fetch a new CRL within a day.
const CRL_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// The reasons `keys revoke` accepts (RFC 5280 CRLReason names).
pub const REVOCATION_REASONS: [&str; 5] = [
    "key_compromise",
    "ca_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
];

#[derive(Default)]
pub struct CrlCache {
    crls: Mutex<HashMap<uuid::Uuid, (Instant, Vec<u8>)>>,
    /// Revocation time by key id; `None` until first read.
    revoked: Mutex<Option<HashMap<uuid::Uuid, jiff::Timestamp>>>,
}

fn to_system(t: jiff::Timestamp) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(t.as_second()).unwrap_or(0))
}

impl Library {
    /// Where the CRL of the local CA key `ca` is published.
    pub fn crl_url(&self, ca: uuid::Uuid) -> String {
        self.urls.crl(&ca.to_string())
    }

    /// When `key` was revoked, if it was.
    pub(crate) async fn key_revoked_at(&self, key: uuid::Uuid) -> Result<Option<jiff::Timestamp>> {
        if let Ok(r) = self.crl_cache.revoked.lock()
            && let Some(map) = r.as_ref()
        {
            return Ok(map.get(&key).copied());
        }
        let map: HashMap<uuid::Uuid, jiff::Timestamp> = self
            .store
            .key_revocations()
            .await?
            .into_iter()
            .map(|r| (r.key_id, r.revoked_at))
            .collect();
        let at = map.get(&key).copied();
        if let Ok(mut r) = self.crl_cache.revoked.lock() {
            *r = Some(map);
        }
        Ok(at)
    }

    /// Whether a signature by `key` made at `signed_at` is still genuine.
    pub(crate) async fn signed_before_revocation(
        &self,
        key: uuid::Uuid,
        signed_at: jiff::Timestamp,
    ) -> Result<bool> {
        Ok(self
            .key_revoked_at(key)
            .await?
            .is_none_or(|revoked| signed_at < revoked))
    }

    /// Revoke an org's signing key from `revoked_at` (default now; earlier
    /// when a compromise is known to have begun before). The key is retired,
    /// so the org's next license is signed with a new key.
    pub async fn revoke_key(
        &self,
        actor: &Actor,
        key_id: uuid::Uuid,
        reason: &str,
        revoked_at: Option<jiff::Timestamp>,
    ) -> Result<KeyRevocation> {
        if !REVOCATION_REASONS.contains(&reason) {
            return Err(Error::field(
                "reason",
                "unknown_reason",
                format!("reason must be one of {}", REVOCATION_REASONS.join(", ")),
                format!("吊销原因应为以下之一：{}", REVOCATION_REASONS.join("、")),
            ));
        }
        let key = self
            .store
            .signing_key(key_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("signing key {key_id}")))?;
        if key.purpose != KeyPurpose::License {
            return Err(Error::field(
                "key",
                "ca_key",
                "the CA key cannot be revoked here; only org signing keys",
                "此处不能吊销CA密钥，只能吊销发证机构的签名密钥",
            ));
        }
        let recorded_at = self.now();
        let revocation = KeyRevocation {
            key_id,
            revoked_at: revoked_at.unwrap_or(recorded_at).min(recorded_at),
            reason: reason.to_owned(),
            recorded_at,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "key.revoke",
            format!("key:{key_id}"),
            json!({"org": key.org, "reason": reason, "revoked_at": revocation.revoked_at}),
        ));
        self.store
            .revoke_signing_key(&revocation, &log)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    Error::Conflict(format!("signing key {key_id} is already revoked"))
                }
                e => e.into(),
            })?;
        if let Some(org) = &key.org {
            self.caches.active_keys.forget(org);
        }
        self.forget_revocations();
        Ok(revocation)
    }

    /// Drop every cache a revocation changes (this process; another node
    /// sees it when its caches expire or it restarts).
    fn forget_revocations(&self) {
        if let Ok(mut r) = self.crl_cache.revoked.lock() {
            *r = None;
        }
        if let Ok(mut c) = self.crl_cache.crls.lock() {
            c.clear();
        }
        self.forget_verified_signatures();
        self.certificates_changed();
    }

    /// The DER CRL of the local CA key `ca`: every org certificate it
    /// issued whose key is revoked.
    pub async fn crl(&self, ca: uuid::Uuid) -> Result<Vec<u8>> {
        if let Ok(c) = self.crl_cache.crls.lock()
            && let Some((at, der)) = c.get(&ca)
            && at.elapsed() < CRL_TTL
        {
            return Ok(der.clone());
        }
        let ca_rec = self
            .store
            .signing_key(ca)
            .await?
            .filter(|k| k.purpose == KeyPurpose::Ca)
            .ok_or_else(|| Error::NotFound(format!("CA {ca}")))?;
        let ca_cert =
            cert::from_pem(&ca_rec.certificate_pem).map_err(|e| Error::Internal(e.to_string()))?;
        let ca_key = self.unwrap_key(&ca_rec)?;
        let mut entries = Vec::new();
        for r in self.store.key_revocations().await? {
            let Some(k) = self.store.signing_key(r.key_id).await? else {
                continue;
            };
            if k.source != KeySource::LocalCa {
                continue;
            }
            let Ok(c) = cert::from_pem(&k.certificate_pem) else {
                continue;
            };
            // Only certificates this CA issued.
            if cert::check_issued_by(&c, &ca_cert).is_err() {
                continue;
            }
            entries.push(cert::RevokedEntry {
                serial: cert::serial(&c),
                revoked_at: to_system(r.revoked_at),
                reason: r.reason,
            });
        }
        let this_update = SystemTime::from(self.now());
        let number = u64::try_from(self.now().as_second()).unwrap_or(0);
        let der = cert::make_crl(
            &ca_key.pair,
            &ca_cert,
            &entries,
            this_update,
            this_update + CRL_VALIDITY,
            number,
        )
        .map_err(|e| Error::Internal(e.to_string()))?;
        if let Ok(mut c) = self.crl_cache.crls.lock() {
            c.insert(ca, (Instant::now(), der.clone()));
        }
        Ok(der)
    }
}
