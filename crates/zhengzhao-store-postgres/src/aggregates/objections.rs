//! Objections and the flag they put on a license.

use crate::{PgStore, objections};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl ObjectionStore for PgStore {
    async fn add_objection(
        &self,
        objection: &ObjectionRecord,
        attachments: &[ObjectionAttachment],
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            objections::insert(&tx, objection, attachments).await?;
        })
    }

    async fn objection_by_ticket(&self, ticket: &str) -> StoreResult<Option<ObjectionRecord>> {
        objections::one(&self.client().await?, "ticket = $1", &[&ticket]).await
    }

    async fn objection_by_reference(
        &self,
        channel: &str,
        reference: &str,
    ) -> StoreResult<Option<ObjectionRecord>> {
        objections::one(
            &self.client().await?,
            "channel = $1 AND external_ref = $2",
            &[&channel, &reference],
        )
        .await
    }

    async fn update_objection(
        &self,
        objection: &ObjectionRecord,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            objections::update(&tx, objection).await?;
        })
    }

    async fn objections(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ObjectionRecord>> {
        objections::list(&self.client().await?, state, limit).await
    }

    async fn objection_attachments(&self, id: uuid::Uuid) -> StoreResult<Vec<ObjectionAttachment>> {
        objections::attachments(&self.client().await?, id).await
    }

    async fn flagged_status_indexes(&self) -> StoreResult<Vec<i64>> {
        objections::flagged_status_indexes(&self.client().await?).await
    }
}
