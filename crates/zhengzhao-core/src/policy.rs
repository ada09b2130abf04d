//! Who may do what: the one place that answers "may this principal do this
//! to that". Every use case names its [`Action`]; [`require`] checks the
//! principal's roles against the table in [`Action::roles`], and the org
//! rules ([`require_region`], `Library::require_within`) check where.
//!
//! Frontends call [`require`] before they even parse a request body, so a
//! caller without the role learns nothing from validation errors; the use
//! case checks again, so no frontend can forget.

use crate::{Error, Principal, Result};
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_domain::role::Role;

/// Each act a principal may ask of the library that needs a role.
/// (Public acts, such as verifying a document, need none and are not here.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Issue, update or revoke a license of the principal's own org.
    IssueLicense,
    ChangeLicense,
    RevokeLicense,
    /// Make a time-limited presentation link for a license.
    CreatePresentation,
    /// Read licenses (within the principal's org subtree).
    ReadLicenses,
    /// Change the catalog of license types (at the region).
    EditCatalog,
    /// Add or change orgs within the principal's subtree.
    AdministerOrgs,
    /// Create, change, disable or reset staff accounts (within the subtree).
    ManageStaff,
    /// See staff accounts (within the subtree).
    ReadStaff,
    /// Read and search the audit log (within the subtree).
    ReadAudit,
    /// Sign an audit checkpoint now (at the region).
    SignAuditCheckpoint,
    /// Check many business licenses at once (authorised platforms).
    CheckBatch,
    /// File a scenario a league or banner promotes (报备).
    FileScenario,
    /// See scenarios (the region all; a league or banner those it filed).
    ReadScenarios,
    /// Approve, reject, suspend, resume or revoke a scenario (at the region).
    DecideScenario,
    /// Mint a credential bound to an approved scenario (at the region).
    MintScenarioCredential,
    /// Read licenses within a scenario's grant (a relying party's credential).
    SharedRead,
    /// Act for a holder a channel authenticated (its licenses, consents,
    /// usage). A holder signed in itself needs no role (`require_holder`).
    ActForHolder,
    /// Write the caller's own org's usage list.
    EditUsageList,
    /// Check an applicant against a usage list item (staff within the org's
    /// subtree, or a usage_list scenario's credential).
    CheckUsage,
    /// List the outbox relay's rows and replay rejected or parked ones (at the region).
    OperateOutbox,
    /// Open and close an org's emergency incident and register its backlog (Art. 9).
    ManageIncident,
    /// Read an org's incidents and their backlog.
    ReadIncidents,
    /// Submit an objection a channel took in (the platform, 12345, the app).
    SubmitObjectionForChannel,
    /// Accept, refuse, investigate, decide, answer and archive objections
    /// of the org's subtree; read their attachments.
    HandleObjection,
    /// See objections of the org's subtree and which are overdue.
    ReadObjections,
}

impl Action {
    /// The roles of which a principal needs one.
    pub fn roles(self) -> &'static [Role] {
        use Action::*;
        match self {
            IssueLicense | ChangeLicense | RevokeLicense | CreatePresentation => {
                &[Role::IssuerClerk]
            }
            ReadLicenses => &Role::STAFF,
            EditCatalog => &[Role::RegionAdmin, Role::CatalogAdmin],
            AdministerOrgs => &[Role::RegionAdmin],
            ManageStaff => &[Role::SecurityAdmin],
            ReadStaff => &[Role::SecurityAdmin, Role::Auditor],
            ReadAudit => &[Role::Auditor, Role::SecurityAdmin, Role::RegionAdmin],
            SignAuditCheckpoint => &[Role::SecurityAdmin, Role::RegionAdmin],
            CheckBatch => &[Role::Platform],
            FileScenario | DecideScenario | MintScenarioCredential => &[Role::ScenarioApprover],
            ReadScenarios => &[Role::ScenarioApprover, Role::RegionAdmin, Role::Auditor],
            SharedRead => &[Role::RelyingParty],
            ActForHolder => &[Role::Channel],
            EditUsageList | OperateOutbox => &[Role::RegionAdmin],
            ManageIncident => &[Role::IssuerClerk, Role::RegionAdmin],
            ReadIncidents => &[Role::IssuerClerk, Role::RegionAdmin, Role::Auditor],
            SubmitObjectionForChannel => &[Role::Channel],
            HandleObjection => &[Role::ObjectionHandler],
            ReadObjections => &[
                Role::ObjectionHandler,
                Role::IssuerClerk,
                Role::RegionAdmin,
                Role::Auditor,
            ],
            CheckUsage => &[
                Role::RegionAdmin,
                Role::CatalogAdmin,
                Role::IssuerClerk,
                Role::Auditor,
                Role::ObjectionHandler,
                Role::ScenarioApprover,
                Role::SecurityAdmin,
                Role::RelyingParty,
            ],
        }
    }

    /// Whether the act is done at the region only.
    pub fn region_only(self) -> bool {
        matches!(
            self,
            Action::EditCatalog
                | Action::SignAuditCheckpoint
                | Action::DecideScenario
                | Action::MintScenarioCredential
                | Action::OperateOutbox
        )
    }
}

/// Refuse unless the principal holds a role the action needs (and, for a
/// region-only action, belongs to the region).
pub fn require(principal: &Principal, action: Action) -> Result<()> {
    require_role(principal, action.roles())?;
    if action.region_only() {
        require_region(principal)?;
    }
    Ok(())
}

/// The holder a principal acts as or for, else refused: a holder signed in
/// through the identity provider acts for itself; a `channel` token must
/// name the holder (`X-ZZ-On-Behalf-Of`, under its signature).
pub fn require_holder(principal: &Principal) -> Result<&crate::principal::HolderRef> {
    let signed_in = matches!(
        principal.actor,
        crate::ActorId::Holder {
            via: crate::HolderVia::SignIn(_),
            ..
        }
    );
    if !signed_in {
        require(principal, Action::ActForHolder)?;
    }
    principal.holder.as_ref().ok_or_else(|| {
        Error::Forbidden(
            "name the holder in X-ZZ-On-Behalf-Of / 请在X-ZZ-On-Behalf-Of中指明持证主体".into(),
        )
    })
}

/// Refuse unless the principal holds one of `roles`.
pub fn require_role(principal: &Principal, roles: &[Role]) -> Result<()> {
    if roles.iter().any(|r| principal.roles.contains(r)) {
        Ok(())
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(Error::Forbidden(format!(
            "role {} may not do this; needs one of: {}",
            zhengzhao_store::roles_to_text(&principal.roles),
            names.join(", ")
        )))
    }
}

/// Refuse unless the principal's org is the region itself.
pub fn require_region(principal: &Principal) -> Result<()> {
    if principal.org.as_str() == REGION_CODE {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "only the region ({REGION_CODE}) may do this; caller's org is {}",
            principal.org
        )))
    }
}

/// Refuse unless `target` is the principal's own org (licenses are issued
/// and changed only by the issuing org's clerks).
pub fn require_own_org(principal: &Principal, target: &OrgCode) -> Result<()> {
    if &principal.org == target {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "licenses of org {target} are issued only by its own clerks; caller's org is {}",
            principal.org
        )))
    }
}

impl crate::Library {
    /// Refuse unless `target` lies within the principal's org subtree.
    pub async fn require_within(&self, principal: &Principal, target: &OrgCode) -> Result<()> {
        if self.store.org_within(target, &principal.org).await? {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "org {target} is outside the caller's org {}",
                principal.org
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ActorId;

    fn principal(org: &str, roles: &[Role]) -> Principal {
        Principal {
            actor: ActorId::Token(uuid::Uuid::nil()),
            org: OrgCode::parse(org).unwrap(),
            roles: roles.to_vec(),
            client_addr: None,
            session: None,
            scenario: None,
            holder: None,
        }
    }

    #[test]
    fn each_action_needs_its_role_and_region_actions_the_region() {
        let clerk = principal("150100", &[Role::IssuerClerk]);
        assert!(require(&clerk, Action::IssueLicense).is_ok());
        assert!(require(&clerk, Action::ReadLicenses).is_ok());
        assert!(require(&clerk, Action::ReadAudit).is_err());
        let city_admin = principal("150100", &[Role::RegionAdmin]);
        assert!(require(&city_admin, Action::ReadAudit).is_ok());
        assert!(require(&city_admin, Action::EditCatalog).is_err());
        // Orgs are administered within a subtree, not only at the region.
        assert!(require(&city_admin, Action::AdministerOrgs).is_ok());
        let region_admin = principal(REGION_CODE, &[Role::RegionAdmin]);
        assert!(require(&region_admin, Action::EditCatalog).is_ok());
        // Scenarios are decided, and credentials minted, at the region only.
        let league_approver = principal("150100", &[Role::ScenarioApprover]);
        assert!(require(&league_approver, Action::FileScenario).is_ok());
        assert!(require(&league_approver, Action::DecideScenario).is_err());
        assert!(require(&league_approver, Action::MintScenarioCredential).is_err());
        let region_approver = principal(REGION_CODE, &[Role::ScenarioApprover]);
        assert!(require(&region_approver, Action::DecideScenario).is_ok());
        let relying_party = principal(REGION_CODE, &[Role::RelyingParty]);
        assert!(require(&relying_party, Action::SharedRead).is_ok());
        assert!(require(&relying_party, Action::ReadLicenses).is_err());
        let platform = principal(REGION_CODE, &[Role::Platform]);
        assert!(require(&platform, Action::CheckBatch).is_ok());
        assert!(require(&platform, Action::ReadLicenses).is_err());
    }
}
