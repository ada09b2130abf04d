//! Catalog rows: one row per license type plus every version's spec as JSONB.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_domain::catalog::{LicenseTypeSpec, LicenseTypeVersion};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_store::{StoreError, StoreResult};

fn to_version(r: &Row) -> StoreResult<LicenseTypeVersion> {
    let spec: serde_json::Value = r.col(0, "license type version")?;
    let version: i32 = r.col(1, "license type version")?;
    let spec = zhengzhao_store::rules::decode::catalog_spec(spec)?;
    Ok(LicenseTypeVersion {
        spec,
        version: u32::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("version {version}")))?,
        created_at: r.col(2, "license type version")?,
    })
}

fn spec_json(spec: &LicenseTypeSpec) -> StoreResult<serde_json::Value> {
    serde_json::to_value(spec).map_err(backend)
}

pub(crate) async fn create<C: Db + ?Sized>(
    c: &C,
    spec: &LicenseTypeSpec,
    at: jiff::Timestamp,
) -> StoreResult<LicenseTypeVersion> {
    let code = spec.code().as_str();
    if c.query_opt("SELECT 1 FROM license_types WHERE code = $1", &[&code])
        .await
        .map_err(backend)?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "license type {code} already exists"
        )));
    }
    let row = c
        .query_one(
            "INSERT INTO license_types (code, current_version, created_at, updated_at) VALUES ($1, 1, $2, $2) RETURNING id",
            &[&code, &at],
        )
        .await
        .map_err(classify)?;
    let id: i64 = row.col(0, "license type")?;
    c.execute(
        "INSERT INTO license_type_versions (type_id, version, spec, created_at) VALUES ($1, 1, $2, $3)",
        &[&id, &spec_json(spec)?, &at],
    )
    .await
    .map_err(backend)?;
    Ok(LicenseTypeVersion {
        spec: spec.clone(),
        version: 1,
        created_at: at,
    })
}

pub(crate) async fn next_version<C: Db + ?Sized>(
    c: &C,
    spec: &LicenseTypeSpec,
    expected_current: u32,
    at: jiff::Timestamp,
) -> StoreResult<LicenseTypeVersion> {
    let code = spec.code().as_str();
    // FOR UPDATE: two concurrent edits make versions n+1 and n+2, not two n+1.
    let row = c
        .query_opt(
            "SELECT id, current_version FROM license_types WHERE code = $1 FOR UPDATE",
            &[&code],
        )
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("license type {code}")))?;
    let id: i64 = row.col(0, "license type")?;
    let current: i32 = row.col(1, "license type")?;
    if i64::from(current) != i64::from(expected_current) {
        return Err(StoreError::Conflict(format!(
            "license type {code} is at version {current}, not {expected_current}: it changed meanwhile"
        )));
    }
    let version = current + 1;
    c.execute(
        "INSERT INTO license_type_versions (type_id, version, spec, created_at) VALUES ($1, $2, $3, $4)",
        &[&id, &version, &spec_json(spec)?, &at],
    )
    .await
    .map_err(classify)?;
    c.execute(
        "UPDATE license_types SET current_version = $1, updated_at = $2 WHERE id = $3",
        &[&version, &at, &id],
    )
    .await
    .map_err(backend)?;
    Ok(LicenseTypeVersion {
        spec: spec.clone(),
        version: u32::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("version {version}")))?,
        created_at: at,
    })
}

async fn rows<C: Db + ?Sized>(
    c: &C,
    sql: &str,
    p: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<LicenseTypeVersion>> {
    c.query(sql, p)
        .await
        .map_err(backend)?
        .iter()
        .map(to_version)
        .collect()
}

pub(crate) async fn current_all<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<LicenseTypeVersion>> {
    rows(
        c,
        "SELECT v.spec, v.version, v.created_at FROM license_types t
         JOIN license_type_versions v ON v.type_id = t.id AND v.version = t.current_version
         ORDER BY t.code",
        &[],
    )
    .await
}

pub(crate) async fn one<C: Db + ?Sized>(
    c: &C,
    code: &LicenseTypeCode,
    version: Option<u32>,
) -> StoreResult<Option<LicenseTypeVersion>> {
    let found = match version {
        None => {
            rows(
                c,
                "SELECT v.spec, v.version, v.created_at FROM license_types t
                 JOIN license_type_versions v ON v.type_id = t.id AND v.version = t.current_version
                 WHERE t.code = $1",
                &[&code.as_str()],
            )
            .await?
        }
        Some(n) => {
            let Ok(n) = i32::try_from(n) else {
                return Ok(None);
            };
            rows(
                c,
                "SELECT v.spec, v.version, v.created_at FROM license_types t
                 JOIN license_type_versions v ON v.type_id = t.id
                 WHERE t.code = $1 AND v.version = $2",
                &[&code.as_str(), &n],
            )
            .await?
        }
    };
    Ok(found.into_iter().next())
}

pub(crate) async fn versions<C: Db + ?Sized>(
    c: &C,
    code: &LicenseTypeCode,
) -> StoreResult<Vec<LicenseTypeVersion>> {
    rows(
        c,
        "SELECT v.spec, v.version, v.created_at FROM license_types t
         JOIN license_type_versions v ON v.type_id = t.id
         WHERE t.code = $1 ORDER BY v.version",
        &[&code.as_str()],
    )
    .await
}
