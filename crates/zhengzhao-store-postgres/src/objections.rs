//! Objections, their attachments, and the flag on the license.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use std::collections::BTreeSet;
use tokio_postgres::Row;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{ObjectionAttachment, ObjectionRecord, StoreError, StoreResult};

const SELECT: &str =
    "SELECT id, ticket, tracking_hash, license_key, org, state, channel, external_ref,
                             submitted_at, row_version, flag_fields, data FROM objections";

fn record(r: &Row) -> StoreResult<ObjectionRecord> {
    let what = "objection";
    let org: String = r.col(4, what)?;
    let flag: Option<serde_json::Value> = r.col(10, what)?;
    Ok(ObjectionRecord {
        id: r.col(0, what)?,
        ticket: r.col(1, what)?,
        tracking_hash: r.col(2, what)?,
        license_key: r.col(3, what)?,
        org: OrgCode::parse(&org)
            .map_err(|_| StoreError::Corrupt(format!("objection org '{org}'")))?,
        state: r.col(5, what)?,
        channel: r.col(6, what)?,
        external_ref: r.col(7, what)?,
        submitted_at: r.col(8, what)?,
        row_version: r.col(9, what)?,
        flag_fields: flag
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("objection flag: {e}")))?,
        data: r.col(11, what)?,
    })
}

pub(crate) async fn insert<C: Db + ?Sized>(
    c: &C,
    o: &ObjectionRecord,
    attachments: &[ObjectionAttachment],
) -> StoreResult<()> {
    let flag = o.flag_fields.as_ref().map(|f| serde_json::json!(f));
    let made = c
        .execute(
            "INSERT INTO objections (id, ticket, tracking_hash, license_key, org, state, channel, external_ref,
                                     submitted_at, row_version, flag_fields, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT DO NOTHING",
            &[
                &o.id,
                &o.ticket,
                &o.tracking_hash,
                &o.license_key,
                &o.org.as_str(),
                &o.state,
                &o.channel,
                &o.external_ref,
                &o.submitted_at,
                &o.row_version,
                &flag,
                &o.data,
            ],
        )
        .await
        .map_err(classify)?;
    if made == 0 {
        return Err(StoreError::Conflict(format!(
            "objection {} or its channel reference exists",
            o.ticket
        )));
    }
    for a in attachments {
        c.execute(
            "INSERT INTO objection_attachments (objection_id, n, name, media_type, sm3, bytes)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&o.id, &a.n, &a.name, &a.media_type, &a.sm3, &a.bytes],
        )
        .await
        .map_err(classify)?;
    }
    reflag(c, o.license_key).await
}

pub(crate) async fn one<C: Db + ?Sized>(
    c: &C,
    filter: &str,
    p: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Option<ObjectionRecord>> {
    c.query_opt(&format!("{SELECT} WHERE {filter}"), p)
        .await
        .map_err(backend)?
        .map(|r| record(&r))
        .transpose()
}

pub(crate) async fn update<C: Db + ?Sized>(c: &C, o: &ObjectionRecord) -> StoreResult<()> {
    let flag = o.flag_fields.as_ref().map(|f| serde_json::json!(f));
    let changed = c
        .execute(
            "UPDATE objections SET state = $2, row_version = $3, flag_fields = $4, data = $5
             WHERE id = $1 AND row_version = $6",
            &[
                &o.id,
                &o.state,
                &o.row_version,
                &flag,
                &o.data,
                &(o.row_version - 1),
            ],
        )
        .await
        .map_err(classify)?;
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "objection {} was changed meanwhile; read it again",
            o.ticket
        )));
    }
    reflag(c, o.license_key).await
}

/// The license's flag: the union of its objections' flagged fields. The
/// license row is locked first, so two objections of one license changing
/// at once each see the other's committed flag.
async fn reflag<C: Db + ?Sized>(c: &C, license_key: Option<i64>) -> StoreResult<()> {
    let Some(key) = license_key else {
        return Ok(());
    };
    c.query_opt("SELECT 1 FROM licenses WHERE id = $1 FOR UPDATE", &[&key])
        .await
        .map_err(backend)?;
    let rows = c
        .query(
            "SELECT flag_fields FROM objections WHERE license_key = $1 AND flag_fields IS NOT NULL",
            &[&key],
        )
        .await
        .map_err(backend)?;
    let mut fields = BTreeSet::new();
    for r in &rows {
        let v: serde_json::Value = r.col(0, "objection flag")?;
        let list: Vec<String> = serde_json::from_value(v)
            .map_err(|e| StoreError::Corrupt(format!("objection flag: {e}")))?;
        fields.extend(list);
    }
    let flag = (!rows.is_empty()).then(|| serde_json::json!(fields));
    c.execute(
        "UPDATE licenses SET objection_fields = $2 WHERE id = $1",
        &[&key, &flag],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn list<C: Db + ?Sized>(
    c: &C,
    state: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<ObjectionRecord>> {
    c.query(
        &format!(
            "{SELECT} WHERE $1::TEXT IS NULL OR state = $1 ORDER BY submitted_at, id LIMIT $2"
        ),
        &[&state, &i64::from(limit)],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(record)
    .collect()
}

pub(crate) async fn attachments<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
) -> StoreResult<Vec<ObjectionAttachment>> {
    c.query(
        "SELECT n, name, media_type, sm3, bytes FROM objection_attachments
         WHERE objection_id = $1 ORDER BY n",
        &[&id],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(|r| {
        let what = "objection attachment";
        Ok(ObjectionAttachment {
            n: r.col(0, what)?,
            name: r.col(1, what)?,
            media_type: r.col(2, what)?,
            sm3: r.col(3, what)?,
            bytes: r.col(4, what)?,
        })
    })
    .collect()
}

pub(crate) async fn flagged_status_indexes<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<i64>> {
    c.query(
        "SELECT v.status_index FROM licenses l
         JOIN license_versions v ON v.license_id = l.id AND v.version = l.current_version
         WHERE l.objection_fields IS NOT NULL AND v.status_index IS NOT NULL
         ORDER BY v.status_index",
        &[],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(|r| r.col(0, "status index"))
    .collect()
}
