//! The test suite every storage backend must pass, run by each backend's tests
//! through [`conformance_suite!`](crate::conformance_suite).
//!
//! Each function takes a fresh, migrated, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::*;
use zhengzhao_domain::catalog::{LicenseTypeDraft, LicenseTypeSpec};
use zhengzhao_domain::org::{Org, OrgCode, OrgKind, OrgLevel, parse_divisions, seed_orgs};
use zhengzhao_domain::role::Role;

/// Generate one `#[tokio::test]` per conformance case. `$make` is an async
/// closure-like expression returning `Option<impl Store>`; `None` skips (used
/// by the PostgreSQL half when no test database is configured outside CI).
#[macro_export]
macro_rules! conformance_suite {
    ($make:path) => {
        $crate::conformance_suite!(@each $make;
            seed_builds_the_org_tree,
            seed_twice_is_a_conflict,
            subtree_questions_are_answered,
            added_org_joins_the_closure,
            failed_writes_leave_nothing,
            org_update_replaces_placeholder,
            catalog_versions_are_kept,
            catalog_conflicts_and_missing,
            tokens_are_found_by_hash_until_revoked,
            staff_accounts_and_sessions,
            staff_writes_are_conditional,
            audit_events_keep_order_and_content,
            signing_keys_rotate,
            license_lifecycle,
            license_list_filters_and_pages,
            one_current_license_per_holder,
            outbox_relay_rows,
            request_nonces_are_used_once,
            status_indexes_are_reserved_once,
            audit_tree_grows_by_exact_appends,
            audit_tree_refuses_inexact_appends,
            audit_checkpoints_keep_order_and_fields,
            audit_search_filters_and_pages,
            audit_search_time_bounds_are_exact,
            scenarios_keep_state_and_quota,
            objections_flag_their_license,
            verification_counts_add_up
        );
    };
    (@each $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(store) = $make().await else {
                    eprintln!("skipped: no database for this backend");
                    return;
                };
                $crate::conformance::$case(&store).await;
            }
        )*
    };
}

const DIVISIONS: &str = "150000\t内蒙古自治区\t\n\
150100\t呼和浩特市\t150000\n\
150102\t新城区\t150100\n\
150103\t回民区\t150100\n\
150700\t呼伦贝尔市\t150000\n\
150702\t海拉尔区\t150700\n\
150781\t满洲里市\t150700\n";

fn code(s: &str) -> OrgCode {
    OrgCode::parse(s).unwrap()
}

pub fn sample_spec(type_code: &str, name: &str) -> LicenseTypeSpec {
    let draft: LicenseTypeDraft = serde_json::from_value(serde_json::json!({
        "code": type_code,
        "name": name,
        "defining_authority": {"name": "住房和城乡建设部", "credit_code": &type_code[..18]},
        "issuing_levels": ["league", "banner"],
        "holder_types": ["legal_person"],
        "aggregation_start": "2024-02-01",
        "public_attribute": "public",
        "standard_level": "national",
        "template": "a4-portrait",
        "face_fields": [
            {"name": "number", "label": "编号", "type": "text", "required": true, "max_length": 30}
        ]
    }))
    .unwrap();
    LicenseTypeSpec::parse(draft).unwrap()
}

fn at(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

pub fn log(action: &str, target: &str, secs: i64) -> ChangeLog {
    ChangeLog {
        audit: AuditEvent {
            id: uuid::Uuid::now_v7(),
            at: at(secs),
            actor: "system".into(),
            org: Some("150000".into()),
            role: None,
            client_addr: None,
            action: action.into(),
            target: target.into(),
            outcome: "success".into(),
            reason: None,
            detail: serde_json::json!({"n": secs}),
        },
        outbox: vec![],
    }
}

fn token(org: &str, role: Role, hash: u8) -> NewToken {
    NewToken {
        id: uuid::Uuid::now_v7(),
        hash: vec![hash; 32],
        org: code(org),
        role,
        label: format!("test {hash}"),
        created_at: at(1),
        signing_secret: None,
        scenario_id: None,
    }
}

pub fn sample_seed() -> Seed {
    let orgs = seed_orgs(&parse_divisions(DIVISIONS).unwrap()).unwrap();
    Seed {
        orgs,
        catalog: vec![sample_spec("11100000000013338W001", "甲证")],
        admin_token: token("150000", Role::RegionAdmin, 1),
        at: at(0),
    }
}

async fn seeded(store: &dyn Store) {
    store
        .seed(&sample_seed(), &log("library.seed", "library", 0))
        .await
        .unwrap();
}

async fn audit_count(store: &dyn Store) -> usize {
    store.audit_events(0, 10_000).await.unwrap().len()
}

pub async fn seed_builds_the_org_tree(store: &dyn Store) {
    assert!(!store.is_seeded().await.unwrap());
    seeded(store).await;
    assert!(store.is_seeded().await.unwrap());
    let orgs = store.orgs().await.unwrap();
    assert_eq!(orgs.len(), 7);
    let mzl = store.org(&code("150781")).await.unwrap().unwrap();
    assert_eq!(mzl.parent, Some(code("150000")));
    assert_eq!(mzl.level, OrgLevel::League);
    let by_credit = store
        .org_by_credit_code(&mzl.credit_code)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_credit, mzl);
    assert!(store.org(&code("152900")).await.unwrap().is_none());
    let types = store.current_license_types().await.unwrap();
    assert_eq!(types.len(), 1);
    assert_eq!(types[0].version, 1);
    assert!(store.token_by_hash(&[1; 32]).await.unwrap().is_some());
    assert_eq!(audit_count(store).await, 1);
}

pub async fn seed_twice_is_a_conflict(store: &dyn Store) {
    seeded(store).await;
    let again = store
        .seed(&sample_seed(), &log("library.seed", "library", 1))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(audit_count(store).await, 1);
}

pub async fn subtree_questions_are_answered(store: &dyn Store) {
    seeded(store).await;
    let children: Vec<String> = store
        .org_children(&code("150000"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.code.to_string())
        .collect();
    assert_eq!(children, ["150100", "150700", "150781"]);
    assert!(
        store
            .org_within(&code("150102"), &code("150100"))
            .await
            .unwrap()
    );
    assert!(
        store
            .org_within(&code("150102"), &code("150000"))
            .await
            .unwrap()
    );
    assert!(
        store
            .org_within(&code("150100"), &code("150100"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .org_within(&code("150100"), &code("150102"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .org_within(&code("150702"), &code("150100"))
            .await
            .unwrap()
    );
    // Manzhouli answers to the region, not to Hulunbuir.
    assert!(
        !store
            .org_within(&code("150781"), &code("150700"))
            .await
            .unwrap()
    );
    assert!(
        store
            .org_within(&code("150781"), &code("150000"))
            .await
            .unwrap()
    );
    let sub: Vec<String> = store
        .org_subtree(&code("150100"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.code.to_string())
        .collect();
    assert_eq!(sub, ["150100", "150102", "150103"]);
    assert_eq!(store.org_subtree(&code("150000")).await.unwrap().len(), 7);
}

fn bureau(code_s: &str, parent: &str, credit: &str) -> Org {
    Org {
        code: code(code_s),
        name: "新城区行政审批和政务服务局".into(),
        kind: OrgKind::ApprovalBureau,
        level: OrgLevel::Banner,
        parent: Some(code(parent)),
        credit_code: zhengzhao_domain::codes::CreditCode::parse(credit).unwrap(),
        credit_code_placeholder: false,
    }
}

pub async fn added_org_joins_the_closure(store: &dyn Store) {
    seeded(store).await;
    let b = bureau("150102-SP", "150102", "11430000006122244L");
    store
        .add_org(&b, &log("org.create", "org:150102-SP", 2))
        .await
        .unwrap();
    assert!(
        store
            .org_within(&code("150102-SP"), &code("150000"))
            .await
            .unwrap()
    );
    assert!(
        store
            .org_within(&code("150102-SP"), &code("150100"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .org_within(&code("150102-SP"), &code("150700"))
            .await
            .unwrap()
    );
    assert_eq!(store.org(&code("150102-SP")).await.unwrap().unwrap(), b);
    assert_eq!(store.org_subtree(&code("150102")).await.unwrap().len(), 2);
}

pub async fn failed_writes_leave_nothing(store: &dyn Store) {
    seeded(store).await;
    let before = audit_count(store).await;
    let orphan = bureau("150102-SP", "150105", "11430000006122244L");
    let r = store.add_org(&orphan, &log("org.create", "x", 2)).await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let dup = bureau("150102", "150100", "11430000006122244L");
    let r = store.add_org(&dup, &log("org.create", "x", 3)).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let mzl = store.org(&code("150781")).await.unwrap().unwrap();
    let dup_credit = bureau("150102-SP", "150102", mzl.credit_code.as_str());
    let r = store.add_org(&dup_credit, &log("org.create", "x", 4)).await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let mut with_outbox = log("catalog.create", "x", 5);
    with_outbox.outbox.push(OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: "platform.catalog".into(),
        payload: serde_json::json!({}),
    });
    let r = store
        .create_license_type(
            &sample_spec("11100000000013338W001", "重复"),
            at(5),
            &with_outbox,
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(audit_count(store).await, before);
    assert!(store.pending_outbox(10).await.unwrap().is_empty());
    assert!(store.org(&code("150102-SP")).await.unwrap().is_none());
    assert_eq!(store.orgs().await.unwrap().len(), 7);
}

pub async fn org_update_replaces_placeholder(store: &dyn Store) {
    seeded(store).await;
    let real = zhengzhao_domain::codes::CreditCode::parse("11430000006122244L").unwrap();
    let updated = store
        .update_org(
            &OrgUpdate {
                code: code("150100"),
                name: None,
                credit_code: Some(real.clone()),
            },
            &log("org.update", "org:150100", 2),
        )
        .await
        .unwrap();
    assert_eq!(updated.credit_code, real);
    assert!(!updated.credit_code_placeholder);
    assert_eq!(updated.name, "呼和浩特市市场监督管理局");
    let clash = store
        .update_org(
            &OrgUpdate {
                code: code("150700"),
                name: Some("x".into()),
                credit_code: Some(real),
            },
            &log("org.update", "org:150700", 3),
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(
        store.org(&code("150700")).await.unwrap().unwrap().name,
        "呼伦贝尔市市场监督管理局"
    );
    let missing = store
        .update_org(
            &OrgUpdate {
                code: code("152900"),
                name: Some("x".into()),
                credit_code: None,
            },
            &log("org.update", "org:152900", 4),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

pub async fn catalog_versions_are_kept(store: &dyn Store) {
    seeded(store).await;
    let code_s = "11100000000013338W002";
    let tc = zhengzhao_domain::codes::LicenseTypeCode::parse(code_s).unwrap();
    let mut l = log("catalog.create", code_s, 2);
    l.outbox.push(OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: "platform.catalog".into(),
        payload: serde_json::json!({"code": code_s, "version": 1}),
    });
    let v1 = store
        .create_license_type(&sample_spec(code_s, "乙证"), at(2), &l)
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    let v2 = store
        .update_license_type(
            &sample_spec(code_s, "乙证（新）"),
            1,
            at(3),
            &log("catalog.update", code_s, 3),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    // An edit based on version 1 once version 2 exists is a conflict.
    let stale = store
        .update_license_type(
            &sample_spec(code_s, "过期"),
            1,
            at(4),
            &log("catalog.update", code_s, 4),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let current = store.license_type(&tc, None).await.unwrap().unwrap();
    assert_eq!(current.version, 2);
    assert_eq!(current.spec.draft().name, "乙证（新）");
    let old = store.license_type(&tc, Some(1)).await.unwrap().unwrap();
    assert_eq!(old.spec.draft().name, "乙证");
    assert_eq!(old.created_at, at(2));
    assert!(store.license_type(&tc, Some(3)).await.unwrap().is_none());
    let versions: Vec<u32> = store
        .license_type_versions(&tc)
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(versions, [1, 2]);
    let all = store.current_license_types().await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].version, 2);
    let outbox = store.pending_outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].message.payload["version"], 1);
}

pub async fn catalog_conflicts_and_missing(store: &dyn Store) {
    seeded(store).await;
    let r = store
        .update_license_type(
            &sample_spec("11100000000013338W009", "无"),
            1,
            at(2),
            &log("catalog.update", "x", 2),
        )
        .await;
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{r:?}");
    let tc = zhengzhao_domain::codes::LicenseTypeCode::parse("11100000000013338W009").unwrap();
    assert!(store.license_type(&tc, None).await.unwrap().is_none());
    assert!(store.license_type_versions(&tc).await.unwrap().is_empty());
}

pub async fn tokens_are_found_by_hash_until_revoked(store: &dyn Store) {
    seeded(store).await;
    let t = token("150102", Role::IssuerClerk, 7);
    store
        .create_token(&t, &log("token.create", "token", 2))
        .await
        .unwrap();
    let found = store.token_by_hash(&[7; 32]).await.unwrap().unwrap();
    assert_eq!(found.id, t.id);
    assert_eq!(found.org, code("150102"));
    assert_eq!(found.role, Role::IssuerClerk);
    assert!(found.revoked_at.is_none());
    assert!(store.token_by_hash(&[8; 32]).await.unwrap().is_none());
    assert_eq!(store.tokens().await.unwrap().len(), 2);
    let revoked = store
        .revoke_token(t.id, at(3), &log("token.revoke", "token", 3))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(3)));
    assert!(store.token_by_hash(&[7; 32]).await.unwrap().is_none());
    // Revoking again keeps the first revocation time.
    let again = store
        .revoke_token(t.id, at(4), &log("token.revoke", "token", 4))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(at(3)));
    let missing = store
        .revoke_token(
            uuid::Uuid::now_v7(),
            at(5),
            &log("token.revoke", "token", 5),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    let bad_org = store
        .create_token(
            &token("152900", Role::Auditor, 9),
            &log("token.create", "t", 6),
        )
        .await;
    assert!(
        matches!(bad_org, Err(StoreError::NotFound(_))),
        "{bad_org:?}"
    );
}

fn staff(username: &str, org: &str, roles: Vec<Role>) -> StaffUser {
    StaffUser {
        id: uuid::Uuid::now_v7(),
        username: username.into(),
        display_name: "测试人员".into(),
        org: code(org),
        roles,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: vec![1, 2, 3],
        totp_last_step: 0,
        must_change_password: true,
        failed_logins: 0,
        locked_until: None,
        password_changed_at: at(1),
        created_at: at(1),
        disabled_at: None,
        row_version: 0,
    }
}

/// The three events of a failed login, told apart by their reason.
fn failed_logs(secs: i64) -> FailedLoginLogs {
    let with_reason = |reason: &str| {
        let mut l = log("session.login", "user", secs);
        l.audit.outcome = "failed".into();
        l.audit.reason = Some(reason.into());
        l
    };
    FailedLoginLogs {
        counted: with_reason("counted"),
        locked: with_reason("locked"),
        not_counted: with_reason("not counted"),
    }
}

pub async fn staff_accounts_and_sessions(store: &dyn Store) {
    seeded(store).await;
    let before = audit_count(store).await;
    // Roles come back in `Role::ALL` order.
    let alice = staff(
        "alice",
        "150102",
        vec![Role::IssuerClerk, Role::SecurityAdmin],
    );
    store
        .add_staff_user(&alice, &log("user.create", "user", 2))
        .await
        .unwrap();
    assert_eq!(
        store.staff_user(alice.id).await.unwrap().as_ref(),
        Some(&alice)
    );
    assert_eq!(
        store.staff_user_by_name("alice").await.unwrap().as_ref(),
        Some(&alice)
    );
    // A taken name, or an unknown org, writes nothing (not even the audit event).
    let taken = store
        .add_staff_user(
            &staff("alice", "150102", vec![]),
            &log("user.create", "u", 3),
        )
        .await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))), "{taken:?}");
    let bad_org = store
        .add_staff_user(&staff("bob", "152900", vec![]), &log("user.create", "u", 3))
        .await;
    assert!(
        matches!(bad_org, Err(StoreError::NotFound(_))),
        "{bad_org:?}"
    );
    assert_eq!(audit_count(store).await, before + 1);

    let session = StaffSession {
        hash: vec![5; 32],
        user_id: alice.id,
        csrf_token: "csrf".into(),
        created_at: at(4),
        last_seen_at: at(4),
        expires_at: at(4 + 8 * 3600),
        client_addr: Some("127.0.0.1".into()),
        ended_at: None,
    };
    store
        .start_staff_session(&alice, 42, &session, &log("session.login", "user", 4))
        .await
        .unwrap();
    let mut alice = store.staff_user(alice.id).await.unwrap().unwrap();
    assert_eq!((alice.totp_last_step, alice.row_version), (42, 1));
    assert_eq!(
        store.staff_session(&[5; 32]).await.unwrap(),
        Some(session.clone())
    );
    store.touch_staff_session(&[5; 32], at(60)).await.unwrap();
    assert_eq!(
        store
            .staff_session(&[5; 32])
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        at(60)
    );
    // Saving with end_sessions_at ends every live session of the user.
    alice.failed_logins = 3;
    alice.locked_until = Some(at(900));
    alice.roles = vec![Role::Auditor];
    store
        .save_staff_user(&alice, Some(at(61)), &log("user.update", "user", 61))
        .await
        .unwrap();
    assert!(store.staff_session(&[5; 32]).await.unwrap().is_none());
    alice.row_version += 1;
    assert_eq!(
        store.staff_user(alice.id).await.unwrap().as_ref(),
        Some(&alice)
    );
    let second = StaffSession {
        hash: vec![6; 32],
        ..session
    };
    // The same time step again (a concurrent login used the code): refused,
    // nothing written.
    let before_replay = audit_count(store).await;
    let replay = store
        .start_staff_session(&alice, 42, &second, &log("session.login", "user", 62))
        .await;
    assert!(matches!(replay, Err(StoreError::Conflict(_))), "{replay:?}");
    assert!(store.staff_session(&[6; 32]).await.unwrap().is_none());
    assert_eq!(audit_count(store).await, before_replay);
    store
        .start_staff_session(&alice, 43, &second, &log("session.login", "user", 62))
        .await
        .unwrap();
    let alice = store.staff_user(alice.id).await.unwrap().unwrap();
    assert_eq!(
        (
            alice.failed_logins,
            alice.locked_until,
            alice.totp_last_step
        ),
        (0, None, 43)
    );
    // Failures count up atomically and lock at the threshold, then restart.
    for n in 1..=2 {
        let outcome = store
            .record_failed_login(&alice, 3, at(500), &failed_logs(62))
            .await
            .unwrap();
        assert_eq!(outcome, FailedLogin::Counted(n));
    }
    let stored = store.staff_user(alice.id).await.unwrap().unwrap();
    assert_eq!((stored.failed_logins, stored.locked_until), (2, None));
    let outcome = store
        .record_failed_login(&alice, 3, at(500), &failed_logs(62))
        .await
        .unwrap();
    assert_eq!(outcome, FailedLogin::Locked);
    let stored = store.staff_user(alice.id).await.unwrap().unwrap();
    assert_eq!(
        (stored.failed_logins, stored.locked_until),
        (0, Some(at(500)))
    );
    assert_eq!(stored.roles, alice.roles, "no other column is touched");
    assert_eq!(stored.row_version, alice.row_version + 3);
    store
        .end_staff_session(&[6; 32], at(63), &log("session.logout", "user", 63))
        .await
        .unwrap();
    assert!(store.staff_session(&[6; 32]).await.unwrap().is_none());
    let again = store
        .end_staff_session(&[6; 32], at(64), &log("session.logout", "user", 64))
        .await;
    assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
    assert_eq!(store.staff_users().await.unwrap().len(), 1);
    store
        .record_event(&log("session.login", "user:unknown", 65))
        .await
        .unwrap();
    assert_eq!(audit_count(store).await, before + 9);
    let reasons: Vec<Option<String>> = store
        .audit_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.outcome == "failed")
        .map(|e| e.event.reason)
        .collect();
    assert_eq!(
        reasons,
        [Some("counted"), Some("counted"), Some("locked")].map(|r| r.map(str::to_owned)),
        "the event of the outcome, and only it, is written"
    );

    // Data keys come back oldest first; an id is never reused.
    let k1 = DataKeyRecord {
        id: uuid::Uuid::now_v7(),
        wrapped_key: vec![1; 44],
        created_at: at(70),
    };
    let k2 = DataKeyRecord {
        id: uuid::Uuid::now_v7(),
        wrapped_key: vec![2; 44],
        created_at: at(71),
    };
    store
        .add_data_key(&k1, &log("data_key.create", "k", 70))
        .await
        .unwrap();
    store
        .add_data_key(&k2, &log("data_key.create", "k", 71))
        .await
        .unwrap();
    assert_eq!(store.data_keys().await.unwrap(), vec![k1.clone(), k2]);
    let again = store
        .add_data_key(&k1, &log("data_key.create", "k", 72))
        .await;
    assert!(again.is_err());
    assert_eq!(audit_count(store).await, before + 11);
}

/// No write to an account is lost: a change is saved only over the version
/// it read; a failed or successful login counts only against the account as
/// the attempt found it (not after a lock, a reset or a disable meanwhile).
pub async fn staff_writes_are_conditional(store: &dyn Store) {
    seeded(store).await;
    let bob = staff("bob", "150102", vec![Role::IssuerClerk]);
    store
        .add_staff_user(&bob, &log("user.create", "user", 2))
        .await
        .unwrap();
    let seen = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!(seen.row_version, 0);

    // An administrator read version 0; a failed login wrote version 1
    // meanwhile: the administrator's save is refused, nothing written.
    let mut change = seen.clone();
    change.disabled_at = Some(at(3));
    assert_eq!(
        store
            .record_failed_login(&seen, 3, at(500), &failed_logs(3))
            .await
            .unwrap(),
        FailedLogin::Counted(1)
    );
    let before = audit_count(store).await;
    let stale = store
        .save_staff_user(&change, Some(at(3)), &log("user.update", "user", 3))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert_eq!(
        audit_count(store).await,
        before,
        "no event without the change"
    );
    let now = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!(
        (now.disabled_at, now.failed_logins, now.row_version),
        (None, 1, 1)
    );
    // Read again and re-applied, it is saved, over the failure count.
    let mut change = now.clone();
    change.display_name = "新名字".into();
    store
        .save_staff_user(&change, None, &log("user.update", "user", 4))
        .await
        .unwrap();
    let now = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!(
        (
            now.display_name.as_str(),
            now.failed_logins,
            now.row_version
        ),
        ("新名字", 1, 2)
    );
    // An account that does not exist is not a conflict.
    let ghost = staff("ghost", "150102", vec![Role::Auditor]);
    let missing = store
        .save_staff_user(&ghost, None, &log("user.update", "user", 4))
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(
        store
            .record_failed_login(&ghost, 3, at(500), &failed_logs(4))
            .await
            .unwrap(),
        FailedLogin::NotCounted
    );

    // Attempts that read the account before it was locked: the one that
    // reaches the threshold locks; the rest neither count nor extend the
    // lock, and a success checked before the lock does not clear it.
    let seen = store.staff_user(bob.id).await.unwrap().unwrap();
    let outcomes = [
        FailedLogin::Counted(2),
        FailedLogin::Locked,
        FailedLogin::NotCounted,
        FailedLogin::NotCounted,
    ];
    for (i, want) in outcomes.into_iter().enumerate() {
        let lock_until = at(600 + i64::try_from(i).unwrap());
        let got = store
            .record_failed_login(&seen, 3, lock_until, &failed_logs(5))
            .await
            .unwrap();
        assert_eq!(got, want, "attempt {i}");
    }
    let locked = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!(
        (locked.failed_logins, locked.locked_until),
        (0, Some(at(601))),
        "locked once, not extended"
    );
    let late_success = store
        .start_staff_session(
            &seen,
            10,
            &session_of(&bob, 7),
            &log("session.login", "user", 6),
        )
        .await;
    assert!(
        matches!(late_success, Err(StoreError::Conflict(_))),
        "{late_success:?}"
    );
    assert!(store.staff_session(&[7; 32]).await.unwrap().is_none());

    // A reset meanwhile (new password hash, unlocked): attempts checked
    // against the old credentials neither count nor log in.
    let mut reset = locked.clone();
    reset.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3aGFzaA".into();
    reset.locked_until = None;
    reset.failed_logins = 0;
    store
        .save_staff_user(
            &reset,
            Some(at(7)),
            &log("user.reset_credentials", "user", 7),
        )
        .await
        .unwrap();
    for old in [&seen, &locked] {
        assert_eq!(
            store
                .record_failed_login(old, 3, at(700), &failed_logs(8))
                .await
                .unwrap(),
            FailedLogin::NotCounted
        );
        let r = store
            .start_staff_session(
                old,
                11,
                &session_of(&bob, 8),
                &log("session.login", "user", 8),
            )
            .await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    }
    let now = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!((now.failed_logins, now.locked_until), (0, None));
    assert_eq!(now.password_hash, reset.password_hash);

    // An expired lock, as read, still counts; a success clears it.
    let mut expired = now.clone();
    expired.locked_until = Some(at(1));
    store
        .save_staff_user(&expired, None, &log("user.update", "user", 9))
        .await
        .unwrap();
    let seen = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!(
        store
            .record_failed_login(&seen, 3, at(900), &failed_logs(9))
            .await
            .unwrap(),
        FailedLogin::Counted(1)
    );
    store
        .start_staff_session(
            &seen,
            12,
            &session_of(&bob, 9),
            &log("session.login", "user", 9),
        )
        .await
        .unwrap();
    let now = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!(
        (now.failed_logins, now.locked_until, now.totp_last_step),
        (0, None, 12)
    );

    // Disabled meanwhile: nothing counts, nobody logs in.
    let mut disabled = now.clone();
    disabled.disabled_at = Some(at(10));
    store
        .save_staff_user(&disabled, Some(at(10)), &log("user.update", "user", 10))
        .await
        .unwrap();
    assert_eq!(
        store
            .record_failed_login(&now, 3, at(900), &failed_logs(10))
            .await
            .unwrap(),
        FailedLogin::NotCounted
    );
    let r = store
        .start_staff_session(
            &now,
            13,
            &session_of(&bob, 10),
            &log("session.login", "user", 10),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    let last = store.staff_user(bob.id).await.unwrap().unwrap();
    assert_eq!((last.failed_logins, last.disabled_at), (0, Some(at(10))));
}

fn session_of(user: &StaffUser, tag: u8) -> StaffSession {
    StaffSession {
        hash: vec![tag; 32],
        user_id: user.id,
        csrf_token: "csrf".into(),
        created_at: at(5),
        last_seen_at: at(5),
        expires_at: at(5 + 3600),
        client_addr: None,
        ended_at: None,
    }
}

pub async fn audit_events_keep_order_and_content(store: &dyn Store) {
    seeded(store).await;
    let mut expected = vec![];
    for i in 1..=5 {
        let l = log("org.update", &format!("org:150100#{i}"), i);
        store
            .update_org(
                &OrgUpdate {
                    code: code("150100"),
                    name: Some(format!("名{i}")),
                    credit_code: None,
                },
                &l,
            )
            .await
            .unwrap();
        expected.push(l.audit);
    }
    let events = store.audit_events(0, 100).await.unwrap();
    assert_eq!(events.len(), 6);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let got: Vec<AuditEvent> = events[1..].iter().map(|r| r.event.clone()).collect();
    assert_eq!(got, expected);
    let page = store.audit_events(events[2].seq, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].seq, events[3].seq);
}

fn key_record(org: Option<&str>, purpose: KeyPurpose, secs: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        id: uuid::Uuid::now_v7(),
        org: org.map(code),
        purpose,
        source: KeySource::LocalCa,
        public_key: vec![4; 65],
        wrapped_private_key: vec![9; 166],
        certificate_pem: "-----BEGIN CERTIFICATE-----\n…\n-----END CERTIFICATE-----\n".into(),
        not_before: at(secs),
        not_after: at(secs + 86_400),
        created_at: at(secs),
        retired_at: None,
    }
}

pub async fn signing_keys_rotate(store: &dyn Store) {
    seeded(store).await;
    let ca = key_record(None, KeyPurpose::Ca, 1);
    store
        .add_signing_key(&ca, false, &log("key.create", "ca", 1))
        .await
        .unwrap();
    assert_eq!(
        store
            .active_signing_key(None, KeyPurpose::Ca)
            .await
            .unwrap()
            .unwrap(),
        ca
    );
    let first = key_record(Some("150100"), KeyPurpose::License, 2);
    store
        .add_signing_key(&first, false, &log("key.create", "k1", 2))
        .await
        .unwrap();
    // A second active key without retiring the first is refused, nothing written.
    let before = audit_count(store).await;
    let clash = store
        .add_signing_key(
            &key_record(Some("150100"), KeyPurpose::License, 3),
            false,
            &log("key.create", "k2", 3),
        )
        .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    assert_eq!(audit_count(store).await, before);
    let second = key_record(Some("150100"), KeyPurpose::License, 4);
    store
        .add_signing_key(&second, true, &log("key.rotate", "k2", 4))
        .await
        .unwrap();
    let active = store
        .active_signing_key(Some(&code("150100")), KeyPurpose::License)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(active.id, second.id);
    let all = store.signing_keys(Some(&code("150100"))).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, first.id);
    assert_eq!(all[0].retired_at, Some(at(4)));
    assert_eq!(
        store
            .signing_key(first.id)
            .await
            .unwrap()
            .unwrap()
            .retired_at,
        Some(at(4))
    );
    // The CA is untouched by the org's rotation.
    assert!(
        store
            .active_signing_key(None, KeyPurpose::Ca)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .active_signing_key(Some(&code("150700")), KeyPurpose::License)
            .await
            .unwrap()
            .is_none()
    );

    // Revoking the org's active key retires it (it signs no more) and is
    // recorded with its audit event; twice is a conflict, an unknown key
    // not found, and neither writes anything.
    let active = store
        .active_signing_key(Some(&code("150100")), KeyPurpose::License)
        .await
        .unwrap()
        .unwrap();
    let revocation = KeyRevocation {
        key_id: active.id,
        revoked_at: at(3),
        reason: "key_compromise".into(),
        recorded_at: at(5),
    };
    let events = audit_count(store).await;
    store
        .revoke_signing_key(&revocation, &log("key.revoke", "k", 5))
        .await
        .unwrap();
    assert_eq!(audit_count(store).await, events + 1);
    assert_eq!(
        store.key_revocations().await.unwrap(),
        vec![revocation.clone()]
    );
    assert!(
        store
            .active_signing_key(Some(&code("150100")), KeyPurpose::License)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .signing_key(active.id)
            .await
            .unwrap()
            .unwrap()
            .retired_at,
        Some(at(5))
    );
    let again = store
        .revoke_signing_key(&revocation, &log("key.revoke", "k", 6))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let unknown = store
        .revoke_signing_key(
            &KeyRevocation {
                key_id: uuid::Uuid::now_v7(),
                ..revocation.clone()
            },
            &log("key.revoke", "k", 6),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(audit_count(store).await, events + 1);
    assert_eq!(store.key_revocations().await.unwrap().len(), 1);
}

fn version_record(
    type_code: &str,
    issuer_credit: &str,
    serial: &str,
    v: u16,
    holder: &str,
    key: uuid::Uuid,
    secs: i64,
) -> LicenseVersionRecord {
    let t = zhengzhao_domain::codes::LicenseTypeCode::parse(type_code).unwrap();
    let i = zhengzhao_domain::codes::CreditCode::parse(issuer_credit).unwrap();
    LicenseVersionRecord {
        license_id: zhengzhao_domain::license_id::LicenseId::new(&t, &i, serial, v).unwrap(),
        version: v,
        type_version: 1,
        holder: Holder {
            name: "某某公司".into(),
            id_type: "uscc".into(),
            id: holder.into(),
        },
        face: serde_json::json!({"number": format!("N{v}")}),
        license_number: Some(format!("N{v}")),
        valid_from: jiff::civil::date(2026, 1, 1),
        valid_until: if v == 1 {
            Some(jiff::civil::date(2030, 12, 31))
        } else {
            None
        },
        issued_at: at(secs),
        payload: format!("{{\"face\":{{\"number\":\"N{v}\"}},\"v\":{v}}}"),
        signature: vec![0x30, v as u8],
        key_id: key,
        // Stored and read back with the version (compared whole below).
        reason: (v > 1).then(|| crate::ChangeReason {
            objection: None,
            kind: crate::ChangeKind::Correction,
            text: format!("第{v}版：更正住所"),
        }),
        status_index: NEXT_STATUS_INDEX.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    }
}

/// Fixture versions take distinct status indexes (the store refuses a repeat).
static NEXT_STATUS_INDEX: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

struct Fixture {
    key: uuid::Uuid,
    issuer_credit: String,
}

async fn license_fixture(store: &dyn Store) -> Fixture {
    seeded(store).await;
    let k = key_record(Some("150102"), KeyPurpose::License, 1);
    store
        .add_signing_key(&k, false, &log("key.create", "k", 1))
        .await
        .unwrap();
    let issuer = store.org(&code("150102")).await.unwrap().unwrap();
    Fixture {
        key: k.id,
        issuer_credit: issuer.credit_code.to_string(),
    }
}

fn new_license(f: &Fixture, serial: &str, record: &str, holder: &str, secs: i64) -> NewLicense {
    NewLicense {
        type_code: zhengzhao_domain::codes::LicenseTypeCode::parse("11100000000013338W001")
            .unwrap(),
        issuer: code("150102"),
        serial: serial.into(),
        source_system: "sys".into(),
        source_record_id: record.into(),
        one_current_per_holder: false,
        first: version_record(
            "11100000000013338W001",
            &f.issuer_credit,
            serial,
            1,
            holder,
            f.key,
            secs,
        ),
    }
}

/// A type that allows one current license per holder: a second is refused
/// naming the first (its current version) and writes nothing, concurrent
/// issues included; "current" is "not revoked", whatever the dates.
pub async fn one_current_license_per_holder(store: &dyn Store) {
    let f = license_fixture(store).await;
    let only_one = |serial: &str, record: &str, holder: &str, secs| NewLicense {
        one_current_per_holder: true,
        ..new_license(&f, serial, record, holder, secs)
    };
    let refused = |r: StoreResult<LicenseRecord>,
                   named: &zhengzhao_domain::license_id::LicenseId| match r {
        Err(StoreError::CurrentLicenseExists { license_id, issuer }) => {
            assert_eq!(&license_id, named);
            assert_eq!(issuer, code("150102"));
        }
        other => panic!("expected CurrentLicenseExists, got {other:?}"),
    };
    let (h1, h2, h3, h4) = (
        "91150102MA0N4JXK2X",
        "91150102MA0N4JXK3X",
        "91150102MA0N4JXK4X",
        "91150102MA0N4JXK5X",
    );
    // Expired long ago, and still current: it is not revoked.
    let mut first = only_one("O1", "o1", h1, 2);
    first.first.valid_from = jiff::civil::date(2010, 1, 1);
    first.first.valid_until = Some(jiff::civil::date(2015, 12, 31));
    let first = store
        .issue_license(&first, &log("license.issue", "l", 2))
        .await
        .unwrap();
    let before = audit_count(store).await;
    let second = only_one("O2", "o2", h1, 3);
    refused(
        store
            .issue_license(&second, &log("license.issue", "l", 3))
            .await,
        &first.versions[0].license_id,
    );
    assert_eq!(
        audit_count(store).await,
        before,
        "a refused issue writes nothing"
    );
    assert!(
        store
            .license_by_source("sys", "o2")
            .await
            .unwrap()
            .is_none()
    );
    // Another holder of the same type is not affected.
    store
        .issue_license(&only_one("O3", "o3", h2, 4), &log("license.issue", "l", 4))
        .await
        .unwrap();
    // The refusal names the current version.
    let v2 = version_record(
        "11100000000013338W001",
        &f.issuer_credit,
        "O1",
        2,
        h1,
        f.key,
        5,
    );
    store
        .add_license_version(first.key, 1, &v2, &log("license.update", "l", 5))
        .await
        .unwrap();
    refused(
        store
            .issue_license(&second, &log("license.issue", "l", 6))
            .await,
        &v2.license_id,
    );
    // Revoked, it no longer counts.
    let revocation = Revocation {
        at: at(7),
        by: "clerk".into(),
        reason: "注销".into(),
    };
    store
        .revoke_license(first.key, 2, &revocation, &log("license.revoke", "l", 7))
        .await
        .unwrap();
    let second = store
        .issue_license(&second, &log("license.issue", "l", 8))
        .await
        .unwrap();
    refused(
        store
            .issue_license(&only_one("O4", "o4", h1, 9), &log("license.issue", "l", 9))
            .await,
        &second.versions[0].license_id,
    );
    // Licenses issued while the type had no such rule are not refused, and
    // count once it has: the oldest is named.
    let legacy = store
        .issue_license(
            &new_license(&f, "L1", "l1", h3, 10),
            &log("license.issue", "l", 10),
        )
        .await
        .unwrap();
    store
        .issue_license(
            &new_license(&f, "L2", "l2", h3, 11),
            &log("license.issue", "l", 11),
        )
        .await
        .unwrap();
    refused(
        store
            .issue_license(
                &only_one("L3", "l3", h3, 12),
                &log("license.issue", "l", 12),
            )
            .await,
        &legacy.versions[0].license_id,
    );
    // Many at once for one holder: exactly one is stored, and every other
    // names it.
    let racing: Vec<NewLicense> = (0..8)
        .map(|i| only_one(&format!("R{i}"), &format!("r{i}"), h4, 20 + i))
        .collect();
    let logs: Vec<ChangeLog> = (0..8).map(|i| log("license.issue", "l", 20 + i)).collect();
    let results = futures_join_all(
        racing
            .iter()
            .zip(&logs)
            .map(|(l, lg)| store.issue_license(l, lg)),
    )
    .await;
    let won: Vec<&LicenseRecord> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for r in &results {
        match r {
            Ok(_) => {}
            Err(StoreError::CurrentLicenseExists { license_id, .. }) => {
                assert_eq!(license_id, &won[0].versions[0].license_id)
            }
            Err(e) => panic!("expected CurrentLicenseExists, got {e:?}"),
        }
    }
    let page = store
        .licenses(
            &LicenseFilter {
                holder_id: Some(h4.into()),
                ..LicenseFilter::default()
            },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
}

pub async fn license_lifecycle(store: &dyn Store) {
    let f = license_fixture(store).await;
    let new = new_license(&f, "A1", "r1", "91150102MA0N4JXK2X", 2);
    let issued = store
        .issue_license(&new, &log("license.issue", "l", 2))
        .await
        .unwrap();
    assert_eq!(issued.versions.len(), 1);
    assert_eq!(issued.versions[0], new.first);
    assert_eq!(issued.serial, "A1");
    assert!(issued.revocation.is_none());
    let first_id = new.first.license_id.clone();
    assert_eq!(
        store
            .license_by_identifier(&first_id)
            .await
            .unwrap()
            .unwrap(),
        issued
    );
    assert_eq!(
        store
            .license_by_source("sys", "r1")
            .await
            .unwrap()
            .unwrap()
            .key,
        issued.key
    );
    assert!(
        store
            .license_by_source("sys", "r2")
            .await
            .unwrap()
            .is_none()
    );

    // The same source record again, or the same serial: conflict, nothing written.
    let before = audit_count(store).await;
    let dup = store
        .issue_license(
            &new_license(&f, "A2", "r1", "x", 3),
            &log("license.issue", "l", 3),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let dup_serial = store
        .issue_license(
            &new_license(&f, "A1", "r9", "x", 3),
            &log("license.issue", "l", 3),
        )
        .await;
    assert!(
        matches!(dup_serial, Err(StoreError::Conflict(_))),
        "{dup_serial:?}"
    );
    assert_eq!(audit_count(store).await, before);

    assert_eq!(
        store.version_status_summary().await.unwrap().superseded,
        Vec::<i64>::new()
    );
    let v2 = version_record(
        "11100000000013338W001",
        &f.issuer_credit,
        "A1",
        2,
        "91150102MA0N4JXK2X",
        f.key,
        4,
    );
    let updated = store
        .add_license_version(issued.key, 1, &v2, &log("license.update", "l", 4))
        .await
        .unwrap();
    assert_eq!(updated.versions.len(), 2);
    assert_eq!(updated.current().unwrap().version, 2);
    assert_eq!(updated.current().unwrap().valid_until, None);
    // The first version is now superseded; nothing is revoked yet.
    let summary = store.version_status_summary().await.unwrap();
    assert_eq!(summary.superseded, vec![new.first.status_index]);
    assert!(summary.revoked.is_empty());
    // A second version with a status index already taken is refused.
    let mut taken = version_record(
        "11100000000013338W001",
        &f.issuer_credit,
        "A1",
        3,
        "91150102MA0N4JXK2X",
        f.key,
        4,
    );
    taken.status_index = v2.status_index;
    let r = store
        .add_license_version(issued.key, 2, &taken, &log("license.update", "l", 4))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    // Any version's identifier names the license.
    assert_eq!(
        store
            .license_by_identifier(&first_id)
            .await
            .unwrap()
            .unwrap()
            .versions
            .len(),
        2
    );
    let stale = version_record(
        "11100000000013338W001",
        &f.issuer_credit,
        "A1",
        3,
        "x",
        f.key,
        5,
    );
    let r = store
        .add_license_version(issued.key, 1, &stale, &log("license.update", "l", 5))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");

    let rev = Revocation {
        at: at(6),
        by: "token:x".into(),
        reason: "注销登记".into(),
    };
    let stale_revoke = store
        .revoke_license(issued.key, 1, &rev, &log("license.revoke", "l", 6))
        .await;
    assert!(
        matches!(stale_revoke, Err(StoreError::Conflict(_))),
        "{stale_revoke:?}"
    );
    let revoked = store
        .revoke_license(issued.key, 2, &rev, &log("license.revoke", "l", 6))
        .await
        .unwrap();
    assert_eq!(revoked.revocation, Some(rev.clone()));
    let again = store
        .revoke_license(issued.key, 2, &rev, &log("license.revoke", "l", 7))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // A single-use presentation is used once; the second use writes nothing.
    let jti = uuid::Uuid::now_v7();
    let events = audit_count(store).await;
    store
        .use_presentation(jti, at(6), &log("presentation.scan", "l", 6))
        .await
        .unwrap();
    let again = store
        .use_presentation(jti, at(7), &log("presentation.scan", "l", 7))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(audit_count(store).await, events + 1);
    // Every version of a revoked license is revoked, none superseded.
    let summary = store.version_status_summary().await.unwrap();
    let mut all = vec![new.first.status_index, v2.status_index];
    all.sort();
    assert_eq!(summary.revoked, all);
    assert!(summary.superseded.is_empty());
    // The status list sees the revocation by the license's key.
    let (max, revoked_keys) = store.license_status_summary().await.unwrap();
    assert!(max >= issued.key);
    assert_eq!(revoked_keys, vec![issued.key]);
    let after_revoke = version_record(
        "11100000000013338W001",
        &f.issuer_credit,
        "A1",
        3,
        "x",
        f.key,
        8,
    );
    let r = store
        .add_license_version(issued.key, 2, &after_revoke, &log("license.update", "l", 8))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");

    assert!(
        store.deliveries_of(issued.key).await.unwrap().is_empty(),
        "no channel rows before the outbox relay gives them"
    );
    let missing = zhengzhao_domain::license_id::LicenseId::new(
        &zhengzhao_domain::codes::LicenseTypeCode::parse("11100000000013338W001").unwrap(),
        &zhengzhao_domain::codes::CreditCode::parse(&f.issuer_credit).unwrap(),
        "ZZ",
        1,
    )
    .unwrap();
    assert!(
        store
            .license_by_identifier(&missing)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn license_list_filters_and_pages(store: &dyn Store) {
    let f = license_fixture(store).await;
    for i in 0..5 {
        let holder = if i % 2 == 0 { "H-EVEN" } else { "H-ODD" };
        store
            .issue_license(
                &new_license(&f, &format!("S{i}"), &format!("r{i}"), holder, 10 + i),
                &log("license.issue", "l", 10 + i),
            )
            .await
            .unwrap();
    }
    let all = store
        .licenses(&LicenseFilter::default(), None, 10)
        .await
        .unwrap();
    let serials: Vec<&str> = all.iter().map(|l| l.serial.as_str()).collect();
    assert_eq!(serials, ["S4", "S3", "S2", "S1", "S0"], "newest first");
    let page1 = store
        .licenses(&LicenseFilter::default(), None, 2)
        .await
        .unwrap();
    let page2 = store
        .licenses(&LicenseFilter::default(), Some(page1[1].key), 2)
        .await
        .unwrap();
    let page3 = store
        .licenses(&LicenseFilter::default(), Some(page2[1].key), 2)
        .await
        .unwrap();
    assert_eq!(
        page2.iter().map(|l| l.serial.as_str()).collect::<Vec<_>>(),
        ["S2", "S1"]
    );
    assert_eq!(page3.len(), 1);
    let even = LicenseFilter {
        holder_id: Some("H-EVEN".into()),
        ..Default::default()
    };
    assert_eq!(store.licenses(&even, None, 10).await.unwrap().len(), 3);
    let typed = LicenseFilter {
        type_code: Some(
            zhengzhao_domain::codes::LicenseTypeCode::parse("11100000000013338W001").unwrap(),
        ),
        holder_id: Some("H-ODD".into()),
        ..Default::default()
    };
    assert_eq!(store.licenses(&typed, None, 10).await.unwrap().len(), 2);
    let other_type = LicenseFilter {
        type_code: Some(
            zhengzhao_domain::codes::LicenseTypeCode::parse("11100000000013338W002").unwrap(),
        ),
        ..Default::default()
    };
    assert!(
        store
            .licenses(&other_type, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let in_hohhot = LicenseFilter {
        issuer_within: Some(code("150100")),
        ..Default::default()
    };
    assert_eq!(store.licenses(&in_hohhot, None, 10).await.unwrap().len(), 5);
    let in_hulunbuir = LicenseFilter {
        issuer_within: Some(code("150700")),
        ..Default::default()
    };
    assert!(
        store
            .licenses(&in_hulunbuir, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The batch check's lookup: many holders and types in one query, newest first.
    let t1 = zhengzhao_domain::codes::LicenseTypeCode::parse("11100000000013338W001").unwrap();
    let t2 = zhengzhao_domain::codes::LicenseTypeCode::parse("11100000000013338W002").unwrap();
    let found = store
        .licenses_of_holders(&["H-ODD".into(), "H-NONE".into()], &[t1.clone(), t2])
        .await
        .unwrap();
    assert_eq!(
        found.iter().map(|l| l.serial.as_str()).collect::<Vec<_>>(),
        ["S3", "S1"]
    );
    assert!(found.iter().all(|l| l.current().is_some()));
    let both = store
        .licenses_of_holders(
            &["H-ODD".into(), "H-EVEN".into()],
            std::slice::from_ref(&t1),
        )
        .await
        .unwrap();
    assert_eq!(both.len(), 5);
    assert!(
        store
            .licenses_of_holders(&[], &[t1])
            .await
            .unwrap()
            .is_empty()
    );
    // Several events in one transaction, in order.
    let before = audit_count(store).await;
    store
        .record_events(&[
            log("verify.batch_item", "holder:a", 50),
            log("verify.batch_item", "holder:b", 51),
        ])
        .await
        .unwrap();
    let events = store.audit_events(0, 10_000).await.unwrap();
    assert_eq!(events.len(), before + 2);
    let last: Vec<_> = events[before..]
        .iter()
        .map(|e| e.event.target.as_str())
        .collect();
    assert_eq!(last, ["holder:a", "holder:b"]);
}

/// A license write's log with its platform message, as the core writes it.
fn license_log(action: &str, id: &zhengzhao_domain::license_id::LicenseId, secs: i64) -> ChangeLog {
    let mut l = log(action, "l", secs);
    l.outbox.push(OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: "platform.license".into(),
        payload: serde_json::json!({"event": action, "license_id": id}),
    });
    l
}

async fn claim(store: &dyn Store, dest: &str, secs: i64) -> Vec<OutboxDelivery> {
    store
        .claim_outbox(dest, at(secs), at(secs + 60), 10)
        .await
        .unwrap()
}

/// The outbox relay's rows: each destination is given every message of its
/// topics once, from the first on; a claim counts the attempt and takes
/// only the oldest undelivered message of each license; a lost lease is
/// taken over; outcomes are recorded only for rows in flight; rejected and
/// parked rows wait for a replay; two claims never take the same row.
pub async fn outbox_relay_rows(store: &dyn Store) {
    let f = license_fixture(store).await;
    let a = new_license(&f, "OB1", "ob1", "H1", 20);
    let b = new_license(&f, "OB2", "ob2", "H2", 21);
    let a1 = a.first.license_id.clone();
    let a = store
        .issue_license(&a, &license_log("license.issued", &a1, 20))
        .await
        .unwrap();
    let b1 = b.first.license_id.clone();
    let b = store
        .issue_license(&b, &license_log("license.issued", &b1, 21))
        .await
        .unwrap();
    let mut v2 = version_record(
        "11100000000013338W001",
        &f.issuer_credit,
        "OB1",
        2,
        "H1",
        f.key,
        22,
    );
    v2.reason = None;
    let a2 = v2.license_id.clone();
    store
        .add_license_version(a.key, 1, &v2, &license_log("license.updated", &a2, 22))
        .await
        .unwrap();
    // A catalog message goes to platforms only.
    let mut cat = log("catalog.update", "c", 23);
    cat.outbox.push(OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: "platform.catalog".into(),
        payload: serde_json::json!({"event": "license_type.updated", "code": "11100000000013338W001"}),
    });
    store.record_event(&cat).await.unwrap();

    let (platform, app) = ("platform", "channel:app");
    let license_only: &[&str] = &["platform.license"];
    let both: &[&str] = &["platform.license", "platform.catalog"];
    for d in [platform, app] {
        store.register_destination(d).await.unwrap();
        store.register_destination(d).await.unwrap();
    }
    assert_eq!(
        store.fan_out(platform, both, at(30), 2).await.unwrap(),
        2,
        "a window of two"
    );
    assert_eq!(store.fan_out(platform, both, at(30), 100).await.unwrap(), 2);
    assert_eq!(
        store.fan_out(platform, both, at(30), 100).await.unwrap(),
        0,
        "once each"
    );
    assert_eq!(
        store.fan_out(app, license_only, at(30), 100).await.unwrap(),
        3
    );
    assert!(store.fan_out("nowhere", both, at(30), 10).await.is_err());

    // Oldest first, one per license: A's second version waits for its first.
    let got = claim(store, app, 30).await;
    let ids: Vec<String> = got
        .iter()
        .map(|d| {
            d.message.message.payload["license_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids, [a1.to_string(), b1.to_string()]);
    assert!(
        got.iter()
            .all(|d| d.attempts == 1 && d.state == OutboxState::InFlight)
    );
    assert_eq!(got[0].license_key, Some(a.key));
    assert!(
        claim(store, app, 31).await.is_empty(),
        "in flight, and A2 waits"
    );

    // A's first delivered (audited); B's fails and is retried later.
    let before = audit_count(store).await;
    store
        .record_outbox_attempt(
            got[0].id,
            &OutboxOutcome::Delivered { at: at(32) },
            Some(&log("outbox.deliver", "l", 32)),
        )
        .await
        .unwrap();
    assert_eq!(audit_count(store).await, before + 1);
    let again = store
        .record_outbox_attempt(got[0].id, &OutboxOutcome::Delivered { at: at(33) }, None)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    store
        .record_outbox_attempt(
            got[1].id,
            &OutboxOutcome::Retry {
                error: "HTTP 503".into(),
                next_attempt_at: at(50),
            },
            None,
        )
        .await
        .unwrap();
    let next = claim(store, app, 33).await;
    assert_eq!(next.len(), 1, "A's second version now; B not due before 50");
    assert_eq!(
        next[0].message.message.payload["license_id"],
        a2.to_string()
    );
    // Its worker dies: after the lease (until 93) another claim takes it,
    // counting again. B, due again at 50, is claimed at 92.
    let at_92 = claim(store, app, 92).await;
    assert!(at_92.iter().all(|d| d.id != next[0].id), "lease not over");
    let b_again = at_92.iter().find(|d| d.id == got[1].id).unwrap().clone();
    assert_eq!(b_again.attempts, 2);
    assert_eq!(b_again.last_error.as_deref(), Some("HTTP 503"));
    let retaken = claim(store, app, 94).await;
    assert_eq!(retaken.len(), 1);
    let taken = &retaken[0];
    assert_eq!((taken.id, taken.attempts), (next[0].id, 2));
    store
        .record_outbox_attempt(
            taken.id,
            &OutboxOutcome::Rejected {
                error: "HTTP 422".into(),
            },
            Some(&log("outbox.deliver", "l", 95)),
        )
        .await
        .unwrap();
    store
        .record_outbox_attempt(
            b_again.id,
            &OutboxOutcome::Parked {
                error: "HTTP 503".into(),
            },
            Some(&log("outbox.deliver", "l", 95)),
        )
        .await
        .unwrap();
    assert!(
        claim(store, app, 200).await.is_empty(),
        "rejected and parked wait"
    );

    // The views: channel rows per license, the summary, the list.
    let a_rows = store.deliveries_of(a.key).await.unwrap();
    assert_eq!(a_rows.len(), 2);
    assert_eq!(a_rows[0].license_id, a1);
    assert_eq!(a_rows[0].channel, "app");
    assert_eq!(a_rows[0].status, DeliveryStatus::Delivered);
    assert_eq!(a_rows[0].delivered_at, Some(at(32)));
    assert_eq!(a_rows[1].status, DeliveryStatus::Failed);
    let together = store.deliveries_of_licenses(&[a.key, b.key]).await.unwrap();
    assert_eq!(together.len(), 3);
    assert!(store.deliveries_of_licenses(&[]).await.unwrap().is_empty());
    let summary = store.outbox_summary().await.unwrap();
    let of = |d: &str| summary.iter().find(|s| s.destination == d).unwrap().clone();
    assert_eq!(
        (of(app).pending, of(app).rejected, of(app).parked),
        (0, 1, 1)
    );
    assert_eq!(of(platform).pending, 4);
    assert_eq!(of(platform).oldest_undelivered_at, Some(at(20)));
    let parked = store
        .outbox_deliveries(&OutboxFilter {
            destination: Some(app.into()),
            state: Some(OutboxState::Parked),
            before_id: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].id, b_again.id);
    assert_eq!(
        store
            .outbox_delivery(b_again.id)
            .await
            .unwrap()
            .unwrap()
            .state,
        OutboxState::Parked
    );

    // Replay: only rejected or parked rows, audited, from the first attempt.
    let r = store
        .replay_outbox(a_rows[0].id, at(201), &log("outbox.replay", "o", 201))
        .await;
    assert!(
        matches!(r, Err(StoreError::Conflict(_))),
        "a delivered row: {r:?}"
    );
    assert!(matches!(
        store
            .replay_outbox(999_999, at(201), &log("outbox.replay", "o", 201))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let replayed = store
        .replay_outbox(b_again.id, at(201), &log("outbox.replay", "o", 201))
        .await
        .unwrap();
    assert_eq!(
        (replayed.state, replayed.attempts),
        (OutboxState::Pending, 0)
    );
    assert_eq!(claim(store, app, 201).await.len(), 1);

    // Two claims at once on the platform's rows: no row taken twice.
    let both_claims = futures_join_all(
        [
            store.claim_outbox(platform, at(300), at(360), 3),
            store.claim_outbox(platform, at(300), at(360), 3),
        ]
        .into_iter(),
    )
    .await;
    let mut all: Vec<i64> = both_claims
        .into_iter()
        .flat_map(|c| c.unwrap())
        .map(|d| d.id)
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a row claimed twice");
    assert_eq!(
        n, 3,
        "A2 waits for A1; the catalog message is its own stream"
    );
}

/// Signed-request nonces: used once per token within their window, by any
/// node on the database; an expired one is purged or taken over.
pub async fn request_nonces_are_used_once(store: &dyn Store) {
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let nonce = "n0nce-0000000001";
    let before = audit_count(store).await;
    store
        .use_request_nonce(a, nonce, at(600), at(0))
        .await
        .unwrap();
    let again = store.use_request_nonce(a, nonce, at(600), at(10)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    // Another token may use the same nonce; the same token another nonce.
    store
        .use_request_nonce(b, nonce, at(600), at(10))
        .await
        .unwrap();
    store
        .use_request_nonce(a, "n0nce-0000000002", at(900), at(10))
        .await
        .unwrap();
    // Many at once: exactly one wins.
    let tries = futures_join_all(
        (0..8).map(|_| store.use_request_nonce(a, "n0nce-concurrent-1", at(600), at(10))),
    )
    .await;
    assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), 1, "{tries:?}");
    assert!(
        tries
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_))))
    );
    // Once its window is over, a nonce may be taken again (the timestamp
    // check refuses such a request anyway) or purged.
    store
        .use_request_nonce(a, nonce, at(1200), at(600))
        .await
        .unwrap();
    assert!(matches!(
        store.use_request_nonce(a, nonce, at(1200), at(601)).await,
        Err(StoreError::Conflict(_))
    ));
    // At 900: b's first (600) and the concurrent one (600) are over; a's
    // second (900) too; a's first, taken again (1200), is not.
    assert_eq!(store.purge_request_nonces(at(900)).await.unwrap(), 3);
    assert_eq!(store.purge_request_nonces(at(900)).await.unwrap(), 0);
    assert!(matches!(
        store.use_request_nonce(a, nonce, at(1500), at(900)).await,
        Err(StoreError::Conflict(_))
    ));
    store
        .use_request_nonce(b, nonce, at(1500), at(900))
        .await
        .unwrap();
    // Nothing of this is an audit event.
    assert_eq!(audit_count(store).await, before);
}

/// Run futures concurrently and collect their results in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.unwrap()).collect()
}

/// Status indexes (issue 11): blocks reserved at once never overlap, and
/// the next index is past every block.
pub async fn status_indexes_are_reserved_once(store: &dyn Store) {
    let first = store.reserve_status_indexes(10).await.unwrap();
    assert!(first >= 0);
    let blocks = futures_join_all((0..8).map(|_| store.reserve_status_indexes(100))).await;
    let mut starts: Vec<i64> = blocks.into_iter().map(Result::unwrap).collect();
    starts.push(first);
    starts.sort();
    assert_eq!(starts[0], first);
    for pair in starts[1..].windows(2) {
        assert!(pair[1] - pair[0] >= 100, "overlapping blocks: {starts:?}");
    }
    assert!(starts[1] - first >= 10, "overlapping blocks: {starts:?}");
    let next = store.version_status_summary().await.unwrap().next_index;
    assert!(
        next >= starts[8] + 100,
        "next {next} inside a reserved block"
    );
    assert!(store.reserve_status_indexes(0).await.is_err());
}

// ---- the audit log's Merkle tree, checkpoints and search ----

/// An arbitrary but well-mixed 32-byte value (every byte value can occur):
/// the store keeps hashes, it does not compute them.
fn fake_hash(tag: u64) -> [u8; 32] {
    let mut x = tag ^ 0x5851_F42D_4C95_7F2D;
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        // splitmix64
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_be_bytes());
    }
    out
}

/// Leaves `size..` for the audit events `seqs`, with arbitrary hashes
/// (`salt` tells two attempts apart).
fn tree_leaves(size: u64, seqs: &[i64], salt: u64) -> Vec<AuditLeaf> {
    seqs.iter()
        .enumerate()
        .map(|(i, &seq)| AuditLeaf {
            index: size + i as u64,
            seq,
            hash: fake_hash((salt << 40) | seq as u64),
        })
        .collect()
}

/// The complete nodes that appending `leaves` to a tree of `leaves[0].index`
/// leaves completes, as the integrator passes them: each leaf itself (level
/// 0) and every parent its right child closes, `(level, index)` covering
/// leaves `index·2^level .. (index+1)·2^level`. Interior hashes are arbitrary.
fn completed_nodes(leaves: &[AuditLeaf], salt: u64) -> Vec<AuditNode> {
    let mut out = vec![];
    for l in leaves {
        let mut node = AuditNode {
            level: 0,
            index: l.index,
            hash: l.hash,
        };
        out.push(node);
        while node.index % 2 == 1 {
            node = AuditNode {
                level: node.level + 1,
                index: node.index / 2,
                hash: fake_hash(
                    (salt << 40) | (u64::from(node.level + 1) << 32) | (node.index / 2),
                ),
            };
            out.push(node);
        }
    }
    out
}

fn by_coords(mut nodes: Vec<AuditNode>) -> Vec<AuditNode> {
    nodes.sort_by_key(|n| (n.level, n.index));
    nodes
}

/// `count` events recorded in one go; their sequence numbers, in order.
async fn recorded_events(store: &dyn Store, count: i64) -> Vec<i64> {
    let before = store.audit_events(0, 10_000).await.unwrap();
    let logs: Vec<ChangeLog> = (0..count)
        .map(|i| log("verify.batch_item", &format!("holder:{i}"), 100 + i))
        .collect();
    store.record_events(&logs).await.unwrap();
    let after = store.audit_events(0, 10_000).await.unwrap();
    assert_eq!(after.len(), before.len() + count as usize);
    after[before.len()..].iter().map(|e| e.seq).collect()
}

/// A fresh tree is empty; exact appends grow it, and every read (head,
/// leaves by index range, leaf by event, nodes by coordinates) gives back
/// exactly what was written.
pub async fn audit_tree_grows_by_exact_appends(store: &dyn Store) {
    let empty = store.audit_tree_head().await.unwrap();
    assert_eq!(
        empty,
        AuditTreeHead {
            size: 0,
            last_seq: 0
        }
    );
    assert!(store.audit_leaves(0, 10).await.unwrap().is_empty());
    assert!(
        store
            .audit_nodes(&[(0, 0), (1, 0)])
            .await
            .unwrap()
            .is_empty()
    );

    let seqs = recorded_events(store, 7).await;
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Events alone do not move the tree: it is appended by the integrator.
    assert_eq!(store.audit_tree_head().await.unwrap(), empty);
    assert_eq!(store.audit_leaf_of(seqs[0]).await.unwrap(), None);

    // The first three events: leaves 0..3, closing (1, 0).
    let first = tree_leaves(0, &seqs[..3], 1);
    let first_nodes = completed_nodes(&first, 1);
    assert_eq!(first_nodes.len(), 4);
    store
        .append_audit_leaves(&empty, &first, &first_nodes)
        .await
        .unwrap();
    let head = store.audit_tree_head().await.unwrap();
    assert_eq!(
        head,
        AuditTreeHead {
            size: 3,
            last_seq: seqs[2]
        }
    );
    assert_eq!(store.audit_leaves(0, 10).await.unwrap(), first);
    assert_eq!(store.audit_leaves(1, 1).await.unwrap(), first[1..2]);
    assert_eq!(store.audit_leaf_of(seqs[1]).await.unwrap(), Some(first[1]));
    assert_eq!(store.audit_leaf_of(seqs[3]).await.unwrap(), None);
    let asked = [(1, 0), (0, 2), (1, 1), (2, 0), (0, 3), (0, 0)];
    let got = by_coords(store.audit_nodes(&asked).await.unwrap());
    assert_eq!(
        got,
        by_coords(vec![first_nodes[0], first_nodes[2], first_nodes[3]]),
        "(0, 0), (1, 0) and (0, 2); the rest is not complete yet"
    );

    // The other four, against the new head: leaves 3..7, closing (1, 1),
    // (2, 0) and (1, 2).
    let rest = tree_leaves(3, &seqs[3..], 1);
    let rest_nodes = completed_nodes(&rest, 1);
    assert_eq!(rest_nodes.len(), 7);
    store
        .append_audit_leaves(&head, &rest, &rest_nodes)
        .await
        .unwrap();
    let head = store.audit_tree_head().await.unwrap();
    assert_eq!(
        head,
        AuditTreeHead {
            size: 7,
            last_seq: seqs[6]
        }
    );
    let all: Vec<AuditLeaf> = first.iter().chain(&rest).copied().collect();
    assert_eq!(store.audit_leaves(0, 100).await.unwrap(), all);
    assert_eq!(store.audit_leaves(2, 3).await.unwrap(), all[2..5]);
    assert_eq!(store.audit_leaves(5, 100).await.unwrap(), all[5..]);
    assert!(store.audit_leaves(7, 100).await.unwrap().is_empty());
    for (i, &seq) in seqs.iter().enumerate() {
        assert_eq!(store.audit_leaf_of(seq).await.unwrap(), Some(all[i]));
    }
    assert_eq!(store.audit_leaf_of(seqs[6] + 1).await.unwrap(), None);

    // Every complete node of a 7-leaf tree, and a few that are not there.
    let stored: Vec<AuditNode> = first_nodes.iter().chain(&rest_nodes).copied().collect();
    assert_eq!(stored.len(), 11);
    let mut asked: Vec<(u32, u64)> = stored.iter().map(|n| (n.level, n.index)).collect();
    asked.extend([(0, 7), (1, 3), (2, 1), (3, 0)]);
    asked.reverse();
    let got = by_coords(store.audit_nodes(&asked).await.unwrap());
    assert_eq!(got, by_coords(stored.clone()));
    // A single node, and level 0 read back as the leaf's hash.
    assert_eq!(store.audit_nodes(&[(2, 0)]).await.unwrap(), [rest_nodes[2]]);
    assert_eq!(
        store.audit_nodes(&[(0, 5)]).await.unwrap()[0].hash,
        all[5].hash
    );

    // A later event leaves the tree where it was, until appended too.
    let more = recorded_events(store, 1).await;
    assert_eq!(store.audit_tree_head().await.unwrap(), head);
    let last = tree_leaves(7, &more, 1);
    store
        .append_audit_leaves(&head, &last, &completed_nodes(&last, 1))
        .await
        .unwrap();
    assert_eq!(
        store.audit_tree_head().await.unwrap(),
        AuditTreeHead {
            size: 8,
            last_seq: more[0]
        }
    );
    assert_eq!(
        by_coords(store.audit_nodes(&[(3, 0), (2, 1), (1, 3)]).await.unwrap())
            .iter()
            .map(|n| (n.level, n.index))
            .collect::<Vec<_>>(),
        [(1, 3), (2, 1), (3, 0)]
    );
}

/// Appends that are not exactly the next events against the current head
/// are refused with `Conflict`, and write nothing.
pub async fn audit_tree_refuses_inexact_appends(store: &dyn Store) {
    let s = recorded_events(store, 6).await;
    let start = AuditTreeHead::default();
    let first = tree_leaves(0, &s[..2], 1);
    let first_nodes = completed_nodes(&first, 1);
    store
        .append_audit_leaves(&start, &first, &first_nodes)
        .await
        .unwrap();
    let head = store.audit_tree_head().await.unwrap();
    assert_eq!(
        head,
        AuditTreeHead {
            size: 2,
            last_seq: s[1]
        }
    );

    let every_coord: Vec<(u32, u64)> = (0..4)
        .flat_map(|level| (0..8).map(move |index| (level, index)))
        .collect();
    let nodes_before = by_coords(store.audit_nodes(&every_coord).await.unwrap());
    assert_eq!(nodes_before, by_coords(first_nodes.clone()));

    // Each attempt writes leaves with new hashes (salt 2), so a partial
    // write would show.
    let attempts: Vec<(&str, AuditTreeHead, Vec<AuditLeaf>)> = vec![
        ("a stale head (the tree before the last append)", start, {
            tree_leaves(0, &s[..3], 2)
        }),
        (
            "a head that is ahead of the tree",
            AuditTreeHead {
                size: 3,
                last_seq: s[2],
            },
            tree_leaves(3, &s[3..4], 2),
        ),
        (
            "a head of the right size but another last event",
            AuditTreeHead {
                size: 2,
                last_seq: s[2],
            },
            tree_leaves(2, &s[3..4], 2),
        ),
        ("skipping the next event", head, tree_leaves(2, &s[3..5], 2)),
        (
            "skipping an event in the middle",
            head,
            tree_leaves(2, &[s[2], s[4]], 2),
        ),
        (
            "repeating an event",
            head,
            tree_leaves(2, &[s[2], s[2], s[3]], 2),
        ),
        (
            "repeating an event already in the tree",
            head,
            tree_leaves(2, &[s[1], s[2]], 2),
        ),
        (
            "events out of order",
            head,
            tree_leaves(2, &[s[3], s[2]], 2),
        ),
        (
            "one leaf beyond the last event",
            head,
            tree_leaves(2, &[s[2], s[3], s[4], s[5], s[5] + 1], 2),
        ),
        (
            "a leaf for an event that does not exist yet",
            head,
            tree_leaves(2, &[s[5] + 1], 2),
        ),
        ("leaf indexes that do not follow the tree", head, {
            tree_leaves(3, &s[2..4], 2)
        }),
        ("leaf indexes that start the tree again", head, {
            tree_leaves(0, &s[2..4], 2)
        }),
    ];
    for (what, at_head, leaves) in &attempts {
        let nodes = completed_nodes(leaves, 2);
        let r = store.append_audit_leaves(at_head, leaves, &nodes).await;
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{what}: {r:?}");
        assert_eq!(store.audit_tree_head().await.unwrap(), head, "{what}");
        assert_eq!(store.audit_leaves(0, 100).await.unwrap(), first, "{what}");
        assert_eq!(
            by_coords(store.audit_nodes(&every_coord).await.unwrap()),
            nodes_before,
            "{what}"
        );
        for l in leaves {
            if !s[..2].contains(&l.seq) {
                assert_eq!(store.audit_leaf_of(l.seq).await.unwrap(), None, "{what}");
            }
        }
    }

    // The exact append still succeeds after all that.
    let next = tree_leaves(2, &s[2..4], 3);
    store
        .append_audit_leaves(&head, &next, &completed_nodes(&next, 3))
        .await
        .unwrap();
    let head = store.audit_tree_head().await.unwrap();
    assert_eq!(
        head,
        AuditTreeHead {
            size: 4,
            last_seq: s[3]
        }
    );
    let all: Vec<AuditLeaf> = first.iter().chain(&next).copied().collect();
    assert_eq!(store.audit_leaves(0, 100).await.unwrap(), all);
    // Appending the same leaves again is now a stale head.
    let again = store
        .append_audit_leaves(
            &AuditTreeHead {
                size: 2,
                last_seq: s[1],
            },
            &next,
            &[],
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.audit_leaves(0, 100).await.unwrap(), all);

    // As many leaves as there are events up to the last leaf's, in order,
    // yet not those events: event s[4] skipped, and a leaf for s[5] + 1,
    // which does not exist.
    let phantom = tree_leaves(4, &[s[5], s[5] + 1], 4);
    let accepted = store
        .append_audit_leaves(&head, &phantom, &completed_nodes(&phantom, 4))
        .await;
    assert!(
        matches!(accepted, Err(StoreError::Conflict(_))),
        "{accepted:?}"
    );
    assert_eq!(store.audit_tree_head().await.unwrap(), head);
    assert_eq!(store.audit_leaves(0, 100).await.unwrap(), all);
}

fn checkpoint(tree_size: u64, key_id: uuid::Uuid, created_at: jiff::Timestamp) -> AuditCheckpoint {
    AuditCheckpoint {
        tree_size,
        root: fake_hash(1_000 + tree_size),
        created_at,
        key_id,
        note: format!(
            "zhengzhao/audit-sm3/150000/0123456789abcdef\n{tree_size}\nroot=\ntime {created_at}\n\n\
             — zhengzhao/audit-sm3/150000/0123456789abcdef 签名{tree_size}\n"
        ),
        // DER-looking bytes of a length that varies, with 0x00 and 0xff in them.
        signature: (0..70 + tree_size as usize)
            .map(|i| (i * 37 + tree_size as usize) as u8)
            .chain([0x00, 0xff])
            .collect(),
    }
}

/// Checkpoints come back smallest first within `from_size` (inclusive) and
/// `limit`, every field intact; the latest is the largest; each is written
/// with its audit event, and a refused one writes neither.
pub async fn audit_checkpoints_keep_order_and_fields(store: &dyn Store) {
    seeded(store).await;
    let key = key_record(None, KeyPurpose::Ca, 1);
    store
        .add_signing_key(&key, false, &log("key.create", "ca", 1))
        .await
        .unwrap();
    assert_eq!(store.latest_audit_checkpoint().await.unwrap(), None);
    assert!(store.audit_checkpoints(0, 10).await.unwrap().is_empty());

    // Sizes added out of order; times down to the microsecond.
    let micros = |secs: i64, us: i64| {
        at(secs)
            .checked_add(jiff::SignedDuration::from_micros(us))
            .unwrap()
    };
    let mut added = vec![];
    for (size, secs, us) in [
        (8, 10, 123_456),
        (2, 11, 1),
        (13, 12, 999_999),
        (5, 13, 500_000),
    ] {
        let cp = checkpoint(size, key.id, micros(secs, us));
        let before = store.audit_events(0, 10_000).await.unwrap();
        let l = log("audit.checkpoint", &format!("audit_tree:{size}"), secs);
        store.add_audit_checkpoint(&cp, &l).await.unwrap();
        let after = store.audit_events(0, 10_000).await.unwrap();
        assert_eq!(after.len(), before.len() + 1, "size {size}");
        assert_eq!(after.last().unwrap().event, l.audit, "size {size}");
        added.push(cp);
    }
    added.sort_by_key(|cp| cp.tree_size);
    let sizes = |cps: Vec<AuditCheckpoint>| cps.iter().map(|c| c.tree_size).collect::<Vec<_>>();

    assert_eq!(store.audit_checkpoints(0, 10).await.unwrap(), added);
    assert_eq!(
        sizes(store.audit_checkpoints(5, 10).await.unwrap()),
        [5, 8, 13]
    );
    assert_eq!(
        sizes(store.audit_checkpoints(6, 10).await.unwrap()),
        [8, 13]
    );
    assert_eq!(sizes(store.audit_checkpoints(13, 10).await.unwrap()), [13]);
    assert!(store.audit_checkpoints(14, 10).await.unwrap().is_empty());
    assert_eq!(sizes(store.audit_checkpoints(0, 2).await.unwrap()), [2, 5]);
    assert_eq!(store.audit_checkpoints(3, 1).await.unwrap(), added[1..2]);
    assert_eq!(
        store.latest_audit_checkpoint().await.unwrap().as_ref(),
        Some(&added[3])
    );
    assert_eq!(added[3].created_at, micros(12, 999_999));

    // A second checkpoint of a size already signed is refused; nothing changes.
    let events = audit_count(store).await;
    let mut twin = checkpoint(5, key.id, micros(20, 0));
    twin.root = fake_hash(7);
    let r = store
        .add_audit_checkpoint(&twin, &log("audit.checkpoint", "audit_tree:5", 20))
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    // One signed by a key the library does not have is refused too.
    let stray = checkpoint(21, uuid::Uuid::now_v7(), micros(21, 0));
    let r = store
        .add_audit_checkpoint(&stray, &log("audit.checkpoint", "audit_tree:21", 21))
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(audit_count(store).await, events);
    assert_eq!(store.audit_checkpoints(0, 10).await.unwrap(), added);
    assert_eq!(
        store.latest_audit_checkpoint().await.unwrap().as_ref(),
        Some(&added[3])
    );

    // A newer, larger one becomes the latest.
    let newer = checkpoint(34, key.id, micros(30, 654_321));
    store
        .add_audit_checkpoint(&newer, &log("audit.checkpoint", "audit_tree:34", 30))
        .await
        .unwrap();
    assert_eq!(store.latest_audit_checkpoint().await.unwrap(), Some(newer));
    assert_eq!(
        sizes(store.audit_checkpoints(9, 10).await.unwrap()),
        [13, 34]
    );
}

/// An audit event for the search cases.
fn event_at(
    actor: &str,
    org: Option<&str>,
    action: &str,
    target: &str,
    at: jiff::Timestamp,
) -> ChangeLog {
    let mut l = log(action, target, 0);
    l.audit.at = at;
    l.audit.actor = actor.into();
    l.audit.org = org.map(Into::into);
    l
}

/// The events (by their index in `all`) a search finds, each checked whole.
async fn searched(
    store: &dyn Store,
    all: &[AuditRecord],
    q: AuditQuery,
    after: i64,
    limit: u32,
) -> Vec<usize> {
    let found = store.search_audit(&q, after, limit).await.unwrap();
    found
        .iter()
        .map(|r| {
            let i = all.iter().position(|a| a.seq == r.seq).unwrap();
            assert_eq!(r, &all[i], "{q:?}");
            i
        })
        .collect()
}

/// Every filter of the audit search alone and together, keyset paging, and
/// the order of the results; and `audit_events` paging.
pub async fn audit_search_filters_and_pages(store: &dyn Store) {
    assert!(store.audit_events(0, 10).await.unwrap().is_empty());
    // (actor, org, action, target, seconds); `at` is not in sequence order.
    let specs: [(&str, Option<&str>, &str, &str, i64); 10] = [
        ("user:a", Some("150100"), "license.issue", "license:1", 10), // 0
        ("user:b", Some("150102"), "license.revoke", "license:1", 20), // 1
        ("cli", None, "key.rotate", "key:1", 30),                     // 2
        ("user:a", Some("150700"), "license.issue", "license:2", 40), // 3
        ("system", None, "audit.checkpoint", "audit_tree:4", 50),     // 4
        ("user:b", Some("150100"), "license.issue", "license:3", 60), // 5
        ("user:a", Some("150102"), "license.revoke", "license:2", 70), // 6
        ("token:x", Some("150000"), "license.issue", "license:1", 80), // 7
        ("user:b", Some("150100"), "license.issue", "license:4", 15), // 8
        ("user:a", None, "session.login", "user:a", 35),              // 9
    ];
    let logs: Vec<ChangeLog> = specs
        .iter()
        .map(|&(actor, org, action, target, secs)| event_at(actor, org, action, target, at(secs)))
        .collect();
    // In two transactions, so that paging crosses one.
    store.record_events(&logs[..4]).await.unwrap();
    store.record_events(&logs[4..]).await.unwrap();
    let all = store.audit_events(0, 100).await.unwrap();
    assert_eq!(all.len(), specs.len());
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let got: Vec<&AuditEvent> = all.iter().map(|r| &r.event).collect();
    let want: Vec<&AuditEvent> = logs.iter().map(|l| &l.audit).collect();
    assert_eq!(got, want);
    let seq = |i: usize| all[i].seq;

    // audit_events pages by sequence number.
    assert_eq!(store.audit_events(0, 3).await.unwrap(), all[..3]);
    assert_eq!(store.audit_events(seq(2), 3).await.unwrap(), all[3..6]);
    assert_eq!(store.audit_events(seq(7), 100).await.unwrap(), all[8..]);
    assert!(store.audit_events(seq(9), 100).await.unwrap().is_empty());

    let find = |q: AuditQuery, after: i64, limit: u32| searched(store, &all, q, after, limit);
    let everything: Vec<usize> = (0..specs.len()).collect();
    assert_eq!(find(AuditQuery::default(), 0, 100).await, everything);

    // Time: `from` inclusive, `to` exclusive, by `at`, not by sequence.
    let from = |secs| AuditQuery {
        from: Some(at(secs)),
        ..Default::default()
    };
    let to = |secs| AuditQuery {
        to: Some(at(secs)),
        ..Default::default()
    };
    assert_eq!(find(from(40), 0, 100).await, [3, 4, 5, 6, 7]);
    assert_eq!(find(from(41), 0, 100).await, [4, 5, 6, 7]);
    assert_eq!(find(to(30), 0, 100).await, [0, 1, 8]);
    assert_eq!(find(to(31), 0, 100).await, [0, 1, 2, 8]);
    let window = AuditQuery {
        from: Some(at(15)),
        to: Some(at(40)),
        ..Default::default()
    };
    assert_eq!(find(window, 0, 100).await, [1, 2, 8, 9]);
    let nothing = AuditQuery {
        from: Some(at(40)),
        to: Some(at(40)),
        ..Default::default()
    };
    assert!(find(nothing, 0, 100).await.is_empty());

    // Actor, action.
    let actor = |a: &str| AuditQuery {
        actor: Some(a.into()),
        ..Default::default()
    };
    assert_eq!(find(actor("user:a"), 0, 100).await, [0, 3, 6, 9]);
    assert_eq!(find(actor("cli"), 0, 100).await, [2]);
    assert!(find(actor("user:"), 0, 100).await.is_empty());
    let action = |a: &str| AuditQuery {
        action: Some(a.into()),
        ..Default::default()
    };
    assert_eq!(find(action("license.issue"), 0, 100).await, [0, 3, 5, 7, 8]);
    assert_eq!(find(action("license.revoke"), 0, 100).await, [1, 6]);
    assert!(find(action("license"), 0, 100).await.is_empty());

    // Orgs: any of the list; events without an org only when there is no list.
    let orgs = |o: &[&str]| AuditQuery {
        orgs: Some(o.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    assert_eq!(find(orgs(&["150100"]), 0, 100).await, [0, 5, 8]);
    assert_eq!(
        find(orgs(&["150100", "150102"]), 0, 100).await,
        [0, 1, 5, 6, 8]
    );
    assert_eq!(
        find(orgs(&["150000", "150100", "150102", "150700"]), 0, 100).await,
        [0, 1, 3, 5, 6, 7, 8],
        "every event with an org, none without"
    );
    assert!(find(orgs(&["152900"]), 0, 100).await.is_empty());
    assert!(find(orgs(&[]), 0, 100).await.is_empty());

    // Targets: any of the list.
    let targets = |t: &[&str]| AuditQuery {
        targets: Some(t.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    assert_eq!(find(targets(&["license:1"]), 0, 100).await, [0, 1, 7]);
    assert_eq!(
        find(targets(&["license:1", "license:2", "nothing"]), 0, 100).await,
        [0, 1, 3, 6, 7]
    );
    assert!(find(targets(&[]), 0, 100).await.is_empty());

    // Together: every filter must hold.
    let issued_here = AuditQuery {
        orgs: Some(vec!["150100".into(), "150700".into()]),
        action: Some("license.issue".into()),
        ..Default::default()
    };
    assert_eq!(find(issued_here.clone(), 0, 100).await, [0, 3, 5, 8]);
    let by_a = AuditQuery {
        actor: Some("user:a".into()),
        ..issued_here.clone()
    };
    assert_eq!(find(by_a, 0, 100).await, [0, 3]);
    let later = AuditQuery {
        from: Some(at(15)),
        to: Some(at(60)),
        ..issued_here.clone()
    };
    assert_eq!(find(later.clone(), 0, 100).await, [3, 8]);
    let of_targets = AuditQuery {
        targets: Some(vec!["license:4".into(), "license:1".into()]),
        ..later.clone()
    };
    assert_eq!(find(of_targets, 0, 100).await, [8]);
    let all_six = AuditQuery {
        from: Some(at(10)),
        to: Some(at(81)),
        actor: Some("user:b".into()),
        orgs: Some(vec!["150100".into()]),
        action: Some("license.issue".into()),
        targets: Some(vec![
            "license:3".into(),
            "license:4".into(),
            "license:1".into(),
        ]),
    };
    assert_eq!(find(all_six.clone(), 0, 100).await, [5, 8]);
    let none_of_b = AuditQuery {
        actor: Some("user:b".into()),
        ..later
    };
    assert_eq!(find(none_of_b, 0, 100).await, [8]);
    let no_org_logins = AuditQuery {
        actor: Some("user:a".into()),
        action: Some("session.login".into()),
        ..Default::default()
    };
    assert_eq!(find(no_org_logins.clone(), 0, 100).await, [9]);
    let with_orgs = AuditQuery {
        orgs: Some(vec!["150100".into()]),
        ..no_org_logins
    };
    assert!(find(with_orgs, 0, 100).await.is_empty());

    // Keyset paging: `after` is a sequence number (of any event, matching
    // or not), `limit` caps the page.
    let issues = action("license.issue");
    assert_eq!(find(issues.clone(), 0, 2).await, [0, 3]);
    assert_eq!(find(issues.clone(), seq(3), 2).await, [5, 7]);
    assert_eq!(find(issues.clone(), seq(7), 2).await, [8]);
    assert!(find(issues.clone(), seq(8), 2).await.is_empty());
    assert_eq!(find(issues.clone(), seq(1), 100).await, [3, 5, 7, 8]);
    assert_eq!(find(issues.clone(), seq(4), 1).await, [5]);
    let mut paged = vec![];
    let mut after = 0;
    loop {
        let page = find(AuditQuery::default(), after, 3).await;
        assert!(page.len() <= 3);
        let Some(&last) = page.last() else { break };
        after = seq(last);
        paged.extend(page);
    }
    assert_eq!(paged, everything);
    assert_eq!(find(all_six, seq(5), 100).await, [8]);
    assert!(find(issued_here, seq(9), 100).await.is_empty());
}

async fn searched_actions(store: &dyn Store, q: AuditQuery) -> Vec<String> {
    store
        .search_audit(&q, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event.action)
        .collect()
}

/// The time bounds of the search are exact instants, at the precision events
/// are stored (the microsecond): `from` takes an event at its own instant and
/// not one a fraction of a millisecond earlier, `to` the other way round.
pub async fn audit_search_time_bounds_are_exact(store: &dyn Store) {
    let t = |us: i64| {
        at(100)
            .checked_add(jiff::SignedDuration::from_micros(us))
            .unwrap()
    };
    let logs = [
        // 0.4 ms before a whole second, as `Timestamp::now()` gives them.
        event_at("cli", None, "a", "x", t(-400)),
        event_at("cli", None, "b", "x", t(0)),
        event_at("cli", None, "c", "x", t(100)),
        event_at("cli", None, "d", "x", t(400)),
        event_at("cli", None, "e", "x", t(1_000)),
        event_at("cli", None, "f", "x", t(1_500)),
        event_at("cli", None, "g", "x", t(3_000)),
    ];
    store.record_events(&logs).await.unwrap();
    let all = store.audit_events(0, 100).await.unwrap();
    let got: Vec<jiff::Timestamp> = all.iter().map(|r| r.event.at).collect();
    let want: Vec<jiff::Timestamp> = logs.iter().map(|l| l.audit.at).collect();
    assert_eq!(got, want, "event times are kept to the microsecond");
    let actions = |q: AuditQuery| searched_actions(store, q);
    let from = |us| AuditQuery {
        from: Some(t(us)),
        ..Default::default()
    };
    let to = |us| AuditQuery {
        to: Some(t(us)),
        ..Default::default()
    };
    // Whole-second bounds.
    assert_eq!(actions(from(0)).await, ["b", "c", "d", "e", "f", "g"]);
    assert_eq!(actions(to(0)).await, ["a"]);
    assert_eq!(actions(from(-1_000_000)).await.len(), 7);
    // A whole-millisecond bound with events less than half a millisecond after.
    assert_eq!(actions(from(1_000)).await, ["e", "f", "g"]);
    assert_eq!(actions(to(1_000)).await, ["a", "b", "c", "d"]);
    // A whole-millisecond bound, an event 0.5 ms before it.
    assert_eq!(actions(from(2_000)).await, ["g"]);
    assert_eq!(actions(to(2_000)).await, ["a", "b", "c", "d", "e", "f"]);
    // Bounds within a millisecond of an event.
    assert_eq!(actions(from(1_001)).await, ["f", "g"]);
    assert_eq!(actions(to(1_001)).await, ["a", "b", "c", "d", "e"]);
    assert_eq!(actions(from(101)).await, ["d", "e", "f", "g"]);
    assert_eq!(actions(to(101)).await, ["a", "b", "c"]);
    let between = AuditQuery {
        from: Some(t(50)),
        to: Some(t(450)),
        ..Default::default()
    };
    assert_eq!(actions(between).await, ["c", "d"]);
}

fn new_scenario(filed_by: Option<&str>, secs: i64) -> NewScenario {
    NewScenario {
        id: uuid::Uuid::now_v7(),
        application: format!("{{\"n\": {secs}}}"),
        relying_party_credit_code: "91150102MA0N4JXK2C".into(),
        filed_by: filed_by.map(code),
        tracking_hash: filed_by.is_none().then(|| vec![7; 32]),
        submitted_at: at(secs),
    }
}

/// Scenarios keep their application and filer, move state only from the
/// state the decision was made on, count reads per day within the quota,
/// and bind the credentials minted for them.
pub async fn scenarios_keep_state_and_quota(store: &dyn Store) {
    use zhengzhao_domain::scenario::ScenarioState;
    seeded(store).await;
    let portal = new_scenario(None, 10);
    let filed = new_scenario(Some("150100"), 20);
    store
        .add_scenario(&portal, &log("scenario.submit", "scenario:a", 10))
        .await
        .unwrap();
    store
        .add_scenario(&filed, &log("scenario.submit", "scenario:b", 20))
        .await
        .unwrap();
    // A filer that is not an org writes nothing.
    let before = audit_count(store).await;
    let stray = store
        .add_scenario(
            &new_scenario(Some("152900"), 30),
            &log("scenario.submit", "scenario:c", 30),
        )
        .await;
    assert!(matches!(stray, Err(StoreError::NotFound(_))), "{stray:?}");
    assert_eq!(audit_count(store).await, before);

    let got = store.scenario(portal.id).await.unwrap().unwrap();
    assert_eq!(got.application, portal.application);
    assert_eq!(got.state, ScenarioState::Submitted);
    assert_eq!(got.filed_by, None);
    assert_eq!(got.tracking_hash, Some(vec![7; 32]));
    assert_eq!(got.submitted_at, at(10));
    assert_eq!(got.decided_at, None);
    let all: Vec<uuid::Uuid> = store
        .scenarios()
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(all, [filed.id, portal.id], "newest first");
    assert_eq!(
        store.scenario(filed.id).await.unwrap().unwrap().filed_by,
        Some(code("150100"))
    );
    assert_eq!(store.scenario(uuid::Uuid::now_v7()).await.unwrap(), None);

    // A decision applies only to the state it was made on.
    let approve = ScenarioDecision {
        new_state: ScenarioState::Approved,
        at: at(40),
        by: "user:x".into(),
        reason: "核验通过".into(),
    };
    let decided = store
        .decide_scenario(
            portal.id,
            ScenarioState::Submitted,
            &approve,
            &log("scenario.decide", "scenario:a", 40),
        )
        .await
        .unwrap();
    assert_eq!(decided.state, ScenarioState::Approved);
    assert_eq!(decided.decided_at, Some(at(40)));
    assert_eq!(decided.decided_by.as_deref(), Some("user:x"));
    assert_eq!(decided.decision_reason.as_deref(), Some("核验通过"));
    let before = audit_count(store).await;
    let stale = store
        .decide_scenario(
            portal.id,
            ScenarioState::Submitted,
            &approve,
            &log("scenario.decide", "scenario:a", 41),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    assert_eq!(audit_count(store).await, before);
    let missing = store
        .decide_scenario(
            uuid::Uuid::now_v7(),
            ScenarioState::Submitted,
            &approve,
            &log("scenario.decide", "scenario:z", 42),
        )
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
    assert_eq!(audit_count(store).await, before);

    // The daily quota: counted up to the limit, then refused; a new day
    // starts again; each scenario has its own count.
    let day = jiff::civil::date(2026, 12, 5);
    let mut counted = Vec::new();
    for _ in 0..3 {
        counted.push(store.use_scenario_quota(portal.id, day, 2).await.unwrap());
    }
    assert_eq!(counted, [true, true, false]);
    assert!(
        store
            .use_scenario_quota(portal.id, day.tomorrow().unwrap(), 2)
            .await
            .unwrap()
    );
    assert!(store.use_scenario_quota(filed.id, day, 2).await.unwrap());
    assert!(!store.use_scenario_quota(filed.id, day, 0).await.unwrap());
    // A read counted with its audit event: both or neither.
    let before = audit_count(store).await;
    assert!(
        store
            .record_counted_read(
                filed.id,
                day,
                2,
                &log("license.shared_read", "holder:x", 60)
            )
            .await
            .unwrap()
    );
    assert_eq!(audit_count(store).await, before + 1);
    assert!(
        !store
            .record_counted_read(
                filed.id,
                day,
                2,
                &log("license.shared_read", "holder:x", 61)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        audit_count(store).await,
        before + 1,
        "over the quota: no event"
    );
    assert!(!store.use_scenario_quota(filed.id, day, 2).await.unwrap());

    // A credential names its scenario.
    let mut credential = token("150000", Role::RelyingParty, 9);
    credential.scenario_id = Some(portal.id);
    store
        .create_token(&credential, &log("token.create", "token:rp", 50))
        .await
        .unwrap();
    let found = store.token_by_hash(&[9; 32]).await.unwrap().unwrap();
    assert_eq!(found.scenario_id, Some(portal.id));
    assert_eq!(found.role, Role::RelyingParty);
}

fn objection(
    ticket: &str,
    license_key: i64,
    channel: &str,
    reference: Option<&str>,
) -> ObjectionRecord {
    ObjectionRecord {
        id: uuid::Uuid::now_v7(),
        ticket: ticket.into(),
        tracking_hash: vec![7; 32],
        license_key: Some(license_key),
        org: code("150102"),
        state: "submitted".into(),
        channel: channel.into(),
        external_ref: reference.map(str::to_owned),
        submitted_at: at(10),
        row_version: 1,
        flag_fields: None,
        data: serde_json::json!({"kind": "accuracy"}),
    }
}

/// Objections: unique tickets and channel references; a step is stored
/// only over the version it read; the license's flag is the union of its
/// flagging objections' fields, set and cleared with them; attachments
/// come back byte for byte; the status index of a flagged license's
/// current version is listed.
pub async fn objections_flag_their_license(store: &dyn Store) {
    let f = license_fixture(store).await;
    let new = new_license(&f, "OB1", "ob1", "91150102MA0N4JXK2X", 2);
    let l = store
        .issue_license(&new, &log("license.issue", "l", 2))
        .await
        .unwrap();
    assert_eq!(l.objection_fields, None);
    let file = ObjectionAttachment {
        n: 0,
        name: "a.pdf".into(),
        media_type: "application/pdf".into(),
        sm3: "00".repeat(32),
        bytes: b"%PDF-1.4 x".to_vec(),
    };
    let a = objection("T-A", l.key, "hotline_12345", Some("R-1"));
    store
        .add_objection(
            &a,
            std::slice::from_ref(&file),
            &log("objection.submit", "o", 10),
        )
        .await
        .unwrap();
    let before = audit_count(store).await;
    // The same ticket, or the same channel reference: refused, nothing written.
    for dup in [
        objection("T-A", l.key, "public", None),
        objection("T-B", l.key, "hotline_12345", Some("R-1")),
    ] {
        assert!(matches!(
            store
                .add_objection(&dup, &[], &log("objection.submit", "o", 11))
                .await,
            Err(StoreError::Conflict(_))
        ));
    }
    assert_eq!(audit_count(store).await, before);
    let b = objection("T-B", l.key, "public", None);
    store
        .add_objection(&b, &[], &log("objection.submit", "o", 12))
        .await
        .unwrap();
    assert_eq!(
        store
            .objection_by_reference("hotline_12345", "R-1")
            .await
            .unwrap()
            .map(|o| o.ticket),
        Some("T-A".to_owned())
    );
    assert_eq!(store.objection_attachments(a.id).await.unwrap(), vec![file]);

    // Two flag the license: the union of their fields.
    let mut a2 = store.objection_by_ticket("T-A").await.unwrap().unwrap();
    assert_eq!(a2, a);
    a2.state = "accepted".into();
    a2.row_version += 1;
    a2.flag_fields = Some(vec!["domicile".into()]);
    store
        .update_objection(&a2, &log("objection.accepted", "o", 13))
        .await
        .unwrap();
    let mut b2 = b.clone();
    b2.state = "accepted".into();
    b2.row_version += 1;
    b2.flag_fields = Some(vec!["name".into(), "domicile".into()]);
    store
        .update_objection(&b2, &log("objection.accepted", "o", 14))
        .await
        .unwrap();
    let flagged = store
        .license_by_identifier(&new.first.license_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        flagged.objection_fields,
        Some(vec!["domicile".to_owned(), "name".to_owned()])
    );
    assert_eq!(
        store.flagged_status_indexes().await.unwrap(),
        vec![new.first.status_index]
    );

    // A step over a version already moved on: refused, nothing written.
    let stale = a2.clone();
    let before = audit_count(store).await;
    assert!(matches!(
        store
            .update_objection(&stale, &log("objection.accepted", "o", 15))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(audit_count(store).await, before);

    // Decided one by one: the flag shrinks, then goes.
    let mut a3 = a2.clone();
    a3.state = "kept".into();
    a3.row_version += 1;
    a3.flag_fields = None;
    store
        .update_objection(&a3, &log("objection.kept", "o", 16))
        .await
        .unwrap();
    let l2 = store
        .license_by_identifier(&new.first.license_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        l2.objection_fields,
        Some(vec!["domicile".to_owned(), "name".to_owned()])
    );
    let mut b3 = b2.clone();
    b3.state = "kept".into();
    b3.row_version += 1;
    b3.flag_fields = None;
    store
        .update_objection(&b3, &log("objection.kept", "o", 17))
        .await
        .unwrap();
    let l3 = store
        .license_by_identifier(&new.first.license_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l3.objection_fields, None);
    assert!(store.flagged_status_indexes().await.unwrap().is_empty());
    let kept: Vec<String> = store
        .objections(Some("kept"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.ticket)
        .collect();
    assert_eq!(kept, ["T-A", "T-B"]);
    assert_eq!(store.objections(None, 1).await.unwrap().len(), 1);
}

/// Counts of checks add up per (day, way), across writes and within one;
/// a read from a day on returns that day and later, by day.
pub async fn verification_counts_add_up(store: &dyn Store) {
    let row = |d: &str, k: &str, n: i64| (d.to_owned(), k.to_owned(), n);
    store.add_verification_counts(&[]).await.unwrap();
    store
        .add_verification_counts(&[
            row("2026-12-04", "identifier", 3),
            row("2026-12-05", "identifier", 2),
            row("2026-12-05", "batch", 100),
        ])
        .await
        .unwrap();
    store
        .add_verification_counts(&[row("2026-12-05", "identifier", 5)])
        .await
        .unwrap();
    assert_eq!(
        store.verification_counts("2026-12-05").await.unwrap(),
        vec![
            row("2026-12-05", "batch", 100),
            row("2026-12-05", "identifier", 7)
        ]
    );
    assert_eq!(
        store.verification_counts("2026-12-01").await.unwrap().len(),
        3
    );
    assert!(
        store
            .verification_counts("2026-12-06")
            .await
            .unwrap()
            .is_empty()
    );
}
