//! The public objection pages (Art. 19): `/objections/new` (first the
//! license's identifier, then the form with its fields) and
//! `/objections/track` (ticket and tracking code). They call the same core
//! use cases as `POST /api/v1/objections` and `/track`.

use crate::auth::ClientIp;
use crate::error::ApiResult;
use crate::http::pages::render;
use crate::http::portal::{FormError, form_errors};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde::Deserialize;
use zhengzhao_core::Error;
use zhengzhao_core::objections::{
    ApplicantInput, AttachmentInput, ObjectionRequest, TrackRequest, TrackView,
};

const KINDS: [(&str, &str); 3] = [
    ("accuracy", "信息不准确"),
    ("completeness", "信息不完整"),
    ("timeliness", "信息未及时更新"),
];
const ROLES: [(&str, &str); 3] = [
    ("holder", "持证主体（本单位或本人的证照）"),
    ("relying_party", "用证单位（办事中使用该证照）"),
    ("other", "其他"),
];

#[derive(Template, Default)]
#[template(path = "objection_new.html")]
pub struct ObjectionNewPage {
    pub errors: Vec<FormError>,
    pub license_id: String,
    pub type_name: String,
    /// (value, label, chosen) of each kind.
    pub kinds: Vec<(&'static str, &'static str, bool)>,
    /// (name, label, checked) of each field the objection may concern.
    pub fields: Vec<(String, String, bool)>,
    pub kind: String,
    pub statement: String,
    pub roles: Vec<(&'static str, &'static str, bool)>,
    pub role: String,
    pub name: String,
    pub phone: String,
}

#[derive(Template)]
#[template(path = "objection_done.html")]
pub struct ObjectionDonePage {
    pub ticket: String,
    pub tracking_code: String,
    pub due_on: String,
    pub provisional: bool,
}

pub struct TrackRow {
    pub ticket: String,
    pub state: &'static str,
    pub license_id: String,
    pub submitted_at: String,
    pub due_on: Option<String>,
    pub refusal_reason: Option<String>,
    pub outcome: Option<&'static str>,
    pub answer: Option<String>,
}

#[derive(Template)]
#[template(path = "objection_track.html")]
pub struct ObjectionTrackPage {
    pub errors: Vec<FormError>,
    pub ticket: String,
    pub result: Option<TrackRow>,
}

fn state_zh(state: &str) -> &'static str {
    match state {
        "submitted" => "已提交，待受理",
        "accepted" => "已受理，待核查",
        "refused" => "不予受理",
        "investigating" => "核查中",
        "corrected" => "已核查：信息已更正",
        "kept" => "已核查：维持原登记",
        "undetermined" => "已核查：暂无法认定",
        "answered" => "已答复",
        "archived" => "已办结",
        _ => "办理中",
    }
}

/// Which input an error of the objection request belongs to.
fn input_of(field: &str) -> String {
    let top = field.split('/').next().unwrap_or_default();
    match (top, field) {
        (_, "applicant/role") => "role".into(),
        (_, "applicant/name") => "name".into(),
        (_, "applicant/phone") => "phone".into(),
        ("kind" | "fields" | "statement" | "license_id" | "attachments", _) => top.into(),
        _ => "license_id".into(),
    }
}

/// The form's own words for a choice left out, in the order of the form.
fn in_form_order(mut errors: Vec<FormError>) -> Vec<FormError> {
    const ORDER: [&str; 8] = [
        "license_id",
        "kind",
        "fields",
        "statement",
        "attachments",
        "role",
        "name",
        "phone",
    ];
    for e in &mut errors {
        match e.field.as_str() {
            "kind" => e.message = "请选择异议类型".into(),
            "role" => e.message = "请选择您的身份".into(),
            "fields" => e.message = "请至少选择一项涉及的信息".into(),
            _ => {}
        }
    }
    errors.sort_by_key(|e| {
        ORDER
            .iter()
            .position(|f| *f == e.field)
            .unwrap_or(ORDER.len())
    });
    errors.dedup_by(|a, b| a.field == b.field);
    errors
}

#[derive(Deserialize)]
pub struct NewQuery {
    pub license_id: Option<String>,
}

/// The form for `license_id`, or the first step (its identifier) with why.
async fn form_for(
    s: &AppState,
    page: ObjectionNewPage,
) -> ApiResult<(StatusCode, ObjectionNewPage)> {
    let choices = |all: &[(&'static str, &'static str)], chosen: &str| {
        all.iter()
            .map(|&(v, l)| (v, l, v == chosen))
            .collect::<Vec<_>>()
    };
    let mut page = ObjectionNewPage {
        kinds: choices(&KINDS, &page.kind),
        roles: choices(&ROLES, &page.role),
        ..page
    };
    if page.license_id.trim().is_empty() {
        return Ok((StatusCode::OK, page));
    }
    let not_found = |page: ObjectionNewPage, message: &str| ObjectionNewPage {
        errors: vec![FormError {
            field: "license_id".into(),
            message: message.into(),
        }],
        fields: Vec::new(),
        ..page
    };
    match s.library.objection_form(page.license_id.trim()).await {
        Ok((type_name, fields)) => {
            page.type_name = type_name;
            let checked: Vec<String> = page
                .fields
                .iter()
                .filter(|f| f.2)
                .map(|f| f.0.clone())
                .collect();
            page.fields = fields
                .into_iter()
                .map(|(name, label)| {
                    let on = checked.contains(&name);
                    (name, label, on)
                })
                .collect();
            Ok((StatusCode::OK, page))
        }
        Err(Error::Validation(_)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            not_found(page, "电子证照标识格式不正确，请核对后重新输入"),
        )),
        Err(Error::NotFound(_)) => Ok((
            StatusCode::NOT_FOUND,
            not_found(
                page,
                "电子证照库中没有此标识的证照；外省签发的证照请通过全国一体化政务服务平台或12345热线提出",
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

fn respond(status: StatusCode, t: &impl Template) -> ApiResult<Response> {
    let mut resp = render(t)?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// `GET /objections/new`
pub async fn new_form(State(s): State<AppState>, Query(q): Query<NewQuery>) -> ApiResult<Response> {
    let page = ObjectionNewPage {
        license_id: q.license_id.unwrap_or_default(),
        ..ObjectionNewPage::default()
    };
    let (status, page) = form_for(&s, page).await?;
    respond(status, &page)
}

/// `POST /objections/new`: a multipart form (its evidence attached as
/// files, at most three; a file input left empty sends nothing).
pub async fn new_submit(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    mut form: axum::extract::Multipart,
) -> ApiResult<Response> {
    let mut page = ObjectionNewPage::default();
    let mut fields = Vec::new();
    let mut attachments = Vec::new();
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        Error::Malformed(format!("the form could not be read: {e}"))
    };
    while let Some(part) = form.next_field().await.map_err(unreadable)? {
        let k = part.name().unwrap_or_default().to_owned();
        if k == "attachments" {
            let name = part.file_name().unwrap_or_default().to_owned();
            let bytes = part.bytes().await.map_err(unreadable)?;
            if !name.is_empty() || !bytes.is_empty() {
                attachments.push(AttachmentInput {
                    name,
                    content_base64: base64::engine::general_purpose::STANDARD.encode(&bytes),
                });
            }
            continue;
        }
        let v = part.text().await.map_err(unreadable)?;
        match k.as_str() {
            "license_id" => page.license_id = v,
            "kind" => page.kind = v,
            "fields" => fields.push(v),
            "statement" => page.statement = v,
            "role" => page.role = v,
            "name" => page.name = v,
            "phone" => page.phone = v,
            _ => {}
        }
    }
    let req = ObjectionRequest {
        license_id: page.license_id.clone(),
        kind: page.kind.clone(),
        fields: fields.clone(),
        statement: page.statement.clone(),
        applicant: ApplicantInput {
            role: page.role.clone(),
            name: page.name.clone(),
            phone: page.phone.clone(),
        },
        attachments,
        channel: None,
        channel_reference: None,
    };
    match s.library.submit_objection(None, ip, req).await {
        Ok((done, _)) => respond(
            StatusCode::CREATED,
            &ObjectionDonePage {
                ticket: done.ticket,
                tracking_code: done.tracking_code.unwrap_or_default(),
                due_on: done.due_on.map(|d| d.to_string()).unwrap_or_default(),
                provisional: done.provisional,
            },
        ),
        Err(e) => {
            let Some(errors) = form_errors(&e, input_of).or_else(|| {
                matches!(e, Error::NotFound(_)).then(|| {
                    vec![FormError {
                        field: "license_id".into(),
                        message: "电子证照库中没有此标识的证照".into(),
                    }]
                })
            }) else {
                return Err(e.into());
            };
            page.fields = fields
                .into_iter()
                .map(|f| (f, String::new(), true))
                .collect();
            let (_, mut page) = form_for(&s, page).await?;
            page.errors = in_form_order(errors);
            respond(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

/// `GET /objections/track`
pub async fn track_form() -> ApiResult<Response> {
    render(&ObjectionTrackPage {
        errors: Vec::new(),
        ticket: String::new(),
        result: None,
    })
}

fn track_row(t: TrackView) -> TrackRow {
    TrackRow {
        ticket: t.ticket,
        state: state_zh(&t.state),
        license_id: t.license_id,
        submitted_at: t
            .submitted_at
            .to_zoned(zhengzhao_core::china_tz())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        due_on: t.due_on.map(|d| d.to_string()),
        refusal_reason: t.refusal_reason,
        outcome: t.outcome.as_deref().map(state_zh),
        answer: t.answer,
    }
}

/// `POST /objections/track` (limited per address like the API's).
pub async fn track_submit(State(s): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let mut req = TrackRequest {
        ticket: String::new(),
        tracking_code: String::new(),
    };
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "ticket" => req.ticket = v.into_owned(),
            "tracking_code" => req.tracking_code = v.into_owned(),
            _ => {}
        }
    }
    match s.library.track_objection(&req).await {
        Ok(t) => render(&ObjectionTrackPage {
            errors: Vec::new(),
            ticket: req.ticket,
            result: Some(track_row(t)),
        }),
        Err(Error::NotFound(_)) => respond(
            StatusCode::NOT_FOUND,
            &ObjectionTrackPage {
                errors: vec![FormError {
                    field: "ticket".into(),
                    message: "受理编号或查询码不正确，请核对后重新输入".into(),
                }],
                ticket: req.ticket,
                result: None,
            },
        ),
        Err(e) => Err(e.into()),
    }
}
