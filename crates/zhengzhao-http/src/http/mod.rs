//! The HTTP surface: routes, middleware, and one place where errors become
//! problem documents (`crate::error`). Handlers only parse and call the
//! service layer.

pub mod apply_page;
pub mod audit;
pub mod batch;
pub mod catalog;
pub mod certificates_page;
pub mod charts;
pub mod console;
pub mod console_catalog;
pub mod console_incidents;
pub mod console_objections;
pub mod console_scenarios;
pub mod console_users;
pub mod health;
pub mod holder_actions;
pub mod holder_pages;
pub mod holder_sign_in;
pub mod holders;
pub mod incidents;
pub mod json;
pub mod licenses;
pub mod login;
pub mod metrics;
pub mod objection_pages;
pub mod objections;
pub mod openapi;
pub mod orgs;
pub mod outbox;
pub mod pages;
pub mod portal;
pub mod presentation;
pub mod rate_limit;
pub mod scenarios;
pub mod shared;
pub mod staff;
pub mod staff_pages;
pub mod tls;
pub mod usage_lists;
pub mod vc;
pub mod verify;

use crate::error::Problem;
use crate::signed_request::digest_signed_bodies;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::borrow::Cow;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;
use zhengzhao_core::Error;
use zhengzhao_core::urls::paths;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Mark an answer that carries a secret or a one-time view as not to be
/// kept by browsers or proxies.
pub(crate) fn no_store(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn not_found() -> impl IntoResponse {
    crate::error::ApiError(Error::NotFound("no such endpoint".into()))
}

/// The body limit of a QR code's picture (a phone camera's JPEG).
const SCAN_BODY_LIMIT: usize = 12 * 1024 * 1024;

/// The body limit of an objection: three attachments of 512 KiB as
/// base64, with the rest of the form.
const OBJECTION_BODY_LIMIT: usize = 3 * 1024 * 1024;

/// Paths whose segment after the prefix is a capability (a presentation
/// token): whoever holds the URL holds the right to see what it shows.
const CAPABILITY_PATHS: [&str; 5] = [
    "/api/v1/presentations/",
    "/verify/p/",
    "/holder/requests/",
    "/api/v1/consent-requests/",
    "/api/v1/shared/copies/",
];

/// The path as the access log records it: capability tokens replaced by
/// `<redacted>` (the rest of the path, e.g. `/qr.png`, is kept).
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    for prefix in CAPABILITY_PATHS {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            let tail = rest.find('/').map_or("", |i| &rest[i..]);
            return Cow::Owned(format!("{prefix}<redacted>{tail}"));
        }
    }
    Cow::Borrowed(path)
}

/// HTML pages (what a browser opens) answer errors as pages; the rest is
/// the API, whose every error is a problem document.
fn is_page(path: &str) -> bool {
    !(path == "/api" || path.starts_with("/api/") || path == "/healthz" || path == "/metrics")
}

/// Error bodies larger than this are not read back (none of ours are).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Middleware: one shape of error per surface. An error some layer or
/// extractor answered in its own way (the body limit's 413, a 405, a
/// rejected path or query, a timeout) becomes an RFC 9457 problem on the
/// API; on a page, every error (the rate limiter's 429 included) becomes
/// an HTML page in Chinese. Status and headers (`Retry-After`, `Allow`)
/// are kept.
async fn uniform_errors(request: axum::extract::Request, next: Next) -> Response {
    let page = is_page(request.uri().path());
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let resp = next.run(request).await;
    if resp.status().as_u16() < 400 {
        return resp;
    }
    let kind = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let is_problem = kind.starts_with("application/problem+json");
    if (page && kind.starts_with("text/html")) || (!page && is_problem) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    let (new_headers, new_body) = if page {
        let problem: Option<serde_json::Value> = if is_problem {
            serde_json::from_slice(&bytes).ok()
        } else {
            None
        };
        let retry_after = parts
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        pages::error_page(parts.status, problem.as_ref(), retry_after, request_id).into_parts()
    } else {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let problem = Problem::for_status(parts.status, Some(text));
        if parts.status == axum::http::StatusCode::UNAUTHORIZED
            && !parts.headers.contains_key(header::WWW_AUTHENTICATE)
        {
            parts.headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"zhengzhao\""),
            );
        }
        let mut resp = serde_json::to_vec(&problem)
            .unwrap_or_default()
            .into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp.into_parts()
    };
    for (name, value) in &new_headers.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, new_body)
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/v1/audit/events", get(audit::events))
        .route("/api/v1/audit/checkpoint", get(audit::latest))
        .route("/api/v1/audit/checkpoints", post(audit::create))
        .route("/api/v1/audit/verifier-key", get(audit::verifier_key))
        .route("/api/v1/audit/proofs/inclusion", get(audit::inclusion))
        .route("/api/v1/audit/proofs/consistency", get(audit::consistency))
        .route("/api/v1/catalog", get(catalog::list).post(catalog::create))
        .route(
            "/api/v1/catalog/{code}",
            get(catalog::get).put(catalog::update),
        )
        .route("/api/v1/catalog/{code}/versions", get(catalog::versions))
        .route(
            "/api/v1/catalog/{code}/versions/{version}",
            get(catalog::version),
        )
        .route("/api/v1/orgs", get(orgs::list).post(orgs::create))
        .route("/api/v1/orgs/{code}", get(orgs::get).patch(orgs::update))
        .route(
            "/api/v1/licenses",
            get(licenses::list).post(licenses::issue),
        )
        .route("/api/v1/licenses/batch", post(batch::batch))
        .route("/api/v1/licenses/{license_id}", get(licenses::get))
        .route(
            "/api/v1/licenses/{license_id}/versions",
            post(licenses::update),
        )
        .route(
            "/api/v1/licenses/{license_id}/revoke",
            post(licenses::revoke),
        )
        .route(
            "/api/v1/licenses/{license_id}/history",
            get(licenses::history),
        )
        .route(
            "/api/v1/licenses/{license_id}/document",
            get(licenses::document),
        )
        .route("/api/v1/licenses/{license_id}/pdf", get(licenses::pdf))
        .route("/api/v1/licenses/{license_id}/vc", get(licenses::vc))
        .route(paths::ORG_VC_KEY, get(orgs::vc_key))
        .route(paths::ORG_CONTROLLER, get(vc::controller))
        .route(paths::LICENSE_CONTEXT, get(vc::license_context))
        .route(
            "/api/v1/licenses/{license_id}/presentations",
            post(presentation::create),
        )
        .route("/api/v1/scenarios/{id}", get(scenarios::get))
        .route("/api/v1/scenarios/{id}/decision", post(scenarios::decide))
        .route(
            "/api/v1/scenarios/{id}/credentials",
            post(scenarios::credentials),
        )
        .route("/api/v1/shared/queries", post(shared::query))
        .route(
            "/api/v1/shared/consent-requests",
            post(shared::consent_request),
        )
        .route(
            "/api/v1/shared/licenses/{license_id}/copies",
            post(shared::copy),
        )
        .route(
            "/api/v1/consent-requests/{token}/approve",
            post(holders::approve_request),
        )
        .route(
            "/api/v1/consent-requests/{token}/decline",
            post(holders::decline_request),
        )
        .route("/api/v1/usage-lists/{org}", get(usage_lists::list))
        .route(
            "/api/v1/usage-lists/{org}/items/{item_code}",
            get(usage_lists::get).put(usage_lists::put),
        )
        .route("/api/v1/usage/check", post(usage_lists::check))
        .route("/api/v1/incidents", post(incidents::open))
        .route("/api/v1/incidents/{id}", get(incidents::get))
        .route("/api/v1/incidents/{id}/backlog", post(incidents::backlog))
        .route("/api/v1/incidents/{id}/close", post(incidents::close))
        .route("/api/v1/objections/{ticket}", get(objections::get))
        .route(
            "/api/v1/objections/{ticket}/attachments/{n}",
            get(objections::attachment),
        )
        .route("/api/v1/objections/{ticket}/{step}", post(objections::step))
        .route("/api/v1/outbox", get(outbox::list))
        .route("/api/v1/outbox/{id}", get(outbox::get))
        .route("/api/v1/outbox/{id}/replay", post(outbox::replay))
        .route("/api/v1/holder/licenses", get(holders::licenses))
        .route("/api/v1/holder/usage", get(holders::usage))
        .route("/api/v1/holder/session", get(holder_sign_in::session))
        .route("/api/v1/holder/sign-out", post(holder_sign_in::sign_out))
        .route("/api/v1/consents", get(holders::list).post(holders::grant))
        .route("/api/v1/consents/{id}/withdraw", post(holders::withdraw))
        .route("/api/v1/users", get(staff::list).post(staff::create))
        .route("/api/v1/users/{id}", get(staff::get).patch(staff::update))
        .route("/api/v1/users/{id}/reset", post(staff::reset))
        .route(
            "/api/v1/session",
            get(staff::current).post(staff::login).delete(staff::logout),
        )
        .route("/api/v1/session/password", post(staff::change_password))
        .route("/login", get(login::login_form).post(login::login_submit))
        .route("/logout", post(login::logout))
        .route("/account", get(login::account))
        .route("/account/password", post(login::change_password))
        .route("/catalog", get(pages::catalog))
        .route("/certificates", get(certificates_page::page))
        .route("/console", get(console::dashboard))
        .route("/console/licenses", get(console::licenses))
        .route("/console/audit", get(console::audit))
        .route(
            "/console/incidents",
            get(console_incidents::list).post(console_incidents::open),
        )
        .route(
            "/console/incidents/{id}/close",
            post(console_incidents::close),
        )
        .route(
            "/console/incidents/{id}/backlog",
            post(console_incidents::backlog),
        )
        .route(
            "/console/users",
            get(console_users::list).post(console_users::create),
        )
        .route("/console/users/{id}/{act}", post(console_users::act))
        .route(
            "/console/licenses/new",
            get(console::issue_form).post(console::issue_submit),
        )
        .route("/console/licenses/{license_id}", get(console::license))
        .route(
            "/console/licenses/{license_id}/update",
            post(console::update_submit),
        )
        .route(
            "/console/licenses/{license_id}/revoke",
            post(console::revoke_submit),
        )
        .route(
            "/console/catalog",
            get(console_catalog::list).post(console_catalog::create),
        )
        .route("/console/catalog/new", get(console_catalog::new_form))
        .route(
            "/console/catalog/{code}",
            get(console_catalog::edit_form).post(console_catalog::update),
        )
        .route("/console/scenarios", get(console_scenarios::list))
        .route(
            "/console/scenarios/file",
            get(apply_page::filing_form).post(apply_page::filing_submit),
        )
        .route(
            "/console/scenarios/{id}/decision",
            post(console_scenarios::decide),
        )
        .route("/console/objections", get(console_objections::list))
        .route("/console/objections/{ticket}", get(console_objections::get))
        .route(
            "/console/objections/{ticket}/{step}",
            post(console_objections::step),
        )
        .route("/holder", get(holder_pages::page))
        .route("/holder/licenses/{license_id}/pdf", get(holder_pages::pdf))
        .route(
            "/holder/consents/{id}/withdraw",
            post(holder_pages::withdraw),
        )
        .route("/holder/sign-out", post(holder_pages::sign_out))
        .route(
            "/holder/licenses/{license_id}/present",
            get(holder_actions::present_form).post(holder_actions::present),
        )
        .route("/holder/consents/new", get(holder_actions::consent_form))
        .route("/holder/consents", post(holder_actions::consent_grant))
        .route(
            "/holder/requests/{token}",
            get(holder_actions::request_view),
        )
        .route(
            "/holder/requests/{token}/{answer}",
            post(holder_actions::request_answer),
        )
        .route("/mode/large", get(portal::large))
        .route("/mode/standard", get(portal::standard))
        .route("/assets/mode.css", get(portal::mode_css))
        .route("/assets/page.js", get(portal::page_js))
        .route("/", get(pages::index))
        .route("/metrics", get(metrics::render))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ));

    // Public verification, limited per client address.
    let limiter = rate_limit::PublicLimiter::new(state.config.public_rate_limit);
    let public = Router::new()
        .route("/api/v1/verify/document", post(verify::document))
        .route("/api/v1/verify/batch", post(verify::batch))
        // Applications through the public portal: rate-limited like the
        // checks (the staff list shares the path, and so the limit).
        .route(
            "/api/v1/scenarios",
            post(scenarios::create).get(scenarios::list),
        )
        // Objections from the public form and API (and channels), and the
        // handlers' list on the same path.
        // An objection carries up to three files of 512 KiB (base64 in
        // the API's JSON): more than the default body limit.
        .route(
            "/api/v1/objections",
            post(objections::submit)
                .get(objections::list)
                .layer(DefaultBodyLimit::max(OBJECTION_BODY_LIMIT)),
        )
        .route(
            "/objections/new",
            get(objection_pages::new_form)
                .post(objection_pages::new_submit)
                .layer(DefaultBodyLimit::max(OBJECTION_BODY_LIMIT)),
        )
        // The relying party's application through the portal (rate-limited
        // like the API's).
        .route("/apply", get(apply_page::form).post(apply_page::submit))
        .route(paths::STATUS_LIST, get(verify::status_list))
        .route(paths::STATUS_LISTS, get(verify::status_lists))
        .route(paths::ORG_STATUS_LIST_CREDENTIAL, get(vc::org_status_list))
        .route(
            paths::REGION_STATUS_LIST_CREDENTIAL,
            get(vc::region_status_list),
        )
        .route("/api/v1/presentations/{token}", get(presentation::scan))
        .route(paths::PRESENTATION_QR_PNG, get(presentation::qr_png))
        .route(paths::PRESENTATION_QR_SVG, get(presentation::qr_svg))
        .route(paths::PRESENTATION_PAGE, get(presentation::page))
        // An annotated copy's one-time link (a capability).
        .route("/api/v1/shared/copies/{token}", get(shared::download))
        // A holder signing in at the identity provider (each begin stores
        // a sign-in for ten minutes: limited like the public checks).
        .route("/api/v1/holder/sign-in", get(holder_sign_in::begin))
        .route(
            paths::HOLDER_SIGN_IN_CALLBACK,
            get(holder_sign_in::callback),
        )
        // A counter's consent request, read by the holder's app (a capability).
        .route(
            "/api/v1/consent-requests/{token}",
            get(holders::consent_request),
        )
        .route("/api/v1/certificates", get(verify::certificates))
        .route(paths::CRL, get(verify::crl))
        .route("/api/v1/verify/{license_id}", get(verify::check))
        .route("/verify", get(verify::form))
        .route("/verify/file", post(verify::file))
        // A phone's photo is a few megabytes.
        .route(
            "/verify/scan",
            post(verify::scan).layer(DefaultBodyLimit::max(SCAN_BODY_LIMIT)),
        )
        .route(paths::VERIFY_PAGE, get(verify::by_id))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .route_layer(middleware::from_fn_with_state(
            limiter,
            rate_limit::limit_public,
        ));
    // Tracking an objection: a few tries a minute per address, so tickets
    // and codes cannot be found by trying.
    let track_limiter =
        rate_limit::PublicLimiter::per_minute(state.config.objection_track_per_minute);
    let track = Router::new()
        .route("/api/v1/objections/track", post(objections::track))
        .route(
            "/objections/track",
            get(objection_pages::track_form).post(objection_pages::track_submit),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .route_layer(middleware::from_fn_with_state(
            track_limiter,
            rate_limit::limit_public,
        ));
    let api = api.merge(public).merge(track);

    let max_body = state.config.max_body_bytes;
    // A bearer token is checked on every route, public ones included: a
    // present but invalid token is a 401 everywhere.
    let api = api.layer(middleware::from_fn_with_state(
        state.clone(),
        crate::auth::check_bearer,
    ));
    // Signed requests: the body's SM3 is taken before any handler runs
    // (and before the bearer check, which verifies the signature).
    let api = api.layer(middleware::from_fn_with_state(
        max_body,
        digest_signed_bodies,
    ));
    let trusted = Arc::new(tls::TrustedProxies(state.config.trusted_proxies.clone()));
    let timeout = state.config.request_timeout;
    // HSTS only when this server itself speaks TLS: sent over plain HTTP it
    // would be ignored, and behind a proxy the proxy sets it.
    let hsts = state.config.tls.is_some().then(|| {
        SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", openapi::ApiDoc::openapi()))
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(middleware::from_fn(uniform_errors))
        .layer(middleware::from_fn_with_state(trusted, tls::resolve_client))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only, with capability tokens redacted: query
                // strings may carry identifiers, and headers
                // (Authorization) are never logged.
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %loggable_path(req.uri().path()))
            })
            // One access-log line per response, with status and latency.
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(tower::util::option_layer(hsts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_tokens_are_redacted_from_logged_paths() {
        assert_eq!(
            loggable_path("/api/v1/presentations/eyJs.abc"),
            "/api/v1/presentations/<redacted>"
        );
        assert_eq!(
            loggable_path("/api/v1/presentations/eyJs.abc/qr.png"),
            "/api/v1/presentations/<redacted>/qr.png"
        );
        assert_eq!(loggable_path("/verify/p/eyJs.abc"), "/verify/p/<redacted>");
        assert_eq!(
            loggable_path("/holder/requests/eyJy.abc/approve"),
            "/holder/requests/<redacted>/approve"
        );
        assert_eq!(
            loggable_path("/verify/11100000MB0143028R001"),
            "/verify/11100000MB0143028R001"
        );
        assert_eq!(
            loggable_path("/api/v1/presentations/"),
            "/api/v1/presentations/"
        );
        // A counter's consent request and an annotated copy's link.
        assert_eq!(
            loggable_path("/api/v1/consent-requests/eyJy.abc/approve"),
            "/api/v1/consent-requests/<redacted>/approve"
        );
        assert_eq!(
            loggable_path("/api/v1/shared/copies/eyJj.abc"),
            "/api/v1/shared/copies/<redacted>"
        );
    }
}
