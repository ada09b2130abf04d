//! The outbox relay's rows.

use crate::{SqliteStore, journal, outbox};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn register_destination(&self, destination: &str) -> StoreResult<()> {
        let (name, now) = (destination.to_owned(), jiff::Timestamp::now());
        self.write(move |tx| outbox::register(tx, &name, now)).await
    }

    async fn fan_out(
        &self,
        destination: &str,
        topics: &[&str],
        now: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<u64> {
        let name = destination.to_owned();
        let topics =
            serde_json::to_string(topics).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.write(move |tx| outbox::fan_out(tx, &name, &topics, now, limit))
            .await
    }

    async fn claim_outbox(
        &self,
        destination: &str,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<OutboxDelivery>> {
        let name = destination.to_owned();
        self.write(move |tx| outbox::claim(tx, &name, now, lease_until, limit))
            .await
    }

    async fn record_outbox_attempt(
        &self,
        id: i64,
        outcome: &OutboxOutcome,
        log: Option<&ChangeLog>,
    ) -> StoreResult<()> {
        let (outcome, log) = (outcome.clone(), log.map(journal::PreparedLog::new));
        self.write(move |tx| {
            outbox::record(tx, id, &outcome)?;
            match &log {
                Some(l) => journal::append(tx, l),
                None => Ok(()),
            }
        })
        .await
    }

    async fn outbox_deliveries(&self, filter: &OutboxFilter) -> StoreResult<Vec<OutboxDelivery>> {
        let filter = filter.clone();
        self.read(move |c| outbox::list(c, &filter)).await
    }

    async fn outbox_delivery(&self, id: i64) -> StoreResult<Option<OutboxDelivery>> {
        self.read(move |c| outbox::one(c, id)).await
    }

    async fn replay_outbox(
        &self,
        id: i64,
        now: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<OutboxDelivery> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            let row = outbox::replay(tx, id, now)?;
            journal::append(tx, &log)?;
            Ok(row)
        })
        .await
    }

    async fn outbox_summary(&self) -> StoreResult<Vec<OutboxSummary>> {
        self.read(outbox::summary).await
    }
}
