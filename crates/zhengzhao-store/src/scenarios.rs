//! Records of relying parties' scenarios (Art. 14–16). The application is
//! kept as the JSON that was checked (`ScenarioApplication`), so what the
//! relying party asked for is on record exactly; its state and decision
//! beside it.

use serde::Serialize;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::scenario::ScenarioState;

/// A new application, `submitted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScenario {
    pub id: uuid::Uuid,
    /// The checked application, as JSON text.
    pub application: String,
    /// The relying party's unified social credit code (indexed).
    pub relying_party_credit_code: String,
    /// The league or banner that filed it (报备); `None`: the relying party
    /// applied itself through the public portal.
    pub filed_by: Option<OrgCode>,
    /// SM3 of the private tracking code handed to a portal applicant.
    pub tracking_hash: Option<Vec<u8>>,
    pub submitted_at: jiff::Timestamp,
}

/// A scenario as stored. `state` is never `expired`: that is derived from
/// `valid_until` when read (`ScenarioState::at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScenarioRecord {
    pub id: uuid::Uuid,
    pub application: String,
    pub relying_party_credit_code: String,
    pub state: ScenarioState,
    pub filed_by: Option<OrgCode>,
    #[serde(skip)]
    pub tracking_hash: Option<Vec<u8>>,
    pub submitted_at: jiff::Timestamp,
    pub decided_at: Option<jiff::Timestamp>,
    /// The actor of the latest decision (`user:<uuid>`).
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
}

/// A decision's effect on the stored scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioDecision {
    pub new_state: ScenarioState,
    pub at: jiff::Timestamp,
    pub by: String,
    pub reason: String,
}

/// A holder's consent to one social scenario. `scope` is JSON
/// (`{"type_codes": [...]}` or `{"license_ids": [...]}`, and `"fields"`),
/// checked by the use case that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentRecord {
    pub id: uuid::Uuid,
    /// The holder as licenses are stored under it (a credit code, or a
    /// resident id's blind index).
    #[serde(skip)]
    pub holder_key: String,
    pub scenario_id: uuid::Uuid,
    pub scope: String,
    pub purpose: String,
    pub valid_until: Option<jiff::civil::Date>,
    pub single_use: bool,
    /// How it was collected: `channel` (a channel platform for a holder it
    /// authenticated), `oidc` (the holder signed in), `counter_qr`.
    pub method: String,
    /// `granted`, `used` (a single-use consent, spent) or `withdrawn`.
    pub state: String,
    pub granted_at: jiff::Timestamp,
    pub used_at: Option<jiff::Timestamp>,
    pub withdrawn_at: Option<jiff::Timestamp>,
}

/// One item of an org's usage list (用证清单), one version of it.
/// `materials` is JSON: `[{"name", "type_code"}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageItemRecord {
    pub org: OrgCode,
    pub item_code: String,
    pub version: u32,
    pub name: String,
    pub materials: String,
    pub updated_at: jiff::Timestamp,
    pub updated_by: String,
}
