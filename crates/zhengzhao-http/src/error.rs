//! The one place that knows HTTP status codes: the core's [`Error`] mapped
//! to RFC 9457 `application/problem+json`. Every handler returns
//! [`ApiResult`]; `?` turns a core error into an [`ApiError`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use zhengzhao_core::Error;
use zhengzhao_domain::FieldError;

/// A core error on its way out as a problem document.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// RFC 9457 problem details, with a Chinese title beside the English one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the problem kind, e.g. `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub title_zh: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Per-field failures, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For `/problems/current-license-exists`: the identifier (current
    /// version) of the holder's license, when the caller may learn it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_license_id: Option<String>,
}

/// The HTTP status of each kind of core error.
pub fn status_of(e: &Error) -> StatusCode {
    use Error::*;
    match e {
        Malformed(_) => StatusCode::BAD_REQUEST,
        Validation(_) | IdentifierInUrl(_) => StatusCode::UNPROCESSABLE_ENTITY,
        TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Unauthenticated | LoginFailed | BadSignature(_) | SignInFailed(_) => {
            StatusCode::UNAUTHORIZED
        }
        Locked(_) => StatusCode::LOCKED,
        PasswordChangeRequired
        | Csrf
        | Forbidden(_)
        | NotGranted(_)
        | ConsentRequired(_)
        | ScenarioInactive(_) => StatusCode::FORBIDDEN,
        Gone(_) => StatusCode::GONE,
        TooManyRequests(_) | QuotaExhausted(_) => StatusCode::TOO_MANY_REQUESTS,
        NotFound(_) => StatusCode::NOT_FOUND,
        Conflict(_) | CurrentLicenseExists { .. } => StatusCode::CONFLICT,
        Internal(_) | Unreadable { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        Unavailable(_) | Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl ApiError {
    pub fn problem(&self) -> Problem {
        let kind = self.0.kind();
        Problem {
            kind: format!("/problems/{}", kind.slug),
            title: kind.title.to_owned(),
            title_zh: kind.title_zh.to_owned(),
            status: status_of(&self.0).as_u16(),
            detail: self.0.public_detail(),
            errors: match &self.0 {
                Error::Validation(e) => e.clone(),
                _ => Vec::new(),
            },
            existing_license_id: match &self.0 {
                Error::CurrentLicenseExists { existing, .. } => existing.clone(),
                _ => None,
            },
        }
    }
}

impl Problem {
    /// The problem for a bare status some layer answered with instead of a
    /// problem document: an extractor's rejection (`detail`: its text), the
    /// body limit (413), a method the route lacks (405), a timeout (503).
    /// Server errors carry no detail.
    pub fn for_status(status: StatusCode, detail: Option<String>) -> Self {
        let known = match status.as_u16() {
            400 => Some(Error::Malformed(String::new())),
            401 => Some(Error::Unauthenticated),
            403 => Some(Error::Forbidden(String::new())),
            404 => Some(Error::NotFound(String::new())),
            410 => Some(Error::Gone(String::new())),
            413 => Some(Error::TooLarge),
            415 => Some(Error::UnsupportedMediaType),
            422 => Some(Error::Validation(Vec::new())),
            429 => Some(Error::TooManyRequests(1)),
            503 => Some(Error::Unavailable(String::new())),
            _ => None,
        };
        let (slug, title, title_zh) = match (status.as_u16(), known) {
            (_, Some(e)) => {
                let k = e.kind();
                (k.slug.to_owned(), k.title, k.title_zh)
            }
            (405, None) => (
                "method-not-allowed".to_owned(),
                "Method not allowed",
                "不支持此请求方法",
            ),
            (s, None) if s >= 500 => ("internal".to_owned(), "Internal error", "服务器内部错误"),
            (s, None) => (format!("http-{s}"), "Request failed", "请求未能完成"),
        };
        let detail = if status.is_server_error() {
            None
        } else {
            detail.filter(|d| !d.trim().is_empty())
        };
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            title_zh: title_zh.to_owned(),
            status: status.as_u16(),
            detail,
            errors: Vec::new(),
            existing_license_id: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        match &self.0 {
            Error::Internal(d) | Error::Unavailable(d) => {
                tracing::error!(error = %d, "request failed")
            }
            Error::Unreadable { license, reason } => {
                tracing::error!(license = %license, reason = %reason, "a license's stored data cannot be read")
            }
            _ => tracing::debug!(error = %self.0, "request refused"),
        }
        let status = status_of(&self.0);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.0.retry_after()
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self.0, Error::Unauthenticated) {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"zhengzhao\""),
            );
        }
        resp
    }
}
