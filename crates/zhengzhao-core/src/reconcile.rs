//! Reconciliation (Art. 7: the library must match the business system):
//! a system's export, row by row, against what the library holds for that
//! system's source records — missing, differing (field by field, against
//! the current version) and, from the library's side, extra. With repair,
//! a missing license is issued and a differing one gets a new version
//! whose reason is a correction worded `reconcile: …`; an extra one is
//! revoked only when asked for separately (`--revoke-extra`).

use crate::licenses::{IssueRequest, ReasonRequest, RevokeRequest, UpdateRequest};
use crate::{Error, Library, Principal, Result};
use serde::Serialize;
use serde_json::Value;
use zhengzhao_store::ChangeKind;
use zhengzhao_store::{LicenseRecord, LicenseVersionRecord, SourceRecord};

/// The reason text of what reconciliation changes.
pub const RECONCILE_REASON: &str = "reconcile: 与业务系统核对不一致，按业务系统更正";

/// One row of the export against the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReconcileOutcome {
    Same {
        license_id: String,
    },
    /// Not in the library; `issued` when repaired.
    Missing {
        record_id: String,
        issued: Option<String>,
    },
    /// In both, but not alike: the fields that differ (`face/domicile`,
    /// `valid_until`, `holder/name`, `status` for a revoked license…),
    /// `updated` with the new version when repaired. Fields a new version
    /// cannot change (type, issuer, holder id, a revocation) stay listed.
    Differs {
        license_id: String,
        fields: Vec<String>,
        updated: Option<String>,
    },
    /// In the library, not in the export; `revoked` when revoked now.
    Extra {
        record_id: String,
        license_id: String,
        revoked: bool,
    },
    Rejected {
        problem: String,
        fields: Vec<String>,
    },
}

/// Fields of `v` (the current version of `l`) that differ from `req`,
/// with holder and face as the issue check normalised them.
fn compare(
    l: &LicenseRecord,
    v: &LicenseVersionRecord,
    req: &IssueRequest,
    holder: &zhengzhao_store::Holder,
    face: &Value,
) -> Vec<String> {
    let mut out = Vec::new();
    if l.type_code.as_str() != req.type_code {
        out.push("type_code".to_owned());
    }
    if l.issuer.as_str() != req.issuer {
        out.push("issuer".to_owned());
    }
    if l.revocation.is_some() {
        out.push("status".to_owned());
    }
    if v.holder.id != holder.id || v.holder.id_type != holder.id_type {
        out.push("holder/id".to_owned());
    }
    if v.holder.name != holder.name {
        out.push("holder/name".to_owned());
    }
    if v.valid_from != req.valid_from {
        out.push("valid_from".to_owned());
    }
    if v.valid_until != req.valid_until {
        out.push("valid_until".to_owned());
    }
    out.extend(crate::licenses::face_differences(&v.face, face));
    out
}

/// Fields a new version cannot bring in line.
fn unrepairable(fields: &[String]) -> bool {
    fields
        .iter()
        .any(|f| matches!(f.as_str(), "type_code" | "issuer" | "status" | "holder/id"))
}

fn rejected(e: &Error) -> ReconcileOutcome {
    let fields = match e {
        Error::Validation(errors) => errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.code))
            .collect(),
        _ => Vec::new(),
    };
    ReconcileOutcome::Rejected {
        problem: e.kind().slug.to_owned(),
        fields,
    }
}

impl Library {
    /// One export row of `system` against the library (repairing it when
    /// asked). `Err` only for what stops the run.
    pub async fn reconcile_row(
        &self,
        caller: &Principal,
        system: &str,
        row: Value,
        repair: bool,
    ) -> Result<ReconcileOutcome> {
        match self.reconcile_one(caller, system, row, repair).await {
            Err(e) if e.is_server_fault() => Err(e),
            Err(e) => Ok(rejected(&e)),
            ok => ok,
        }
    }

    async fn reconcile_one(
        &self,
        caller: &Principal,
        system: &str,
        row: Value,
        repair: bool,
    ) -> Result<ReconcileOutcome> {
        let req: IssueRequest =
            serde_json::from_value(row).map_err(|e| Error::Malformed(e.to_string()))?;
        if req.source.system != system {
            return Err(Error::field(
                "source/system",
                "other_system",
                format!("the row is of another system than {system}"),
                format!("该行不属于业务系统{system}"),
            ));
        }
        let record_id = req.source.record_id.clone();
        let Some(existing) = self.store.license_by_source(system, &record_id).await? else {
            if !repair {
                self.check_issue(caller, &req).await?;
                return Ok(ReconcileOutcome::Missing {
                    record_id,
                    issued: None,
                });
            }
            let (l, _) = self.issue_license(caller, req).await?;
            return Ok(ReconcileOutcome::Missing {
                record_id,
                issued: l.current().map(|v| v.license_id.to_string()),
            });
        };
        let l = self.open_license(existing).await?;
        let v = l
            .current()
            .ok_or_else(|| Error::Internal("a license without a version".into()))?;
        let checked = self.validated_issue(caller, &req).await?;
        let fields = compare(&l, v, &req, &checked.holder, &checked.face);
        let license_id = v.license_id.to_string();
        if fields.is_empty() {
            return Ok(ReconcileOutcome::Same { license_id });
        }
        if !repair || unrepairable(&fields) {
            return Ok(ReconcileOutcome::Differs {
                license_id,
                fields,
                updated: None,
            });
        }
        let update = UpdateRequest {
            face: req.face,
            valid_from: req.valid_from,
            valid_until: req.valid_until,
            holder_name: fields
                .iter()
                .any(|f| f == "holder/name")
                .then(|| req.holder.name.clone()),
            reason: ReasonRequest {
                kind: ChangeKind::Correction,
                text: RECONCILE_REASON.into(),
                objection: None,
            },
        };
        let updated = self.update_license(caller, &license_id, update).await?;
        Ok(ReconcileOutcome::Differs {
            license_id,
            fields,
            updated: updated.current().map(|v| v.license_id.to_string()),
        })
    }

    /// A page of `system`'s records in the library, by record id.
    pub async fn source_records(
        &self,
        system: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SourceRecord>> {
        Ok(self.store.source_records(system, after, limit).await?)
    }

    /// A license the export lacks, revoked (only with `--revoke-extra`).
    pub async fn revoke_extra(&self, caller: &Principal, license_id: &str) -> Result<()> {
        self.revoke_license(
            caller,
            license_id,
            RevokeRequest {
                reason: "reconcile: 业务系统中已无此记录".into(),
            },
        )
        .await
        .map(|_| ())
    }
}
