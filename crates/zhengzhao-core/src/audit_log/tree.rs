//! Growing the audit log's Merkle tree from its events, off the hot path:
//! `integrate_audit` appends leaves and the interior nodes they complete.

use super::*;
use crate::Library;
use crate::Result;
use zhengzhao_crypto::merkle::{self, Fetched, Hash, Missing, NodeSource, Recorder};
use zhengzhao_store::{AuditLeaf, AuditNode, StoreError};

impl Library {
    /// Run `compute` over the stored nodes it needs, fetched in one query.
    pub(super) async fn with_nodes<T>(
        &self,
        compute: impl Fn(&dyn NodeSource<Error = Missing>) -> Result<T, Missing>,
    ) -> Result<T> {
        let recorder = Recorder::default();
        compute(&recorder).map_err(missing)?;
        let nodes = self.store.audit_nodes(&recorder.coords()).await?;
        let fetched = Fetched(
            nodes
                .into_iter()
                .map(|n| ((n.level, n.index), n.hash))
                .collect(),
        );
        compute(&fetched).map_err(missing)
    }

    /// Append every audit event not yet in the tree. Returns the tree size.
    pub async fn integrate_audit(&self) -> Result<u64> {
        let _one_at_a_time = self.audit_integrator.lock().await;
        let mut conflicts = 0;
        loop {
            let head = self.store.audit_tree_head().await?;
            let events = self.store.audit_events(head.last_seq, CHUNK).await?;
            if events.is_empty() {
                return Ok(head.size);
            }
            let mut leaves = Vec::with_capacity(events.len());
            for (i, e) in events.iter().enumerate() {
                leaves.push(AuditLeaf {
                    index: head.size + i as u64,
                    seq: e.seq,
                    hash: leaf_hash(e)?,
                });
            }
            let hashes: Vec<Hash> = leaves.iter().map(|l| l.hash).collect();
            let nodes: Vec<AuditNode> = self
                .with_nodes(|src| merkle::append(src, head.size, &hashes))
                .await?
                .into_iter()
                .map(|n| AuditNode {
                    level: n.level,
                    index: n.index,
                    hash: n.hash,
                })
                .collect();
            match self.store.append_audit_leaves(&head, &leaves, &nodes).await {
                Ok(()) => {}
                // Another node integrated meanwhile, or an older event
                // committed late (PostgreSQL): read again.
                Err(StoreError::Conflict(_)) if conflicts < 5 => conflicts += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub async fn audit_root(&self, size: u64) -> Result<Hash> {
        self.with_nodes(|src| merkle::root(src, size)).await
    }
}
