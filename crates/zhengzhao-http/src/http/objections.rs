//! `/api/v1/objections`: objections to a license (Art. 19;
//! `zhengzhao_core::objections`). Anyone submits (the public form and API)
//! and follows with ticket and tracking code; channels submit with their
//! signed token and reference; handlers of the issuing org (or above) take
//! each step.

use crate::auth::{Caller, MaybeTokenCaller};
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use zhengzhao_core::objections::{
    AnswerRequest, DecideRequest, ObjectionFilter, ObjectionRequest, ObjectionView, RefuseRequest,
    Submitted, TrackRequest, TrackView,
};
use zhengzhao_core::policy::{self, Action};

/// Submit an objection: 201 with the ticket and the tracking code (shown
/// once). A channel's reference submitted again is answered 200 with the
/// first objection (and no code).
#[utoipa::path(post, path = "/api/v1/objections", tag = "objections", operation_id = "objections_submit",
    request_body = ObjectionRequest,
    responses((status = 201, body = Submitted), (status = 200, body = Submitted, description = "the channel's reference was submitted before"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn submit(
    State(s): State<AppState>,
    who: MaybeTokenCaller,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<Submitted>)> {
    if let Some(c) = &who.caller {
        policy::require(c, Action::SubmitObjectionForChannel)?;
    }
    let req: ObjectionRequest = body.parse()?;
    let (submitted, new) = s
        .library
        .submit_objection(who.caller.as_ref(), who.client_addr, req)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(submitted)))
}

/// Follow an objection with its ticket and tracking code (the applicant).
/// A wrong ticket or code is a 404 either way, and tries are limited per
/// client address.
#[utoipa::path(post, path = "/api/v1/objections/track", tag = "objections", operation_id = "objections_track",
    request_body = TrackRequest,
    responses((status = 200, body = TrackView), (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn track(State(s): State<AppState>, body: JsonBody) -> ApiResult<Json<TrackView>> {
    let req: TrackRequest = body.parse()?;
    Ok(Json(s.library.track_objection(&req).await?))
}

/// Objections within the caller's subtree, oldest first.
#[utoipa::path(get, path = "/api/v1/objections", tag = "objections", operation_id = "objections_list",
    params(("state" = Option<String>, Query, description = "only in this state"),
           ("overdue" = Option<bool>, Query, description = "only overdue ones (true) or only on time (false)")),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<ObjectionView>), (status = 403, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Query(f): Query<ObjectionFilter>,
) -> ApiResult<Json<Vec<ObjectionView>>> {
    policy::require(&caller, Action::ReadObjections)?;
    Ok(Json(s.library.list_objections(&caller, &f).await?))
}

/// One objection with its applicant, statement, attachments and history.
#[utoipa::path(get, path = "/api/v1/objections/{ticket}", tag = "objections", operation_id = "objections_get",
    params(("ticket" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = ObjectionView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(ticket): Path<String>,
) -> ApiResult<Json<ObjectionView>> {
    Ok(Json(s.library.read_objection(&caller, &ticket).await?))
}

/// An attachment (handlers only; the read is audited).
#[utoipa::path(get, path = "/api/v1/objections/{ticket}/attachments/{n}", tag = "objections", operation_id = "objections_attachment",
    params(("ticket" = String, Path), ("n" = i32, Path)), security(("bearer" = [])),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn attachment(
    State(s): State<AppState>,
    caller: Caller,
    Path((ticket, n)): Path<(String, String)>,
) -> ApiResult<Response> {
    let n: i32 = n
        .parse()
        .map_err(|_| zhengzhao_core::Error::NotFound(format!("attachment {n}")))?;
    let (_, media_type, bytes) = s.library.objection_attachment(&caller, &ticket, n).await?;
    let mut resp = bytes.into_response();
    if let Ok(v) = HeaderValue::from_str(&media_type) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    // Never rendered by the browser as a page of this site.
    resp.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    Ok(resp)
}

/// The step a `POST /api/v1/objections/{ticket}/{step}` takes.
#[utoipa::path(post, path = "/api/v1/objections/{ticket}/{step}", tag = "objections", operation_id = "objections_step",
    params(("ticket" = String, Path), ("step" = String, Path, description = "`accept`, `refuse` {reason}, `investigate`, `decide` {outcome, finding, license_id}, `answer` {text} or `archive`")),
    request_body(content = Object, description = "RefuseRequest, DecideRequest or AnswerRequest; {} for the others"),
    security(("bearer" = [])),
    responses((status = 200, body = ObjectionView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "not in a state this step starts from, or changed meanwhile"), (status = 422, body = Problem)))]
pub async fn step(
    State(s): State<AppState>,
    caller: Caller,
    Path((ticket, step)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<ObjectionView>> {
    policy::require(&caller, Action::HandleObjection)?;
    let l = &s.library;
    let view = match step.as_str() {
        "accept" => l.accept_objection(&caller, &ticket).await?,
        "investigate" => l.investigate_objection(&caller, &ticket).await?,
        "archive" => l.archive_objection(&caller, &ticket).await?,
        "refuse" => {
            let req: RefuseRequest = body.parse()?;
            l.refuse_objection(&caller, &ticket, req).await?
        }
        "decide" => {
            let req: DecideRequest = body.parse()?;
            l.decide_objection(&caller, &ticket, req).await?
        }
        "answer" => {
            let req: AnswerRequest = body.parse()?;
            l.answer_objection(&caller, &ticket, req).await?
        }
        _ => {
            return Err(zhengzhao_core::Error::NotFound(format!("objection step {step}")).into());
        }
    };
    Ok(Json(view))
}
