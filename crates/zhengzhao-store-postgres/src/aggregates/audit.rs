//! The audit log: events, their search, the outbox, the Merkle tree and its signed checkpoints.

use crate::{PgStore, audit_tree, backend, journal};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl AuditStore for PgStore {
    async fn record_event(&self, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {})
    }

    async fn record_events(&self, logs: &[ChangeLog]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        for log in logs {
            journal::append(&tx, log).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn audit_events(&self, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        journal::audit_after(&self.client().await?, after, limit).await
    }

    async fn pending_outbox(&self, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        journal::pending_outbox(&self.client().await?, limit).await
    }

    async fn search_audit(
        &self,
        query: &AuditQuery,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        journal::audit_search(&self.client().await?, query, after, limit).await
    }

    async fn audit_tree_head(&self) -> StoreResult<AuditTreeHead> {
        audit_tree::head(&self.client().await?).await
    }

    async fn append_audit_leaves(
        &self,
        head: &AuditTreeHead,
        leaves: &[AuditLeaf],
        nodes: &[AuditNode],
    ) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(backend)?;
        audit_tree::append(&tx, head, leaves, nodes).await?;
        tx.commit().await.map_err(backend)
    }

    async fn audit_nodes(&self, coords: &[(u32, u64)]) -> StoreResult<Vec<AuditNode>> {
        audit_tree::nodes(&self.client().await?, coords).await
    }

    async fn audit_leaves(&self, from: u64, limit: u32) -> StoreResult<Vec<AuditLeaf>> {
        audit_tree::leaves(&self.client().await?, from, limit).await
    }

    async fn audit_leaf_of(&self, seq: i64) -> StoreResult<Option<AuditLeaf>> {
        audit_tree::leaf_of(&self.client().await?, seq).await
    }

    async fn add_audit_checkpoint(&self, cp: &AuditCheckpoint, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            audit_tree::add_checkpoint(&tx, cp).await?;
        })
    }

    async fn audit_checkpoints(
        &self,
        from_size: u64,
        limit: u32,
    ) -> StoreResult<Vec<AuditCheckpoint>> {
        audit_tree::checkpoints(&self.client().await?, from_size, limit, false).await
    }

    async fn latest_audit_checkpoint(&self) -> StoreResult<Option<AuditCheckpoint>> {
        Ok(audit_tree::checkpoints(&self.client().await?, 0, 1, true)
            .await?
            .into_iter()
            .next())
    }
}
