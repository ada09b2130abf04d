//! Signing key rows.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::rules;
use zhengzhao_store::{KeyPurpose, KeyRevocation, SigningKeyRecord, StoreError, StoreResult};

const SELECT: &str = "SELECT k.id, o.code, k.purpose, k.source, k.public_key, k.wrapped_private_key, k.certificate_pem,
                             k.not_before, k.not_after, k.created_at, k.retired_at
                      FROM signing_keys k LEFT JOIN orgs o ON o.id = k.org_id";

fn to_record(r: &Row) -> StoreResult<SigningKeyRecord> {
    let org: Option<String> = r.col(1, "signing key")?;
    let purpose: String = r.col(2, "signing key")?;
    let source: String = r.col(3, "signing key")?;
    Ok(SigningKeyRecord {
        id: r.col(0, "signing key")?,
        org: org
            .map(|o| rules::decode::org_code("key", &o))
            .transpose()?,
        purpose: rules::decode::key_purpose(&purpose)?,
        source: rules::decode::key_source(&source)?,
        public_key: r.col(4, "signing key")?,
        wrapped_private_key: r.col(5, "signing key")?,
        certificate_pem: r.col(6, "signing key")?,
        not_before: r.col(7, "signing key")?,
        not_after: r.col(8, "signing key")?,
        created_at: r.col(9, "signing key")?,
        retired_at: r.col(10, "signing key")?,
    })
}

async fn org_id<C: Db + ?Sized>(c: &C, org: Option<&OrgCode>) -> StoreResult<Option<i64>> {
    match org {
        None => Ok(None),
        Some(o) => c
            .query_opt("SELECT id FROM orgs WHERE code = $1", &[&o.as_str()])
            .await
            .map_err(backend)?
            .map(|r| r.col(0, "org").map(Some))
            .ok_or_else(|| StoreError::NotFound(format!("org {o}")))?,
    }
}

pub(crate) async fn add<C: Db + ?Sized>(
    c: &C,
    k: &SigningKeyRecord,
    retire_active: bool,
) -> StoreResult<()> {
    let oid = org_id(c, k.org.as_ref()).await?;
    if retire_active {
        c.execute(
            "UPDATE signing_keys SET retired_at = $1 WHERE COALESCE(org_id, 0) = COALESCE($2::bigint, 0) AND purpose = $3 AND retired_at IS NULL",
            &[&k.created_at, &oid, &k.purpose.as_str()],
        )
        .await
        .map_err(backend)?;
    }
    c.execute(
        "INSERT INTO signing_keys (id, org_id, purpose, source, public_key, wrapped_private_key, certificate_pem, not_before, not_after, created_at, retired_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &k.id,
            &oid,
            &k.purpose.as_str(),
            &k.source.as_str(),
            &k.public_key,
            &k.wrapped_private_key,
            &k.certificate_pem,
            &k.not_before,
            &k.not_after,
            &k.created_at,
            &k.retired_at,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn active<C: Db + ?Sized>(
    c: &C,
    org: Option<&OrgCode>,
    purpose: KeyPurpose,
) -> StoreResult<Option<SigningKeyRecord>> {
    let row = match org {
        Some(o) => {
            c.query_opt(
                &format!("{SELECT} WHERE o.code = $1 AND k.purpose = $2 AND k.retired_at IS NULL"),
                &[&o.as_str(), &purpose.as_str()],
            )
            .await
        }
        None => {
            c.query_opt(
                &format!(
                    "{SELECT} WHERE k.org_id IS NULL AND k.purpose = $1 AND k.retired_at IS NULL"
                ),
                &[&purpose.as_str()],
            )
            .await
        }
    }
    .map_err(backend)?;
    row.as_ref().map(to_record).transpose()
}

pub(crate) async fn by_id<C: Db + ?Sized>(
    c: &C,
    id: uuid::Uuid,
) -> StoreResult<Option<SigningKeyRecord>> {
    c.query_opt(&format!("{SELECT} WHERE k.id = $1"), &[&id])
        .await
        .map_err(backend)?
        .as_ref()
        .map(to_record)
        .transpose()
}

pub(crate) async fn of_org<C: Db + ?Sized>(
    c: &C,
    org: Option<&OrgCode>,
) -> StoreResult<Vec<SigningKeyRecord>> {
    let rows = match org {
        Some(o) => {
            c.query(
                &format!("{SELECT} WHERE o.code = $1 ORDER BY k.created_at, k.id"),
                &[&o.as_str()],
            )
            .await
        }
        None => {
            c.query(
                &format!("{SELECT} WHERE k.org_id IS NULL ORDER BY k.created_at, k.id"),
                &[],
            )
            .await
        }
    }
    .map_err(backend)?;
    rows.iter().map(to_record).collect()
}

pub(crate) async fn revoke<C: Db + ?Sized>(c: &C, r: &KeyRevocation) -> StoreResult<()> {
    let known = c
        .query_opt("SELECT 1 FROM signing_keys WHERE id = $1", &[&r.key_id])
        .await
        .map_err(backend)?
        .is_some();
    if !known {
        return Err(StoreError::NotFound(format!("signing key {}", r.key_id)));
    }
    let inserted = c
        .execute(
            "INSERT INTO key_revocations (key_id, revoked_at, reason, recorded_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key_id) DO NOTHING",
            &[&r.key_id, &r.revoked_at, &r.reason, &r.recorded_at],
        )
        .await
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "signing key {} is already revoked",
            r.key_id
        )));
    }
    c.execute(
        "UPDATE signing_keys SET retired_at = $2 WHERE id = $1 AND retired_at IS NULL",
        &[&r.key_id, &r.recorded_at],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn revocations<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<KeyRevocation>> {
    c.query(
        "SELECT key_id, revoked_at, reason, recorded_at FROM key_revocations ORDER BY recorded_at, key_id",
        &[],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(|r| {
        Ok(KeyRevocation {
            key_id: r.col(0, "key revocation")?,
            revoked_at: r.col(1, "key revocation")?,
            reason: r.col(2, "key revocation")?,
            recorded_at: r.col(3, "key revocation")?,
        })
    })
    .collect()
}
