//! Catalog rows: one row per license type plus every version's spec as JSON.

use crate::{backend, ts};
use rusqlite::{Connection, OptionalExtension, params};
use zhengzhao_domain::catalog::{LicenseTypeSpec, LicenseTypeVersion};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_store::{StoreError, StoreResult};

fn to_version(spec: &str, version: u32, created_at: &str) -> StoreResult<LicenseTypeVersion> {
    let json: serde_json::Value = serde_json::from_str(spec)
        .map_err(|e| StoreError::Corrupt(format!("catalog spec: {e}")))?;
    let spec = zhengzhao_store::rules::decode::catalog_spec(json)?;
    Ok(LicenseTypeVersion {
        spec,
        version,
        created_at: ts(created_at)?,
    })
}

fn spec_json(spec: &LicenseTypeSpec) -> StoreResult<String> {
    serde_json::to_string(spec).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn create(
    c: &Connection,
    spec: &LicenseTypeSpec,
    at: jiff::Timestamp,
) -> StoreResult<LicenseTypeVersion> {
    let code = spec.code().as_str();
    let exists = c
        .prepare_cached("SELECT 1 FROM license_types WHERE code = ?1")
        .and_then(|mut s| s.exists([code]))
        .map_err(backend)?;
    if exists {
        return Err(StoreError::Conflict(format!(
            "license type {code} already exists"
        )));
    }
    let at_s = at.to_string();
    c.execute(
        "INSERT INTO license_types (code, current_version, created_at, updated_at) VALUES (?1, 1, ?2, ?2)",
        params![code, at_s],
    )
    .map_err(backend)?;
    let id = c.last_insert_rowid();
    c.execute(
        "INSERT INTO license_type_versions (type_id, version, spec, created_at) VALUES (?1, 1, ?2, ?3)",
        params![id, spec_json(spec)?, at_s],
    )
    .map_err(backend)?;
    Ok(LicenseTypeVersion {
        spec: spec.clone(),
        version: 1,
        created_at: at,
    })
}

pub(crate) fn next_version(
    c: &Connection,
    spec: &LicenseTypeSpec,
    expected_current: u32,
    at: jiff::Timestamp,
) -> StoreResult<LicenseTypeVersion> {
    let code = spec.code().as_str();
    let (id, current): (i64, u32) = c
        .query_row(
            "SELECT id, current_version FROM license_types WHERE code = ?1",
            [code],
            |r| TryFrom::try_from(r),
        )
        .optional()
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("license type {code}")))?;
    if current != expected_current {
        return Err(StoreError::Conflict(format!(
            "license type {code} is at version {current}, not {expected_current}: it changed meanwhile"
        )));
    }
    let version = current + 1;
    let at_s = at.to_string();
    c.execute(
        "INSERT INTO license_type_versions (type_id, version, spec, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![id, version, spec_json(spec)?, at_s],
    )
    .map_err(backend)?;
    c.execute(
        "UPDATE license_types SET current_version = ?1, updated_at = ?2 WHERE id = ?3",
        params![version, at_s, id],
    )
    .map_err(backend)?;
    Ok(LicenseTypeVersion {
        spec: spec.clone(),
        version,
        created_at: at,
    })
}

fn rows(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<LicenseTypeVersion>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let raw = stmt
        .query_map(p, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    raw.iter().map(|(s, v, at)| to_version(s, *v, at)).collect()
}

pub(crate) fn current_all(c: &Connection) -> StoreResult<Vec<LicenseTypeVersion>> {
    rows(
        c,
        "SELECT v.spec, v.version, v.created_at FROM license_types t
         JOIN license_type_versions v ON v.type_id = t.id AND v.version = t.current_version
         ORDER BY t.code",
        [],
    )
}

pub(crate) fn one(
    c: &Connection,
    code: &LicenseTypeCode,
    version: Option<u32>,
) -> StoreResult<Option<LicenseTypeVersion>> {
    let found = match version {
        None => rows(
            c,
            "SELECT v.spec, v.version, v.created_at FROM license_types t
             JOIN license_type_versions v ON v.type_id = t.id AND v.version = t.current_version
             WHERE t.code = ?1",
            params![code.as_str()],
        )?,
        Some(n) => rows(
            c,
            "SELECT v.spec, v.version, v.created_at FROM license_types t
             JOIN license_type_versions v ON v.type_id = t.id
             WHERE t.code = ?1 AND v.version = ?2",
            params![code.as_str(), n],
        )?,
    };
    Ok(found.into_iter().next())
}

pub(crate) fn versions(
    c: &Connection,
    code: &LicenseTypeCode,
) -> StoreResult<Vec<LicenseTypeVersion>> {
    rows(
        c,
        "SELECT v.spec, v.version, v.created_at FROM license_types t
         JOIN license_type_versions v ON v.type_id = t.id
         WHERE t.code = ?1 ORDER BY v.version",
        params![code.as_str()],
    )
}
