//! API token rows: the hash of the secret, its org and its role.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_store::rules;
use zhengzhao_store::{NewToken, StoreError, StoreResult, TokenRecord};

const SELECT: &str =
    "SELECT t.id, o.code, t.role, t.label, t.created_at, t.revoked_at, t.signing_secret, t.scenario_id
                      FROM api_tokens t JOIN orgs o ON o.id = t.org_id";

fn to_record(r: &Row) -> StoreResult<TokenRecord> {
    let org: String = r.col(1, "token")?;
    let role: String = r.col(2, "token")?;
    Ok(TokenRecord {
        id: r.col(0, "token")?,
        org: rules::decode::org_code("token", &org)?,
        role: rules::decode::role("token", &role)?,
        label: r.col(3, "token")?,
        created_at: r.col(4, "token")?,
        revoked_at: r.col(5, "token")?,
        signing_secret: r.col(6, "token")?,
        scenario_id: r.col(7, "token")?,
    })
}

pub(crate) async fn insert<C: Db + ?Sized>(c: &C, t: &NewToken) -> StoreResult<()> {
    let org_id: i64 = c
        .query_opt("SELECT id FROM orgs WHERE code = $1", &[&t.org.as_str()])
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", t.org)))?
        .col(0, "org")?;
    c.execute(
        "INSERT INTO api_tokens (id, hash, org_id, role, label, created_at, signing_secret, scenario_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&t.id, &t.hash, &org_id, &t.role.as_str(), &t.label, &t.created_at, &t.signing_secret, &t.scenario_id],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn by_hash<C: Db + ?Sized>(
    c: &C,
    hash: &[u8],
) -> StoreResult<Option<TokenRecord>> {
    c.query_opt(
        &format!("{SELECT} WHERE t.hash = $1 AND t.revoked_at IS NULL"),
        &[&hash],
    )
    .await
    .map_err(backend)?
    .as_ref()
    .map(to_record)
    .transpose()
}

pub(crate) async fn all<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<TokenRecord>> {
    c.query(&format!("{SELECT} ORDER BY t.id"), &[])
        .await
        .map_err(backend)?
        .iter()
        .map(to_record)
        .collect()
}

pub(crate) async fn revoke<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
    at: jiff::Timestamp,
) -> StoreResult<TokenRecord> {
    c.execute(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        &[&at, &id],
    )
    .await
    .map_err(backend)?;
    c.query_opt(&format!("{SELECT} WHERE t.id = $1"), &[&id])
        .await
        .map_err(backend)?
        .as_ref()
        .map(to_record)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("token {id}")))
}
