//! Server-rendered pages in Simplified Chinese. They work without JavaScript
//! and with large text (Art. 18).

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use zhengzhao_domain::catalog::{FaceField, LicenseTypeVersion};

pub struct FieldRow {
    pub label: String,
    pub name: String,
    pub kind: &'static str,
    pub required: bool,
    pub note: String,
}

pub struct TypeRow {
    pub code: String,
    pub name: String,
    pub authority: String,
    pub holders: String,
    pub issuers: String,
    pub standard_level: &'static str,
    pub public_attribute: &'static str,
    pub aggregation_start: String,
    pub version: u32,
    pub updated: String,
    pub validity: String,
    pub fields: Vec<FieldRow>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
pub struct CatalogPage {
    pub types: Vec<TypeRow>,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {}

fn field_row(f: &FaceField) -> FieldRow {
    let mut notes = Vec::new();
    if let Some(n) = f.max_length {
        notes.push(format!("最长{n}字"));
    }
    if !f.values.is_empty() {
        notes.push(format!("可选：{}", f.values.join("、")));
    }
    if f.personal {
        notes.push("个人信息，加密存储".into());
    }
    if f.confidential {
        notes.push("保密信息".into());
    }
    FieldRow {
        label: f.label.clone(),
        name: f.name.clone(),
        kind: f.field_type.label_zh(),
        required: f.required,
        note: notes.join("；"),
    }
}

fn type_row(v: &LicenseTypeVersion) -> TypeRow {
    let d = v.spec.draft();
    let mut issuers: Vec<String> = d
        .issuing_levels
        .iter()
        .map(|l| l.label_zh().to_owned())
        .collect();
    issuers.extend(d.issuing_orgs.iter().map(|o| o.to_string()));
    TypeRow {
        code: d.code.to_string(),
        name: d.name.clone(),
        authority: d.defining_authority.name.clone(),
        holders: d
            .holder_types
            .iter()
            .map(|h| h.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
        issuers: issuers.join("、"),
        standard_level: d.standard_level.label_zh(),
        public_attribute: d.public_attribute.label_zh(),
        aggregation_start: d.aggregation_start.to_string(),
        version: v.version,
        updated: v
            .created_at
            .to_zoned(crate::service::china_tz())
            .strftime("%Y-%m-%d")
            .to_string(),
        validity: d.validity.clone().unwrap_or_default(),
        fields: d.face_fields.iter().map(field_row).collect(),
    }
}

/// Pages load nothing from anywhere: no scripts at all, styles inline only.
const PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn render(t: &impl Template) -> ApiResult<Response> {
    let html = t
        .render()
        .map_err(|e| ApiError::Internal(format!("template: {e}")))?;
    let mut resp = Html(html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    Ok(resp)
}

/// `GET /catalog`: the public notice of the issuance catalog (Art. 6).
pub async fn catalog(State(s): State<AppState>) -> ApiResult<Response> {
    let types = s.library.catalog(false).await?;
    render(&CatalogPage {
        types: types.iter().map(type_row).collect(),
    })
}

/// `GET /`
pub async fn index() -> ApiResult<Response> {
    render(&IndexPage {})
}
