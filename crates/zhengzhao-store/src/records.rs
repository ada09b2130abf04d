//! Plain records that cross the storage boundary.

use serde::{Deserialize, Serialize};
use zhengzhao_domain::catalog::LicenseTypeSpec;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::org::{Org, OrgCode};
use zhengzhao_domain::role::Role;

/// One entry of the audit trail (Art. 21): who did what to what, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: uuid::Uuid,
    pub at: jiff::Timestamp,
    /// `token:<uuid>`, `user:<uuid>`, `cli`, or `system`.
    pub actor: String,
    pub org: Option<String>,
    pub role: Option<String>,
    pub client_addr: Option<String>,
    /// Dotted verb, e.g. `catalog.create`, `token.revoke`.
    pub action: String,
    /// What was acted on, e.g. `license_type:11100000000013338W032`.
    pub target: String,
    /// `success` or `denied` / `failed`.
    pub outcome: String,
    pub reason: Option<String>,
    /// Extra facts (versions, changed fields). Never a secret.
    pub detail: serde_json::Value,
}

/// A message to push to an external system, enqueued with the change it announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: uuid::Uuid,
    /// Where it goes, e.g. `platform.catalog`.
    pub topic: String,
    pub payload: serde_json::Value,
}

/// What a write leaves behind besides the state itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeLog {
    pub audit: AuditEvent,
    pub outbox: Vec<OutboxMessage>,
}

impl ChangeLog {
    pub fn audit_only(audit: AuditEvent) -> Self {
        Self {
            audit,
            outbox: Vec::new(),
        }
    }
}

/// Audit search filters; each `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// At or after this instant.
    pub from: Option<jiff::Timestamp>,
    /// Before this instant.
    pub to: Option<jiff::Timestamp>,
    pub actor: Option<String>,
    /// Events of any of these orgs (an org subtree); events without an org
    /// (CLI, system) match only when this is `None`.
    pub orgs: Option<Vec<String>>,
    pub action: Option<String>,
    /// Events about any of these targets (e.g. every version of a license).
    pub targets: Option<Vec<String>>,
}

/// A stored audit event with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub event: AuditEvent,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxRecord {
    pub seq: i64,
    pub message: OutboxMessage,
    pub created_at: jiff::Timestamp,
}

/// An API token as stored: only the hash of the secret, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: uuid::Uuid,
    /// SM3 of the secret.
    pub hash: Vec<u8>,
    pub org: OrgCode,
    pub role: Role,
    pub label: String,
    pub created_at: jiff::Timestamp,
    /// The HMAC key for signed requests, wrapped under the master key. When
    /// present, every request with this token must be signed.
    pub signing_secret: Option<Vec<u8>>,
    /// A relying party's credential: the one scenario it reads for.
    pub scenario_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: uuid::Uuid,
    pub org: OrgCode,
    pub role: Role,
    pub label: String,
    pub created_at: jiff::Timestamp,
    pub revoked_at: Option<jiff::Timestamp>,
    /// Wrapped HMAC key; never serialised.
    #[serde(skip)]
    pub signing_secret: Option<Vec<u8>>,
    /// A relying party's credential: the one scenario it reads for.
    pub scenario_id: Option<uuid::Uuid>,
}

/// A change to an org's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUpdate {
    pub code: OrgCode,
    pub name: Option<String>,
    pub credit_code: Option<CreditCode>,
}

/// What a fresh library starts with.
#[derive(Debug, Clone)]
pub struct Seed {
    pub orgs: Vec<Org>,
    pub catalog: Vec<LicenseTypeSpec>,
    pub admin_token: NewToken,
    pub at: jiff::Timestamp,
}

/// Connection-pool figures for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: usize,
    pub available: usize,
}
