//! Holder sign-ins and sessions (`holder_sign_ins`, `holder_sessions`).

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, params};
use zhengzhao_store::{HolderSession, HolderSignIn, StoreError, StoreResult};

fn opt_ts(t: Option<jiff::Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

fn seconds(s: i64) -> StoreResult<jiff::Timestamp> {
    jiff::Timestamp::from_second(s)
        .map_err(|e| StoreError::Corrupt(format!("holder sign-in time {s}: {e}")))
}

pub(crate) fn add_sign_in(
    c: &Connection,
    s: &HolderSignIn,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    c.execute(
        "DELETE FROM holder_sign_ins WHERE expires_at <= ?1",
        [now.as_second()],
    )
    .map_err(backend)?;
    c.execute(
        "INSERT INTO holder_sign_ins (state_hash, nonce, pkce_verifier, return_to, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            s.state_hash,
            s.nonce,
            s.pkce_verifier,
            s.return_to,
            s.created_at.as_second(),
            s.expires_at.as_second(),
        ],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn take_sign_in(
    c: &Connection,
    state_hash: &[u8],
    now: jiff::Timestamp,
) -> StoreResult<Option<HolderSignIn>> {
    let raw: Option<(Vec<u8>, String, String, String, i64, i64)> = c
        .query_row(
            "DELETE FROM holder_sign_ins WHERE state_hash = ?1
             RETURNING state_hash, nonce, pkce_verifier, return_to, created_at, expires_at",
            [state_hash],
            |r| TryFrom::try_from(r),
        )
        .optional()
        .map_err(backend)?;
    let Some((state_hash, nonce, pkce_verifier, return_to, created, expires)) = raw else {
        return Ok(None);
    };
    if expires <= now.as_second() {
        return Ok(None);
    }
    Ok(Some(HolderSignIn {
        state_hash,
        nonce,
        pkce_verifier,
        return_to,
        created_at: seconds(created)?,
        expires_at: seconds(expires)?,
    }))
}

pub(crate) fn insert_session(c: &Connection, s: &HolderSession) -> StoreResult<()> {
    c.execute(
        "INSERT INTO holder_sessions (hash, id, id_type, holder_key, holder_shown, issuer, subject_sm3,
             csrf_token, created_at, last_seen_at, expires_at, client_addr, ended_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            s.hash,
            s.id.to_string(),
            s.id_type,
            s.holder_key,
            s.holder_shown,
            s.issuer,
            s.subject_sm3,
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

pub(crate) fn session(c: &Connection, hash: &[u8]) -> StoreResult<Option<HolderSession>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT hash, id, id_type, holder_key, holder_shown, issuer, subject_sm3, csrf_token,
                 created_at, last_seen_at, expires_at, client_addr, ended_at
             FROM holder_sessions WHERE hash = ?1 AND ended_at IS NULL",
        )
        .map_err(backend)?;
    stmt.query_row([hash], |r| {
        Ok((
            r.get::<_, Vec<u8>>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, String>(6)?,
            r.get::<_, String>(7)?,
            (
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
                r.get::<_, Option<String>>(11)?,
                r.get::<_, Option<String>>(12)?,
            ),
        ))
    })
    .optional()
    .map_err(backend)?
    .map(
        |(hash, id, id_type, holder_key, holder_shown, issuer, subject_sm3, csrf, times)| {
            let (created, seen, expires, client_addr, ended) = times;
            Ok(HolderSession {
                hash,
                id: uuid_of(&id)?,
                id_type,
                holder_key,
                holder_shown,
                issuer,
                subject_sm3,
                csrf_token: csrf,
                created_at: ts(&created)?,
                last_seen_at: ts(&seen)?,
                expires_at: ts(&expires)?,
                client_addr,
                ended_at: ended.map(|s| ts(&s)).transpose()?,
            })
        },
    )
    .transpose()
}

pub(crate) fn touch_session(c: &Connection, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
    c.execute(
        "UPDATE holder_sessions SET last_seen_at = ?2 WHERE hash = ?1 AND ended_at IS NULL",
        params![hash, at.to_string()],
    )
    .map_err(backend)?;
    Ok(())
}

pub(crate) fn end_session(c: &Connection, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE holder_sessions SET ended_at = ?2 WHERE hash = ?1 AND ended_at IS NULL",
            params![hash, at.to_string()],
        )
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("holder session".into()));
    }
    Ok(())
}
