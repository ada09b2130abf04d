//! Reading the audit log (Art. 21): the latest checkpoint, inclusion proofs
//! for one event, and the search and export of events, each within the
//! caller's org subtree. The frontends format the result (JSON, JSON lines,
//! CSV); the rules live here.

use crate::audit_log::{CheckpointView, InclusionProof};
use crate::policy::{self, Action};
use crate::{Actor, Error, Library, Principal, Result};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_store::AuditQuery;
/// One audit event as stored, with its sequence number.
pub use zhengzhao_store::AuditRecord;

/// A search of the audit log, as the caller asked it (text, not yet parsed).
#[derive(Debug, Clone, Default)]
pub struct EventSearch {
    /// At or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Before this instant (RFC 3339).
    pub to: Option<String>,
    pub actor: Option<String>,
    /// Only this org's subtree (default: the caller's org's).
    pub org: Option<String>,
    pub action: Option<String>,
    /// Only events about this license (any version's identifier).
    pub license: Option<String>,
    /// Keyset pagination: events after this sequence number.
    pub after: Option<i64>,
    /// At most this many (1-1000, default 100).
    pub limit: Option<u32>,
}

/// One page of events, and where the next one starts.
#[derive(Debug)]
pub struct EventPage {
    pub items: Vec<AuditRecord>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next_after: Option<i64>,
}

fn instant(field: &str, raw: Option<&str>) -> Result<Option<jiff::Timestamp>> {
    raw.map(|r| {
        r.parse::<jiff::Timestamp>().map_err(|_| {
            Error::field(
                field,
                "timestamp",
                format!("{field} must be an RFC 3339 instant, e.g. 2026-11-29T08:00:00+08:00"),
                format!("{field}应为RFC 3339时间，例如2026-11-29T08:00:00+08:00"),
            )
        })
    })
    .transpose()
}

impl Library {
    /// The latest signed checkpoint; `NotFound` before the first.
    pub async fn latest_checkpoint_view(&self) -> Result<CheckpointView> {
        let cp = self
            .store
            .latest_audit_checkpoint()
            .await?
            .ok_or_else(|| Error::NotFound("no audit checkpoint has been signed yet".into()))?;
        self.checkpoint_view(&cp).await
    }

    /// Sign a checkpoint now. The flag says whether one was signed (`true`)
    /// or the log had not grown and the latest one is handed back.
    pub async fn sign_checkpoint_now(&self, caller: &Principal) -> Result<(CheckpointView, bool)> {
        policy::require(caller, Action::SignAuditCheckpoint)?;
        let before = self
            .store
            .latest_audit_checkpoint()
            .await?
            .map(|c| c.tree_size);
        let cp = self.checkpoint_audit(&Actor::from(caller)).await?;
        let signed_now = before != Some(cp.tree_size);
        Ok((self.checkpoint_view(&cp).await?, signed_now))
    }

    /// Inclusion proof of event `seq`, for auditors of the event's org.
    pub async fn event_inclusion_proof(
        &self,
        caller: &Principal,
        seq: i64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof> {
        policy::require(caller, Action::ReadAudit)?;
        let event = self
            .store
            .audit_events(seq.saturating_sub(1), 1)
            .await?
            .into_iter()
            .find(|e| e.seq == seq)
            .ok_or_else(|| Error::NotFound(format!("audit event {seq}")))?;
        // Events without an org (the CLI, the system) are the region's.
        let org = event.event.org.as_deref().unwrap_or(REGION_CODE);
        let org = OrgCode::parse(org).map_err(|e| Error::Internal(e.to_string()))?;
        self.require_within(caller, &org).await?;
        self.inclusion_proof(seq, tree_size).await
    }

    /// Search the audit log within the caller's org subtree (or the part of
    /// it named by `org`).
    pub async fn search_audit_events(
        &self,
        caller: &Principal,
        q: &EventSearch,
    ) -> Result<EventPage> {
        policy::require(caller, Action::ReadAudit)?;
        let scope = match &q.org {
            Some(o) => OrgCode::parse(o).map_err(|e| Error::Validation(vec![e.at("org")]))?,
            None => caller.org.clone(),
        };
        self.require_within(caller, &scope).await?;
        let orgs = if scope.as_str() == REGION_CODE {
            None
        } else {
            Some(
                self.store
                    .org_subtree(&scope)
                    .await?
                    .into_iter()
                    .map(|o| o.code.to_string())
                    .collect(),
            )
        };
        let limit = q.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Error::field(
                "limit",
                "range",
                "limit must be 1-1000",
                "limit应为1至1000",
            ));
        }
        let query = AuditQuery {
            from: instant("from", q.from.as_deref())?,
            to: instant("to", q.to.as_deref())?,
            actor: q.actor.clone(),
            orgs,
            action: q.action.clone(),
            targets: match &q.license {
                Some(l) => Some(self.license_audit_targets(l).await?),
                None => None,
            },
        };
        let items = self
            .store
            .search_audit(&query, q.after.unwrap_or(0), limit)
            .await?;
        let next_after = (items.len() == limit as usize)
            .then(|| items.last().map(|e| e.seq))
            .flatten();
        Ok(EventPage { items, next_after })
    }

    /// Audit targets of every version of the license `raw` names (updates
    /// and revocations are filed under the version they made or ended).
    async fn license_audit_targets(&self, raw: &str) -> Result<Vec<String>> {
        let id = LicenseId::parse(raw).map_err(|e| Error::Validation(vec![e.at("license")]))?;
        Ok(match self.store.license_by_identifier(&id).await? {
            Some(l) => l
                .versions
                .iter()
                .map(|v| format!("license:{}", v.license_id))
                .collect(),
            None => vec![format!("license:{id}")],
        })
    }
}
