//! Batch check for platforms (Art. 16): an authorised platform posts up to
//! 1,000 (unified social credit code, name) pairs and learns, for each,
//! whether a business license exists, its status, whether the name matches,
//! and its identifier. Each item is looked up and answered in turn (the
//! answer streams; memory stays bounded by one item) and is its own audit
//! event: who checked which code, and what they learned.

use super::{Actor, Library, audit_event, china_today};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::service::licenses::status_of;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_domain::role::Role;
use zhengzhao_store::{ChangeLog, LicenseFilter};

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
    /// Set when the item could not be checked (e.g. a malformed code).
    pub error: Option<String>,
}

impl Library {
    /// Check the request's shape and the caller before anything streams.
    pub fn check_batch(caller: &Caller, req: &BatchRequest) -> ApiResult<()> {
        Self::require_role(caller, &[Role::Platform])?;
        if req.items.is_empty() || req.items.len() > MAX_ITEMS {
            return Err(ApiError::field(
                "items",
                "range",
                "items must hold 1 to 1000 entries",
                "items应为1至1000项",
            ));
        }
        Ok(())
    }

    /// Check one item, with its audit event.
    pub async fn batch_item(
        &self,
        caller: &Caller,
        index: usize,
        item: &BatchItem,
    ) -> ApiResult<BatchResult> {
        let mut out = BatchResult {
            index,
            credit_code: item.credit_code.clone(),
            exists: false,
            status: None,
            name_matches: None,
            license_id: None,
            error: None,
        };
        match CreditCode::parse(item.credit_code.trim()) {
            Err(e) => out.error = Some(e.to_string()),
            Ok(code) => {
                for t in BUSINESS_LICENSE_TYPES {
                    let filter = LicenseFilter {
                        holder_id: Some(code.to_string()),
                        type_code: LicenseTypeCode::parse(t).ok(),
                        issuer_within: None,
                    };
                    let found = self.licenses_page(&filter, None, 1).await?;
                    if let Some(l) = found.first()
                        && let Some(v) = l.current()
                    {
                        out.exists = true;
                        out.status = Some(status_of(l, v, china_today()));
                        out.name_matches = Some(v.holder.name.trim() == item.name.trim());
                        out.license_id = Some(v.license_id.to_string());
                        break;
                    }
                }
            }
        }
        let log = ChangeLog::audit_only(audit_event(
            &Actor::from(caller),
            "verify.batch_item",
            format!("holder:{}", item.credit_code.trim()),
            json!({"index": index, "exists": out.exists, "status": out.status, "name_matches": out.name_matches}),
        ));
        self.store.record_event(&log).await?;
        Ok(out)
    }
}
