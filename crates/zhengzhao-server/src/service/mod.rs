//! The service layer: one function per use case. Each checks permission,
//! validates, and writes the state with its audit event (and outbox messages)
//! in one storage transaction. HTTP handlers and the CLI both call these.

pub mod audit_log;
pub mod backup;
pub mod batch_check;
pub mod cache;
pub mod catalog;
pub mod certificates;
pub mod crl;
pub mod delivery;
pub mod document_check;
pub mod holder_rules;
pub mod keys;
pub mod licenses;
pub mod login_limits;
pub mod orgs;
pub mod pdf_signature;
pub mod presentation;
pub mod printing;
pub mod privacy;
pub mod seed;
pub mod staff;
pub mod status_list;
pub mod tokens;
pub mod vc;
pub mod verify;

use crate::auth::Caller;
use crate::error::ApiError;
use std::sync::Arc;
use zhengzhao_crypto::keywrap::MasterKey;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_domain::role::Role;
use zhengzhao_store::{AuditEvent, Store};

/// The library's use cases over one store.
#[derive(Clone)]
pub struct Library {
    pub store: Arc<dyn Store>,
    master_key: Option<MasterKey>,
    key_cache: Arc<keys::KeyCache>,
    /// Names of the configured delivery channels (Art. 8).
    channels: Arc<Vec<String>>,
    /// Base URL for links printed on licenses.
    public_url: Arc<str>,
    caches: Arc<Caches>,
    /// One audit-tree integration at a time in this process.
    audit_integrator: Arc<tokio::sync::Mutex<()>>,
    /// The background check of the audit log (`audit_log::sweep_audit`).
    audit_sweep: Arc<audit_log::AuditSweep>,
    session_policy: staff::SessionPolicy,
    /// Login rate limits and the bound on password hashing (`login_limits`).
    login_guard: Arc<login_limits::LoginGuard>,
    /// Signed-request nonces: claimed in the store, purged now and then.
    pub(crate) nonces: Arc<crate::signed_request::NonceCache>,
    /// Keys that seal personal fields (see `privacy`), loaded on demand.
    data_keys: Arc<tokio::sync::Mutex<Option<Arc<privacy::DataKeyring>>>>,
    /// Public keys and verified signatures for the public check.
    verify_cache: Arc<verify::VerifyCache>,
    status_list: Arc<status_list::StatusListCache>,
    certificates: Arc<certificates::CertificateCache>,
    crl_cache: Arc<crl::CrlCache>,
}

/// Reference data read on every issuance (see `cache`).
#[derive(Default)]
pub(crate) struct Caches {
    // Values behind `Arc`: a hit hands out a pointer, not a deep copy.
    orgs: cache::TtlCache<OrgCode, Arc<zhengzhao_domain::org::Org>>,
    license_types: cache::TtlCache<
        (zhengzhao_domain::codes::LicenseTypeCode, Option<u32>),
        Arc<zhengzhao_domain::catalog::LicenseTypeVersion>,
    >,
    active_keys: cache::TtlCache<OrgCode, Arc<zhengzhao_store::SigningKeyRecord>>,
}

/// Who an audit event names as the actor.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub org: Option<String>,
    pub role: Option<String>,
    pub client_addr: Option<String>,
}

impl Actor {
    /// The operator at the command line: whoever can open the data directory.
    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Self {
            id: format!("cli:{user}"),
            org: None,
            role: None,
            client_addr: None,
        }
    }

    pub fn system() -> Self {
        Self {
            id: "system".into(),
            org: None,
            role: None,
            client_addr: None,
        }
    }
}

impl From<&Caller> for Actor {
    fn from(c: &Caller) -> Self {
        Self {
            id: c.actor.clone(),
            org: Some(c.org.to_string()),
            role: Some(zhengzhao_store::roles_to_text(&c.roles)),
            client_addr: c.client_addr.clone(),
        }
    }
}

/// Now, to the microsecond: both backends store microseconds, so a time read
/// back equals the time written.
pub fn now() -> jiff::Timestamp {
    let t = jiff::Timestamp::now();
    jiff::Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

/// China Standard Time. Fixed UTC+8: China has kept no daylight saving since
/// 1991, and a fixed offset needs no time-zone database on the machine.
pub fn china_tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
}

/// Today's date in China: business dates (validity) are China dates.
pub fn china_today() -> jiff::civil::Date {
    now().to_zoned(china_tz()).date()
}

pub fn audit_event(
    actor: &Actor,
    action: &str,
    target: String,
    detail: serde_json::Value,
) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::now_v7(),
        at: now(),
        actor: actor.id.clone(),
        org: actor.org.clone(),
        role: actor.role.clone(),
        client_addr: actor.client_addr.clone(),
        action: action.to_owned(),
        target,
        outcome: "success".into(),
        reason: None,
        detail,
    }
}

impl Library {
    /// A library without a master key (enough for tokens, orgs, catalog).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            master_key: None,
            key_cache: Arc::default(),
            channels: Arc::default(),
            public_url: Arc::from("http://127.0.0.1:8080"),
            caches: Arc::default(),
            audit_integrator: Arc::default(),
            audit_sweep: Arc::default(),
            session_policy: staff::SessionPolicy::default(),
            login_guard: Arc::default(),
            nonces: Arc::default(),
            data_keys: Arc::default(),
            verify_cache: Arc::default(),
            status_list: Arc::default(),
            certificates: Arc::default(),
            crl_cache: Arc::default(),
        }
    }

    /// An org, from the short-lived cache or the store.
    pub async fn cached_org(
        &self,
        code: &OrgCode,
    ) -> Result<Option<Arc<zhengzhao_domain::org::Org>>, ApiError> {
        if let Some(o) = self.caches.orgs.get(code) {
            return Ok(Some(o));
        }
        let found = self.store.org(code).await?.map(Arc::new);
        if let Some(o) = &found {
            self.caches.orgs.put(code.clone(), o.clone());
        }
        Ok(found)
    }

    /// A catalog version (current when `version` is `None`), cached briefly.
    pub async fn cached_license_type(
        &self,
        code: &zhengzhao_domain::codes::LicenseTypeCode,
        version: Option<u32>,
    ) -> Result<Option<Arc<zhengzhao_domain::catalog::LicenseTypeVersion>>, ApiError> {
        let key = (code.clone(), version);
        if let Some(t) = self.caches.license_types.get(&key) {
            return Ok(Some(t));
        }
        let found = self.store.license_type(code, version).await?.map(Arc::new);
        if let Some(t) = &found {
            self.caches.license_types.put(key, t.clone());
        }
        Ok(found)
    }

    /// With the master key that unwraps signing keys.
    #[must_use]
    pub fn with_master_key(mut self, key: MasterKey) -> Self {
        self.master_key = Some(key);
        self
    }

    #[must_use]
    pub fn with_channels(mut self, names: Vec<String>) -> Self {
        self.channels = Arc::new(names);
        self
    }

    #[must_use]
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.public_url = Arc::from(url.trim_end_matches('/'));
        self
    }

    /// Refuse unless the caller holds one of `roles`.
    pub fn require_role(caller: &Caller, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| caller.roles.contains(r)) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "role {} may not do this; needs one of: {}",
                zhengzhao_store::roles_to_text(&caller.roles),
                names.join(", ")
            )))
        }
    }

    /// Refuse unless the caller's org is the region itself.
    pub fn require_region(caller: &Caller) -> Result<(), ApiError> {
        if caller.org.as_str() == REGION_CODE {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "only the region ({REGION_CODE}) may do this; caller's org is {}",
                caller.org
            )))
        }
    }

    /// Refuse unless `target` lies within the caller's org subtree.
    pub async fn require_within(&self, caller: &Caller, target: &OrgCode) -> Result<(), ApiError> {
        if self.store.org_within(target, &caller.org).await? {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "org {target} is outside the caller's org {}",
                caller.org
            )))
        }
    }
}
