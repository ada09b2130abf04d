//! Relying-party reads (Art. 14–16, 21–22): a scenario's credential asks for
//! a holder's current licenses of one granted type, and receives only the
//! granted face fields. Every request states its purpose of use (用证事由);
//! every read, refused ones included, is an audit event naming the
//! scenario, the legal basis, the purpose and the fields disclosed.
//!
//! A usage-list or other government scenario reads by legal duty
//! (`statutory_duty`); a social scenario only within the holder's live
//! consent (`holders`), covering the type and every field asked; a
//! single-use consent is spent by the read, in the read's transaction.

use crate::disclosure::{Reader, disclose, granted_fields};
use crate::licenses::status_of;
use crate::policy::{self, Action};
use crate::scenarios::ActiveScenario;
use crate::{Actor, Error, Library, Principal, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode, ResidentId};
use zhengzhao_store::ChangeLog;

/// The longest purpose of use accepted.
pub const MAX_USE_CAUSE_CHARS: usize = 200;

/// `POST /api/v1/shared/queries`. The holder's identifier travels in the
/// body, never in a URL.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedQuery {
    /// Unified social credit code or resident id of the holder.
    pub holder_id: String,
    pub type_code: String,
    /// The purpose of use (用证事由), 1–200 characters.
    pub use_cause: String,
    /// A subset of the granted fields; absent: every granted field.
    #[serde(default)]
    pub fields: Option<Vec<String>>,
}

/// One license as a relying party receives it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SharedLicense {
    /// GB/T 36904 identifier of the current version.
    pub license_id: String,
    pub version: u16,
    pub type_code: String,
    /// `valid`, `expired`, `not_yet_valid`…
    pub status: &'static str,
    pub issuer: String,
    #[schema(value_type = String)]
    pub valid_from: jiff::civil::Date,
    #[schema(value_type = Option<String>)]
    pub valid_until: Option<jiff::civil::Date>,
    /// Exactly the granted (or asked-for granted) face fields.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// Under objection (异议标注, Art. 19): an objection was accepted and
    /// is not decided yet; rely on the fields it concerns with care.
    pub under_objection: bool,
    /// The fields the open objections concern (empty when none).
    pub objection_fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SharedAnswer {
    pub scenario_id: uuid::Uuid,
    /// `statutory_duty` (a government scenario) or `consent`.
    pub legal_basis: &'static str,
    pub licenses: Vec<SharedLicense>,
}

/// A purpose of use (用证事由) as asked: 1–200 characters, no control characters.
pub(crate) fn use_cause_ok(raw: &str) -> Result<String> {
    let cause = raw.trim();
    let n = cause.chars().count();
    if n == 0 || n > MAX_USE_CAUSE_CHARS || cause.chars().any(char::is_control) {
        return Err(Error::field(
            "use_cause",
            "use_cause",
            "use_cause, the purpose of use, is required: 1 to 200 characters",
            "用证事由必填，1至200个字符",
        ));
    }
    Ok(cause.to_owned())
}

/// Seconds until the next midnight in China, when daily quotas start again.
fn until_china_midnight(now: jiff::Timestamp) -> u64 {
    let here = now.to_zoned(crate::china_tz());
    let midnight = here
        .date()
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(crate::china_tz()).ok());
    midnight
        .and_then(|m| u64::try_from(m.timestamp().as_second() - now.as_second()).ok())
        .unwrap_or(3600)
        .max(1)
}

/// What a read asked, for its audit event.
#[derive(Clone, Copy)]
struct ReadAsked<'a> {
    caller: &'a Principal,
    scenario: &'a ActiveScenario,
    use_cause: &'a str,
    /// `None` when the request was refused before naming a type.
    type_code: Option<&'a LicenseTypeCode>,
    masked_holder: &'a str,
    holder_key: &'a str,
}

impl Library {
    /// A holder's id as a caller gives it (in a body, never a URL): the id
    /// normalised, and the key licenses are stored under (the credit code,
    /// or a resident id's blind index).
    pub(crate) fn holder_lookup_key(&self, raw: &str) -> Result<(String, String)> {
        let holder = raw.trim().to_uppercase();
        if CreditCode::parse(&holder).is_ok() {
            Ok((holder.clone(), holder))
        } else if ResidentId::parse(&holder).is_ok() {
            let key = self.holder_index(&holder)?;
            Ok((holder, key))
        } else {
            Err(Error::field(
                "holder_id",
                "holder_id",
                "holder_id must be a unified social credit code or a resident id",
                "holder_id应为统一社会信用代码或公民身份号码",
            ))
        }
    }

    /// A relying party's query for a holder's current licenses of one type.
    pub async fn shared_query(&self, caller: &Principal, q: &SharedQuery) -> Result<SharedAnswer> {
        policy::require(caller, Action::SharedRead)?;
        let scenario = caller
            .scenario
            .clone()
            .ok_or_else(|| Error::ScenarioInactive("this credential names no scenario".into()))?;
        self.scenario_rates
            .check(scenario.id, scenario.spec.expected_daily_volume)?;
        // Malformed requests are refused before anything is looked up.
        let use_cause = use_cause_ok(&q.use_cause)?;
        let type_code = LicenseTypeCode::parse(q.type_code.trim())
            .map_err(|e| Error::Validation(vec![e.at("type_code")]))?;
        let (holder, holder_key) = self.holder_lookup_key(&q.holder_id)?;
        let masked_holder = crate::privacy::mask_text(&holder);
        let read = ReadAsked {
            caller,
            scenario: &scenario,
            use_cause: &use_cause,
            type_code: Some(&type_code),
            masked_holder: &masked_holder,
            holder_key: &holder_key,
        };
        let fields = match granted_fields(&scenario.spec.grants, &type_code, q.fields.as_deref()) {
            Ok(f) => f,
            Err(e) => return Err(self.refused(&read, e).await),
        };
        // A social scenario reads only within a live consent of the holder.
        let consent = if scenario.spec.kind.needs_consent() {
            match self
                .live_consent(&holder_key, scenario.id, &type_code, &fields)
                .await?
            {
                Some(k) => Some(k),
                None => {
                    let e = Error::ConsentRequired(
                        "a social scenario reads a license only with its holder's live consent, covering this type and these fields / 社会化场景须经持证主体授权方可用证".into(),
                    );
                    return Err(self.refused(&read, e).await);
                }
            }
        } else {
            None
        };
        let found = self
            .store
            .licenses_of_holders(
                std::slice::from_ref(&holder_key),
                std::slice::from_ref(&type_code),
            )
            .await?;
        let today = self.today();
        let mut licenses = Vec::new();
        // A consent for named licenses covers only those.
        let only: Option<Vec<String>> = consent.as_ref().and_then(|k| {
            serde_json::from_str::<crate::holders::ConsentScope>(&k.scope)
                .ok()
                .filter(|s| !s.license_ids.is_empty())
                .map(|s| s.license_ids)
        });
        for l in found.into_iter().filter(|l| l.revocation.is_none()) {
            let l = self.open_license(l).await?;
            let Some(v) = l.current() else { continue };
            if v.holder.id != holder_key {
                continue;
            }
            if let Some(only) = &only
                && !l
                    .versions
                    .iter()
                    .any(|x| only.contains(&x.license_id.to_string()))
            {
                continue;
            }
            let reader = Reader::RelyingParty {
                grants: &scenario.spec.grants,
                asked: Some(&fields),
            };
            let shown = disclose(reader, &l.type_code, None, v)?.face;
            licenses.push(SharedLicense {
                license_id: v.license_id.to_string(),
                version: v.version,
                type_code: l.type_code.to_string(),
                status: status_of(&l, v, today),
                issuer: l.issuer.to_string(),
                valid_from: v.valid_from,
                valid_until: v.valid_until,
                fields: shown,
                under_objection: l.objection_fields.is_some(),
                objection_fields: l.objection_fields.clone().unwrap_or_default(),
            });
        }
        let ids: Vec<String> = licenses.iter().map(|l| l.license_id.clone()).collect();
        let event =
            self.shared_read_event(&read, &fields, &ids, consent.as_ref().map(|k| k.id), None);
        let (day, limit) = (self.today(), scenario.spec.expected_daily_volume);
        let counted = match &consent {
            // A single-use consent is spent by this read, in its transaction
            // (counted against the quota first).
            Some(k) if k.single_use => {
                let counted = self
                    .store
                    .use_scenario_quota(scenario.id, day, limit)
                    .await?;
                if counted {
                    self.store
                        .end_consent(k.id, "used", self.now(), &ChangeLog::audit_only(event))
                        .await?;
                }
                counted
            }
            // The quota's count and the audit event in one transaction: one
            // write per read, and never one without the other.
            _ => {
                self.store
                    .record_counted_read(scenario.id, day, limit, &ChangeLog::audit_only(event))
                    .await?
            }
        };
        if !counted {
            let e = Error::QuotaExhausted(until_china_midnight(self.now()));
            return Err(self.refused(&read, e).await);
        }
        Ok(SharedAnswer {
            scenario_id: scenario.id,
            legal_basis: if consent.is_some() {
                "consent"
            } else {
                "statutory_duty"
            },
            licenses,
        })
    }

    /// Record a refused read, and hand back why it was refused (or why it
    /// could not even be recorded).
    /// A relying party's request with a query string in its URL: refused
    /// whole. Holder ids travel only in request bodies, since URLs end up
    /// in the logs of every proxy and server on the way; these endpoints
    /// take no query parameters at all. When the query names a holder, the
    /// refusal is filed under that holder, who sees the attempt.
    pub async fn refuse_query_in_url(&self, caller: &Principal, query: &str) -> Error {
        let e = Error::IdentifierInUrl(
            "this endpoint takes no query string: send holder ids in the JSON body / 本接口不接受URL查询参数，持证主体标识须放在请求体中".into(),
        );
        if policy::require(caller, Action::SharedRead).is_err() {
            return e;
        }
        let Some(scenario) = caller.scenario.clone() else {
            return e;
        };
        let named = query
            .split('&')
            .filter_map(|pair| pair.split_once('=').map_or(Some(pair), |(_, v)| Some(v)))
            .find_map(|v| self.holder_lookup_key(v).ok());
        let Some((holder, holder_key)) = named else {
            return e;
        };
        let masked_holder = crate::privacy::mask_text(&holder);
        let read = ReadAsked {
            caller,
            scenario: &scenario,
            use_cause: "",
            type_code: None,
            masked_holder: &masked_holder,
            holder_key: &holder_key,
        };
        self.refused(&read, e).await
    }

    async fn refused(&self, read: &ReadAsked<'_>, e: Error) -> Error {
        let event = self.shared_read_event(read, &[], &[], None, Some(&e));
        match self.store.record_event(&ChangeLog::audit_only(event)).await {
            Ok(()) => e,
            Err(failed) => failed.into(),
        }
    }

    /// The audit event of one relying-party read, answered or refused,
    /// filed under the holder (so the holder can see it).
    fn shared_read_event(
        &self,
        read: &ReadAsked<'_>,
        fields: &[String],
        licenses: &[String],
        consent: Option<uuid::Uuid>,
        refused: Option<&Error>,
    ) -> zhengzhao_store::AuditEvent {
        let ReadAsked {
            caller,
            scenario,
            use_cause,
            type_code,
            masked_holder,
            holder_key,
        } = *read;
        let legal_basis = if scenario.spec.kind.needs_consent() {
            "consent"
        } else {
            "statutory_duty"
        };
        let mut event = self.audit_event(
            &Actor::from(caller),
            "license.shared_read",
            crate::holders::holder_target(holder_key),
            json!({
                "scenario": scenario.id,
                "relying_party": scenario.spec.relying_party.credit_code.to_string(),
                "relying_party_name": scenario.spec.relying_party.name,
                "legal_basis": legal_basis,
                "use_cause": use_cause,
                "type": type_code,
                "holder": masked_holder,
                "fields": fields,
                "licenses": licenses,
                "consent": consent,
            }),
        );
        if let Some(e) = refused {
            event.outcome = "refused".into();
            event.reason = Some(e.kind().slug.to_owned());
        }
        event
    }
}
