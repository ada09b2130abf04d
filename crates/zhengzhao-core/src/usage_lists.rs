//! Usage lists (用证清单, Art. 11–13): each org lists its service items and
//! the materials each needs, mapped to license types; the counter then asks,
//! for an applicant, which materials the library holds as current licenses
//! (so it must not ask for paper) and which it does not.
//!
//! Each org's list is written by that org's `region_admin` and kept in
//! versions; lists are public. A check is made by the org's staff (or an
//! org above) or by a `usage_list` scenario's credential, and is audited.

use crate::holders::holder_target;
use crate::licenses::status_of;
use crate::policy::{self, Action};
use crate::{Actor, Error, Library, Principal, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_domain::scenario::ScenarioKind;
use zhengzhao_store::{ChangeLog, UsageItemRecord};

/// One material a service item needs, and the license type that is it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub name: String,
    pub type_code: String,
}

/// `PUT /api/v1/usage-lists/{org}/items/{item_code}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageItemInput {
    pub name: String,
    pub materials: Vec<Material>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageItemView {
    pub org: String,
    pub item_code: String,
    pub version: u32,
    pub name: String,
    pub materials: Vec<Material>,
    #[schema(value_type = String)]
    pub updated_at: jiff::Timestamp,
}

/// `POST /api/v1/usage/check`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageCheck {
    pub org: String,
    pub item_code: String,
    /// The applicant's credit code or resident id (in the body, never a URL).
    pub holder_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MaterialCheck {
    pub name: String,
    pub type_code: String,
    /// The library holds a current license of this type for the holder:
    /// the counter must not ask for paper.
    pub held: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageCheckAnswer {
    pub org: String,
    pub item_code: String,
    pub item_version: u32,
    pub materials: Vec<MaterialCheck>,
    /// The materials the applicant still has to bring.
    pub not_held: Vec<String>,
}

fn item_code_ok(code: &str) -> Result<()> {
    let ok = (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "item_code",
            "item_code",
            "item_code must be 1 to 64 characters of A-Z a-z 0-9 - _",
            "事项编码应为1至64位字母、数字、-或_",
        ))
    }
}

fn org_of(raw: &str) -> Result<OrgCode> {
    OrgCode::parse(raw).map_err(|e| Error::Validation(vec![e.at("org")]))
}

fn view_of(r: &UsageItemRecord) -> Result<UsageItemView> {
    Ok(UsageItemView {
        org: r.org.to_string(),
        item_code: r.item_code.clone(),
        version: r.version,
        name: r.name.clone(),
        materials: serde_json::from_str(&r.materials)
            .map_err(|e| Error::Internal(format!("usage list item {}: {e}", r.item_code)))?,
        updated_at: r.updated_at,
    })
}

impl Library {
    /// Write the next version of an item of the caller's own org's list.
    pub async fn put_usage_item(
        &self,
        caller: &Principal,
        org: &str,
        item_code: &str,
        input: UsageItemInput,
    ) -> Result<UsageItemView> {
        policy::require(caller, Action::EditUsageList)?;
        let org = org_of(org)?;
        if caller.org != org {
            return Err(Error::Forbidden(format!(
                "org {org}'s usage list is written by its own region_admin; caller's org is {}",
                caller.org
            )));
        }
        item_code_ok(item_code)?;
        let mut errors = Vec::new();
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new(
                "name",
                "text",
                "name must be 1 to 200 characters",
                "事项名称应为1至200个字符",
            ));
        }
        if input.materials.is_empty() || input.materials.len() > 100 {
            errors.push(FieldError::new(
                "materials",
                "range",
                "materials must hold 1 to 100 entries",
                "材料应为1至100项",
            ));
        }
        for (i, m) in input.materials.iter().enumerate() {
            if m.name.trim().is_empty() || m.name.chars().count() > 200 {
                errors.push(FieldError::new(
                    format!("materials/{i}/name"),
                    "text",
                    "a material's name must be 1 to 200 characters",
                    "材料名称应为1至200个字符",
                ));
            }
            match LicenseTypeCode::parse(m.type_code.trim()) {
                Err(e) => errors.push(e.at(format!("materials/{i}/type_code"))),
                Ok(t) => {
                    if self.cached_license_type(&t, None).await?.is_none() {
                        errors.push(FieldError::new(
                            format!("materials/{i}/type_code"),
                            "unknown_type",
                            format!("no license type {t} in the catalog"),
                            format!("目录中没有证照类型{t}"),
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let version = self
            .store
            .usage_item(&org, item_code)
            .await?
            .map_or(1, |c| c.version + 1);
        let materials: Vec<Material> = input
            .materials
            .iter()
            .map(|m| Material {
                name: m.name.trim().to_owned(),
                type_code: m.type_code.trim().to_owned(),
            })
            .collect();
        let record = UsageItemRecord {
            org: org.clone(),
            item_code: item_code.to_owned(),
            version,
            name: name.to_owned(),
            materials: serde_json::to_string(&materials)
                .map_err(|e| Error::Internal(e.to_string()))?,
            updated_at: self.now(),
            updated_by: caller.actor.to_string(),
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "usage_list.put",
            format!("usage_list:{org}/{item_code}"),
            json!({"version": version, "name": name, "materials": materials}),
        ));
        self.store.put_usage_item(&record, &log).await?;
        view_of(&record)
    }

    /// An org's list, the current version of each item (public).
    pub async fn usage_list(&self, org: &str) -> Result<Vec<UsageItemView>> {
        let org = org_of(org)?;
        self.store
            .usage_items(&org)
            .await?
            .iter()
            .map(view_of)
            .collect()
    }

    /// One item, current version (public).
    pub async fn usage_item(&self, org: &str, item_code: &str) -> Result<UsageItemView> {
        let org = org_of(org)?;
        let item = self
            .store
            .usage_item(&org, item_code)
            .await?
            .ok_or_else(|| Error::NotFound(format!("usage list item {org}/{item_code}")))?;
        view_of(&item)
    }

    /// For an applicant at the counter: which of an item's materials the
    /// library holds as current licenses, and which it does not.
    pub async fn check_usage(
        &self,
        caller: &Principal,
        q: &UsageCheck,
    ) -> Result<UsageCheckAnswer> {
        policy::require(caller, Action::CheckUsage)?;
        let org = org_of(&q.org)?;
        if caller.has(Role::RelyingParty) {
            let scenario = caller.scenario.as_ref().ok_or_else(|| {
                Error::ScenarioInactive("this credential names no scenario".into())
            })?;
            if scenario.spec.kind != ScenarioKind::UsageList {
                return Err(Error::NotGranted(
                    "only a usage_list scenario checks usage lists / 仅用证清单类场景可核验".into(),
                ));
            }
        } else {
            self.require_within(caller, &org).await?;
        }
        let item = self
            .store
            .usage_item(&org, &q.item_code)
            .await?
            .ok_or_else(|| Error::NotFound(format!("usage list item {org}/{}", q.item_code)))?;
        let view = view_of(&item)?;
        let (holder, key) = self.holder_lookup_key(&q.holder_id)?;
        let types: Vec<LicenseTypeCode> = view
            .materials
            .iter()
            .filter_map(|m| LicenseTypeCode::parse(&m.type_code).ok())
            .collect();
        let found = self
            .store
            .licenses_of_holders(std::slice::from_ref(&key), &types)
            .await?;
        let today = self.today();
        let mut materials = Vec::new();
        for m in &view.materials {
            // The holder's newest current license of the type (the query is newest first).
            let held = found.iter().find_map(|l| {
                let v = l.current()?;
                (l.type_code.as_str() == m.type_code
                    && l.revocation.is_none()
                    && v.holder.id == key)
                    .then(|| (v.license_id.to_string(), status_of(l, v, today)))
            });
            materials.push(MaterialCheck {
                name: m.name.clone(),
                type_code: m.type_code.clone(),
                held: held.is_some(),
                license_id: held.as_ref().map(|h| h.0.clone()),
                status: held.map(|h| h.1),
            });
        }
        let not_held: Vec<String> = materials
            .iter()
            .filter(|m| !m.held)
            .map(|m| m.name.clone())
            .collect();
        self.record_read(
            caller,
            "usage.check",
            holder_target(&key),
            json!({
                "org": org, "item_code": q.item_code, "item_version": item.version,
                "holder": crate::privacy::mask_text(&holder),
                "held": materials.iter().filter_map(|m| m.license_id.clone()).collect::<Vec<_>>(),
                "not_held": not_held,
            }),
        )
        .await?;
        Ok(UsageCheckAnswer {
            org: org.to_string(),
            item_code: q.item_code.clone(),
            item_version: item.version,
            materials,
            not_held,
        })
    }
}
