//! The holder's pages (`/holder`): signed in through the region's identity
//! provider, a holder sees its licenses and downloads their PDF files,
//! withdraws a consent, and sees who used its licenses. The same use cases
//! as `/api/v1/holder/…` and `/api/v1/consents…`.

use crate::auth::PageHolder;
use crate::error::ApiResult;
use crate::http::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use zhengzhao_core::Error;
use zhengzhao_core::holder_sign_in::HolderSessionCaller;

pub struct LicenseRow {
    pub license_id: String,
    pub type_name: String,
    pub status: &'static str,
    pub validity: String,
}

pub struct ConsentRow {
    pub id: String,
    pub purpose: String,
    pub state: &'static str,
    pub valid_until: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "holder.html")]
pub struct HolderPage {
    pub signed_in: bool,
    pub sign_in_available: bool,
    /// The sign-in's `return_to`, URL-encoded.
    pub return_to: String,
    pub notice: Option<String>,
    pub holder: String,
    pub csrf_token: String,
    pub licenses: Vec<LicenseRow>,
    pub consents: Vec<ConsentRow>,
    /// (when, relying party, purpose, result)
    pub usage: Vec<(String, String, String, String)>,
}

fn status_zh(s: &str) -> &'static str {
    match s {
        "valid" => "有效",
        "revoked" => "已注销",
        "expired" => "已过期",
        "not_yet_valid" => "尚未生效",
        "superseded" => "已更新",
        _ => "—",
    }
}

fn consent_zh(s: &str) -> &'static str {
    match s {
        "granted" => "有效",
        "used" => "已使用",
        "withdrawn" => "已撤回",
        "expired" => "已过期",
        _ => "—",
    }
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        serde_json::Value::Object(m) => m
            .get("name")
            .and_then(|n| n.as_str())
            .map_or_else(|| v.to_string(), str::to_owned),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
pub struct HolderQuery {
    pub withdrawn: Option<String>,
    pub granted: Option<String>,
    /// Where to come back to after signing in (a holder page asked for
    /// sign-in); checked by the sign-in itself.
    pub return_to: Option<String>,
}

/// `GET /holder`
pub async fn page(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Query(q): Query<HolderQuery>,
) -> ApiResult<Response> {
    let Some(h) = holder else {
        return render(&HolderPage {
            signed_in: false,
            sign_in_available: s.config.holder_oidc.is_some(),
            return_to: form_urlencoded::byte_serialize(
                q.return_to
                    .as_deref()
                    .filter(|p| p.starts_with("/holder/"))
                    .unwrap_or("/holder")
                    .as_bytes(),
            )
            .collect(),
            notice: None,
            holder: String::new(),
            csrf_token: String::new(),
            licenses: Vec::new(),
            consents: Vec::new(),
            usage: Vec::new(),
        });
    };
    let l = &s.library;
    let types = l.catalog(true).await?;
    let type_name = |code: &str| {
        types
            .iter()
            .find(|t| t.spec.draft().code.as_str() == code)
            .map_or_else(|| code.to_owned(), |t| t.spec.draft().name.clone())
    };
    let licenses = l
        .holder_licenses(&h.principal)
        .await?
        .into_iter()
        .map(|x| LicenseRow {
            type_name: type_name(&x.type_code),
            status: status_zh(x.status),
            validity: match x.valid_until {
                Some(u) => format!("{} 至 {}", x.valid_from, u),
                None => format!("{} 起长期有效", x.valid_from),
            },
            license_id: x.license_id,
        })
        .collect();
    let consents = l
        .holder_consents(&h.principal)
        .await?
        .into_iter()
        .map(|c| ConsentRow {
            id: c.consent_id.to_string(),
            purpose: c.purpose,
            active: c.state == "granted",
            state: consent_zh(&c.state),
            valid_until: c
                .valid_until
                .map(|d| d.to_string())
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    let usage = l
        .holder_usage(&h.principal)
        .await?
        .into_iter()
        .map(|u| {
            (
                u.at.to_zoned(zhengzhao_core::china_tz())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string(),
                text(&u.relying_party),
                text(&u.use_cause),
                if u.result == "success" {
                    "已提供".into()
                } else {
                    "已拒绝".into()
                },
            )
        })
        .collect();
    render(&HolderPage {
        signed_in: true,
        sign_in_available: true,
        return_to: String::new(),
        notice: match (q.withdrawn, q.granted) {
            (Some(_), _) => Some("已撤回授权，该单位不能再凭此授权使用您的证照。".into()),
            (None, Some(_)) => Some("已授权。您可随时在下方撤回。".into()),
            (None, None) => None,
        },
        holder: h.view.holder.clone(),
        csrf_token: h.view.csrf_token.clone(),
        licenses,
        consents,
        usage,
    })
}

pub(crate) fn form_csrf(h: &HolderSessionCaller, body: &Bytes) -> bool {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "csrf_token")
        .is_some_and(|(_, v)| h.csrf_matches(&v))
}

/// `POST /holder/consents/{id}/withdraw`
pub async fn withdraw(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let Some(h) = holder else {
        return Ok(Redirect::to("/holder").into_response());
    };
    if !form_csrf(&h, &body) {
        return Err(Error::Csrf.into());
    }
    let id = uuid::Uuid::parse_str(&id).map_err(|_| Error::NotFound(format!("consent {id}")))?;
    s.library.withdraw_consent(&h.principal, id).await?;
    Ok(Redirect::to("/holder?withdrawn=1#consents").into_response())
}

/// `POST /holder/sign-out`
pub async fn sign_out(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    body: Bytes,
) -> ApiResult<Response> {
    let Some(h) = holder else {
        return Ok(Redirect::to("/holder").into_response());
    };
    if !form_csrf(&h, &body) {
        return Err(Error::Csrf.into());
    }
    s.library.sign_out_holder(&h).await?;
    let mut resp = Redirect::to("/holder").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
        zhengzhao_core::holder_sign_in::HOLDER_SESSION_COOKIE
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// `GET /holder/licenses/{id}/pdf`: the license file, for its holder.
pub async fn pdf(
    State(s): State<AppState>,
    PageHolder(holder): PageHolder,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let Some(h) = holder else {
        return Ok(Redirect::to("/holder").into_response());
    };
    let file = s.library.holder_license_file(&h.principal, &id).await?;
    let mut resp = file.bytes.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.media_type),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.file_name)) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
