//! What a signed-in holder does on its pages beyond reading them: shows a
//! license by QR code (亮证: only the fields it picks, for minutes),
//! grants a relying party's social scenario a consent, and answers a
//! counter's request for consent (the reverse scan, Art. 22). The same use
//! cases as `POST /api/v1/licenses/{id}/presentations`, `POST
//! /api/v1/consents` and `POST /api/v1/consent-requests/{token}/…`.

use crate::auth::PageHolder;
use crate::error::ApiResult;
use crate::http::holder_pages::form_csrf;
use crate::http::pages::render;
use crate::http::portal::{Form, FormError, form_errors};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use zhengzhao_core::Error;
use zhengzhao_core::holder_sign_in::HolderSessionCaller;

/// How long a presentation code lasts: (seconds, label).
const LIFETIMES: [(u64, &str); 3] = [(300, "5分钟"), (3600, "1小时"), (86_400, "24小时")];

/// A checkbox: (value, label, checked).
type Choice = (String, String, bool);

#[derive(Template, Default)]
#[template(path = "holder_present.html")]
pub struct PresentPage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    pub license_id: String,
    pub type_name: String,
    pub fields: Vec<Choice>,
    pub lifetimes: Vec<(u64, &'static str, bool)>,
    pub single_use: bool,
    /// After making it: the QR code (PNG as a data URL), its link, expiry.
    pub qr: Option<(String, String, String)>,
}

/// The signed-in holder, or the way to sign in and come back here.
fn signed_in(
    holder: Option<HolderSessionCaller>,
    back: &str,
) -> Result<HolderSessionCaller, Box<Response>> {
    holder.ok_or_else(|| {
        let to = form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>();
        Box::new(Redirect::to(&format!("/holder?return_to={to}")).into_response())
    })
}

/// A holder's form with its session's CSRF token, or the answer instead.
fn holder_form(
    holder: Option<HolderSessionCaller>,
    back: &str,
    body: &Bytes,
) -> Result<(HolderSessionCaller, Form), Box<Response>> {
    let h = signed_in(holder, back)?;
    if !form_csrf(&h, body) {
        return Err(Box::new(
            crate::error::ApiError(Error::Csrf).into_response(),
        ));
    }
    Ok((h, Form::parse(body)))
}

/// The type name and (name, label) of each face field of one of the
/// holder's own licenses, as its type's version it was issued under has
/// them (what `create_presentation` checks the choice against).
async fn license_fields(
    s: &AppState,
    h: &HolderSessionCaller,
    license_id: &str,
) -> ApiResult<(String, Vec<(String, String)>)> {
    let mine = s.library.holder_licenses(&h.principal).await?;
    let l = mine
        .iter()
        .find(|l| l.license_id == license_id)
        .ok_or_else(|| Error::NotFound(format!("license {license_id}")))?;
    let code = zhengzhao_domain::codes::LicenseTypeCode::parse(&l.type_code)
        .map_err(|_| Error::Internal("stored type code".into()))?;
    let t = s
        .library
        .license_type(&code, Some(l.type_version), true)
        .await?;
    let d = t.spec.draft();
    Ok((
        d.name.clone(),
        d.face_fields
            .iter()
            .map(|f| (f.name.clone(), f.label.clone()))
            .collect(),
    ))
}

async fn present_page(
    s: &AppState,
    h: &HolderSessionCaller,
    license_id: &str,
    chosen: &[String],
    ttl: u64,
    single_use: bool,
) -> ApiResult<PresentPage> {
    let (type_name, fields) = license_fields(s, h, license_id).await?;
    Ok(PresentPage {
        csrf_token: h.view.csrf_token.clone(),
        license_id: license_id.to_owned(),
        type_name,
        fields: fields
            .into_iter()
            .map(|(n, l)| {
                let on = chosen.contains(&n);
                (n, l, on)
            })
            .collect(),
        lifetimes: LIFETIMES.iter().map(|&(v, l)| (v, l, v == ttl)).collect(),
        single_use,
        ..PresentPage::default()
    })
}

/// `GET /holder/licenses/{id}/present`
pub async fn present_form(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let h = match signed_in(holder, &format!("/holder/licenses/{id}/present")) {
        Ok(h) => h,
        Err(r) => return Ok(*r),
    };
    render(&present_page(&s, &h, &id, &[], 300, true).await?)
}

/// `POST /holder/licenses/{id}/present`: make the code and show it.
pub async fn present(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let (h, form) = match holder_form(holder, &format!("/holder/licenses/{id}/present"), &body) {
        Ok(x) => x,
        Err(r) => return Ok(*r),
    };
    let fields = form.all("fields");
    let ttl = form.get("ttl_secs");
    let single_use = form.get("single_use") == "true";
    let request = json!({"fields": fields, "single_use": single_use,
        "ttl_secs": ttl.parse::<u64>().map_or(json!(ttl), |n| json!(n))});
    let ttl = ttl.parse().unwrap_or(300);
    let made = match crate::http::json::parse(request.to_string().as_bytes()) {
        Ok(req) => s.library.create_presentation(&h.principal, &id, req).await,
        Err(e) => Err(e),
    };
    let mut page = present_page(&s, &h, &id, &fields, ttl, single_use).await?;
    match made {
        Ok(p) => {
            let png =
                zhengzhao_render::qr_png(&p.url, 8).map_err(|e| Error::Internal(e.to_string()))?;
            let data = base64::engine::general_purpose::STANDARD.encode(png);
            let until = p
                .expires_at
                .to_zoned(zhengzhao_core::china_tz())
                .strftime("%Y-%m-%d %H:%M")
                .to_string();
            page.qr = Some((format!("data:image/png;base64,{data}"), p.url, until));
            Ok(crate::http::no_store(render(&page)?))
        }
        Err(e) => {
            let Some(errors) = form_errors(&e, |f| match f {
                "ttl_secs" => "ttl_secs".into(),
                _ => "fields".into(),
            }) else {
                return Err(e.into());
            };
            page.errors = errors;
            let mut resp = render(&page)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}

#[derive(Template, Default)]
#[template(path = "holder_consent.html")]
pub struct ConsentPage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    /// Step one: (scenario id, "relying party：scenario name").
    pub scenarios: Vec<(String, String)>,
    /// Step two: the chosen scenario.
    pub scenario_id: String,
    pub scenario: String,
    pub purpose_of_scenario: String,
    pub fields: Vec<Choice>,
    pub purpose: String,
    pub single_use: bool,
    pub valid_until: String,
}

#[derive(Deserialize)]
pub struct ConsentQuery {
    pub scenario: Option<String>,
}

async fn consent_page(
    s: &AppState,
    h: &HolderSessionCaller,
    mut page: ConsentPage,
    chosen: &[String],
) -> ApiResult<ConsentPage> {
    let open = s.library.consentable_scenarios(&h.principal).await?;
    page.csrf_token = h.view.csrf_token.clone();
    page.scenarios = open
        .iter()
        .map(|a| {
            (
                a.id.to_string(),
                format!("{}：{}", a.spec.relying_party.name, a.spec.name),
            )
        })
        .collect();
    if let Some(a) = open.iter().find(|a| a.id.to_string() == page.scenario_id) {
        page.scenario = format!("{}：{}", a.spec.relying_party.name, a.spec.name);
        page.purpose_of_scenario = a.spec.purpose.clone();
        let mut fields = Vec::new();
        for g in &a.spec.grants {
            let t = s.library.license_type(&g.type_code, None, true).await?;
            let label_of = |name: &str| {
                t.spec
                    .draft()
                    .face_fields
                    .iter()
                    .find(|f| f.name == name)
                    .map_or_else(|| name.to_owned(), |f| f.label.clone())
            };
            for f in &g.fields {
                fields.push((
                    f.clone(),
                    format!("{}：{}", t.spec.draft().name, label_of(f)),
                    chosen.contains(f),
                ));
            }
        }
        page.fields = fields;
    } else {
        page.scenario_id.clear();
    }
    Ok(page)
}

/// `GET /holder/consents/new`: choose a scenario, then what it may read.
pub async fn consent_form(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Query(q): Query<ConsentQuery>,
) -> ApiResult<Response> {
    let h = match signed_in(holder, "/holder/consents/new") {
        Ok(h) => h,
        Err(r) => return Ok(*r),
    };
    let page = ConsentPage {
        scenario_id: q.scenario.unwrap_or_default(),
        single_use: true,
        ..ConsentPage::default()
    };
    render(&consent_page(&s, &h, page, &[]).await?)
}

/// `POST /holder/consents`: grant it (the API's `grant_consent`).
pub async fn consent_grant(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    body: Bytes,
) -> ApiResult<Response> {
    let (h, form) = match holder_form(holder, "/holder/consents/new", &body) {
        Ok(x) => x,
        Err(r) => return Ok(*r),
    };
    let scenario_id = form.get("scenario_id");
    let fields = form.all("fields");
    let single_use = form.get("duration") != "until";
    let until = form.get("valid_until");
    // The types are the scenario's own: a consent covers what it asked.
    let types: Vec<String> = s
        .library
        .consentable_scenarios(&h.principal)
        .await?
        .iter()
        .find(|a| a.id.to_string() == scenario_id)
        .map(|a| {
            a.spec
                .grants
                .iter()
                .map(|g| g.type_code.to_string())
                .collect()
        })
        .unwrap_or_default();
    let request = json!({
        "scenario_id": scenario_id, "type_codes": types, "fields": fields,
        "purpose": form.get("purpose"), "single_use": single_use,
        "valid_until": if single_use || until.is_empty() { Value::Null } else { json!(until) },
    });
    let granted = match crate::http::json::parse(request.to_string().as_bytes()) {
        Ok(req) => s.library.grant_consent(&h.principal, req).await,
        Err(e) => Err(e),
    };
    match granted {
        Ok(_) => Ok(Redirect::to("/holder?granted=1#consents").into_response()),
        Err(e) => {
            let Some(errors) = form_errors(&e, |f| match f {
                "purpose" | "valid_until" => f.into(),
                f if f.starts_with("fields") => "fields".into(),
                _ => "scenario_id".into(),
            }) else {
                return Err(e.into());
            };
            let page = ConsentPage {
                errors,
                scenario_id,
                purpose: form.get("purpose"),
                single_use,
                valid_until: until,
                ..ConsentPage::default()
            };
            let mut resp = render(&consent_page(&s, &h, page, &fields).await?)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
    }
}

#[derive(Template, Default)]
#[template(path = "holder_request.html")]
pub struct RequestPage {
    pub signed_in: bool,
    pub csrf_token: String,
    pub token: String,
    pub error: Option<String>,
    pub party: String,
    pub scenario: String,
    pub use_cause: String,
    pub asks: Vec<String>,
    pub expires_at: String,
    /// Answered: what the holder decided.
    pub answered: Option<&'static str>,
}

async fn request_page(
    s: &AppState,
    holder: Option<&HolderSessionCaller>,
    token: &str,
) -> ApiResult<RequestPage> {
    let mut page = RequestPage {
        signed_in: holder.is_some(),
        csrf_token: holder
            .map(|h| h.view.csrf_token.clone())
            .unwrap_or_default(),
        token: token.to_owned(),
        ..RequestPage::default()
    };
    match s.library.consent_request_view(token).await {
        Ok(v) => {
            page.party = format!("{}（{}）", v.relying_party, v.relying_party_credit_code);
            page.scenario = v.scenario_name;
            page.use_cause = v.use_cause;
            for code in &v.type_codes {
                let Ok(c) = zhengzhao_domain::codes::LicenseTypeCode::parse(code) else {
                    continue;
                };
                let t = s.library.license_type(&c, None, true).await?;
                let d = t.spec.draft();
                let labels: Vec<String> = v
                    .fields
                    .iter()
                    .filter_map(|n| d.face_fields.iter().find(|f| &f.name == n))
                    .map(|f| f.label.clone())
                    .collect();
                page.asks.push(format!("{}：{}", d.name, labels.join("、")));
            }
            page.expires_at = v
                .expires_at
                .to_zoned(zhengzhao_core::china_tz())
                .strftime("%H:%M")
                .to_string();
        }
        Err(Error::Gone(_)) => {
            page.error = Some("授权请求已过期，请用证单位重新出示二维码。".into())
        }
        Err(Error::Validation(_) | Error::ScenarioInactive(_)) => {
            page.error =
                Some("授权请求无效：不是本库生成的、已被篡改，或该用证场景已停用。".into());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(page)
}

/// `GET /holder/requests/{token}`: what a counter asks, and the answer.
pub async fn request_view(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let page = request_page(&s, holder.as_ref(), &token).await?;
    Ok(crate::http::no_store(render(&page)?))
}

/// `POST /holder/requests/{token}/{answer}`: `approve` or `decline`.
pub async fn request_answer(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Path((token, answer)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    let back = format!("/holder/requests/{token}");
    let (h, _) = match holder_form(holder, &back, &body) {
        Ok(x) => x,
        Err(r) => return Ok(*r),
    };
    let approve = match answer.as_str() {
        "approve" => true,
        "decline" => false,
        _ => return Err(Error::NotFound(format!("answer {answer}")).into()),
    };
    let mut page = request_page(&s, Some(&h), &token).await?;
    match s
        .library
        .answer_consent_request(&h.principal, &token, approve)
        .await
    {
        Ok(_) => {
            page.answered = Some(if approve {
                "已同意，该单位可在本次办事中使用您的证照（仅一次）。"
            } else {
                "已拒绝，该单位不能使用您的证照。"
            })
        }
        Err(Error::Conflict(_)) => page.error = Some("此授权请求已答复过。".into()),
        // It expired, or its scenario stopped, since the page was shown.
        Err(Error::Gone(_)) => {
            page.error = Some("授权请求已过期，请用证单位重新出示二维码。".into());
        }
        Err(Error::Validation(_) | Error::ScenarioInactive(_)) => {
            page.error =
                Some("授权请求无效：不是本库生成的、已被篡改，或该用证场景已停用。".into());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(crate::http::no_store(render(&page)?))
}
