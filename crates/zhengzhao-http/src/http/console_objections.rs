//! The console's objection pages: the handlers' list (overdue marked) and
//! one objection with the steps its state allows, each a form calling the
//! same use case as `POST /api/v1/objections/{ticket}/{step}`.

use crate::error::ApiResult;
use crate::http::pages::render;
use crate::http::portal::{FormError, form_errors};
use crate::http::staff_pages::{StaffForm, StaffPage, csrf_of};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;
use zhengzhao_core::objections::{ObjectionFilter, ObjectionView};
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::{Error, Principal};

pub struct Row {
    pub ticket: String,
    pub state: &'static str,
    pub kind: &'static str,
    pub channel: String,
    pub due: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "console_objections.html")]
pub struct ListPage {
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "console_objection.html")]
pub struct ObjectionPage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    pub ticket: String,
    pub state: &'static str,
    pub due: String,
    pub overdue: bool,
    pub license_id: String,
    pub national: bool,
    pub kind: &'static str,
    pub fields: String,
    pub applicant: String,
    pub statement: String,
    pub channel: String,
    pub attachments: Vec<(i32, String)>,
    pub finding: Option<String>,
    pub answer: Option<String>,
    pub history: Vec<(&'static str, String)>,
    pub steps: Vec<&'static str>,
}

pub(crate) fn state_zh(s: &str) -> &'static str {
    match s {
        "submitted" => "待受理",
        "accepted" => "已受理",
        "refused" => "不予受理",
        "investigating" => "核查中",
        "corrected" => "已更正",
        "kept" => "维持原登记",
        "undetermined" => "暂无法认定",
        "answered" => "已答复",
        "archived" => "已归档",
        _ => "—",
    }
}

fn kind_zh(s: &str) -> &'static str {
    match s {
        "accuracy" => "信息不准确",
        "completeness" => "信息不完整",
        "timeliness" => "信息未及时更新",
        _ => "—",
    }
}

/// A form's fields as the API's request, parsed by the API's parser.
fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, Error> {
    crate::http::json::parse(v.to_string().as_bytes())
}

fn due(v: &ObjectionView) -> String {
    v.due_on.map_or_else(|| "—".into(), |d| d.to_string())
}

/// `GET /console/objections`
pub async fn list(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Query(f): Query<ObjectionFilter>,
) -> ApiResult<Response> {
    let rows = s
        .library
        .list_objections(&c, &f)
        .await?
        .iter()
        .map(|v| Row {
            ticket: v.ticket.clone(),
            state: state_zh(&v.state),
            kind: kind_zh(&v.kind),
            channel: v.channel.clone(),
            due: due(v),
            overdue: v.overdue,
        })
        .collect();
    render(&ListPage { rows })
}

/// The steps a handler may take from `state` (`route`: local or national).
fn steps_from(state: &str, national: bool) -> Vec<&'static str> {
    match (state, national) {
        ("submitted", true) => vec!["answer"],
        ("submitted", false) => vec!["accept", "refuse"],
        ("accepted", _) => vec!["investigate", "decide"],
        ("investigating", _) => vec!["decide"],
        ("corrected" | "kept" | "undetermined" | "refused", _) => vec!["answer"],
        ("answered", _) => vec!["archive"],
        _ => Vec::new(),
    }
}

async fn page(
    s: &AppState,
    c: &Principal,
    ticket: &str,
    errors: Vec<FormError>,
) -> ApiResult<Response> {
    let v = s.library.read_objection(c, ticket).await?;
    let national = v.route == "national";
    let may_handle = policy::require(c, Action::HandleObjection).is_ok();
    let resp = render(&ObjectionPage {
        csrf_token: csrf_of(c),
        ticket: v.ticket.clone(),
        state: state_zh(&v.state),
        due: due(&v),
        overdue: v.overdue,
        license_id: v.license_id.clone(),
        national,
        kind: kind_zh(&v.kind),
        fields: v.fields.join("、"),
        applicant: format!("{}（{}）", v.applicant.name, v.applicant.phone),
        statement: v.statement.clone(),
        channel: v.channel.clone(),
        attachments: v
            .attachments
            .iter()
            .map(|a| (a.n, a.name.clone()))
            .collect(),
        finding: v.finding.clone(),
        answer: v.answer.clone(),
        history: v
            .history
            .iter()
            .map(|h| {
                (
                    state_zh(&h.state),
                    h.at.to_zoned(zhengzhao_core::china_tz())
                        .strftime("%Y-%m-%d %H:%M")
                        .to_string(),
                )
            })
            .collect(),
        steps: if may_handle {
            steps_from(&v.state, national)
        } else {
            Vec::new()
        },
        errors,
    })?;
    Ok(resp)
}

/// `GET /console/objections/{ticket}`
pub async fn get(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Path(ticket): Path<String>,
) -> ApiResult<Response> {
    page(&s, &c, &ticket, Vec::new()).await
}

/// `POST /console/objections/{ticket}/{step}`
pub async fn step(
    State(s): State<AppState>,
    Path((ticket, step)): Path<(String, String)>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    let get = |k: &str| form.get(k);
    policy::require(&c, Action::HandleObjection)?;
    let l = &s.library;
    let done = match step.as_str() {
        "accept" => l.accept_objection(&c, &ticket).await,
        "investigate" => l.investigate_objection(&c, &ticket).await,
        "archive" => l.archive_objection(&c, &ticket).await,
        "refuse" => match parse(json!({"reason": get("reason")})) {
            Ok(req) => l.refuse_objection(&c, &ticket, req).await,
            Err(e) => Err(e),
        },
        "answer" => match parse(json!({"text": get("text")})) {
            Ok(req) => l.answer_objection(&c, &ticket, req).await,
            Err(e) => Err(e),
        },
        "decide" => {
            let id = get("license_id");
            match parse(json!({"outcome": get("outcome"), "finding": get("finding"),
                               "license_id": if id.is_empty() { serde_json::Value::Null } else { json!(id) }}))
            {
                Ok(req) => l.decide_objection(&c, &ticket, req).await,
                Err(e) => Err(e),
            }
        }
        _ => return Err(Error::NotFound(format!("objection step {step}")).into()),
    };
    match done {
        Ok(_) => Ok(Redirect::to(&format!("/console/objections/{ticket}")).into_response()),
        Err(e) => {
            let errors = match &e {
                Error::Conflict(msg) => vec![FormError {
                    field: "state".into(),
                    message: msg.clone(),
                }],
                _ => match form_errors(&e, |f| match f {
                    "reason" | "text" | "finding" | "outcome" | "license_id" => f.into(),
                    _ => "state".into(),
                }) {
                    Some(errors) => errors,
                    None => return Err(e.into()),
                },
            };
            let mut resp = page(&s, &c, &ticket, errors).await?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}
