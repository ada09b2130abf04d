//! The portal's shared pieces: the 长辈版 (large-text mode) a visitor
//! chooses and keeps (a cookie), the stylesheet and script every page
//! loads from this server (no CDN, no outside fonts), and the error
//! summary every form shows.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The visitor's choice of mode, kept for a year.
const MODE_COOKIE: &str = "zz_mode";
const LARGE_CSS: &str = include_str!("../../assets/large.css");
const PAGE_JS: &str = include_str!("../../assets/page.js");

/// Where to go back to after switching: the page the link was on (its
/// path, from this site), else the home page.
fn back_to(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| {
            let rest = r
                .strip_prefix("http://")
                .or_else(|| r.strip_prefix("https://"))?;
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            (Some(authority) == host).then(|| format!("/{path}"))
        })
        .filter(|p| !p.starts_with("//") && !p.starts_with("/mode/"))
        .unwrap_or_else(|| "/".to_owned())
}

fn switch(headers: &HeaderMap, cookie: &str) -> Response {
    let mut resp = Redirect::to(&back_to(headers)).into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /mode/large`: the 长辈版 from now on.
pub async fn large(headers: HeaderMap) -> Response {
    switch(
        &headers,
        &format!("{MODE_COOKIE}=large; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly"),
    )
}

/// `GET /mode/standard`: back to the standard pages.
pub async fn standard(headers: HeaderMap) -> Response {
    switch(
        &headers,
        &format!("{MODE_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly"),
    )
}

/// `GET /assets/mode.css`: the large-text rules for a visitor who chose
/// them, nothing for the others (never cached across visitors).
pub async fn mode_css(headers: HeaderMap) -> Response {
    let large = crate::auth::cookie(&headers, MODE_COOKIE) == Some("large");
    let body = if large { LARGE_CSS } else { "" };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-cache"),
            (header::VARY, "Cookie"),
        ],
        body,
    )
        .into_response()
}

/// `GET /assets/page.js`: enhancements (the error summary takes focus).
pub async fn page_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        PAGE_JS,
    )
        .into_response()
}

/// A submitted form's fields, each trimmed (a key may repeat: checkboxes).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(body: &Bytes) -> Self {
        Self(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
                .collect(),
        )
    }

    /// The first value of `key`, or empty.
    pub(crate) fn get(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Every value of `key`, in order.
    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// One message of an error summary: the field's element id and the text.
#[derive(Debug, Clone)]
pub struct FormError {
    pub field: String,
    pub message: String,
}

/// The core's field errors as a page's error summary: each linked to the
/// input `id_of(field)` names (the first one when a field has several parts).
pub fn form_errors(
    e: &zhengzhao_core::Error,
    id_of: impl Fn(&str) -> String,
) -> Option<Vec<FormError>> {
    match e {
        zhengzhao_core::Error::Validation(errors) => Some(
            errors
                .iter()
                .map(|f| FormError {
                    field: id_of(&f.field),
                    message: f.message_zh.clone(),
                })
                .collect(),
        ),
        zhengzhao_core::Error::Malformed(_) => Some(vec![FormError {
            field: id_of(""),
            message: "提交的内容不完整，请逐项填写后再提交。".into(),
        }]),
        _ => None,
    }
}
