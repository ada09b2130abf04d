//! Server-rendered pages in Simplified Chinese. They work without JavaScript
//! and with large text (Art. 18).

use crate::error::ApiResult;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use zhengzhao_core::Error;
use zhengzhao_domain::catalog::{FaceField, LicenseTypeVersion};

pub struct FieldRow {
    pub label: String,
    pub name: String,
    pub kind: &'static str,
    pub required: bool,
    pub note: String,
}

pub struct TypeRow {
    pub code: String,
    pub name: String,
    pub authority: String,
    pub holders: String,
    pub issuers: String,
    pub standard_level: &'static str,
    pub public_attribute: &'static str,
    pub aggregation_start: String,
    pub version: u32,
    pub updated: String,
    pub validity: String,
    /// A holder may have only one current license of the type.
    pub one_per_holder: bool,
    pub fields: Vec<FieldRow>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
pub struct CatalogPage {
    pub types: Vec<TypeRow>,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage {}

/// What a page route answers instead of a problem document.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub message: String,
    pub details: Vec<String>,
    pub request_id: Option<String>,
}

/// What a person should know about an error, in Chinese: a heading and a
/// sentence. `retry_after` is the wait a 429 asks for, in seconds.
fn error_text(status: StatusCode, retry_after: Option<u64>) -> (&'static str, String) {
    let (title, message) = match status.as_u16() {
        400 => ("请求格式错误", "请求无法识别，请返回上一页重新操作。"),
        401 => ("需要身份认证", "请先登录，或检查所用的访问令牌。"),
        403 => (
            "无权访问",
            "您无权执行此操作；若页面已过期，请返回刷新后重试。",
        ),
        404 => ("未找到", "您访问的页面或证照不存在，请核对地址。"),
        405 => ("不支持此请求方法", "此页面不支持这种访问方式。"),
        410 => ("已失效", "此链接已过期或已使用。"),
        413 => ("提交的内容过大", "提交的内容超过了允许的大小。"),
        415 => ("内容类型不受支持", "提交的内容类型不受支持。"),
        422 => ("信息未通过校验", "提交的信息未通过校验，请核对后重试。"),
        429 => ("访问过于频繁", "您的访问过于频繁，请稍后再试。"),
        503 => ("服务暂不可用", "服务暂时繁忙或维护中，请稍后再试。"),
        s if s >= 500 => ("服务器内部错误", "服务器出现错误，请稍后再试。"),
        _ => ("请求未能完成", "请求未能完成，请返回上一页重新操作。"),
    };
    let message = match (status.as_u16(), retry_after) {
        (429, Some(secs)) => format!("您的访问过于频繁，请{secs}秒后再试。"),
        _ => message.to_owned(),
    };
    (title, message)
}

/// An error page (Chinese, same CSP as every page) for `status`. `problem`
/// is the problem document the API would have answered, if any: its
/// per-field messages are shown in Chinese.
pub(crate) fn error_page(
    status: StatusCode,
    problem: Option<&serde_json::Value>,
    retry_after: Option<u64>,
    request_id: Option<String>,
) -> Response {
    let (title, message) = error_text(status, retry_after);
    let details = problem
        .and_then(|p| p["errors"].as_array())
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["message_zh"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let page = ErrorPage {
        status: status.as_u16(),
        title: title.to_owned(),
        message,
        details,
        request_id,
    };
    let mut resp = match render(&page) {
        Ok(r) => r,
        // The template cannot fail on these fields; if it ever did, a
        // plain sentence still beats a JSON body on a page.
        Err(_) => {
            let mut r = format!("{title}：{}", page.message).into_response();
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_CSP),
            );
            r
        }
    };
    *resp.status_mut() = status;
    resp
}

fn field_row(f: &FaceField) -> FieldRow {
    let mut notes = Vec::new();
    if let Some(n) = f.max_length {
        notes.push(format!("最长{n}字"));
    }
    if !f.values.is_empty() {
        notes.push(format!("可选：{}", f.values.join("、")));
    }
    if f.personal {
        notes.push("个人信息，加密存储".into());
    }
    if f.confidential {
        notes.push("保密信息".into());
    }
    if let Some(part) = f.same_as_holder {
        notes.push(format!("须与{}一致", part.label_zh()));
    }
    FieldRow {
        label: f.label.clone(),
        name: f.name.clone(),
        kind: f.field_type.label_zh(),
        required: f.required,
        note: notes.join("；"),
    }
}

fn type_row(v: &LicenseTypeVersion) -> TypeRow {
    let d = v.spec.draft();
    let mut issuers: Vec<String> = d
        .issuing_levels
        .iter()
        .map(|l| l.label_zh().to_owned())
        .collect();
    issuers.extend(d.issuing_orgs.iter().map(|o| o.to_string()));
    TypeRow {
        code: d.code.to_string(),
        name: d.name.clone(),
        authority: d.defining_authority.name.clone(),
        holders: d
            .holder_types
            .iter()
            .map(|h| h.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
        issuers: issuers.join("、"),
        standard_level: d.standard_level.label_zh(),
        public_attribute: d.public_attribute.label_zh(),
        aggregation_start: d.aggregation_start.to_string(),
        version: v.version,
        updated: v
            .created_at
            .to_zoned(zhengzhao_core::china_tz())
            .strftime("%Y-%m-%d")
            .to_string(),
        validity: d.validity.clone().unwrap_or_default(),
        one_per_holder: d.one_current_license_per_holder,
        fields: d.face_fields.iter().map(field_row).collect(),
    }
}

/// Pages load nothing from anywhere else: their own stylesheet and script
/// (`/assets/…`, enhancements only) and inline styles.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn render(t: &impl Template) -> ApiResult<Response> {
    let html = t
        .render()
        .map_err(|e| Error::Internal(format!("template: {e}")))?;
    let mut resp = Html(html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    // Within this site only: the 长辈版 switch returns to the page it was
    // clicked on. Other sites never learn a page's address (the API's
    // answers keep `no-referrer`).
    resp.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    Ok(resp)
}

/// `GET /catalog`: the public notice of the issuance catalog (Art. 6).
pub async fn catalog(State(s): State<AppState>) -> ApiResult<Response> {
    let types = s.library.catalog(false).await?;
    render(&CatalogPage {
        types: types.iter().map(type_row).collect(),
    })
}

/// `GET /`
pub async fn index() -> ApiResult<Response> {
    render(&IndexPage {})
}
