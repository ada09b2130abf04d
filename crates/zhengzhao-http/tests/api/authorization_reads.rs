//! The authorisation matrix for reads: the license reads and the audit log
//! (search, inclusion proofs, checkpoints) × every role × the region, an
//! ancestor of the target org 150102, the target itself, a sibling and
//! another league, asserting the exact status; missing or bad tokens get 401;
//! the public audit endpoints answer without a token. The write endpoints are
//! in `authorization.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{TestApp, license_request, matrix_roles};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;
use std::collections::HashSet;
use zhengzhao_core::Actor;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

/// Where a caller's org stands relative to the target org 150102, which
/// issues the license everything here is about.
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
    ("150000", Region),      // 内蒙古自治区
    ("150100", Ancestor),    // 呼和浩特市, above 150102
    ("150102", Own),         // 新城区, the issuer
    ("150103", Sibling),     // 回民区, same city
    ("150700", OtherLeague), // 呼伦贝尔市
];

impl Rel {
    /// The caller's org subtree contains 150102.
    fn covers_target(self) -> bool {
        matches!(self, Region | Ancestor | Own)
    }
}

fn allow(yes: bool, ok: StatusCode) -> StatusCode {
    if yes { ok } else { StatusCode::FORBIDDEN }
}

// ---- The rules, as the source states them (a role check, then an org check). ----

/// License reads (one, its history, document, PDF): any role of the issuing
/// org or an org above it (`Library::require_reader`). The list answers
/// everyone, with only the licenses issued within the caller's subtree.
fn read_license(role: Role, rel: Rel) -> StatusCode {
    allow(
        Role::STAFF.contains(&role) && rel.covers_target(),
        StatusCode::OK,
    )
}

/// The list: every staff role (their own subtree's licenses); a relying
/// party (a platform, a scenario's credential) reads nothing this way.
fn list_licenses(role: Role, _rel: Rel) -> StatusCode {
    allow(Role::STAFF.contains(&role), StatusCode::OK)
}

/// Who reads the audit log at all.
fn audit_reader(role: Role) -> bool {
    matches!(
        role,
        Role::Auditor | Role::SecurityAdmin | Role::RegionAdmin
    )
}

/// `GET /api/v1/audit/events` without `org`: the caller's own subtree.
fn search_own_subtree(role: Role, _rel: Rel) -> StatusCode {
    allow(audit_reader(role), StatusCode::OK)
}

/// `GET /api/v1/audit/events?org=150102`: only from 150102 or above.
fn search_target_subtree(role: Role, rel: Rel) -> StatusCode {
    allow(audit_reader(role) && rel.covers_target(), StatusCode::OK)
}

/// `GET /api/v1/audit/events?org=150000`: the whole log, the region only.
fn search_region(role: Role, rel: Rel) -> StatusCode {
    allow(audit_reader(role) && rel == Region, StatusCode::OK)
}

/// Inclusion proof of an event by 150102: audit readers of 150102 or above.
fn prove_target_event(role: Role, rel: Rel) -> StatusCode {
    allow(audit_reader(role) && rel.covers_target(), StatusCode::OK)
}

/// Inclusion proof of an event without an org (the CLI's): it is the
/// region's, so audit readers of the region only.
fn prove_region_event(role: Role, rel: Rel) -> StatusCode {
    allow(audit_reader(role) && rel == Region, StatusCode::OK)
}

/// Inclusion proof of a sequence number that does not exist: the role is
/// checked first; an audit reader of any org then gets 404.
fn prove_unknown_event(role: Role, _rel: Rel) -> StatusCode {
    if audit_reader(role) {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::FORBIDDEN
    }
}

/// `POST /api/v1/audit/checkpoints`: a security or region admin of the region.
fn sign_checkpoint(role: Role, rel: Rel) -> StatusCode {
    let admin = matches!(role, Role::SecurityAdmin | Role::RegionAdmin);
    allow(admin && rel == Region, StatusCode::CREATED)
}

// ---- Set-up ----

/// Issue the target license as a clerk of 150102; its id and the sequence
/// number of its `license.issue` audit event.
async fn target_license(app: &TestApp) -> (String, i64) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("reads")).await;
    let id = issued["license_id"].as_str().unwrap().to_owned();
    let seq = app
        .library
        .store
        .audit_events(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event.target == format!("license:{id}"))
        .unwrap()
        .seq;
    (id, seq)
}

#[track_caller]
fn assert_status(resp: &Response, want: StatusCode, what: &str) {
    assert_eq!(resp.status(), want, "{what}");
}

// ---- License reads ----

async fn license_reads_check_the_org(app: TestApp) {
    let (id, _) = target_license(&app).await;
    for role in matrix_roles() {
        for (org, rel) in ORGS {
            let token = app.token(org, role).await;
            for suffix in ["", "/history", "/document", "/pdf"] {
                let resp = app
                    .get_as(&format!("/api/v1/licenses/{id}{suffix}"), &token)
                    .await;
                assert_status(
                    &resp,
                    read_license(role, rel),
                    &format!("GET /api/v1/licenses/{{id}}{suffix} as {role} of {org}"),
                );
            }

            let resp = app.get_as("/api/v1/licenses", &token).await;
            assert_status(
                &resp,
                list_licenses(role, rel),
                &format!("GET /api/v1/licenses as {role} of {org}"),
            );
            if resp.status() != StatusCode::OK {
                continue;
            }
            let page: Value = resp.json().await.unwrap();
            let listed: Vec<&str> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["license_id"].as_str().unwrap())
                .collect();
            let want: Vec<&str> = if rel.covers_target() {
                vec![&id]
            } else {
                vec![]
            };
            assert_eq!(listed, want, "GET /api/v1/licenses as {role} of {org}");
        }
    }
}
both_backends!(license_reads, license_reads_check_the_org);

// ---- Audit search ----

async fn audit_search_stays_within_the_subtree(app: TestApp) {
    let (id, seq) = target_license(&app).await;
    // Events of every org: a sibling's and another league's issuance too.
    for org in ["150103", "150700"] {
        let clerk = app.token(org, Role::IssuerClerk).await;
        let mut other = license_request(&format!("other-{org}"));
        other["issuer"] = org.into();
        other["face"]["registration_authority"] = org.into();
        app.issue(&clerk, &other).await;
    }
    for role in matrix_roles() {
        for (org, rel) in ORGS {
            let token = app.token(org, role).await;
            let what = |q: &str| format!("GET /api/v1/audit/events{q} as {role} of {org}");

            let resp = app.get_as("/api/v1/audit/events?limit=1000", &token).await;
            assert_status(&resp, search_own_subtree(role, rel), &what("?limit=1000"));
            if resp.status() == StatusCode::OK {
                // Exactly the events of the caller's subtree: the region's
                // search has them all, orgless (CLI) events included.
                let page: Value = resp.json().await.unwrap();
                assert!(page["next_after"].is_null(), "one page holds the log");
                let subtree: HashSet<String> = app
                    .library
                    .store
                    .org_subtree(&OrgCode::parse(org).unwrap())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|o| o.code.to_string())
                    .collect();
                let in_subtree = |e: &zhengzhao_store::AuditRecord| {
                    rel == Region || e.event.org.as_ref().is_some_and(|o| subtree.contains(o))
                };
                let want: Vec<i64> = app
                    .library
                    .store
                    .audit_events(0, 100_000)
                    .await
                    .unwrap()
                    .iter()
                    .filter(|e| in_subtree(e))
                    .map(|e| e.seq)
                    .collect();
                let seen: Vec<i64> = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["seq"].as_i64().unwrap())
                    .collect();
                assert_eq!(seen, want, "{}", what(""));
                assert_eq!(seen.contains(&seq), rel.covers_target(), "{}", what(""));
            }

            let resp = app
                .get_as(&format!("/api/v1/audit/events?license={id}"), &token)
                .await;
            assert_status(&resp, search_own_subtree(role, rel), &what("?license={id}"));
            if resp.status() == StatusCode::OK {
                let page: Value = resp.json().await.unwrap();
                let seqs: Vec<i64> = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["seq"].as_i64().unwrap())
                    .collect();
                let want = if rel.covers_target() {
                    vec![seq]
                } else {
                    vec![]
                };
                assert_eq!(seqs, want, "{}", what("?license={id}"));
            }

            let resp = app.get_as("/api/v1/audit/events?org=150102", &token).await;
            assert_status(
                &resp,
                search_target_subtree(role, rel),
                &what("?org=150102"),
            );

            let resp = app.get_as("/api/v1/audit/events?org=150000", &token).await;
            assert_status(&resp, search_region(role, rel), &what("?org=150000"));
        }
    }
}
both_backends!(audit_search, audit_search_stays_within_the_subtree);

// ---- Inclusion proofs ----

async fn inclusion_proofs_need_an_audit_reader_above_the_event(app: TestApp) {
    let (_, target_seq) = target_license(&app).await;
    // An event without an org: the CLI's creation of a token.
    app.library
        .create_token(
            &Actor::cli(),
            &OrgCode::parse("150102").unwrap(),
            Role::Auditor,
            "cli",
        )
        .await
        .unwrap();
    let cli_seq = app
        .library
        .store
        .audit_events(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .rfind(|e| e.event.org.is_none())
        .unwrap()
        .seq;
    type Rule = fn(Role, Rel) -> StatusCode;
    let cases: [(&str, i64, Rule); 3] = [
        ("an event of 150102", target_seq, prove_target_event),
        ("an event of the CLI", cli_seq, prove_region_event),
        ("no event", 10_000_000, prove_unknown_event),
    ];
    for role in matrix_roles() {
        for (org, rel) in ORGS {
            let token = app.token(org, role).await;
            for (about, seq, rule) in cases {
                let resp = app
                    .get_as(&format!("/api/v1/audit/proofs/inclusion?seq={seq}"), &token)
                    .await;
                let want = rule(role, rel);
                assert_status(
                    &resp,
                    want,
                    &format!("GET /api/v1/audit/proofs/inclusion for {about} as {role} of {org}"),
                );
                if want == StatusCode::OK {
                    let proof: Value = resp.json().await.unwrap();
                    assert_eq!(proof["seq"], seq);
                }
            }
        }
    }
}
both_backends!(
    inclusion,
    inclusion_proofs_need_an_audit_reader_above_the_event
);

// ---- Checkpoints: signed by region admins, read by anyone ----

async fn checkpoints_are_signed_at_the_region_and_public(app: TestApp) {
    target_license(&app).await;
    let resp = app.get("/api/v1/audit/checkpoint").await;
    assert_status(
        &resp,
        StatusCode::NOT_FOUND,
        "GET /api/v1/audit/checkpoint before any, without a token",
    );
    for role in matrix_roles() {
        for (org, rel) in ORGS {
            let token = app.token(org, role).await;
            let resp = app
                .send_json(
                    Method::POST,
                    "/api/v1/audit/checkpoints",
                    Some(&token),
                    &serde_json::json!({}),
                )
                .await;
            assert_status(
                &resp,
                sign_checkpoint(role, rel),
                &format!("POST /api/v1/audit/checkpoints as {role} of {org}"),
            );
        }
    }
    // The first allowed caller (region_admin of 150000) signed one.
    let resp = app.get("/api/v1/audit/checkpoint").await;
    assert_status(
        &resp,
        StatusCode::OK,
        "GET /api/v1/audit/checkpoint without a token",
    );
    let cp: Value = resp.json().await.unwrap();
    let size = cp["tree_size"].as_u64().unwrap();
    assert!(size > 1);
    let consistency = format!("/api/v1/audit/proofs/consistency?from=1&to={size}");
    let resp = app.get(&consistency).await;
    assert_status(
        &resp,
        StatusCode::OK,
        "GET /api/v1/audit/proofs/consistency without a token",
    );
    let proof: Value = resp.json().await.unwrap();
    assert_eq!(proof["to_root_hash"], cp["root_hash"]);
}
both_backends!(checkpoints, checkpoints_are_signed_at_the_region_and_public);

// ---- Missing and bad tokens ----

async fn reads_without_a_valid_token_get_401(app: TestApp) {
    let (id, seq) = target_license(&app).await;
    let (record, revoked) = app
        .library
        .create_token(
            &Actor::cli(),
            &OrgCode::parse("150000").unwrap(),
            Role::RegionAdmin,
            "to be revoked",
        )
        .await
        .unwrap();
    app.library
        .revoke_token(&Actor::cli(), record.id)
        .await
        .unwrap();
    // A valid token, sent under another scheme.
    let valid = app.token("150000", Role::RegionAdmin).await;
    let unknown = format!("zzt_{}", "0".repeat(64));
    let authorizations = [
        None,
        Some("Bearer nonsense".to_owned()),
        Some(format!("Bearer {unknown}")),
        Some(format!("Bearer {revoked}")),
        Some(format!("Basic {valid}")),
    ];
    let endpoints = [
        (Method::GET, "/api/v1/licenses".to_owned()),
        (Method::GET, format!("/api/v1/licenses/{id}")),
        (Method::GET, format!("/api/v1/licenses/{id}/history")),
        (Method::GET, format!("/api/v1/licenses/{id}/document")),
        (Method::GET, format!("/api/v1/licenses/{id}/pdf")),
        (Method::GET, "/api/v1/audit/events".to_owned()),
        (
            Method::GET,
            format!("/api/v1/audit/proofs/inclusion?seq={seq}"),
        ),
        (Method::POST, "/api/v1/audit/checkpoints".to_owned()),
    ];
    for authorization in &authorizations {
        for (method, path) in &endpoints {
            let mut req = app.client.request(method.clone(), app.url(path));
            if let Some(a) = authorization {
                req = req.header(reqwest::header::AUTHORIZATION, a);
            }
            let resp = req.send().await.unwrap();
            assert_status(
                &resp,
                StatusCode::UNAUTHORIZED,
                &format!("{method} {path} with Authorization: {authorization:?}"),
            );
            assert!(
                resp.headers().contains_key("www-authenticate"),
                "{method} {path}"
            );
        }
    }
    // None of those signed a checkpoint.
    let resp = app.get("/api/v1/audit/checkpoint").await;
    assert_status(&resp, StatusCode::NOT_FOUND, "no checkpoint was signed");
    let resp = app
        .get("/api/v1/audit/proofs/consistency?from=0&to=1")
        .await;
    assert_status(
        &resp,
        StatusCode::OK,
        "GET /api/v1/audit/proofs/consistency without a token",
    );
}
both_backends!(unauthenticated, reads_without_a_valid_token_get_401);
