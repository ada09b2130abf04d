//! Scenario rows: the checked application as JSON text, its state and the
//! latest decision; and the per-day read counts of the quota.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
use zhengzhao_domain::scenario::ScenarioState;
use zhengzhao_store::rules;
use zhengzhao_store::{NewScenario, ScenarioDecision, ScenarioRecord, StoreError, StoreResult};

const SELECT: &str = "SELECT s.id, s.application, s.relying_party_credit_code, s.state, o.code,
        s.tracking_hash, s.submitted_at, s.decided_at, s.decided_by, s.decision_reason
     FROM scenarios s LEFT JOIN orgs o ON o.id = s.filed_by";

fn to_record(r: &Row<'_>) -> rusqlite::Result<StoreResult<ScenarioRecord>> {
    let id: String = r.get(0)?;
    let state: String = r.get(3)?;
    let filed_by: Option<String> = r.get(4)?;
    let submitted: String = r.get(6)?;
    let decided: Option<String> = r.get(7)?;
    let (application, credit_code, tracking_hash, decided_by, decision_reason) =
        (r.get(1)?, r.get(2)?, r.get(5)?, r.get(8)?, r.get(9)?);
    Ok((|| {
        Ok(ScenarioRecord {
            id: uuid_of(&id)?,
            application,
            relying_party_credit_code: credit_code,
            state: rules::decode::scenario_state(&state)?,
            filed_by: filed_by
                .map(|o| rules::decode::org_code("scenario", &o))
                .transpose()?,
            tracking_hash,
            submitted_at: ts(&submitted)?,
            decided_at: decided.map(|d| ts(&d)).transpose()?,
            decided_by,
            decision_reason,
        })
    })())
}

pub(crate) fn insert(c: &Connection, s: &NewScenario) -> StoreResult<()> {
    let filed_by: Option<i64> = match &s.filed_by {
        Some(org) => Some(
            c.query_row("SELECT id FROM orgs WHERE code = ?1", [org.as_str()], |r| {
                r.get(0)
            })
            .optional()
            .map_err(backend)?
            .ok_or_else(|| StoreError::NotFound(format!("org {org}")))?,
        ),
        None => None,
    };
    c.execute(
        "INSERT INTO scenarios (id, application, relying_party_credit_code, state, filed_by,
             tracking_hash, submitted_at) VALUES (?1, ?2, ?3, 'submitted', ?4, ?5, ?6)",
        params![
            s.id.to_string(),
            s.application,
            s.relying_party_credit_code,
            filed_by,
            s.tracking_hash,
            s.submitted_at.to_string()
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn by_id(c: &Connection, id: uuid::Uuid) -> StoreResult<Option<ScenarioRecord>> {
    c.prepare_cached(&format!("{SELECT} WHERE s.id = ?1"))
        .and_then(|mut s| s.query_row([id.to_string()], to_record).optional())
        .map_err(backend)?
        .transpose()
}

pub(crate) fn all(c: &Connection) -> StoreResult<Vec<ScenarioRecord>> {
    c.prepare_cached(&format!("{SELECT} ORDER BY s.submitted_at DESC, s.id DESC"))
        .and_then(|mut s| {
            s.query_map([], to_record)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?
        .into_iter()
        .collect()
}

pub(crate) fn decide(
    c: &Connection,
    id: uuid::Uuid,
    expected: ScenarioState,
    d: &ScenarioDecision,
) -> StoreResult<ScenarioRecord> {
    let changed = c
        .execute(
            "UPDATE scenarios SET state = ?1, decided_at = ?2, decided_by = ?3, decision_reason = ?4
             WHERE id = ?5 AND state = ?6",
            params![
                d.new_state.as_str(),
                d.at.to_string(),
                d.by,
                d.reason,
                id.to_string(),
                expected.as_str()
            ],
        )
        .map_err(backend)?;
    let now = by_id(c, id)?.ok_or_else(|| StoreError::NotFound(format!("scenario {id}")))?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "scenario {id} is {}, not {}: it changed meanwhile",
            now.state.as_str(),
            expected.as_str()
        )));
    }
    Ok(now)
}

pub(crate) fn use_quota(
    c: &Connection,
    id: uuid::Uuid,
    day: jiff::civil::Date,
    limit: u32,
) -> StoreResult<bool> {
    if limit == 0 {
        return Ok(false);
    }
    let counted = c
        .execute(
            "INSERT INTO scenario_use (scenario_id, day, reads) VALUES (?1, ?2, 1)
             ON CONFLICT (scenario_id, day) DO UPDATE SET reads = reads + 1
             WHERE scenario_use.reads < ?3",
            params![id.to_string(), day.to_string(), i64::from(limit)],
        )
        .map_err(backend)?;
    Ok(counted == 1)
}

const SELECT_CONSENT: &str = "SELECT id, holder_key, scenario_id, scope, purpose, valid_until,
        single_use, method, state, granted_at, used_at, withdrawn_at FROM consents";

type RawConsent = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    bool,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn to_consent(r: RawConsent) -> StoreResult<zhengzhao_store::ConsentRecord> {
    let (
        id,
        holder_key,
        scenario,
        scope,
        purpose,
        until,
        single_use,
        method,
        state,
        granted,
        used,
        withdrawn,
    ) = r;
    Ok(zhengzhao_store::ConsentRecord {
        id: uuid_of(&id)?,
        holder_key,
        scenario_id: uuid_of(&scenario)?,
        scope,
        purpose,
        valid_until: until
            .map(|d| {
                d.parse::<jiff::civil::Date>()
                    .map_err(|_| StoreError::Corrupt(format!("consent date '{d}'")))
            })
            .transpose()?,
        single_use,
        method,
        state,
        granted_at: ts(&granted)?,
        used_at: used.map(|t| ts(&t)).transpose()?,
        withdrawn_at: withdrawn.map(|t| ts(&t)).transpose()?,
    })
}

fn consents(
    c: &Connection,
    condition: &str,
    arg: &str,
) -> StoreResult<Vec<zhengzhao_store::ConsentRecord>> {
    c.prepare_cached(&format!(
        "{SELECT_CONSENT} WHERE {condition} ORDER BY granted_at DESC, id DESC"
    ))
    .and_then(|mut s| {
        s.query_map([arg], |r| TryFrom::try_from(r))?
            .collect::<rusqlite::Result<Vec<RawConsent>>>()
    })
    .map_err(backend)?
    .into_iter()
    .map(to_consent)
    .collect()
}

pub(crate) fn consent(
    c: &Connection,
    id: uuid::Uuid,
) -> StoreResult<Option<zhengzhao_store::ConsentRecord>> {
    Ok(consents(c, "id = ?1", &id.to_string())?.into_iter().next())
}

pub(crate) fn consents_of(
    c: &Connection,
    holder_key: &str,
) -> StoreResult<Vec<zhengzhao_store::ConsentRecord>> {
    consents(c, "holder_key = ?1", holder_key)
}

pub(crate) fn add_consent(c: &Connection, k: &zhengzhao_store::ConsentRecord) -> StoreResult<()> {
    c.execute(
        "INSERT INTO consents (id, holder_key, scenario_id, scope, purpose, valid_until,
             single_use, method, state, granted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'granted', ?9)",
        params![
            k.id.to_string(),
            k.holder_key,
            k.scenario_id.to_string(),
            k.scope,
            k.purpose,
            k.valid_until.map(|d| d.to_string()),
            k.single_use,
            k.method,
            k.granted_at.to_string()
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn end_consent(
    c: &Connection,
    id: uuid::Uuid,
    new_state: &str,
    at: jiff::Timestamp,
) -> StoreResult<zhengzhao_store::ConsentRecord> {
    let column = if new_state == "used" {
        "used_at"
    } else {
        "withdrawn_at"
    };
    let changed = c
        .execute(
            &format!(
                "UPDATE consents SET state = ?1, {column} = ?2 WHERE id = ?3 AND state = 'granted'"
            ),
            params![new_state, at.to_string(), id.to_string()],
        )
        .map_err(backend)?;
    let now = consent(c, id)?.ok_or_else(|| StoreError::NotFound(format!("consent {id}")))?;
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
     WHERE o.code = ?1 AND u.version = (SELECT MAX(v.version) FROM usage_list_items v
                                        WHERE v.org_id = u.org_id AND v.item_code = u.item_code)";

type RawItem = (String, String, u32, String, String, String, String);

fn to_item(r: RawItem) -> StoreResult<zhengzhao_store::UsageItemRecord> {
    let (org, item_code, version, name, materials, at, by) = r;
    Ok(zhengzhao_store::UsageItemRecord {
        org: rules::decode::org_code("usage list", &org)?,
        item_code,
        version,
        name,
        materials,
        updated_at: ts(&at)?,
        updated_by: by,
    })
}

pub(crate) fn usage_items(
    c: &Connection,
    org: &str,
    item_code: Option<&str>,
) -> StoreResult<Vec<zhengzhao_store::UsageItemRecord>> {
    let sql = match item_code {
        Some(_) => format!("{SELECT_ITEM} AND u.item_code = ?2"),
        None => format!("{SELECT_ITEM} AND ?2 IS NULL ORDER BY u.item_code"),
    };
    c.prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_map(params![org, item_code], |r| TryFrom::try_from(r))?
                .collect::<rusqlite::Result<Vec<RawItem>>>()
        })
        .map_err(backend)?
        .into_iter()
        .map(to_item)
        .collect()
}

pub(crate) fn put_usage_item(
    c: &Connection,
    item: &zhengzhao_store::UsageItemRecord,
) -> StoreResult<()> {
    let org_id: i64 = c
        .query_row(
            "SELECT id FROM orgs WHERE code = ?1",
            [item.org.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", item.org)))?;
    let current: u32 = c
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM usage_list_items WHERE org_id = ?1 AND item_code = ?2",
            params![org_id, item.item_code],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if item.version != current + 1 {
        return Err(StoreError::Conflict(format!(
            "usage list item {} is at version {current}: it changed meanwhile",
            item.item_code
        )));
    }
    c.execute(
        "INSERT INTO usage_list_items (org_id, item_code, version, name, materials, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            org_id,
            item.item_code,
            item.version,
            item.name,
            item.materials,
            item.updated_at.to_string(),
            item.updated_by
        ],
    )
    .map_err(backend)?;
    Ok(())
}
