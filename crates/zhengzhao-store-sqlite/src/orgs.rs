//! Org tree rows and the closure table that answers subtree questions by index.

use crate::backend;
use rusqlite::{Connection, OptionalExtension, Row, params};
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::org::{Org, OrgCode, OrgKind, OrgLevel};
use zhengzhao_store::{OrgUpdate, StoreError, StoreResult};

const COLUMNS: &str =
    "o.code, o.name, o.kind, o.level, p.code, o.credit_code, o.credit_code_placeholder";
const FROM: &str = "FROM orgs o LEFT JOIN orgs p ON p.id = o.parent_id";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("org {what} '{v}'"))
}

type RawOrg = (String, String, String, String, Option<String>, String, bool);

fn raw(r: &Row<'_>) -> rusqlite::Result<RawOrg> {
    TryFrom::try_from(r)
}

fn to_org(r: RawOrg) -> StoreResult<Org> {
    let (code, name, kind, level, parent, credit, placeholder) = r;
    Ok(Org {
        code: OrgCode::parse(&code).map_err(|_| corrupt("code", &code))?,
        name,
        kind: OrgKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        level: OrgLevel::parse(&level).ok_or_else(|| corrupt("level", &level))?,
        parent: parent
            .map(|p| OrgCode::parse(&p).map_err(|_| corrupt("parent", &p)))
            .transpose()?,
        credit_code: CreditCode::parse(&credit).map_err(|_| corrupt("credit code", &credit))?,
        credit_code_placeholder: placeholder,
    })
}

fn query(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<Org>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(p, raw)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    rows.into_iter().map(to_org).collect()
}

pub(crate) fn all(c: &Connection) -> StoreResult<Vec<Org>> {
    query(c, &format!("SELECT {COLUMNS} {FROM} ORDER BY o.code"), [])
}

pub(crate) fn by_code(c: &Connection, code: &OrgCode) -> StoreResult<Option<Org>> {
    Ok(query(
        c,
        &format!("SELECT {COLUMNS} {FROM} WHERE o.code = ?1"),
        [code.as_str()],
    )?
    .into_iter()
    .next())
}

pub(crate) fn by_credit_code(c: &Connection, code: &CreditCode) -> StoreResult<Option<Org>> {
    Ok(query(
        c,
        &format!("SELECT {COLUMNS} {FROM} WHERE o.credit_code = ?1"),
        [code.as_str()],
    )?
    .into_iter()
    .next())
}

pub(crate) fn children(c: &Connection, code: &OrgCode) -> StoreResult<Vec<Org>> {
    query(
        c,
        &format!("SELECT {COLUMNS} {FROM} WHERE p.code = ?1 ORDER BY o.code"),
        [code.as_str()],
    )
}

pub(crate) fn subtree(c: &Connection, ancestor: &OrgCode) -> StoreResult<Vec<Org>> {
    query(
        c,
        &format!(
            "SELECT {COLUMNS} FROM org_closure cl
             JOIN orgs a ON a.id = cl.ancestor_id
             JOIN orgs o ON o.id = cl.descendant_id
             LEFT JOIN orgs p ON p.id = o.parent_id
             WHERE a.code = ?1 ORDER BY cl.depth, o.code"
        ),
        [ancestor.as_str()],
    )
}

pub(crate) fn within(c: &Connection, org: &OrgCode, ancestor: &OrgCode) -> StoreResult<bool> {
    c.prepare_cached(
        "SELECT 1 FROM org_closure cl
         JOIN orgs a ON a.id = cl.ancestor_id
         JOIN orgs d ON d.id = cl.descendant_id
         WHERE a.code = ?1 AND d.code = ?2",
    )
    .and_then(|mut s| s.exists([ancestor.as_str(), org.as_str()]))
    .map_err(backend)
}

fn id_of(c: &Connection, code: &str) -> StoreResult<Option<i64>> {
    c.query_row("SELECT id FROM orgs WHERE code = ?1", [code], |r| r.get(0))
        .optional()
        .map_err(backend)
}

/// Insert an org and its closure rows. The parent must already exist.
pub(crate) fn insert(c: &Connection, org: &Org, at: jiff::Timestamp) -> StoreResult<()> {
    if id_of(c, org.code.as_str())?.is_some() {
        return Err(StoreError::Conflict(format!(
            "org {} already exists",
            org.code
        )));
    }
    let taken: Option<String> = c
        .query_row(
            "SELECT code FROM orgs WHERE credit_code = ?1",
            [org.credit_code.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    if let Some(other) = taken {
        return Err(StoreError::Conflict(format!(
            "credit code {} is already used by org {other}",
            org.credit_code
        )));
    }
    name_free(c, &org.name, &org.code)?;
    let parent_id = match &org.parent {
        Some(p) => Some(
            id_of(c, p.as_str())?.ok_or_else(|| StoreError::NotFound(format!("parent org {p}")))?,
        ),
        None => None,
    };
    let at = at.to_string();
    c.execute(
        "INSERT INTO orgs (code, name, kind, level, parent_id, credit_code, credit_code_placeholder, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        params![
            org.code.as_str(),
            org.name,
            org.kind.as_str(),
            org.level.as_str(),
            parent_id,
            org.credit_code.as_str(),
            org.credit_code_placeholder,
            at
        ],
    )
    .map_err(backend)?;
    let id = c.last_insert_rowid();
    c.execute(
        "INSERT INTO org_closure (ancestor_id, descendant_id, depth) VALUES (?1, ?1, 0)",
        [id],
    )
    .map_err(backend)?;
    if let Some(pid) = parent_id {
        c.execute(
            "INSERT INTO org_closure (ancestor_id, descendant_id, depth)
             SELECT ancestor_id, ?1, depth + 1 FROM org_closure WHERE descendant_id = ?2",
            [id, pid],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// Org names are unique (`orgs_name`): say which org has the name.
fn name_free(c: &Connection, name: &str, code: &OrgCode) -> StoreResult<()> {
    let other: Option<String> = c
        .query_row(
            "SELECT code FROM orgs WHERE name = ?1 AND code <> ?2",
            [name, code.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    match other {
        Some(other) => Err(StoreError::Conflict(format!(
            "the name '{name}' is already used by org {other}"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn update(c: &Connection, change: &OrgUpdate, at: jiff::Timestamp) -> StoreResult<Org> {
    let current = by_code(c, &change.code)?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", change.code)))?;
    if let Some(cc) = &change.credit_code {
        let other: Option<String> = c
            .query_row(
                "SELECT code FROM orgs WHERE credit_code = ?1 AND code <> ?2",
                [cc.as_str(), change.code.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if let Some(other) = other {
            return Err(StoreError::Conflict(format!(
                "credit code {cc} is already used by org {other}"
            )));
        }
    }
    if let Some(name) = &change.name {
        name_free(c, name, &change.code)?;
    }
    let name = change.name.clone().unwrap_or(current.name);
    let (credit, placeholder) = match &change.credit_code {
        Some(cc) => (cc.clone(), false),
        None => (current.credit_code, current.credit_code_placeholder),
    };
    c.execute(
        "UPDATE orgs SET name = ?1, credit_code = ?2, credit_code_placeholder = ?3, updated_at = ?4 WHERE code = ?5",
        params![name, credit.as_str(), placeholder, at.to_string(), change.code.as_str()],
    )
    .map_err(backend)?;
    by_code(c, &change.code)?.ok_or_else(|| StoreError::NotFound(format!("org {}", change.code)))
}
