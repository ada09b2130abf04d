//! `/api/v1/licenses`: the write contract business systems integrate with,
//! and the reads of issuing staff.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::json::{ApiQuery, JsonBody};
use crate::service::Library;
use crate::service::licenses::{IssueRequest, LicenseView, RevokeRequest, UpdateRequest};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::role::Role;
use zhengzhao_store::{DeliveryRecord, LicenseFilter};

/// Issue a license. Replaying the same request (same `source`) returns the
/// same license with 200; a different request for the same source is a 409.
#[utoipa::path(post, path = "/api/v1/licenses", tag = "licenses", request_body = IssueRequest, security(("bearer" = [])),
    responses((status = 201, body = LicenseView), (status = 200, body = LicenseView, description = "replay of an earlier identical request"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "the source record was used with other data; or the type allows one current license per holder and the holder has one (`/problems/current-license-exists`, naming it in `existing_license_id` when the caller may learn it)"),
        (status = 422, body = Problem)))]
pub async fn issue(
    State(s): State<AppState>,
    caller: Caller,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    Library::require_role(&caller, &[Role::IssuerClerk])?;
    let req: IssueRequest = body.parse()?;
    let (rec, created) = s.library.issue_license(&caller, req).await?;
    let view = if created {
        s.library.issued_view(&caller, &rec).await?
    } else {
        s.library.current_view(&caller, &rec).await?
    };
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(view),
    ))
}

/// A license by any of its versions' identifiers; the answer says which version is current.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}", tag = "licenses", operation_id = "licenses_get", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "GB/T 36904 identifier of any version")),
    responses((status = 200, body = LicenseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<LicenseView>> {
    let (rec, asked) = s.library.find_license(&id).await?;
    s.library.require_reader(&caller, &rec).await?;
    let view = s.library.license_view(&caller, &rec, &asked).await?;
    s.library
        .record_read(
            &caller,
            "license.read",
            format!("license:{asked}"),
            Library::read_detail(&caller, &rec),
        )
        .await?;
    Ok(Json(view))
}

/// Update: issue the next version (with the changed paper license).
#[utoipa::path(post, path = "/api/v1/licenses/{license_id}/versions", tag = "licenses", operation_id = "licenses_update", request_body = UpdateRequest, security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of any version")),
    responses((status = 201, body = LicenseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    Library::require_role(&caller, &[Role::IssuerClerk])?;
    let req: UpdateRequest = body.parse()?;
    let rec = s.library.update_license(&caller, &id, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(s.library.current_view(&caller, &rec).await?),
    ))
}

/// Revoke a license, with a reason.
#[utoipa::path(post, path = "/api/v1/licenses/{license_id}/revoke", tag = "licenses", request_body = RevokeRequest, security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of any version")),
    responses((status = 200, body = LicenseView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult<Json<LicenseView>> {
    Library::require_role(&caller, &[Role::IssuerClerk])?;
    let req: RevokeRequest = body.parse()?;
    let rec = s.library.revoke_license(&caller, &id, req).await?;
    Ok(Json(s.library.current_view(&caller, &rec).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// Every version, oldest first, each as the API shows it.
    pub versions: Vec<LicenseView>,
    #[schema(value_type = Vec<Object>)]
    pub deliveries: Vec<DeliveryRecord>,
}

/// Every version of a license and every delivery.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/history", tag = "licenses", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of any version")),
    responses((status = 200, body = History), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn history(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<History>> {
    let (rec, _) = s.library.find_license(&id).await?;
    s.library.require_reader(&caller, &rec).await?;
    let mut versions = Vec::with_capacity(rec.versions.len());
    for v in &rec.versions {
        versions.push(s.library.license_view(&caller, &rec, &v.license_id).await?);
    }
    let deliveries = s.store.deliveries_of(rec.key).await?;
    let asked = rec
        .versions
        .first()
        .map(|v| v.license_id.to_string())
        .unwrap_or_default();
    s.library
        .record_read(
            &caller,
            "license.read_history",
            format!("license:{asked}"),
            Library::read_detail(&caller, &rec),
        )
        .await?;
    Ok(Json(History {
        versions,
        deliveries,
    }))
}

/// The signed document of the version the identifier names.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedDocument {
    pub license_id: String,
    pub version: u16,
    /// The RFC 8785 canonical JSON text that was signed, byte for byte.
    pub payload: String,
    /// Base64 of the DER SM2-with-SM3 signature (distinguishing id 1234567812345678).
    pub signature: String,
    /// The signer's X.509 certificate, PEM.
    pub certificate: String,
    /// `zhengzhao.license/2` (the status entry is signed into the payload)
    /// or `zhengzhao.license/1` (older: status only from the lists below).
    pub schema: String,
    /// This version's bit in the one-bit revocation list at
    /// `status_list_url` (set: no longer in force). Schema 2: the version's
    /// own index in `/api/v1/status-lists/revocation` (the payload's signed
    /// `status` names its 2-bit entry in `/api/v1/status-lists/message`);
    /// schema 1: the license's key in `/api/v1/status-list`.
    pub status_list_index: i64,
    pub status_list_url: String,
}

/// The signed document: verify with OpenSSL alone (see README).
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/document", tag = "licenses", operation_id = "licenses_document", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of the version wanted")),
    responses((status = 200, body = SignedDocument), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn document(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SignedDocument>> {
    let (rec, at) = s
        .library
        .disclose_version(&caller, &id, "license.read_document")
        .await?;
    let v = &rec.versions[at];
    let doc = signed_document(&s, &rec, v)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("signing key {} missing", v.key_id)))?;
    Ok(Json(doc))
}

/// The signed document of `v`, if its signing key is on record.
async fn signed_document(
    s: &AppState,
    rec: &zhengzhao_store::LicenseRecord,
    v: &zhengzhao_store::LicenseVersionRecord,
) -> ApiResult<Option<SignedDocument>> {
    let schema = crate::service::licenses::payload_schema(&v.payload);
    let (status_list_index, status_list_url) = if schema == crate::service::licenses::SCHEMA_1 {
        (rec.key, s.library.status_list_url())
    } else {
        (
            v.status_index,
            s.library
                .status_lists_url(crate::service::status_list::StatusPurpose::Revocation),
        )
    };
    Ok(s.store
        .signing_key(v.key_id)
        .await?
        .map(|key| SignedDocument {
            license_id: v.license_id.to_string(),
            version: v.version,
            payload: v.payload.clone(),
            signature: base64::engine::general_purpose::STANDARD.encode(&v.signature),
            certificate: key.certificate_pem,
            schema,
            status_list_index,
            status_list_url,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Holder's unified social credit code or resident id.
    pub holder: Option<String>,
    /// License type code.
    #[serde(rename = "type")]
    pub type_code: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LicensePage {
    pub items: Vec<LicenseView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Licenses of this page left out because their stored data cannot be
    /// read now (the operator is told); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// Licenses issued within the caller's org subtree, newest first (keyset pagination).
#[utoipa::path(get, path = "/api/v1/licenses", tag = "licenses", operation_id = "licenses_list", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = LicensePage), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<LicensePage>> {
    Library::require_role(&caller, &Role::STAFF)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "range",
            "limit must be 1-100",
            "每页条数应为1至100",
        ));
    }
    let type_code = q
        .type_code
        .as_deref()
        .map(|t| LicenseTypeCode::parse(t).map_err(|e| ApiError::Validation(vec![e.at("type")])))
        .transpose()?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                ApiError::field(
                    "cursor",
                    "cursor",
                    "not a cursor from this API",
                    "分页游标无效",
                )
            })
        })
        .transpose()?;
    let filter = LicenseFilter {
        // A natural person's resident id is stored as its blind index.
        holder_id: match q.holder.map(|h| h.trim().to_uppercase()) {
            Some(h) if zhengzhao_domain::codes::ResidentId::parse(&h).is_ok() => {
                Some(s.library.holder_index(&h)?)
            }
            other => other,
        },
        type_code,
        issuer_within: Some(caller.org.clone()),
    };
    // A license that cannot be read is named and left out; the page goes on.
    let opened = s.library.open_page(&filter, before, limit).await?;
    let next_cursor = opened
        .full
        .then(|| opened.next_before.map(|k| k.to_string()))
        .flatten();
    let page = opened.licenses;
    // Deliveries of the whole page in one query (not one per license).
    let items = s.library.current_views(&caller, &page).await?;
    // One event per page, naming every license shown.
    let shown: Vec<String> = items.iter().map(|v| v.license_id.to_string()).collect();
    s.library
        .record_read(
            &caller,
            "license.list",
            format!("org:{}", caller.org),
            // The holder filter may be a resident id: only its masked form is kept.
            serde_json::json!({
                "licenses": shown,
                "unreadable": opened.unreadable,
                "holder": filter.holder_id.as_deref().map(crate::service::privacy::mask_text),
                "type": filter.type_code,
            }),
        )
        .await?;
    Ok(Json(LicensePage {
        items,
        next_cursor,
        unreadable: opened.unreadable,
    }))
}

/// The license as a printable A4 file (PDF), with a QR code linking to its
/// public check, signed by the issuer over the whole file (SM2 in CMS); a
/// revoked or superseded version says so on its face.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/pdf", tag = "licenses", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of the version wanted")),
    responses((status = 200, content_type = "application/pdf", description = "the license file"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn pdf(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (rec, at) = s
        .library
        .disclose_version(&caller, &id, "license.read_pdf")
        .await?;
    let v = &rec.versions[at];
    let view = s.library.license_view(&caller, &rec, &v.license_id).await?;
    let mut print = s.library.print_view(&view).await?;
    // The signed document rides inside the PDF, so the file itself can be
    // checked (`POST /api/v1/verify/document` with the PDF).
    if let Some(doc) = signed_document(&s, &rec, v).await? {
        print.attachment = Some(
            serde_json::json!({ crate::service::document_check::PDF_DOCUMENT_KEY: doc })
                .to_string(),
        );
    }
    // The file itself is signed by the issuer (what its face says); the
    // signature is a PDF one, so no other format is served unsigned.
    if s.renderer.media_type() != "application/pdf" {
        return Err(ApiError::Internal(format!(
            "no file signature for {}",
            s.renderer.media_type()
        )));
    }
    let signer = s.library.pdf_signer(&rec.issuer, v.key_id).await?;
    if signer.test_certificate {
        print
            .notices
            .push(crate::service::pdf_signature::TEST_CERTIFICATE_NOTICE.to_owned());
    }
    let renderer = s.renderer.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let pdf = renderer.render(&print).map_err(|e| match e {
            zhengzhao_render::RenderError::MissingGlyphs(chars) => ApiError::Conflict(format!(
                "the license contains characters the embedded font cannot print: {chars}"
            )),
            other => ApiError::Internal(other.to_string()),
        })?;
        signer.sign(pdf)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let disposition = format!(
        "inline; filename=\"license-{}.{}\"",
        view.version,
        s.renderer.file_extension()
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                s.renderer.media_type().to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// The license as a W3C Verifiable Credential 2.0 with an `eddsa-jcs-2022`
/// proof by the issuer's Ed25519 key (beside the SM2 document). Same access
/// as the document: it carries the face data.
#[utoipa::path(get, path = "/api/v1/licenses/{license_id}/vc", tag = "licenses", security(("bearer" = [])),
    params(("license_id" = String, Path, description = "identifier of the version wanted")),
    responses((status = 200, content_type = "application/vc+ld+json", description = "the credential"), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn vc(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (rec, at) = s
        .library
        .disclose_version(&caller, &id, "license.read_vc")
        .await?;
    let v = &rec.versions[at];
    let credential = s.library.license_vc(&rec, v).await?;
    let mut resp = Json(credential).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/vc+ld+json"),
    );
    Ok(resp)
}
