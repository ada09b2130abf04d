//! `/api/v1/audit`: the tamper-evident audit log's checkpoints and proofs
//! (Art. 21). Checkpoints and consistency proofs carry only sizes and hashes,
//! so, as in Certificate Transparency, anyone may fetch them; an inclusion
//! proof names one event, so it is for auditors of that event's org.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::ApiQuery;
use crate::service::Library;
use crate::service::audit_log::{CheckpointView, ConsistencyProof, InclusionProof};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_domain::role::Role;

/// The latest signed checkpoint of the audit log.
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, body = CheckpointView), (status = 404, body = Problem)))]
pub async fn latest(State(s): State<AppState>) -> ApiResult<Json<CheckpointView>> {
    let cp = s
        .store
        .latest_audit_checkpoint()
        .await?
        .ok_or_else(|| ApiError::NotFound("no audit checkpoint has been signed yet".into()))?;
    Ok(Json(s.library.checkpoint_view(&cp).await?))
}

/// Sign a checkpoint of the audit log now (it is also signed at a fixed interval).
#[utoipa::path(post, path = "/api/v1/audit/checkpoints", tag = "audit", security(("bearer" = [])),
    responses((status = 201, body = CheckpointView), (status = 403, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<CheckpointView>)> {
    Library::require_role(&caller, &[Role::SecurityAdmin, Role::RegionAdmin])?;
    Library::require_region(&caller)?;
    let cp = s.library.checkpoint_audit(&(&caller).into()).await?;
    Ok((
        StatusCode::CREATED,
        Json(s.library.checkpoint_view(&cp).await?),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The audit event's sequence number.
    pub seq: i64,
    /// The tree the proof is for (default: the whole log now).
    pub tree_size: Option<u64>,
}

/// Inclusion proof of one audit event (RFC 9162 §2.1.3, SM3).
#[utoipa::path(get, path = "/api/v1/audit/proofs/inclusion", tag = "audit", params(InclusionQuery), security(("bearer" = [])),
    responses((status = 200, body = InclusionProof), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn inclusion(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    Library::require_role(
        &caller,
        &[Role::Auditor, Role::SecurityAdmin, Role::RegionAdmin],
    )?;
    let event = s
        .store
        .audit_events(q.seq.saturating_sub(1), 1)
        .await?
        .into_iter()
        .find(|e| e.seq == q.seq)
        .ok_or_else(|| ApiError::NotFound(format!("audit event {}", q.seq)))?;
    // Events without an org (the CLI, the system) are the region's.
    let org = event.event.org.as_deref().unwrap_or(REGION_CODE);
    let org = OrgCode::parse(org).map_err(|e| ApiError::Internal(e.to_string()))?;
    s.library.require_within(&caller, &org).await?;
    Ok(Json(s.library.inclusion_proof(q.seq, q.tree_size).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    pub from: u64,
    pub to: u64,
}

/// Consistency proof between two tree sizes (RFC 9162 §2.1.4, SM3).
#[utoipa::path(get, path = "/api/v1/audit/proofs/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyProof), (status = 422, body = Problem)))]
pub async fn consistency(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    Ok(Json(s.library.consistency_proof(q.from, q.to).await?))
}
