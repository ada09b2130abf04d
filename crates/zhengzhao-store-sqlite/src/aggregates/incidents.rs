//! Incidents, their backlogs, and calendar imports.

use crate::{SqliteStore, incidents, journal};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn add_incident(&self, incident: &IncidentRecord, log: &ChangeLog) -> StoreResult<()> {
        let (incident, log) = (incident.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            incidents::insert(tx, &incident)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn incident(&self, id: uuid::Uuid) -> StoreResult<Option<IncidentRecord>> {
        self.read(move |c| incidents::by_id(c, id)).await
    }

    async fn incidents(&self) -> StoreResult<Vec<IncidentRecord>> {
        self.read(incidents::all).await
    }

    async fn close_incident(
        &self,
        id: uuid::Uuid,
        cleared_at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<IncidentRecord> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            let i = incidents::close(tx, id, cleared_at)?;
            journal::append(tx, &log)?;
            Ok(i)
        })
        .await
    }

    async fn add_backlog_items(
        &self,
        incident: uuid::Uuid,
        items: &[BacklogItemRecord],
        log: &ChangeLog,
    ) -> StoreResult<u64> {
        let (items, log) = (items.to_vec(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let n = incidents::add_items(tx, incident, &items)?;
            journal::append(tx, &log)?;
            Ok(n)
        })
        .await
    }

    async fn backlog_items(&self, incident: uuid::Uuid) -> StoreResult<Vec<BacklogItemRecord>> {
        self.read(move |c| incidents::items(c, incident)).await
    }

    async fn add_calendar_import(&self, text: &str, log: &ChangeLog) -> StoreResult<()> {
        let at = log.audit.at;
        let (text, log) = (text.to_owned(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            incidents::add_calendar(tx, &text, at)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn calendar_imports(&self) -> StoreResult<Vec<String>> {
        self.read(incidents::calendars).await
    }
}
