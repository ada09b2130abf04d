//! The outbox relay's rows.

use crate::{PgStore, backend, journal, outbox};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl OutboxStore for PgStore {
    async fn register_destination(&self, destination: &str) -> StoreResult<()> {
        outbox::register(&self.client().await?, destination).await
    }

    async fn fan_out(
        &self,
        destination: &str,
        topics: &[&str],
        now: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        let topics: Vec<String> = topics.iter().map(|t| (*t).to_owned()).collect();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        let made = outbox::fan_out(&tx, destination, &topics, now, limit).await?;
        tx.commit().await.map_err(backend)?;
        Ok(made)
    }

    async fn claim_outbox(
        &self,
        destination: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxDelivery>> {
        outbox::claim(&self.client().await?, destination, now, lease_until, limit).await
    }

    async fn record_outbox_attempt(
        &self,
        id: i64,
        outcome: &OutboxOutcome,
        log: Option<&ChangeLog>,
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        outbox::record(&tx, id, outcome).await?;
        if let Some(l) = log {
            journal::append(&tx, l).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn outbox_deliveries(&self, filter: &OutboxFilter) -> StoreResult<Vec<OutboxDelivery>> {
        outbox::list(&self.client().await?, filter).await
    }

    async fn outbox_delivery(&self, id: i64) -> StoreResult<Option<OutboxDelivery>> {
        outbox::one(&self.client().await?, id).await
    }

    async fn replay_outbox(
        &self,
        id: i64,
        now: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<OutboxDelivery> {
        journaled!(self, log, |tx| { outbox::replay(&tx, id, now).await? })
    }

    async fn outbox_summary(&self) -> StoreResult<Vec<OutboxSummary>> {
        outbox::summary(&self.client().await?).await
    }
}
