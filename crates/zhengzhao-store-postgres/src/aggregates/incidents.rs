//! Incidents, their backlogs, and calendar imports.

use crate::{PgStore, incidents};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl IncidentStore for PgStore {
    async fn add_incident(&self, incident: &IncidentRecord, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            incidents::insert(&tx, incident).await?;
        })
    }

    async fn incident(&self, id: uuid::Uuid) -> StoreResult<Option<IncidentRecord>> {
        incidents::by_id(&self.client().await?, id, false).await
    }

    async fn incidents(&self) -> StoreResult<Vec<IncidentRecord>> {
        incidents::all(&self.client().await?).await
    }

    async fn close_incident(
        &self,
        id: uuid::Uuid,
        cleared_at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<IncidentRecord> {
        journaled!(self, log, |tx| {
            incidents::close(&tx, id, cleared_at).await?
        })
    }

    async fn add_backlog_items(
        &self,
        incident: uuid::Uuid,
        items: &[BacklogItemRecord],
        log: &ChangeLog,
    ) -> StoreResult<u64> {
        journaled!(self, log, |tx| {
            incidents::add_items(&tx, incident, items).await?
        })
    }

    async fn backlog_items(&self, incident: uuid::Uuid) -> StoreResult<Vec<BacklogItemRecord>> {
        incidents::items(&self.client().await?, incident).await
    }

    async fn add_calendar_import(&self, text: &str, log: &ChangeLog) -> StoreResult<()> {
        let at = log.audit.at;
        journaled!(self, log, |tx| {
            incidents::add_calendar(&tx, text, at).await?;
        })
    }

    async fn calendar_imports(&self) -> StoreResult<Vec<String>> {
        incidents::calendars(&self.client().await?).await
    }
}
