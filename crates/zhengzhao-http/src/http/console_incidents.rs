//! The console's emergency incidents (Art. 9): the org's incidents with
//! their backlog, opening one and closing it (the same use cases as
//! `/api/v1/incidents…`). Times are entered in China time.

use crate::error::ApiResult;
use crate::http::pages::render;
use crate::http::portal::{FormError, form_errors};
use crate::http::staff_pages::{StaffForm, StaffPage, csrf_of};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::{Error, Principal};

pub struct IncidentRow {
    pub id: String,
    pub cause: String,
    pub state: &'static str,
    pub open: bool,
    pub org: String,
    pub started_at: String,
    pub operations: String,
    pub pending: usize,
    pub overdue: usize,
    pub items: Vec<BacklogRow>,
}

/// One backlog item: a source record the fault left undone.
pub struct BacklogRow {
    pub source: String,
    pub operation: &'static str,
    pub paper_issued_on: String,
    pub due_on: String,
    pub state: &'static str,
}

#[derive(Template)]
#[template(path = "console_incidents.html")]
pub struct IncidentsPage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    pub can_manage: bool,
    pub incidents: Vec<IncidentRow>,
}

/// The incident a form names, and its request parsed by the API's parser.
fn incident_id(id: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(id).map_err(|_| Error::NotFound(format!("incident {id}")))
}

fn request_of<T: serde::de::DeserializeOwned>(request: &Value) -> Result<T, Error> {
    crate::http::json::parse(request.to_string().as_bytes())
}

/// A `datetime-local` value (China time) as RFC 3339 with its offset.
fn china_instant(local: &str) -> Value {
    if local.is_empty() {
        return Value::Null;
    }
    let with_seconds = if local.len() == 16 {
        format!("{local}:00")
    } else {
        local.to_owned()
    };
    json!(format!("{with_seconds}+08:00"))
}

async fn page(
    s: &AppState,
    c: &Principal,
    errors: Vec<FormError>,
    status: StatusCode,
) -> ApiResult<Response> {
    let op_zh = |o: &str| match o {
        "issue" => "签发",
        "update" => "变更",
        _ => "注销",
    };
    let incidents = s
        .library
        .list_incidents(c)
        .await?
        .into_iter()
        .map(|v| IncidentRow {
            id: v.incident_id.to_string(),
            cause: v.cause.clone(),
            state: if v.cleared_at.is_some() {
                "已结束"
            } else {
                "进行中"
            },
            open: v.cleared_at.is_none(),
            org: v.org.clone(),
            started_at: v
                .started_at
                .to_zoned(zhengzhao_core::china_tz())
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
            operations: v
                .operations
                .iter()
                .map(|o| op_zh(o))
                .collect::<Vec<_>>()
                .join("、"),
            pending: v.items.iter().filter(|i| i.state != "done").count(),
            overdue: v.overdue,
            items: v
                .items
                .iter()
                .map(|i| BacklogRow {
                    source: format!("{} / {}", i.source.system, i.source.record_id),
                    operation: op_zh(&i.operation),
                    paper_issued_on: i.paper_issued_on.to_string(),
                    due_on: match i.due_on {
                        Some(d) if i.provisional => format!("{d}（暂定）"),
                        Some(d) => d.to_string(),
                        None => "事件结束后计算".into(),
                    },
                    state: match i.state {
                        "done" => "已补录",
                        "overdue" => "已超期",
                        _ => "待补录",
                    },
                })
                .collect(),
        })
        .collect();
    let mut resp = render(&IncidentsPage {
        errors,
        csrf_token: csrf_of(c),
        can_manage: policy::require(c, Action::ManageIncident).is_ok(),
        incidents,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// `GET /console/incidents`
pub async fn list(State(s): State<AppState>, StaffPage(c): StaffPage) -> ApiResult<Response> {
    page(&s, &c, Vec::new(), StatusCode::OK).await
}

/// The answer to one of the page's forms: back to the list, or the page
/// with the error summary, each error linked to the input `id_of` names.
async fn answer(
    s: &AppState,
    c: &Principal,
    done: Result<(), Error>,
    id_of: impl Fn(&str) -> String,
) -> ApiResult<Response> {
    match done {
        Ok(()) => Ok(Redirect::to("/console/incidents").into_response()),
        Err(Error::Conflict(msg)) => {
            let field = id_of("");
            page(
                s,
                c,
                vec![FormError {
                    field,
                    message: msg,
                }],
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(e) => match form_errors(&e, id_of) {
            Some(errors) => page(s, c, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
            None => Err(e.into()),
        },
    }
}

/// The open form's inputs.
fn open_input(field: &str) -> String {
    match field.split('/').next().unwrap_or_default() {
        f @ ("started_at" | "operations") => f.into(),
        _ => "cause".into(),
    }
}

/// The backlog form's inputs of incident `id` (`items/0/source/system`…).
fn backlog_input(field: &str, id: &uuid::Uuid) -> String {
    let input = ["record_id", "system", "operation", "paper_issued_on"]
        .into_iter()
        .find(|name| field.ends_with(name))
        .unwrap_or("system");
    format!("{input}-{id}")
}

/// `POST /console/incidents`: open one for the caller's org.
pub async fn open(State(s): State<AppState>, StaffForm(c, form): StaffForm) -> ApiResult<Response> {
    policy::require(&c, Action::ManageIncident)?;
    let request = json!({"org": c.org.as_str(), "cause": form.get("cause"),
                         "started_at": china_instant(&form.get("started_at")), "operations": form.all("operations")});
    let done = match request_of(&request) {
        Ok(req) => s.library.open_incident(&c, req).await.map(|_| ()),
        Err(e) => Err(e),
    };
    answer(&s, &c, done, open_input).await
}

/// `POST /console/incidents/{id}/close`
pub async fn close(
    State(s): State<AppState>,
    Path(id): Path<String>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::ManageIncident)?;
    let id = incident_id(&id)?;
    let request = json!({"cleared_at": china_instant(&form.get("cleared_at"))});
    let done = match request_of(&request) {
        Ok(req) => s.library.close_incident(&c, id, req).await.map(|_| ()),
        Err(e) => Err(e),
    };
    answer(&s, &c, done, |_| format!("cleared-{id}")).await
}

/// `POST /console/incidents/{id}/backlog`: register one source record the
/// fault left undone (the API's `register_backlog`, one item).
pub async fn backlog(
    State(s): State<AppState>,
    Path(id): Path<String>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::ManageIncident)?;
    let id = incident_id(&id)?;
    let paper = form.get("paper_issued_on");
    let request = json!({"items": [{
        "source": {"system": form.get("system"), "record_id": form.get("record_id")},
        "operation": form.get("operation"),
        "paper_issued_on": if paper.is_empty() { Value::Null } else { json!(paper) },
    }]});
    let done = match request_of(&request) {
        Ok(req) => s.library.register_backlog(&c, id, req).await.map(|_| ()),
        Err(e) => Err(e),
    };
    answer(&s, &c, done, |f| backlog_input(f, &id)).await
}
