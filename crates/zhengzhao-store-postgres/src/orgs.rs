//! Org tree rows and the closure table that answers subtree questions by index.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_domain::codes::CreditCode;
use zhengzhao_domain::org::{Org, OrgCode, OrgKind, OrgLevel};
use zhengzhao_store::{OrgUpdate, StoreError, StoreResult};

const COLUMNS: &str =
    "o.code, o.name, o.kind, o.level, p.code, o.credit_code, o.credit_code_placeholder";
const FROM: &str = "FROM orgs o LEFT JOIN orgs p ON p.id = o.parent_id";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("org {what} '{v}'"))
}

fn to_org(r: &Row) -> StoreResult<Org> {
    let code: String = r.col(0, "org")?;
    let kind: String = r.col(2, "org")?;
    let level: String = r.col(3, "org")?;
    let parent: Option<String> = r.col(4, "org")?;
    let credit: String = r.col(5, "org")?;
    Ok(Org {
        code: OrgCode::parse(&code).map_err(|_| corrupt("code", &code))?,
        name: r.col(1, "org")?,
        kind: OrgKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        level: OrgLevel::parse(&level).ok_or_else(|| corrupt("level", &level))?,
        parent: parent
            .map(|p| OrgCode::parse(&p).map_err(|_| corrupt("parent", &p)))
            .transpose()?,
        credit_code: CreditCode::parse(&credit).map_err(|_| corrupt("credit code", &credit))?,
        credit_code_placeholder: r.col(6, "org")?,
    })
}

async fn query<C: Db + ?Sized>(
    c: &C,
    sql: &str,
    p: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<Vec<Org>> {
    c.query(sql, p)
        .await
        .map_err(backend)?
        .iter()
        .map(to_org)
        .collect()
}

pub(crate) async fn all<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<Org>> {
    query(c, &format!("SELECT {COLUMNS} {FROM} ORDER BY o.code"), &[]).await
}

pub(crate) async fn by_code<C: Db + ?Sized>(c: &C, code: &OrgCode) -> StoreResult<Option<Org>> {
    Ok(query(
        c,
        &format!("SELECT {COLUMNS} {FROM} WHERE o.code = $1"),
        &[&code.as_str()],
    )
    .await?
    .into_iter()
    .next())
}

pub(crate) async fn by_credit_code<C: Db + ?Sized>(
    c: &C,
    code: &CreditCode,
) -> StoreResult<Option<Org>> {
    Ok(query(
        c,
        &format!("SELECT {COLUMNS} {FROM} WHERE o.credit_code = $1"),
        &[&code.as_str()],
    )
    .await?
    .into_iter()
    .next())
}

pub(crate) async fn children<C: Db + ?Sized>(c: &C, code: &OrgCode) -> StoreResult<Vec<Org>> {
    query(
        c,
        &format!("SELECT {COLUMNS} {FROM} WHERE p.code = $1 ORDER BY o.code"),
        &[&code.as_str()],
    )
    .await
}

pub(crate) async fn subtree<C: Db + ?Sized>(c: &C, ancestor: &OrgCode) -> StoreResult<Vec<Org>> {
    query(
        c,
        &format!(
            "SELECT {COLUMNS} FROM org_closure cl
             JOIN orgs a ON a.id = cl.ancestor_id
             JOIN orgs o ON o.id = cl.descendant_id
             LEFT JOIN orgs p ON p.id = o.parent_id
             WHERE a.code = $1 ORDER BY cl.depth, o.code"
        ),
        &[&ancestor.as_str()],
    )
    .await
}

pub(crate) async fn within<C: Db + ?Sized>(
    c: &C,
    org: &OrgCode,
    ancestor: &OrgCode,
) -> StoreResult<bool> {
    Ok(c.query_opt(
        "SELECT 1 FROM org_closure cl
             JOIN orgs a ON a.id = cl.ancestor_id
             JOIN orgs d ON d.id = cl.descendant_id
             WHERE a.code = $1 AND d.code = $2",
        &[&ancestor.as_str(), &org.as_str()],
    )
    .await
    .map_err(backend)?
    .is_some())
}

async fn id_of<C: Db + ?Sized>(c: &C, code: &str) -> StoreResult<Option<i64>> {
    c.query_opt("SELECT id FROM orgs WHERE code = $1", &[&code])
        .await
        .map_err(backend)?
        .map(|r| r.col(0, "org"))
        .transpose()
}

pub(crate) async fn insert<C: Db + ?Sized>(
    c: &C,
    org: &Org,
    at: jiff::Timestamp,
) -> StoreResult<()> {
    if id_of(c, org.code.as_str()).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "org {} already exists",
            org.code
        )));
    }
    if let Some(r) = c
        .query_opt(
            "SELECT code FROM orgs WHERE credit_code = $1",
            &[&org.credit_code.as_str()],
        )
        .await
        .map_err(backend)?
    {
        let other: String = r.col(0, "org")?;
        return Err(StoreError::Conflict(format!(
            "credit code {} is already used by org {other}",
            org.credit_code
        )));
    }
    name_free(c, &org.name, &org.code).await?;
    let parent_id = match &org.parent {
        Some(p) => Some(
            id_of(c, p.as_str())
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("parent org {p}")))?,
        ),
        None => None,
    };
    let row = c
        .query_one(
            "INSERT INTO orgs (code, name, kind, level, parent_id, credit_code, credit_code_placeholder, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
            &[
                &org.code.as_str(),
                &org.name,
                &org.kind.as_str(),
                &org.level.as_str(),
                &parent_id,
                &org.credit_code.as_str(),
                &org.credit_code_placeholder,
                &at,
            ],
        )
        .await
        .map_err(classify)?;
    let id: i64 = row.col(0, "org")?;
    c.execute(
        "INSERT INTO org_closure (ancestor_id, descendant_id, depth) VALUES ($1, $1, 0)",
        &[&id],
    )
    .await
    .map_err(backend)?;
    if let Some(pid) = parent_id {
        c.execute(
            "INSERT INTO org_closure (ancestor_id, descendant_id, depth)
             SELECT ancestor_id, $1, depth + 1 FROM org_closure WHERE descendant_id = $2",
            &[&id, &pid],
        )
        .await
        .map_err(backend)?;
    }
    Ok(())
}

/// Org names are unique (`orgs_name`): say which org has the name.
async fn name_free<C: Db + ?Sized>(c: &C, name: &str, code: &OrgCode) -> StoreResult<()> {
    match c
        .query_opt(
            "SELECT code FROM orgs WHERE name = $1 AND code <> $2",
            &[&name, &code.as_str()],
        )
        .await
        .map_err(backend)?
    {
        Some(r) => {
            let other: String = r.try_get(0).map_err(backend)?;
            Err(StoreError::Conflict(format!(
                "the name '{name}' is already used by org {other}"
            )))
        }
        None => Ok(()),
    }
}

pub(crate) async fn update<C: Db + ?Sized>(
    c: &C,
    change: &OrgUpdate,
    at: jiff::Timestamp,
) -> StoreResult<Org> {
    let current = by_code(c, &change.code)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", change.code)))?;
    if let Some(cc) = &change.credit_code
        && let Some(r) = c
            .query_opt(
                "SELECT code FROM orgs WHERE credit_code = $1 AND code <> $2",
                &[&cc.as_str(), &change.code.as_str()],
            )
            .await
            .map_err(backend)?
    {
        let other: String = r.col(0, "org")?;
        return Err(StoreError::Conflict(format!(
            "credit code {cc} is already used by org {other}"
        )));
    }
    if let Some(name) = &change.name {
        name_free(c, name, &change.code).await?;
    }
    let name = change.name.clone().unwrap_or(current.name);
    let (credit, placeholder) = match &change.credit_code {
        Some(cc) => (cc.clone(), false),
        None => (current.credit_code, current.credit_code_placeholder),
    };
    c.execute(
        "UPDATE orgs SET name = $1, credit_code = $2, credit_code_placeholder = $3, updated_at = $4 WHERE code = $5",
        &[&name, &credit.as_str(), &placeholder, &at, &change.code.as_str()],
    )
    .await
    .map_err(classify)?;
    by_code(c, &change.code)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("org {}", change.code)))
}
