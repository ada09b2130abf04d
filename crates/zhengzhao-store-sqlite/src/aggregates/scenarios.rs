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
}
