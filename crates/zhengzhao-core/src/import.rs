//! Bulk aggregation (应归尽归, Art. 7): rows of a business system's export,
//! each the object `POST /api/v1/licenses` takes, issued one by one and
//! idempotent on the source record — a row already imported with the same
//! data is `unchanged`, so an import stopped half-way is simply run again.
//!
//! A row's outcome never carries its data: a rejection names the problem,
//! the fields and their rule codes (e.g. `face/name: required`), never a
//! value, so a report can be kept and passed on without personal data.
//!
//! CSV rows (a header, then one license a line) map to the same object:
//!
//! | column | field |
//! |---|---|
//! | `type_code`, `issuer` | as in the JSON |
//! | `holder_name`, `holder_id_type`, `holder_id` | `holder.name`, `holder.id_type`, `holder.id` |
//! | `valid_from`, `valid_until` | dates `YYYY-MM-DD`; an empty `valid_until` is long-term |
//! | `source_system`, `source_record_id` | `source.system`, `source.record_id` |
//! | `face.<name>` | the face field `<name>`, as text (amounts too: `1000000.50`); an empty cell is left out |
//!
//! Any other column is an error of the header (a typo must not drop a
//! field silently).

use crate::licenses::IssueRequest;
use crate::{Error, Library, Principal, Result};
use serde::Serialize;
use serde_json::{Map, Value, json};
use zhengzhao_domain::FieldError;

/// What became of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RowOutcome {
    /// Issued now (or, in a dry run, would be).
    Imported { license_id: Option<String> },
    /// Already imported from this source record with the same data.
    Unchanged { license_id: String },
    Rejected {
        /// The problem's slug (`validation`, `conflict`, `forbidden`, …).
        problem: String,
        /// `field: code` for each broken rule; never a value.
        fields: Vec<String>,
    },
}

impl RowOutcome {
    fn rejected(e: &Error) -> Self {
        let fields = match e {
            Error::Validation(errors) => errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.code))
                .collect(),
            _ => Vec::new(),
        };
        Self::Rejected {
            problem: e.kind().slug.to_owned(),
            fields,
        }
    }
}

/// The columns a CSV header may have besides `face.<name>`.
pub const CSV_COLUMNS: [&str; 9] = [
    "type_code",
    "issuer",
    "holder_name",
    "holder_id_type",
    "holder_id",
    "valid_from",
    "valid_until",
    "source_system",
    "source_record_id",
];

/// Check a CSV header: every column known, none twice, the fixed ones there.
pub fn check_csv_header(header: &[String]) -> std::result::Result<(), String> {
    for (i, h) in header.iter().enumerate() {
        let known = CSV_COLUMNS.contains(&h.as_str())
            || h.strip_prefix("face.").is_some_and(|n| !n.is_empty());
        if !known {
            return Err(format!("unknown column '{h}' (column {})", i + 1));
        }
        if header[..i].contains(h) {
            return Err(format!("column '{h}' appears twice"));
        }
    }
    for c in CSV_COLUMNS.iter().filter(|c| **c != "valid_until") {
        if !header.iter().any(|h| h == c) {
            return Err(format!("missing column '{c}'"));
        }
    }
    Ok(())
}

impl Library {
    /// One row: issue it (or in a dry run, check it) as `caller`. `Err`
    /// only for what stops an import (the store or a key is unavailable);
    /// anything wrong with the row itself is a `Rejected` outcome.
    pub async fn import_row(
        &self,
        caller: &Principal,
        row: Value,
        dry_run: bool,
    ) -> Result<RowOutcome> {
        let req: IssueRequest = match serde_json::from_value(row) {
            Ok(r) => r,
            Err(e) => {
                // The message of serde names the field, not its value.
                let e = Error::Malformed(e.to_string());
                return Ok(RowOutcome::rejected(&e));
            }
        };
        let done = if dry_run {
            self.check_issue(caller, &req).await.map(|()| None)
        } else {
            self.issue_license(caller, req).await.map(Some)
        };
        match done {
            Ok(None) => Ok(RowOutcome::Imported { license_id: None }),
            Ok(Some((l, created))) => {
                let id = l
                    .current()
                    .map(|v| v.license_id.to_string())
                    .unwrap_or_default();
                Ok(if created {
                    RowOutcome::Imported {
                        license_id: Some(id),
                    }
                } else {
                    RowOutcome::Unchanged { license_id: id }
                })
            }
            Err(e) if e.is_server_fault() => Err(e),
            Err(e) => Ok(RowOutcome::rejected(&e)),
        }
    }
}

/// A CSV record under a checked `header` as the JSON object of a row.
pub fn csv_row(header: &[String], record: &[String]) -> Result<Value> {
    if record.len() != header.len() {
        return Err(Error::Validation(vec![FieldError::new(
            "row",
            "columns",
            format!("{} cells for {} columns", record.len(), header.len()),
            format!("本行{}个值，表头{}列", record.len(), header.len()),
        )]));
    }
    let cell = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .and_then(|i| record.get(i))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let mut face = Map::new();
    for (h, v) in header.iter().zip(record) {
        if let Some(name) = h.strip_prefix("face.")
            && !v.trim().is_empty()
        {
            face.insert(name.to_owned(), Value::String(v.trim().to_owned()));
        }
    }
    let until = cell("valid_until");
    Ok(json!({
        "type_code": cell("type_code"),
        "issuer": cell("issuer"),
        "holder": {"name": cell("holder_name"), "id_type": cell("holder_id_type"), "id": cell("holder_id")},
        "face": face,
        "valid_from": cell("valid_from"),
        "valid_until": if until.is_empty() { Value::Null } else { Value::String(until) },
        "source": {"system": cell("source_system"), "record_id": cell("source_record_id")},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_headers_are_checked() {
        let h = |cols: &[&str]| cols.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        let mut good = h(&CSV_COLUMNS);
        good.push("face.name".into());
        assert_eq!(check_csv_header(&good), Ok(()));
        let mut typo = good.clone();
        typo.push("fcae.domicile".into());
        assert!(
            check_csv_header(&typo)
                .unwrap_err()
                .contains("fcae.domicile")
        );
        let mut twice = good.clone();
        twice.push("face.name".into());
        assert!(check_csv_header(&twice).unwrap_err().contains("twice"));
        let missing: Vec<String> = good.iter().filter(|c| *c != "issuer").cloned().collect();
        assert!(check_csv_header(&missing).unwrap_err().contains("issuer"));
        let no_until: Vec<String> = good
            .iter()
            .filter(|c| *c != "valid_until")
            .cloned()
            .collect();
        assert_eq!(check_csv_header(&no_until), Ok(()));
    }

    #[test]
    fn csv_rows_map_to_the_issue_object() {
        let header: Vec<String> = [
            "type_code",
            "issuer",
            "holder_name",
            "holder_id_type",
            "holder_id",
            "valid_from",
            "valid_until",
            "source_system",
            "source_record_id",
            "face.name",
            "face.capital",
        ]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
        let row: Vec<String> = [
            "T",
            "150102",
            " 某公司 ",
            "uscc",
            "X",
            "2026-01-01",
            "",
            "sys",
            "r1",
            "某公司",
            "",
        ]
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
        let v = csv_row(&header, &row).unwrap();
        assert_eq!(v["holder"]["name"], "某公司");
        assert_eq!(v["valid_until"], Value::Null);
        assert_eq!(v["face"], json!({"name": "某公司"}));
        assert_eq!(v["source"], json!({"system": "sys", "record_id": "r1"}));
        assert!(csv_row(&header, &row[..3]).is_err());
    }
}
