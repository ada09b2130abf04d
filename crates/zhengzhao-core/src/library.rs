//! [`Library`]: the use cases over one store, and what they share (caches,
//! keys, the audit actor, China dates).

use crate::{
    ActorId, Error, Principal, audit_log, cache, certificates, crl, keys, login_limits, privacy,
    staff, status_list, verify,
};
use std::sync::Arc;
use zhengzhao_crypto::keywrap::MasterKey;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{AuditEvent, Store};

/// The library's use cases over one store.
#[derive(Clone)]
pub struct Library {
    pub store: Arc<dyn Store>,
    pub(crate) master_key: Option<MasterKey>,
    pub(crate) key_cache: Arc<keys::KeyCache>,
    /// Links signed into documents and printed on licenses.
    pub(crate) urls: crate::urls::PublicUrls,
    pub(crate) caches: Arc<Caches>,
    /// One audit-tree integration at a time in this process.
    pub(crate) audit_integrator: Arc<tokio::sync::Mutex<()>>,
    /// The background check of the audit log (`audit_log::sweep_audit`).
    pub(crate) audit_sweep: Arc<audit_log::AuditSweep>,
    pub(crate) session_policy: staff::SessionPolicy,
    /// Login rate limits and the bound on password hashing (`login_limits`).
    pub(crate) login_guard: Arc<login_limits::LoginGuard>,
    /// Signed-request nonces: claimed in the store, purged now and then.
    pub(crate) nonces: Arc<crate::signed_request::NonceCache>,
    /// Keys that seal personal fields (see `privacy`), loaded on demand.
    pub(crate) data_keys: Arc<tokio::sync::Mutex<Option<Arc<privacy::DataKeyring>>>>,
    /// Public keys and verified signatures for the public check.
    pub(crate) verify_cache: Arc<verify::VerifyCache>,
    pub(crate) status_list: Arc<status_list::StatusListCache>,
    pub(crate) certificates: Arc<certificates::CertificateCache>,
    pub(crate) crl_cache: Arc<crl::CrlCache>,
    /// The license file renderer (PDF; an OFD one can sit beside it).
    pub(crate) renderer: Arc<dyn zhengzhao_render::LicenseRenderer>,
    /// Each scenario's per-second rate (`scenarios::ScenarioRates`).
    pub(crate) scenario_rates: Arc<crate::scenarios::ScenarioRates>,
    /// Where "now" comes from (`clock`).
    pub(crate) clock: Arc<dyn crate::clock::Clock>,
    /// The region's identity provider for holders signing in, if configured.
    pub(crate) identity_provider: Option<Arc<dyn crate::holder_sign_in::IdentityProvider>>,
    /// Working days per step of an objection (`objections`).
    pub(crate) objection_deadlines: crate::objections::ObjectionDeadlines,
    /// Checks counted in memory, not yet in the store (`check_counts`).
    pub(crate) check_counter: Arc<crate::check_counts::CheckCounter>,
}

/// Reference data read on every issuance (see `cache`).
#[derive(Default)]
pub(crate) struct Caches {
    // Values behind `Arc`: a hit hands out a pointer, not a deep copy.
    pub(crate) orgs: cache::TtlCache<OrgCode, Arc<zhengzhao_domain::org::Org>>,
    pub(crate) license_types: cache::TtlCache<
        (zhengzhao_domain::codes::LicenseTypeCode, Option<u32>),
        Arc<zhengzhao_domain::catalog::LicenseTypeVersion>,
    >,
    pub(crate) active_keys: cache::TtlCache<OrgCode, Arc<zhengzhao_store::SigningKeyRecord>>,
}

/// Who an audit event names as the actor.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: ActorId,
    pub org: Option<String>,
    pub role: Option<String>,
    pub client_addr: Option<String>,
}

impl Actor {
    /// The operator at the command line: whoever can open the data directory.
    pub fn cli() -> Self {
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        Self {
            id: ActorId::Cli(user),
            org: None,
            role: None,
            client_addr: None,
        }
    }

    /// Somebody not signed in (the public forms), by address if known.
    pub fn anonymous(client_addr: Option<String>) -> Self {
        Self {
            id: ActorId::Anonymous,
            org: None,
            role: None,
            client_addr,
        }
    }

    pub fn system() -> Self {
        Self {
            id: ActorId::System,
            org: None,
            role: None,
            client_addr: None,
        }
    }
}

impl From<&Principal> for Actor {
    fn from(c: &Principal) -> Self {
        Self {
            id: c.actor.clone(),
            org: Some(c.org.to_string()),
            role: Some(zhengzhao_store::roles_to_text(&c.roles)),
            client_addr: c.client_addr.clone(),
        }
    }
}

/// China Standard Time. Fixed UTC+8: China has kept no daylight saving since
/// 1991, and a fixed offset needs no time-zone database on the machine.
pub fn china_tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::fixed(jiff::tz::offset(8))
}

impl Library {
    /// A library without a master key (enough for tokens, orgs, catalog).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            master_key: None,
            key_cache: Arc::default(),
            urls: crate::urls::PublicUrls::default(),
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
            renderer: Arc::new(zhengzhao_render::PdfRenderer),
            clock: Arc::new(crate::clock::SystemClock),
            identity_provider: None,
            scenario_rates: Arc::default(),
            objection_deadlines: crate::objections::ObjectionDeadlines::default(),
            check_counter: Arc::default(),
        }
    }

    /// An org, from the short-lived cache or the store.
    pub async fn cached_org(
        &self,
        code: &OrgCode,
    ) -> Result<Option<Arc<zhengzhao_domain::org::Org>>, Error> {
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
    ) -> Result<Option<Arc<zhengzhao_domain::catalog::LicenseTypeVersion>>, Error> {
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

    /// The public URLs links are made of.
    pub fn urls(&self) -> &crate::urls::PublicUrls {
        &self.urls
    }

    /// An audit event by `actor`, now (the outcome `success`; callers
    /// change it for refusals).
    pub fn audit_event(
        &self,
        actor: &Actor,
        action: &str,
        target: String,
        detail: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            id: uuid::Uuid::now_v7(),
            at: self.now(),
            actor: actor.id.to_string(),
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

    /// Now, by this library's clock (to the microsecond).
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// Today's date in China: business dates (validity) are China dates.
    pub fn today(&self) -> jiff::civil::Date {
        self.now().to_zoned(china_tz()).date()
    }

    /// With this clock instead of the system's (tests move time with it).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn crate::clock::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The renderer of license files.
    pub fn renderer(&self) -> Arc<dyn zhengzhao_render::LicenseRenderer> {
        self.renderer.clone()
    }

    #[must_use]
    pub fn with_renderer(mut self, renderer: Arc<dyn zhengzhao_render::LicenseRenderer>) -> Self {
        self.renderer = renderer;
        self
    }

    /// With the master key that unwraps signing keys.
    #[must_use]
    pub fn with_master_key(mut self, key: MasterKey) -> Self {
        self.master_key = Some(key);
        self
    }

    #[must_use]
    pub fn with_public_url(mut self, url: &str) -> Self {
        self.urls = crate::urls::PublicUrls::new(url);
        self
    }

    /// Give objections these deadlines (working days per step).
    #[must_use]
    pub fn with_objection_deadlines(mut self, d: crate::objections::ObjectionDeadlines) -> Self {
        self.objection_deadlines = d;
        self
    }

    /// Let holders sign in through this identity provider (`holder_sign_in`).
    #[must_use]
    pub fn with_identity_provider(
        mut self,
        provider: Arc<dyn crate::holder_sign_in::IdentityProvider>,
    ) -> Self {
        self.identity_provider = Some(provider);
        self
    }
}

/// The state of the library's storage, for health checks and metrics.
impl Library {
    /// `Unavailable` unless the database answers now.
    pub async fn check_database(&self) -> Result<(), Error> {
        self.store
            .ping()
            .await
            .map_err(|e| Error::Unavailable(format!("database: {e}")))
    }

    /// Connections in the store's pool: how many, and how many idle.
    pub fn pool_status(&self) -> zhengzhao_store::PoolStatus {
        self.store.pool_status()
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }
}

impl Library {
    /// Put a start of the server on the record with its settings (never a
    /// secret), so a changed setting shows as a difference between starts.
    pub async fn record_server_start(
        &self,
        addr: std::net::SocketAddr,
        settings: serde_json::Value,
    ) -> Result<(), Error> {
        let started = self.audit_event(
            &Actor::system(),
            "server.start",
            format!("server:{addr}"),
            settings,
        );
        self.store
            .record_event(&zhengzhao_store::ChangeLog::audit_only(started))
            .await?;
        Ok(())
    }
}
