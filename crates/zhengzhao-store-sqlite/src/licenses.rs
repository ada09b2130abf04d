//! License rows, their signed versions, and their deliveries.

use crate::{backend, ts, uuid_of};
use jiff::civil::Date;
use rusqlite::{Connection, OptionalExtension, params};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::rules;
use zhengzhao_store::*;

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("license {what} '{v}'"))
}

fn date(s: &str) -> StoreResult<Date> {
    s.parse().map_err(|_| corrupt("date", s))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// The versions of every license in `keys`, oldest first, keyed by
/// license: one query for a whole page (not one per license).
fn versions_of(
    c: &Connection,
    keys: &[i64],
) -> StoreResult<std::collections::HashMap<i64, Vec<LicenseVersionRecord>>> {
    let mut out: std::collections::HashMap<i64, Vec<LicenseVersionRecord>> =
        std::collections::HashMap::with_capacity(keys.len());
    // One statement per shape, both static (no formatting on the read path).
    macro_rules! versions_where {
        ($filter:literal) => {
            concat!(
                "SELECT license_id, identifier, version, type_version, holder_name, holder_id_type, holder_id,
                        license_number, valid_from, valid_until, issued_at, payload, signature, key_id,
                        reason_kind, reason_text, status_index, reason_objection
                 FROM license_versions WHERE ",
                $filter
            )
        };
    }
    let (sql, arg) = match keys {
        [] => return Ok(out),
        [one] => (
            versions_where!("license_id = ?1 ORDER BY version"),
            rusqlite::types::Value::Integer(*one),
        ),
        _ => (
            versions_where!(
                "license_id IN (SELECT value FROM json_each(?1)) ORDER BY license_id, version"
            ),
            rusqlite::types::Value::Text(
                serde_json::to_string(keys).map_err(|e| StoreError::Backend(e.to_string()))?,
            ),
        ),
    };
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    // (license key, status index, the other columns in select order)
    type Raw = (
        i64,
        String,
        u16,
        u32,
        String,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
        String,
        String,
        Vec<u8>,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<(Raw, i64, Option<String>)> = stmt
        .query_map([arg], |r| Ok((Raw::try_from(r)?, r.get(16)?, r.get(17)?)))
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    for (
        (
            license,
            id,
            version,
            type_version,
            name,
            id_type,
            hid,
            number,
            from,
            until,
            issued,
            payload,
            signature,
            key_id,
            reason_kind,
            reason_text,
        ),
        status_index,
        objection,
    ) in rows
    {
        let reason = match (reason_kind, reason_text) {
            (Some(kind), Some(text)) => Some(ChangeReason {
                kind: ChangeKind::parse(&kind).ok_or_else(|| corrupt("reason", &kind))?,
                text,
                objection,
            }),
            _ => None,
        };
        out.entry(license).or_default().push(LicenseVersionRecord {
            license_id: LicenseId::parse(&id).map_err(|_| corrupt("identifier", &id))?,
            version,
            type_version,
            holder: Holder {
                name,
                id_type,
                id: hid,
            },
            face: face_of(&payload)?,
            license_number: number,
            valid_from: date(&from)?,
            valid_until: until.map(|u| date(&u)).transpose()?,
            issued_at: ts(&issued)?,
            payload,
            signature,
            key_id: uuid_of(&key_id)?,
            reason,
            status_index,
        });
    }
    Ok(out)
}

/// A version's face data, kept only inside its signed payload (migration V3).
fn face_of(payload: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(payload)
        .ok()
        .and_then(|mut p| p.get_mut("face").map(serde_json::Value::take))
        .ok_or_else(|| corrupt("payload", payload))
}

const LICENSE_SELECT: &str = "SELECT l.id, t.code, o.code, l.serial, l.source_system, l.source_record_id, l.created_at,
                                     l.revoked_at, l.revoked_by, l.revoke_reason, l.objection_fields
                              FROM licenses l JOIN license_types t ON t.id = l.type_id JOIN orgs o ON o.id = l.issuer_id";

type RawLicense = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn license_rows(
    c: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> StoreResult<Vec<LicenseRecord>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let rows: Vec<RawLicense> = stmt
        .query_map(p, |r| TryFrom::try_from(r))
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    let keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut versions = versions_of(c, &keys)?;
    rows.into_iter()
        .map(
            |(
                key,
                type_code,
                issuer,
                serial,
                system,
                record,
                created,
                revoked_at,
                revoked_by,
                reason,
                objection,
            )| {
                let revocation = match (revoked_at, revoked_by, reason) {
                    (Some(at), Some(by), Some(reason)) => Some(Revocation {
                        at: ts(&at)?,
                        by,
                        reason,
                    }),
                    _ => None,
                };
                Ok(LicenseRecord {
                    key,
                    type_code: LicenseTypeCode::parse(&type_code)
                        .map_err(|_| corrupt("type", &type_code))?,
                    issuer: OrgCode::parse(&issuer).map_err(|_| corrupt("issuer", &issuer))?,
                    serial,
                    source_system: system,
                    source_record_id: record,
                    created_at: ts(&created)?,
                    revocation,
                    versions: versions.remove(&key).unwrap_or_default(),
                    objection_fields: objection
                        .map(|f| {
                            serde_json::from_str(&f).map_err(|_| corrupt("objection fields", &f))
                        })
                        .transpose()?,
                })
            },
        )
        .collect()
}

pub(crate) fn by_key(c: &Connection, key: i64) -> StoreResult<Option<LicenseRecord>> {
    Ok(
        license_rows(c, &format!("{LICENSE_SELECT} WHERE l.id = ?1"), [key])?
            .into_iter()
            .next(),
    )
}

pub(crate) fn by_identifier(c: &Connection, id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
    let key: Option<i64> = c
        .prepare_cached("SELECT license_id FROM license_versions WHERE identifier = ?1")
        .and_then(|mut s| s.query_row([id.as_str()], |r| r.get(0)).optional())
        .map_err(backend)?;
    key.map_or(Ok(None), |k| by_key(c, k))
}

pub(crate) fn source_records(
    c: &Connection,
    system: &str,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<zhengzhao_store::SourceRecord>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT l.source_record_id, v.identifier, l.revoked_at IS NOT NULL
             FROM licenses l JOIN license_versions v ON v.license_id = l.id AND v.version = l.current_version
             WHERE l.source_system = ?1 AND l.source_record_id > ?2
             ORDER BY l.source_record_id LIMIT ?3",
        )
        .map_err(backend)?;
    let rows: Vec<(String, String, bool)> = stmt
        .query_map(params![system, after.unwrap_or(""), limit], |r| {
            TryFrom::try_from(r)
        })
        .map_err(backend)?
        .collect::<rusqlite::Result<_>>()
        .map_err(backend)?;
    rows.into_iter()
        .map(|(record_id, id, revoked)| {
            Ok(zhengzhao_store::SourceRecord {
                record_id,
                license_id: LicenseId::parse(&id).map_err(|_| corrupt("identifier", &id))?,
                revoked,
            })
        })
        .collect()
}

pub(crate) fn by_source(
    c: &Connection,
    system: &str,
    record: &str,
) -> StoreResult<Option<LicenseRecord>> {
    Ok(license_rows(
        c,
        &format!("{LICENSE_SELECT} WHERE l.source_system = ?1 AND l.source_record_id = ?2"),
        [system, record],
    )?
    .into_iter()
    .next())
}

/// Licenses of the holders and types given as JSON arrays, newest first.
/// The statement of [`of_holders`] (its plan is tested).
fn of_holders_sql() -> String {
    format!(
            // `+l.type_id`: not by the type's index. Most licenses share a few
            // types, and without statistics SQLite walked every license of
            // the type (a million business licenses) instead of the few of
            // these holders (shared queries fell to 11/s on 1M licenses).
            "{LICENSE_SELECT} WHERE l.holder_id IN (SELECT value FROM json_each(?1))
               AND +l.type_id IN (SELECT id FROM license_types WHERE code IN (SELECT value FROM json_each(?2)))
             ORDER BY l.id DESC"
    )
}

pub(crate) fn of_holders(
    c: &Connection,
    holders: &str,
    types: &str,
) -> StoreResult<Vec<LicenseRecord>> {
    license_rows(c, &of_holders_sql(), [holders, types])
}

pub(crate) fn page(
    c: &Connection,
    f: &LicenseFilter,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<LicenseRecord>> {
    let mut sql = format!("{LICENSE_SELECT} WHERE l.id < ?1");
    if f.holder_id.is_some() {
        sql.push_str(" AND l.holder_id = ?2");
    }
    if f.type_code.is_some() {
        sql.push_str(" AND l.type_id = (SELECT id FROM license_types WHERE code = ?3)");
    }
    if f.issuer_within.is_some() {
        sql.push_str(
            " AND l.issuer_id IN (SELECT cl.descendant_id FROM org_closure cl JOIN orgs a ON a.id = cl.ancestor_id WHERE a.code = ?4)",
        );
    }
    sql.push_str(" ORDER BY l.id DESC LIMIT ?5");
    license_rows(
        c,
        &sql,
        params![
            before.unwrap_or(i64::MAX),
            f.holder_id,
            f.type_code.as_ref().map(|t| t.as_str()),
            f.issuer_within.as_ref().map(|o| o.as_str()),
            limit
        ],
    )
}

/// A version's column values, rendered before the job reaches the writer
/// thread (the single writer only binds and inserts).
pub(crate) struct VersionRow {
    version: u16,
    identifier: String,
    values: [Option<String>; 12],
    type_version: u32,
    signature: Vec<u8>,
    status_index: i64,
}

impl VersionRow {
    pub(crate) fn new(v: &LicenseVersionRecord) -> Self {
        VersionRow {
            version: v.version,
            identifier: v.license_id.as_str().to_owned(),
            type_version: v.type_version,
            signature: v.signature.clone(),
            status_index: v.status_index,
            values: [
                Some(v.holder.name.clone()),
                Some(v.holder.id_type.clone()),
                Some(v.holder.id.clone()),
                v.license_number.clone(),
                Some(v.valid_from.to_string()),
                v.valid_until.map(|d| d.to_string()),
                Some(v.issued_at.to_string()),
                Some(v.payload.clone()),
                Some(v.key_id.to_string()),
                v.reason.as_ref().map(|r| r.kind.as_str().to_owned()),
                v.reason.as_ref().map(|r| r.text.clone()),
                v.reason.as_ref().and_then(|r| r.objection.clone()),
            ],
        }
    }
}

fn insert_version(c: &Connection, key: i64, v: &VersionRow) -> StoreResult<()> {
    let [
        name,
        id_type,
        holder_id,
        number,
        from,
        until,
        issued,
        payload,
        key_id,
        reason_kind,
        reason_text,
        reason_objection,
    ] = &v.values;
    c.prepare_cached(
        "INSERT INTO license_versions (license_id, version, identifier, type_version, holder_name, holder_id_type, holder_id,
                                       license_number, valid_from, valid_until, issued_at, payload, signature, key_id,
                                       reason_kind, reason_text, status_index, reason_objection)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key,
            v.version,
            v.identifier,
            v.type_version,
            name,
            id_type,
            holder_id,
            number,
            from,
            until,
            issued,
            payload,
            v.signature,
            key_id,
            reason_kind,
            reason_text,
            v.status_index,
            reason_objection
        ])
    })
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!(
                "license identifier {} or status index {} already exists",
                v.identifier, v.status_index
            ))
        } else {
            backend(e)
        }
    })?;
    Ok(())
}

fn id_by_code(c: &Connection, sql: &str, code: &str, what: &str) -> StoreResult<i64> {
    c.prepare_cached(sql)
        .and_then(|mut s| s.query_row([code], |r| r.get(0)).optional())
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("{what} {code}")))
}

/// Inserts the license and its first version; returns its key.
pub(crate) fn issue(c: &Connection, l: &NewLicense, first: &VersionRow) -> StoreResult<i64> {
    let type_id = id_by_code(
        c,
        "SELECT id FROM license_types WHERE code = ?1",
        l.type_code.as_str(),
        "license type",
    )?;
    let issuer_id = id_by_code(
        c,
        "SELECT id FROM orgs WHERE code = ?1",
        l.issuer.as_str(),
        "org",
    )?;
    let holder = &l.first.holder.id;
    // The one writer thread runs this check and the insert with nothing in
    // between; the unique index (V14) backs it up.
    if l.one_current_per_holder {
        current_of_holder(c, type_id, holder)?;
    }
    c.prepare_cached(
        "INSERT INTO licenses (type_id, issuer_id, serial, holder_id, current_version, source_system, source_record_id, created_at,
                               sole_current_holder_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            type_id,
            issuer_id,
            l.serial,
            holder,
            l.first.version,
            l.source_system,
            l.source_record_id,
            first.values[6],
            l.one_current_per_holder.then_some(holder)
        ])
    })
    .map_err(|e| {
        if !is_unique_violation(&e) {
            return backend(e);
        }
        // The index of V14 (never reached past the check above, but named
        // right if it were), else the source record or the serial.
        match l.one_current_per_holder.then(|| current_of_holder(c, type_id, holder)) {
            Some(Err(named)) => named,
            _ => StoreError::Conflict(format!(
                "source record {}/{} or serial {} is already used",
                l.source_system, l.source_record_id, l.serial
            )),
        }
    })?;
    let key = c.last_insert_rowid();
    insert_version(c, key, first)?;
    Ok(key)
}

/// `CurrentLicenseExists` naming the holder's license of the type that is
/// not revoked, if there is one. Every such license counts, also one issued
/// before its type had the one-per-holder rule (whose column is NULL).
fn current_of_holder(c: &Connection, type_id: i64, holder: &str) -> StoreResult<()> {
    let found: Option<(String, String)> = c
        .prepare_cached(
            // By the holder's index: with `ORDER BY l.id` and no table
            // statistics SQLite chose (type_id, id) and walked every license
            // of the type on each issue (1.6 ms per license at 30,000).
            "SELECT v.identifier, o.code
             FROM licenses l INDEXED BY licenses_holder
             JOIN license_versions v ON v.license_id = l.id AND v.version = l.current_version
             JOIN orgs o ON o.id = l.issuer_id
             WHERE l.holder_id = ?1 AND l.type_id = ?2 AND l.revoked_at IS NULL
             ORDER BY l.id LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![holder, type_id], |r| TryFrom::try_from(r))
                .optional()
        })
        .map_err(backend)?;
    match found {
        None => Ok(()),
        Some((id, issuer)) => Err(StoreError::CurrentLicenseExists {
            license_id: LicenseId::parse(&id).map_err(|_| corrupt("identifier", &id))?,
            issuer: OrgCode::parse(&issuer).map_err(|_| corrupt("issuer", &issuer))?,
        }),
    }
}

fn current_state(c: &Connection, key: i64) -> StoreResult<(u16, bool)> {
    c.query_row(
        "SELECT current_version, revoked_at IS NOT NULL FROM licenses WHERE id = ?1",
        [key],
        |r| TryFrom::try_from(r),
    )
    .optional()
    .map_err(backend)?
    .ok_or_else(|| StoreError::NotFound(format!("license #{key}")))
}

pub(crate) fn add_version(
    c: &Connection,
    key: i64,
    expected: u16,
    v: &LicenseVersionRecord,
) -> StoreResult<LicenseRecord> {
    let (current, revoked) = current_state(c, key)?;
    rules::check_license_change(rules::LicenseChange::NewVersion, current, revoked, expected)?;
    insert_version(c, key, &VersionRow::new(v))?;
    c.execute(
        "UPDATE licenses SET current_version = ?1, holder_id = ?2 WHERE id = ?3",
        params![v.version, v.holder.id, key],
    )
    .map_err(backend)?;
    by_key(c, key)?.ok_or_else(|| StoreError::NotFound(format!("license #{key}")))
}

pub(crate) fn revoke(
    c: &Connection,
    key: i64,
    expected: u16,
    r: &Revocation,
) -> StoreResult<LicenseRecord> {
    let (current, revoked) = current_state(c, key)?;
    rules::check_license_change(rules::LicenseChange::Revocation, current, revoked, expected)?;
    c.execute(
        "UPDATE licenses SET revoked_at = ?1, revoked_by = ?2, revoke_reason = ?3, sole_current_holder_id = NULL
         WHERE id = ?4",
        params![r.at.to_string(), r.by, r.reason, key],
    )
    .map_err(backend)?;
    by_key(c, key)?.ok_or_else(|| StoreError::NotFound(format!("license #{key}")))
}

#[cfg(test)]
mod plan_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A holder's licenses are found by the holder's index, never by
    /// walking every license of a type (a million business licenses).
    #[tokio::test]
    async fn licenses_of_holders_use_the_holder_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.db");
        drop(crate::SqliteStore::open(path.clone()).await.unwrap());
        let c = Connection::open(path).unwrap();
        let mut stmt = c
            .prepare(&format!("EXPLAIN QUERY PLAN {}", of_holders_sql()))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(
                ["[\"91150102MA0N4JXK2C\"]", "[\"11100000MB0143028R001\"]"],
                |r| r.get::<_, String>(3),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let plan = plan.join("; ");
        assert!(plan.contains("USING INDEX licenses_holder"), "{plan}");
        assert!(!plan.contains("licenses_type"), "{plan}");
    }
}
