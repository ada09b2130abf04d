//! Relying parties' scenarios and their daily use (Art. 14–16).

use crate::{PgStore, scenarios};
use async_trait::async_trait;
use zhengzhao_domain::scenario::ScenarioState;
use zhengzhao_store::*;

#[async_trait]
impl ScenarioStore for PgStore {
    async fn add_scenario(&self, scenario: &NewScenario, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            scenarios::insert(&tx, scenario).await?;
        })
    }

    async fn scenario(&self, id: uuid::Uuid) -> StoreResult<Option<ScenarioRecord>> {
        scenarios::by_id(&self.client().await?, id).await
    }

    async fn scenarios(&self) -> StoreResult<Vec<ScenarioRecord>> {
        scenarios::all(&self.client().await?).await
    }

    async fn decide_scenario(
        &self,
        id: uuid::Uuid,
        expected: ScenarioState,
        decision: &ScenarioDecision,
        log: &ChangeLog,
    ) -> StoreResult<ScenarioRecord> {
        journaled!(self, log, |tx| {
            scenarios::decide(&tx, id, expected, decision).await?
        })
    }

    async fn use_scenario_quota(
        &self,
        id: uuid::Uuid,
        day: jiff::civil::Date,
        limit: u32,
    ) -> StoreResult<bool> {
        scenarios::use_quota(&self.client().await?, id, day, limit).await
    }

    async fn record_counted_read(
        &self,
        id: uuid::Uuid,
        day: jiff::civil::Date,
        limit: u32,
        log: &ChangeLog,
    ) -> StoreResult<bool> {
        journaled!(self, log, |tx| {
            // Over the quota: return before the journal, and the dropped
            // transaction writes nothing.
            if !scenarios::use_quota(&tx, id, day, limit).await? {
                return Ok(false);
            }
            true
        })
    }
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn add_consent(&self, consent: &ConsentRecord, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            scenarios::add_consent(&tx, consent).await?;
        })
    }

    async fn consent(&self, id: uuid::Uuid) -> StoreResult<Option<ConsentRecord>> {
        scenarios::consent(&self.client().await?, id).await
    }

    async fn consents_of_holder(&self, holder_key: &str) -> StoreResult<Vec<ConsentRecord>> {
        scenarios::consents_of(&self.client().await?, holder_key).await
    }

    async fn end_consent(
        &self,
        id: uuid::Uuid,
        new_state: &str,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<ConsentRecord> {
        journaled!(self, log, |tx| {
            scenarios::end_consent(&tx, id, new_state, at).await?
        })
    }
}

#[async_trait]
impl UsageListStore for PgStore {
    async fn put_usage_item(&self, item: &UsageItemRecord, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            scenarios::put_usage_item(&tx, item).await?;
        })
    }

    async fn usage_items(
        &self,
        org: &zhengzhao_domain::org::OrgCode,
    ) -> StoreResult<Vec<UsageItemRecord>> {
        scenarios::usage_items(&self.client().await?, org.as_str(), None).await
    }

    async fn usage_item(
        &self,
        org: &zhengzhao_domain::org::OrgCode,
        item_code: &str,
    ) -> StoreResult<Option<UsageItemRecord>> {
        Ok(
            scenarios::usage_items(&self.client().await?, org.as_str(), Some(item_code))
                .await?
                .into_iter()
                .next(),
        )
    }
}
