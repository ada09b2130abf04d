//! Relying parties' scenarios and their daily use (Art. 14–16).

use crate::{SqliteStore, journal, scenarios};
use async_trait::async_trait;
use zhengzhao_domain::scenario::ScenarioState;
use zhengzhao_store::*;

#[async_trait]
impl ScenarioStore for SqliteStore {
    async fn add_scenario(&self, scenario: &NewScenario, log: &ChangeLog) -> StoreResult<()> {
        let (scenario, log) = (scenario.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            scenarios::insert(tx, &scenario)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn scenario(&self, id: uuid::Uuid) -> StoreResult<Option<ScenarioRecord>> {
        self.read(move |c| scenarios::by_id(c, id)).await
    }

    async fn scenarios(&self) -> StoreResult<Vec<ScenarioRecord>> {
        self.read(scenarios::all).await
    }

    async fn decide_scenario(
        &self,
        id: uuid::Uuid,
        expected: ScenarioState,
        decision: &ScenarioDecision,
        log: &ChangeLog,
    ) -> StoreResult<ScenarioRecord> {
        let (decision, log) = (decision.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let record = scenarios::decide(tx, id, expected, &decision)?;
            journal::append(tx, &log)?;
            Ok(record)
        })
        .await
    }

    async fn use_scenario_quota(
        &self,
        id: uuid::Uuid,
        day: jiff::civil::Date,
        limit: u32,
    ) -> StoreResult<bool> {
        self.write(move |tx| scenarios::use_quota(tx, id, day, limit))
            .await
    }

    async fn record_counted_read(
        &self,
        id: uuid::Uuid,
        day: jiff::civil::Date,
        limit: u32,
        log: &ChangeLog,
    ) -> StoreResult<bool> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            if !scenarios::use_quota(tx, id, day, limit)? {
                return Ok(false);
            }
            journal::append(tx, &log)?;
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn add_consent(&self, consent: &ConsentRecord, log: &ChangeLog) -> StoreResult<()> {
        let (consent, log) = (consent.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            scenarios::add_consent(tx, &consent)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn consent(&self, id: uuid::Uuid) -> StoreResult<Option<ConsentRecord>> {
        self.read(move |c| scenarios::consent(c, id)).await
    }

    async fn consents_of_holder(&self, holder_key: &str) -> StoreResult<Vec<ConsentRecord>> {
        let key = holder_key.to_owned();
        self.read(move |c| scenarios::consents_of(c, &key)).await
    }

    async fn end_consent(
        &self,
        id: uuid::Uuid,
        new_state: &str,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<ConsentRecord> {
        let (state, log) = (new_state.to_owned(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let record = scenarios::end_consent(tx, id, &state, at)?;
            journal::append(tx, &log)?;
            Ok(record)
        })
        .await
    }
}

#[async_trait]
impl UsageListStore for SqliteStore {
    async fn put_usage_item(&self, item: &UsageItemRecord, log: &ChangeLog) -> StoreResult<()> {
        let (item, log) = (item.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            scenarios::put_usage_item(tx, &item)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn usage_items(
        &self,
        org: &zhengzhao_domain::org::OrgCode,
    ) -> StoreResult<Vec<UsageItemRecord>> {
        let org = org.to_string();
        self.read(move |c| scenarios::usage_items(c, &org, None))
            .await
    }

    async fn usage_item(
        &self,
        org: &zhengzhao_domain::org::OrgCode,
        item_code: &str,
    ) -> StoreResult<Option<UsageItemRecord>> {
        let (org, code) = (org.to_string(), item_code.to_owned());
        Ok(self
            .read(move |c| scenarios::usage_items(c, &org, Some(&code)))
            .await?
            .into_iter()
            .next())
    }
}
