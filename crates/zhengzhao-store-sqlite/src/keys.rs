//! Signing key rows.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::rules;
use zhengzhao_store::{KeyPurpose, KeyRevocation, SigningKeyRecord, StoreError, StoreResult};

const SELECT: &str = "SELECT k.id, o.code, k.purpose, k.source, k.public_key, k.wrapped_private_key, k.certificate_pem,
                             k.not_before, k.not_after, k.created_at, k.retired_at
                      FROM signing_keys k LEFT JOIN orgs o ON o.id = k.org_id";

type Raw = (
    String,
    Option<String>,
    String,
    String,
    Vec<u8>,
    Vec<u8>,
    String,
    String,
    String,
    String,
    Option<String>,
);

fn raw(r: &Row<'_>) -> rusqlite::Result<Raw> {
    TryFrom::try_from(r)
}

fn to_record(r: Raw) -> StoreResult<SigningKeyRecord> {
    let (id, org, purpose, source, public_key, wrapped, pem, nb, na, created, retired) = r;
    Ok(SigningKeyRecord {
        id: uuid_of(&id)?,
        org: org
            .map(|o| rules::decode::org_code("key", &o))
            .transpose()?,
        purpose: rules::decode::key_purpose(&purpose)?,
        source: rules::decode::key_source(&source)?,
        public_key,
        wrapped_private_key: wrapped,
        certificate_pem: pem,
        not_before: ts(&nb)?,
        not_after: ts(&na)?,
        created_at: ts(&created)?,
        retired_at: retired.map(|s| ts(&s)).transpose()?,
    })
}

fn org_id(c: &Connection, org: Option<&OrgCode>) -> StoreResult<Option<i64>> {
    match org {
        None => Ok(None),
        Some(o) => c
            .query_row("SELECT id FROM orgs WHERE code = ?1", [o.as_str()], |r| {
                r.get(0)
            })
            .optional()
            .map_err(backend)?
            .map(Some)
            .ok_or_else(|| StoreError::NotFound(format!("org {o}"))),
    }
}

pub(crate) fn add(c: &Connection, k: &SigningKeyRecord, retire_active: bool) -> StoreResult<()> {
    let oid = org_id(c, k.org.as_ref())?;
    if retire_active {
        c.execute(
            "UPDATE signing_keys SET retired_at = ?1 WHERE COALESCE(org_id, 0) = COALESCE(?2, 0) AND purpose = ?3 AND retired_at IS NULL",
            params![k.created_at.to_string(), oid, k.purpose.as_str()],
        )
        .map_err(backend)?;
    }
    let active_exists = c
        .prepare_cached("SELECT 1 FROM signing_keys WHERE COALESCE(org_id, 0) = COALESCE(?1, 0) AND purpose = ?2 AND retired_at IS NULL")
        .and_then(|mut s| s.exists(params![oid, k.purpose.as_str()]))
        .map_err(backend)?;
    if active_exists && k.retired_at.is_none() {
        return Err(StoreError::Conflict(
            "an active key of this org and purpose exists".into(),
        ));
    }
    c.execute(
        "INSERT INTO signing_keys (id, org_id, purpose, source, public_key, wrapped_private_key, certificate_pem, not_before, not_after, created_at, retired_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            k.id.to_string(),
            oid,
            k.purpose.as_str(),
            k.source.as_str(),
            k.public_key,
            k.wrapped_private_key,
            k.certificate_pem,
            k.not_before.to_string(),
            k.not_after.to_string(),
            k.created_at.to_string(),
            k.retired_at.map(|t| t.to_string())
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn active(
    c: &Connection,
    org: Option<&OrgCode>,
    purpose: KeyPurpose,
) -> StoreResult<Option<SigningKeyRecord>> {
    let sql = match org {
        Some(_) => {
            format!("{SELECT} WHERE o.code = ?1 AND k.purpose = ?2 AND k.retired_at IS NULL")
        }
        None => format!(
            "{SELECT} WHERE k.org_id IS NULL AND ?1 IS NULL AND k.purpose = ?2 AND k.retired_at IS NULL"
        ),
    };
    let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
    stmt.query_row(params![org.map(|o| o.as_str()), purpose.as_str()], raw)
        .optional()
        .map_err(backend)?
        .map(to_record)
        .transpose()
}

pub(crate) fn by_id(c: &Connection, id: uuid::Uuid) -> StoreResult<Option<SigningKeyRecord>> {
    let mut stmt = c
        .prepare_cached(&format!("{SELECT} WHERE k.id = ?1"))
        .map_err(backend)?;
    stmt.query_row([id.to_string()], raw)
        .optional()
        .map_err(backend)?
        .map(to_record)
        .transpose()
}

pub(crate) fn of_org(c: &Connection, org: Option<&OrgCode>) -> StoreResult<Vec<SigningKeyRecord>> {
    let sql = match org {
        Some(_) => format!("{SELECT} WHERE o.code = ?1 ORDER BY k.created_at, k.id"),
        None => {
            format!("{SELECT} WHERE k.org_id IS NULL AND ?1 IS NULL ORDER BY k.created_at, k.id")
        }
    };
    let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map([org.map(|o| o.as_str())], raw)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    rows.into_iter().map(to_record).collect()
}

pub(crate) fn revoke(c: &Connection, r: &KeyRevocation) -> StoreResult<()> {
    let id = r.key_id.to_string();
    let known = c
        .prepare_cached("SELECT 1 FROM signing_keys WHERE id = ?1")
        .and_then(|mut s| s.exists([&id]))
        .map_err(backend)?;
    if !known {
        return Err(StoreError::NotFound(format!("signing key {id}")));
    }
    c.execute(
        "INSERT INTO key_revocations (key_id, revoked_at, reason, recorded_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (key_id) DO NOTHING",
        params![id, r.revoked_at.to_string(), r.reason, r.recorded_at.to_string()],
    )
    .map_err(backend)
    .and_then(|n| {
        if n == 0 {
            Err(StoreError::Conflict(format!("signing key {id} is already revoked")))
        } else {
            Ok(())
        }
    })?;
    c.execute(
        "UPDATE signing_keys SET retired_at = ?2 WHERE id = ?1 AND retired_at IS NULL",
        params![id, r.recorded_at.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn revocations(c: &Connection) -> StoreResult<Vec<KeyRevocation>> {
    let mut s = c
        .prepare_cached(
            "SELECT key_id, revoked_at, reason, recorded_at FROM key_revocations ORDER BY recorded_at, key_id",
        )
        .map_err(backend)?;
    let rows = s
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|(id, at, reason, recorded)| {
            Ok(KeyRevocation {
                key_id: uuid_of(&id)?,
                revoked_at: ts(&at)?,
                reason,
                recorded_at: ts(&recorded)?,
            })
        })
        .collect()
}
