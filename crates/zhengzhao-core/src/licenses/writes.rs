//! Issue (颁发), update (更新) and revoke (注销): each checks the caller
//! (`policy`), validates, signs and stores the version with its audit event
//! and platform message in one transaction.

use super::*;
use crate::Principal;
use crate::holder_rules::check_face_is_the_holders;
use crate::policy::{self, Action};
use crate::{Actor, Library};
use crate::{Error, Result};
use serde_json::{Value, json};
use zhengzhao_domain::FieldError;
use zhengzhao_domain::catalog::{FieldType, LicenseTypeVersion};
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_domain::face::{is_reserved, reserved_error, validate_face};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::{Org, OrgCode};
use zhengzhao_store::{
    ChangeLog, ChangeReason, Holder, LicenseRecord, LicenseVersionRecord, NewLicense, Revocation,
    StoreError,
};

/// An issue request that passed every check, ready to sign.
pub(crate) struct ValidIssue {
    pub(crate) type_code: LicenseTypeCode,
    pub(crate) t: std::sync::Arc<LicenseTypeVersion>,
    pub(crate) issuer: std::sync::Arc<Org>,
    pub(crate) holder: Holder,
    pub(crate) face: Value,
}

impl Library {
    pub(super) async fn org_or_422(&self, field: &str, code: &str) -> Result<std::sync::Arc<Org>> {
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
    pub(super) fn require_issuer_clerk(
        caller: &Principal,
        action: Action,
        issuer: &OrgCode,
    ) -> Result<()> {
        policy::require(caller, action)?;
        policy::require_own_org(caller, issuer)
    }

    /// Validate face data against a catalog version, including that org references exist.
    pub(super) async fn checked_face(
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

    /// Everything an issue checks before it signs: the caller, the type,
    /// the issuer, the holder, the face and the dates (all errors at once).
    pub(crate) async fn validated_issue(
        &self,
        caller: &Principal,
        req: &IssueRequest,
    ) -> Result<ValidIssue> {
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
        Ok(ValidIssue {
            type_code,
            t,
            issuer,
            holder,
            face,
        })
    }

    /// Check an issue request as [`Self::issue_license`] would, writing and
    /// signing nothing (an import's `--dry-run`).
    pub async fn check_issue(&self, caller: &Principal, req: &IssueRequest) -> Result<()> {
        self.validated_issue(caller, req).await.map(|_| ())
    }

    /// Issue (制发) a license: validate, sign, store with its audit event,
    /// its push to the platform and its deliveries. Returns the license and
    /// whether it was created now (`false`: the same request was replayed).
    pub async fn issue_license(
        &self,
        caller: &Principal,
        req: IssueRequest,
    ) -> Result<(LicenseRecord, bool)> {
        let ValidIssue {
            type_code,
            t,
            issuer,
            holder,
            face,
        } = self.validated_issue(caller, &req).await?;
        let d = t.spec.draft();
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
        match self.store.issue_license(&new, &log).await {
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

    pub(super) fn replay(
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
        if let Some(ticket) = &req.reason.objection {
            if req.reason.kind != ChangeKind::Correction {
                errors.push(FieldError::new(
                    "reason/objection",
                    "objection",
                    "an objection is named by a correction only",
                    "仅更正可关联异议",
                ));
            } else if let Err(Error::Validation(e)) =
                self.check_correction_objection(l.key, ticket.trim()).await
            {
                errors.extend(e);
            }
        }
        let reason = ChangeReason {
            kind: req.reason.kind,
            text: req.reason.text.trim().to_owned(),
            objection: req.reason.objection.as_ref().map(|t| t.trim().to_owned()),
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
            .add_license_version(l.key, current.version, &record, &log)
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
}
