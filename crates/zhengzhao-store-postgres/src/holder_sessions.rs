//! Holder sign-ins and sessions (`holder_sign_ins`, `holder_sessions`).

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use zhengzhao_store::{HolderSession, HolderSignIn, StoreError, StoreResult};

fn seconds(s: i64) -> StoreResult<jiff::Timestamp> {
    jiff::Timestamp::from_second(s)
        .map_err(|e| StoreError::Corrupt(format!("holder sign-in time {s}: {e}")))
}

pub(crate) async fn add_sign_in<C: Db + ?Sized>(
    c: &C,
    s: &HolderSignIn,
    now: jiff::Timestamp,
) -> StoreResult<()> {
    c.execute(
        "DELETE FROM holder_sign_ins WHERE expires_at <= $1",
        &[&now.as_second()],
    )
    .await
    .map_err(backend)?;
    c.execute(
        "INSERT INTO holder_sign_ins (state_hash, nonce, pkce_verifier, return_to, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &s.state_hash,
            &s.nonce,
            &s.pkce_verifier,
            &s.return_to,
            &s.created_at.as_second(),
            &s.expires_at.as_second(),
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn take_sign_in<C: Db + ?Sized>(
    c: &C,
    state_hash: &[u8],
    now: jiff::Timestamp,
) -> StoreResult<Option<HolderSignIn>> {
    let Some(r) = c
        .query_opt(
            "DELETE FROM holder_sign_ins WHERE state_hash = $1
             RETURNING state_hash, nonce, pkce_verifier, return_to, created_at, expires_at",
            &[&state_hash],
        )
        .await
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let expires: i64 = r.col(5, "holder sign-in")?;
    if expires <= now.as_second() {
        return Ok(None);
    }
    Ok(Some(HolderSignIn {
        state_hash: r.col(0, "holder sign-in")?,
        nonce: r.col(1, "holder sign-in")?,
        pkce_verifier: r.col(2, "holder sign-in")?,
        return_to: r.col(3, "holder sign-in")?,
        created_at: seconds(r.col(4, "holder sign-in")?)?,
        expires_at: seconds(expires)?,
    }))
}

pub(crate) async fn insert_session<C: Db + ?Sized>(c: &C, s: &HolderSession) -> StoreResult<()> {
    c.execute(
        "INSERT INTO holder_sessions (hash, id, id_type, holder_key, holder_shown, issuer, subject_sm3,
             csrf_token, created_at, last_seen_at, expires_at, client_addr, ended_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &s.hash,
            &s.id,
            &s.id_type,
            &s.holder_key,
            &s.holder_shown,
            &s.issuer,
            &s.subject_sm3,
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
) -> StoreResult<Option<HolderSession>> {
    c.query_opt(
        "SELECT hash, id, id_type, holder_key, holder_shown, issuer, subject_sm3, csrf_token,
             created_at, last_seen_at, expires_at, client_addr, ended_at
         FROM holder_sessions WHERE hash = $1 AND ended_at IS NULL",
        &[&hash],
    )
    .await
    .map_err(backend)?
    .map(|r| {
        let what = "holder session";
        Ok(HolderSession {
            hash: r.col(0, what)?,
            id: r.col(1, what)?,
            id_type: r.col(2, what)?,
            holder_key: r.col(3, what)?,
            holder_shown: r.col(4, what)?,
            issuer: r.col(5, what)?,
            subject_sm3: r.col(6, what)?,
            csrf_token: r.col(7, what)?,
            created_at: r.col(8, what)?,
            last_seen_at: r.col(9, what)?,
            expires_at: r.col(10, what)?,
            client_addr: r.col(11, what)?,
            ended_at: r.col(12, what)?,
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
        "UPDATE holder_sessions SET last_seen_at = $2 WHERE hash = $1 AND ended_at IS NULL",
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
            "UPDATE holder_sessions SET ended_at = $2 WHERE hash = $1 AND ended_at IS NULL",
            &[&hash, &at],
        )
        .await
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound("holder session".into()));
    }
    Ok(())
}
