//! `/api/v1/audit`: the tamper-evident audit log's checkpoints and proofs
//! (Art. 21). Checkpoints and consistency proofs carry only sizes and hashes,
//! so, as in Certificate Transparency, anyone may fetch them; an inclusion
//! proof names one event, so it is for auditors of that event's org.

use crate::auth::{Caller, MaybeCaller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::ApiQuery;
use crate::service::Library;
use crate::service::audit_log::{CheckpointView, ConsistencyProof, InclusionProof, VerifierKey};
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
pub async fn latest(
    State(s): State<AppState>,
    _caller: MaybeCaller,
) -> ApiResult<Json<CheckpointView>> {
    let cp = s
        .store
        .latest_audit_checkpoint()
        .await?
        .ok_or_else(|| ApiError::NotFound("no audit checkpoint has been signed yet".into()))?;
    Ok(Json(s.library.checkpoint_view(&cp).await?))
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
    Library::require_role(&caller, &[Role::SecurityAdmin, Role::RegionAdmin])?;
    Library::require_region(&caller)?;
    let before = s
        .store
        .latest_audit_checkpoint()
        .await?
        .map(|c| c.tree_size);
    let cp = s.library.checkpoint_audit(&(&caller).into()).await?;
    // 201 when a checkpoint was signed now; 200 when the log had not grown
    // and the latest one is handed back.
    let status = if before == Some(cp.tree_size) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(s.library.checkpoint_view(&cp).await?)))
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
    pub items: Vec<zhengzhao_store::AuditRecord>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

fn instant(field: &str, raw: Option<&str>) -> ApiResult<Option<jiff::Timestamp>> {
    raw.map(|r| {
        r.parse::<jiff::Timestamp>().map_err(|_| {
            ApiError::field(
                field,
                "timestamp",
                format!("{field} must be an RFC 3339 instant, e.g. 2026-11-29T08:00:00+08:00"),
                format!("{field}应为RFC 3339时间，例如2026-11-29T08:00:00+08:00"),
            )
        })
    })
    .transpose()
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
    Library::require_role(
        &caller,
        &[Role::Auditor, Role::SecurityAdmin, Role::RegionAdmin],
    )?;
    let scope = match &q.org {
        Some(o) => OrgCode::parse(o).map_err(|e| ApiError::Validation(vec![e.at("org")]))?,
        None => caller.org.clone(),
    };
    s.library.require_within(&caller, &scope).await?;
    let orgs = if scope.as_str() == REGION_CODE {
        None
    } else {
        Some(
            s.store
                .org_subtree(&scope)
                .await?
                .into_iter()
                .map(|o| o.code.to_string())
                .collect(),
        )
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "range",
            "limit must be 1-1000",
            "limit应为1至1000",
        ));
    }
    let query = zhengzhao_store::AuditQuery {
        from: instant("from", q.from.as_deref())?,
        to: instant("to", q.to.as_deref())?,
        actor: q.actor.clone(),
        orgs,
        action: q.action.clone(),
        targets: match &q.license {
            Some(l) => Some(license_targets(&s, l).await?),
            None => None,
        },
    };
    let items = s
        .store
        .search_audit(&query, q.after.unwrap_or(0), limit)
        .await?;
    let next_after = (items.len() == limit as usize)
        .then(|| items.last().map(|e| e.seq))
        .flatten();
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(EventPage { items, next_after }).into_response()),
        "jsonl" => {
            let mut body = String::new();
            for e in &items {
                body.push_str(
                    &serde_json::to_string(e).map_err(|e| ApiError::Internal(e.to_string()))?,
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
        other => Err(ApiError::field(
            "format",
            "unknown_format",
            format!("format '{other}' is not one of json, jsonl, csv"),
            format!("格式“{other}”不是json、jsonl或csv之一"),
        )),
    }
}

/// Audit targets of every version of the license `raw` names (updates and
/// revocations are filed under the version they made or ended).
async fn license_targets(s: &AppState, raw: &str) -> ApiResult<Vec<String>> {
    let id = zhengzhao_domain::license_id::LicenseId::parse(raw)
        .map_err(|e| ApiError::Validation(vec![e.at("license")]))?;
    Ok(match s.store.license_by_identifier(&id).await? {
        Some(l) => l
            .versions
            .iter()
            .map(|v| format!("license:{}", v.license_id))
            .collect(),
        None => vec![format!("license:{id}")],
    })
}
