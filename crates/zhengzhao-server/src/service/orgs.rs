//! Org tree use cases (Art. 5): anyone reads the tree; a region_admin adds
//! bodies (such as approval bureaus) and replaces placeholder credit codes
//! within its own subtree.

use super::{Actor, Library, audit_event};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::org::{Org, OrgCode, OrgKind};
use zhengzhao_domain::role::Role;
use zhengzhao_store::{ChangeLog, OrgUpdate};

/// A new org under an existing one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrg {
    pub code: OrgCode,
    pub name: String,
    pub kind: OrgKind,
    pub parent: OrgCode,
    pub credit_code: CreditCode,
}

/// Changes to an org's name or credit code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub credit_code: Option<CreditCode>,
}

fn check_name(name: &str) -> ApiResult<()> {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::field(
            "name",
            "text",
            "name must be 1-100 characters without control characters",
            "名称应为1至100个字符",
        ));
    }
    Ok(())
}

impl Library {
    /// Whether the caller may administer orgs at all (the subtree is checked
    /// against the target once the body is read).
    pub fn authorize_org_admin(caller: &Caller) -> ApiResult<()> {
        Self::require_role(caller, &[Role::RegionAdmin])
    }

    pub async fn add_org(&self, caller: &Caller, new: NewOrg) -> ApiResult<Org> {
        Self::authorize_org_admin(caller)?;
        check_name(&new.name)?;
        let parent = self.store.org(&new.parent).await?.ok_or_else(|| {
            ApiError::field(
                "parent",
                "unknown_org",
                format!("org {} does not exist", new.parent),
                format!("上级机构{}不存在", new.parent),
            )
        })?;
        self.require_within(caller, &parent.code).await?;
        if new.code.division() != parent.code.division() || new.code == parent.code {
            return Err(ApiError::field(
                "code",
                "division",
                format!(
                    "a new org under {} must have a code {}-SUFFIX",
                    parent.code,
                    parent.code.division()
                ),
                format!("新机构代码应为{}-后缀的形式", parent.code.division()),
            ));
        }
        // A body beside an authority (an approval bureau of the same
        // division) hangs under that authority at its level, so that the
        // league above oversees it like the authority itself.
        let level = parent.level;
        let org = Org {
            code: new.code,
            name: new.name.trim().to_owned(),
            kind: new.kind,
            level,
            parent: Some(parent.code),
            credit_code: new.credit_code,
            credit_code_placeholder: false,
        };
        let log = ChangeLog::audit_only(audit_event(
            &Actor::from(caller),
            "org.create",
            format!("org:{}", org.code),
            json!({"parent": org.parent, "kind": org.kind, "credit_code": org.credit_code}),
        ));
        self.store.add_org(&org, &log).await?;
        Ok(org)
    }

    pub async fn update_org(
        &self,
        caller: &Caller,
        code: &OrgCode,
        patch: OrgPatch,
    ) -> ApiResult<Org> {
        Self::authorize_org_admin(caller)?;
        if let Some(n) = &patch.name {
            check_name(n)?;
        }
        if patch.name.is_none() && patch.credit_code.is_none() {
            return Err(ApiError::Malformed(
                "nothing to change: give name and/or credit_code".into(),
            ));
        }
        let before = self
            .store
            .org(code)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("org {code}")))?;
        self.require_within(caller, code).await?;
        let log = ChangeLog::audit_only(audit_event(
            &Actor::from(caller),
            "org.update",
            format!("org:{code}"),
            json!({
                "before": {"name": before.name, "credit_code": before.credit_code},
                "after": {"name": patch.name, "credit_code": patch.credit_code},
            }),
        ));
        let change = OrgUpdate {
            code: code.clone(),
            name: patch.name.map(|n| n.trim().to_owned()),
            credit_code: patch.credit_code,
        };
        let org = self.store.update_org(&change, &log).await?;
        self.caches.orgs.forget(code);
        Ok(org)
    }
}
