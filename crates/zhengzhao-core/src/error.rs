//! The one error type of the use cases. It says what went wrong and how to
//! name it to a person (a stable slug, an English and a Chinese title, the
//! detail the caller may see); it holds no transport status. Each frontend
//! maps it in one place: the HTTP crate to RFC 9457 problem documents
//! (`zhengzhao_http::error`), the command line to messages and exit codes.

use zhengzhao_domain::FieldError;
use zhengzhao_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// A holder's sign-in at the identity provider did not complete: the
    /// provider refused, or its answer did not check out (state, code,
    /// ID token, or the claims naming the holder).
    #[error("holder sign-in failed: {0}")]
    SignInFailed(String),
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
    /// A relying party asked for a license type or face field outside its
    /// scenario's grant (the whole request is refused, never trimmed).
    #[error("not granted: {0}")]
    NotGranted(String),
    /// A holder's identifier (or any query) in the URL of a relying party's
    /// request: ids travel only in request bodies.
    #[error("identifier in URL: {0}")]
    IdentifierInUrl(String),
    /// A social scenario reads only with the holder's live consent.
    #[error("consent required: {0}")]
    ConsentRequired(String),
    /// The credential's scenario is not approved now (submitted, rejected,
    /// suspended, revoked or expired): its credentials read nothing.
    #[error("scenario not in force: {0}")]
    ScenarioInactive(String),
    /// The scenario used up its reads for today: retry after this many seconds.
    #[error("daily quota used up")]
    QuotaExhausted(u64),
}

/// How an error is named to people: a stable slug (the problem type
/// `/problems/<slug>` over HTTP) and a title in English and in Chinese.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind {
    pub slug: &'static str,
    pub title: &'static str,
    pub title_zh: &'static str,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn field(
        field: &str,
        code: &'static str,
        en: impl Into<String>,
        zh: impl Into<String>,
    ) -> Self {
        Self::Validation(vec![FieldError::new(field, code, en, zh)])
    }

    /// The slug and titles of this kind of error.
    pub fn kind(&self) -> ErrorKind {
        use Error::*;
        let (slug, title, title_zh) = match self {
            Malformed(_) => ("malformed", "Malformed request", "请求格式错误"),
            Validation(_) => ("validation", "Validation failed", "数据校验未通过"),
            TooLarge => ("too-large", "Request body too large", "请求体过大"),
            UnsupportedMediaType => (
                "unsupported-media-type",
                "Content-Type must be application/json",
                "请求内容类型应为application/json",
            ),
            Unauthenticated => ("unauthenticated", "Authentication required", "需要身份认证"),
            LoginFailed => (
                "login-failed",
                "Wrong username, password or one-time code",
                "用户名、密码或动态口令错误",
            ),
            Locked(_) => (
                "account-locked",
                "Account locked after repeated failed logins",
                "多次登录失败，账号已被锁定",
            ),
            PasswordChangeRequired => (
                "password-change-required",
                "Change your password before going on",
                "请先修改密码",
            ),
            Csrf => ("csrf", "CSRF token missing or wrong", "跨站请求校验失败"),
            SignInFailed(_) => (
                "sign-in-failed",
                "Sign-in through the identity provider failed; start again",
                "统一身份认证登录未完成，请重新登录",
            ),
            BadSignature(_) => (
                "bad-signature",
                "Request signature missing or invalid",
                "请求签名缺失或无效",
            ),
            Gone(_) => ("gone", "No longer available", "已失效"),
            TooManyRequests(_) => (
                "too-many-requests",
                "Too many requests from this address",
                "请求过于频繁，请稍后再试",
            ),
            Forbidden(_) => ("forbidden", "Not permitted", "无权执行此操作"),
            NotFound(_) => ("not-found", "Not found", "未找到"),
            Conflict(_) => (
                "conflict",
                "Conflict with the current state",
                "与当前状态冲突",
            ),
            CurrentLicenseExists { .. } => (
                "current-license-exists",
                "The holder already has a current license of this type, which allows one per holder",
                "持证主体已有此类型的有效证照（每个持证主体只能有一张），请先注销或更新该证照",
            ),
            Internal(_) => ("internal", "Internal error", "服务器内部错误"),
            Unavailable(_) => ("unavailable", "Service unavailable", "服务暂不可用"),
            Unreadable { .. } => (
                "unreadable-license",
                "The stored data of this license cannot be read; the operator has been told",
                "此证照的存储数据无法读取，已报告运维人员",
            ),
            Busy(_) => (
                "busy",
                "Server busy, try again shortly",
                "服务器繁忙，请稍后再试",
            ),
            NotGranted(_) => (
                "not-granted",
                "Outside the scenario's grant",
                "超出场景授权范围",
            ),
            IdentifierInUrl(_) => (
                "identifier-in-url",
                "Holder identifiers go in the request body, never in the URL",
                "持证主体标识须放在请求体中，不得出现在URL中",
            ),
            ConsentRequired(_) => (
                "consent-required",
                "The holder's consent is required",
                "需要持证主体授权",
            ),
            ScenarioInactive(_) => (
                "scenario-inactive",
                "The scenario is not in force",
                "用证场景未生效或已停用",
            ),
            QuotaExhausted(_) => (
                "quota-exhausted",
                "The scenario's daily quota is used up",
                "场景当日调用量已用尽",
            ),
        };
        ErrorKind {
            slug,
            title,
            title_zh,
        }
    }

    /// What the caller may be told beyond the title. Internal details may
    /// name tables or paths: they go to the log only.
    pub fn public_detail(&self) -> Option<String> {
        match self {
            Error::Malformed(d)
            | Error::Forbidden(d)
            | Error::NotFound(d)
            | Error::Conflict(d)
            | Error::BadSignature(d)
            | Error::SignInFailed(d)
            | Error::Gone(d)
            | Error::NotGranted(d)
            | Error::ConsentRequired(d)
            | Error::IdentifierInUrl(d)
            | Error::ScenarioInactive(d)
            | Error::CurrentLicenseExists { detail: d, .. } => Some(d.clone()),
            Error::Locked(until) => Some(format!("locked until {until}")),
            Error::Unreadable { license, .. } => Some(format!("license {license}")),
            _ => None,
        }
    }

    /// Seconds after which a refused request may be tried again.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::TooManyRequests(secs) | Error::Busy(secs) | Error::QuotaExhausted(secs) => {
                Some(*secs)
            }
            _ => None,
        }
    }

    /// Whether the operator must hear of it (the caller is told little).
    pub fn is_server_fault(&self) -> bool {
        matches!(
            self,
            Error::Internal(_) | Error::Unavailable(_) | Error::Unreadable { .. }
        )
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => Error::NotFound(m),
            StoreError::Conflict(m) => Error::Conflict(m),
            // Answered by `issue_license`, which knows what the caller may
            // learn; anywhere else it is said without naming the license.
            StoreError::CurrentLicenseExists { .. } => Error::CurrentLicenseExists {
                existing: None,
                detail: "the holder already has a current license of this type".into(),
            },
            other => Error::Internal(other.to_string()),
        }
    }
}
