//! The console's account administration for security admins (within their
//! org subtree): list, create (the one-time credentials shown once),
//! disable or enable, reset. The same use cases as `/api/v1/users…`.

use crate::error::ApiResult;
use crate::http::no_store;
use crate::http::pages::render;
use crate::http::portal::{FormError, form_errors};
use crate::http::staff_pages::{StaffForm, StaffPage, csrf_of};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use zhengzhao_core::library::Actor;
use zhengzhao_core::policy::{self, Action};
use zhengzhao_core::staff::{InitialCredentials, NewStaff, StaffChange};
use zhengzhao_core::{Error, Principal};
use zhengzhao_domain::role::Role;

pub struct UserRow {
    pub id: String,
    pub username: String,
    pub name: String,
    pub org: String,
    pub roles: String,
    pub state: &'static str,
    pub disabled: bool,
}

#[derive(Template)]
#[template(path = "console_users.html")]
pub struct UsersPage {
    pub errors: Vec<FormError>,
    pub csrf_token: String,
    pub issued: Option<(String, String, String)>,
    pub users: Vec<UserRow>,
    pub org: String,
    pub roles: Vec<(&'static str, &'static str)>,
}

async fn page(
    s: &AppState,
    c: &Principal,
    errors: Vec<FormError>,
    issued: Option<(String, InitialCredentials)>,
    status: StatusCode,
) -> ApiResult<Response> {
    let users = s
        .library
        .staff_users(c)
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id.to_string(),
            username: u.username.clone(),
            name: u.display_name.clone(),
            org: u.org.to_string(),
            roles: u
                .roles
                .iter()
                .map(|r| r.label_zh())
                .collect::<Vec<_>>()
                .join("、"),
            state: if u.disabled_at.is_some() {
                "已停用"
            } else {
                "正常"
            },
            disabled: u.disabled_at.is_some(),
        })
        .collect();
    let mut resp = render(&UsersPage {
        errors,
        csrf_token: csrf_of(c),
        issued: issued.map(|(who, cr)| (who, cr.initial_password, cr.totp_secret)),
        users,
        org: c.org.to_string(),
        roles: Role::STAFF
            .iter()
            .map(|r| (r.as_str(), r.label_zh()))
            .collect(),
    })?;
    *resp.status_mut() = status;
    // One-time credentials must not stay in any cache.
    Ok(no_store(resp))
}

/// `GET /console/users`
pub async fn list(State(s): State<AppState>, StaffPage(c): StaffPage) -> ApiResult<Response> {
    policy::require(&c, Action::ManageStaff)?;
    page(&s, &c, Vec::new(), None, StatusCode::OK).await
}

/// `POST /console/users`
pub async fn create(
    State(s): State<AppState>,
    StaffForm(c, form): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::ManageStaff)?;
    let get = |k: &str| form.get(k);
    let roles: Vec<Role> = form
        .all("roles")
        .iter()
        .filter_map(|v| v.parse().ok())
        .collect();
    let new = NewStaff {
        username: get("username"),
        display_name: get("display_name"),
        org: get("org"),
        roles,
    };
    match s
        .library
        .create_staff_user(Some(&c), &Actor::from(&c), new)
        .await
    {
        Ok((view, creds)) => {
            page(
                &s,
                &c,
                Vec::new(),
                Some((view.username, creds)),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let Some(errors) = form_errors(&e, |f| match f {
                "username" | "display_name" | "org" | "roles" => f.into(),
                _ => "username".into(),
            }) else {
                return Err(e.into());
            };
            page(&s, &c, errors, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

/// `POST /console/users/{id}/{disable|enable|reset}`
pub async fn act(
    State(s): State<AppState>,
    Path((id, act)): Path<(String, String)>,
    StaffForm(c, _): StaffForm,
) -> ApiResult<Response> {
    policy::require(&c, Action::ManageStaff)?;
    let id = uuid::Uuid::parse_str(&id).map_err(|_| Error::NotFound(format!("user {id}")))?;
    let change = |disabled: bool| StaffChange {
        display_name: None,
        roles: None,
        disabled: Some(disabled),
    };
    let issued = match act.as_str() {
        "disable" => s
            .library
            .update_staff_user(&c, id, change(true))
            .await
            .map(|_| None),
        "enable" => s
            .library
            .update_staff_user(&c, id, change(false))
            .await
            .map(|_| None),
        "reset" => s
            .library
            .reset_staff_credentials(Some(&c), &Actor::from(&c), id)
            .await
            .map(|(v, cr)| Some((v.username, cr))),
        _ => return Err(Error::NotFound(format!("account action {act}")).into()),
    };
    match issued {
        Ok(Some(issued)) => page(&s, &c, Vec::new(), Some(issued), StatusCode::OK).await,
        Ok(None) => Ok(Redirect::to("/console/users").into_response()),
        Err(Error::Forbidden(msg) | Error::Conflict(msg)) => {
            page(
                &s,
                &c,
                vec![FormError {
                    field: "users".into(),
                    message: msg,
                }],
                None,
                StatusCode::FORBIDDEN,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
