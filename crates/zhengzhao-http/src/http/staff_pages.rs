//! What every console page shares: the signed-in staff member (or where to
//! send the browser instead), the session's CSRF token its forms carry, and
//! a submitted form (`portal::Form`), taken only with that token.

use crate::auth::PageSession;
use crate::http::portal::Form;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use zhengzhao_core::secrets::same_secret;
use zhengzhao_core::{Error, Principal};

/// The signed-in staff member, or where to send the browser: the login,
/// or the account page while the initial password is not yet changed.
pub(crate) fn staff(caller: Option<Principal>) -> Result<Principal, Box<Response>> {
    match caller {
        None => Err(Box::new(Redirect::to("/login").into_response())),
        Some(c) if c.session.as_ref().is_some_and(|s| s.must_change_password) => {
            Err(Box::new(Redirect::to("/account").into_response()))
        }
        Some(c) => Ok(c),
    }
}

/// The session's CSRF token, for the hidden field of each form.
pub(crate) fn csrf_of(c: &Principal) -> String {
    c.session
        .as_ref()
        .map(|s| s.csrf_token.clone())
        .unwrap_or_default()
}

/// A form posted by a signed-in staff member with its session's CSRF
/// token (compared in constant time), or the answer instead: where to go
/// (not signed in), or the CSRF refusal.
pub(crate) fn staff_form(
    caller: Option<Principal>,
    body: &Bytes,
) -> Result<(Principal, Form), Box<Response>> {
    let c = staff(caller)?;
    let form = Form::parse(body);
    let ok = c
        .session
        .as_ref()
        .is_some_and(|s| same_secret(&form.get("csrf_token"), &s.csrf_token));
    if ok {
        Ok((c, form))
    } else {
        Err(Box::new(
            crate::error::ApiError(Error::Csrf).into_response(),
        ))
    }
}

/// A console page's signed-in staff member, as an extractor: without one
/// the browser is sent where `staff` says (login, or the account page).
pub struct StaffPage(pub Principal);

impl FromRequestParts<AppState> for StaffPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let PageSession(caller) = PageSession::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        staff(caller).map(StaffPage).map_err(|r| *r)
    }
}

/// A console form, as an extractor (the last argument: it reads the body):
/// the signed-in staff member and the form, taken only with its session's
/// CSRF token (`staff_form`).
pub struct StaffForm(pub Principal, pub(crate) Form);

impl FromRequest<AppState> for StaffForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let PageSession(caller) = PageSession::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        staff_form(caller, &bytes)
            .map(|(c, form)| StaffForm(c, form))
            .map_err(|r| *r)
    }
}
