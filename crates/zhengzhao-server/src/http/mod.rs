//! The HTTP surface: routes, middleware, and one place where errors become
//! problem documents (`crate::error`). Handlers only parse and call the
//! service layer.

pub mod audit;
pub mod catalog;
pub mod health;
pub mod json;
pub mod licenses;
pub mod login;
pub mod metrics;
pub mod openapi;
pub mod orgs;
pub mod pages;
pub mod presentation;
pub mod rate_limit;
pub mod staff;
pub mod tls;
pub mod verify;

use crate::error::ApiError;
use crate::signed_request::digest_signed_bodies;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Mark an answer that carries a secret or a one-time view as not to be
/// kept by browsers or proxies.
pub(crate) fn no_store(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn not_found() -> impl IntoResponse {
    ApiError::NotFound("no such endpoint".into())
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/api/v1/audit/events", get(audit::events))
        .route("/api/v1/audit/checkpoint", get(audit::latest))
        .route("/api/v1/audit/checkpoints", post(audit::create))
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
        .route("/api/v1/orgs/{code}/vc-key", get(orgs::vc_key))
        .route(
            "/api/v1/licenses/{license_id}/presentations",
            post(presentation::create),
        )
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
        .route("/api/v1/status-list", get(verify::status_list))
        .route("/api/v1/presentations/{token}", get(presentation::scan))
        .route(
            "/api/v1/presentations/{token}/qr.png",
            get(presentation::qr_png),
        )
        .route(
            "/api/v1/presentations/{token}/qr.svg",
            get(presentation::qr_svg),
        )
        .route("/verify/p/{token}", get(presentation::page))
        .route("/api/v1/certificates", get(verify::certificates))
        .route("/api/v1/verify/{license_id}", get(verify::check))
        .route("/verify", get(verify::form))
        .route("/verify/{license_id}", get(verify::by_id))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .route_layer(middleware::from_fn_with_state(
            limiter,
            rate_limit::limit_public,
        ));
    let api = api.merge(public);

    let max_body = state.config.max_body_bytes;
    // Signed requests: the body's SM3 is taken before any handler runs.
    let api = api.layer(middleware::from_fn_with_state(
        max_body,
        digest_signed_bodies,
    ));
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
                // The path only: query strings may carry identifiers, and
                // headers (Authorization) are never logged.
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            })
            // One access-log line per response, with status and latency.
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(tower::util::option_layer(hsts))
}
