//! `/api/v1/catalog`: the issuance catalog (Art. 6).

use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use zhengzhao_core::Error;
use zhengzhao_core::Library;
use zhengzhao_domain::catalog::{LicenseTypeDraft, LicenseTypeVersion};
use zhengzhao_domain::codes::LicenseTypeCode;

/// One version of a license type: its definition plus version facts.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogItem {
    #[serde(flatten)]
    pub license_type: LicenseTypeDraft,
    /// Version number of this definition (1, 2, …).
    pub version: u32,
    /// When this version was made (RFC 3339, UTC).
    #[schema(value_type = String, format = DateTime)]
    pub version_created_at: jiff::Timestamp,
}

impl From<LicenseTypeVersion> for CatalogItem {
    fn from(v: LicenseTypeVersion) -> Self {
        Self {
            license_type: v.spec.into_draft(),
            version: v.version,
            version_created_at: v.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogList {
    pub items: Vec<CatalogItem>,
}

fn parse_code(raw: &str) -> zhengzhao_core::Result<LicenseTypeCode> {
    LicenseTypeCode::parse(raw).map_err(|e| Error::Validation(vec![e.at("code")]))
}

/// The current issuance catalog. Public; not-public types are shown only to
/// callers with a valid token.
#[utoipa::path(get, path = "/api/v1/catalog", tag = "catalog", operation_id = "catalog_list",
    responses((status = 200, body = CatalogList), (status = 401, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
) -> ApiResult<Json<CatalogList>> {
    let items = s.library.catalog(caller.is_some()).await?;
    Ok(Json(CatalogList {
        items: items.into_iter().map(CatalogItem::from).collect(),
    }))
}

/// Add a license type (version 1). Region-level `region_admin` or `catalog_admin` only.
#[utoipa::path(post, path = "/api/v1/catalog", tag = "catalog", operation_id = "catalog_create", request_body = LicenseTypeDraft,
    security(("bearer" = [])),
    responses((status = 201, body = CatalogItem), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<CatalogItem>)> {
    Library::authorize_catalog_edit(&caller)?;
    let draft: LicenseTypeDraft = body.parse()?;
    let v = s.library.create_license_type(&caller, draft).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// The current version of one license type.
#[utoipa::path(get, path = "/api/v1/catalog/{code}", tag = "catalog", operation_id = "catalog_get",
    params(("code" = String, Path, description = "GB/T 36904 license type code (21 characters)")),
    responses((status = 200, body = CatalogItem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(code): Path<String>,
) -> ApiResult<Json<CatalogItem>> {
    let code = parse_code(&code)?;
    Ok(Json(
        s.library
            .license_type(&code, None, caller.is_some())
            .await?
            .into(),
    ))
}

/// Make the next version of a license type from a full definition.
/// Region-level `region_admin` or `catalog_admin` only.
#[utoipa::path(put, path = "/api/v1/catalog/{code}", tag = "catalog", operation_id = "catalog_update", request_body = LicenseTypeDraft,
    security(("bearer" = [])),
    params(("code" = String, Path, description = "GB/T 36904 license type code")),
    responses((status = 200, body = CatalogItem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<CatalogItem>> {
    Library::authorize_catalog_edit(&caller)?;
    let code = parse_code(&code)?;
    let draft: LicenseTypeDraft = body.parse()?;
    Ok(Json(
        s.library
            .update_license_type(&caller, &code, draft, None)
            .await?
            .into(),
    ))
}

/// Every version of a license type, oldest first.
#[utoipa::path(get, path = "/api/v1/catalog/{code}/versions", tag = "catalog",
    params(("code" = String, Path, description = "GB/T 36904 license type code")),
    responses((status = 200, body = CatalogList), (status = 404, body = Problem)))]
pub async fn versions(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(code): Path<String>,
) -> ApiResult<Json<CatalogList>> {
    let code = parse_code(&code)?;
    let items = s
        .library
        .license_type_versions(&code, caller.is_some())
        .await?;
    Ok(Json(CatalogList {
        items: items.into_iter().map(CatalogItem::from).collect(),
    }))
}

/// One past or current version of a license type.
#[utoipa::path(get, path = "/api/v1/catalog/{code}/versions/{version}", tag = "catalog",
    params(("code" = String, Path, description = "GB/T 36904 license type code"), ("version" = u32, Path, description = "version number")),
    responses((status = 200, body = CatalogItem), (status = 404, body = Problem)))]
pub async fn version(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path((code, version)): Path<(String, String)>,
) -> ApiResult<Json<CatalogItem>> {
    let code = parse_code(&code)?;
    let version: u32 = version.parse().map_err(|_| {
        Error::field(
            "version",
            "number",
            "version must be a positive whole number",
            "版本号应为正整数",
        )
    })?;
    Ok(Json(
        s.library
            .license_type(&code, Some(version), caller.is_some())
            .await?
            .into(),
    ))
}
