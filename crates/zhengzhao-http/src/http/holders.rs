//! A holder's own endpoints (`zhengzhao_core::holders`): its licenses, its
//! consents, and who used its licenses; for a holder signed in itself
//! (`holder_sign_in`) or through a channel that authenticated it.

use crate::auth::HolderCaller;
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::http::no_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use zhengzhao_core::Error;
use zhengzhao_core::consent_requests::ConsentRequestView;
use zhengzhao_core::holders::{
    ConsentRequest, ConsentView, GrantedConsent, HolderLicense, UsageEntry,
};
use zhengzhao_core::policy;

/// The holder's current licenses, in full.
#[utoipa::path(get, path = "/api/v1/holder/licenses", tag = "holders", operation_id = "holder_licenses", security(("bearer" = [])),
    responses((status = 200, body = Vec<HolderLicense>), (status = 403, body = Problem)))]
pub async fn licenses(State(s): State<AppState>, caller: HolderCaller) -> ApiResult<Response> {
    Ok(no_store(
        Json(s.library.holder_licenses(&caller).await?).into_response(),
    ))
}

/// Who used the holder's licenses: every relying-party read, refused ones too.
#[utoipa::path(get, path = "/api/v1/holder/usage", tag = "holders", operation_id = "holder_usage", security(("bearer" = [])),
    responses((status = 200, body = Vec<UsageEntry>), (status = 403, body = Problem)))]
pub async fn usage(State(s): State<AppState>, caller: HolderCaller) -> ApiResult<Response> {
    Ok(no_store(
        Json(s.library.holder_usage(&caller).await?).into_response(),
    ))
}

/// Grant a consent to a social scenario; answered with a receipt signed by the region.
#[utoipa::path(post, path = "/api/v1/consents", tag = "holders", operation_id = "consents_create",
    request_body = ConsentRequest, security(("bearer" = [])),
    responses((status = 201, body = GrantedConsent), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn grant(
    State(s): State<AppState>,
    caller: HolderCaller,
    body: JsonBody,
) -> ApiResult<Response> {
    // The holder itself (signed in) or a channel acting for it: checked
    // before the body is read.
    policy::require_holder(&caller)?;
    let req: ConsentRequest = body.parse()?;
    let granted = s.library.grant_consent(&caller, req).await?;
    Ok(no_store(
        (StatusCode::CREATED, Json(granted)).into_response(),
    ))
}

/// The holder's consents.
#[utoipa::path(get, path = "/api/v1/consents", tag = "holders", operation_id = "consents_list", security(("bearer" = [])),
    responses((status = 200, body = Vec<ConsentView>), (status = 403, body = Problem)))]
pub async fn list(State(s): State<AppState>, caller: HolderCaller) -> ApiResult<Response> {
    Ok(no_store(
        Json(s.library.holder_consents(&caller).await?).into_response(),
    ))
}

/// Withdraw a consent, effective at once.
#[utoipa::path(post, path = "/api/v1/consents/{id}/withdraw", tag = "holders", operation_id = "consents_withdraw", security(("bearer" = [])),
    params(("id" = String, Path, description = "consent id")),
    responses((status = 200, body = ConsentView), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn withdraw(
    State(s): State<AppState>,
    caller: HolderCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConsentView>> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| Error::NotFound(format!("consent {id}")))?;
    Ok(Json(s.library.withdraw_consent(&caller, id).await?))
}

/// What a counter's consent request asks (the holder's app reads it from
/// the QR code; the token is the capability and holds no personal data).
#[utoipa::path(get, path = "/api/v1/consent-requests/{token}", tag = "holders", operation_id = "consent_requests_get",
    params(("token" = String, Path, description = "the request token from the QR code")),
    responses((status = 200, body = ConsentRequestView), (status = 410, body = Problem), (status = 422, body = Problem)))]
pub async fn consent_request(
    State(s): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    Ok(no_store(
        Json(s.library.consent_request_view(&token).await?).into_response(),
    ))
}

/// The holder approves a counter's request: a one-use consent, with its receipt.
#[utoipa::path(post, path = "/api/v1/consent-requests/{token}/approve", tag = "holders", operation_id = "consent_requests_approve", security(("bearer" = [])),
    params(("token" = String, Path, description = "the request token")),
    responses((status = 201, body = GrantedConsent), (status = 403, body = Problem), (status = 409, body = Problem), (status = 410, body = Problem)))]
pub async fn approve_request(
    State(s): State<AppState>,
    caller: HolderCaller,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let granted = s
        .library
        .answer_consent_request(&caller, &token, true)
        .await?;
    Ok(no_store(
        (StatusCode::CREATED, Json(granted)).into_response(),
    ))
}

/// The holder declines a counter's request (recorded).
#[utoipa::path(post, path = "/api/v1/consent-requests/{token}/decline", tag = "holders", operation_id = "consent_requests_decline", security(("bearer" = [])),
    params(("token" = String, Path, description = "the request token")),
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem), (status = 410, body = Problem)))]
pub async fn decline_request(
    State(s): State<AppState>,
    caller: HolderCaller,
    Path(token): Path<String>,
) -> ApiResult<StatusCode> {
    s.library
        .answer_consent_request(&caller, &token, false)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
