//! Staff accounts and their sessions.

use crate::{PgStore, backend, journal, staff};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl StaffStore for PgStore {
    async fn add_staff_user(&self, user: &StaffUser, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::insert(&tx, user).await?;
        })
    }

    async fn staff_user(&self, id: uuid::Uuid) -> StoreResult<Option<StaffUser>> {
        staff::by_id(&self.client().await?, id).await
    }

    async fn staff_user_by_name(&self, username: &str) -> StoreResult<Option<StaffUser>> {
        staff::by_name(&self.client().await?, username).await
    }

    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        staff::all(&self.client().await?).await
    }

    async fn save_staff_user(
        &self,
        user: &StaffUser,
        end_sessions_at: Option<jiff::Timestamp>,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::save(&tx, user, end_sessions_at).await?;
        })
    }

    async fn start_staff_session(
        &self,
        seen: &StaffUser,
        totp_step: i64,
        session: &StaffSession,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::note_login(&tx, seen, totp_step).await?;
            staff::insert_session(&tx, session).await?;
        })
    }

    async fn record_failed_login(
        &self,
        seen: &StaffUser,
        threshold: u32,
        lock_until: jiff::Timestamp,
        logs: &FailedLoginLogs,
    ) -> StoreResult<FailedLogin> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let outcome = staff::failed_login(&tx, seen, threshold, lock_until).await?;
        journal::append(&tx, logs.for_outcome(outcome)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(outcome)
    }

    async fn staff_session(&self, hash: &[u8]) -> StoreResult<Option<StaffSession>> {
        staff::session(&self.client().await?, hash).await
    }

    async fn touch_staff_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
        staff::touch_session(&self.client().await?, hash, at).await
    }

    async fn end_staff_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            staff::end_session(&tx, hash, at).await?;
        })
    }
}
