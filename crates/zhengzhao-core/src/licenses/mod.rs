//! License use cases (Art. 7, 8, 10): issue, update, revoke; every version
//! signed with the issuer's SM2 key over its RFC 8785 canonical JSON.

mod statement;
mod views;
mod writes;

use jiff::civil::Date;
use serde::Deserialize;
use serde_json::Value;
pub(crate) use statement::face_differences;
use statement::*;
use utoipa::ToSchema;
pub use views::*;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::catalog::LicenseTypeVersion;
use zhengzhao_domain::codes::{CreditCode, ResidentId};
use zhengzhao_domain::face::{holder_fits, is_reserved, reserved_error};
use zhengzhao_store::{ChangeKind, Holder};

/// Topic of the messages that aggregate licenses to the regional platform (Art. 7).
pub const PLATFORM_LICENSE_TOPIC: &str = "platform.license";

/// Marks the shape of the signed document.
pub const DOCUMENT_SCHEMA: &str = "zhengzhao.license/2";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderInput {
    pub name: String,
    /// `uscc` (unified social credit code) or `resident_id`.
    pub id_type: String,
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceInput {
    /// The business system that holds the license's record.
    pub system: String,
    /// Its record id; (system, record_id) is unique, so a retried request returns the same license.
    pub record_id: String,
}

/// `POST /api/v1/licenses`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    pub type_code: String,
    /// Org code of the issuing org.
    pub issuer: String,
    pub holder: HolderInput,
    #[schema(value_type = Object)]
    pub face: Value,
    #[schema(value_type = String, format = Date)]
    pub valid_from: Date,
    /// `null` for long-term validity.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    pub source: SourceInput,
}

/// `POST /api/v1/licenses/{id}/versions`: the next version, issued together
/// with the changed paper license. The holder's id never changes; its name may.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    #[schema(value_type = Object)]
    pub face: Value,
    #[schema(value_type = String, format = Date)]
    pub valid_from: Date,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    #[serde(default)]
    pub holder_name: Option<String>,
    /// Why the new version is issued: required.
    pub reason: ReasonRequest,
}

/// The reason for an update: `change` (变更, the licensed facts changed),
/// `correction` (更正, an error is corrected) or `reissue` (补发, a new copy
/// of unchanged facts), with the clerk's words (1-500 characters).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[schema(value_type = String, example = "change")]
    pub kind: ChangeKind,
    pub text: String,
    /// For a `correction` that answers an objection: its ticket. The
    /// objection must be this license's and accepted.
    #[serde(default)]
    pub objection: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    pub reason: String,
}

const FIRST_DATE: Date = jiff::civil::date(1900, 1, 1);

const LAST_DATE: Date = jiff::civil::date(2199, 12, 31);

pub(crate) fn text_ok(s: &str, max: usize) -> bool {
    let n = s.trim().chars().count();
    n > 0 && n <= max && !s.chars().any(char::is_control)
}

fn check_dates(from: Date, until: Option<Date>, errors: &mut Vec<FieldError>) {
    let out = |d: Date| d < FIRST_DATE || d > LAST_DATE;
    if out(from) {
        errors.push(FieldError::new(
            "valid_from",
            "date_range",
            "valid_from must be between 1900-01-01 and 2199-12-31",
            "有效期起始日期应在1900-01-01至2199-12-31之间",
        ));
    }
    if let Some(u) = until {
        if out(u) {
            errors.push(FieldError::new(
                "valid_until",
                "date_range",
                "valid_until must be between 1900-01-01 and 2199-12-31",
                "有效期截止日期应在1900-01-01至2199-12-31之间",
            ));
        } else if u < from {
            errors.push(FieldError::new(
                "valid_until",
                "date_order",
                "valid_until is before valid_from",
                "有效期截止日期早于起始日期",
            ));
        }
    }
}

/// Parse and check the holder; a natural person's id must be a resident id born by today.
fn check_holder(
    h: &HolderInput,
    spec: &LicenseTypeVersion,
    today: Date,
    errors: &mut Vec<FieldError>,
) -> Option<Holder> {
    if !text_ok(&h.name, 200) {
        errors.push(FieldError::new(
            "holder/name",
            "text",
            "holder name must be 1-200 characters",
            "持证主体名称应为1至200个字符",
        ));
    } else if is_reserved(&h.name) {
        errors.push(reserved_error("holder/name"));
    }
    if is_reserved(&h.id) {
        errors.push(reserved_error("holder/id"));
        return None;
    }
    if let Err(e) = holder_fits(spec.spec.draft(), &h.id_type) {
        errors.push(e);
        return None;
    }
    let id = match h.id_type.as_str() {
        "uscc" => CreditCode::parse(&h.id)
            .map(|c| c.to_string())
            .map_err(|e| e.at("holder/id")),
        _ => ResidentId::parse(&h.id)
            .and_then(|r| r.check_born_by(today).map(|()| r))
            .map(|r| r.as_str().to_owned())
            .map_err(|e| e.at("holder/id")),
    };
    match id {
        Ok(id) => Some(Holder {
            name: h.name.trim().to_owned(),
            id_type: h.id_type.clone(),
            id,
        }),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// The first document schema: status only outside the signature.
pub const SCHEMA_1: &str = "zhengzhao.license/1";

/// The `schema` a signed payload declares (`SCHEMA_1` when it names none).
pub fn payload_schema(payload: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Schema {
        schema: Option<String>,
    }
    serde_json::from_str::<Schema>(payload)
        .ok()
        .and_then(|s| s.schema)
        .unwrap_or_else(|| SCHEMA_1.to_owned())
}
