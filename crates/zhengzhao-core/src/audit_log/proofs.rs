//! Inclusion and consistency proofs (RFC 9162, SM3), each naming the
//! checkpoint signed at its tree size.

use super::*;
use crate::Library;
use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use zhengzhao_crypto::merkle::{self};

/// An inclusion proof, relative to the tree of `tree_size` leaves whose root
/// is `root_hash`, and to the checkpoint that signed that root.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub seq: i64,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root_hash: String,
    /// Base64 hashes, RFC 9162 §2.1.3 order.
    pub proof: Vec<String>,
    /// The signed checkpoint the proof is relative to (its `tree_size` and
    /// `root_hash` are the proof's); null when no checkpoint was signed at
    /// `tree_size`, so the root is signed by nothing yet.
    pub checkpoint: Option<CheckpointView>,
}

/// A consistency proof between the trees of `from` and `to` leaves.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root_hash: String,
    pub to_root_hash: String,
    /// Base64 hashes, RFC 9162 §2.1.4 order.
    pub proof: Vec<String>,
    /// The signed checkpoints at `from` and at `to` leaves the proof is
    /// relative to; null where no checkpoint was signed at that size.
    pub from_checkpoint: Option<CheckpointView>,
    pub to_checkpoint: Option<CheckpointView>,
}

impl Library {
    /// Inclusion proof of audit event `seq` in the tree of `tree_size`
    /// leaves; by default the tree of the latest signed checkpoint, or the
    /// whole log now when that checkpoint does not cover the event yet. The
    /// proof names the checkpoint signed at its tree size, if any.
    pub async fn inclusion_proof(
        &self,
        seq: i64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof> {
        let size = self.integrate_audit().await?;
        let stored = self.store.audit_leaf_of(seq).await?;
        let tree_size = match (tree_size, &stored) {
            (Some(t), _) => t,
            (None, Some(leaf)) => match self.store.latest_audit_checkpoint().await? {
                Some(cp) if cp.tree_size > leaf.index && cp.tree_size <= size => cp.tree_size,
                _ => size,
            },
            (None, None) => size,
        };
        if tree_size > size {
            return Err(Error::NotFound(format!(
                "the audit tree has {size} entries, not {tree_size}"
            )));
        }
        let leaf = stored.filter(|l| l.index < tree_size).ok_or_else(|| {
            Error::NotFound(format!("audit event {seq} in a tree of {tree_size}"))
        })?;
        let (proof, root) = self
            .with_nodes(|src| {
                Ok((
                    merkle::inclusion_proof(src, leaf.index, tree_size)?,
                    merkle::root(src, tree_size)?,
                ))
            })
            .await?;
        Ok(InclusionProof {
            seq,
            leaf_index: leaf.index,
            tree_size,
            leaf_hash: B64.encode(leaf.hash),
            root_hash: B64.encode(root),
            proof: proof.iter().map(|h| B64.encode(h)).collect(),
            checkpoint: self.checkpoint_at(tree_size).await?,
        })
    }

    /// Consistency proof between the trees of `from` and `to` leaves.
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof> {
        let size = self.integrate_audit().await?;
        if from > to || to > size {
            return Err(Error::field(
                "to",
                "range",
                format!("need 0 <= from <= to <= {size}"),
                format!("应满足 0 <= from <= to <= {size}"),
            ));
        }
        let (proof, old_root, new_root) = self
            .with_nodes(|src| {
                Ok((
                    merkle::consistency_proof(src, from, to)?,
                    merkle::root(src, from)?,
                    merkle::root(src, to)?,
                ))
            })
            .await?;
        Ok(ConsistencyProof {
            from,
            to,
            from_root_hash: B64.encode(old_root),
            to_root_hash: B64.encode(new_root),
            proof: proof.iter().map(|h| B64.encode(h)).collect(),
            from_checkpoint: self.checkpoint_at(from).await?,
            to_checkpoint: self.checkpoint_at(to).await?,
        })
    }
}
