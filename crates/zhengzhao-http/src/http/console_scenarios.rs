//! The console's scenario page: the applications and filings the caller
//! may see, and for the region's scenario approver the decisions each
//! state allows (the same use case as `POST /api/v1/scenarios/{id}/decision`).

use crate::error::ApiResult;
use crate::http::pages::render;
use crate::http::portal::{FormError, form_errors};
use crate::http::staff_pages::{StaffForm, StaffPage, csrf_of};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::{Error, Principal};
use zhengzhao_domain::scenario::{Decision, ScenarioState};

pub struct Row {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub party: String,
    pub kind: &'static str,
    pub purpose: String,
    pub legal_basis: String,
    pub grants: String,
    pub period: String,
    pub source: String,
    pub decisions: Vec<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "console_scenarios.html")]
pub struct ScenariosPage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    /// A league's or banner's scenario approver may file one.
    pub can_file: bool,
    pub rows: Vec<Row>,
}

fn state_zh(s: ScenarioState) -> &'static str {
    match s {
        ScenarioState::Submitted => "待审核",
        ScenarioState::Approved => "已批准",
        ScenarioState::Rejected => "未批准",
        ScenarioState::Suspended => "已暂停",
        ScenarioState::Revoked => "已撤销",
        ScenarioState::Expired => "已到期",
    }
}

fn decisions(s: ScenarioState) -> Vec<(&'static str, &'static str)> {
    match s {
        ScenarioState::Submitted => vec![("approve", "批准"), ("reject", "不予批准")],
        ScenarioState::Approved => vec![("suspend", "暂停"), ("revoke", "撤销")],
        ScenarioState::Suspended => vec![("resume", "恢复"), ("revoke", "撤销")],
        _ => Vec::new(),
    }
}

async fn page(s: &AppState, c: &Principal, errors: Vec<FormError>) -> ApiResult<Response> {
    let may_decide = policy::require(c, Action::DecideScenario).is_ok();
    let rows = s
        .library
        .scenario_list(c)
        .await?
        .into_iter()
        .rev()
        .map(|v| Row {
            id: v.id.to_string(),
            name: v.name.clone(),
            state: state_zh(v.state),
            party: format!(
                "{}（{}）",
                v.relying_party.name, v.relying_party.credit_code
            ),
            kind: match v.kind.as_str() {
                "social" => "社会化场景（须持证主体授权）",
                "usage_list" => "用证目录场景",
                _ => "政务场景",
            },
            purpose: v.purpose.clone(),
            legal_basis: v.legal_basis.clone(),
            grants: v
                .grants
                .iter()
                .map(|g| format!("{}：{}", g.type_code, g.fields.join("、")))
                .collect::<Vec<_>>()
                .join("；"),
            period: format!("{} 至 {}", v.valid_from, v.valid_until),
            source: v
                .filed_by
                .as_ref()
                .map_or_else(|| "门户申请".to_owned(), |o| format!("{o} 备案")),
            decisions: if may_decide {
                decisions(v.state)
            } else {
                Vec::new()
            },
        })
        .collect();
    render(&ScenariosPage {
        errors,
        csrf_token: csrf_of(c),
        can_file: policy::require(c, Action::FileScenario).is_ok(),
        rows,
    })
}

/// `GET /console/scenarios`
pub async fn list(State(s): State<AppState>, StaffPage(c): StaffPage) -> ApiResult<Response> {
    page(&s, &c, Vec::new()).await
}

/// `POST /console/scenarios/{id}/decision`
pub async fn decide(
    State(s): State<AppState>,
    Path(id): Path<String>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    let get = |k: &str| form.get(k);
    policy::require(&c, Action::DecideScenario)?;
    let sid = uuid::Uuid::parse_str(&id).map_err(|_| Error::NotFound(format!("scenario {id}")))?;
    let outcome = match Decision::parse(&get("decision")) {
        Some(d) => s.library.decide_scenario(&c, sid, d, &get("reason")).await,
        None => Err(Error::field(
            "decision",
            "decision",
            "choose a decision",
            "请选择决定",
        )),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to("/console/scenarios").into_response()),
        Err(e) => {
            let errors = match &e {
                Error::Conflict(msg) => vec![FormError {
                    field: format!("decision-{id}"),
                    message: msg.clone(),
                }],
                _ => match form_errors(&e, |f| match f {
                    "reason" => format!("reason-{id}"),
                    _ => format!("decision-{id}"),
                }) {
                    Some(errors) => errors,
                    None => return Err(e.into()),
                },
            };
            let mut resp = page(&s, &c, errors).await?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}
