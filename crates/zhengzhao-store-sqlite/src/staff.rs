//! Staff accounts and sessions.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, Row, params};
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

fn user_of(r: &Row<'_>) -> rusqlite::Result<StoreResult<StaffUser>> {
    let id: String = r.get(0)?;
    let org: String = r.get(3)?;
    let roles: String = r.get(4)?;
    let failed: i64 = r.get(9)?;
    let row_version: i64 = r.get(14)?;
    let (locked, changed, created, disabled): (Option<String>, String, String, Option<String>) =
        (r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?);
    let (username, display_name, password_hash, totp_secret, totp_last_step, must_change) = (
        r.get(1)?,
        r.get(2)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    );
    Ok((|| {
        Ok(StaffUser {
            id: uuid_of(&id)?,
            username,
            display_name,
            org: rules::decode::org_code("staff", &org)?,
            roles: rules::decode::roles("staff", &roles)?,
            password_hash,
            totp_secret,
            totp_last_step,
            must_change_password: must_change,
            failed_logins: u32::try_from(failed).unwrap_or(u32::MAX),
            locked_until: locked.map(|s| ts(&s)).transpose()?,
            password_changed_at: ts(&changed)?,
            created_at: ts(&created)?,
            disabled_at: disabled.map(|s| ts(&s)).transpose()?,
            row_version,
        })
    })())
}

fn one_user(c: &Connection, filter: &str, key: &str) -> StoreResult<Option<StaffUser>> {
    let mut stmt = c
        .prepare_cached(&format!("{SELECT_USER} WHERE {filter}"))
        .map_err(backend)?;
    stmt.query_row([key], user_of)
        .optional()
        .map_err(backend)?
        .transpose()
}

pub(crate) fn by_id(c: &Connection, id: uuid::Uuid) -> StoreResult<Option<StaffUser>> {
    one_user(c, "u.id = ?1", &id.to_string())
}

pub(crate) fn by_name(c: &Connection, username: &str) -> StoreResult<Option<StaffUser>> {
    one_user(c, "u.username = ?1", username)
}

pub(crate) fn all(c: &Connection) -> StoreResult<Vec<StaffUser>> {
    let mut stmt = c
        .prepare_cached(&format!("{SELECT_USER} ORDER BY u.username"))
        .map_err(backend)?;
    let rows = stmt
        .query_map([], user_of)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    rows.into_iter().collect()
}

fn org_id(c: &Connection, org: &OrgCode) -> StoreResult<i64> {
    c.query_row("SELECT id FROM orgs WHERE code = ?1", [org.as_str()], |r| {
        r.get(0)
    })
    .optional()
    .map_err(backend)?
    .ok_or_else(|| StoreError::NotFound(format!("org {org}")))
}

fn opt_ts(t: Option<jiff::Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

pub(crate) fn insert(c: &Connection, u: &StaffUser) -> StoreResult<()> {
    let org_id = org_id(c, &u.org)?;
    let taken: bool = c
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM staff_users WHERE username = ?1)",
            [&u.username],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if taken {
        return Err(StoreError::Conflict(format!(
            "username '{}' is taken",
            u.username
        )));
    }
    c.execute(
        "INSERT INTO staff_users (id, username, display_name, org_id, roles, password_hash,
             totp_secret, totp_last_step, must_change_password, failed_logins, locked_until,
             password_changed_at, created_at, disabled_at, row_version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            u.id.to_string(),
            u.username,
            u.display_name,
            org_id,
            roles_to_text(&u.roles),
            u.password_hash,
            u.totp_secret,
            u.totp_last_step,
            u.must_change_password,
            u.failed_logins,
            opt_ts(u.locked_until),
            u.password_changed_at.to_string(),
            u.created_at.to_string(),
            opt_ts(u.disabled_at),
            u.row_version,
        ],
    )
    .map_err(backend)?;
    Ok(())
}

/// Write the account over the version it was read at (`u.row_version`).
pub(crate) fn save(
    c: &Connection,
    u: &StaffUser,
    end_sessions_at: Option<jiff::Timestamp>,
) -> StoreResult<()> {
    let org_id = org_id(c, &u.org)?;
    let n = c
        .execute(
            "UPDATE staff_users SET display_name = ?2, org_id = ?3, roles = ?4, password_hash = ?5,
                 totp_secret = ?6, totp_last_step = ?7, must_change_password = ?8,
                 failed_logins = ?9, locked_until = ?10, password_changed_at = ?11, disabled_at = ?12,
                 row_version = row_version + 1
             WHERE id = ?1 AND row_version = ?13",
            params![
                u.id.to_string(),
                u.display_name,
                org_id,
                roles_to_text(&u.roles),
                u.password_hash,
                u.totp_secret,
                u.totp_last_step,
                u.must_change_password,
                u.failed_logins,
                opt_ts(u.locked_until),
                u.password_changed_at.to_string(),
                opt_ts(u.disabled_at),
                u.row_version,
            ],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(if by_id(c, u.id)?.is_some() {
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
            "UPDATE staff_sessions SET ended_at = ?2 WHERE user_id = ?1 AND ended_at IS NULL",
            params![u.id.to_string(), at.to_string()],
        )
        .map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn insert_session(c: &Connection, s: &StaffSession) -> StoreResult<()> {
    c.execute(
        "INSERT INTO staff_sessions (hash, user_id, csrf_token, created_at, last_seen_at, expires_at, client_addr, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            s.hash,
            s.user_id.to_string(),
            s.csrf_token,
            s.created_at.to_string(),
            s.last_seen_at.to_string(),
            s.expires_at.to_string(),
            s.client_addr,
            opt_ts(s.ended_at),
        ],
    )
    .map_err(backend)?;
    Ok(())
}

type RawSession = (
    Vec<u8>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

pub(crate) fn session(c: &Connection, hash: &[u8]) -> StoreResult<Option<StaffSession>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT hash, user_id, csrf_token, created_at, last_seen_at, expires_at, client_addr, ended_at
             FROM staff_sessions WHERE hash = ?1 AND ended_at IS NULL",
        )
        .map_err(backend)?;
    let raw: Option<RawSession> = stmt
        .query_row([hash], |r| TryFrom::try_from(r))
        .optional()
        .map_err(backend)?;
    raw.map(|(hash, user, csrf, created, seen, expires, addr, ended)| {
        Ok(StaffSession {
            hash,
            user_id: uuid_of(&user)?,
            csrf_token: csrf,
            created_at: ts(&created)?,
            last_seen_at: ts(&seen)?,
            expires_at: ts(&expires)?,
            client_addr: addr,
            ended_at: ended.map(|s| ts(&s)).transpose()?,
        })
    })
    .transpose()
}

pub(crate) fn touch_session(c: &Connection, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
    c.execute(
        "UPDATE staff_sessions SET last_seen_at = ?2 WHERE hash = ?1 AND ended_at IS NULL",
        params![hash, at.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn end_session(c: &Connection, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE staff_sessions SET ended_at = ?2 WHERE hash = ?1 AND ended_at IS NULL",
            params![hash, at.to_string()],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("session".into()));
    }
    Ok(())
}

/// A successful login of `seen`: only if the account is still enabled, as
/// `seen` found it (password hash, lock), and `step` is later than any
/// accepted code.
pub(crate) fn note_login(c: &Connection, seen: &StaffUser, step: i64) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE staff_users SET failed_logins = 0, locked_until = NULL, totp_last_step = ?2,
                 row_version = row_version + 1
             WHERE id = ?1 AND disabled_at IS NULL AND totp_last_step < ?2
                 AND password_hash = ?3 AND locked_until IS ?4",
            params![
                seen.id.to_string(),
                step,
                seen.password_hash,
                opt_ts(seen.locked_until)
            ],
        )
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
/// account is enabled and as `seen` found it (password hash, lock).
pub(crate) fn failed_login(
    c: &Connection,
    seen: &StaffUser,
    threshold: u32,
    lock_until: jiff::Timestamp,
) -> StoreResult<FailedLogin> {
    let count: Option<i64> = c
        .query_row(
            "UPDATE staff_users SET
                 locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END,
                 failed_logins = CASE WHEN failed_logins + 1 >= ?2 THEN 0 ELSE failed_logins + 1 END,
                 row_version = row_version + 1
             WHERE id = ?1 AND disabled_at IS NULL AND password_hash = ?4 AND locked_until IS ?5
             RETURNING failed_logins",
            params![
                seen.id.to_string(),
                threshold,
                lock_until.to_string(),
                seen.password_hash,
                opt_ts(seen.locked_until)
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    Ok(match count {
        None => FailedLogin::NotCounted,
        Some(0) => FailedLogin::Locked,
        Some(n) => FailedLogin::Counted(u32::try_from(n).unwrap_or(u32::MAX)),
    })
}
