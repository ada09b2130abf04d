//! License use cases (Art. 7, 8, 10): issue, update, revoke; every version
//! signed with the issuer's SM2 key over its RFC 8785 canonical JSON.

use super::holder_rules::check_face_is_the_holders;
use super::{Actor, Library};
use crate::Principal;
use crate::policy::{self, Action};
use crate::{Error, Result};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::catalog::{FieldType, LicenseTypeVersion};
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode, ResidentId};
use zhengzhao_domain::face::{holder_fits, is_reserved, reserved_error, validate_face};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::{Org, OrgCode};
use zhengzhao_store::{
    ChangeKind, ChangeLog, ChangeReason, DeliveryRecord, Holder, LicenseRecord,
    LicenseVersionRecord, NewLicense, OutboxMessage, Revocation, StoreError,
};

/// Topic of the messages that aggregate licenses to the regional platform (Art. 7).
pub const PLATFORM_LICENSE_TOPIC: &str = "platform.license";
/// Marks the shape of the signed document.
pub const DOCUMENT_SCHEMA: &str = "zhengzhao.license/2";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderInput {
    pub name: String,
    /// `uscc` (unified social credit code) or `resident_id`.
    pub id_type: String,
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// The business system that holds the license's record.
    pub system: String,
    /// Its record id; (system, record_id) is unique, so a retried request returns the same license.
    pub record_id: String,
}

/// `POST /api/v1/licenses`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    pub type_code: String,
    /// Org code of the issuing org.
    pub issuer: String,
    pub holder: HolderInput,
    #[schema(value_type = Object)]
    pub face: Value,
    #[schema(value_type = String, format = Date)]
    pub valid_from: Date,
    /// `null` for long-term validity.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    pub source: SourceInput,
}

/// `POST /api/v1/licenses/{id}/versions`: the next version, issued together
/// with the changed paper license. The holder's id never changes; its name may.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    #[schema(value_type = Object)]
    pub face: Value,
    #[schema(value_type = String, format = Date)]
    pub valid_from: Date,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    #[serde(default)]
    pub holder_name: Option<String>,
    /// Why the new version is issued: required.
    pub reason: ReasonRequest,
}

/// The reason for an update: `change` (变更, the licensed facts changed),
/// `correction` (更正, an error is corrected) or `reissue` (补发, a new copy
/// of unchanged facts), with the clerk's words (1-500 characters).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[schema(value_type = String, example = "change")]
    pub kind: ChangeKind,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    pub reason: String,
}

const FIRST_DATE: Date = jiff::civil::date(1900, 1, 1);
const LAST_DATE: Date = jiff::civil::date(2199, 12, 31);

fn text_ok(s: &str, max: usize) -> bool {
    let n = s.trim().chars().count();
    n > 0 && n <= max && !s.chars().any(char::is_control)
}

fn check_dates(from: Date, until: Option<Date>, errors: &mut Vec<FieldError>) {
    let out = |d: Date| d < FIRST_DATE || d > LAST_DATE;
    if out(from) {
        errors.push(FieldError::new(
            "valid_from",
            "date_range",
            "valid_from must be between 1900-01-01 and 2199-12-31",
            "有效期起始日期应在1900-01-01至2199-12-31之间",
        ));
    }
    if let Some(u) = until {
        if out(u) {
            errors.push(FieldError::new(
                "valid_until",
                "date_range",
                "valid_until must be between 1900-01-01 and 2199-12-31",
                "有效期截止日期应在1900-01-01至2199-12-31之间",
            ));
        } else if u < from {
            errors.push(FieldError::new(
                "valid_until",
                "date_order",
                "valid_until is before valid_from",
                "有效期截止日期早于起始日期",
            ));
        }
    }
}

/// Parse and check the holder; a natural person's id must be a resident id born by today.
fn check_holder(
    h: &HolderInput,
    spec: &LicenseTypeVersion,
    today: Date,
    errors: &mut Vec<FieldError>,
) -> Option<Holder> {
    if !text_ok(&h.name, 200) {
        errors.push(FieldError::new(
            "holder/name",
            "text",
            "holder name must be 1-200 characters",
            "持证主体名称应为1至200个字符",
        ));
    } else if is_reserved(&h.name) {
        errors.push(reserved_error("holder/name"));
    }
    if is_reserved(&h.id) {
        errors.push(reserved_error("holder/id"));
        return None;
    }
    if let Err(e) = holder_fits(spec.spec.draft(), &h.id_type) {
        errors.push(e);
        return None;
    }
    let id = match h.id_type.as_str() {
        "uscc" => CreditCode::parse(&h.id)
            .map(|c| c.to_string())
            .map_err(|e| e.at("holder/id")),
        _ => ResidentId::parse(&h.id)
            .and_then(|r| r.check_born_by(today).map(|()| r))
            .map(|r| r.as_str().to_owned())
            .map_err(|e| e.at("holder/id")),
    };
    match id {
        Ok(id) => Some(Holder {
            name: h.name.trim().to_owned(),
            id_type: h.id_type.clone(),
            id,
        }),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// The first document schema: status only outside the signature.
pub const SCHEMA_1: &str = "zhengzhao.license/1";

/// The `schema` a signed payload declares (`SCHEMA_1` when it names none).
pub fn payload_schema(payload: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Schema {
        schema: Option<String>,
    }
    serde_json::from_str::<Schema>(payload)
        .ok()
        .and_then(|s| s.schema)
        .unwrap_or_else(|| SCHEMA_1.to_owned())
}

/// The license as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenseView {
    /// The identifier the request named (any version's).
    #[schema(value_type = String)]
    pub license_id: LicenseId,
    /// The version that identifier names.
    pub version: u16,
    /// `valid`, `superseded` (an older version), `revoked`, `expired` or `not_yet_valid`.
    pub status: &'static str,
    #[schema(value_type = String)]
    pub current_license_id: LicenseId,
    pub current_version: u16,
    #[schema(value_type = String)]
    pub type_code: LicenseTypeCode,
    pub type_name: String,
    pub type_version: u32,
    pub license_number: Option<String>,
    pub issuer: IssuerView,
    #[schema(value_type = Object)]
    pub holder: Holder,
    #[schema(value_type = Object)]
    pub face: Value,
    #[schema(value_type = String, format = Date)]
    pub valid_from: Date,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: jiff::Timestamp,
    /// First successful delivery of this version to the holder (Art. 8).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<Object>)]
    pub revocation: Option<Revocation>,
    pub versions: Vec<VersionSummary>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuerView {
    #[schema(value_type = String)]
    pub code: OrgCode,
    pub name: String,
    #[schema(value_type = String)]
    pub credit_code: CreditCode,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionSummary {
    #[schema(value_type = String)]
    pub license_id: LicenseId,
    pub version: u16,
    pub status: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: jiff::Timestamp,
    /// Why an update issued this version (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub reason: Option<ChangeReason>,
}

/// The current version of `l`; every stored license has one.
pub(crate) fn current_version(l: &LicenseRecord) -> Result<&LicenseVersionRecord> {
    l.current()
        .ok_or_else(|| Error::Internal("license without versions".into()))
}

/// Status of version `v` of `l` today (China time).
pub fn status_of(l: &LicenseRecord, v: &LicenseVersionRecord, today: Date) -> &'static str {
    let current = l.current().map(|c| c.version);
    if l.revocation.is_some() {
        "revoked"
    } else if current != Some(v.version) {
        "superseded"
    } else if v.valid_until.is_some_and(|u| u < today) {
        "expired"
    } else if v.valid_from > today {
        "not_yet_valid"
    } else {
        "valid"
    }
}

fn license_number(
    type_version: &LicenseTypeVersion,
    face: &serde_json::Map<String, Value>,
) -> Option<String> {
    let field = type_version.spec.draft().license_number_field.as_ref()?;
    face.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// Fields that differ between a stored first version and a new request, for a 409.
fn differences(
    existing: &LicenseRecord,
    req: &IssueRequest,
    holder: &Holder,
    face: &Value,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some(first) = existing.versions.first() else {
        return out;
    };
    if existing.type_code.as_str() != req.type_code {
        out.push("type_code".to_owned());
    }
    if existing.issuer.as_str() != req.issuer {
        out.push("issuer".to_owned());
    }
    if first.holder != *holder {
        out.push("holder".to_owned());
    }
    if first.valid_from != req.valid_from {
        out.push("valid_from".to_owned());
    }
    if first.valid_until != req.valid_until {
        out.push("valid_until".to_owned());
    }
    if let (Some(a), Some(b)) = (first.face.as_object(), face.as_object()) {
        let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
        keys.sort();
        keys.dedup();
        out.extend(
            keys.into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| format!("face/{k}")),
        );
    }
    out
}

/// Everything one version of a license states.
struct Statement<'a> {
    id: &'a LicenseId,
    version: u16,
    serial: &'a str,
    license_type: &'a LicenseTypeVersion,
    issuer: &'a Org,
    holder: &'a Holder,
    number: Option<&'a str>,
    valid_from: Date,
    valid_until: Option<Date>,
    issued_at: jiff::Timestamp,
    supersedes: Option<&'a LicenseId>,
    /// This version's entry in the `message` status list (schema 2).
    status: Value,
}

impl Statement<'_> {
    /// What is signed: everything the license states, and nothing else.
    /// The face data is moved in (not copied); [`Library::sign`] moves it back out.
    fn payload(&self, face: Value) -> Value {
        let t = self.license_type;
        let mut payload = json!({
            "schema": DOCUMENT_SCHEMA,
            "license_id": self.id,
            "version": self.version,
            "serial": self.serial,
            "license_type": {"code": t.spec.code(), "name": t.spec.draft().name, "version": t.version},
            "license_number": self.number,
            "issuer": {"code": self.issuer.code, "name": self.issuer.name, "credit_code": self.issuer.credit_code},
            "holder": self.holder,
            "valid_from": self.valid_from.to_string(),
            "valid_until": self.valid_until.map(|d| d.to_string()),
            "issued_at": self.issued_at.to_string(),
            "supersedes": self.supersedes,
            "status": self.status,
        });
        if let Some(fields) = payload.as_object_mut() {
            fields.insert("face".into(), face);
        }
        payload
    }
}

/// The message that aggregates a change to the regional platform (Art. 7).
fn platform_message(
    event: &str,
    license_id: &LicenseId,
    version: u16,
    issuer: &OrgCode,
) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: PLATFORM_LICENSE_TOPIC.into(),
        payload: json!({
            "event": event,
            "license_id": license_id,
            "version": version,
            "type_code": license_id.type_code(),
            "issuer": issuer,
        }),
    }
}

impl Library {
    async fn org_or_422(&self, field: &str, code: &str) -> Result<std::sync::Arc<Org>> {
        let parsed = OrgCode::parse(code).map_err(|e| Error::Validation(vec![e.at(field)]))?;
        self.cached_org(&parsed).await?.ok_or_else(|| {
            Error::field(
                field,
                "unknown_org",
                format!("org {parsed} does not exist"),
                format!("机构{parsed}不存在"),
            )
        })
    }

    /// Only the issuing org's clerks act on its licenses.
    fn require_issuer_clerk(caller: &Principal, action: Action, issuer: &OrgCode) -> Result<()> {
        policy::require(caller, action)?;
        policy::require_own_org(caller, issuer)
    }

    /// Validate face data against a catalog version, including that org references exist.
    async fn checked_face(
        &self,
        t: &LicenseTypeVersion,
        face: &Value,
        errors: &mut Vec<FieldError>,
    ) -> Value {
        match validate_face(t.spec.draft(), face) {
            // `validate_face` refuses the reserved sealed form (see `privacy`) in every field.
            Ok(map) => {
                for f in &t.spec.draft().face_fields {
                    if f.field_type == FieldType::OrgReference
                        && let Some(code) = map.get(&f.name).and_then(Value::as_str)
                        && let Ok(org) = OrgCode::parse(code)
                        && matches!(self.cached_org(&org).await, Ok(None))
                    {
                        let field = format!("face/{}", f.name);
                        errors.push(FieldError::new(
                            field,
                            "unknown_org",
                            format!("org {org} does not exist"),
                            format!("机构{org}不存在"),
                        ));
                    }
                }
                Value::Object(map)
            }
            Err(e) => {
                errors.extend(e);
                Value::Null
            }
        }
    }

    /// The `status` member of a schema-2 payload for `index`.
    fn status_entry(&self, index: i64) -> Value {
        super::status_list::status_entry(
            &self.status_lists_url(super::status_list::StatusPurpose::Message),
            index,
        )
    }

    /// Sign a statement with `issuer`'s active key. Returns the canonical
    /// text that was signed, the DER signature, the key's id, and `face` back.
    async fn sign(
        &self,
        issuer: &Org,
        statement: &Statement<'_>,
        face: Value,
    ) -> Result<(String, Vec<u8>, uuid::Uuid, Value)> {
        let key = self.signer_for(issuer).await?;
        let mut payload = statement.payload(face);
        let text = zhengzhao_crypto::canonical_json_value(&payload)
            .map_err(|e| Error::Internal(e.to_string()))?;
        // ~0.1 ms of CPU: signed in place on the runtime's worker threads (one
        // per core), which is where requests already run in parallel; a
        // hand-off to the blocking pool costs more than it saves.
        let sig = key
            .pair
            .sign(text.as_bytes())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let face = payload
            .as_object_mut()
            .and_then(|fields| fields.remove("face"))
            .unwrap_or(Value::Null);
        Ok((text, sig, key.id, face))
    }

    /// Issue (制发) a license: validate, sign, store with its audit event,
    /// its push to the platform and its deliveries. Returns the license and
    /// whether it was created now (`false`: the same request was replayed).
    pub async fn issue_license(
        &self,
        caller: &Principal,
        req: IssueRequest,
    ) -> Result<(LicenseRecord, bool)> {
        policy::require(caller, Action::IssueLicense)?;
        let mut errors = Vec::new();
        let type_code = LicenseTypeCode::parse(&req.type_code).map_err(|e| e.at("type_code"));
        let issuer = self.org_or_422("issuer", &req.issuer).await?;
        Self::require_issuer_clerk(caller, Action::IssueLicense, &issuer.code)?;
        let type_code = type_code.map_err(|e| Error::Validation(vec![e]))?;
        let t = self
            .cached_license_type(&type_code, None)
            .await?
            .ok_or_else(|| {
                Error::field(
                    "type_code",
                    "unknown_type",
                    format!("license type {type_code} is not in the catalog"),
                    format!("发证目录中没有证照类型{type_code}"),
                )
            })?;
        let d = t.spec.draft();
        if !d.issuing_levels.contains(&issuer.level) && !d.issuing_orgs.contains(&issuer.code) {
            return Err(Error::Forbidden(format!(
                "org {} ({}) may not issue {}",
                issuer.code,
                issuer.level.as_str(),
                d.name
            )));
        }
        for (field, v, max) in [
            ("source/system", &req.source.system, 64),
            ("source/record_id", &req.source.record_id, 128),
        ] {
            if !text_ok(v, max) || v.trim() != v {
                errors.push(FieldError::new(
                    field,
                    "text",
                    format!("must be 1-{max} characters without surrounding spaces"),
                    format!("应为1至{max}个字符且首尾无空格"),
                ));
            } else if is_reserved(v) {
                errors.push(reserved_error(field));
            }
        }
        let holder = check_holder(&req.holder, &t, self.today(), &mut errors);
        let face = self.checked_face(&t, &req.face, &mut errors).await;
        if let Some(h) = &holder {
            check_face_is_the_holders(&t, &face, h, &mut errors);
        }
        check_dates(req.valid_from, req.valid_until, &mut errors);
        let Some(holder) = holder.filter(|_| errors.is_empty()) else {
            return Err(Error::Validation(errors));
        };

        // No read for an earlier request with the same source: the unique
        // (system, record_id) key refuses a second insert, and that conflict
        // is answered below as a replay (or a 409 naming what differs).
        let serial = uuid::Uuid::now_v7().simple().to_string().to_uppercase();
        let id = LicenseId::new(&type_code, &issuer.credit_code, &serial, 1)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let number = face.as_object().and_then(|f| license_number(&t, f));
        let issued_at = self.now();
        let status_index = self.next_status_index().await?;
        let statement = Statement {
            id: &id,
            version: 1,
            serial: &serial,
            license_type: &t,
            issuer: &issuer,
            holder: &holder,
            number: number.as_deref(),
            valid_from: req.valid_from,
            valid_until: req.valid_until,
            issued_at,
            supersedes: None,
            status: self.status_entry(status_index),
        };
        let (payload, signature, key_id, face) = self.sign(&issuer, &statement, face).await?;
        let new = NewLicense {
            type_code: type_code.clone(),
            issuer: issuer.code.clone(),
            serial,
            source_system: req.source.system.clone(),
            source_record_id: req.source.record_id.clone(),
            one_current_per_holder: d.one_current_license_per_holder,
            first: LicenseVersionRecord {
                license_id: id.clone(),
                version: 1,
                type_version: t.version,
                holder,
                face,
                license_number: number,
                valid_from: req.valid_from,
                valid_until: req.valid_until,
                issued_at,
                payload,
                signature,
                key_id,
                reason: None,
                status_index,
            },
        };
        // Kept for comparing a replay; what is stored has personal fields sealed.
        let plain_face = new.first.face.clone();
        let new = NewLicense {
            first: self.seal_version(&t, new.first).await?,
            ..new
        };
        let mut audit = self.audit_event(
            &Actor::from(caller),
            "license.issue",
            format!("license:{id}"),
            json!({"version": 1, "type_code": type_code, "source": {"system": req.source.system, "record_id": req.source.record_id}}),
        );
        audit.at = issued_at;
        let log = ChangeLog {
            audit,
            outbox: vec![platform_message("license.issued", &id, 1, &issuer.code)],
        };
        match self.store.issue_license(&new, &self.channels, &log).await {
            Ok(rec) => {
                let rec = self.open_license(rec).await?;
                if let Some(v) = rec.current() {
                    self.remember_verified(v);
                }
                Ok((rec, true))
            }
            // A concurrent identical request won the race: answer as a
            // replay. (The same request sent again also finds its own
            // license as the holder's current one: the source decides first.)
            Err(e @ (StoreError::Conflict(_) | StoreError::CurrentLicenseExists { .. })) => {
                match self
                    .store
                    .license_by_source(&req.source.system, &req.source.record_id)
                    .await?
                {
                    // Another org's license: the caller learns only that the
                    // record id is taken, never that license or its data.
                    Some(existing) if existing.issuer != issuer.code => {
                        Err(Error::Conflict(format!(
                            "source record {}/{} is already used by a license of another org; each org's business system must use its own record ids",
                            req.source.system, req.source.record_id
                        )))
                    }
                    Some(existing) => {
                        let existing = self.open_license(existing).await?;
                        self.replay(existing, &req, &new.first.holder, &plain_face)
                    }
                    None => match e {
                        StoreError::CurrentLicenseExists { license_id, issuer } => Err(self
                            .current_license_conflict(
                                caller,
                                &t,
                                &new.first.holder,
                                &license_id,
                                &issuer,
                            )
                            .await),
                        _ => Err(Error::Conflict(
                            "serial collision; retry the request".into(),
                        )),
                    },
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn replay(
        &self,
        existing: LicenseRecord,
        req: &IssueRequest,
        holder: &Holder,
        face: &Value,
    ) -> Result<(LicenseRecord, bool)> {
        let diff = differences(&existing, req, holder, face);
        if diff.is_empty() {
            Ok((existing, false))
        } else {
            Err(Error::Conflict(format!(
                "source record {}/{} already issued license {} with different data: {}",
                req.source.system,
                req.source.record_id,
                existing
                    .versions
                    .first()
                    .map(|v| v.license_id.to_string())
                    .unwrap_or_default(),
                diff.join(", ")
            )))
        }
    }

    /// The license any of whose versions has this identifier.
    pub async fn find_license(&self, raw_id: &str) -> Result<(LicenseRecord, LicenseId)> {
        let id =
            LicenseId::parse(raw_id).map_err(|e| Error::Validation(vec![e.at("license_id")]))?;
        let rec = self
            .store
            .license_by_identifier(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("license {id}")))?;
        Ok((self.open_license(rec).await?, id))
    }

    /// Staff of the issuing org or of an org above it may read a license.
    /// (Platforms, which are relying parties, read nothing this way.)
    pub async fn require_reader(&self, caller: &Principal, l: &LicenseRecord) -> Result<()> {
        policy::require(caller, Action::ReadLicenses)?;
        self.require_within(caller, &l.issuer).await
    }

    /// Update (更新): a new signed version with the next version number.
    pub async fn update_license(
        &self,
        caller: &Principal,
        raw_id: &str,
        req: UpdateRequest,
    ) -> Result<LicenseRecord> {
        policy::require(caller, Action::ChangeLicense)?;
        let (l, _) = self.find_license(raw_id).await?;
        Self::require_issuer_clerk(caller, Action::ChangeLicense, &l.issuer)?;
        if l.revocation.is_some() {
            return Err(Error::Conflict(
                "a revoked license cannot be updated".into(),
            ));
        }
        let current = current_version(&l)?.clone();
        let t = self
            .cached_license_type(&l.type_code, None)
            .await?
            .ok_or_else(|| Error::Internal(format!("license type {} vanished", l.type_code)))?;
        let issuer = self
            .cached_org(&l.issuer)
            .await?
            .ok_or_else(|| Error::Internal("issuer vanished".into()))?;
        let mut errors = Vec::new();
        let mut holder = current.holder.clone();
        if let Some(name) = &req.holder_name {
            if is_reserved(name) {
                errors.push(reserved_error("holder_name"));
            } else if text_ok(name, 200) {
                holder.name = name.trim().to_owned();
            } else {
                errors.push(FieldError::new(
                    "holder_name",
                    "text",
                    "holder name must be 1-200 characters",
                    "持证主体名称应为1至200个字符",
                ));
            }
        }
        if zhengzhao_domain::face::is_reserved(&req.reason.text) {
            errors.push(zhengzhao_domain::face::reserved_error("reason/text"));
        } else if !text_ok(&req.reason.text, 500) {
            errors.push(FieldError::new(
                "reason/text",
                "text",
                "the reason must be 1-500 characters",
                "更新原因应为1至500个字符",
            ));
        }
        let reason = ChangeReason {
            kind: req.reason.kind,
            text: req.reason.text.trim().to_owned(),
        };
        let face = self.checked_face(&t, &req.face, &mut errors).await;
        // Against the holder as this version will name it (a new name from
        // `holder_name`); the id never changes.
        check_face_is_the_holders(&t, &face, &holder, &mut errors);
        check_dates(req.valid_from, req.valid_until, &mut errors);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let version = current.version + 1;
        let issuer_credit = CreditCode::parse(current.license_id.issuer_code())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let id = LicenseId::new(&l.type_code, &issuer_credit, &l.serial, version)
            .map_err(|e| Error::Conflict(format!("no further version possible: {e}")))?;
        let number = face.as_object().and_then(|f| license_number(&t, f));
        let issued_at = self.now();
        let status_index = self.next_status_index().await?;
        let statement = Statement {
            id: &id,
            version,
            serial: &l.serial,
            license_type: &t,
            issuer: &issuer,
            holder: &holder,
            number: number.as_deref(),
            valid_from: req.valid_from,
            valid_until: req.valid_until,
            issued_at,
            supersedes: Some(&current.license_id),
            status: self.status_entry(status_index),
        };
        let (payload, signature, key_id, face) = self.sign(&issuer, &statement, face).await?;
        let record = LicenseVersionRecord {
            license_id: id.clone(),
            version,
            type_version: t.version,
            holder,
            face,
            license_number: number,
            valid_from: req.valid_from,
            valid_until: req.valid_until,
            issued_at,
            payload,
            signature,
            key_id,
            reason: Some(reason.clone()),
            status_index,
        };
        let mut audit = self.audit_event(
            &Actor::from(caller),
            "license.update",
            format!("license:{id}"),
            json!({"version": version, "supersedes": current.license_id, "reason": reason}),
        );
        audit.at = issued_at;
        let log = ChangeLog {
            audit,
            outbox: vec![platform_message("license.updated", &id, version, &l.issuer)],
        };
        let record = self.seal_version(&t, record).await?;
        let stored = self
            .store
            .add_license_version(l.key, current.version, &record, &self.channels, &log)
            .await?;
        // The version before is superseded now: the lists say so at once.
        self.status_list_changed();
        let stored = self.open_license(stored).await?;
        if let Some(v) = stored.current() {
            self.remember_verified(v);
        }
        Ok(stored)
    }

    /// Revoke (注销), with a reason; recorded with who and when.
    pub async fn revoke_license(
        &self,
        caller: &Principal,
        raw_id: &str,
        req: RevokeRequest,
    ) -> Result<LicenseRecord> {
        policy::require(caller, Action::RevokeLicense)?;
        // Not opened: revoking needs no personal data, so a license whose
        // stored data cannot be read can still be revoked.
        let id =
            LicenseId::parse(raw_id).map_err(|e| Error::Validation(vec![e.at("license_id")]))?;
        let l = self
            .store
            .license_by_identifier(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("license {id}")))?;
        Self::require_issuer_clerk(caller, Action::RevokeLicense, &l.issuer)?;
        if !text_ok(&req.reason, 500) {
            return Err(Error::field(
                "reason",
                "text",
                "a reason of 1-500 characters is required",
                "注销原因应为1至500个字符",
            ));
        }
        if is_reserved(&req.reason) {
            return Err(Error::Validation(vec![reserved_error("reason")]));
        }
        if l.revocation.is_some() {
            return Err(Error::Conflict("the license is already revoked".into()));
        }
        let current = current_version(&l)?;
        let revocation = Revocation {
            at: self.now(),
            by: caller.actor.to_string(),
            reason: req.reason.trim().to_owned(),
        };
        let mut audit = self.audit_event(
            &Actor::from(caller),
            "license.revoke",
            format!("license:{}", current.license_id),
            json!({"version": current.version}),
        );
        audit.at = revocation.at;
        audit.reason = Some(revocation.reason.clone());
        let log = ChangeLog {
            audit,
            outbox: vec![platform_message(
                "license.revoked",
                &current.license_id,
                current.version,
                &l.issuer,
            )],
        };
        let stored = self
            .store
            .revoke_license(l.key, current.version, &revocation, &log)
            .await?;
        self.status_list_changed();
        // Revoked either way: the answer shows what can be read.
        self.open_license_lossy(stored).await
    }

    /// The API view of `l`'s current version, as `caller` may see it.
    pub async fn current_view(&self, caller: &Principal, l: &LicenseRecord) -> Result<LicenseView> {
        let current = current_version(l)?;
        self.license_view(caller, l, &current.license_id).await
    }

    /// The API view of `l` as named by `asked`; personal fields are masked
    /// unless the caller may see them (`privacy`).
    pub async fn license_view(
        &self,
        caller: &Principal,
        l: &LicenseRecord,
        asked: &LicenseId,
    ) -> Result<LicenseView> {
        let deliveries = self.store.deliveries_of(l.key).await?;
        self.license_view_with(caller, l, asked, &deliveries).await
    }

    /// The view of a license just issued: nothing delivered yet, so no
    /// delivery is read.
    pub async fn issued_view(&self, caller: &Principal, l: &LicenseRecord) -> Result<LicenseView> {
        let current = current_version(l)?;
        self.license_view_with(caller, l, &current.license_id, &[])
            .await
    }

    /// The current views of a page of licenses, with their deliveries read
    /// in one query.
    pub async fn current_views(
        &self,
        caller: &Principal,
        page: &[LicenseRecord],
    ) -> Result<Vec<LicenseView>> {
        let keys: Vec<i64> = page.iter().map(|l| l.key).collect();
        let deliveries = self.store.deliveries_of_licenses(&keys).await?;
        let mut views = Vec::with_capacity(page.len());
        for l in page {
            let current = current_version(l)?;
            views.push(
                self.license_view_with(caller, l, &current.license_id, &deliveries)
                    .await?,
            );
        }
        Ok(views)
    }

    /// [`Self::license_view`] with the deliveries already read (`deliveries`
    /// may hold other licenses' too: only this license's versions count).
    async fn license_view_with(
        &self,
        caller: &Principal,
        l: &LicenseRecord,
        asked: &LicenseId,
        deliveries: &[DeliveryRecord],
    ) -> Result<LicenseView> {
        let today = self.today();
        let current = current_version(l)?;
        let v = l
            .versions
            .iter()
            .find(|v| &v.license_id == asked)
            .unwrap_or(current);
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        let issuer = self
            .cached_org(&l.issuer)
            .await?
            .ok_or_else(|| Error::Internal("issuer vanished".into()))?;
        let delivered_at = deliveries
            .iter()
            .filter(|d| d.license_id == v.license_id)
            .filter_map(|d| d.delivered_at)
            .min();
        Ok(LicenseView {
            license_id: v.license_id.clone(),
            version: v.version,
            status: status_of(l, v, today),
            current_license_id: current.license_id.clone(),
            current_version: current.version,
            type_code: l.type_code.clone(),
            type_name: t
                .as_ref()
                .map(|t| t.spec.draft().name.clone())
                .unwrap_or_default(),
            type_version: v.type_version,
            license_number: v.license_number.clone(),
            issuer: IssuerView {
                code: issuer.code.clone(),
                name: issuer.name.clone(),
                credit_code: CreditCode::parse(v.license_id.issuer_code())
                    .unwrap_or_else(|_| issuer.credit_code.clone()),
            },
            holder: {
                // A natural person's name and resident id are personal data;
                // so is an organisation's name equal to a personal face value.
                let mut h = v.holder.clone();
                if !Self::sees_personal_data(caller, l) {
                    h.name = crate::privacy::masked_holder_name(t.as_deref(), v);
                    if h.id_type == "resident_id" {
                        h.id = crate::privacy::mask_text(&h.id);
                    }
                }
                h
            },
            face: {
                let mut face = v.face.clone();
                if let Some(t) = t.as_ref().filter(|_| !Self::sees_personal_data(caller, l)) {
                    Self::mask_face(t, &mut face);
                }
                face
            },
            valid_from: v.valid_from,
            valid_until: v.valid_until,
            issued_at: v.issued_at,
            delivered_at,
            revocation: l.revocation.clone(),
            versions: l
                .versions
                .iter()
                .map(|x| VersionSummary {
                    license_id: x.license_id.clone(),
                    version: x.version,
                    status: status_of(l, x, today),
                    issued_at: x.issued_at,
                    reason: x.reason.clone(),
                })
                .collect(),
        })
    }
}
