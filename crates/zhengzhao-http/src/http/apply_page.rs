//! `/apply`: a relying party applies for a scenario through the portal
//! (Art. 14): first the license it needs, then the form. The same form at
//! `/console/scenarios/file` lets a league's or banner's scenario approver
//! file a scenario it promotes. Both are the use case of
//! `POST /api/v1/scenarios` (parsed by the API's own JSON parser).

use crate::auth::ClientIp;
use crate::error::ApiResult;
use crate::http::pages::render;
use crate::http::portal::{Form, FormError, form_errors};
use crate::http::staff_pages::{StaffForm, StaffPage, csrf_of};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use zhengzhao_core::Principal;
use zhengzhao_core::policy::{self, Action};

/// Where the form posts: the public application, or a staff filing.
const PUBLIC_ACTION: &str = "/apply";
const FILING_ACTION: &str = "/console/scenarios/file";

const PARTY_KINDS: [(&str, &str); 3] = [
    ("social", "社会化用证单位（银行、物流、教育、医疗、文旅等）"),
    ("platform", "互联网平台企业"),
    ("government", "政府部门"),
];
const KINDS: [(&str, &str); 3] = [
    ("social", "社会化场景（须持证主体授权）"),
    ("government_other", "政务场景（履职需要）"),
    ("usage_list", "用证目录场景"),
];

#[derive(Template, Default)]
#[template(path = "apply.html")]
pub struct ApplyPage {
    /// `/apply` or `/console/scenarios/file`.
    pub action: &'static str,
    /// Set for a staff filing (its form carries the session's token).
    pub csrf_token: String,
    pub errors: Vec<FormError>,
    pub submitted: Option<String>,
    pub code: String,
    pub types: Vec<(String, String)>,
    pub type_code: String,
    pub type_name: String,
    pub fields: Vec<(String, String, bool)>,
    pub party_name: String,
    pub party_code: String,
    pub party_kinds: Vec<(&'static str, &'static str, bool)>,
    pub kinds: Vec<(&'static str, &'static str, bool)>,
    pub name: String,
    pub purpose: String,
    pub legal_basis: String,
    pub volume: String,
    pub valid_from: String,
    pub valid_until: String,
    pub contact_name: String,
    pub contact_phone: String,
}

#[derive(Deserialize)]
pub struct ApplyQuery {
    pub type_code: Option<String>,
}

fn input_of(field: &str) -> String {
    match field {
        "relying_party/name" => "party_name".into(),
        "relying_party/credit_code" => "party_code".into(),
        "relying_party/kind" => "party_kind".into(),
        "contact/name" => "contact_name".into(),
        "contact/phone" => "contact_phone".into(),
        f if f.starts_with("grants") => "fields".into(),
        "kind"
        | "name"
        | "purpose"
        | "legal_basis"
        | "expected_daily_volume"
        | "valid_from"
        | "valid_until" => field.into(),
        _ => "party_name".into(),
    }
}

async fn complete(
    s: &AppState,
    mut page: ApplyPage,
    chosen: &[String],
    party_kind: &str,
    kind: &str,
) -> ApiResult<ApplyPage> {
    let types = s.library.catalog(false).await?;
    page.types = types
        .iter()
        .map(|t| (t.spec.draft().code.to_string(), t.spec.draft().name.clone()))
        .collect();
    if let Some(t) = types
        .iter()
        .find(|t| t.spec.draft().code.as_str() == page.type_code)
    {
        page.type_name = t.spec.draft().name.clone();
        page.fields = t
            .spec
            .draft()
            .face_fields
            .iter()
            .map(|f| (f.name.clone(), f.label.clone(), chosen.contains(&f.name)))
            .collect();
    }
    page.party_kinds = PARTY_KINDS
        .iter()
        .map(|&(v, l)| (v, l, v == party_kind))
        .collect();
    page.kinds = KINDS.iter().map(|&(v, l)| (v, l, v == kind)).collect();
    Ok(page)
}

/// `GET /apply`
pub async fn form(State(s): State<AppState>, Query(q): Query<ApplyQuery>) -> ApiResult<Response> {
    let page = ApplyPage {
        action: PUBLIC_ACTION,
        type_code: q.type_code.unwrap_or_default(),
        ..ApplyPage::default()
    };
    render(&complete(&s, page, &[], "", "").await?)
}

/// `POST /apply`
pub async fn submit(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    body: Bytes,
) -> ApiResult<Response> {
    submit_as(&s, None, ip, &Form::parse(&body)).await
}

/// `GET /console/scenarios/file`: the form for a league's or banner's
/// scenario approver.
pub async fn filing_form(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Query(q): Query<ApplyQuery>,
) -> ApiResult<Response> {
    policy::require(&c, Action::FileScenario)?;
    let page = ApplyPage {
        action: FILING_ACTION,
        csrf_token: csrf_of(&c),
        type_code: q.type_code.unwrap_or_default(),
        ..ApplyPage::default()
    };
    render(&complete(&s, page, &[], "", "").await?)
}

/// `POST /console/scenarios/file`
pub async fn filing_submit(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::FileScenario)?;
    submit_as(&s, Some(&c), ip, &form).await
}

/// The application in `form`, made by the public (`by` none) or filed by
/// a staff member.
async fn submit_as(
    s: &AppState,
    by: Option<&Principal>,
    ip: Option<String>,
    form: &Form,
) -> ApiResult<Response> {
    let (action, csrf_token) = match by {
        Some(c) => (FILING_ACTION, csrf_of(c)),
        None => (PUBLIC_ACTION, String::new()),
    };
    let get = |k: &str| form.get(k);
    let fields = form.all("fields");
    let volume = get("expected_daily_volume");
    let application = json!({
        "relying_party": {"name": get("party_name"), "credit_code": get("party_code"), "kind": get("party_kind")},
        "kind": get("kind"), "name": get("name"), "purpose": get("purpose"), "legal_basis": get("legal_basis"),
        "grants": [{"type_code": get("type_code"), "fields": fields}],
        "expected_daily_volume": volume.parse::<u64>().map_or(json!(volume), |n| json!(n)),
        "valid_from": get("valid_from"), "valid_until": get("valid_until"),
        "contact": {"name": get("contact_name"), "phone": get("contact_phone")},
    });
    let outcome = match crate::http::json::parse(application.to_string().as_bytes()) {
        Ok(app) => s.library.apply_for_scenario(by, ip, app).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(done) => {
            let mut resp = render(&ApplyPage {
                action,
                csrf_token,
                submitted: Some(done.scenario_id.to_string()),
                code: done.tracking_code.unwrap_or_default(),
                ..ApplyPage::default()
            })?;
            *resp.status_mut() = StatusCode::CREATED;
            Ok(resp)
        }
        Err(e) => {
            let Some(errors) = form_errors(&e, input_of) else {
                return Err(e.into());
            };
            let page = ApplyPage {
                action,
                csrf_token,
                errors,
                type_code: get("type_code"),
                party_name: get("party_name"),
                party_code: get("party_code"),
                name: get("name"),
                purpose: get("purpose"),
                legal_basis: get("legal_basis"),
                volume,
                valid_from: get("valid_from"),
                valid_until: get("valid_until"),
                contact_name: get("contact_name"),
                contact_phone: get("contact_phone"),
                ..ApplyPage::default()
            };
            let mut resp =
                render(&complete(s, page, &fields, &get("party_kind"), &get("kind")).await?)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}
