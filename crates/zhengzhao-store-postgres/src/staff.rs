//! Staff accounts and sessions.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use tokio_postgres::Row;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::rules;
use zhengzhao_store::{
    FailedLogin, StaffSession, StaffUser, StoreError, StoreResult, roles_to_text,
};

const SELECT_USER: &str =
    "SELECT u.id, u.username, u.display_name, o.code, u.roles, u.password_hash,
        u.totp_secret, u.totp_last_step, u.must_change_password, u.failed_logins, u.locked_until,
        u.password_changed_at, u.created_at, u.disabled_at, u.row_version
     FROM staff_users u JOIN orgs o ON o.id = u.org_id";

fn user_of(r: &Row) -> StoreResult<StaffUser> {
    let org: String = r.try_get(3).map_err(backend)?;
    let roles: String = r.try_get(4).map_err(backend)?;
    let failed: i32 = r.try_get(9).map_err(backend)?;
    Ok(StaffUser {
        id: r.try_get(0).map_err(backend)?,
        username: r.try_get(1).map_err(backend)?,
        display_name: r.try_get(2).map_err(backend)?,
        org: rules::decode::org_code("staff", &org)?,
        roles: rules::decode::roles("staff", &roles)?,
        password_hash: r.try_get(5).map_err(backend)?,
        totp_secret: r.try_get(6).map_err(backend)?,
        totp_last_step: r.try_get(7).map_err(backend)?,
        must_change_password: r.try_get(8).map_err(backend)?,
        failed_logins: u32::try_from(failed).unwrap_or(0),
        locked_until: r.try_get(10).map_err(backend)?,
        password_changed_at: r.try_get(11).map_err(backend)?,
        created_at: r.try_get(12).map_err(backend)?,
        disabled_at: r.try_get(13).map_err(backend)?,
        row_version: r.try_get(14).map_err(backend)?,
    })
}

pub(crate) async fn by_id<C: Db + ?Sized>(c: &C, id: uuid::Uuid) -> StoreResult<Option<StaffUser>> {
    c.query_opt(&format!("{SELECT_USER} WHERE u.id = $1"), &[&id])
        .await
        .map_err(backend)?
        .as_ref()
        .map(user_of)
        .transpose()
}

pub(crate) async fn by_name<C: Db + ?Sized>(
    c: &C,
    username: &str,
) -> StoreResult<Option<StaffUser>> {
    c.query_opt(
        &format!("{SELECT_USER} WHERE u.username = $1"),
        &[&username],
    )
    .await
    .map_err(backend)?
    .as_ref()
    .map(user_of)
    .transpose()
}

pub(crate) async fn all<C: Db + ?Sized>(c: &C) -> StoreResult<Vec<StaffUser>> {
    c.query(&format!("{SELECT_USER} ORDER BY u.username"), &[])
        .await
        .map_err(backend)?
        .iter()
        .map(user_of)
        .collect()
}

async fn org_id<C: Db + ?Sized>(c: &C, org: &OrgCode) -> StoreResult<i64> {
    c.query_opt("SELECT id FROM orgs WHERE code = $1", &[&org.as_str()])
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("org {org}")))?
        .col(0, "org")
}

fn failed(u: &StaffUser) -> i32 {
    i32::try_from(u.failed_logins).unwrap_or(i32::MAX)
}

pub(crate) async fn insert<C: Db + ?Sized>(c: &C, u: &StaffUser) -> StoreResult<()> {
    let org_id = org_id(c, &u.org).await?;
    c.execute(
        "INSERT INTO staff_users (id, username, display_name, org_id, roles, password_hash,
             totp_secret, totp_last_step, must_change_password, failed_logins, locked_until,
             password_changed_at, created_at, disabled_at, row_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        &[
            &u.id,
            &u.username,
            &u.display_name,
            &org_id,
            &roles_to_text(&u.roles),
            &u.password_hash,
            &u.totp_secret,
            &u.totp_last_step,
            &u.must_change_password,
            &failed(u),
            &u.locked_until,
            &u.password_changed_at,
            &u.created_at,
            &u.disabled_at,
            &u.row_version,
        ],
    )
    .await
    .map_err(|e| match classify(e) {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("username '{}' is taken", u.username))
        }
        other => other,
    })?;
    Ok(())
}

/// Write the account over the version it was read at (`u.row_version`).
pub(crate) async fn save<C: Db + ?Sized>(
    c: &C,
    u: &StaffUser,
    end_sessions_at: Option<jiff::Timestamp>,
) -> StoreResult<()> {
    let org_id = org_id(c, &u.org).await?;
    let n = c
        .execute(
            "UPDATE staff_users SET display_name = $2, org_id = $3, roles = $4, password_hash = $5,
                 totp_secret = $6, totp_last_step = $7, must_change_password = $8,
                 failed_logins = $9, locked_until = $10, password_changed_at = $11, disabled_at = $12,
                 row_version = row_version + 1
             WHERE id = $1 AND row_version = $13",
            &[
                &u.id,
                &u.display_name,
                &org_id,
                &roles_to_text(&u.roles),
                &u.password_hash,
                &u.totp_secret,
                &u.totp_last_step,
                &u.must_change_password,
                &failed(u),
                &u.locked_until,
                &u.password_changed_at,
                &u.disabled_at,
                &u.row_version,
            ],
        )
        .await
        .map_err(backend)?;
    if n == 0 {
        return Err(if by_id(c, u.id).await?.is_some() {
            StoreError::Conflict(format!(
                "staff user {} was changed meanwhile (version {} is not current)",
                u.id, u.row_version
            ))
        } else {
            StoreError::NotFound(format!("staff user {}", u.id))
        });
    }
    if let Some(at) = end_sessions_at {
        c.execute(
            "UPDATE staff_sessions SET ended_at = $2 WHERE user_id = $1 AND ended_at IS NULL",
            &[&u.id, &at],
        )
        .await
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) async fn insert_session<C: Db + ?Sized>(c: &C, s: &StaffSession) -> StoreResult<()> {
    c.execute(
        "INSERT INTO staff_sessions (hash, user_id, csrf_token, created_at, last_seen_at, expires_at, client_addr, ended_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &s.hash,
            &s.user_id,
            &s.csrf_token,
            &s.created_at,
            &s.last_seen_at,
            &s.expires_at,
            &s.client_addr,
            &s.ended_at,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn session<C: Db + ?Sized>(
    c: &C,
    hash: &[u8],
) -> StoreResult<Option<StaffSession>> {
    c.query_opt(
            "SELECT hash, user_id, csrf_token, created_at, last_seen_at, expires_at, client_addr, ended_at
             FROM staff_sessions WHERE hash = $1 AND ended_at IS NULL",
            &[&hash],
        )
        .await
        .map_err(backend)?
        .map(|r| {
            Ok(StaffSession {
            hash: r.col(0, "staff session")?,
            user_id: r.col(1, "staff session")?,
            csrf_token: r.col(2, "staff session")?,
            created_at: r.col(3, "staff session")?,
            last_seen_at: r.col(4, "staff session")?,
            expires_at: r.col(5, "staff session")?,
            client_addr: r.col(6, "staff session")?,
            ended_at: r.col(7, "staff session")?,
            })
        })
        .transpose()
}

pub(crate) async fn touch_session<C: Db + ?Sized>(
    c: &C,
    hash: &[u8],
    at: jiff::Timestamp,
) -> StoreResult<()> {
    c.execute(
        "UPDATE staff_sessions SET last_seen_at = $2 WHERE hash = $1 AND ended_at IS NULL",
        &[&hash, &at],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub(crate) async fn end_session<C: Db + ?Sized>(
    c: &C,
    hash: &[u8],
    at: jiff::Timestamp,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE staff_sessions SET ended_at = $2 WHERE hash = $1 AND ended_at IS NULL",
            &[&hash, &at],
        )
        .await
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("session".into()));
    }
    Ok(())
}

/// A successful login of `seen`: only if the account is still enabled, as
/// `seen` found it (password hash, lock), and `step` is later than any
/// accepted code.
pub(crate) async fn note_login<C: Db + ?Sized>(
    c: &C,
    seen: &StaffUser,
    step: i64,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE staff_users SET failed_logins = 0, locked_until = NULL, totp_last_step = $2,
                 row_version = row_version + 1
             WHERE id = $1 AND disabled_at IS NULL AND totp_last_step < $2
                 AND password_hash = $3 AND locked_until IS NOT DISTINCT FROM $4",
            &[&seen.id, &step, &seen.password_hash, &seen.locked_until],
        )
        .await
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "login of {} no longer valid (code used, or account changed)",
            seen.username
        )));
    }
    Ok(())
}

/// One more failure of `seen`, in one statement: counted only while the
/// account is enabled and as `seen` found it (password hash, lock). A
/// concurrent failure waits for this row and re-checks the condition on
/// the committed row (READ COMMITTED), so exactly `threshold` failures lock.
pub(crate) async fn failed_login<C: Db + ?Sized>(
    c: &C,
    seen: &StaffUser,
    threshold: u32,
    lock_until: jiff::Timestamp,
) -> StoreResult<FailedLogin> {
    let threshold = i32::try_from(threshold).unwrap_or(i32::MAX);
    let row = c
        .query_opt(
            "UPDATE staff_users SET
                 locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END,
                 failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                 row_version = row_version + 1
             WHERE id = $1 AND disabled_at IS NULL AND password_hash = $4
                 AND locked_until IS NOT DISTINCT FROM $5
             RETURNING failed_logins",
            &[
                &seen.id,
                &threshold,
                &lock_until,
                &seen.password_hash,
                &seen.locked_until,
            ],
        )
        .await
        .map_err(backend)?;
    Ok(match row {
        None => FailedLogin::NotCounted,
        Some(r) => match r.try_get::<_, i32>(0).map_err(backend)? {
            0 => FailedLogin::Locked,
            n => FailedLogin::Counted(u32::try_from(n).unwrap_or(u32::MAX)),
        },
    })
}
