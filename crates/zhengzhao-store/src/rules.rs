//! Rules both backends apply inside a write's transaction, and the decoding
//! of stored text back into typed records: pure functions, written once
//! here so that SQLite and PostgreSQL cannot drift apart (the conformance
//! suite checks the behaviour; these are the one source of it).

use crate::{
    AuditLeaf, AuditTreeHead, KeyPurpose, KeySource, StoreError, StoreResult, VersionStatusSummary,
};
use zhengzhao_domain::catalog::{LicenseTypeDraft, LicenseTypeSpec};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

/// A change to a license that must find it as the caller last read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseChange {
    /// An update (更新): the next version.
    NewVersion,
    Revocation,
}

/// Whether `change` may happen to a license now at version `current`
/// (`revoked` or not), asked by a caller who read version `expected`. A
/// revoked license takes no change; a license that moved on since the
/// caller read it is a conflict (read it again), never a silent overwrite.
pub fn check_license_change(
    change: LicenseChange,
    current: u16,
    revoked: bool,
    expected: u16,
) -> StoreResult<()> {
    if revoked {
        return Err(StoreError::Conflict(
            match change {
                LicenseChange::NewVersion => "license is revoked",
                LicenseChange::Revocation => "license is already revoked",
            }
            .into(),
        ));
    }
    if current != expected {
        return Err(StoreError::Conflict(format!(
            "license is at version {current}, not {expected}: it changed meanwhile"
        )));
    }
    Ok(())
}

/// Status indexes are reserved one or more at a time.
pub fn check_reserve_count(count: u32) -> StoreResult<()> {
    if count == 0 {
        return Err(StoreError::Backend(
            "reserve at least one status index".into(),
        ));
    }
    Ok(())
}

/// Whether `leaves` may be appended to a tree standing at `head`: their
/// indexes follow on from `head.size`, and their sequence numbers are
/// exactly `next_events`, the audit events after `head.last_seq` (read in
/// order, in the same transaction, up to the last leaf's sequence number).
/// Anything else (an event skipped, repeated or invented, leaves out of
/// order) would make the tree disagree with the log it proves.
pub fn check_next_leaves(
    head: &AuditTreeHead,
    leaves: &[AuditLeaf],
    next_events: &[i64],
) -> StoreResult<()> {
    let indexed = leaves
        .iter()
        .zip(head.size..)
        .all(|(leaf, index)| leaf.index == index);
    let seqs_match = leaves.len() == next_events.len()
        && leaves.iter().zip(next_events).all(|(l, s)| l.seq == *s);
    if indexed && seqs_match {
        Ok(())
    } else {
        Err(StoreError::Conflict(
            "the leaves are not exactly the next audit events".into(),
        ))
    }
}

impl VersionStatusSummary {
    /// From the versions no longer in force, each as (status index, whether
    /// its license is revoked); the rest of a non-revoked license's old
    /// versions are superseded.
    pub fn from_rows(next_index: i64, rows: impl IntoIterator<Item = (i64, bool)>) -> Self {
        let mut summary = Self {
            next_index,
            ..Self::default()
        };
        for (index, revoked) in rows {
            if revoked {
                summary.revoked.push(index);
            } else {
                summary.superseded.push(index);
            }
        }
        summary
    }
}

/// Decoding stored text: a value that does not parse was not written by us
/// (`StoreError::Corrupt`, naming what it was).
pub mod decode {
    use super::*;

    /// An org code stored for `what` (e.g. `token`, `staff`, `key`).
    pub fn org_code(what: &str, raw: &str) -> StoreResult<OrgCode> {
        OrgCode::parse(raw).map_err(|_| StoreError::Corrupt(format!("{what} org '{raw}'")))
    }

    pub fn role(what: &str, raw: &str) -> StoreResult<Role> {
        raw.parse::<Role>()
            .map_err(|_| StoreError::Corrupt(format!("{what} role '{raw}'")))
    }

    /// A comma-separated role list (`roles_to_text`).
    pub fn roles(what: &str, raw: &str) -> StoreResult<Vec<Role>> {
        crate::roles_from_text(raw).map_err(|r| StoreError::Corrupt(format!("{what} role '{r}'")))
    }

    pub fn key_purpose(raw: &str) -> StoreResult<KeyPurpose> {
        KeyPurpose::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("key purpose '{raw}'")))
    }

    pub fn key_source(raw: &str) -> StoreResult<KeySource> {
        KeySource::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("key source '{raw}'")))
    }

    /// A stored scenario state (`expired` is never stored).
    pub fn scenario_state(raw: &str) -> StoreResult<zhengzhao_domain::scenario::ScenarioState> {
        use zhengzhao_domain::scenario::ScenarioState;
        ScenarioState::parse(raw)
            .filter(|s| *s != ScenarioState::Expired)
            .ok_or_else(|| StoreError::Corrupt(format!("scenario state '{raw}'")))
    }

    /// A stored catalog spec, which must still keep the catalog's rules.
    pub fn catalog_spec(json: serde_json::Value) -> StoreResult<LicenseTypeSpec> {
        let draft: LicenseTypeDraft = serde_json::from_value(json)
            .map_err(|e| StoreError::Corrupt(format!("catalog spec: {e}")))?;
        LicenseTypeSpec::parse(draft)
            .map_err(|e| StoreError::Corrupt(format!("catalog spec breaks rules: {e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_license_changes_only_from_the_version_read_and_never_once_revoked() {
        use LicenseChange::*;
        assert!(check_license_change(NewVersion, 2, false, 2).is_ok());
        assert!(check_license_change(Revocation, 2, false, 2).is_ok());
        for (change, want) in [
            (NewVersion, "license is revoked"),
            (Revocation, "license is already revoked"),
        ] {
            match check_license_change(change, 2, true, 2) {
                Err(StoreError::Conflict(m)) => assert_eq!(m, want),
                other => panic!("{other:?}"),
            }
        }
        match check_license_change(NewVersion, 3, false, 2) {
            Err(StoreError::Conflict(m)) => assert!(m.contains("at version 3, not 2"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(check_reserve_count(0).is_err());
        assert!(check_reserve_count(1).is_ok());
    }

    #[test]
    fn leaves_must_be_exactly_the_next_events() {
        let head = AuditTreeHead {
            size: 2,
            last_seq: 7,
        };
        let leaf = |index, seq| AuditLeaf {
            index,
            seq,
            hash: [0; 32],
        };
        assert!(check_next_leaves(&head, &[leaf(2, 8), leaf(3, 10)], &[8, 10]).is_ok());
        // An event skipped and one invented, with the right count.
        assert!(check_next_leaves(&head, &[leaf(2, 10), leaf(3, 11)], &[8, 10]).is_err());
        // Out of order, repeated, or an index that does not follow on.
        assert!(check_next_leaves(&head, &[leaf(2, 10), leaf(3, 8)], &[8, 10]).is_err());
        assert!(check_next_leaves(&head, &[leaf(2, 8), leaf(3, 8)], &[8, 10]).is_err());
        assert!(check_next_leaves(&head, &[leaf(3, 8), leaf(4, 10)], &[8, 10]).is_err());
        // Fewer events than leaves.
        assert!(check_next_leaves(&head, &[leaf(2, 8), leaf(3, 10)], &[8]).is_err());
    }

    #[test]
    fn summaries_sort_versions_by_why_they_ended() {
        let s = VersionStatusSummary::from_rows(9, [(1, false), (4, true), (5, true), (7, false)]);
        assert_eq!(s.next_index, 9);
        assert_eq!(s.superseded, vec![1, 7]);
        assert_eq!(s.revoked, vec![4, 5]);
    }

    #[test]
    fn stored_text_that_does_not_parse_is_corrupt() {
        assert!(
            matches!(decode::org_code("token", "nope"), Err(StoreError::Corrupt(m)) if m == "token org 'nope'")
        );
        assert_eq!(decode::role("token", "auditor").ok(), Some(Role::Auditor));
        assert!(matches!(
            decode::role("token", "root"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(
            matches!(decode::roles("staff", "auditor,root"), Err(StoreError::Corrupt(m)) if m == "staff role 'root'")
        );
        assert!(matches!(
            decode::key_purpose("x"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode::catalog_spec(serde_json::json!({"x": 1})),
            Err(StoreError::Corrupt(_))
        ));
    }
}
