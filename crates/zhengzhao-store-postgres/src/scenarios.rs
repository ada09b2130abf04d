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
