//! Scenario management (Art. 3, 14–16): relying parties apply (or a league
//! or banner files a scenario it promotes, 报备), the region's scenario
//! approver decides, and the region mints credentials bound to one
//! approved scenario. What a scenario's credential may then read is decided
//! in `disclosure`; its reads are in `shared`.
//!
//! Rules that hold here:
//! - An application keeps every rule of `ScenarioSpec::parse`, and each
//!   grant names a license type of the catalog and only that type's face
//!   fields.
//! - Only a `scenario_approver` of the region decides, and never on a
//!   scenario their own org filed.
//! - A scenario is in force only while approved and not past
//!   `valid_until`; its credentials are checked against it on every request.

use crate::policy::{self, Action};
use crate::secrets::{random_hex, token_hash};
use crate::{Actor, ActorId, Error, Library, Principal, Result};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_domain::role::Role;
use zhengzhao_domain::scenario::{
    CheckedGrant, Contact, Decision, RelyingPartyKind, ScenarioApplication, ScenarioKind,
    ScenarioSpec, ScenarioState,
};
use zhengzhao_store::{ChangeLog, NewScenario, ScenarioDecision, ScenarioRecord, StoreError};

/// A scenario in force, as a relying party's principal carries it.
#[derive(Debug, Clone)]
pub struct ActiveScenario {
    pub id: uuid::Uuid,
    pub spec: ScenarioSpec,
}

/// What `POST /api/v1/scenarios` answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Submitted {
    pub scenario_id: uuid::Uuid,
    /// For an application through the public portal: a private code to ask
    /// about it later (shown once). Absent for a filing by staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_code: Option<String>,
    pub state: ScenarioState,
}

/// The relying party as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RelyingPartyView {
    pub name: String,
    pub credit_code: String,
    pub kind: RelyingPartyKind,
}

/// A scenario as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScenarioView {
    pub id: uuid::Uuid,
    /// As of today: an approved or suspended scenario past `valid_until` is `expired`.
    pub state: ScenarioState,
    pub relying_party: RelyingPartyView,
    pub kind: ScenarioKind,
    pub name: String,
    pub purpose: String,
    pub legal_basis: String,
    pub grants: Vec<CheckedGrant>,
    pub expected_daily_volume: u32,
    #[schema(value_type = String)]
    pub valid_from: jiff::civil::Date,
    #[schema(value_type = String)]
    pub valid_until: jiff::civil::Date,
    pub contact: Contact,
    /// The league or banner that filed it; absent: applied through the portal.
    #[schema(value_type = Option<String>)]
    pub filed_by: Option<OrgCode>,
    #[schema(value_type = String)]
    pub submitted_at: jiff::Timestamp,
    #[schema(value_type = Option<String>)]
    pub decided_at: Option<jiff::Timestamp>,
    pub decision_reason: Option<String>,
}

/// A credential minted for a scenario: the secrets are shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScenarioCredential {
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
    pub scenario_id: uuid::Uuid,
}

fn reason_ok(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    let n = reason.chars().count();
    if n == 0 || n > 500 || reason.chars().any(char::is_control) {
        return Err(Error::field(
            "reason",
            "text",
            "reason must be 1 to 500 characters",
            "理由应为1至500个字符",
        ));
    }
    Ok(reason)
}

/// The stored application back as a checked spec.
fn spec_of(record: &ScenarioRecord) -> Result<ScenarioSpec> {
    let corrupt = |what: String| {
        Error::from(StoreError::Corrupt(format!(
            "scenario {}: {what}",
            record.id
        )))
    };
    let app: ScenarioApplication =
        serde_json::from_str(&record.application).map_err(|e| corrupt(e.to_string()))?;
    ScenarioSpec::parse(app).map_err(|e| corrupt(format!("{e:?}")))
}

impl Library {
    /// A relying party applies through the public portal (`by` is `None`),
    /// or a league's or banner's scenario approver files a scenario it
    /// promotes.
    pub async fn apply_for_scenario(
        &self,
        by: Option<&Principal>,
        client_addr: Option<String>,
        application: ScenarioApplication,
    ) -> Result<Submitted> {
        if let Some(p) = by {
            policy::require(p, Action::FileScenario)?;
        }
        let spec = ScenarioSpec::parse(application.clone()).map_err(Error::Validation)?;
        self.check_grants_against_catalog(&spec.grants).await?;
        let id = uuid::Uuid::now_v7();
        let tracking_code = match by {
            None => Some(format!("zzr_{}", random_hex(16)?)),
            Some(_) => None,
        };
        let actor = match by {
            Some(p) => Actor::from(p),
            None => Actor {
                id: ActorId::Anonymous,
                org: None,
                role: None,
                client_addr,
            },
        };
        let application = serde_json::to_string(&application)
            .map_err(|e| Error::Internal(format!("application: {e}")))?;
        let record = NewScenario {
            id,
            application,
            relying_party_credit_code: spec.relying_party.credit_code.to_string(),
            filed_by: by.map(|p| p.org.clone()),
            tracking_hash: tracking_code.as_deref().map(token_hash),
            submitted_at: self.now(),
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &actor,
            "scenario.submit",
            format!("scenario:{id}"),
            json!({
                "relying_party": {"name": spec.relying_party.name, "credit_code": spec.relying_party.credit_code.to_string(), "kind": spec.relying_party.kind},
                "kind": spec.kind, "name": spec.name, "grants": spec.grants,
                "valid_from": spec.valid_from, "valid_until": spec.valid_until,
                "filed_by": by.map(|p| p.org.to_string()),
            }),
        ));
        self.store.add_scenario(&record, &log).await?;
        Ok(Submitted {
            scenario_id: id,
            tracking_code,
            state: ScenarioState::Submitted,
        })
    }

    /// Each granted type is in the catalog and each field is one of its face fields.
    async fn check_grants_against_catalog(&self, grants: &[CheckedGrant]) -> Result<()> {
        let mut errors = Vec::new();
        for (i, g) in grants.iter().enumerate() {
            let Some(t) = self.cached_license_type(&g.type_code, None).await? else {
                errors.push(FieldError::new(
                    format!("grants/{i}/type_code"),
                    "unknown_type",
                    format!("no license type {} in the catalog", g.type_code),
                    format!("目录中没有证照类型{}", g.type_code),
                ));
                continue;
            };
            for (j, f) in g.fields.iter().enumerate() {
                if !t.spec.draft().face_fields.iter().any(|ff| &ff.name == f) {
                    errors.push(FieldError::new(
                        format!("grants/{i}/fields/{j}"),
                        "unknown_field",
                        format!("license type {} has no face field {f}", g.type_code),
                        format!("证照类型{}没有照面字段{f}", g.type_code),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }

    async fn scenario_record(&self, id: uuid::Uuid) -> Result<ScenarioRecord> {
        self.store
            .scenario(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("scenario {id}")))
    }

    fn scenario_view_of(&self, record: &ScenarioRecord) -> Result<ScenarioView> {
        let spec = spec_of(record)?;
        Ok(ScenarioView {
            id: record.id,
            state: record.state.at(spec.valid_until, self.today()),
            relying_party: RelyingPartyView {
                name: spec.relying_party.name,
                credit_code: spec.relying_party.credit_code.to_string(),
                kind: spec.relying_party.kind,
            },
            kind: spec.kind,
            name: spec.name,
            purpose: spec.purpose,
            legal_basis: spec.legal_basis,
            grants: spec.grants,
            expected_daily_volume: spec.expected_daily_volume,
            valid_from: spec.valid_from,
            valid_until: spec.valid_until,
            contact: spec.contact,
            filed_by: record.filed_by.clone(),
            submitted_at: record.submitted_at,
            decided_at: record.decided_at,
            decision_reason: record.decision_reason.clone(),
        })
    }

    /// Whether the caller may see `record`: the region sees every scenario;
    /// a league or banner the ones filed within its subtree.
    async fn may_see_scenario(&self, caller: &Principal, record: &ScenarioRecord) -> Result<bool> {
        if caller.org.as_str() == REGION_CODE {
            return Ok(true);
        }
        match &record.filed_by {
            Some(org) => Ok(self.store.org_within(org, &caller.org).await?),
            None => Ok(false),
        }
    }

    pub async fn scenario_view(&self, caller: &Principal, id: uuid::Uuid) -> Result<ScenarioView> {
        policy::require(caller, Action::ReadScenarios)?;
        let record = self.scenario_record(id).await?;
        if !self.may_see_scenario(caller, &record).await? {
            // Not named as forbidden: a scenario id outside the caller's
            // scope is as unknown as one that does not exist.
            return Err(Error::NotFound(format!("scenario {id}")));
        }
        self.scenario_view_of(&record)
    }

    pub async fn scenario_list(&self, caller: &Principal) -> Result<Vec<ScenarioView>> {
        policy::require(caller, Action::ReadScenarios)?;
        let mut out = Vec::new();
        for record in self.store.scenarios().await? {
            if self.may_see_scenario(caller, &record).await? {
                out.push(self.scenario_view_of(&record)?);
            }
        }
        Ok(out)
    }

    /// The region's scenario approver decides: approve or reject an
    /// application; suspend, resume or revoke an approved scenario.
    pub async fn decide_scenario(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
        decision: Decision,
        reason: &str,
    ) -> Result<ScenarioView> {
        policy::require(caller, Action::DecideScenario)?;
        let reason = reason_ok(reason)?;
        let record = self.scenario_record(id).await?;
        if record.filed_by.as_ref() == Some(&caller.org) {
            return Err(Error::Forbidden(
                "a scenario is never decided by the org that filed it".into(),
            ));
        }
        let spec = spec_of(&record)?;
        let now_state = record.state.at(spec.valid_until, self.today());
        let new_state = now_state
            .decide(decision)
            .map_err(|e| Error::Conflict(format!("{e}; the scenario is {}", now_state.as_str())))?;
        let change = ScenarioDecision {
            new_state,
            at: self.now(),
            by: caller.actor.to_string(),
            reason: reason.to_owned(),
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "scenario.decide",
            format!("scenario:{id}"),
            json!({"decision": decision, "from": record.state, "to": new_state, "reason": reason}),
        ));
        let stored = self
            .store
            .decide_scenario(id, record.state, &change, &log)
            .await?;
        self.scenario_view_of(&stored)
    }

    /// Mint a credential bound to one approved scenario (shown once).
    pub async fn mint_scenario_credential(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
        signed: bool,
    ) -> Result<ScenarioCredential> {
        policy::require(caller, Action::MintScenarioCredential)?;
        let active = self.active_scenario(id).await?;
        let region = OrgCode::parse(REGION_CODE).map_err(|e| Error::Internal(e.to_string()))?;
        let label = format!("scenario {}", active.spec.name);
        let label: String = label.chars().take(100).collect();
        let (_, token, signing_key) = self
            .mint_token(
                &Actor::from(caller),
                &region,
                Role::RelyingParty,
                &label,
                signed,
                Some(id),
            )
            .await?;
        Ok(ScenarioCredential {
            token,
            signing_key,
            scenario_id: id,
        })
    }

    /// The scenarios a holder may consent to now: social ones in force,
    /// for the holder's consent page (the holder itself, or a channel for it).
    pub async fn consentable_scenarios(
        &self,
        caller: &Principal,
    ) -> Result<Vec<Arc<ActiveScenario>>> {
        policy::require_holder(caller)?;
        let today = self.today();
        let mut out = Vec::new();
        for record in self.store.scenarios().await? {
            let spec = spec_of(&record)?;
            let state = record.state.at(spec.valid_until, today);
            if state == ScenarioState::Approved
                && today >= spec.valid_from
                && spec.kind.needs_consent()
            {
                out.push(Arc::new(ActiveScenario {
                    id: record.id,
                    spec,
                }));
            }
        }
        Ok(out)
    }

    /// The scenario if it is in force now (approved and not past
    /// `valid_until`); `ScenarioInactive` otherwise.
    pub async fn active_scenario(&self, id: uuid::Uuid) -> Result<Arc<ActiveScenario>> {
        let record = self.scenario_record(id).await.map_err(|e| match e {
            Error::NotFound(_) => Error::ScenarioInactive(format!("scenario {id} does not exist")),
            other => other,
        })?;
        let spec = spec_of(&record)?;
        let state = record.state.at(spec.valid_until, self.today());
        if state != ScenarioState::Approved || self.today() < spec.valid_from {
            return Err(Error::ScenarioInactive(format!(
                "scenario {id} is {}",
                if state == ScenarioState::Approved {
                    "not yet in force"
                } else {
                    state.as_str()
                }
            )));
        }
        Ok(Arc::new(ActiveScenario { id, spec }))
    }
}

/// The per-second rate of each scenario's credentials (in memory, per
/// node): a burst of a few seconds' worth, refilled at the scenario's
/// daily volume spread over about two and a half hours (at least 10 a
/// second), so a counter's queue is served and a runaway client is not.
#[derive(Default)]
pub struct ScenarioRates {
    limiters: std::sync::Mutex<
        std::collections::HashMap<uuid::Uuid, Arc<governor::DefaultDirectRateLimiter>>,
    >,
}

impl ScenarioRates {
    /// The reads per second allowed for an expected daily volume.
    pub fn per_second(expected_daily_volume: u32) -> u32 {
        expected_daily_volume.div_ceil(9000).max(10)
    }

    /// `TooManyRequests(seconds)` when the scenario is over its rate now.
    pub fn check(&self, scenario: uuid::Uuid, expected_daily_volume: u32) -> Result<()> {
        use governor::clock::{Clock, DefaultClock};
        let limiter = {
            let Ok(mut map) = self.limiters.lock() else {
                return Ok(());
            };
            map.entry(scenario)
                .or_insert_with(|| {
                    let rate = std::num::NonZeroU32::new(Self::per_second(expected_daily_volume))
                        .unwrap_or(std::num::NonZeroU32::MIN);
                    let burst = rate.saturating_mul(std::num::NonZeroU32::new(3).unwrap_or(rate));
                    Arc::new(governor::RateLimiter::direct(
                        governor::Quota::per_second(rate).allow_burst(burst),
                    ))
                })
                .clone()
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Error::TooManyRequests((wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1))
        })
    }
}
