//! `/api/v1/orgs`: the org tree (Art. 5).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::{ApiQuery, JsonBody};
use crate::service::Library;
use crate::service::orgs::{NewOrg, OrgPatch};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use zhengzhao_domain::org::{Org, OrgCode};

/// An org with the orgs below it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgNode {
    #[serde(flatten)]
    pub org: Org,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(no_recursion)]
    pub children: Vec<OrgNode>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgList {
    /// With `?parent=`, that org's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub parent: Option<OrgCode>,
    pub items: Vec<OrgNode>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// Only the direct children of this org.
    pub parent: Option<String>,
}

fn parse_org(field: &str, raw: &str) -> ApiResult<OrgCode> {
    OrgCode::parse(raw).map_err(|e| ApiError::Validation(vec![e.at(field)]))
}

/// Build the nested tree from a flat list in one pass.
fn build_tree(orgs: Vec<Org>) -> Vec<OrgNode> {
    let mut by_parent: HashMap<Option<OrgCode>, Vec<Org>> = HashMap::new();
    for o in orgs {
        by_parent.entry(o.parent.clone()).or_default().push(o);
    }
    fn attach(org: Org, by_parent: &mut HashMap<Option<OrgCode>, Vec<Org>>) -> OrgNode {
        let kids = by_parent
            .remove(&Some(org.code.clone()))
            .unwrap_or_default();
        OrgNode {
            children: kids.into_iter().map(|k| attach(k, by_parent)).collect(),
            org,
        }
    }
    let roots = by_parent.remove(&None).unwrap_or_default();
    roots
        .into_iter()
        .map(|r| attach(r, &mut by_parent))
        .collect()
}

/// The whole org tree, nested; or with `?parent=CODE` that org's direct children.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", operation_id = "orgs_list", params(OrgQuery),
    responses((status = 200, body = OrgList), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<OrgQuery>,
) -> ApiResult<Json<OrgList>> {
    match q.parent {
        None => Ok(Json(OrgList {
            parent: None,
            items: build_tree(s.store.orgs().await?),
        })),
        Some(p) => {
            let parent = parse_org("parent", &p)?;
            if s.store.org(&parent).await?.is_none() {
                return Err(ApiError::NotFound(format!("org {parent}")));
            }
            let children = s.store.org_children(&parent).await?;
            Ok(Json(OrgList {
                parent: Some(parent),
                items: children
                    .into_iter()
                    .map(|org| OrgNode {
                        org,
                        children: vec![],
                    })
                    .collect(),
            }))
        }
    }
}

/// One org.
#[utoipa::path(get, path = "/api/v1/orgs/{code}", tag = "orgs", operation_id = "orgs_get",
    params(("code" = String, Path, description = "org code, e.g. 150781 or 150102-SP")),
    responses((status = 200, body = Org), (status = 404, body = Problem)))]
pub async fn get(State(s): State<AppState>, Path(code): Path<String>) -> ApiResult<Json<Org>> {
    let code = parse_org("code", &code)?;
    s.store
        .org(&code)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("org {code}")))
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
    let code = parse_org("code", &code)?;
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
    let code = parse_org("code", &code)?;
    if s.library.store.org(&code).await?.is_none() {
        return Err(ApiError::NotFound(format!("org {code}")));
    }
    Ok(Json(s.library.vc_key_document(&code)?))
}
