//! The staff console (after `/login`): the dashboard of the user's org,
//! the issue form generated from the catalog version's face fields, and a
//! license's page with its versions, a field-by-field diff between them,
//! and the update and revoke forms. Every form calls the same use case as
//! the API (`issue_license`, `update_license`, `revoke_license`), parsed
//! by the API's own JSON parser, so rules and messages are the API's.

use crate::error::ApiResult;
use crate::http::charts::{self, Series};
use crate::http::pages::render;
use crate::http::portal::Form;
use crate::http::portal::{FormError, form_errors};
use crate::http::staff_pages::{StaffForm, StaffPage, csrf_of};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use zhengzhao_core::check_counts::CheckWay;
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::{Error, Principal};
use zhengzhao_domain::catalog::{FaceField, FieldType, LicenseTypeVersion};

#[derive(Template)]
#[template(path = "console.html")]
pub struct ConsolePage {
    pub who: String,
    pub org: String,
    pub roles: String,
    pub csrf_token: String,
    pub can_issue: bool,
    pub can_audit: bool,
    pub can_manage_staff: bool,
    pub can_edit_catalog: bool,
    pub now: String,
    pub issued: Option<(i64, i64)>,
    pub objections: Option<(usize, usize)>,
    pub backlog: Option<(usize, usize)>,
    pub incidents_open: Option<usize>,
    pub scenarios_waiting: Option<usize>,
    pub outbox: Vec<(String, u64, u64, i64)>,
    /// The issuance chart (SVG drawn here) and its data as a table.
    pub chart: String,
    /// (month, total, per org)
    pub chart_rows: Vec<(String, i64, String)>,
    /// The verification volume chart and its table: (day, total, per way).
    pub checks_chart: String,
    pub checks_rows: Vec<(String, i64, String)>,
    /// The outbox age chart (destinations with a backlog).
    pub outbox_chart: String,
}

/// Licenses per month, stacked by the orgs below the caller's.
fn issuance_chart(months: &[zhengzhao_core::console::MonthIssuance]) -> String {
    let mut orgs: Vec<String> = Vec::new();
    for (name, _) in months.iter().flat_map(|m| &m.by_org) {
        if !orgs.contains(name) {
            orgs.push(name.clone());
        }
    }
    let series: Vec<Series> = orgs
        .into_iter()
        .map(|name| Series {
            values: months
                .iter()
                .map(|m| {
                    m.by_org
                        .iter()
                        .filter(|(n, _)| *n == name)
                        .map(|(_, v)| v)
                        .sum()
                })
                .collect(),
            name,
        })
        .collect();
    let months: Vec<String> = months.iter().map(|m| m.month.clone()).collect();
    charts::stacked_bars(
        "issuance-chart",
        "近十二个月每月签发证照数量（按下一级单位）",
        "堆积柱形图，每月一根柱，按下一级单位分色，柱上标明合计；数据见下表。",
        &months,
        &series,
    )
}

/// Checks per day, stacked by the way they came in.
fn checks_chart(days: &[zhengzhao_core::check_counts::DayChecks]) -> String {
    let series: Vec<Series> = CheckWay::ALL
        .into_iter()
        .map(|w| Series {
            name: w.label_zh().into(),
            values: days
                .iter()
                .map(|d| {
                    d.by_way
                        .iter()
                        .filter(|(x, _)| *x == w)
                        .map(|(_, n)| n)
                        .sum()
                })
                .collect(),
        })
        .collect();
    let labels: Vec<String> = days.iter().map(|d| d.day.clone()).collect();
    charts::stacked_bars(
        "checks-chart",
        "近三十天每日核验证照次数（全区）",
        "堆积柱形图，每天一根柱，按核验方式分色，柱上标明合计；数据见下表。",
        &labels,
        &series,
    )
}

/// One face field in a form.
pub struct FieldInput {
    pub name: String,
    pub label: String,
    pub required: bool,
    pub values: Vec<String>,
    pub long: bool,
    pub date: bool,
    pub value: String,
}

#[derive(Template, Default)]
#[template(path = "console_issue.html")]
pub struct IssuePage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    pub types: Vec<(String, String)>,
    pub type_code: String,
    pub type_name: String,
    pub issuer: String,
    pub holder_name: String,
    pub holder_id_type: String,
    pub holder_id: String,
    pub fields: Vec<FieldInput>,
    pub valid_from: String,
    pub valid_until: String,
}

pub struct HistoryRow {
    pub version: u16,
    pub issued_at: String,
    pub reason: String,
    /// (label, before, after) of each field that changed.
    pub changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "console_license.html")]
pub struct LicensePage {
    pub errors: Vec<FormError>,
    pub notice: Option<String>,
    pub csrf_token: String,
    pub type_name: String,
    pub license_id: String,
    pub version: u16,
    pub status: &'static str,
    pub holder: String,
    pub validity: String,
    pub face: Vec<(String, String)>,
    pub history: Vec<HistoryRow>,
    pub can_change: bool,
    pub fields: Vec<FieldInput>,
}

fn status_zh(status: &str) -> &'static str {
    match status {
        "valid" => "有效",
        "superseded" => "已被新版本替代",
        "revoked" => "已注销",
        "expired" => "已过期",
        "not_yet_valid" => "尚未生效",
        _ => "未知",
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn field_inputs(t: &LicenseTypeVersion, face: &Value) -> Vec<FieldInput> {
    t.spec
        .draft()
        .face_fields
        .iter()
        .map(|f: &FaceField| FieldInput {
            name: f.name.clone(),
            label: f.label.clone(),
            required: f.required,
            values: f.values.clone(),
            long: f.field_type == FieldType::LongText,
            date: f.field_type == FieldType::Date,
            value: face.get(&f.name).map(text_of).unwrap_or_default(),
        })
        .collect()
}

/// A form's `face.<name>` fields as the face object (empty ones left out).
fn face_of(form: &Form) -> Map<String, Value> {
    form.pairs()
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("face.")?;
            let v = v.trim();
            (!v.is_empty()).then(|| (name.to_owned(), Value::String(v.to_owned())))
        })
        .collect()
}

/// Which input an error of the issue or update request belongs to.
fn input_of(field: &str) -> String {
    if let Some(name) = field.strip_prefix("face/") {
        return format!("face-{}", name.split('/').next().unwrap_or(name));
    }
    match field {
        "holder/name" | "holder_name" => "holder_name".into(),
        "holder/id" => "holder_id".into(),
        "holder/id_type" => "holder_id_type".into(),
        "valid_from" | "valid_until" => field.into(),
        "reason/text" | "reason" => "reason_text".into(),
        "reason/objection" => "objection".into(),
        "reason/kind" => "reason_kind".into(),
        _ => "main".into(),
    }
}

/// `GET /console`
pub async fn dashboard(State(s): State<AppState>, StaffPage(c): StaffPage) -> ApiResult<Response> {
    let d = s.library.dashboard(&c).await?;
    let who = c
        .session
        .as_ref()
        .map(|s| s.display_name.clone())
        .unwrap_or_default();
    render(&ConsolePage {
        who,
        org: c.org.to_string(),
        roles: c
            .roles
            .iter()
            .map(|r| r.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
        csrf_token: csrf_of(&c),
        can_issue: policy::require(&c, Action::IssueLicense).is_ok(),
        can_audit: policy::require(&c, Action::ReadAudit).is_ok(),
        can_manage_staff: policy::require(&c, Action::ManageStaff).is_ok(),
        can_edit_catalog: zhengzhao_core::Library::authorize_catalog_edit(&c).is_ok(),
        now: s
            .library
            .now()
            .to_zoned(zhengzhao_core::china_tz())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        issued: d.issued,
        objections: d.objections,
        backlog: d.backlog,
        incidents_open: d.incidents_open,
        scenarios_waiting: d.scenarios_waiting,
        outbox_chart: match &d.outbox {
            Some(rows) if !rows.is_empty() => charts::horizontal_bars(
                "outbox-chart",
                "各推送目标最早待推送消息已等待的时间（分钟）",
                "横向条形图，每个推送目标一行，条长为最早一条待推送消息已等待的分钟数；数据见下表。",
                &rows
                    .iter()
                    .map(|(dest, _, _, age)| (dest.clone(), *age))
                    .collect::<Vec<_>>(),
                " 分钟",
            ),
            _ => String::new(),
        },
        outbox: d.outbox.unwrap_or_default(),
        checks_chart: checks_chart(&d.checks),
        checks_rows: d
            .checks
            .iter()
            .rev()
            .filter(|c| c.total > 0)
            .map(|c| {
                let ways = c
                    .by_way
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(w, n)| format!("{} {n}", w.label_zh()))
                    .collect::<Vec<_>>()
                    .join("、");
                (c.day.clone(), c.total, ways)
            })
            .collect(),
        chart: d
            .issuance
            .as_deref()
            .map(issuance_chart)
            .unwrap_or_default(),
        chart_rows: d
            .issuance
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let (month, total) = (m.month, m.total);
                let by_org = m
                    .by_org
                    .iter()
                    .map(|(name, n)| format!("{name} {n}"))
                    .collect::<Vec<_>>()
                    .join("、");
                (month, total, by_org)
            })
            .collect(),
    })
}

#[derive(Deserialize)]
pub struct NewQuery {
    pub type_code: Option<String>,
}

async fn issue_page(s: &AppState, c: &Principal, mut page: IssuePage) -> ApiResult<IssuePage> {
    page.csrf_token = csrf_of(c);
    page.issuer = c.org.to_string();
    let types = s.library.catalog(true).await?;
    page.types = types
        .iter()
        .map(|t| (t.spec.draft().code.to_string(), t.spec.draft().name.clone()))
        .collect();
    if let Some(t) = types
        .iter()
        .find(|t| t.spec.draft().code.as_str() == page.type_code)
    {
        page.type_name = t.spec.draft().name.clone();
        let face: Value = Value::Object(
            page.fields
                .iter()
                .map(|f| (f.name.clone(), Value::String(f.value.clone())))
                .collect(),
        );
        page.fields = field_inputs(t, &face);
    } else {
        page.fields = Vec::new();
    }
    if page.holder_id_type.is_empty() {
        page.holder_id_type = "uscc".into();
    }
    Ok(page)
}

/// `GET /console/licenses/new`
pub async fn issue_form(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Query(q): Query<NewQuery>,
) -> ApiResult<Response> {
    policy::require(&c, Action::IssueLicense)?;
    let page = IssuePage {
        type_code: q.type_code.unwrap_or_default(),
        ..IssuePage::default()
    };
    render(&issue_page(&s, &c, page).await?)
}

/// `POST /console/licenses/new`
pub async fn issue_submit(
    State(s): State<AppState>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::IssueLicense)?;
    let face = face_of(&form);
    let until = form.get("valid_until");
    let request = json!({
        "type_code": form.get("type_code"),
        "issuer": c.org.as_str(),
        "holder": {"name": form.get("holder_name"), "id_type": form.get("holder_id_type"), "id": form.get("holder_id")},
        "face": face,
        "valid_from": form.get("valid_from"),
        "valid_until": if until.is_empty() { Value::Null } else { Value::String(until.to_owned()) },
        // A license issued at the console is its own source record.
        "source": {"system": "console", "record_id": uuid::Uuid::now_v7().to_string()},
    });
    let outcome = match crate::http::json::parse(request.to_string().as_bytes()) {
        Ok(req) => s.library.issue_license(&c, req).await.map(|(l, _)| l),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(l) => {
            let id = l
                .current()
                .map(|v| v.license_id.to_string())
                .unwrap_or_default();
            Ok(Redirect::to(&format!("/console/licenses/{id}?issued=1")).into_response())
        }
        Err(e) => {
            let Some(errors) = form_errors(&e, input_of) else {
                return Err(e.into());
            };
            let page = IssuePage {
                errors,
                type_code: form.get("type_code"),
                holder_name: form.get("holder_name"),
                holder_id_type: form.get("holder_id_type"),
                holder_id: form.get("holder_id"),
                fields: face
                    .iter()
                    .map(|(k, v)| FieldInput {
                        name: k.clone(),
                        label: String::new(),
                        required: false,
                        values: Vec::new(),
                        long: false,
                        date: false,
                        value: text_of(v),
                    })
                    .collect(),
                valid_from: form.get("valid_from"),
                valid_until: until.to_owned(),
                ..IssuePage::default()
            };
            let mut resp = render(&issue_page(&s, &c, page).await?)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}

#[derive(Deserialize)]
pub struct LicenseQuery {
    pub issued: Option<String>,
    pub updated: Option<String>,
    pub revoked: Option<String>,
}

async fn license_page(
    s: &AppState,
    c: &Principal,
    id: &str,
    errors: Vec<FormError>,
    notice: Option<String>,
) -> ApiResult<LicensePage> {
    let view = s.library.read_license(c, id).await?;
    let history = s.library.license_history(c, id).await?;
    let t = s
        .library
        .catalog(true)
        .await?
        .into_iter()
        .find(|t| t.spec.draft().code == view.type_code);
    let label = |name: &str| {
        t.as_ref()
            .and_then(|t| t.spec.draft().face_fields.iter().find(|f| f.name == name))
            .map_or_else(|| name.to_owned(), |f| f.label.clone())
    };
    let face: Vec<(String, String)> = view
        .face
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (label(k), text_of(v))).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    let mut before: Option<&Value> = None;
    for v in &history.versions {
        let changes = match before {
            None => Vec::new(),
            Some(b) => {
                let (b, a) = (b.as_object(), v.face.as_object());
                let mut names: Vec<&String> =
                    b.into_iter().chain(a).flat_map(|m| m.keys()).collect();
                names.sort();
                names.dedup();
                names
                    .into_iter()
                    .filter_map(|n| {
                        let old = b.and_then(|m| m.get(n)).map(text_of).unwrap_or_default();
                        let new = a.and_then(|m| m.get(n)).map(text_of).unwrap_or_default();
                        (old != new).then(|| (label(n), old, new))
                    })
                    .collect()
            }
        };
        let summary = view.versions.iter().find(|x| x.version == v.version);
        let reason = summary
            .and_then(|x| x.reason.as_ref())
            .map(|r| {
                let mut text = format!("{}：{}", r.kind.zh(), r.text);
                if let Some(o) = &r.objection {
                    text.push_str(&format!("（异议 {o}）"));
                }
                text
            })
            .unwrap_or_else(|| "首次签发".into());
        rows.push(HistoryRow {
            version: v.version,
            issued_at: v
                .issued_at
                .to_zoned(zhengzhao_core::china_tz())
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
            reason,
            changes,
        });
        before = Some(&v.face);
    }
    let current = view.status != "superseded" && view.status != "revoked";
    Ok(LicensePage {
        errors,
        notice,
        csrf_token: csrf_of(c),
        type_name: view.type_name.clone(),
        license_id: view.current_license_id.to_string(),
        version: view.current_version,
        status: status_zh(view.status),
        holder: view.holder.name.clone(),
        validity: match view.valid_until {
            Some(u) => format!("{} 至 {}", view.valid_from, u),
            None => format!("{} 起长期有效", view.valid_from),
        },
        face,
        history: rows,
        can_change: current && policy::require(c, Action::ChangeLicense).is_ok(),
        fields: t
            .as_ref()
            .map(|t| field_inputs(t, &view.face))
            .unwrap_or_default(),
    })
}

/// `GET /console/licenses/{id}`
pub async fn license(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Path(id): Path<String>,
    Query(q): Query<LicenseQuery>,
) -> ApiResult<Response> {
    let notice = if q.issued.is_some() {
        Some("证照已签发，电子证照标识：".to_owned())
    } else if q.updated.is_some() {
        Some("新版本已签发，电子证照标识：".to_owned())
    } else if q.revoked.is_some() {
        Some("证照已注销：".to_owned())
    } else {
        None
    };
    render(&license_page(&s, &c, &id, Vec::new(), notice).await?)
}

/// `POST /console/licenses/{id}/update`
pub async fn update_submit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::ChangeLicense)?;
    let view = s.library.read_license(&c, &id).await?;
    let objection = form.get("objection");
    let request = json!({
        "face": face_of(&form),
        "valid_from": view.valid_from.to_string(),
        "valid_until": view.valid_until.map(|d| d.to_string()),
        "reason": {"kind": form.get("reason_kind"), "text": form.get("reason_text"),
                   "objection": if objection.is_empty() { Value::Null } else { Value::String(objection.to_owned()) }},
    });
    let outcome = match crate::http::json::parse(request.to_string().as_bytes()) {
        Ok(req) => s.library.update_license(&c, &id, req).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(l) => {
            let new = l
                .current()
                .map(|v| v.license_id.to_string())
                .unwrap_or_default();
            Ok(Redirect::to(&format!("/console/licenses/{new}?updated=1")).into_response())
        }
        Err(e) => {
            let Some(errors) = form_errors(&e, input_of) else {
                return Err(e.into());
            };
            let mut resp = render(&license_page(&s, &c, &id, errors, None).await?)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}

/// `POST /console/licenses/{id}/revoke`
pub async fn revoke_submit(
    State(s): State<AppState>,
    Path(id): Path<String>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::RevokeLicense)?;
    let request = json!({"reason": form.get("reason")});
    let outcome = match crate::http::json::parse(request.to_string().as_bytes()) {
        Ok(req) => s.library.revoke_license(&c, &id, req).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/console/licenses/{id}?revoked=1")).into_response()),
        Err(e) => {
            let Some(errors) = form_errors(&e, |f| {
                if f == "reason" {
                    "revoke_reason".into()
                } else {
                    input_of(f)
                }
            }) else {
                return Err(e.into());
            };
            let mut resp = render(&license_page(&s, &c, &id, errors, None).await?)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}

#[derive(Template)]
#[template(path = "console_licenses.html")]
pub struct LicensesPage {
    pub errors: Vec<FormError>,
    pub holder: String,
    pub types: Vec<(String, String, bool)>,
    /// (identifier, type, holder, status, issued)
    pub rows: Vec<(String, String, String, &'static str, String)>,
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    pub holder: Option<String>,
    pub type_code: Option<String>,
    pub cursor: Option<String>,
}

/// `GET /console/licenses`: the org subtree's licenses, newest first, by
/// holder and type, a page at a time (keyset: the next page starts after
/// the last license shown).
pub async fn licenses(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Response> {
    let holder = q.holder.unwrap_or_default().trim().to_owned();
    let type_code = q.type_code.unwrap_or_default();
    let search = zhengzhao_core::license_reads::LicenseSearch {
        holder: (!holder.is_empty()).then(|| holder.clone()),
        type_code: (!type_code.is_empty()).then(|| type_code.clone()),
        cursor: q.cursor,
        limit: Some(20),
    };
    let types: Vec<(String, String, bool)> = s
        .library
        .catalog(true)
        .await?
        .iter()
        .map(|t| {
            let code = t.spec.draft().code.to_string();
            let on = code == type_code;
            (code, t.spec.draft().name.clone(), on)
        })
        .collect();
    let (errors, rows, next) = match s.library.list_licenses(&c, &search).await {
        Ok(page) => {
            let rows = page
                .items
                .iter()
                .map(|v| {
                    (
                        v.current_license_id.to_string(),
                        v.type_name.clone(),
                        v.holder.name.clone(),
                        status_zh(v.status),
                        v.issued_at
                            .to_zoned(zhengzhao_core::china_tz())
                            .strftime("%Y-%m-%d %H:%M")
                            .to_string(),
                    )
                })
                .collect();
            let next = page.next_cursor.map(|cursor| {
                let mut url = form_urlencoded::Serializer::new(String::from("/console/licenses?"));
                url.append_pair("holder", &holder)
                    .append_pair("type_code", &type_code)
                    .append_pair("cursor", &cursor);
                url.finish()
            });
            (Vec::new(), rows, next)
        }
        Err(e) => match form_errors(&e, |f| match f {
            "type" | "type_code" => "type_code".into(),
            _ => "holder".into(),
        }) {
            Some(errors) => (errors, Vec::new(), None),
            None => return Err(e.into()),
        },
    };
    render(&LicensesPage {
        errors,
        holder,
        types,
        rows,
        next,
    })
}

pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub target: String,
    pub actor: String,
    pub outcome: String,
}

#[derive(Template)]
#[template(path = "console_audit.html")]
pub struct AuditPage {
    pub errors: Vec<FormError>,
    pub license: String,
    pub action: String,
    pub rows: Vec<AuditRow>,
    pub next: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    pub license: Option<String>,
    pub action: Option<String>,
    pub after: Option<i64>,
}

/// `GET /console/audit`: the audit log of the org subtree, by license and
/// action, a page at a time, each event with a link to its inclusion proof.
pub async fn audit(
    State(s): State<AppState>,
    StaffPage(c): StaffPage,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    policy::require(&c, Action::ReadAudit)?;
    let license = q.license.unwrap_or_default().trim().to_owned();
    let action = q.action.unwrap_or_default().trim().to_owned();
    let search = zhengzhao_core::audit_search::EventSearch {
        license: (!license.is_empty()).then(|| license.clone()),
        action: (!action.is_empty()).then(|| action.clone()),
        after: q.after,
        limit: Some(50),
        ..Default::default()
    };
    let (errors, rows, next) = match s.library.search_audit_events(&c, &search).await {
        Ok(page) => {
            let rows = page
                .items
                .into_iter()
                .map(|r| AuditRow {
                    seq: r.seq,
                    at: r
                        .event
                        .at
                        .to_zoned(zhengzhao_core::china_tz())
                        .strftime("%Y-%m-%d %H:%M:%S")
                        .to_string(),
                    action: r.event.action,
                    target: r.event.target,
                    actor: r.event.actor,
                    outcome: r.event.outcome,
                })
                .collect();
            let next = page.next_after.map(|after| {
                let mut url = form_urlencoded::Serializer::new(String::from("/console/audit?"));
                url.append_pair("license", &license)
                    .append_pair("action", &action)
                    .append_pair("after", &after.to_string());
                url.finish()
            });
            (Vec::new(), rows, next)
        }
        Err(e) => match form_errors(&e, |f| {
            if f == "action" {
                "action".into()
            } else {
                "license".into()
            }
        }) {
            Some(errors) => (errors, Vec::new(), None),
            None => match e {
                Error::NotFound(_) => (
                    vec![FormError {
                        field: "license".into(),
                        message: "没有此标识的证照".into(),
                    }],
                    Vec::new(),
                    None,
                ),
                e => return Err(e.into()),
            },
        },
    };
    render(&AuditPage {
        errors,
        license,
        action,
        rows,
        next,
    })
}
