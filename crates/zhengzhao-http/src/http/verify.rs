//! Public verification: `GET /api/v1/verify/{license_id}` and the pages
//! `/verify`, `/verify/{license_id}` (where a license's QR code points).
//! No token; rate-limited per client address (`rate_limit`).

use crate::error::{ApiResult, Problem};
use crate::http::json::ApiJson;
use crate::http::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use zhengzhao_core::Error;
use zhengzhao_core::document_check::{DocumentCheck, parse_request};
use zhengzhao_core::verify::VerifyResult;

/// Check one license by the identifier of any of its versions.
#[utoipa::path(get, path = "/api/v1/verify/{license_id}", tag = "verify",
    params(("license_id" = String, Path, description = "GB/T 36904 identifier of any version")),
    responses((status = 200, body = VerifyResult), (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn check(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<VerifyResult>> {
    Ok(Json(s.library.verify_public(&id).await?))
}

pub struct ResultRow {
    pub status_label: &'static str,
    pub status_class: &'static str,
    pub type_name: String,
    pub license_id: String,
    pub version: u16,
    pub holder: String,
    pub issuer: String,
    pub validity: String,
    pub current_license_id: String,
    pub current_version: u16,
    pub signature: &'static str,
    pub revoked_at: Option<String>,
    pub checked_at: String,
    /// Under objection: the fields concerned (names, as the catalog has them).
    pub objection: Option<String>,
}

#[derive(Template)]
#[template(path = "verify.html")]
pub struct VerifyPage {
    pub asked: String,
    pub error: Option<String>,
    pub result: Option<ResultRow>,
    /// Fields the holder chose to show (a presentation code).
    pub shown: Vec<(String, String)>,
    pub credit_code: String,
    pub holder_name: String,
    /// What an uploaded file turned out to be.
    pub file_check: Option<FileCheckRow>,
}

pub struct FileCheckRow {
    pub label: &'static str,
    pub class: &'static str,
    pub license_id: Option<String>,
}

fn china_time(t: jiff::Timestamp) -> String {
    t.to_zoned(zhengzhao_core::china_tz())
        .strftime("%Y-%m-%d %H:%M")
        .to_string()
}

pub(crate) fn row(r: &VerifyResult) -> ResultRow {
    let (status_label, status_class) = match (r.status, r.signature_valid) {
        (_, false) => ("核验未通过：电子签名无效", "error"),
        ("valid", true) => ("有效", "ok"),
        ("superseded", true) => ("已更新：此为旧版本，请以当前版本为准", "error"),
        ("revoked", true) => ("已注销", "error"),
        ("expired", true) => ("已过期", "error"),
        ("not_yet_valid", true) => ("尚未生效", "error"),
        (_, true) => ("状态未知", "error"),
    };
    ResultRow {
        status_label,
        status_class,
        type_name: r.type_name.clone(),
        license_id: r.license_id.to_string(),
        version: r.version,
        holder: r.holder.name.clone(),
        issuer: r.issuer.name.clone(),
        validity: match r.valid_until {
            Some(u) => format!("{} 至 {}", r.valid_from, u),
            None => format!("{} 起长期有效", r.valid_from),
        },
        current_license_id: r.current_license_id.to_string(),
        current_version: r.current_version,
        signature: if r.signature_valid {
            "有效（SM2，由发证机构签署）"
        } else {
            "无效"
        },
        revoked_at: r.revoked_at.map(china_time),
        checked_at: china_time(r.checked_at),
        objection: r.under_objection.then(|| r.objection_fields.join("、")),
    }
}

async fn page(s: &AppState, asked: &str) -> ApiResult<Response> {
    let asked = asked.trim();
    if asked.is_empty() {
        return render(&VerifyPage {
            asked: String::new(),
            error: None,
            result: None,
            shown: Vec::new(),
            credit_code: String::new(),
            holder_name: String::new(),
            file_check: None,
        });
    }
    let (status, error, result) = match s.library.verify_public(asked).await {
        Ok(r) => {
            let mut row = row(&r);
            // The fields by their labels, as the catalog names them.
            if r.under_objection
                && let Ok((_, labels)) = s.library.objection_form(asked).await
            {
                let named: Vec<String> = r
                    .objection_fields
                    .iter()
                    .map(|f| {
                        labels
                            .iter()
                            .find(|(n, _)| n == f)
                            .map_or_else(|| f.clone(), |(_, l)| l.clone())
                    })
                    .collect();
                row.objection = Some(named.join("、"));
            }
            (StatusCode::OK, None, Some(row))
        }
        Err(Error::Validation(_)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("标识格式不正确，请核对后重新输入。".to_owned()),
            None,
        ),
        Err(Error::NotFound(_)) => (
            StatusCode::NOT_FOUND,
            Some("电子证照库中没有此标识的证照。".to_owned()),
            None,
        ),
        Err(e) => return Err(e.into()),
    };
    let mut resp = render(&VerifyPage {
        asked: asked.to_owned(),
        error,
        result,
        shown: Vec::new(),
        credit_code: String::new(),
        holder_name: String::new(),
        file_check: None,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

#[derive(Deserialize)]
pub struct PageQuery {
    pub id: Option<String>,
    pub credit_code: Option<String>,
    pub name: Option<String>,
}

/// `GET /verify` (the form; `?id=` checks; `?credit_code=&name=` finds a
/// business license as the enterprise credit publicity system does).
pub async fn form(State(s): State<AppState>, Query(q): Query<PageQuery>) -> ApiResult<Response> {
    if let Some(code) = q.credit_code.as_deref().filter(|c| !c.trim().is_empty()) {
        let name = q.name.clone().unwrap_or_default();
        let (status, error, result) = match s.library.verify_business_license(code, &name).await {
            Ok(r) => (StatusCode::OK, None, Some(row(&r))),
            Err(Error::Validation(_)) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("统一社会信用代码不正确，请核对后重新输入。".to_owned()),
                None,
            ),
            Err(Error::NotFound(_)) => (
                StatusCode::NOT_FOUND,
                Some(
                    "未找到该统一社会信用代码与名称对应的营业执照，请核对名称是否与执照一致。"
                        .to_owned(),
                ),
                None,
            ),
            Err(e) => return Err(e.into()),
        };
        let mut resp = render(&VerifyPage {
            asked: String::new(),
            error,
            result,
            shown: Vec::new(),
            credit_code: code.to_owned(),
            holder_name: name,
            file_check: None,
        })?;
        *resp.status_mut() = status;
        return Ok(resp);
    }
    page(&s, q.id.as_deref().unwrap_or_default()).await
}

/// `POST /verify/file`: an uploaded license file (the PDF this library
/// produced, or a signed document as JSON) checked as the API checks it.
pub async fn file(
    State(s): State<AppState>,
    mut form: axum::extract::Multipart,
) -> ApiResult<Response> {
    let bytes = uploaded(&mut form, "file").await?;
    let checked = if bytes.starts_with(b"%PDF-") {
        Some(s.library.check_pdf(bytes).await)
    } else {
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) => Some(match parse_request(v) {
                Ok(doc) => s.library.check_document(&doc).await,
                Err(e) => Err(e),
            }),
            Err(_) => None,
        }
    };
    let (status, file_check, error) = match checked {
        Some(Ok(c)) => {
            let (label, class) = match c.verdict {
                "genuine_current" if c.valid => {
                    ("真实有效：文件由本库签发，且为当前有效版本", "ok")
                }
                "genuine_current" => ("文件真实，但证照不在有效期内", "error"),
                "genuine_superseded" => ("文件真实，但已被新版本替代，请以当前版本为准", "error"),
                "genuine_revoked" => ("文件真实，但证照已注销", "error"),
                "altered" => ("核验未通过：文件内容已被改动或签名无效", "error"),
                "not_issued_here" => ("核验未通过：本库未签发此文件", "error"),
                _ => ("暂时无法确认证照状态，请稍后再试", "error"),
            };
            (
                StatusCode::OK,
                Some(FileCheckRow {
                    label,
                    class,
                    license_id: c.license_id,
                }),
                None,
            )
        }
        Some(Err(Error::Validation(_) | Error::Malformed(_))) | None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Some("无法识别上传的文件：请上传本库出具的PDF版式文件或签名文档。".to_owned()),
        ),
        Some(Err(e)) => return Err(e.into()),
    };
    let mut resp = render(&VerifyPage {
        asked: String::new(),
        error,
        result: None,
        shown: Vec::new(),
        credit_code: String::new(),
        holder_name: String::new(),
        file_check,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// `POST /verify/scan`: a picture of a QR code (a phone's camera through
/// the file input, or a screenshot): read on a blocking thread, and the
/// browser sent to the check page it names on this site, never elsewhere.
pub async fn scan(
    State(s): State<AppState>,
    mut form: axum::extract::Multipart,
) -> ApiResult<Response> {
    let picture = uploaded(&mut form, "picture").await?;
    // Reading a picture takes memory and a core: two at a time in this
    // process; the rest are told to try again (the rate limit is per
    // address, this bounds them all).
    let Ok(slot) = SCAN_SLOTS.try_acquire() else {
        return scan_refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "识别二维码的人较多，请稍后再试，或改用证照标识核验。",
        );
    };
    let read = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        zhengzhao_render::read_qr(&picture)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?;
    let error = match read.map(|text| s.library.scanned_code_path(&text)) {
        Ok(Ok(path)) => {
            return Ok(axum::response::IntoResponse::into_response(
                axum::response::Redirect::to(&path),
            ));
        }
        Ok(Err(_)) => {
            "该二维码不是本库的证照核验码。请勿通过不明二维码办理业务；可改用证照标识核验。"
        }
        Err(zhengzhao_render::QrReadError::NoCode) => {
            "图片中未找到二维码：请让二维码完整、清晰地位于画面中间后重新拍摄。"
        }
        Err(zhengzhao_render::QrReadError::NotAPicture) => {
            "无法识别上传的图片：请上传PNG或JPEG格式的照片或截图。"
        }
    };
    scan_refused(StatusCode::UNPROCESSABLE_ENTITY, error)
}

/// The verify page saying why a picture led nowhere.
fn scan_refused(status: StatusCode, why: &str) -> ApiResult<Response> {
    let mut resp = render(&VerifyPage {
        asked: String::new(),
        error: Some(why.to_owned()),
        result: None,
        shown: Vec::new(),
        credit_code: String::new(),
        holder_name: String::new(),
        file_check: None,
    })?;
    *resp.status_mut() = status;
    Ok(resp)
}

/// Pictures read at once (`scan`).
static SCAN_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The file of the upload's field `name` (empty when none was chosen).
async fn uploaded(form: &mut axum::extract::Multipart, name: &str) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| Error::Malformed(format!("the upload is not a form: {e}")))?
    {
        if field.name() == Some(name) {
            bytes = field
                .bytes()
                .await
                .map_err(|e| Error::Malformed(format!("the file could not be read: {e}")))?
                .to_vec();
        }
    }
    Ok(bytes)
}

/// `GET /verify/{license_id}`: where a license's QR code points.
pub async fn by_id(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    page(&s, &id).await
}

/// Check a signed document the library produced: genuine, matching the
/// library's record (current or older version), or altered (and where).
#[utoipa::path(post, path = "/api/v1/verify/document", tag = "verify", operation_id = "verify_document",
    request_body(content = zhengzhao_core::document_check::DocumentCheckRequest, description = "the signed document as GET /api/v1/licenses/{id}/document gives it (application/json), or the license PDF the library produced (application/pdf)"),
    responses((status = 200, body = DocumentCheck), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn document(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Json<DocumentCheck>> {
    let kind = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let doc = if kind.starts_with("application/pdf") {
        // The embedded document and the file's own signature.
        return Ok(Json(s.library.check_pdf(body.to_vec()).await?));
    } else if kind.starts_with("application/json") {
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Malformed(format!("body is not JSON: {e}")))?;
        parse_request(value)?
    } else {
        return Err(Error::UnsupportedMediaType.into());
    };
    Ok(Json(s.library.check_document(&doc).await?))
}

/// The signed revocation status list (W3C Bitstring Status List shape):
/// cache it and check a license's bit without asking the library.
#[utoipa::path(get, path = "/api/v1/status-list", tag = "verify",
    responses((status = 200, body = zhengzhao_core::status_list::StatusListView)))]
pub async fn status_list(State(s): State<AppState>) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    let view = s.library.status_list().await?;
    let mut resp = Json(view.as_ref().clone()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=60"),
    );
    Ok(resp)
}

/// A per-version status list, SM2-signed by the region: `message` (2 bits
/// an entry: 0 valid, 1 superseded, 2 revoked, 3 under objection; what a
/// schema-2 document's signed `status` names), `revocation` (1 bit: no
/// longer in force) or `suspension` (1 bit: under objection). Refuse a list
/// past its signed `validUntil`.
#[utoipa::path(get, path = "/api/v1/status-lists/{purpose}", tag = "verify",
    params(("purpose" = String, Path, description = "`message`, `revocation` or `suspension`")),
    responses((status = 200, body = zhengzhao_core::status_list::StatusListView),
              (status = 404, body = Problem)))]
pub async fn status_lists(
    State(s): State<AppState>,
    Path(purpose): Path<String>,
) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    let purpose = zhengzhao_core::status_list::StatusPurpose::parse(&purpose)
        .ok_or_else(|| Error::NotFound(format!("status list {purpose}")))?;
    let view = s.library.status_lists().await?.signed(purpose)?;
    let mut resp = Json(view.as_ref().clone()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=60"),
    );
    Ok(resp)
}

/// The issuers' certificates and the root they chain to, for offline checks.
#[utoipa::path(get, path = "/api/v1/certificates", tag = "verify",
    responses((status = 200, body = zhengzhao_core::certificates::CertificateSet)))]
pub async fn certificates(
    State(s): State<AppState>,
) -> ApiResult<Json<zhengzhao_core::certificates::CertificateSet>> {
    Ok(Json(s.library.certificate_set().await?))
}

/// The certificate revocation list of a local CA key (DER, RFC 5280 v2,
/// SM3withSM2): the URL every org certificate names as its CRL
/// distribution point. Lists the certificates of revoked org keys.
#[utoipa::path(get, path = "/api/v1/crl/{ca}", tag = "verify", operation_id = "crl_get",
    params(("ca" = String, Path, description = "key id of the CA (`roots` in /api/v1/certificates)")),
    responses((status = 200, content_type = "application/pkix-crl", body = Vec<u8>),
              (status = 404, body = Problem)))]
pub async fn crl(State(s): State<AppState>, Path(ca): Path<String>) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    let ca = uuid::Uuid::parse_str(&ca).map_err(|_| Error::NotFound(format!("CA {ca}")))?;
    let der = s.library.crl(ca).await?;
    let mut resp = der.into_response();
    let headers = resp.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/pkix-crl"),
    );
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=60"),
    );
    Ok(resp)
}

/// Items looked up together (one query, one transaction of audit events).
const BATCH_CHUNK: usize = 100;

/// Batch check for an authorised platform (role `platform`): up to 1,000
/// (credit code, name) pairs; the answer streams as JSON Lines, one line per
/// item in order, each item its own audit event (an item that could not be
/// checked too: its line has `error`, a stable code, and `message`/`message_zh`).
/// A field longer than its limit refuses the whole request (422) before
/// anything is looked up or logged.
#[utoipa::path(post, path = "/api/v1/verify/batch", tag = "verify",
    request_body = zhengzhao_core::batch_check::BatchRequest, security(("bearer" = [])),
    responses((status = 200, content_type = "application/x-ndjson", body = zhengzhao_core::batch_check::BatchResult), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn batch(
    State(s): State<AppState>,
    caller: crate::auth::Caller,
    ApiJson(req): ApiJson<zhengzhao_core::batch_check::BatchRequest>,
) -> ApiResult<Response> {
    use axum::response::IntoResponse;
    zhengzhao_core::Library::check_batch(&caller, &req)?;
    let items = std::sync::Arc::new(req.items);
    let stream = futures_util::stream::unfold(0usize, move |first| {
        let (s, caller, items) = (s.clone(), caller.clone(), items.clone());
        async move {
            let chunk = items
                .get(first..)?
                .get(..BATCH_CHUNK.min(items.len() - first))?;
            if chunk.is_empty() {
                return None;
            }
            // Every line is a `BatchResult`: a failed item carries a stable
            // code and a message in both languages, never internal text.
            let mut lines = String::new();
            for (offset, result) in s
                .library
                .batch_items(&caller, first, chunk)
                .await
                .iter()
                .enumerate()
            {
                let line = serde_json::to_string(result).unwrap_or_else(|_| {
                    serde_json::json!({"index": first + offset, "exists": false, "error": "unavailable"})
                        .to_string()
                });
                lines.push_str(&line);
                lines.push('\n');
            }
            Some((
                Ok::<_, std::convert::Infallible>(lines),
                first + chunk.len(),
            ))
        }
    });
    let mut resp = axum::body::Body::from_stream(stream).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(resp)
}
