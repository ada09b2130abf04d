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
            deliveries_retry_and_finish,
            request_nonces_are_used_once,
            status_indexes_are_reserved_once
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

pub async fn license_lifecycle(store: &dyn Store) {
    let f = license_fixture(store).await;
    let channels = vec!["platform".to_string(), "app".to_string()];
    let new = new_license(&f, "A1", "r1", "91150102MA0N4JXK2X", 2);
    let issued = store
        .issue_license(&new, &channels, &log("license.issue", "l", 2))
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
            &channels,
            &log("license.issue", "l", 3),
        )
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let dup_serial = store
        .issue_license(
            &new_license(&f, "A1", "r9", "x", 3),
            &channels,
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
        .add_license_version(
            issued.key,
            1,
            &v2,
            &channels,
            &log("license.update", "l", 4),
        )
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
        .add_license_version(
            issued.key,
            2,
            &taken,
            &channels,
            &log("license.update", "l", 4),
        )
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
        .add_license_version(
            issued.key,
            1,
            &stale,
            &channels,
            &log("license.update", "l", 5),
        )
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
        .add_license_version(
            issued.key,
            2,
            &after_revoke,
            &channels,
            &log("license.update", "l", 8),
        )
        .await;
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");

    let deliveries = store.deliveries_of(issued.key).await.unwrap();
    assert_eq!(deliveries.len(), 4, "two channels for each of two versions");
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
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
                &[],
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

pub async fn deliveries_retry_and_finish(store: &dyn Store) {
    let f = license_fixture(store).await;
    let channels = vec!["platform".to_string(), "app".to_string(), "web".to_string()];
    let l = store
        .issue_license(
            &new_license(&f, "D1", "d1", "H", 20),
            &channels,
            &log("license.issue", "l", 20),
        )
        .await
        .unwrap();
    assert!(
        store.due_deliveries(at(19), 10).await.unwrap().is_empty(),
        "not due before issue time"
    );
    let due = store.due_deliveries(at(20), 10).await.unwrap();
    assert_eq!(due.len(), 3);
    assert_eq!(due[0].license_id, l.versions[0].license_id);
    let (a, b, c) = (due[0].id, due[1].id, due[2].id);
    let before = audit_count(store).await;
    store
        .record_delivery(
            a,
            &DeliveryOutcome::Delivered { at: at(21) },
            Some(&log("license.deliver", "l", 21)),
        )
        .await
        .unwrap();
    assert_eq!(audit_count(store).await, before + 1);
    store
        .record_delivery(
            b,
            &DeliveryOutcome::Retry {
                error: "HTTP 503".into(),
                next_attempt_at: at(60),
            },
            None,
        )
        .await
        .unwrap();
    store
        .record_delivery(
            c,
            &DeliveryOutcome::GiveUp {
                error: "HTTP 410".into(),
            },
            None,
        )
        .await
        .unwrap();
    assert!(store.due_deliveries(at(59), 10).await.unwrap().is_empty());
    let later = store.due_deliveries(at(60), 10).await.unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].attempts, 1);
    assert_eq!(later[0].last_error.as_deref(), Some("HTTP 503"));
    let again = store
        .record_delivery(a, &DeliveryOutcome::Delivered { at: at(70) }, None)
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let all = store.deliveries_of(l.key).await.unwrap();
    let by_channel = |ch: &str| all.iter().find(|d| d.channel == ch).unwrap().clone();
    assert_eq!(by_channel(&due[0].channel).delivered_at, Some(at(21)));
    assert_eq!(
        by_channel(&due[0].channel).status,
        DeliveryStatus::Delivered
    );
    assert_eq!(by_channel(&due[2].channel).status, DeliveryStatus::Failed);
    // A list page's deliveries in one query: the same rows as one by one.
    let other = store
        .issue_license(
            &new_license(&f, "D2", "d2", "H2", 21),
            &channels[..1],
            &log("license.issue", "l", 21),
        )
        .await
        .unwrap();
    let mut one_by_one = store.deliveries_of(l.key).await.unwrap();
    one_by_one.extend(store.deliveries_of(other.key).await.unwrap());
    let together = store
        .deliveries_of_licenses(&[l.key, other.key])
        .await
        .unwrap();
    assert_eq!(together.len(), 4);
    assert_eq!(together, one_by_one);
    assert!(store.deliveries_of_licenses(&[]).await.unwrap().is_empty());
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
