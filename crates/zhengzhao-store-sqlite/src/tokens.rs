//! API token rows: the hash of the secret, its org and its role.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
use zhengzhao_store::rules;
use zhengzhao_store::{NewToken, StoreError, StoreResult, TokenRecord};

const SELECT: &str =
    "SELECT t.id, o.code, t.role, t.label, t.created_at, t.revoked_at, t.signing_secret, t.scenario_id
                      FROM api_tokens t JOIN orgs o ON o.id = t.org_id";

type Raw = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
    Option<String>,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    TryFrom::try_from(r)
}

fn to_record(r: Raw) -> StoreResult<TokenRecord> {
    let (id, org, role, label, created, revoked, signing_secret, scenario) = r;
    Ok(TokenRecord {
        id: uuid_of(&id)?,
        org: rules::decode::org_code("token", &org)?,
        role: rules::decode::role("token", &role)?,
        label,
        created_at: ts(&created)?,
        revoked_at: revoked.map(|s| ts(&s)).transpose()?,
        signing_secret,
        scenario_id: scenario.map(|s| uuid_of(&s)).transpose()?,
    })
}

pub(crate) fn insert(c: &Connection, t: &NewToken) -> StoreResult<()> {
    let org_id: i64 = c
        .query_row(
            "SELECT id FROM orgs WHERE code = ?1",
            [t.org.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", t.org)))?;
    c.execute(
        "INSERT INTO api_tokens (id, hash, org_id, role, label, created_at, signing_secret, scenario_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![t.id.to_string(), t.hash, org_id, t.role.as_str(), t.label, t.created_at.to_string(), t.signing_secret, t.scenario_id.map(|s| s.to_string())],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn by_hash(c: &Connection, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "{SELECT} WHERE t.hash = ?1 AND t.revoked_at IS NULL"
        ))
        .map_err(backend)?;
    stmt.query_row([hash], raw)
        .optional()
        .map_err(backend)?
        .map(to_record)
        .transpose()
}

pub(crate) fn by_id(c: &Connection, id: uuid::Uuid) -> StoreResult<Option<TokenRecord>> {
    let mut stmt = c
        .prepare_cached(&format!("{SELECT} WHERE t.id = ?1"))
        .map_err(backend)?;
    stmt.query_row([id.to_string()], raw)
        .optional()
        .map_err(backend)?
        .map(to_record)
        .transpose()
}

pub(crate) fn all(c: &Connection) -> StoreResult<Vec<TokenRecord>> {
    let mut stmt = c
        .prepare_cached(&format!("{SELECT} ORDER BY t.id"))
        .map_err(backend)?;
    let rows = stmt
        .query_map([], raw)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    rows.into_iter().map(to_record).collect()
}

pub(crate) fn revoke(
    c: &Connection,
    id: uuid::Uuid,
    at: jiff::Timestamp,
) -> StoreResult<TokenRecord> {
    c.execute(
        "UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
        params![at.to_string(), id.to_string()],
    )
    .map_err(backend)?;
    by_id(c, id)?.ok_or_else(|| StoreError::NotFound(format!("token {id}")))
}
