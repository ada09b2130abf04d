//! Incidents, their backlog items, and calendar imports.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{BacklogItemRecord, IncidentRecord, StoreError, StoreResult};

const SELECT: &str =
    "SELECT id, org, cause, started_at, operations, cleared_at, created_at FROM incidents";

fn incident(r: &Row) -> StoreResult<IncidentRecord> {
    let what = "incident";
    let org: String = r.col(1, what)?;
    let ops: serde_json::Value = r.col(4, what)?;
    Ok(IncidentRecord {
        id: r.col(0, what)?,
        org: OrgCode::parse(&org)
            .map_err(|_| StoreError::Corrupt(format!("incident org '{org}'")))?,
        cause: r.col(2, what)?,
        started_at: r.col(3, what)?,
        operations: serde_json::from_value(ops)
            .map_err(|e| StoreError::Corrupt(format!("incident operations: {e}")))?,
        cleared_at: r.col(5, what)?,
        created_at: r.col(6, what)?,
    })
}

pub(crate) async fn insert<C: Db + ?Sized>(c: &C, i: &IncidentRecord) -> StoreResult<()> {
    let ops = serde_json::json!(i.operations);
    c.execute(
        "INSERT INTO incidents (id, org, cause, started_at, operations, cleared_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &i.id,
            &i.org.as_str(),
            &i.cause,
            &i.started_at,
            &ops,
            &i.cleared_at,
            &i.created_at,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn by_id<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
    lock: bool,
) -> StoreResult<Option<IncidentRecord>> {
    let sql = if lock {
        format!("{SELECT} WHERE id = $1 FOR UPDATE")
    } else {
        format!("{SELECT} WHERE id = $1")
    };
    c.query_opt(&sql, &[&id])
        .await
        .map_err(backend)?
        .map(|r| incident(&r))
        .transpose()
}

pub(crate) async fn all<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<IncidentRecord>> {
    c.query(&format!("{SELECT} ORDER BY created_at DESC, id DESC"), &[])
        .await
        .map_err(backend)?
        .iter()
        .map(incident)
        .collect()
}

/// In a transaction: the incident's row is held until it commits, so a
/// close and a registration never cross.
async fn require_open<C: Db + ?Sized>(c: &C, id: uuid::Uuid) -> StoreResult<IncidentRecord> {
    let i = by_id(c, id, true)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    if i.cleared_at.is_some() {
        return Err(StoreError::Conflict(format!("incident {id} is closed")));
    }
    Ok(i)
}

pub(crate) async fn close<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
    at: jiff::Timestamp,
) -> StoreResult<IncidentRecord> {
    require_open(c, id).await?;
    c.execute(
        "UPDATE incidents SET cleared_at = $2 WHERE id = $1",
        &[&id, &at],
    )
    .await
    .map_err(backend)?;
    by_id(c, id, false)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
}

pub(crate) async fn add_items<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
    items: &[BacklogItemRecord],
) -> StoreResult<u64> {
    require_open(c, id).await?;
    let mut made = 0;
    for it in items {
        made += c
            .execute(
                "INSERT INTO backlog_items (incident_id, source_system, record_id, operation, paper_issued_on, registered_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (incident_id, source_system, record_id, operation) DO NOTHING",
                &[
                    &id,
                    &it.source_system,
                    &it.record_id,
                    &it.operation,
                    &it.paper_issued_on,
                    &it.registered_at,
                ],
            )
            .await
            .map_err(backend)?;
    }
    Ok(made)
}

pub(crate) async fn items<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
) -> StoreResult<Vec<BacklogItemRecord>> {
    c.query(
        "SELECT source_system, record_id, operation, paper_issued_on, registered_at
         FROM backlog_items WHERE incident_id = $1 ORDER BY seq",
        &[&id],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(|r| {
        let what = "backlog item";
        Ok(BacklogItemRecord {
            incident_id: id,
            source_system: r.col(0, what)?,
            record_id: r.col(1, what)?,
            operation: r.col(2, what)?,
            paper_issued_on: r.col(3, what)?,
            registered_at: r.col(4, what)?,
        })
    })
    .collect()
}

pub(crate) async fn add_calendar<C: Db + ?Sized>(
    c: &C,
    text: &str,
    at: jiff::Timestamp,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO calendar_imports (text, imported_at) VALUES ($1, $2)",
        &[&text, &at],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn calendars<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<String>> {
    c.query("SELECT text FROM calendar_imports ORDER BY seq", &[])
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.col(0, "calendar import"))
        .collect()
}
