//! The authorisation matrix: every write endpoint × every role × own org,
//! ancestor orgs, a sibling and another league, asserting the exact status.
//! Reads of the catalog and org tree are public and covered elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{TestApp, license_request, license_type, matrix_roles};
use reqwest::{Method, StatusCode};
use serde_json::json;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::role::Role;

/// (org, relation to the target org 150102)
const ORGS: [&str; 5] = ["150000", "150100", "150102", "150103", "150700"];

async fn every_write_endpoint_checks_role_and_org(app: TestApp) {
    let mut n = 0u32;
    for role in matrix_roles() {
        for org in ORGS {
            n += 1;
            let token = app.token(org, role).await;
            let region_editor =
                org == "150000" && matches!(role, Role::RegionAdmin | Role::CatalogAdmin);
            let subtree_admin =
                role == Role::RegionAdmin && ["150000", "150100", "150102"].contains(&org);

            let code = format!("11100000000013338W{:03}", 300 + n);
            let resp = app
                .send_json(
                    Method::POST,
                    "/api/v1/catalog",
                    Some(&token),
                    &license_type(&code, "矩阵"),
                )
                .await;
            let want = if region_editor {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                resp.status(),
                want,
                "POST /api/v1/catalog as {role} of {org}"
            );

            let target = "11100000000013338W300";
            if n == 1 {
                let r = app
                    .send_json(
                        Method::POST,
                        "/api/v1/catalog",
                        Some(&app.admin_token),
                        &license_type(target, "矩阵"),
                    )
                    .await;
                assert_eq!(r.status(), StatusCode::CREATED);
            }
            let edit = license_type(target, &format!("矩阵{n}"));
            let resp = app
                .send_json(
                    Method::PUT,
                    &format!("/api/v1/catalog/{target}"),
                    Some(&token),
                    &edit,
                )
                .await;
            let want = if region_editor {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                resp.status(),
                want,
                "PUT /api/v1/catalog/{{code}} as {role} of {org}"
            );

            let credit = CreditCode::with_check_character(&format!("11150102MB{:07}", n)).unwrap();
            let bureau = json!({"code": format!("150102-X{n}"), "name": format!("审批局{n}"), "kind": "approval_bureau", "parent": "150102", "credit_code": credit});
            let resp = app
                .send_json(Method::POST, "/api/v1/orgs", Some(&token), &bureau)
                .await;
            let want = if subtree_admin {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(resp.status(), want, "POST /api/v1/orgs as {role} of {org}");

            let resp = app
                .send_json(
                    Method::PATCH,
                    "/api/v1/orgs/150102",
                    Some(&token),
                    &json!({"name": format!("新城区市场监督管理局{n}")}),
                )
                .await;
            let want = if subtree_admin {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                resp.status(),
                want,
                "PATCH /api/v1/orgs/{{code}} as {role} of {org}"
            );
        }
    }
    // Missing, malformed, unknown and revoked tokens: 401 everywhere.
    let revoked = app.token("150000", Role::RegionAdmin).await;
    let id = app
        .library
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .last()
        .unwrap()
        .id;
    app.library
        .revoke_token(&zhengzhao_core::Actor::cli(), id)
        .await
        .unwrap();
    let unknown = format!("zzt_{}", "0".repeat(64));
    for token in [
        None,
        Some("nonsense"),
        Some(unknown.as_str()),
        Some(revoked.as_str()),
    ] {
        for (method, path) in [
            (Method::POST, "/api/v1/catalog"),
            (Method::PUT, "/api/v1/catalog/11100000000013338W300"),
            (Method::POST, "/api/v1/orgs"),
            (Method::PATCH, "/api/v1/orgs/150102"),
        ] {
            let resp = app.send_json(method.clone(), path, token, &json!({})).await;
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}"
            );
            assert!(resp.headers().contains_key("www-authenticate"));
        }
    }
}
both_backends!(matrix, every_write_endpoint_checks_role_and_org);

/// License endpoints: only the issuing org's clerks write; staff of the
/// issuing org and the orgs above it read; everyone else gets 403.
async fn license_endpoints_check_role_and_org(app: TestApp) {
    let owner = app.token("150102", Role::IssuerClerk).await;
    let shared: serde_json::Value = app
        .send_json(
            Method::POST,
            "/api/v1/licenses",
            Some(&owner),
            &license_request("shared"),
        )
        .await
        .json()
        .await
        .unwrap();
    let shared_id = shared["license_id"].as_str().unwrap().to_owned();
    let update = json!({"face": license_request("shared")["face"].clone(), "valid_from": "2024-01-15", "reason": {"kind": "reissue", "text": "补发"}});
    let mut n = 0;
    for role in matrix_roles() {
        for org in ORGS {
            n += 1;
            let token = app.token(org, role).await;
            let writer = role == Role::IssuerClerk && org == "150102";
            // Staff read; relying parties (platforms, scenario credentials) do not.
            let reader =
                Role::STAFF.contains(&role) && ["150000", "150100", "150102"].contains(&org);

            let resp = app
                .send_json(
                    Method::POST,
                    "/api/v1/licenses",
                    Some(&token),
                    &license_request(&format!("m{n}")),
                )
                .await;
            let want = if writer {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                resp.status(),
                want,
                "POST /api/v1/licenses as {role} of {org}"
            );

            for suffix in ["", "/history", "/document", "/pdf"] {
                let resp = app
                    .get_as(&format!("/api/v1/licenses/{shared_id}{suffix}"), &token)
                    .await;
                let want = if reader {
                    StatusCode::OK
                } else {
                    StatusCode::FORBIDDEN
                };
                assert_eq!(
                    resp.status(),
                    want,
                    "GET /api/v1/licenses/{{id}}{suffix} as {role} of {org}"
                );
            }
            let resp = app.get_as("/api/v1/licenses", &token).await;
            // Every staff role lists its own subtree; a relying party
            // (a platform, a scenario's credential) lists nothing.
            let want = if !Role::STAFF.contains(&role) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::OK
            };
            assert_eq!(
                resp.status(),
                want,
                "GET /api/v1/licenses as {role} of {org}"
            );

            let resp = app
                .send_json(
                    Method::POST,
                    &format!("/api/v1/licenses/{shared_id}/versions"),
                    Some(&token),
                    &update,
                )
                .await;
            let want = if writer {
                StatusCode::CREATED
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                resp.status(),
                want,
                "POST /api/v1/licenses/{{id}}/versions as {role} of {org}"
            );

            // Revoke a license of its own, so that the shared one stays usable.
            let target = if writer {
                let own: serde_json::Value = app
                    .send_json(
                        Method::POST,
                        "/api/v1/licenses",
                        Some(&owner),
                        &license_request(&format!("rev{n}")),
                    )
                    .await
                    .json()
                    .await
                    .unwrap();
                own["license_id"].as_str().unwrap().to_owned()
            } else {
                shared_id.clone()
            };
            let resp = app
                .send_json(
                    Method::POST,
                    &format!("/api/v1/licenses/{target}/revoke"),
                    Some(&token),
                    &json!({"reason": "测试"}),
                )
                .await;
            let want = if writer {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(
                resp.status(),
                want,
                "POST /api/v1/licenses/{{id}}/revoke as {role} of {org}"
            );
        }
    }
    for path in [
        "/api/v1/licenses",
        &format!("/api/v1/licenses/{shared_id}"),
        &format!("/api/v1/licenses/{shared_id}/pdf"),
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::UNAUTHORIZED,
            "GET {path} without a token"
        );
    }
}
both_backends!(license_matrix, license_endpoints_check_role_and_org);
