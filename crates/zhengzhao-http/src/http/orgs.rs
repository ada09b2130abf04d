//! `/api/v1/orgs`: the org tree (Art. 5).

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::http::json::{ApiQuery, JsonBody};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use zhengzhao_core::Error;
use zhengzhao_core::Library;
use zhengzhao_core::orgs::{NewOrg, OrgList, OrgPatch};
use zhengzhao_domain::org::{Org, OrgCode};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// Only the direct children of this org.
    pub parent: Option<String>,
}

/// The whole org tree, nested; or with `?parent=CODE` that org's direct children.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", operation_id = "orgs_list", params(OrgQuery),
    responses((status = 200, body = OrgList), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<OrgQuery>,
) -> ApiResult<Json<OrgList>> {
    Ok(Json(s.library.org_list(q.parent.as_deref()).await?))
}

/// One org.
#[utoipa::path(get, path = "/api/v1/orgs/{code}", tag = "orgs", operation_id = "orgs_get",
    params(("code" = String, Path, description = "org code, e.g. 150781 or 150102-SP")),
    responses((status = 200, body = Org), (status = 404, body = Problem)))]
pub async fn get(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult<Json<Org>> {
    Ok(Json(s.library.org_by_code("code", &code).await?))
}

/// Add an org (e.g. an approval bureau) under one in the caller's subtree. `region_admin` only.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", operation_id = "orgs_create", request_body = NewOrg, security(("bearer" = [])),
    responses((status = 201, body = Org), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<Org>)> {
    Library::authorize_org_admin(&caller)?;
    let new: NewOrg = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(s.library.add_org(&caller, new).await?),
    ))
}

/// Change an org's name or replace its placeholder credit code. `region_admin` of an ancestor org only.
#[utoipa::path(patch, path = "/api/v1/orgs/{code}", tag = "orgs", operation_id = "orgs_update", request_body = OrgPatch, security(("bearer" = [])),
    params(("code" = String, Path, description = "org code")),
    responses((status = 200, body = Org), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<Org>> {
    Library::authorize_org_admin(&caller)?;
    let code = OrgCode::parse(&code).map_err(|e| Error::Validation(vec![e.at("code")]))?;
    let patch: OrgPatch = body.parse()?;
    Ok(Json(s.library.update_org(&caller, &code, patch).await?))
}

/// The org's Ed25519 verification key for Verifiable Credentials, as a Multikey.
#[utoipa::path(get, path = "/api/v1/orgs/{code}/vc-key", tag = "orgs",
    responses((status = 200, description = "Multikey document"), (status = 404, body = Problem)))]
pub async fn vc_key(
    State(s): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(s.library.org_vc_key_document(&code).await?))
}
