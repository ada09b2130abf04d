//! `/api/v1/shared`: what a relying party's credential reads, within its
//! scenario's grant (`zhengzhao_core::shared`).

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::http::no_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use zhengzhao_core::consent_requests::{ConsentAsk, ConsentRequestMade};
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::shared::{SharedAnswer, SharedQuery};

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
    body: JsonBody,
) -> ApiResult<Response> {
    policy::require(&caller, Action::SharedRead)?;
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
    body: JsonBody,
) -> ApiResult<Response> {
    policy::require(&caller, Action::SharedRead)?;
    let ask: ConsentAsk = body.parse()?;
    let made = s.library.request_consent(&caller, &ask).await?;
    Ok(no_store(
        (axum::http::StatusCode::CREATED, Json(made)).into_response(),
    ))
}
