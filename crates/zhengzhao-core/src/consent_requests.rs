//! The reverse scan (Art. 22): a relying party at its counter asks for a
//! holder's consent with a QR code; the holder opens it in its government
//! app (a channel), sees who asks for what and why, and approves or
//! declines. An approval is a one-use consent (`counter_qr`), which the
//! relying party then reads within.
//!
//! The request is a capability: its token is the request itself (scenario,
//! types, fields, purpose, expiry), MACed under a key derived from the
//! master key, like a presentation code; nothing is stored until the holder
//! answers, and its id is used up by the first answer. The access log
//! redacts it.

use crate::disclosure::granted_fields;
use crate::holders::{ConsentScope, GrantedConsent, holder_target, the_holder};
use crate::policy::{self, Action};
use crate::{Actor, Error, Library, Principal, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_store::ChangeLog;

/// How long a counter's QR code may be answered.
pub const REQUEST_TTL_SECS: i64 = 600;
const MAX_TOKEN_LEN: usize = 4096;
const PURPOSE: &[u8] = b"zhengzhao consent request v1";

/// `POST /api/v1/shared/consent-requests`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentAsk {
    pub type_codes: Vec<String>,
    pub fields: Vec<String>,
    /// The purpose of use, 1–200 characters, shown to the holder.
    pub use_cause: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentRequestMade {
    pub request_id: uuid::Uuid,
    /// The capability the QR code carries.
    pub token: String,
    /// Where the holder's app reads the request (JSON).
    pub url: String,
    /// The holder's page for it (sign in, see who asks for what, approve
    /// or decline): what the counter's QR code holds for a phone's browser.
    pub page_url: String,
    #[schema(value_type = String)]
    pub expires_at: jiff::Timestamp,
}

/// What the holder sees before answering.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConsentRequestView {
    pub request_id: uuid::Uuid,
    pub scenario_id: uuid::Uuid,
    pub relying_party: String,
    pub relying_party_credit_code: String,
    pub scenario_name: String,
    pub use_cause: String,
    pub type_codes: Vec<String>,
    pub fields: Vec<String>,
    #[schema(value_type = String)]
    pub expires_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    rid: uuid::Uuid,
    sid: uuid::Uuid,
    t: Vec<String>,
    f: Vec<String>,
    c: String,
    exp: i64,
}

fn forged() -> Error {
    Error::field(
        "token",
        "not_genuine",
        "this consent request was not made by this library, or was altered",
        "此授权请求不是本库生成的，或已被篡改",
    )
}

impl Library {
    fn read_request(&self, token: &str) -> Result<Claims> {
        let claims: Claims = self
            .open_capability(PURPOSE, token, MAX_TOKEN_LEN)?
            .ok_or_else(forged)?;
        if self.now().as_second() >= claims.exp {
            return Err(Error::Gone(
                "this consent request has expired; ask for a new one / 授权请求已过期".into(),
            ));
        }
        Ok(claims)
    }

    /// A relying party's request for a holder's consent, to show as a QR code.
    pub async fn request_consent(
        &self,
        caller: &Principal,
        ask: &ConsentAsk,
    ) -> Result<ConsentRequestMade> {
        policy::require(caller, Action::SharedRead)?;
        let scenario = caller
            .scenario
            .clone()
            .ok_or_else(|| Error::ScenarioInactive("this credential names no scenario".into()))?;
        if !scenario.spec.kind.needs_consent() {
            return Err(Error::field(
                "type_codes",
                "no_consent_needed",
                "this scenario reads by legal duty; it asks no consent",
                "该场景依法履职用证，无需授权",
            ));
        }
        let cause = crate::shared::use_cause_ok(&ask.use_cause)?;
        let cause = cause.as_str();
        if ask.type_codes.is_empty() {
            return Err(Error::field(
                "type_codes",
                "empty",
                "name at least one license type",
                "至少列出一种证照类型",
            ));
        }
        for (i, t) in ask.type_codes.iter().enumerate() {
            let code = LicenseTypeCode::parse(t.trim())
                .map_err(|e| Error::Validation(vec![e.at(format!("type_codes/{i}"))]))?;
            granted_fields(&scenario.spec.grants, &code, Some(ask.fields.as_slice()))?;
        }
        let rid = uuid::Uuid::now_v7();
        let expires_at = self
            .now()
            .checked_add(jiff::SignedDuration::from_secs(REQUEST_TTL_SECS))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let claims = Claims {
            rid,
            sid: scenario.id,
            t: ask.type_codes.iter().map(|t| t.trim().to_owned()).collect(),
            f: ask.fields.clone(),
            c: cause.to_owned(),
            exp: expires_at.as_second(),
        };
        let token = self.seal_capability(PURPOSE, &claims)?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::field(
                "fields",
                "too_many",
                "too many types or fields",
                "类型或字段过多",
            ));
        }
        self.record_read(
            caller,
            "consent.request",
            format!("scenario:{}", scenario.id),
            json!({"request": rid, "type_codes": claims.t, "fields": claims.f, "use_cause": claims.c, "expires_at": expires_at}),
        )
        .await?;
        Ok(ConsentRequestMade {
            request_id: rid,
            url: format!("{}/api/v1/consent-requests/{token}", self.urls().base()),
            page_url: format!("{}/holder/requests/{token}", self.urls().base()),
            token,
            expires_at,
        })
    }

    /// What a request asks, for the holder's app (public: the QR code is
    /// the capability, and it carries no personal data).
    pub async fn consent_request_view(&self, token: &str) -> Result<ConsentRequestView> {
        let claims = self.read_request(token)?;
        let scenario = self.active_scenario(claims.sid).await?;
        let expires_at =
            jiff::Timestamp::from_second(claims.exp).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(ConsentRequestView {
            request_id: claims.rid,
            scenario_id: claims.sid,
            relying_party: scenario.spec.relying_party.name.clone(),
            relying_party_credit_code: scenario.spec.relying_party.credit_code.to_string(),
            scenario_name: scenario.spec.name.clone(),
            use_cause: claims.c,
            type_codes: claims.t,
            fields: claims.f,
            expires_at,
        })
    }

    /// The holder answers: approve (a one-use consent, answered with its
    /// receipt) or decline (recorded; `None`). A request is answered once.
    pub async fn answer_consent_request(
        &self,
        caller: &Principal,
        token: &str,
        approve: bool,
    ) -> Result<Option<GrantedConsent>> {
        let holder = the_holder(caller)?;
        let claims = self.read_request(token)?;
        let scenario = self.active_scenario(claims.sid).await?;
        // Answered once, by one holder, even when two answers race: the
        // request's id is used up atomically (the table of used
        // presentation and copy ids), with the answer's audit event.
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            if approve {
                "consent.request_approve"
            } else {
                "consent.decline"
            },
            holder_target(&holder.key),
            json!({"request": claims.rid, "scenario": scenario.id}),
        ));
        self.store
            .use_presentation(claims.rid, self.now(), &log)
            .await
            .map_err(|e| match e {
                zhengzhao_store::StoreError::Conflict(_) => {
                    Error::Conflict("this request was answered already".into())
                }
                other => other.into(),
            })?;
        if !approve {
            return Ok(None);
        }
        let scope = ConsentScope {
            type_codes: claims.t,
            request: Some(claims.rid),
            license_ids: Vec::new(),
            fields: claims.f,
        };
        self.store_consent(
            caller,
            holder,
            scenario.id,
            scope,
            &claims.c,
            None,
            true,
            "counter_qr",
        )
        .await
        .map(Some)
    }
}
