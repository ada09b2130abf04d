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
