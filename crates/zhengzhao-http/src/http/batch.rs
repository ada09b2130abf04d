//! `POST /api/v1/licenses/batch`: many issues in one request, for business
//! systems (`zhengzhao_core::import`). JSON Lines in (each line the object
//! `POST /api/v1/licenses` takes), one JSON line out per input line, in
//! order: `{"line": n, "status": "imported" | "unchanged" | "rejected", …}`.
//! A request is at most the server's body limit; send a large export in
//! several (every line is idempotent on its source record, so a batch that
//! failed half-way is simply sent again).

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use zhengzhao_core::Error;
use zhengzhao_core::import::RowOutcome;
use zhengzhao_core::policy::{self, Action};

/// Lines issued at once within one request (each signs on the CPU).
const IN_FLIGHT: usize = 16;

fn is_json_lines(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim)
        .is_some_and(|t| {
            t.eq_ignore_ascii_case("application/x-ndjson")
                || t.eq_ignore_ascii_case("application/jsonl")
        })
}

/// Issue many licenses: JSON Lines in, one JSON line out per line, in order.
#[utoipa::path(post, path = "/api/v1/licenses/batch", tag = "licenses", operation_id = "licenses_batch",
    request_body(content = String, content_type = "application/x-ndjson",
        description = "one issue request (the body of POST /api/v1/licenses) a line"),
    security(("bearer" = [])),
    responses((status = 200, content_type = "application/x-ndjson",
            description = "one line per input line, in order: `{\"line\", \"status\": \"imported\" | \"unchanged\" | \"rejected\", \"license_id\"?, \"problem\"?, \"fields\"?}`"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 415, body = Problem)))]
pub async fn batch(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    policy::require(&caller, Action::IssueLicense)?;
    if !is_json_lines(&headers) {
        return Err(Error::UnsupportedMediaType.into());
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| Error::Malformed("the body is not UTF-8 text".into()))?;
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let outcomes: Vec<(usize, Result<RowOutcome, Error>)> = futures_util::stream::iter(lines)
        .map(|(n, line)| {
            let (library, caller) = (s.library.clone(), caller.0.clone());
            async move {
                let outcome = match serde_json::from_str::<Value>(&line) {
                    Ok(row) => library.import_row(&caller, row, false).await,
                    Err(e) => Ok(RowOutcome::Rejected {
                        problem: "malformed".into(),
                        fields: vec![format!("not JSON at column {}", e.column())],
                    }),
                };
                (n, outcome)
            }
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut out = String::new();
    for (n, outcome) in outcomes {
        // A fault of the server (not of the line) answers the whole request:
        // the lines before it stand, and sending the batch again is safe.
        let outcome = outcome?;
        let mut line = json!({"line": n});
        if let (Some(m), Value::Object(o)) = (
            line.as_object_mut(),
            serde_json::to_value(&outcome).map_err(|e| Error::Internal(e.to_string()))?,
        ) {
            m.extend(o);
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    let mut resp = out.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(resp)
}
