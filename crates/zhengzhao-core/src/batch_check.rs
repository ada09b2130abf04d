//! Batch check for platforms (Art. 16): an authorised platform posts up to
//! 1,000 (unified social credit code, name) pairs and learns, for each,
//! whether a business license exists, its status, whether the name matches,
//! and its identifier. Items are looked up a chunk at a time (one query for
//! a chunk's holders, one transaction for its audit events) and answered as
//! they are done (the answer streams; memory stays bounded by a chunk);
//! each item is its own audit event: who checked which code, and what they
//! learned.

use super::{Actor, Library};
use crate::Principal;
use crate::licenses::status_of;
use crate::policy::{self, Action};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_store::{ChangeLog, LicenseRecord};

pub const MAX_ITEMS: usize = 1000;
/// The business licenses (营业执照: companies, sole traders, cooperatives).
pub const BUSINESS_LICENSE_TYPES: [&str; 3] = [
    "11100000MB0143028R001",
    "11100000MB0143028R002",
    "11100000MB0143028R003",
];

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchItem {
    pub credit_code: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most 1,000.
    pub items: Vec<BatchItem>,
}

/// The longest credit code accepted (one has 18 characters; spaces around
/// it are trimmed): anything longer is refused before it is logged.
pub const MAX_CODE_CHARS: usize = 64;
/// The longest name accepted (as a holder name).
pub const MAX_NAME_CHARS: usize = 200;
/// Field errors listed at most for one refused request.
const MAX_FIELD_ERRORS: usize = 20;

/// One line of the answer (JSON Lines, in the order asked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchResult {
    pub index: usize,
    pub credit_code: String,
    /// A business license of this holder is in the library.
    pub exists: bool,
    /// `valid`, `revoked`, `expired`…; absent when none exists or the code is malformed.
    pub status: Option<&'static str>,
    /// The name asked equals the holder's name on the current version.
    pub name_matches: Option<bool>,
    pub license_id: Option<String>,
    /// Set when the item could not be checked, a stable code:
    /// `malformed_code` (the code is not a valid unified social credit
    /// code), `unreadable` (the library's record of this holder cannot be
    /// read now) or `unavailable` (try again later).
    pub error: Option<&'static str>,
    /// What went wrong, for people (English); with `error`.
    pub message: Option<String>,
    /// What went wrong, for people (Chinese); with `error`.
    pub message_zh: Option<String>,
}

impl BatchResult {
    fn new(index: usize, credit_code: &str) -> Self {
        Self {
            index,
            credit_code: credit_code.to_owned(),
            exists: false,
            status: None,
            name_matches: None,
            license_id: None,
            error: None,
            message: None,
            message_zh: None,
        }
    }

    /// The item could not be checked: nothing about a license is said.
    fn failed(index: usize, credit_code: &str, code: &'static str, en: String, zh: String) -> Self {
        Self {
            error: Some(code),
            message: Some(en),
            message_zh: Some(zh),
            ..Self::new(index, credit_code)
        }
    }

    /// An item whose check failed inside the library (the detail is logged, not shown).
    pub fn unavailable(index: usize, credit_code: &str) -> Self {
        Self::failed(
            index,
            credit_code,
            "unavailable",
            "this item could not be checked now; try again later".into(),
            "此项暂时无法核验，请稍后重试".into(),
        )
    }
}

impl Library {
    /// Check the request's shape and the caller before anything streams:
    /// the number of items, and every field's length (nothing oversized is
    /// ever logged).
    pub fn check_batch(caller: &Principal, req: &BatchRequest) -> Result<()> {
        policy::require(caller, Action::CheckBatch)?;
        if req.items.is_empty() || req.items.len() > MAX_ITEMS {
            return Err(Error::field(
                "items",
                "range",
                "items must hold 1 to 1000 entries",
                "items应为1至1000项",
            ));
        }
        let mut errors = Vec::new();
        for (i, item) in req.items.iter().enumerate() {
            for (field, value, max) in [
                ("credit_code", &item.credit_code, MAX_CODE_CHARS),
                ("name", &item.name, MAX_NAME_CHARS),
            ] {
                if value.chars().count() > max || value.chars().any(char::is_control) {
                    errors.push(FieldError::new(
                        format!("items/{i}/{field}"),
                        "text",
                        format!("must be at most {max} characters, without control characters"),
                        format!("不能超过{max}个字符，且不能包含控制字符"),
                    ));
                }
            }
            if errors.len() >= MAX_FIELD_ERRORS {
                break;
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(errors))
        }
    }

    /// Check a chunk of items (those at `first_index`…), with their audit
    /// events. The holders' business licenses are found in one query, and
    /// the chunk's audit events are written in one transaction; an answer
    /// is given only once its audit event is written. Every outcome is an
    /// answer line: an item that could not be checked says so with a stable
    /// code and is audited like the others.
    pub async fn batch_items(
        &self,
        caller: &Principal,
        first_index: usize,
        items: &[BatchItem],
    ) -> Vec<BatchResult> {
        self.count_checks(crate::check_counts::CheckWay::Batch, items.len());
        let types: Vec<LicenseTypeCode> = BUSINESS_LICENSE_TYPES
            .iter()
            .filter_map(|t| LicenseTypeCode::parse(t).ok())
            .collect();
        let codes: Vec<_> = items
            .iter()
            .map(|i| CreditCode::parse(i.credit_code.trim()))
            .collect();
        let mut holders: Vec<String> = codes
            .iter()
            .filter_map(|c| c.as_ref().ok().map(ToString::to_string))
            .collect();
        holders.sort_unstable();
        holders.dedup();
        // The newest license of each (holder, type): the query is newest first.
        let found = match holders.is_empty() {
            true => Ok(Vec::new()),
            false => self.store.licenses_of_holders(&holders, &types).await,
        };
        let newest = found.as_ref().map(|licenses| {
            let mut newest: HashMap<(&str, &str), &LicenseRecord> = HashMap::new();
            for l in licenses {
                if let Some(v) = l.current() {
                    newest
                        .entry((v.holder.id.as_str(), l.type_code.as_str()))
                        .or_insert(l);
                }
            }
            newest
        });
        let mut out = Vec::with_capacity(items.len());
        let mut logs = Vec::with_capacity(items.len());
        for (offset, (item, code)) in items.iter().zip(&codes).enumerate() {
            let index = first_index + offset;
            let result = match (code, &newest) {
                (Err(e), _) => BatchResult::failed(
                    index,
                    &item.credit_code,
                    "malformed_code",
                    e.to_string(),
                    e.zh(),
                ),
                (Ok(_), Err(e)) => {
                    tracing::error!(error = %e, index, "batch check: the holders' licenses could not be read");
                    BatchResult::unavailable(index, &item.credit_code)
                }
                (Ok(code), Ok(newest)) => {
                    let code = code.to_string();
                    let license = types
                        .iter()
                        .find_map(|t| newest.get(&(code.as_str(), t.as_str())));
                    self.batch_answer(index, item, license.copied()).await
                }
            };
            logs.push(ChangeLog::audit_only(self.audit_event(
                &Actor::from(caller),
                "verify.batch_item",
                format!("holder:{}", item.credit_code.trim()),
                json!({"index": index, "exists": result.exists, "status": result.status, "name_matches": result.name_matches, "error": result.error}),
            )));
            out.push(result);
        }
        match self.store.record_events(&logs).await {
            Ok(()) => out,
            Err(e) => {
                // Not on the record, so not answered.
                tracing::error!(error = %e, first_index, "batch check: the audit events could not be written");
                items
                    .iter()
                    .enumerate()
                    .map(|(offset, item)| {
                        BatchResult::unavailable(first_index + offset, &item.credit_code)
                    })
                    .collect()
            }
        }
    }

    /// The answer for one item whose holder's newest business license is `license`.
    async fn batch_answer(
        &self,
        index: usize,
        item: &BatchItem,
        license: Option<&LicenseRecord>,
    ) -> BatchResult {
        let mut out = BatchResult::new(index, &item.credit_code);
        let Some(license) = license else {
            return out;
        };
        match self.open_license(license.clone()).await {
            Ok(l) => {
                if let Some(v) = l.current() {
                    out.exists = true;
                    out.status = Some(status_of(&l, v, self.today()));
                    out.name_matches = Some(v.holder.name.trim() == item.name.trim());
                    out.license_id = Some(v.license_id.to_string());
                }
                out
            }
            Err(Error::Unreadable { license, reason }) => {
                tracing::error!(license = %license, reason = %reason, "batch check: a license's stored data cannot be read");
                BatchResult::failed(
                    index,
                    &item.credit_code,
                    "unreadable",
                    "the library's record of this holder cannot be read now; the operator has been told".into(),
                    "此主体的证照记录暂时无法读取，已报告运维人员".into(),
                )
            }
            Err(e) => {
                tracing::error!(error = %e, index, "batch check: an item could not be checked");
                BatchResult::unavailable(index, &item.credit_code)
            }
        }
    }
}
