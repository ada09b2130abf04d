//! QR presentation (亮证) over HTTP: making a token (the issuing org's
//! clerks), scanning it (anyone: JSON or the verify page), and its QR code
//! as PNG or SVG. Scans and images are rate-limited per address.

use crate::auth::{Caller, ClientIp};
use crate::error::{ApiResult, Problem};
use crate::http::json::ApiJson;
use crate::http::no_store;
use crate::http::pages::render;
use crate::http::verify::{VerifyPage, row};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use zhengzhao_core::Error;
use zhengzhao_core::presentation::{Presentation, PresentationRequest, PresentedLicense};

/// Make a presentation token for one license (issuer clerk of the issuing org).
#[utoipa::path(post, path = "/api/v1/licenses/{license_id}/presentations", tag = "verify", operation_id = "presentations_create",
    request_body = PresentationRequest, security(("bearer" = [])),
    responses((status = 201, body = Presentation), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PresentationRequest>,
) -> ApiResult<(StatusCode, Json<Presentation>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.library.create_presentation(&caller, &id, req).await?),
    ))
}

/// Scan a presentation token: the public check and the chosen fields.
#[utoipa::path(get, path = "/api/v1/presentations/{token}", tag = "verify",
    responses((status = 200, body = PresentedLicense), (status = 410, body = Problem, description = "expired or already used"), (status = 422, body = Problem, description = "not genuine")))]
pub async fn scan(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let shown = s.library.scan_presentation(&token, ip).await?;
    Ok(no_store(Json(shown).into_response()))
}

/// `GET /verify/p/{token}`: what a phone shows after scanning the QR code.
pub async fn page(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let (status, error, shown) = match s.library.scan_presentation(&token, ip).await {
        Ok(p) => (StatusCode::OK, None, Some(p)),
        Err(Error::Gone(_)) => (
            StatusCode::GONE,
            Some("亮证码已过期或已使用，请持证主体重新出示。".to_owned()),
            None,
        ),
        Err(Error::Validation(_)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("亮证码无效：不是本库生成的，或已被篡改。".to_owned()),
            None,
        ),
        Err(e) => return Err(e.into()),
    };
    let mut resp = render(&VerifyPage {
        asked: shown
            .as_ref()
            .map(|p| p.license.license_id.to_string())
            .unwrap_or_default(),
        error,
        result: shown.as_ref().map(|p| row(&p.license)),
        shown: shown
            .map(|p| {
                p.fields
                    .into_iter()
                    .map(|f| {
                        let v = match f.value {
                            serde_json::Value::String(s) => s,
                            serde_json::Value::Null => "—".to_owned(),
                            other => other.to_string(),
                        };
                        (f.label, v)
                    })
                    .collect()
            })
            .unwrap_or_default(),
        credit_code: String::new(),
        holder_name: String::new(),
        file_check: None,
    })?;
    *resp.status_mut() = status;
    Ok(no_store(resp))
}

fn image(body: Vec<u8>, kind: &'static str) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    no_store(resp)
}

fn qr_error(e: zhengzhao_render::RenderError) -> Error {
    Error::Internal(e.to_string())
}

/// The token's QR code as PNG (the picture shows nothing by itself; the scan is recorded).
#[utoipa::path(get, path = "/api/v1/presentations/{token}/qr.png", tag = "verify",
    responses((status = 200, content_type = "image/png", description = "the QR code"), (status = 422, body = Problem)))]
pub async fn qr_png(State(s): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    let url = s.library.presentation_qr_target(&token)?;
    Ok(image(
        zhengzhao_render::qr_png(&url, 8).map_err(qr_error)?,
        "image/png",
    ))
}

/// The token's QR code as SVG.
#[utoipa::path(get, path = "/api/v1/presentations/{token}/qr.svg", tag = "verify",
    responses((status = 200, content_type = "image/svg+xml", description = "the QR code"), (status = 422, body = Problem)))]
pub async fn qr_svg(State(s): State<AppState>, Path(token): Path<String>) -> ApiResult<Response> {
    let url = s.library.presentation_qr_target(&token)?;
    Ok(image(
        zhengzhao_render::qr_svg(&url, 320)
            .map_err(qr_error)?
            .into_bytes(),
        "image/svg+xml",
    ))
}
