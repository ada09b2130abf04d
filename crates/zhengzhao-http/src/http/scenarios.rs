//! `/api/v1/scenarios`: relying parties' scenarios (Art. 14–16). An
//! application comes through the public portal (no credential;
//! rate-limited per address) or is filed by a league's or banner's scenario
//! approver; the region's scenario approver decides and mints credentials.

use crate::auth::{Caller, ClientIp, MaybeCaller};
use crate::error::{ApiResult, Problem};
use crate::http::json::JsonBody;
use crate::http::no_store;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;
use zhengzhao_core::Error;
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::scenarios::{ScenarioCredential, ScenarioView, Submitted};
use zhengzhao_domain::scenario::{Decision, ScenarioApplication};

fn scenario_id(raw: &str) -> zhengzhao_core::Result<uuid::Uuid> {
    uuid::Uuid::parse_str(raw).map_err(|_| Error::NotFound(format!("scenario {raw}")))
}

/// Apply for a scenario (the public portal, no credential), or file one
/// (a `scenario_approver` of a league or banner, for a scenario it promotes).
#[utoipa::path(post, path = "/api/v1/scenarios", tag = "scenarios", operation_id = "scenarios_create",
    request_body = ScenarioApplication,
    responses((status = 201, body = Submitted), (status = 403, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ClientIp(ip): ClientIp,
    body: JsonBody,
) -> ApiResult<Response> {
    if let Some(c) = &caller {
        policy::require(c, Action::FileScenario)?;
    }
    let application: ScenarioApplication = body.parse()?;
    let submitted = s
        .library
        .apply_for_scenario(caller.as_ref(), ip, application)
        .await?;
    // The tracking code is a secret: never cached.
    Ok(no_store(
        (StatusCode::CREATED, Json(submitted)).into_response(),
    ))
}

/// Scenarios within the caller's scope (the region: all).
#[utoipa::path(get, path = "/api/v1/scenarios", tag = "scenarios", operation_id = "scenarios_list", security(("bearer" = [])),
    responses((status = 200, body = Vec<ScenarioView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ScenarioView>>> {
    Ok(Json(s.library.scenario_list(&caller).await?))
}

/// One scenario.
#[utoipa::path(get, path = "/api/v1/scenarios/{id}", tag = "scenarios", operation_id = "scenarios_get", security(("bearer" = [])),
    params(("id" = String, Path, description = "scenario id")),
    responses((status = 200, body = ScenarioView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ScenarioView>> {
    policy::require(&caller, Action::ReadScenarios)?;
    Ok(Json(
        s.library.scenario_view(&caller, scenario_id(&id)?).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: Decision,
    /// 1–500 characters, kept with the decision and in its audit event.
    pub reason: String,
}

/// Decide on a scenario: `approve` | `reject` an application, `suspend` |
/// `resume` | `revoke` an approved one. A `scenario_approver` of the region,
/// never of the org that filed it.
#[utoipa::path(post, path = "/api/v1/scenarios/{id}/decision", tag = "scenarios", operation_id = "scenarios_decide",
    request_body = DecisionRequest, security(("bearer" = [])),
    params(("id" = String, Path, description = "scenario id")),
    responses((status = 200, body = ScenarioView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the decision does not apply in the scenario's state"), (status = 422, body = Problem)))]
pub async fn decide(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<ScenarioView>> {
    policy::require(&caller, Action::DecideScenario)?;
    let id = scenario_id(&id)?;
    let req: DecisionRequest = body.parse()?;
    Ok(Json(
        s.library
            .decide_scenario(&caller, id, req.decision, &req.reason)
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialRequest {
    /// Also an HMAC key: every request must then be signed (`X-ZZ-Signature`).
    #[serde(default)]
    pub signed: bool,
}

/// Mint an API credential bound to one approved scenario (shown once).
/// Suspending, revoking or expiring the scenario stops it at once.
#[utoipa::path(post, path = "/api/v1/scenarios/{id}/credentials", tag = "scenarios", operation_id = "scenarios_credentials",
    request_body = CredentialRequest, security(("bearer" = [])),
    params(("id" = String, Path, description = "scenario id")),
    responses((status = 201, body = ScenarioCredential), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn credentials(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    policy::require(&caller, Action::MintScenarioCredential)?;
    let id = scenario_id(&id)?;
    let req: CredentialRequest = body.parse()?;
    let credential = s
        .library
        .mint_scenario_credential(&caller, id, req.signed)
        .await?;
    Ok(no_store(
        (StatusCode::CREATED, Json(credential)).into_response(),
    ))
}
