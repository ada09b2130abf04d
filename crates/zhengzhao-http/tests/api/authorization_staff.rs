//! The authorisation matrix for staff accounts: `/api/v1/users…` × every
//! role × the region, an ancestor of the account's org 150102, that org, a
//! sibling and another league, asserting the exact status; the session
//! endpoints refuse API tokens; no credentials get 401.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{TestApp, matrix_roles};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Region,
    Ancestor,
    Own,
    Sibling,
    OtherLeague,
}
use Rel::*;

const ORGS: [(&str, Rel); 5] = [
    ("150000", Region),
    ("150100", Ancestor),
    ("150102", Own),
    ("150103", Sibling),
    ("150700", OtherLeague),
];

fn covers_target(rel: Rel) -> bool {
    matches!(rel, Region | Ancestor | Own)
}

fn allow(yes: bool, ok: StatusCode) -> StatusCode {
    if yes { ok } else { StatusCode::FORBIDDEN }
}

// ---- The rules (zhengzhao-core/src/staff.rs): accounts are managed by security
// admins within their subtree; security admins and auditors read them. ----

fn create_in_target(role: Role, rel: Rel) -> StatusCode {
    allow(
        role == Role::SecurityAdmin && covers_target(rel),
        StatusCode::CREATED,
    )
}

fn list(role: Role, _rel: Rel) -> StatusCode {
    allow(
        matches!(role, Role::SecurityAdmin | Role::Auditor),
        StatusCode::OK,
    )
}

fn read_target(role: Role, rel: Rel) -> StatusCode {
    allow(
        matches!(role, Role::SecurityAdmin | Role::Auditor) && covers_target(rel),
        StatusCode::OK,
    )
}

fn manage_target(role: Role, rel: Rel) -> StatusCode {
    allow(
        role == Role::SecurityAdmin && covers_target(rel),
        StatusCode::OK,
    )
}

async fn check(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
    want: StatusCode,
    who: &str,
) -> Value {
    let resp = app.send_json(method.clone(), path, token, body).await;
    assert_eq!(resp.status(), want, "{method} {path} as {who}");
    resp.json().await.unwrap_or(Value::Null)
}

async fn staff_matrix(app: TestApp) {
    let region_security = app.token("150000", Role::SecurityAdmin).await;
    let target: Value = check(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(&region_security),
        &json!({"username": "target.user", "display_name": "目标", "org": "150102", "roles": ["issuer_clerk"]}),
        StatusCode::CREATED,
        "region security admin",
    )
    .await;
    let id = target["user"]["id"].as_str().unwrap().to_owned();
    let one = format!("/api/v1/users/{id}");
    let reset = format!("{one}/reset");

    let mut n = 0;
    for role in matrix_roles() {
        for (org, rel) in ORGS {
            n += 1;
            let token = app.token(org, role).await;
            let who = format!("{role} of {org}");
            let body = json!({"username": format!("matrix{n}"), "display_name": "矩阵", "org": "150102", "roles": ["objection_handler"]});
            check(
                &app,
                Method::POST,
                "/api/v1/users",
                Some(&token),
                &body,
                create_in_target(role, rel),
                &who,
            )
            .await;
            let page = check(
                &app,
                Method::GET,
                "/api/v1/users",
                Some(&token),
                &Value::Null,
                list(role, rel),
                &who,
            )
            .await;
            if list(role, rel) == StatusCode::OK {
                let sees = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|u| u["id"] == id.as_str());
                assert_eq!(
                    sees,
                    covers_target(rel),
                    "list as {who} shows the target: {sees}"
                );
            }
            check(
                &app,
                Method::GET,
                &one,
                Some(&token),
                &Value::Null,
                read_target(role, rel),
                &who,
            )
            .await;
            check(
                &app,
                Method::PATCH,
                &one,
                Some(&token),
                &json!({"display_name": format!("目标{n}")}),
                manage_target(role, rel),
                &who,
            )
            .await;
            check(
                &app,
                Method::POST,
                &reset,
                Some(&token),
                &json!({}),
                manage_target(role, rel),
                &who,
            )
            .await;
            // The session endpoints are for staff sessions, never tokens.
            check(
                &app,
                Method::GET,
                "/api/v1/session",
                Some(&token),
                &Value::Null,
                StatusCode::UNAUTHORIZED,
                &who,
            )
            .await;
            check(
                &app,
                Method::POST,
                "/api/v1/session/password",
                Some(&token),
                &json!({"current_password": "x", "new_password": "y"}),
                StatusCode::UNAUTHORIZED,
                &who,
            )
            .await;
        }
    }
    for (method, path) in [
        (Method::POST, "/api/v1/users".to_owned()),
        (Method::GET, "/api/v1/users".to_owned()),
        (Method::GET, one.clone()),
        (Method::PATCH, one.clone()),
        (Method::POST, reset.clone()),
        (Method::GET, "/api/v1/session".to_owned()),
        (Method::DELETE, "/api/v1/session".to_owned()),
    ] {
        for token in [
            None,
            Some("zzt_0000000000000000000000000000000000000000000000000000000000000000"),
        ] {
            check(
                &app,
                method.clone(),
                &path,
                token,
                &json!({}),
                StatusCode::UNAUTHORIZED,
                "nobody",
            )
            .await;
        }
    }
}
both_backends!(staff, staff_matrix);
