//! Holder sign-ins and sessions.

use crate::{PgStore, holder_sessions};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl HolderSessionStore for PgStore {
    async fn add_holder_sign_in(
        &self,
        sign_in: &HolderSignIn,
        now: jiff::Timestamp,
    ) -> StoreResult<()> {
        holder_sessions::add_sign_in(&self.client().await?, sign_in, now).await
    }

    async fn take_holder_sign_in(
        &self,
        state_hash: &[u8],
        now: jiff::Timestamp,
    ) -> StoreResult<Option<HolderSignIn>> {
        holder_sessions::take_sign_in(&self.client().await?, state_hash, now).await
    }

    async fn start_holder_session(
        &self,
        session: &HolderSession,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            holder_sessions::insert_session(&tx, session).await?;
        })
    }

    async fn holder_session(&self, hash: &[u8]) -> StoreResult<Option<HolderSession>> {
        holder_sessions::session(&self.client().await?, hash).await
    }

    async fn touch_holder_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
        holder_sessions::touch_session(&self.client().await?, hash, at).await
    }

    async fn end_holder_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            holder_sessions::end_session(&tx, hash, at).await?;
        })
    }
}
