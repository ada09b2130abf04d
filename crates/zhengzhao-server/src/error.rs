//! The one error type of the HTTP API and its one mapping to RFC 9457
//! `application/problem+json`. Every handler and service returns `ApiError`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request body is not JSON, or not of the expected shape.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The body is well-formed but breaks rules; every broken rule is listed.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("request body too large")]
    TooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// No or unknown credentials.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong username, password or one-time code (never says which).
    #[error("login failed")]
    LoginFailed,
    #[error("account locked until {0}")]
    Locked(jiff::Timestamp),
    #[error("password change required")]
    PasswordChangeRequired,
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("bad request signature: {0}")]
    BadSignature(String),
    /// Existed once, no longer usable (an expired or used presentation).
    #[error("gone: {0}")]
    Gone(String),
    /// Too many requests from this address: retry after this many seconds.
    #[error("too many requests")]
    TooManyRequests(u64),
    /// Known caller, but this act is outside its role or org.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The license type allows one current license per holder and the
    /// holder has one. `existing` names it when the caller may learn it
    /// (`licenses::current_license_conflict` decides); `detail` says what to do.
    #[error("the holder already has a current license of this type")]
    CurrentLicenseExists {
        existing: Option<String>,
        detail: String,
    },
    /// Anything the caller cannot fix. The detail is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// One license's stored data cannot be opened (a sealed value under an
    /// unknown data key, or one that does not decrypt): that license alone
    /// is affected. The license is named to the caller; the reason is logged.
    #[error("license {license} cannot be read: {reason}")]
    Unreadable { license: String, reason: String },
    /// Too much work queued (e.g. password hashing in a login flood): retry
    /// after this many seconds.
    #[error("busy")]
    Busy(u64),
}

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

impl ApiError {
    pub fn field(
        field: &str,
        code: &'static str,
        en: impl Into<String>,
        zh: impl Into<String>,
    ) -> Self {
        Self::Validation(vec![FieldError::new(field, code, en, zh)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str, &'static str) {
        use ApiError::*;
        match self {
            Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "malformed",
                "Malformed request",
                "请求格式错误",
            ),
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Validation failed",
                "数据校验未通过",
            ),
            TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
                "请求体过大",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Content-Type must be application/json",
                "请求内容类型应为application/json",
            ),
            Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "需要身份认证",
            ),
            LoginFailed => (
                StatusCode::UNAUTHORIZED,
                "login-failed",
                "Wrong username, password or one-time code",
                "用户名、密码或动态口令错误",
            ),
            Locked(_) => (
                StatusCode::LOCKED,
                "account-locked",
                "Account locked after repeated failed logins",
                "多次登录失败，账号已被锁定",
            ),
            PasswordChangeRequired => (
                StatusCode::FORBIDDEN,
                "password-change-required",
                "Change your password before going on",
                "请先修改密码",
            ),
            Csrf => (
                StatusCode::FORBIDDEN,
                "csrf",
                "CSRF token missing or wrong",
                "跨站请求校验失败",
            ),
            BadSignature(_) => (
                StatusCode::UNAUTHORIZED,
                "bad-signature",
                "Request signature missing or invalid",
                "请求签名缺失或无效",
            ),
            Gone(_) => (StatusCode::GONE, "gone", "No longer available", "已失效"),
            TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests from this address",
                "请求过于频繁，请稍后再试",
            ),
            Forbidden(_) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not permitted",
                "无权执行此操作",
            ),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found", "未找到"),
            Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with the current state",
                "与当前状态冲突",
            ),
            CurrentLicenseExists { .. } => (
                StatusCode::CONFLICT,
                "current-license-exists",
                "The holder already has a current license of this type, which allows one per holder",
                "持证主体已有此类型的有效证照（每个持证主体只能有一张），请先注销或更新该证照",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "服务器内部错误",
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
                "服务暂不可用",
            ),
            Unreadable { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "unreadable-license",
                "The stored data of this license cannot be read; the operator has been told",
                "此证照的存储数据无法读取，已报告运维人员",
            ),
            Busy(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Server busy, try again shortly",
                "服务器繁忙，请稍后再试",
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, slug, title, title_zh) = self.parts();
        let detail = match self {
            ApiError::Malformed(d)
            | ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d)
            | ApiError::BadSignature(d)
            | ApiError::Gone(d)
            | ApiError::CurrentLicenseExists { detail: d, .. } => Some(d.clone()),
            ApiError::Locked(until) => Some(format!("locked until {until}")),
            ApiError::Unreadable { license, .. } => Some(format!("license {license}")),
            // Internal details may name tables or paths: they go to the log only.
            ApiError::Internal(_) | ApiError::Unavailable(_) => None,
            _ => None,
        };
        Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            title_zh: title_zh.to_owned(),
            status: status.as_u16(),
            detail,
            errors: match self {
                ApiError::Validation(e) => e.clone(),
                _ => Vec::new(),
            },
            existing_license_id: match self {
                ApiError::CurrentLicenseExists { existing, .. } => existing.clone(),
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
            400 => Some(ApiError::Malformed(String::new())),
            401 => Some(ApiError::Unauthenticated),
            403 => Some(ApiError::Forbidden(String::new())),
            404 => Some(ApiError::NotFound(String::new())),
            410 => Some(ApiError::Gone(String::new())),
            413 => Some(ApiError::TooLarge),
            415 => Some(ApiError::UnsupportedMediaType),
            422 => Some(ApiError::Validation(Vec::new())),
            429 => Some(ApiError::TooManyRequests(1)),
            503 => Some(ApiError::Unavailable(String::new())),
            _ => None,
        };
        let (slug, title, title_zh) = match (status.as_u16(), known) {
            (_, Some(e)) => {
                let (_, slug, title, title_zh) = e.parts();
                (slug.to_owned(), title, title_zh)
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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => ApiError::NotFound(m),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            // Answered by `issue_license`, which knows what the caller may
            // learn; anywhere else it is said without naming the license.
            StoreError::CurrentLicenseExists { .. } => ApiError::CurrentLicenseExists {
                existing: None,
                detail: "the holder already has a current license of this type".into(),
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        match &self {
            ApiError::Internal(d) | ApiError::Unavailable(d) => {
                tracing::error!(error = %d, "request failed")
            }
            ApiError::Unreadable { license, reason } => {
                tracing::error!(license = %license, reason = %reason, "a license's stored data cannot be read")
            }
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests(secs) | ApiError::Busy(secs) = self
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self, ApiError::Unauthenticated) {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"zhengzhao\""),
            );
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
