//! The HTTP side of signed requests (the scheme: `zhengzhao_core::signed_request`):
//! the body of a request that carries a signature is read here, within the
//! body limit, and its SM3 noted for the core to check against.

use crate::error::ApiError;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use zhengzhao_core::Error;
use zhengzhao_core::signed_request::{BodyDigest, SIGNATURE_HEADER, body_sm3_hex};

/// Middleware: for requests that carry a signature, read the body (within
/// the body limit), note its SM3 for the authenticator, and pass it on.
pub async fn digest_signed_bodies(
    State(max_body): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    if !request.headers().contains_key(SIGNATURE_HEADER) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, max_body).await else {
        return ApiError(Error::TooLarge).into_response();
    };
    parts.extensions.insert(BodyDigest(body_sm3_hex(&bytes)));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
