//! Holder sign-ins and sessions.

use crate::{SqliteStore, holder_sessions, journal};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl HolderSessionStore for SqliteStore {
    async fn add_holder_sign_in(
        &self,
        sign_in: &HolderSignIn,
        now: jiff::Timestamp,
    ) -> StoreResult<()> {
        let sign_in = sign_in.clone();
        self.write(move |tx| holder_sessions::add_sign_in(tx, &sign_in, now))
            .await
    }

    async fn take_holder_sign_in(
        &self,
        state_hash: &[u8],
        now: jiff::Timestamp,
    ) -> StoreResult<Option<HolderSignIn>> {
        let hash = state_hash.to_vec();
        self.write(move |tx| holder_sessions::take_sign_in(tx, &hash, now))
            .await
    }

    async fn start_holder_session(
        &self,
        session: &HolderSession,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (session, log) = (session.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            holder_sessions::insert_session(tx, &session)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn holder_session(&self, hash: &[u8]) -> StoreResult<Option<HolderSession>> {
        let hash = hash.to_vec();
        self.read(move |c| holder_sessions::session(c, &hash)).await
    }

    async fn touch_holder_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
        let hash = hash.to_vec();
        self.write(move |tx| holder_sessions::touch_session(tx, &hash, at))
            .await
    }

    async fn end_holder_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (hash, log) = (hash.to_vec(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            holder_sessions::end_session(tx, &hash, at)?;
            journal::append(tx, &log)
        })
        .await
    }
}
