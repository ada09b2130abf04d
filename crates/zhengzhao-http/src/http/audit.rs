//! `/api/v1/audit`: the tamper-evident audit log's checkpoints and proofs
//! (Art. 21). Checkpoints and consistency proofs carry only sizes and hashes,
//! so, as in Certificate Transparency, anyone may fetch them; an inclusion
//! proof names one event, so it is for auditors of that event's org.

use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiResult, Problem};
use crate::http::json::ApiQuery;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use zhengzhao_core::Error;
use zhengzhao_core::audit_log::{CheckpointView, ConsistencyProof, InclusionProof, VerifierKey};
use zhengzhao_core::audit_search::EventSearch;
use zhengzhao_core::policy::{self, Action};

/// The latest signed checkpoint of the audit log.
#[utoipa::path(get, path = "/api/v1/audit/checkpoint", tag = "audit",
    responses((status = 200, body = CheckpointView), (status = 404, body = Problem)))]
pub async fn latest(
    State(s): State<AppState>,
    _caller: MaybeCaller,
) -> ApiResult<Json<CheckpointView>> {
    Ok(Json(s.library.latest_checkpoint_view().await?))
}

/// The Ed25519 verifier key of the checkpoints (signed-note `vkey` format).
/// Take it from here once and keep it: a verifier that fetches the key with
/// every checkpoint learns nothing from the signature.
#[utoipa::path(get, path = "/api/v1/audit/verifier-key", tag = "audit", operation_id = "audit_verifier_key",
    responses((status = 200, body = VerifierKey)))]
pub async fn verifier_key(
    State(s): State<AppState>,
    _caller: MaybeCaller,
) -> ApiResult<Json<VerifierKey>> {
    Ok(Json(s.library.audit_verifier_key()?))
}

/// Sign a checkpoint of the audit log now (it is also signed at a fixed interval).
#[utoipa::path(post, path = "/api/v1/audit/checkpoints", tag = "audit", operation_id = "audit_checkpoints_create", security(("bearer" = [])),
    responses((status = 201, body = CheckpointView), (status = 200, body = CheckpointView, description = "the log had not grown: the latest checkpoint"), (status = 403, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<CheckpointView>)> {
    let (view, signed_now) = s.library.sign_checkpoint_now(&caller).await?;
    // 201 when a checkpoint was signed now; 200 when the log had not grown
    // and the latest one is handed back.
    let status = if signed_now {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The audit event's sequence number.
    pub seq: i64,
    /// The tree the proof is for (default: the latest signed checkpoint's,
    /// or the whole log now if that does not cover the event yet).
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
    Ok(Json(
        s.library
            .event_inclusion_proof(&caller, q.seq, q.tree_size)
            .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
    _caller: MaybeCaller,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    Ok(Json(s.library.consistency_proof(q.from, q.to).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// At or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Before this instant (RFC 3339).
    pub to: Option<String>,
    pub actor: Option<String>,
    /// Only this org's subtree (default: the caller's org's).
    pub org: Option<String>,
    pub action: Option<String>,
    /// Only events about this license: the identifier of any of its
    /// versions finds the events of all of them.
    pub license: Option<String>,
    /// Keyset pagination: events after this sequence number.
    pub after: Option<i64>,
    /// At most this many (1-1000, default 100).
    pub limit: Option<u32>,
    /// `json` (default), `jsonl` or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EventPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<zhengzhao_core::audit_search::AuditRecord>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// A CSV cell: always quoted; a leading = + - @ is defused so that a
/// spreadsheet shows it as text instead of running it.
fn csv_cell(s: &str) -> String {
    let defused = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

/// Search and export the audit log, within the caller's org subtree.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(EventQuery), security(("bearer" = [])),
    responses((status = 200, body = EventPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn events(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    // The role first: a caller without it learns nothing from the query.
    policy::require(&caller, Action::ReadAudit)?;
    let search = EventSearch {
        from: q.from.clone(),
        to: q.to.clone(),
        actor: q.actor.clone(),
        org: q.org.clone(),
        action: q.action.clone(),
        license: q.license.clone(),
        after: q.after,
        limit: q.limit,
    };
    let page = s.library.search_audit_events(&caller, &search).await?;
    let (items, next_after) = (page.items, page.next_after);
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(EventPage { items, next_after }).into_response()),
        "jsonl" => {
            let mut body = String::new();
            for e in &items {
                body.push_str(
                    &serde_json::to_string(e).map_err(|e| Error::Internal(e.to_string()))?,
                );
                body.push('\n');
            }
            Ok((
                [(axum::http::header::CONTENT_TYPE, "application/jsonl")],
                body,
            )
                .into_response())
        }
        "csv" => {
            let mut body = String::from(
                "seq,id,at,actor,org,role,client_addr,action,target,outcome,reason,detail\r\n",
            );
            for r in &items {
                let e = &r.event;
                let cells = [
                    r.seq.to_string(),
                    e.id.to_string(),
                    e.at.to_string(),
                    e.actor.clone(),
                    e.org.clone().unwrap_or_default(),
                    e.role.clone().unwrap_or_default(),
                    e.client_addr.clone().unwrap_or_default(),
                    e.action.clone(),
                    e.target.clone(),
                    e.outcome.clone(),
                    e.reason.clone().unwrap_or_default(),
                    e.detail.to_string(),
                ];
                let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
                body.push_str(&line.join(","));
                body.push_str("\r\n");
            }
            Ok((
                [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                body,
            )
                .into_response())
        }
        other => Err(Error::field(
            "format",
            "unknown_format",
            format!("format '{other}' is not one of json, jsonl, csv"),
            format!("格式“{other}”不是json、jsonl或csv之一"),
        )
        .into()),
    }
}
