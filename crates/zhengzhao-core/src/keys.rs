//! Signing keys (Art. 10): the local test CA, each issuing org's SM2 key and
//! certificate, rotation and import. Private keys are kept only wrapped
//! under the master key (SM4-GCM, the key id as associated data); unwrapped
//! keys live in a process cache keyed by key id.

use super::{Actor, Library};
use crate::{Error, Result};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use zhengzhao_crypto::keywrap::MasterKey;
use zhengzhao_crypto::sm2sig::KeyPair;
use zhengzhao_crypto::{CryptoError, cert};
use zhengzhao_domain::org::Org;
use zhengzhao_store::{ChangeLog, KeyPurpose, KeySource, SigningKeyRecord, StoreError};

/// Subject of the local CA: it says plainly that it is a test CA.
pub const LOCAL_CA_SUBJECT_CN: &str =
    "zhengzhao 本地测试CA（TEST CA - 非电子认证服务机构签发，不具法律效力）";
const CA_YEARS: u32 = 20;
const ORG_CERT_YEARS: u32 = 5;

fn crypto(e: CryptoError) -> Error {
    Error::Internal(e.to_string())
}

/// A key ready to sign with, and the certificate that vouches for it.
pub struct LoadedKey {
    pub id: uuid::Uuid,
    pub pair: KeyPair,
    pub certificate_pem: String,
    /// `LocalCa`: the certificate is a test one (what a PDF's face says).
    pub source: KeySource,
}

/// Unwrapped keys by id. Keys never change once stored, so entries never go stale.
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<uuid::Uuid, Arc<LoadedKey>>>,
}

fn validity(pem: &str) -> Result<(jiff::Timestamp, jiff::Timestamp)> {
    let c = cert::from_pem(pem).map_err(crypto)?;
    let (nb, na) = cert::validity_secs(&c);
    let to_ts = |s: u64| {
        jiff::Timestamp::from_second(i64::try_from(s).unwrap_or(i64::MAX))
            .unwrap_or(jiff::Timestamp::MAX)
    };
    Ok((to_ts(nb), to_ts(na)))
}

impl Library {
    pub(crate) fn master_key(&self) -> Result<&MasterKey> {
        self.master_key.as_ref().ok_or_else(|| {
            Error::Internal(
                "no master key configured: cannot use signing keys or sealed personal data".into(),
            )
        })
    }

    pub(crate) fn unwrap_key(&self, rec: &SigningKeyRecord) -> Result<Arc<LoadedKey>> {
        if let Some(k) = self
            .key_cache
            .keys
            .lock()
            .ok()
            .and_then(|m| m.get(&rec.id).cloned())
        {
            return Ok(k);
        }
        let der = self
            .master_key()?
            .decrypt(rec.id.as_bytes(), &rec.wrapped_private_key)
            .map_err(crypto)?;
        let pair = KeyPair::from_pkcs8_der(&der).map_err(crypto)?;
        if pair.public_key().to_sec1() != rec.public_key {
            return Err(Error::Internal(format!(
                "key {} does not match its public key",
                rec.id
            )));
        }
        let loaded = Arc::new(LoadedKey {
            id: rec.id,
            pair,
            certificate_pem: rec.certificate_pem.clone(),
            source: rec.source,
        });
        if let Ok(mut m) = self.key_cache.keys.lock() {
            m.insert(rec.id, loaded.clone());
        }
        Ok(loaded)
    }

    fn wrap(&self, id: uuid::Uuid, pair: &KeyPair) -> Result<Vec<u8>> {
        let der = pair.to_pkcs8_der().map_err(crypto)?;
        self.master_key()?
            .encrypt(id.as_bytes(), &der)
            .map_err(crypto)
    }

    /// The library's CA key, made on first use.
    pub async fn local_ca(&self) -> Result<Arc<LoadedKey>> {
        if let Some(rec) = self.store.active_signing_key(None, KeyPurpose::Ca).await? {
            return self.unwrap_key(&rec);
        }
        let pair = KeyPair::generate().map_err(crypto)?;
        let subject =
            cert::subject_name(LOCAL_CA_SUBJECT_CN, "内蒙古自治区市场监管电子证照库", None);
        let ca = cert::make_ca(&pair, &subject, SystemTime::from(self.now()), CA_YEARS)
            .map_err(crypto)?;
        let pem = cert::to_pem(&ca).map_err(crypto)?;
        let rec = self.key_record(None, KeyPurpose::Ca, KeySource::LocalCa, &pair, pem)?;
        self.store_first_key(rec, json!({"purpose": "ca", "source": "local_ca"}))
            .await
    }

    /// Store the first key of an org (or the CA) and use it; if a concurrent
    /// request stored one first, use theirs instead.
    async fn store_first_key(
        &self,
        rec: SigningKeyRecord,
        detail: serde_json::Value,
    ) -> Result<Arc<LoadedKey>> {
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::system(),
            "key.create",
            format!("key:{}", rec.id),
            detail,
        ));
        let added = self.store.add_signing_key(&rec, false, &log).await;
        // A verifier must find a new key's certificate at once.
        self.certificates_changed();
        match added {
            Ok(()) => self.unwrap_key(&rec),
            Err(StoreError::Conflict(_)) => {
                let theirs = self
                    .store
                    .active_signing_key(rec.org.as_ref(), rec.purpose)
                    .await?
                    .ok_or_else(|| Error::Internal("the concurrently made key vanished".into()))?;
                self.unwrap_key(&theirs)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn key_record(
        &self,
        org: Option<&Org>,
        purpose: KeyPurpose,
        source: KeySource,
        pair: &KeyPair,
        certificate_pem: String,
    ) -> Result<SigningKeyRecord> {
        let id = uuid::Uuid::now_v7();
        let (not_before, not_after) = validity(&certificate_pem)?;
        Ok(SigningKeyRecord {
            id,
            org: org.map(|o| o.code.clone()),
            purpose,
            source,
            public_key: pair.public_key().to_sec1(),
            wrapped_private_key: self.wrap(id, pair)?,
            certificate_pem,
            not_before,
            not_after,
            created_at: self.now(),
            retired_at: None,
        })
    }

    /// A new org key certified by the local CA.
    async fn new_local_key(&self, org: &Org) -> Result<(KeyPair, String)> {
        let ca = self.local_ca().await?;
        let ca_cert = cert::from_pem(&ca.certificate_pem).map_err(crypto)?;
        let pair = KeyPair::generate().map_err(crypto)?;
        let subject = cert::subject_name(&org.name, &org.name, Some(org.credit_code.as_str()));
        let crl_url = self.crl_url(ca.id);
        let c = cert::issue_with_crl(
            &ca.pair,
            &ca_cert,
            &subject,
            &pair.public_key(),
            SystemTime::from(self.now()),
            ORG_CERT_YEARS,
            Some(&crl_url),
        )
        .map_err(crypto)?;
        Ok((pair, cert::to_pem(&c).map_err(crypto)?))
    }

    /// The org's active license-signing key, made (certified by the local CA) on first use.
    pub async fn signer_for(&self, org: &Org) -> Result<Arc<LoadedKey>> {
        if let Some(rec) = self.caches.active_keys.get(&org.code) {
            return self.unwrap_key(&rec);
        }
        if let Some(rec) = self
            .store
            .active_signing_key(Some(&org.code), KeyPurpose::License)
            .await?
        {
            self.caches
                .active_keys
                .put(org.code.clone(), Arc::new(rec.clone()));
            return self.unwrap_key(&rec);
        }
        let (pair, pem) = self.new_local_key(org).await?;
        let rec = self.key_record(
            Some(org),
            KeyPurpose::License,
            KeySource::LocalCa,
            &pair,
            pem,
        )?;
        self.store_first_key(
            rec,
            json!({"org": org.code, "purpose": "license", "source": "local_ca"}),
        )
        .await
    }

    /// Start a new local key for `org`; the old one is retired but its
    /// certificate stays available, so licenses it signed still verify.
    pub async fn rotate_key(&self, actor: &Actor, org: &Org) -> Result<SigningKeyRecord> {
        let (pair, pem) = self.new_local_key(org).await?;
        let rec = self.key_record(
            Some(org),
            KeyPurpose::License,
            KeySource::LocalCa,
            &pair,
            pem,
        )?;
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "key.rotate",
            format!("key:{}", rec.id),
            json!({"org": org.code, "source": "local_ca"}),
        ));
        self.store.add_signing_key(&rec, true, &log).await?;
        self.caches.active_keys.forget(&org.code);
        self.certificates_changed();
        Ok(rec)
    }

    /// Install a key and certificate issued by a real CA for `org`. The key
    /// must match the certificate, and the certificate must be current.
    pub async fn import_key(
        &self,
        actor: &Actor,
        org: &Org,
        certificate_pem: &str,
        key_pem: &str,
    ) -> Result<SigningKeyRecord> {
        let bad = |m: String| {
            Error::field(
                "certificate",
                "certificate",
                m.clone(),
                format!("证书不可用：{m}"),
            )
        };
        let c = cert::from_pem(certificate_pem).map_err(|e| bad(e.to_string()))?;
        let cert_key =
            cert::public_key(&c).map_err(|e| bad(format!("not an SM2 certificate: {e}")))?;
        let pair = KeyPair::from_pkcs8_pem(key_pem).map_err(|e| {
            Error::field(
                "key",
                "key",
                format!("not an SM2 PKCS#8 private key: {e}"),
                "私钥不是SM2 PKCS#8格式",
            )
        })?;
        if pair.public_key().to_sec1() != cert_key.to_sec1() {
            return Err(bad(
                "the private key does not belong to this certificate".into()
            ));
        }
        let (nb, na) = cert::validity_secs(&c);
        let now_s = SystemTime::from(self.now())
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        if now_s < nb || now_s > na {
            return Err(bad("the certificate is not valid now".into()));
        }
        let pem = cert::to_pem(&c).map_err(crypto)?;
        let rec = self.key_record(
            Some(org),
            KeyPurpose::License,
            KeySource::Imported,
            &pair,
            pem,
        )?;
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "key.import",
            format!("key:{}", rec.id),
            json!({"org": org.code, "source": "imported", "not_after": rec.not_after}),
        ));
        self.store.add_signing_key(&rec, true, &log).await?;
        self.caches.active_keys.forget(&org.code);
        self.certificates_changed();
        Ok(rec)
    }
}

/// What `check_master_key` found: the keys kept wrapped under the master key,
/// by kind, and the first one it does not open.
#[derive(Debug, Clone, Default)]
pub struct MasterKeyReport {
    pub signing_keys: u64,
    pub data_keys: u64,
    pub totp_secrets: u64,
    pub token_secrets: u64,
    pub problem: Option<String>,
}

impl MasterKeyReport {
    /// All wrapped keys found.
    pub fn wrapped(&self) -> u64 {
        self.signing_keys + self.data_keys + self.totp_secrets + self.token_secrets
    }
}

impl Library {
    /// Open every key the library keeps wrapped under its master key: the
    /// signing keys (the CA's and every org's), the data keys of personal
    /// fields, staff TOTP secrets and signed tokens' HMAC keys. Without a
    /// master key, any wrapped key is a problem; with the wrong one, the
    /// first key it does not open is named.
    pub async fn check_master_key(&self) -> Result<MasterKeyReport> {
        let mut report = MasterKeyReport::default();
        let first_problem = |report: &mut MasterKeyReport, what: String| {
            report.problem.get_or_insert(what);
        };
        let master = self.master_key.as_ref();
        let mut signing = self.store.signing_keys(None).await?;
        for org in self.store.orgs().await? {
            signing.extend(self.store.signing_keys(Some(&org.code)).await?);
        }
        for rec in &signing {
            report.signing_keys += 1;
            if master.is_some()
                && let Err(e) = self.unwrap_key(rec)
            {
                let owner = rec
                    .org
                    .as_ref()
                    .map_or("the CA".to_owned(), |o| format!("org {o}"));
                first_problem(
                    &mut report,
                    format!(
                        "the master key does not open signing key {} of {owner}: {e}",
                        rec.id
                    ),
                );
            }
        }
        for rec in self.store.data_keys().await? {
            report.data_keys += 1;
            if let Some(m) = master
                && m.decrypt(&super::privacy::wrap_aad(rec.id), &rec.wrapped_key)
                    .is_err()
            {
                first_problem(
                    &mut report,
                    format!("the master key does not open data key {}", rec.id),
                );
            }
        }
        for user in self.store.staff_users().await? {
            report.totp_secrets += 1;
            if let Some(m) = master
                && m.decrypt(&super::staff::totp_aad(user.id), &user.totp_secret)
                    .is_err()
            {
                first_problem(
                    &mut report,
                    format!(
                        "the master key does not open the TOTP secret of staff user {}",
                        user.username
                    ),
                );
            }
        }
        for token in self.store.tokens().await? {
            let Some(wrapped) = &token.signing_secret else {
                continue;
            };
            report.token_secrets += 1;
            if let Some(m) = master
                && m.decrypt(&crate::signed_request::wrap_aad(token.id), wrapped)
                    .is_err()
            {
                first_problem(
                    &mut report,
                    format!(
                        "the master key does not open the signing key of token {}",
                        token.id
                    ),
                );
            }
        }
        if master.is_none() && report.wrapped() > 0 {
            report.problem = Some(format!(
                "no master key is given, but the library keeps {} keys wrapped under one \
                 ({} signing keys, {} data keys, {} TOTP secrets, {} token signing keys)",
                report.wrapped(),
                report.signing_keys,
                report.data_keys,
                report.totp_secrets,
                report.token_secrets
            ));
        }
        Ok(report)
    }
}
