//! What a Verifiable Credential's verifier dereferences (issue 11 §3),
//! public and without a token: the license vocabulary's JSON-LD context, an
//! org's controller document, and the Bitstring Status List credentials.
//! The credential itself (`/api/v1/licenses/{id}/vc`) and the key
//! (`/api/v1/orgs/{code}/vc-key`) are in `licenses.rs` and `orgs.rs`.

use crate::error::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use zhengzhao_core::Error;
use zhengzhao_core::status_list::StatusPurpose;
use zhengzhao_core::vc::LICENSE_CONTEXT;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};

fn with_type(body: impl IntoResponse, media_type: &'static str, cache: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    resp
}

fn json_ld(v: &Value, media_type: &'static str, cache: &'static str) -> ApiResult<Response> {
    let body = serde_json::to_vec(v).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(with_type(body, media_type, cache))
}

/// A list's purpose, or 404.
fn parse_purpose(raw: &str) -> zhengzhao_core::Result<StatusPurpose> {
    StatusPurpose::parse(raw).ok_or_else(|| {
        Error::NotFound(format!(
            "status list {raw:?} (one of message, revocation, suspension) / 没有这个状态列表"
        ))
    })
}

/// An org of the tree, or 404.
async fn known_org(s: &AppState, raw: &str) -> zhengzhao_core::Result<OrgCode> {
    let code = OrgCode::parse(raw).map_err(|e| Error::Validation(vec![e.at("code")]))?;
    s.library
        .cached_org(&code)
        .await?
        .map(|o| o.code.clone())
        .ok_or_else(|| Error::NotFound(format!("org {code}")))
}

/// The JSON-LD context of the license vocabulary (every term of a license
/// credential); the same text is compiled into the library and bundled by
/// verifiers, so it never changes under a published URL.
#[utoipa::path(get, path = "/ns/license/v1", tag = "verify",
    responses((status = 200, description = "JSON-LD context", content_type = "application/ld+json")))]
pub async fn license_context() -> Response {
    with_type(
        LICENSE_CONTEXT,
        "application/ld+json",
        "public, max-age=86400",
    )
}

/// The org's controller document: its Ed25519 key (Multikey) may assert
/// credentials for it. A credential's `issuer.id` is this URL.
#[utoipa::path(get, path = "/api/v1/orgs/{code}/controller", tag = "verify",
    params(("code" = String, Path, description = "org code")),
    responses((status = 200, description = "controller document", content_type = "application/ld+json"),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn controller(
    State(s): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let org = known_org(&s, &code).await?;
    json_ld(
        &s.library.vc_controller_document(&org)?,
        "application/ld+json",
        "public, max-age=3600",
    )
}

/// The library's status list for `purpose` as a W3C
/// `BitstringStatusListCredential` issued and signed (eddsa-jcs-2022) by
/// the org, valid from `validFrom` to `validUntil`. Every org's copy holds
/// the same bits; a credential points at its issuer's copy, because
/// verifiers require the list's issuer to be the credential's.
#[utoipa::path(get, path = "/api/v1/orgs/{code}/status-lists/{purpose}/credential", tag = "verify",
    params(("code" = String, Path, description = "org code"),
        ("purpose" = String, Path, description = "message, revocation or suspension")),
    responses((status = 200, description = "BitstringStatusListCredential", content_type = "application/vc+ld+json"),
        (status = 404, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn org_status_list(
    State(s): State<AppState>,
    Path((code, purpose)): Path<(String, String)>,
) -> ApiResult<Response> {
    let purpose = parse_purpose(&purpose)?;
    let org = known_org(&s, &code).await?;
    let url = s.library.status_list_credential_url(&org, purpose);
    let credential = s
        .library
        .org_status_list_credential(&org, &url, purpose)
        .await?;
    json_ld(&credential, "application/vc+ld+json", "public, max-age=60")
}

/// The same list signed by the region (the library as a whole).
#[utoipa::path(get, path = "/api/v1/status-lists/{purpose}/credential", tag = "verify",
    params(("purpose" = String, Path, description = "message, revocation or suspension")),
    responses((status = 200, description = "BitstringStatusListCredential", content_type = "application/vc+ld+json"),
        (status = 404, body = Problem), (status = 429, body = Problem)))]
pub async fn region_status_list(
    State(s): State<AppState>,
    Path(purpose): Path<String>,
) -> ApiResult<Response> {
    let purpose = parse_purpose(&purpose)?;
    let region = OrgCode::parse(REGION_CODE).map_err(|e| Error::Internal(e.to_string()))?;
    let url = s.library.library_status_list_credential_url(purpose);
    let credential = s
        .library
        .org_status_list_credential(&region, &url, purpose)
        .await?;
    json_ld(&credential, "application/vc+ld+json", "public, max-age=60")
}
