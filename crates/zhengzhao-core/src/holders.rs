//! Holders as callers (Art. 22): through a channel platform that
//! authenticated them (a `channel` token naming the holder in
//! `X-ZZ-On-Behalf-Of`, under its signature), a holder sees its own
//! licenses, grants and withdraws consents to social scenarios, and sees
//! who used its licenses ("who used my license", as Estonia's Data Tracker).
//!
//! A consent names one scenario, the license types (or licenses) and the
//! fields it covers (within the scenario's grant), a purpose, and either a
//! last day or a single use. The holder gets a receipt signed by the
//! region (SM2) it can show later.

use crate::disclosure::{Reader, disclose, granted_fields};
use crate::licenses::status_of;
use crate::policy;
use crate::principal::HolderRef;
use crate::{Actor, Error, Library, Principal, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_store::{AuditQuery, ChangeLog, ConsentRecord};

/// `POST /api/v1/consents`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub scenario_id: uuid::Uuid,
    /// The license types covered (or `license_ids`, not both).
    #[serde(default)]
    pub type_codes: Vec<String>,
    #[serde(default)]
    pub license_ids: Vec<String>,
    /// A subset of the scenario's grant.
    pub fields: Vec<String>,
    /// 1–200 characters.
    pub purpose: String,
    /// The last day it holds (or `single_use`, not both).
    #[schema(value_type = Option<String>)]
    pub valid_until: Option<jiff::civil::Date>,
    #[serde(default)]
    pub single_use: bool,
}

/// The scope of a consent as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentScope {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub type_codes: Vec<String>,
    /// The relying party's request (the reverse scan) this consent answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<uuid::Uuid>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub license_ids: Vec<String>,
    pub fields: Vec<String>,
}

/// A consent as the holder sees it, with its signed receipt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentView {
    pub consent_id: uuid::Uuid,
    pub scenario_id: uuid::Uuid,
    pub scope: ConsentScope,
    pub purpose: String,
    #[schema(value_type = Option<String>)]
    pub valid_until: Option<jiff::civil::Date>,
    pub single_use: bool,
    /// `granted`, `used`, `withdrawn` or `expired`.
    pub state: String,
    #[schema(value_type = String)]
    pub granted_at: jiff::Timestamp,
    #[schema(value_type = Option<String>)]
    pub withdrawn_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>)]
    pub used_at: Option<jiff::Timestamp>,
}

/// The receipt of a consent: its canonical JSON, signed by the region (SM2
/// with SM3, Z computed with the default id), and the signer's certificate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentReceipt {
    pub payload: String,
    pub signature: String,
    pub certificate: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GrantedConsent {
    #[serde(flatten)]
    pub consent: ConsentView,
    pub receipt: ConsentReceipt,
}

/// One of the holder's licenses, in full: it is the holder's own data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HolderLicense {
    pub license_id: String,
    pub version: u16,
    pub type_code: String,
    /// The catalog version of its type the license was issued under.
    pub type_version: u32,
    pub status: &'static str,
    pub issuer: String,
    #[schema(value_type = String)]
    pub valid_from: jiff::civil::Date,
    #[schema(value_type = Option<String>)]
    pub valid_until: Option<jiff::civil::Date>,
    #[schema(value_type = Object)]
    pub face: Value,
}

/// One use of the holder's licenses by a relying party, answered or refused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageEntry {
    #[schema(value_type = String)]
    pub at: jiff::Timestamp,
    pub scenario_id: Value,
    pub relying_party: Value,
    pub legal_basis: Value,
    pub use_cause: Value,
    pub fields: Value,
    pub licenses: Value,
    /// `success` or `refused`.
    pub result: String,
    /// Why it was refused (a problem slug).
    pub reason: Option<String>,
    pub consent_id: Value,
}

pub(crate) fn the_holder(caller: &Principal) -> Result<&HolderRef> {
    policy::require_holder(caller)
}

/// The target under which a holder's reads are audited (never the id in
/// clear for a natural person: the key is a blind index then).
pub fn holder_target(key: &str) -> String {
    format!("holder:{key}")
}

fn view_of(k: &ConsentRecord, today: jiff::civil::Date) -> Result<ConsentView> {
    let scope: ConsentScope = serde_json::from_str(&k.scope)
        .map_err(|e| Error::Internal(format!("consent {} scope: {e}", k.id)))?;
    let expired = k.state == "granted" && k.valid_until.is_some_and(|d| today > d);
    Ok(ConsentView {
        consent_id: k.id,
        scenario_id: k.scenario_id,
        scope,
        purpose: k.purpose.clone(),
        valid_until: k.valid_until,
        single_use: k.single_use,
        state: if expired {
            "expired".into()
        } else {
            k.state.clone()
        },
        granted_at: k.granted_at,
        withdrawn_at: k.withdrawn_at,
        used_at: k.used_at,
    })
}

impl Library {
    /// The holder's current licenses, every type, in full.
    pub async fn holder_licenses(&self, caller: &Principal) -> Result<Vec<HolderLicense>> {
        let holder = the_holder(caller)?;
        let types: Vec<LicenseTypeCode> = self
            .store
            .current_license_types()
            .await?
            .into_iter()
            .map(|t| t.spec.code().clone())
            .collect();
        let found = self
            .store
            .licenses_of_holders(std::slice::from_ref(&holder.key), &types)
            .await?;
        let today = self.today();
        let mut out = Vec::new();
        for l in found {
            let l = self.open_license(l).await?;
            let Some(v) = l.current() else { continue };
            if v.holder.id != holder.key {
                continue;
            }
            out.push(HolderLicense {
                license_id: v.license_id.to_string(),
                version: v.version,
                type_code: l.type_code.to_string(),
                type_version: v.type_version,
                status: status_of(&l, v, today),
                issuer: l.issuer.to_string(),
                valid_from: v.valid_from,
                valid_until: v.valid_until,
                face: Value::Object(disclose(Reader::Holder, &l.type_code, None, v)?.face),
            });
        }
        let ids: Vec<&str> = out.iter().map(|l| l.license_id.as_str()).collect();
        self.record_read(
            caller,
            "license.holder_read",
            holder_target(&holder.key),
            json!({"licenses": ids}),
        )
        .await?;
        Ok(out)
    }

    /// Grant a consent to a social scenario; answered with its signed receipt.
    pub async fn grant_consent(
        &self,
        caller: &Principal,
        req: ConsentRequest,
    ) -> Result<GrantedConsent> {
        let holder = the_holder(caller)?;
        let purpose = req.purpose.trim();
        let n = purpose.chars().count();
        if n == 0 || n > 200 || purpose.chars().any(char::is_control) {
            return Err(Error::field(
                "purpose",
                "text",
                "purpose must be 1 to 200 characters",
                "授权用途应为1至200个字符",
            ));
        }
        if req.single_use == req.valid_until.is_some() {
            return Err(Error::field(
                "valid_until",
                "one_of",
                "give either valid_until or single_use: true",
                "请二选一：指定有效期截止日，或仅限使用一次",
            ));
        }
        if req.valid_until.is_some_and(|d| d < self.today()) {
            return Err(Error::field(
                "valid_until",
                "past",
                "valid_until is in the past",
                "有效期截止日已过",
            ));
        }
        if req.type_codes.is_empty() == req.license_ids.is_empty() {
            return Err(Error::field(
                "type_codes",
                "one_of",
                "name either type_codes or license_ids",
                "请二选一：证照类型或具体证照",
            ));
        }
        let scenario = self.active_scenario(req.scenario_id).await?;
        if !scenario.spec.kind.needs_consent() {
            return Err(Error::field(
                "scenario_id",
                "no_consent_needed",
                "this scenario reads by legal duty; it takes no consent",
                "该场景依法履职用证，无需授权",
            ));
        }
        // The types covered: those named, or those of the licenses named
        // (which must be the holder's own).
        let mut types = Vec::new();
        for (i, t) in req.type_codes.iter().enumerate() {
            types.push(
                LicenseTypeCode::parse(t.trim())
                    .map_err(|e| Error::Validation(vec![e.at(format!("type_codes/{i}"))]))?,
            );
        }
        for raw in &req.license_ids {
            let (l, _) = self.find_license(raw).await?;
            if l.current().is_none_or(|v| v.holder.id != holder.key) {
                return Err(Error::NotFound(format!("license {raw}")));
            }
            types.push(l.type_code.clone());
        }
        for t in &types {
            granted_fields(&scenario.spec.grants, t, Some(req.fields.as_slice()))?;
        }
        let scope = ConsentScope {
            request: None,
            type_codes: req.type_codes.iter().map(|t| t.trim().to_owned()).collect(),
            license_ids: req.license_ids.clone(),
            fields: req.fields.clone(),
        };
        self.store_consent(
            caller,
            holder,
            scenario.id,
            scope,
            purpose,
            req.valid_until,
            req.single_use,
            "channel",
        )
        .await
    }

    /// Store a consent of `holder` with its audit event; the view and its
    /// receipt.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn store_consent(
        &self,
        caller: &Principal,
        holder: &HolderRef,
        scenario: uuid::Uuid,
        scope: ConsentScope,
        purpose: &str,
        valid_until: Option<jiff::civil::Date>,
        single_use: bool,
        method: &str,
    ) -> Result<GrantedConsent> {
        let record = ConsentRecord {
            id: uuid::Uuid::now_v7(),
            holder_key: holder.key.clone(),
            scenario_id: scenario,
            scope: serde_json::to_string(&scope).map_err(|e| Error::Internal(e.to_string()))?,
            purpose: purpose.to_owned(),
            valid_until,
            single_use,
            method: method.to_owned(),
            state: "granted".into(),
            granted_at: self.now(),
            used_at: None,
            withdrawn_at: None,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "consent.grant",
            holder_target(&holder.key),
            json!({"consent": record.id, "scenario": scenario, "scope": scope, "purpose": purpose,
                   "valid_until": valid_until, "single_use": single_use, "method": method}),
        ));
        self.store.add_consent(&record, &log).await?;
        let consent = view_of(&record, self.today())?;
        let receipt = self.consent_receipt(&consent, holder).await?;
        Ok(GrantedConsent { consent, receipt })
    }

    /// The receipt: the consent and its holder, signed by the region.
    async fn consent_receipt(&self, c: &ConsentView, holder: &HolderRef) -> Result<ConsentReceipt> {
        let statement = json!({
            "type": "zhengzhao.consent/1",
            "consent_id": c.consent_id,
            "holder": {"id_type": holder.id_type, "id": holder.shown},
            "scenario_id": c.scenario_id,
            "scope": c.scope,
            "purpose": c.purpose,
            "valid_until": c.valid_until,
            "single_use": c.single_use,
            "granted_at": c.granted_at,
        });
        let payload = zhengzhao_crypto::canonical_json_value(&statement)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (signature, certificate) = self.sign_as_region(payload.as_bytes()).await?;
        Ok(ConsentReceipt {
            payload,
            signature,
            certificate,
        })
    }

    /// The holder's consents, newest first.
    pub async fn holder_consents(&self, caller: &Principal) -> Result<Vec<ConsentView>> {
        let holder = the_holder(caller)?;
        let today = self.today();
        self.store
            .consents_of_holder(&holder.key)
            .await?
            .iter()
            .map(|k| view_of(k, today))
            .collect()
    }

    /// Withdraw one of the holder's consents, effective at once.
    pub async fn withdraw_consent(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
    ) -> Result<ConsentView> {
        let holder = the_holder(caller)?;
        let found = self
            .store
            .consent(id)
            .await?
            .filter(|k| k.holder_key == holder.key)
            .ok_or_else(|| Error::NotFound(format!("consent {id}")))?;
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "consent.withdraw",
            holder_target(&holder.key),
            json!({"consent": found.id, "scenario": found.scenario_id}),
        ));
        let ended = self
            .store
            .end_consent(id, "withdrawn", self.now(), &log)
            .await?;
        view_of(&ended, self.today())
    }

    /// A live consent of `holder_key` to `scenario` that covers `type_code`
    /// (or the license `license_id`) and every one of `fields`.
    pub(crate) async fn live_consent(
        &self,
        holder_key: &str,
        scenario: uuid::Uuid,
        type_code: &LicenseTypeCode,
        fields: &[String],
    ) -> Result<Option<ConsentRecord>> {
        let today = self.today();
        for k in self.store.consents_of_holder(holder_key).await? {
            if k.scenario_id != scenario
                || k.state != "granted"
                || k.valid_until.is_some_and(|d| today > d)
            {
                continue;
            }
            let Ok(scope) = serde_json::from_str::<ConsentScope>(&k.scope) else {
                continue;
            };
            let covers_type = scope.type_codes.iter().any(|t| t == type_code.as_str())
                || !scope.license_ids.is_empty();
            if covers_type && fields.iter().all(|f| scope.fields.contains(f)) {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// Who used the holder's licenses: every relying-party read, refused
    /// ones included, newest last.
    pub async fn holder_usage(&self, caller: &Principal) -> Result<Vec<UsageEntry>> {
        let holder = the_holder(caller)?;
        let query = AuditQuery {
            action: Some("license.shared_read".into()),
            targets: Some(vec![holder_target(&holder.key)]),
            ..AuditQuery::default()
        };
        let events = self.store.search_audit(&query, 0, 1000).await?;
        Ok(events
            .into_iter()
            .map(|r| {
                let d = &r.event.detail;
                UsageEntry {
                    at: r.event.at,
                    scenario_id: d["scenario"].clone(),
                    relying_party: d["relying_party_name"].clone(),
                    legal_basis: d["legal_basis"].clone(),
                    use_cause: d["use_cause"].clone(),
                    fields: d["fields"].clone(),
                    licenses: d["licenses"].clone(),
                    result: r.event.outcome.clone(),
                    reason: r.event.reason.clone(),
                    consent_id: d["consent"].clone(),
                }
            })
            .collect())
    }
}
