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
            audit_events_keep_order_and_content
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
