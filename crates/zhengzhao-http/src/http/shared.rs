//! `/api/v1/shared`: what a relying party's credential reads, within its
//! scenario's grant (`zhengzhao_core::shared`).

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::http::no_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use zhengzhao_core::consent_requests::{ConsentAsk, ConsentRequestMade};
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::shared::{SharedAnswer, SharedQuery};

/// Holder ids never travel in URLs: a relying party's request with a query
/// string is refused, and recorded under the holder it names
/// (`Library::refuse_query_in_url`). These endpoints take no query at all.
pub(crate) async fn no_query(
    s: &AppState,
    caller: &zhengzhao_core::Principal,
    query: Option<String>,
) -> ApiResult<()> {
    match query.filter(|q| !q.is_empty()) {
        Some(q) => Err(s.library.refuse_query_in_url(caller, &q).await.into()),
        None => Ok(()),
    }
}

/// A holder's current licenses of one granted type, with only the granted
/// face fields. Every request states its purpose (`use_cause`).
#[utoipa::path(post, path = "/api/v1/shared/queries", tag = "shared", operation_id = "shared_query",
    request_body = SharedQuery, security(("bearer" = [])),
    responses((status = 200, body = SharedAnswer),
        (status = 403, body = Problem, description = "`/problems/not-granted` (a type or field outside the grant, named), `/problems/consent-required`, `/problems/scenario-inactive`"),
        (status = 422, body = Problem), (status = 429, body = Problem, description = "`/problems/quota-exhausted`, with Retry-After")))]
pub async fn query(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(url_query): RawQuery,
    body: JsonBody,
) -> ApiResult<Response> {
    policy::require(&caller, Action::SharedRead)?;
    no_query(&s, &caller, url_query).await?;
    let q: SharedQuery = body.parse()?;
    let answer = s.library.shared_query(&caller, &q).await?;
    Ok(no_store(Json(answer).into_response()))
}

/// Ask a holder at the counter for consent (the reverse scan): a request to
/// show as a QR code, valid for ten minutes. Social scenarios only.
#[utoipa::path(post, path = "/api/v1/shared/consent-requests", tag = "shared", operation_id = "consent_requests_create",
    request_body = ConsentAsk, security(("bearer" = [])),
    responses((status = 201, body = ConsentRequestMade), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn consent_request(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(url_query): RawQuery,
    body: JsonBody,
) -> ApiResult<Response> {
    policy::require(&caller, Action::SharedRead)?;
    no_query(&s, &caller, url_query).await?;
    let ask: ConsentAsk = body.parse()?;
    let made = s.library.request_consent(&caller, &ask).await?;
    Ok(no_store(
        (axum::http::StatusCode::CREATED, Json(made)).into_response(),
    ))
}

/// Ask for an annotated copy (加注件) of a license: a one-time download
/// link, valid ten minutes; the copy itself is valid until `valid_until`.
#[utoipa::path(post, path = "/api/v1/shared/licenses/{license_id}/copies", tag = "shared", operation_id = "copies_create",
    request_body = zhengzhao_core::copies::CopyRequest, security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of any version")),
    responses((status = 201, body = zhengzhao_core::copies::CopyLink), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn copy(
    State(s): State<AppState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    RawQuery(url_query): RawQuery,
    body: JsonBody,
) -> ApiResult<Response> {
    policy::require(&caller, Action::SharedRead)?;
    no_query(&s, &caller, url_query).await?;
    let req: zhengzhao_core::copies::CopyRequest = body.parse()?;
    let link = s.library.request_copy(&caller, &id, &req).await?;
    Ok(no_store(
        (axum::http::StatusCode::CREATED, Json(link)).into_response(),
    ))
}

/// Download an annotated copy, once (the link is the capability).
#[utoipa::path(get, path = "/api/v1/shared/copies/{token}", tag = "shared", operation_id = "copies_download",
    params(("token" = String, Path, description = "the link's token")),
    responses((status = 200, content_type = "application/pdf", description = "the annotated copy"), (status = 410, body = Problem)))]
pub async fn download(
    State(s): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> ApiResult<Response> {
    let pdf = s.library.download_copy(&token).await?;
    Ok(no_store(
        (
            [
                (axum::http::header::CONTENT_TYPE, "application/pdf"),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "attachment; filename=\"copy.pdf\"",
                ),
            ],
            pdf,
        )
            .into_response(),
    ))
}
