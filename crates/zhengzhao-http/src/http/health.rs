//! `GET /healthz`: answers once the database answers.

use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    pub status: &'static str,
}

/// Liveness and readiness: `{"status":"ok"}` when the database is reachable.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = crate::error::Problem)))]
pub async fn healthz(State(s): State<AppState>) -> ApiResult<Json<Health>> {
    s.library.check_database().await?;
    Ok(Json(Health { status: "ok" }))
}
