//! Emergency incidents (Art. 9): a fault that stopped issuance, updates or
//! revocations at an org, the source records it left undone (the backlog),
//! and the operator's imports of the working-day calendar.

use zhengzhao_domain::org::OrgCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: uuid::Uuid,
    pub org: OrgCode,
    pub cause: String,
    pub started_at: jiff::Timestamp,
    /// Which operations the fault blocked: `issue`, `update`, `revoke`.
    pub operations: Vec<String>,
    /// When the fault was cleared; `None` while open.
    pub cleared_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
}

/// A source record the fault left undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklogItemRecord {
    pub incident_id: uuid::Uuid,
    pub source_system: String,
    pub record_id: String,
    /// `issue`, `update` or `revoke`.
    pub operation: String,
    /// When the paper license (or its change) was issued.
    pub paper_issued_on: jiff::civil::Date,
    pub registered_at: jiff::Timestamp,
}
