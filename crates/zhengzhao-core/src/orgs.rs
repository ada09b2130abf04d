//! Org tree use cases (Art. 5): anyone reads the tree; a region_admin adds
//! bodies (such as approval bureaus) and replaces placeholder credit codes
//! within its own subtree.

use super::{Actor, Library};
use crate::Principal;
use crate::policy::{self, Action};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use utoipa::ToSchema;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::org::{Org, OrgCode, OrgKind};
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

fn check_name(name: &str) -> Result<()> {
    let n = name.trim().chars().count();
    if n == 0 || n > 100 || name.chars().any(char::is_control) {
        return Err(Error::field(
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
    pub fn authorize_org_admin(caller: &Principal) -> Result<()> {
        policy::require(caller, Action::AdministerOrgs)
    }

    pub async fn add_org(&self, caller: &Principal, new: NewOrg) -> Result<Org> {
        Self::authorize_org_admin(caller)?;
        check_name(&new.name)?;
        let parent = self.store.org(&new.parent).await?.ok_or_else(|| {
            Error::field(
                "parent",
                "unknown_org",
                format!("org {} does not exist", new.parent),
                format!("上级机构{}不存在", new.parent),
            )
        })?;
        self.require_within(caller, &parent.code).await?;
        if new.code.division() != parent.code.division() || new.code == parent.code {
            return Err(Error::field(
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
        let log = ChangeLog::audit_only(self.audit_event(
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
        caller: &Principal,
        code: &OrgCode,
        patch: OrgPatch,
    ) -> Result<Org> {
        Self::authorize_org_admin(caller)?;
        if let Some(n) = &patch.name {
            check_name(n)?;
        }
        if patch.name.is_none() && patch.credit_code.is_none() {
            return Err(Error::Malformed(
                "nothing to change: give name and/or credit_code".into(),
            ));
        }
        let before = self
            .store
            .org(code)
            .await?
            .ok_or_else(|| Error::NotFound(format!("org {code}")))?;
        self.require_within(caller, code).await?;
        let log = ChangeLog::audit_only(self.audit_event(
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

/// An org with the orgs below it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgNode {
    #[serde(flatten)]
    pub org: Org,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<OrgNode>,
}

/// The org tree, or one org's direct children.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgList {
    /// With `?parent=`, that org's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub parent: Option<OrgCode>,
    pub items: Vec<OrgNode>,
}

fn parse_org(field: &str, raw: &str) -> Result<OrgCode> {
    OrgCode::parse(raw).map_err(|e| Error::Validation(vec![e.at(field)]))
}

/// Build the nested tree from a flat list in one pass.
fn build_tree(orgs: Vec<Org>) -> Vec<OrgNode> {
    let mut by_parent: HashMap<Option<OrgCode>, Vec<Org>> = HashMap::new();
    for o in orgs {
        by_parent.entry(o.parent.clone()).or_default().push(o);
    }
    fn attach(org: Org, by_parent: &mut HashMap<Option<OrgCode>, Vec<Org>>) -> OrgNode {
        let kids = by_parent
            .remove(&Some(org.code.clone()))
            .unwrap_or_default();
        OrgNode {
            children: kids.into_iter().map(|k| attach(k, by_parent)).collect(),
            org,
        }
    }
    let roots = by_parent.remove(&None).unwrap_or_default();
    roots
        .into_iter()
        .map(|r| attach(r, &mut by_parent))
        .collect()
}

/// Reading the org tree: public (the tree says who may issue what).
impl Library {
    /// The whole tree, nested; or with `parent`, that org's direct children.
    pub async fn org_list(&self, parent: Option<&str>) -> Result<OrgList> {
        match parent {
            None => Ok(OrgList {
                parent: None,
                items: build_tree(self.store.orgs().await?),
            }),
            Some(p) => {
                let parent = parse_org("parent", p)?;
                if self.store.org(&parent).await?.is_none() {
                    return Err(Error::NotFound(format!("org {parent}")));
                }
                let children = self.store.org_children(&parent).await?;
                Ok(OrgList {
                    parent: Some(parent),
                    items: children
                        .into_iter()
                        .map(|org| OrgNode {
                            org,
                            children: vec![],
                        })
                        .collect(),
                })
            }
        }
    }

    /// One org, by the code as given (`field` names it in a validation error).
    pub async fn org_by_code(&self, field: &str, raw: &str) -> Result<Org> {
        let code = parse_org(field, raw)?;
        self.store
            .org(&code)
            .await?
            .ok_or_else(|| Error::NotFound(format!("org {code}")))
    }

    /// The org's Ed25519 verification key for Verifiable Credentials.
    pub async fn org_vc_key_document(&self, raw: &str) -> Result<serde_json::Value> {
        let org = self.org_by_code("code", raw).await?;
        self.vc_key_document(&org.code)
    }
}
