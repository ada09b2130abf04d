//! `/api/v1/usage-lists` and `/api/v1/usage/check`: each org's usage list
//! (用证清单) and the counter's check (`zhengzhao_core::usage_lists`).

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::usage_lists::{UsageCheck, UsageCheckAnswer, UsageItemInput, UsageItemView};

/// Write the next version of an item of the caller's own org's usage list
/// (that org's `region_admin`).
#[utoipa::path(put, path = "/api/v1/usage-lists/{org}/items/{item_code}", tag = "usage", operation_id = "usage_items_put",
    request_body = UsageItemInput, security(("bearer" = [])),
    params(("org" = String, Path, description = "org code"), ("item_code" = String, Path, description = "service item code")),
    responses((status = 200, body = UsageItemView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put(
    State(s): State<AppState>,
    caller: Caller,
    Path((org, item_code)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<UsageItemView>> {
    policy::require(&caller, Action::EditUsageList)?;
    let input: UsageItemInput = body.parse()?;
    Ok(Json(
        s.library
            .put_usage_item(&caller, &org, &item_code, input)
            .await?,
    ))
}

/// An org's usage list: the current version of each item (public).
#[utoipa::path(get, path = "/api/v1/usage-lists/{org}", tag = "usage", operation_id = "usage_list_get",
    params(("org" = String, Path, description = "org code")),
    responses((status = 200, body = Vec<UsageItemView>), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<UsageItemView>>> {
    Ok(Json(s.library.usage_list(&org).await?))
}

/// One item of an org's usage list (public).
#[utoipa::path(get, path = "/api/v1/usage-lists/{org}/items/{item_code}", tag = "usage", operation_id = "usage_items_get",
    params(("org" = String, Path, description = "org code"), ("item_code" = String, Path, description = "service item code")),
    responses((status = 200, body = UsageItemView), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    Path((org, item_code)): Path<(String, String)>,
) -> ApiResult<Json<UsageItemView>> {
    Ok(Json(s.library.usage_item(&org, &item_code).await?))
}

/// Which of an item's materials the library holds for an applicant as
/// current licenses (the counter must not ask for paper), and which not.
#[utoipa::path(post, path = "/api/v1/usage/check", tag = "usage", operation_id = "usage_check",
    request_body = UsageCheck, security(("bearer" = [])),
    responses((status = 200, body = UsageCheckAnswer), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn check(
    State(s): State<AppState>,
    caller: Caller,
    axum::extract::RawQuery(url_query): axum::extract::RawQuery,
    body: JsonBody,
) -> ApiResult<Json<UsageCheckAnswer>> {
    policy::require(&caller, Action::CheckUsage)?;
    crate::http::shared::no_query(&s, &caller, url_query).await?;
    let q: UsageCheck = body.parse()?;
    Ok(Json(s.library.check_usage(&caller, &q).await?))
}
