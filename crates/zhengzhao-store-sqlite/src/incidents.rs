//! Incidents, their backlog items, and calendar imports.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{BacklogItemRecord, IncidentRecord, StoreError, StoreResult};

const SELECT: &str =
    "SELECT id, org, cause, started_at, operations, cleared_at, created_at FROM incidents";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{v}'"))
}

type Raw = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    TryFrom::try_from(r)
}

fn incident((id, org, cause, started, ops, cleared, created): Raw) -> StoreResult<IncidentRecord> {
    Ok(IncidentRecord {
        id: uuid_of(&id)?,
        org: OrgCode::parse(&org).map_err(|_| corrupt("incident org", &org))?,
        cause,
        started_at: ts(&started)?,
        operations: serde_json::from_str(&ops).map_err(|_| corrupt("incident operations", &ops))?,
        cleared_at: cleared.map(|c| ts(&c)).transpose()?,
        created_at: ts(&created)?,
    })
}

pub(crate) fn insert(c: &Connection, i: &IncidentRecord) -> StoreResult<()> {
    let ops =
        serde_json::to_string(&i.operations).map_err(|e| StoreError::Backend(e.to_string()))?;
    c.execute(
        "INSERT INTO incidents (id, org, cause, started_at, operations, cleared_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            i.id.to_string(),
            i.org.as_str(),
            i.cause,
            i.started_at.to_string(),
            ops,
            i.cleared_at.map(|t| t.to_string()),
            i.created_at.to_string()
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn by_id(c: &Connection, id: uuid::Uuid) -> StoreResult<Option<IncidentRecord>> {
    c.query_row(&format!("{SELECT} WHERE id = ?1"), [id.to_string()], raw)
        .optional()
        .map_err(backend)?
        .map(incident)
        .transpose()
}

pub(crate) fn all(c: &Connection) -> StoreResult<Vec<IncidentRecord>> {
    let mut stmt = c
        .prepare_cached(&format!("{SELECT} ORDER BY created_at DESC, id DESC"))
        .map_err(backend)?;
    let rows: Vec<Raw> = stmt
        .query_map([], raw)
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    rows.into_iter().map(incident).collect()
}

/// Refuse a change to an incident that is closed (or missing).
fn require_open(c: &Connection, id: uuid::Uuid) -> StoreResult<IncidentRecord> {
    let i = by_id(c, id)?.ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    if i.cleared_at.is_some() {
        return Err(StoreError::Conflict(format!("incident {id} is closed")));
    }
    Ok(i)
}

pub(crate) fn close(
    c: &Connection,
    id: uuid::Uuid,
    at: jiff::Timestamp,
) -> StoreResult<IncidentRecord> {
    require_open(c, id)?;
    c.execute(
        "UPDATE incidents SET cleared_at = ?2 WHERE id = ?1 AND cleared_at IS NULL",
        params![id.to_string(), at.to_string()],
    )
    .map_err(backend)?;
    by_id(c, id)?.ok_or_else(|| StoreError::NotFound(format!("incident {id}")))
}

pub(crate) fn add_items(
    c: &Connection,
    id: uuid::Uuid,
    items: &[BacklogItemRecord],
) -> StoreResult<u64> {
    require_open(c, id)?;
    let mut made = 0;
    for it in items {
        made += c
            .prepare_cached(
                "INSERT INTO backlog_items (incident_id, source_system, record_id, operation, paper_issued_on, registered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (incident_id, source_system, record_id, operation) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    id.to_string(),
                    it.source_system,
                    it.record_id,
                    it.operation,
                    it.paper_issued_on.to_string(),
                    it.registered_at.to_string()
                ])
            })
            .map_err(backend)? as u64;
    }
    Ok(made)
}

pub(crate) fn items(c: &Connection, id: uuid::Uuid) -> StoreResult<Vec<BacklogItemRecord>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT source_system, record_id, operation, paper_issued_on, registered_at
             FROM backlog_items WHERE incident_id = ?1 ORDER BY seq",
        )
        .map_err(backend)?;
    let rows: Vec<(String, String, String, String, String)> = stmt
        .query_map([id.to_string()], |r| TryFrom::try_from(r))
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|(system, record, op, on, at)| {
            Ok(BacklogItemRecord {
                incident_id: id,
                source_system: system,
                record_id: record,
                operation: op,
                paper_issued_on: on.parse().map_err(|_| corrupt("backlog date", &on))?,
                registered_at: ts(&at)?,
            })
        })
        .collect()
}

pub(crate) fn add_calendar(c: &Connection, text: &str, at: jiff::Timestamp) -> StoreResult<()> {
    c.execute(
        "INSERT INTO calendar_imports (text, imported_at) VALUES (?1, ?2)",
        params![text, at.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn calendars(c: &Connection) -> StoreResult<Vec<String>> {
    let mut stmt = c
        .prepare_cached("SELECT text FROM calendar_imports ORDER BY seq")
        .map_err(backend)?;
    stmt.query_map([], |r| r.get(0))
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)
}
