//! The issuers' certificates and the root, at a stable URL
//! (`GET /api/v1/certificates`), so a verifier can check signed documents
//! and the status list offline. Public keys only; cached for a minute.

use super::Library;
use crate::Result;
use serde::Serialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

const TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuerCertificate {
    pub key_id: uuid::Uuid,
    /// The org the key signs for; absent for the root.
    pub org: Option<String>,
    /// PEM.
    pub certificate: String,
    #[schema(value_type = String)]
    pub not_before: jiff::Timestamp,
    #[schema(value_type = String)]
    pub not_after: jiff::Timestamp,
    /// Set when a newer key took over; the key still verifies what it signed.
    #[schema(value_type = Option<String>)]
    pub retired_at: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CertificateSet {
    /// The root(s) the issuer certificates chain to.
    pub roots: Vec<IssuerCertificate>,
    pub issuers: Vec<IssuerCertificate>,
}

#[derive(Default)]
pub struct CertificateCache {
    set: Mutex<Option<(Instant, CertificateSet)>>,
}

fn entry(k: &zhengzhao_store::SigningKeyRecord) -> IssuerCertificate {
    IssuerCertificate {
        key_id: k.id,
        org: k.org.as_ref().map(ToString::to_string),
        certificate: k.certificate_pem.clone(),
        not_before: k.not_before,
        not_after: k.not_after,
        retired_at: k.retired_at,
    }
}

impl Library {
    /// Forget the cached set (a key was made, rotated, imported or revoked).
    pub(crate) fn certificates_changed(&self) {
        if let Ok(mut c) = self.certificates.set.lock() {
            *c = None;
        }
    }

    pub async fn certificate_set(&self) -> Result<CertificateSet> {
        if let Ok(c) = self.certificates.set.lock()
            && let Some((at, set)) = c.as_ref()
            && at.elapsed() < TTL
        {
            return Ok(set.clone());
        }
        let roots = self
            .store
            .signing_keys(None)
            .await?
            .iter()
            .map(entry)
            .collect();
        let mut issuers = Vec::new();
        for org in self.store.orgs().await? {
            issuers.extend(
                self.store
                    .signing_keys(Some(&org.code))
                    .await?
                    .iter()
                    .map(entry),
            );
        }
        let set = CertificateSet { roots, issuers };
        if let Ok(mut c) = self.certificates.set.lock() {
            *c = Some((Instant::now(), set.clone()));
        }
        Ok(set)
    }
}
