//! `/api/v1/incidents`: an org's emergency incidents and their backlog
//! (Art. 9; `zhengzhao_core::incidents`).

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use zhengzhao_core::Error;
use zhengzhao_core::incidents::{BacklogRequest, CloseRequest, IncidentRequest, IncidentView};
use zhengzhao_core::policy::{self, Action};

fn incident_id(id: &str) -> ApiResult<uuid::Uuid> {
    uuid::Uuid::parse_str(id).map_err(|_| Error::NotFound(format!("incident {id}")).into())
}

/// Open an incident: a fault that stopped some operations at an org.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", operation_id = "incidents_open",
    request_body = IncidentRequest, security(("bearer" = [])),
    responses((status = 201, body = IncidentView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn open(
    State(s): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<IncidentView>)> {
    policy::require(&caller, Action::ManageIncident)?;
    let req: IncidentRequest = body.parse()?;
    Ok((
        StatusCode::CREATED,
        Json(s.library.open_incident(&caller, req).await?),
    ))
}

/// An incident, its backlog items, their due days and states.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents", operation_id = "incidents_get",
    params(("id" = String, Path, description = "the incident's id")), security(("bearer" = [])),
    responses((status = 200, body = IncidentView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentView>> {
    Ok(Json(
        s.library.read_incident(&caller, incident_id(&id)?).await?,
    ))
}

/// Register source records the fault left undone (while the incident is open).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/backlog", tag = "incidents", operation_id = "incidents_backlog",
    params(("id" = String, Path, description = "the incident's id")), request_body = BacklogRequest, security(("bearer" = [])),
    responses((status = 200, body = IncidentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the incident is closed"), (status = 422, body = Problem)))]
pub async fn backlog(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<IncidentView>> {
    policy::require(&caller, Action::ManageIncident)?;
    let id = incident_id(&id)?;
    let req: BacklogRequest = body.parse()?;
    Ok(Json(s.library.register_backlog(&caller, id, req).await?))
}

/// The fault is cleared: each item is due three working days later.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/close", tag = "incidents", operation_id = "incidents_close",
    params(("id" = String, Path, description = "the incident's id")), request_body = CloseRequest, security(("bearer" = [])),
    responses((status = 200, body = IncidentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already closed"), (status = 422, body = Problem)))]
pub async fn close(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<IncidentView>> {
    policy::require(&caller, Action::ManageIncident)?;
    let id = incident_id(&id)?;
    let req: CloseRequest = body.parse()?;
    Ok(Json(s.library.close_incident(&caller, id, req).await?))
}
