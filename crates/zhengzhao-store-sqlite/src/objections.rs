//! Objections, their attachments, and the flag on the license.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::BTreeSet;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{ObjectionAttachment, ObjectionRecord, StoreError, StoreResult};

const SELECT: &str =
    "SELECT id, ticket, tracking_hash, license_key, org, state, channel, external_ref,
                             submitted_at, row_version, flag_fields, data FROM objections";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("objection {what} '{v}'"))
}

type Raw = (
    String,
    String,
    Vec<u8>,
    Option<i64>,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
    Option<String>,
    String,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    TryFrom::try_from(r)
}

fn record(r: Raw) -> StoreResult<ObjectionRecord> {
    let (id, ticket, hash, key, org, state, channel, reference, at, version, flag, data) = r;
    Ok(ObjectionRecord {
        id: uuid_of(&id)?,
        ticket,
        tracking_hash: hash,
        license_key: key,
        org: OrgCode::parse(&org).map_err(|_| corrupt("org", &org))?,
        state,
        channel,
        external_ref: reference,
        submitted_at: ts(&at)?,
        row_version: version,
        flag_fields: flag
            .map(|f| serde_json::from_str(&f).map_err(|_| corrupt("flag", &f)))
            .transpose()?,
        data: serde_json::from_str(&data).map_err(|_| corrupt("data", &data))?,
    })
}

fn json(fields: &[String]) -> StoreResult<String> {
    serde_json::to_string(fields).map_err(|e| StoreError::Backend(e.to_string()))
}

fn one(
    c: &Connection,
    filter: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Option<ObjectionRecord>> {
    c.prepare_cached(&format!("{SELECT} WHERE {filter}"))
        .and_then(|mut s| s.query_row(p, raw).optional())
        .map_err(backend)?
        .map(record)
        .transpose()
}

pub(crate) fn insert(
    c: &Connection,
    o: &ObjectionRecord,
    attachments: &[ObjectionAttachment],
) -> StoreResult<()> {
    let taken = c
        .execute(
            "INSERT INTO objections (id, ticket, tracking_hash, license_key, org, state, channel, external_ref,
                                     submitted_at, row_version, flag_fields, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT DO NOTHING",
            params![
                o.id.to_string(),
                o.ticket,
                o.tracking_hash,
                o.license_key,
                o.org.as_str(),
                o.state,
                o.channel,
                o.external_ref,
                o.submitted_at.to_string(),
                o.row_version,
                o.flag_fields.as_deref().map(json).transpose()?,
                o.data.to_string(),
            ],
        )
        .map_err(backend)?
        == 0;
    if taken {
        return Err(StoreError::Conflict(format!(
            "objection {} or its channel reference exists",
            o.ticket
        )));
    }
    for a in attachments {
        c.execute(
            "INSERT INTO objection_attachments (objection_id, n, name, media_type, sm3, bytes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![o.id.to_string(), a.n, a.name, a.media_type, a.sm3, a.bytes],
        )
        .map_err(backend)?;
    }
    reflag(c, o.license_key)
}

pub(crate) fn by_ticket(c: &Connection, ticket: &str) -> StoreResult<Option<ObjectionRecord>> {
    one(c, "ticket = ?1", [ticket])
}

pub(crate) fn by_reference(
    c: &Connection,
    channel: &str,
    reference: &str,
) -> StoreResult<Option<ObjectionRecord>> {
    one(
        c,
        "channel = ?1 AND external_ref = ?2",
        [channel, reference],
    )
}

pub(crate) fn update(c: &Connection, o: &ObjectionRecord) -> StoreResult<()> {
    let changed = c
        .execute(
            "UPDATE objections SET state = ?2, row_version = ?3, flag_fields = ?4, data = ?5
             WHERE id = ?1 AND row_version = ?6",
            params![
                o.id.to_string(),
                o.state,
                o.row_version,
                o.flag_fields.as_deref().map(json).transpose()?,
                o.data.to_string(),
                o.row_version - 1,
            ],
        )
        .map_err(backend)?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "objection {} was changed meanwhile; read it again",
            o.ticket
        )));
    }
    reflag(c, o.license_key)
}

/// The license's flag: the union of its objections' flagged fields.
fn reflag(c: &Connection, license_key: Option<i64>) -> StoreResult<()> {
    let Some(key) = license_key else {
        return Ok(());
    };
    let flags: Vec<String> = c
        .prepare_cached(
            "SELECT flag_fields FROM objections WHERE license_key = ?1 AND flag_fields IS NOT NULL",
        )
        .and_then(|mut s| s.query_map([key], |r| r.get(0))?.collect())
        .map_err(backend)?;
    let mut fields = BTreeSet::new();
    for f in &flags {
        let list: Vec<String> = serde_json::from_str(f).map_err(|_| corrupt("flag", f))?;
        fields.extend(list);
    }
    let fields: Vec<String> = fields.into_iter().collect();
    let flag = (!flags.is_empty()).then(|| json(&fields)).transpose()?;
    c.execute(
        "UPDATE licenses SET objection_fields = ?2 WHERE id = ?1",
        params![key, flag],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn list(
    c: &Connection,
    state: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<ObjectionRecord>> {
    let rows: Vec<Raw> = c
        .prepare_cached(&format!(
            "{SELECT} WHERE ?1 IS NULL OR state = ?1 ORDER BY submitted_at, id LIMIT ?2"
        ))
        .and_then(|mut s| s.query_map(params![state, limit], raw)?.collect())
        .map_err(backend)?;
    rows.into_iter().map(record).collect()
}

pub(crate) fn attachments(c: &Connection, id: uuid::Uuid) -> StoreResult<Vec<ObjectionAttachment>> {
    c.prepare_cached(
        "SELECT n, name, media_type, sm3, bytes FROM objection_attachments
         WHERE objection_id = ?1 ORDER BY n",
    )
    .and_then(|mut s| {
        s.query_map([id.to_string()], |r| {
            Ok(ObjectionAttachment {
                n: r.get(0)?,
                name: r.get(1)?,
                media_type: r.get(2)?,
                sm3: r.get(3)?,
                bytes: r.get(4)?,
            })
        })?
        .collect()
    })
    .map_err(backend)
}

pub(crate) fn flagged_status_indexes(c: &Connection) -> StoreResult<Vec<i64>> {
    c.prepare_cached(
        "SELECT v.status_index FROM licenses l
         JOIN license_versions v ON v.license_id = l.id AND v.version = l.current_version
         WHERE l.objection_fields IS NOT NULL AND v.status_index IS NOT NULL
         ORDER BY v.status_index",
    )
    .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
    .map_err(backend)
}
