//! Issuance catalog use cases (Art. 6). Only the region's region_admin or
//! catalog_admin changes the catalog; anyone reads its public part.

use super::{Actor, Library};
use crate::Principal;
use crate::policy::{self, Action};
use crate::{Error, Result};
use serde_json::json;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::catalog::{
    LicenseTypeDraft, LicenseTypeSpec, LicenseTypeVersion, PublicAttribute,
};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_store::{ChangeLog, OutboxMessage};

/// Topic of the messages that push catalog changes to the regional platform.
pub const PLATFORM_CATALOG_TOPIC: &str = "platform.catalog";

fn platform_message(event: &str, v: &LicenseTypeSpec, version: u32) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: PLATFORM_CATALOG_TOPIC.into(),
        payload: json!({"event": event, "code": v.code(), "version": version, "license_type": v}),
    }
}

impl Library {
    /// Whether the caller may change the catalog at all: checked before the
    /// request body is even parsed.
    pub fn authorize_catalog_edit(caller: &Principal) -> Result<()> {
        policy::require(caller, Action::EditCatalog)
    }

    /// Rule-check a draft and check that the orgs it names exist.
    async fn check_spec(&self, draft: LicenseTypeDraft) -> Result<LicenseTypeSpec> {
        let mut missing = Vec::new();
        for (i, org) in draft.issuing_orgs.iter().enumerate() {
            if self.store.org(org).await?.is_none() {
                missing.push(FieldError::new(
                    format!("issuing_orgs/{i}"),
                    "unknown_org",
                    format!("org {org} does not exist"),
                    format!("机构{org}不存在"),
                ));
            }
        }
        match LicenseTypeSpec::parse(draft) {
            Ok(spec) if missing.is_empty() => Ok(spec),
            Ok(_) => Err(Error::Validation(missing)),
            Err(mut errors) => {
                errors.extend(missing);
                Err(Error::Validation(errors))
            }
        }
    }

    /// Add a license type to the catalog as its version 1.
    pub async fn create_license_type(
        &self,
        caller: &Principal,
        draft: LicenseTypeDraft,
    ) -> Result<LicenseTypeVersion> {
        Self::authorize_catalog_edit(caller)?;
        let spec = self.check_spec(draft).await?;
        let code = spec.code().clone();
        let log = ChangeLog {
            audit: self.audit_event(
                &Actor::from(caller),
                "catalog.create",
                format!("license_type:{code}"),
                json!({"version": 1, "name": spec.draft().name}),
            ),
            outbox: vec![platform_message("license_type.created", &spec, 1)],
        };
        let v = self
            .store
            .create_license_type(&spec, log.audit.at, &log)
            .await?;
        self.caches.license_types.forget(&(code, None));
        Ok(v)
    }

    /// Make the next version of an existing type from a full definition.
    pub async fn update_license_type(
        &self,
        caller: &Principal,
        code: &LicenseTypeCode,
        draft: LicenseTypeDraft,
        based_on: Option<u32>,
    ) -> Result<LicenseTypeVersion> {
        Self::authorize_catalog_edit(caller)?;
        if &draft.code != code {
            return Err(Error::field(
                "code",
                "mismatch",
                format!(
                    "body code {} differs from the URL's {code}; a type's code never changes",
                    draft.code
                ),
                format!(
                    "请求体中的证照类型代码{}与地址中的{code}不一致，证照类型代码不可修改",
                    draft.code
                ),
            ));
        }
        let current = self
            .store
            .license_type(code, None)
            .await?
            .ok_or_else(|| Error::NotFound(format!("license type {code}")))?;
        // An editor that started from an older version would undo what was
        // made since: refused, not merged (the store's write is conditional
        // on `current.version` too, for two saves at once).
        if let Some(v) = based_on.filter(|v| *v != current.version) {
            return Err(Error::Conflict(format!(
                "{code} is at version {} now, not {v}: open it again / 该证照类型已被修订为第{}版，请重新打开后再修改",
                current.version, current.version
            )));
        }
        let spec = self.check_spec(draft).await?;
        if spec == current.spec {
            return Err(Error::Conflict(format!(
                "the definition equals version {} of {code}; nothing to change",
                current.version
            )));
        }
        let next = current.version + 1;
        let log = ChangeLog {
            audit: self.audit_event(
                &Actor::from(caller),
                "catalog.update",
                format!("license_type:{code}"),
                json!({"version": next, "previous_version": current.version}),
            ),
            outbox: vec![platform_message("license_type.updated", &spec, next)],
        };
        let v = self
            .store
            .update_license_type(&spec, current.version, log.audit.at, &log)
            .await?;
        self.caches.license_types.forget(&(code.clone(), None));
        Ok(v)
    }

    /// The current catalog. The public sees every type but the not-public ones;
    /// library staff (any valid token) see all.
    pub async fn catalog(&self, staff: bool) -> Result<Vec<LicenseTypeVersion>> {
        let mut all = self.store.current_license_types().await?;
        if !staff {
            all.retain(|v| v.spec.draft().public_attribute != PublicAttribute::NotPublic);
        }
        Ok(all)
    }

    /// One type, current or a given version, under the same visibility rule.
    pub async fn license_type(
        &self,
        code: &LicenseTypeCode,
        version: Option<u32>,
        staff: bool,
    ) -> Result<LicenseTypeVersion> {
        let found = self.store.license_type(code, version).await?;
        match found {
            Some(v) if staff || v.spec.draft().public_attribute != PublicAttribute::NotPublic => {
                Ok(v)
            }
            _ => Err(Error::NotFound(match version {
                Some(n) => format!("license type {code} version {n}"),
                None => format!("license type {code}"),
            })),
        }
    }

    pub async fn license_type_versions(
        &self,
        code: &LicenseTypeCode,
        staff: bool,
    ) -> Result<Vec<LicenseTypeVersion>> {
        // The same visibility rule as for the type itself (404 if hidden).
        self.license_type(code, None, staff).await?;
        Ok(self.store.license_type_versions(code).await?)
    }
}
