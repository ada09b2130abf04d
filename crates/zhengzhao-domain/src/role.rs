//! Roles that a token or staff account holds. Each is bound to one org and
//! acts only within that org's subtree.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Runs the library for an org subtree; at the region it owns the catalog and the org tree.
    RegionAdmin,
    /// Maintains the issuance catalog (region level only).
    CatalogAdmin,
    /// Issues, updates and revokes licenses for its org.
    IssuerClerk,
    /// Reads the audit log; changes nothing.
    Auditor,
    /// Handles objections about license data.
    ObjectionHandler,
    /// Approves relying-party scenarios.
    ScenarioApprover,
    /// Manages keys, tokens and security settings.
    SecurityAdmin,
    /// An authorised platform (a relying party, Art. 16) that batch-checks
    /// its merchants' business licenses; a role for system tokens only,
    /// with no other permission.
    Platform,
    /// A relying party's credential (Art. 14–16): bound to one approved
    /// scenario, minted by the region for it (never at the command line),
    /// reading only through `/api/v1/shared/…` within that scenario's grant.
    RelyingParty,
    /// A channel platform (蒙速办, the government-service site) acting for a
    /// holder it has authenticated: system tokens only, made `--signed`,
    /// naming the holder in `X-ZZ-On-Behalf-Of` under the signature.
    Channel,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::RegionAdmin,
        Role::CatalogAdmin,
        Role::IssuerClerk,
        Role::Auditor,
        Role::ObjectionHandler,
        Role::ScenarioApprover,
        Role::SecurityAdmin,
        Role::Platform,
        Role::RelyingParty,
        Role::Channel,
    ];

    /// The roles of people and systems of the regulator (every role but
    /// `Platform` and `RelyingParty`): the ones that may read licenses
    /// within their subtree.
    pub const STAFF: [Role; 7] = [
        Role::RegionAdmin,
        Role::CatalogAdmin,
        Role::IssuerClerk,
        Role::Auditor,
        Role::ObjectionHandler,
        Role::ScenarioApprover,
        Role::SecurityAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::RegionAdmin => "region_admin",
            Role::CatalogAdmin => "catalog_admin",
            Role::IssuerClerk => "issuer_clerk",
            Role::Auditor => "auditor",
            Role::ObjectionHandler => "objection_handler",
            Role::ScenarioApprover => "scenario_approver",
            Role::SecurityAdmin => "security_admin",
            Role::Platform => "platform",
            Role::RelyingParty => "relying_party",
            Role::Channel => "channel",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Role::RegionAdmin => "管理员",
            Role::CatalogAdmin => "目录管理员",
            Role::IssuerClerk => "发证人员",
            Role::Auditor => "审计员",
            Role::ObjectionHandler => "异议核查人员",
            Role::ScenarioApprover => "场景审批人员",
            Role::SecurityAdmin => "安全管理员",
            Role::Platform => "用证平台",
            Role::RelyingParty => "用证方",
            Role::Channel => "服务渠道",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role '{0}'; expected one of region_admin, catalog_admin, issuer_clerk, auditor, objection_handler, scenario_approver, security_admin, platform, relying_party, channel"
)]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert!("admin".parse::<Role>().is_err());
    }
}
