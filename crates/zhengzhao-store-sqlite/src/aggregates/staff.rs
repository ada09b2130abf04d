//! Staff accounts and their sessions.

use crate::{SqliteStore, journal, staff};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl StaffStore for SqliteStore {
    async fn add_staff_user(&self, user: &StaffUser, log: &ChangeLog) -> StoreResult<()> {
        let (user, log) = (user.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            staff::insert(tx, &user)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn staff_user(&self, id: uuid::Uuid) -> StoreResult<Option<StaffUser>> {
        self.read(move |c| staff::by_id(c, id)).await
    }

    async fn staff_user_by_name(&self, username: &str) -> StoreResult<Option<StaffUser>> {
        let username = username.to_owned();
        self.read(move |c| staff::by_name(c, &username)).await
    }

    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        self.read(staff::all).await
    }

    async fn save_staff_user(
        &self,
        user: &StaffUser,
        end_sessions_at: Option<jiff::Timestamp>,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (user, log) = (user.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            staff::save(tx, &user, end_sessions_at)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn start_staff_session(
        &self,
        seen: &StaffUser,
        totp_step: i64,
        session: &StaffSession,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (seen, session) = (seen.clone(), session.clone());
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            staff::note_login(tx, &seen, totp_step)?;
            staff::insert_session(tx, &session)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn record_failed_login(
        &self,
        seen: &StaffUser,
        threshold: u32,
        lock_until: jiff::Timestamp,
        logs: &FailedLoginLogs,
    ) -> StoreResult<FailedLogin> {
        let seen = seen.clone();
        let counted = journal::PreparedLog::new(&logs.counted);
        let locked = journal::PreparedLog::new(&logs.locked);
        let not_counted = journal::PreparedLog::new(&logs.not_counted);
        self.write(move |tx| {
            let outcome = staff::failed_login(tx, &seen, threshold, lock_until)?;
            let log = match outcome {
                FailedLogin::Counted(_) => &counted,
                FailedLogin::Locked => &locked,
                FailedLogin::NotCounted => &not_counted,
            };
            journal::append(tx, log)?;
            Ok(outcome)
        })
        .await
    }

    async fn staff_session(&self, hash: &[u8]) -> StoreResult<Option<StaffSession>> {
        let hash = hash.to_vec();
        self.read(move |c| staff::session(c, &hash)).await
    }

    async fn touch_staff_session(&self, hash: &[u8], at: jiff::Timestamp) -> StoreResult<()> {
        let hash = hash.to_vec();
        self.write(move |tx| staff::touch_session(tx, &hash, at))
            .await
    }

    async fn end_staff_session(
        &self,
        hash: &[u8],
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (hash, log) = (hash.to_vec(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            staff::end_session(tx, &hash, at)?;
            journal::append(tx, &log)
        })
        .await
    }
}
