//! Objections and the flag they put on a license.

use crate::{SqliteStore, journal, objections};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl ObjectionStore for SqliteStore {
    async fn add_objection(
        &self,
        objection: &ObjectionRecord,
        attachments: &[ObjectionAttachment],
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (o, a) = (objection.clone(), attachments.to_vec());
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            objections::insert(tx, &o, &a)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn objection_by_ticket(&self, ticket: &str) -> StoreResult<Option<ObjectionRecord>> {
        let ticket = ticket.to_owned();
        self.read(move |c| objections::by_ticket(c, &ticket)).await
    }

    async fn objection_by_reference(
        &self,
        channel: &str,
        reference: &str,
    ) -> StoreResult<Option<ObjectionRecord>> {
        let (channel, reference) = (channel.to_owned(), reference.to_owned());
        self.read(move |c| objections::by_reference(c, &channel, &reference))
            .await
    }

    async fn update_objection(
        &self,
        objection: &ObjectionRecord,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let o = objection.clone();
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            objections::update(tx, &o)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn objections(
        &self,
        state: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ObjectionRecord>> {
        let state = state.map(str::to_owned);
        self.read(move |c| objections::list(c, state.as_deref(), limit))
            .await
    }

    async fn objection_attachments(&self, id: uuid::Uuid) -> StoreResult<Vec<ObjectionAttachment>> {
        self.read(move |c| objections::attachments(c, id)).await
    }

    async fn flagged_status_indexes(&self) -> StoreResult<Vec<i64>> {
        self.read(objections::flagged_status_indexes).await
    }
}
