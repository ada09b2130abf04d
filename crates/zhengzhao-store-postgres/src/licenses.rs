//! License rows and their signed versions.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::rules;
use zhengzhao_store::*;

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("license {what} '{v}'"))
}

fn small(v: i32) -> StoreResult<u16> {
    u16::try_from(v).map_err(|_| StoreError::Corrupt(format!("version {v}")))
}

/// The versions of every license in `keys`, oldest first per license, in
/// one query (a page of licenses costs two round trips, not one per license).
async fn versions_of<C: Db + ?Sized>(
    c: &C,
    keys: &[i64],
) -> StoreResult<std::collections::HashMap<i64, Vec<LicenseVersionRecord>>> {
    let rows = c
        .query(
            "SELECT license_id, identifier, version, type_version, holder_name, holder_id_type, holder_id, face,
                    license_number, valid_from, valid_until, issued_at, payload, signature, key_id,
                    reason_kind, reason_text, status_index, reason_objection
             FROM license_versions WHERE license_id = ANY($1) ORDER BY license_id, version",
            &[&keys],
        )
        .await
        .map_err(backend)?;
    let mut out: std::collections::HashMap<i64, Vec<LicenseVersionRecord>> =
        std::collections::HashMap::with_capacity(keys.len());
    for r in &rows {
        let key: i64 = r.try_get(0).map_err(backend)?;
        out.entry(key).or_default().push(version_of(r)?);
    }
    Ok(out)
}

fn version_of(r: &Row) -> StoreResult<LicenseVersionRecord> {
    let get = |e: tokio_postgres::Error| StoreError::Corrupt(format!("license version row: {e}"));
    let id: String = r.try_get(1).map_err(get)?;
    let type_version: i32 = r.try_get(3).map_err(get)?;
    let reason_kind: Option<String> = r.try_get(15).map_err(get)?;
    let reason_text: Option<String> = r.try_get(16).map_err(get)?;
    let reason = match (reason_kind, reason_text) {
        (Some(kind), Some(text)) => Some(ChangeReason {
            kind: ChangeKind::parse(&kind).ok_or_else(|| corrupt("reason", &kind))?,
            text,
            objection: r.try_get(18).map_err(get)?,
        }),
        _ => None,
    };
    Ok(LicenseVersionRecord {
        license_id: LicenseId::parse(&id).map_err(|_| corrupt("identifier", &id))?,
        version: small(r.try_get(2).map_err(get)?)?,
        type_version: u32::try_from(type_version)
            .map_err(|_| corrupt("type version", &type_version.to_string()))?,
        holder: Holder {
            name: r.try_get(4).map_err(get)?,
            id_type: r.try_get(5).map_err(get)?,
            id: r.try_get(6).map_err(get)?,
        },
        face: r.try_get(7).map_err(get)?,
        license_number: r.try_get(8).map_err(get)?,
        valid_from: r.try_get(9).map_err(get)?,
        valid_until: r.try_get(10).map_err(get)?,
        issued_at: r.try_get(11).map_err(get)?,
        payload: r.try_get(12).map_err(get)?,
        signature: r.try_get(13).map_err(get)?,
        key_id: r.try_get(14).map_err(get)?,
        reason,
        status_index: r.try_get(17).map_err(get)?,
    })
}

const LICENSE_SELECT: &str = "SELECT l.id, t.code, o.code, l.serial, l.source_system, l.source_record_id, l.created_at,
                                     l.revoked_at, l.revoked_by, l.revoke_reason, l.objection_fields
                              FROM licenses l JOIN license_types t ON t.id = l.type_id JOIN orgs o ON o.id = l.issuer_id";

fn to_license(r: &Row, versions: Vec<LicenseVersionRecord>) -> StoreResult<LicenseRecord> {
    let get = |e: tokio_postgres::Error| StoreError::Corrupt(format!("license row: {e}"));
    let key: i64 = r.try_get(0).map_err(get)?;
    let type_code: String = r.try_get(1).map_err(get)?;
    let issuer: String = r.try_get(2).map_err(get)?;
    let revoked_at: Option<jiff::Timestamp> = r.try_get(7).map_err(get)?;
    let revoked_by: Option<String> = r.try_get(8).map_err(get)?;
    let reason: Option<String> = r.try_get(9).map_err(get)?;
    let revocation = match (revoked_at, revoked_by, reason) {
        (Some(at), Some(by), Some(reason)) => Some(Revocation { at, by, reason }),
        _ => None,
    };
    Ok(LicenseRecord {
        key,
        type_code: LicenseTypeCode::parse(&type_code).map_err(|_| corrupt("type", &type_code))?,
        issuer: OrgCode::parse(&issuer).map_err(|_| corrupt("issuer", &issuer))?,
        serial: r.try_get(3).map_err(get)?,
        source_system: r.try_get(4).map_err(get)?,
        source_record_id: r.try_get(5).map_err(get)?,
        created_at: r.try_get(6).map_err(get)?,
        revocation,
        versions,
        objection_fields: r
            .try_get::<_, Option<serde_json::Value>>(10)
            .map_err(get)?
            .map(|f| {
                serde_json::from_value(f).map_err(|e| corrupt("objection fields", &e.to_string()))
            })
            .transpose()?,
    })
}

async fn licenses_of<C: Db + ?Sized>(c: &C, rows: Vec<Row>) -> StoreResult<Vec<LicenseRecord>> {
    let keys = rows
        .iter()
        .map(|r| r.try_get::<_, i64>(0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    let mut versions = versions_of(c, &keys).await?;
    rows.iter()
        .zip(&keys)
        .map(|(r, key)| to_license(r, versions.remove(key).unwrap_or_default()))
        .collect()
}

pub(crate) async fn by_key<C: Db + ?Sized>(c: &C, key: i64) -> StoreResult<Option<LicenseRecord>> {
    let rows = c
        .query(&format!("{LICENSE_SELECT} WHERE l.id = $1"), &[&key])
        .await
        .map_err(backend)?;
    Ok(licenses_of(c, rows).await?.into_iter().next())
}

pub(crate) async fn by_identifier<C: Db + ?Sized>(
    c: &C,
    id: &LicenseId,
) -> StoreResult<Option<LicenseRecord>> {
    let key = c
        .query_opt(
            "SELECT license_id FROM license_versions WHERE identifier = $1",
            &[&id.as_str()],
        )
        .await
        .map_err(backend)?;
    match key {
        Some(r) => by_key(c, r.try_get(0).map_err(backend)?).await,
        None => Ok(None),
    }
}

pub(crate) async fn by_source<C: Db + ?Sized>(
    c: &C,
    system: &str,
    record: &str,
) -> StoreResult<Option<LicenseRecord>> {
    let rows = c
        .query(
            &format!("{LICENSE_SELECT} WHERE l.source_system = $1 AND l.source_record_id = $2"),
            &[&system, &record],
        )
        .await
        .map_err(backend)?;
    Ok(licenses_of(c, rows).await?.into_iter().next())
}

/// Licenses of `holders` whose type is one of `types`, newest first.
pub(crate) async fn of_holders<C: Db + ?Sized>(
    c: &C,
    holders: &[String],
    types: &[&str],
) -> StoreResult<Vec<LicenseRecord>> {
    let rows = c
        .query(
            &format!(
                "{LICENSE_SELECT} WHERE l.holder_id = ANY($1)
                   AND l.type_id IN (SELECT id FROM license_types WHERE code = ANY($2))
                 ORDER BY l.id DESC"
            ),
            &[&holders, &types],
        )
        .await
        .map_err(backend)?;
    licenses_of(c, rows).await
}

pub(crate) async fn page<C: Db + ?Sized>(
    c: &C,
    f: &LicenseFilter,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<LicenseRecord>> {
    let sql = format!(
        "{LICENSE_SELECT} WHERE l.id < $1
           AND ($2::text IS NULL OR l.holder_id = $2)
           AND ($3::text IS NULL OR l.type_id = (SELECT id FROM license_types WHERE code = $3))
           AND ($4::text IS NULL OR l.issuer_id IN (SELECT cl.descendant_id FROM org_closure cl JOIN orgs a ON a.id = cl.ancestor_id WHERE a.code = $4))
         ORDER BY l.id DESC LIMIT $5"
    );
    let rows = c
        .query(
            &sql,
            &[
                &before.unwrap_or(i64::MAX),
                &f.holder_id,
                &f.type_code.as_ref().map(|t| t.as_str()),
                &f.issuer_within.as_ref().map(|o| o.as_str()),
                &i64::from(limit),
            ],
        )
        .await
        .map_err(backend)?;
    licenses_of(c, rows).await
}

async fn insert_version<C: Db + ?Sized>(
    c: &C,
    key: i64,
    v: &LicenseVersionRecord,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO license_versions (license_id, version, identifier, type_version, holder_name, holder_id_type, holder_id,
                                       face, license_number, valid_from, valid_until, issued_at, payload, signature, key_id,
                                       reason_kind, reason_text, status_index, reason_objection)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        &[
            &key,
            &i32::from(v.version),
            &v.license_id.as_str(),
            &i32::try_from(v.type_version).map_err(|_| StoreError::Backend(format!("type version {} too large", v.type_version)))?,
            &v.holder.name,
            &v.holder.id_type,
            &v.holder.id,
            &v.face,
            &v.license_number,
            &v.valid_from,
            &v.valid_until,
            &v.issued_at,
            &v.payload,
            &v.signature,
            &v.key_id,
            &v.reason.as_ref().map(|r| r.kind.as_str()),
            &v.reason.as_ref().map(|r| r.text.as_str()),
            &v.status_index,
            &v.reason.as_ref().and_then(|r| r.objection.as_deref()),
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn issue<C: Db + ?Sized>(c: &C, l: &NewLicense) -> StoreResult<LicenseRecord> {
    let type_id: i64 = c
        .query_opt(
            "SELECT id FROM license_types WHERE code = $1",
            &[&l.type_code.as_str()],
        )
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("license type {}", l.type_code)))?
        .col(0, "license type")?;
    let issuer_id: i64 = c
        .query_opt("SELECT id FROM orgs WHERE code = $1", &[&l.issuer.as_str()])
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", l.issuer)))?
        .col(0, "org")?;
    let holder = &l.first.holder.id;
    if l.one_current_per_holder {
        current_of_holder(c, type_id, holder).await?;
    }
    // A concurrent issue for the same holder can pass that check too: the
    // unique index (V13) lets one insert through. This one then waits for
    // the other's commit and inserts nothing, and the check, run again in a
    // new statement (READ COMMITTED), sees and names the winner.
    let sole = l.one_current_per_holder.then_some(holder);
    let row = c
        .query_opt(
            "INSERT INTO licenses (type_id, issuer_id, serial, holder_id, current_version, source_system, source_record_id, created_at,
                                   sole_current_holder_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (type_id, sole_current_holder_id) WHERE sole_current_holder_id IS NOT NULL DO NOTHING
             RETURNING id",
            &[
                &type_id,
                &issuer_id,
                &l.serial,
                holder,
                &i32::from(l.first.version),
                &l.source_system,
                &l.source_record_id,
                &l.first.issued_at,
                &sole,
            ],
        )
        .await
        .map_err(classify)?;
    let Some(row) = row else {
        current_of_holder(c, type_id, holder).await?;
        // The winner was revoked meanwhile: nothing stands in the way now.
        return Err(StoreError::Conflict(
            "a concurrent license for the same holder changed; retry".into(),
        ));
    };
    let key: i64 = row.col(0, "license")?;
    insert_version(c, key, &l.first).await?;
    by_key(c, key)
        .await?
        .ok_or_else(|| StoreError::Backend("license vanished after insert".into()))
}

/// `CurrentLicenseExists` naming the holder's license of the type that is
/// not revoked, if there is one. Every such license counts, also one issued
/// before its type had the one-per-holder rule (whose column is NULL).
async fn current_of_holder<C: Db + ?Sized>(c: &C, type_id: i64, holder: &str) -> StoreResult<()> {
    let Some(r) = c
        .query_opt(
            "SELECT v.identifier, o.code
             FROM licenses l
             JOIN license_versions v ON v.license_id = l.id AND v.version = l.current_version
             JOIN orgs o ON o.id = l.issuer_id
             WHERE l.holder_id = $1 AND l.type_id = $2 AND l.revoked_at IS NULL
             ORDER BY l.id LIMIT 1",
            &[&holder, &type_id],
        )
        .await
        .map_err(backend)?
    else {
        return Ok(());
    };
    let id: String = r.col(0, "license")?;
    let issuer: String = r.col(1, "license")?;
    Err(StoreError::CurrentLicenseExists {
        license_id: LicenseId::parse(&id).map_err(|_| corrupt("identifier", &id))?,
        issuer: OrgCode::parse(&issuer).map_err(|_| corrupt("issuer", &issuer))?,
    })
}

async fn current_state<C: Db + ?Sized>(c: &C, key: i64) -> StoreResult<(u16, bool)> {
    let r = c
        .query_opt(
            "SELECT current_version, revoked_at IS NOT NULL FROM licenses WHERE id = $1 FOR UPDATE",
            &[&key],
        )
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("license #{key}")))?;
    Ok((small(r.col(0, "license")?)?, r.col(1, "license")?))
}

pub(crate) async fn add_version<C: Db + ?Sized>(
    c: &C,
    key: i64,
    expected: u16,
    v: &LicenseVersionRecord,
) -> StoreResult<LicenseRecord> {
    let (current, revoked) = current_state(c, key).await?;
    rules::check_license_change(rules::LicenseChange::NewVersion, current, revoked, expected)?;
    insert_version(c, key, v).await?;
    c.execute(
        "UPDATE licenses SET current_version = $1, holder_id = $2 WHERE id = $3",
        &[&i32::from(v.version), &v.holder.id, &key],
    )
    .await
    .map_err(backend)?;
    by_key(c, key)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("license #{key}")))
}

pub(crate) async fn revoke<C: Db + ?Sized>(
    c: &C,
    key: i64,
    expected: u16,
    r: &Revocation,
) -> StoreResult<LicenseRecord> {
    let (current, revoked) = current_state(c, key).await?;
    rules::check_license_change(rules::LicenseChange::Revocation, current, revoked, expected)?;
    c.execute(
        "UPDATE licenses SET revoked_at = $1, revoked_by = $2, revoke_reason = $3, sole_current_holder_id = NULL
         WHERE id = $4",
        &[&r.at, &r.by, &r.reason, &key],
    )
    .await
    .map_err(backend)?;
    by_key(c, key)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("license #{key}")))
}

pub(crate) async fn source_records<C: Db + ?Sized>(
    c: &C,
    system: &str,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<zhengzhao_store::SourceRecord>> {
    c.query(
        "SELECT l.source_record_id, v.identifier, l.revoked_at IS NOT NULL
         FROM licenses l JOIN license_versions v ON v.license_id = l.id AND v.version = l.current_version
         WHERE l.source_system = $1 AND l.source_record_id > $2
         ORDER BY l.source_record_id LIMIT $3",
        &[&system, &after.unwrap_or(""), &i64::from(limit)],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(|r| {
        let id: String = r.col(1, "source record")?;
        Ok(zhengzhao_store::SourceRecord {
            record_id: r.col(0, "source record")?,
            license_id: LicenseId::parse(&id).map_err(|_| corrupt("identifier", &id))?,
            revoked: r.col(2, "source record")?,
        })
    })
    .collect()
}
