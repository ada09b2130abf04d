//! The audit log: events, their search, the outbox, the Merkle tree and its signed checkpoints.

use crate::{SqliteStore, audit_tree, journal};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_event(&self, log: &ChangeLog) -> StoreResult<()> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| journal::append(tx, &log)).await
    }

    async fn record_events(&self, logs: &[ChangeLog]) -> StoreResult<()> {
        let logs: Vec<_> = logs.iter().map(journal::PreparedLog::new).collect();
        self.write(move |tx| logs.iter().try_for_each(|log| journal::append(tx, log)))
            .await
    }

    async fn audit_events(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.read(move |c| journal::audit_after(c, after, limit))
            .await
    }

    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        self.read(move |c| journal::pending_outbox(c, limit)).await
    }

    async fn search_audit(
        &self,
        query: &AuditQuery,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        let query = query.clone();
        self.read(move |c| journal::audit_search(c, &query, after, limit))
            .await
    }

    async fn audit_tree_head(&self) -> StoreResult<AuditTreeHead> {
        self.read(audit_tree::head).await
    }

    async fn append_audit_leaves(
        &self,
        head: &AuditTreeHead,
        leaves: &[AuditLeaf],
        nodes: &[AuditNode],
    ) -> StoreResult<()> {
        let (head, leaves, nodes) = (*head, leaves.to_vec(), nodes.to_vec());
        self.write(move |tx| audit_tree::append(tx, &head, &leaves, &nodes))
            .await
    }

    async fn audit_nodes(&self, coords: &[(u32, u64)]) -> StoreResult<Vec<AuditNode>> {
        let coords = coords.to_vec();
        self.read(move |c| audit_tree::nodes(c, &coords)).await
    }

    async fn audit_leaves(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditLeaf>> {
        self.read(move |c| audit_tree::leaves(c, from, limit)).await
    }

    async fn audit_leaf_of(&self, seq: i64) -> StoreResult<Option<AuditLeaf>> {
        self.read(move |c| audit_tree::leaf_of(c, seq)).await
    }

    async fn add_audit_checkpoint(&self, cp: &AuditCheckpoint, log: &ChangeLog) -> StoreResult<()> {
        let (cp, log) = (cp.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            audit_tree::add_checkpoint(tx, &cp)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn audit_checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditCheckpoint>> {
        self.read(move |c| audit_tree::checkpoints(c, from_size, limit, false))
            .await
    }

    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>> {
        Ok(self
            .read(|c| audit_tree::checkpoints(c, 0, 1, true))
            .await?
            .into_iter()
            .next())
    }
}
