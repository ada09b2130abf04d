//! `/api/v1/outbox`: the outbox relay's rows for the region's
//! administrators (`zhengzhao_core::outbox`): list them by state and
//! destination, look at one with the body it carries, replay a rejected
//! or parked one.

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use zhengzhao_core::outbox::{OutboxEntry, OutboxFilter, parse_state};
use zhengzhao_core::policy::{self, Action};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// `pending`, `in_flight`, `delivered`, `rejected` or `parked`.
    pub state: Option<String>,
    /// `platform`, `national_platform` or `channel:<name>`.
    pub destination: Option<String>,
    /// Rows with a smaller id (the next page).
    pub before: Option<i64>,
    /// At most this many rows (1–500) [default: 100].
    pub limit: Option<u32>,
}

fn row_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| zhengzhao_core::Error::NotFound(format!("outbox entry {id}")).into())
}

/// The relay's rows, newest first.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "outbox", operation_id = "outbox_list",
    params(OutboxQuery), security(("bearer" = [])),
    responses((status = 200, body = Vec<OutboxEntry>), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Json<Vec<OutboxEntry>>> {
    policy::require(&caller, Action::OperateOutbox)?;
    let filter = OutboxFilter {
        destination: q.destination,
        state: q.state.as_deref().map(parse_state).transpose()?,
        before_id: q.before,
        limit: q.limit.unwrap_or(100),
    };
    Ok(Json(s.library.outbox_entries(&caller, &filter).await?))
}

/// One row. Its body is not shown here: it carries the holder's data in
/// full, for the platform; the operator sees it with `zhengzhao outbox show`.
#[utoipa::path(get, path = "/api/v1/outbox/{id}", tag = "outbox", operation_id = "outbox_get",
    params(("id" = i64, Path, description = "the row's id")), security(("bearer" = [])),
    responses((status = 200, body = OutboxEntry), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OutboxEntry>> {
    policy::require(&caller, Action::OperateOutbox)?;
    Ok(Json(s.library.outbox_entry(&caller, row_id(&id)?).await?))
}

/// Send a rejected or parked row again, from its first attempt.
#[utoipa::path(post, path = "/api/v1/outbox/{id}/replay", tag = "outbox", operation_id = "outbox_replay",
    params(("id" = i64, Path, description = "the row's id")), security(("bearer" = [])),
    responses((status = 200, body = OutboxEntry), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the row is not rejected or parked")))]
pub async fn replay(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OutboxEntry>> {
    policy::require(&caller, Action::OperateOutbox)?;
    Ok(Json(s.library.replay_outbox(&caller, row_id(&id)?).await?))
}
