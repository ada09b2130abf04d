//! `/api/v1/licenses`: the write contract business systems integrate with,
//! and the reads of issuing staff.

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::http::json::{ApiQuery, JsonBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use zhengzhao_core::license_reads::{History, LicensePage, LicenseSearch, SignedDocument};
use zhengzhao_core::licenses::{IssueRequest, LicenseView, RevokeRequest, UpdateRequest};
use zhengzhao_core::policy::{self, Action};

/// Issue a license. Replaying the same request (same `source`) returns the
/// same license with 200; a different request for the same source is a 409.
#[utoipa::path(post, path = "/api/v1/licenses", tag = "licenses", request_body = IssueRequest, security(("bearer" = [])),
    responses((status = 201, body = LicenseView), (status = 200, body = LicenseView, description = "replay of an earlier identical request"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the source record was used with other data; or the type allows one current license per holder and the holder has one (`/problems/current-license-exists`, naming it in `existing_license_id` when the caller may learn it)"),
        (status = 422, body = Problem)))]
pub async fn issue(
    State(s): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    // The role before the body: a caller without it learns nothing from validation.
    policy::require(&caller, Action::IssueLicense)?;
    let req: IssueRequest = body.parse()?;
    let (rec, created) = s.library.issue_license(&caller, req).await?;
    let view = if created {
        s.library.issued_view(&caller, &rec).await?
    } else {
        s.library.current_view(&caller, &rec).await?
    };
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(view),
    ))
}

/// A license by any of its versions' identifiers; the answer says which version is current.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}", tag = "licenses", operation_id = "licenses_get", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "GB/T 36904 identifier of any version")),
    responses((status = 200, body = LicenseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LicenseView>> {
    Ok(Json(s.library.read_license(&caller, &id).await?))
}

/// Update: issue the next version (with the changed paper license).
#[utoipa::path(post, path = "/api/v1/licenses/{license_id}/versions", tag = "licenses", operation_id = "licenses_update", request_body = UpdateRequest, security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of any version")),
    responses((status = 201, body = LicenseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    policy::require(&caller, Action::ChangeLicense)?;
    let req: UpdateRequest = body.parse()?;
    let rec = s.library.update_license(&caller, &id, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(s.library.current_view(&caller, &rec).await?),
    ))
}

/// Revoke a license, with a reason.
#[utoipa::path(post, path = "/api/v1/licenses/{license_id}/revoke", tag = "licenses", request_body = RevokeRequest, security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of any version")),
    responses((status = 200, body = LicenseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<LicenseView>> {
    policy::require(&caller, Action::RevokeLicense)?;
    let req: RevokeRequest = body.parse()?;
    let rec = s.library.revoke_license(&caller, &id, req).await?;
    Ok(Json(s.library.current_view(&caller, &rec).await?))
}

/// Every version of a license and every delivery.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/history", tag = "licenses", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of any version")),
    responses((status = 200, body = History), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn history(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<History>> {
    Ok(Json(s.library.license_history(&caller, &id).await?))
}

/// The signed document: verify with OpenSSL alone (see README).
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/document", tag = "licenses", operation_id = "licenses_document", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of the version wanted")),
    responses((status = 200, body = SignedDocument), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn document(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SignedDocument>> {
    Ok(Json(s.library.license_document(&caller, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Holder's unified social credit code or resident id.
    pub holder: Option<String>,
    /// License type code.
    #[serde(rename = "type")]
    pub type_code: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<u32>,
}

/// Licenses issued within the caller's org subtree, newest first (keyset pagination).
#[utoipa::path(get, path = "/api/v1/licenses", tag = "licenses", operation_id = "licenses_list", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = LicensePage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<LicensePage>> {
    let search = LicenseSearch {
        holder: q.holder,
        type_code: q.type_code,
        cursor: q.cursor,
        limit: q.limit,
    };
    Ok(Json(s.library.list_licenses(&caller, &search).await?))
}

/// The license as a printable A4 file (PDF), with a QR code linking to its
/// public check, signed by the issuer over the whole file (SM2 in CMS); a
/// revoked or superseded version says so on its face.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/pdf", tag = "licenses", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of the version wanted")),
    responses((status = 200, content_type = "application/pdf", description = "the license file"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn pdf(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let file = s.library.license_file(&caller, &id).await?;
    let disposition = format!("inline; filename=\"{}\"", file.file_name);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, file.media_type.to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        file.bytes,
    )
        .into_response())
}

/// The license as a W3C Verifiable Credential 2.0 with an `eddsa-jcs-2022`
/// proof by the issuer's Ed25519 key (beside the SM2 document). Same access
/// as the document: it carries the face data.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/vc", tag = "licenses", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of the version wanted")),
    responses((status = 200, content_type = "application/vc+ld+json", description = "the credential"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn vc(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let credential = s.library.license_credential(&caller, &id).await?;
    let mut resp = Json(credential).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/vc+ld+json"),
    );
    Ok(resp)
}
