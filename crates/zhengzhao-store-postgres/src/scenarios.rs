//! Scenario rows: the checked application as JSON text, its state and the
//! latest decision; and the per-day read counts of the quota.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_domain::scenario::ScenarioState;
use zhengzhao_store::rules;
use zhengzhao_store::{NewScenario, ScenarioDecision, ScenarioRecord, StoreError, StoreResult};

const SELECT: &str = "SELECT s.id, s.application, s.relying_party_credit_code, s.state, o.code,
        s.tracking_hash, s.submitted_at, s.decided_at, s.decided_by, s.decision_reason
     FROM scenarios s LEFT JOIN orgs o ON o.id = s.filed_by";

fn to_record(r: &Row) -> StoreResult<ScenarioRecord> {
    let state: String = r.col(3, "scenario")?;
    let filed_by: Option<String> = r.col(4, "scenario")?;
    Ok(ScenarioRecord {
        id: r.col(0, "scenario")?,
        application: r.col(1, "scenario")?,
        relying_party_credit_code: r.col(2, "scenario")?,
        state: rules::decode::scenario_state(&state)?,
        filed_by: filed_by
            .map(|o| rules::decode::org_code("scenario", &o))
            .transpose()?,
        tracking_hash: r.col(5, "scenario")?,
        submitted_at: r.col(6, "scenario")?,
        decided_at: r.col(7, "scenario")?,
        decided_by: r.col(8, "scenario")?,
        decision_reason: r.col(9, "scenario")?,
    })
}

pub(crate) async fn insert<C: Db + ?Sized>(c: &C, s: &NewScenario) -> StoreResult<()> {
    let filed_by: Option<i64> = match &s.filed_by {
        Some(org) => Some(
            c.query_opt("SELECT id FROM orgs WHERE code = $1", &[&org.as_str()])
                .await
                .map_err(backend)?
                .ok_or_else(|| StoreError::NotFound(format!("org {org}")))?
                .col(0, "org")?,
        ),
        None => None,
    };
    c.execute(
        "INSERT INTO scenarios (id, application, relying_party_credit_code, state, filed_by,
             tracking_hash, submitted_at) VALUES ($1, $2, $3, 'submitted', $4, $5, $6)",
        &[
            &s.id,
            &s.application,
            &s.relying_party_credit_code,
            &filed_by,
            &s.tracking_hash,
            &s.submitted_at,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn by_id<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
) -> StoreResult<Option<ScenarioRecord>> {
    c.query_opt(&format!("{SELECT} WHERE s.id = $1"), &[&id])
        .await
        .map_err(backend)?
        .map(|r| to_record(&r))
        .transpose()
}

pub(crate) async fn all<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<ScenarioRecord>> {
    c.query(
        &format!("{SELECT} ORDER BY s.submitted_at DESC, s.id DESC"),
        &[],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(to_record)
    .collect()
}

pub(crate) async fn decide<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
    expected: ScenarioState,
    d: &ScenarioDecision,
) -> StoreResult<ScenarioRecord> {
    let changed = c
        .execute(
            "UPDATE scenarios SET state = $1, decided_at = $2, decided_by = $3, decision_reason = $4
             WHERE id = $5 AND state = $6",
            &[
                &d.new_state.as_str(),
                &d.at,
                &d.by,
                &d.reason,
                &id,
                &expected.as_str(),
            ],
        )
        .await
        .map_err(backend)?;
    let now = by_id(c, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("scenario {id}")))?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "scenario {id} is {}, not {}: it changed meanwhile",
            now.state.as_str(),
            expected.as_str()
        )));
    }
    Ok(now)
}

pub(crate) async fn use_quota<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
    day: jiff::civil::Date,
    limit: u32,
) -> StoreResult<bool> {
    if limit == 0 {
        return Ok(false);
    }
    let day = day.to_string();
    let counted = c
        .execute(
            "INSERT INTO scenario_use (scenario_id, day, reads) VALUES ($1, $2::TEXT::DATE, 1)
             ON CONFLICT (scenario_id, day) DO UPDATE SET reads = scenario_use.reads + 1
             WHERE scenario_use.reads < $3",
            &[&id, &day, &i32::try_from(limit).unwrap_or(i32::MAX)],
        )
        .await
        .map_err(backend)?;
    Ok(counted == 1)
}

fn to_consent(r: &Row) -> StoreResult<zhengzhao_store::ConsentRecord> {
    let until: Option<String> = r.col(5, "consent")?;
    Ok(zhengzhao_store::ConsentRecord {
        id: r.col(0, "consent")?,
        holder_key: r.col(1, "consent")?,
        scenario_id: r.col(2, "consent")?,
        scope: r.col(3, "consent")?,
        purpose: r.col(4, "consent")?,
        valid_until: until
            .map(|d| {
                d.parse::<jiff::civil::Date>()
                    .map_err(|_| StoreError::Corrupt(format!("consent date '{d}'")))
            })
            .transpose()?,
        single_use: r.col(6, "consent")?,
        method: r.col(7, "consent")?,
        state: r.col(8, "consent")?,
        granted_at: r.col(9, "consent")?,
        used_at: r.col(10, "consent")?,
        withdrawn_at: r.col(11, "consent")?,
    })
}

pub(crate) async fn consent<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
) -> StoreResult<Option<zhengzhao_store::ConsentRecord>> {
    c.query_opt(&format!("{SELECT_CONSENT_TEXT} WHERE id = $1"), &[&id])
        .await
        .map_err(backend)?
        .map(|r| to_consent(&r))
        .transpose()
}

pub(crate) async fn consents_of<C: Db + ?Sized>(
    c: &C,
    holder_key: &str,
) -> StoreResult<Vec<zhengzhao_store::ConsentRecord>> {
    c.query(
        &format!("{SELECT_CONSENT_TEXT} WHERE holder_key = $1 ORDER BY granted_at DESC, id DESC"),
        &[&holder_key],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(to_consent)
    .collect()
}

/// The consent columns, the date as text (read as a civil date).
const SELECT_CONSENT_TEXT: &str =
    "SELECT id, holder_key, scenario_id, scope, purpose, valid_until::TEXT,
        single_use, method, state, granted_at, used_at, withdrawn_at FROM consents";

pub(crate) async fn add_consent<C: Db + ?Sized>(
    c: &C,
    k: &zhengzhao_store::ConsentRecord,
) -> StoreResult<()> {
    let until = k.valid_until.map(|d| d.to_string());
    c.execute(
        "INSERT INTO consents (id, holder_key, scenario_id, scope, purpose, valid_until,
             single_use, method, state, granted_at)
         VALUES ($1, $2, $3, $4, $5, $6::TEXT::DATE, $7, $8, 'granted', $9)",
        &[
            &k.id,
            &k.holder_key,
            &k.scenario_id,
            &k.scope,
            &k.purpose,
            &until,
            &k.single_use,
            &k.method,
            &k.granted_at,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn end_consent<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
    new_state: &str,
    at: jiff::Timestamp,
) -> StoreResult<zhengzhao_store::ConsentRecord> {
    let sql = if new_state == "used" {
        "UPDATE consents SET state = $1, used_at = $2 WHERE id = $3 AND state = 'granted'"
    } else {
        "UPDATE consents SET state = $1, withdrawn_at = $2 WHERE id = $3 AND state = 'granted'"
    };
    let changed = c
        .execute(sql, &[&new_state, &at, &id])
        .await
        .map_err(backend)?;
    let now = consent(c, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("consent {id}")))?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "consent {id} is {}",
            now.state
        )));
    }
    Ok(now)
}

const SELECT_ITEM: &str =
    "SELECT o.code, u.item_code, u.version, u.name, u.materials, u.updated_at, u.updated_by
     FROM usage_list_items u JOIN orgs o ON o.id = u.org_id
     WHERE o.code = $1 AND u.version = (SELECT MAX(v.version) FROM usage_list_items v
                                        WHERE v.org_id = u.org_id AND v.item_code = u.item_code)";

fn to_item(r: &Row) -> StoreResult<zhengzhao_store::UsageItemRecord> {
    let org: String = r.col(0, "usage list item")?;
    let version: i32 = r.col(2, "usage list item")?;
    Ok(zhengzhao_store::UsageItemRecord {
        org: rules::decode::org_code("usage list", &org)?,
        item_code: r.col(1, "usage list item")?,
        version: u32::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("usage list version {version}")))?,
        name: r.col(3, "usage list item")?,
        materials: r.col(4, "usage list item")?,
        updated_at: r.col(5, "usage list item")?,
        updated_by: r.col(6, "usage list item")?,
    })
}

pub(crate) async fn usage_items<C: Db + ?Sized>(
    c: &C,
    org: &str,
    item_code: Option<&str>,
) -> StoreResult<Vec<zhengzhao_store::UsageItemRecord>> {
    let rows = match item_code {
        Some(code) => {
            c.query(
                &format!("{SELECT_ITEM} AND u.item_code = $2"),
                &[&org, &code],
            )
            .await
        }
        None => {
            c.query(&format!("{SELECT_ITEM} ORDER BY u.item_code"), &[&org])
                .await
        }
    }
    .map_err(backend)?;
    rows.iter().map(to_item).collect()
}

pub(crate) async fn put_usage_item<C: Db + ?Sized>(
    c: &C,
    item: &zhengzhao_store::UsageItemRecord,
) -> StoreResult<()> {
    let org_id: i64 = c
        .query_opt("SELECT id FROM orgs WHERE code = $1", &[&item.org.as_str()])
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", item.org)))?
        .col(0, "org")?;
    let current: i32 = c
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM usage_list_items WHERE org_id = $1 AND item_code = $2",
            &[&org_id, &item.item_code],
        )
        .await
        .map_err(backend)?
        .col(0, "usage list version")?;
    let version = i32::try_from(item.version).unwrap_or(i32::MAX);
    if version != current + 1 {
        return Err(StoreError::Conflict(format!(
            "usage list item {} is at version {current}: it changed meanwhile",
            item.item_code
        )));
    }
    c.execute(
        "INSERT INTO usage_list_items (org_id, item_code, version, name, materials, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &org_id,
            &item.item_code,
            &version,
            &item.name,
            &item.materials,
            &item.updated_at,
            &item.updated_by,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}
