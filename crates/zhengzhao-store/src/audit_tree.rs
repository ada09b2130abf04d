//! Records of the audit log's Merkle tree (RFC 9162 shape; the hashing is in
//! `zhengzhao_crypto::merkle`). The tree is derived data: it is appended by
//! the integrator from the audit events, and `audit verify` rebuilds it.

/// How far the tree has grown: `size` leaves, the last for event `last_seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditTreeHead {
    pub size: u64,
    pub last_seq: i64,
}

/// Leaf `index` of the tree: the hash of audit event `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLeaf {
    pub index: u64,
    pub seq: i64,
    pub hash: [u8; 32],
}

/// A complete node of the tree; level 0 nodes are the leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditNode {
    pub level: u32,
    pub index: u64,
    pub hash: [u8; 32],
}

/// A signed statement of the tree's size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub tree_size: u64,
    pub root: [u8; 32],
    pub created_at: jiff::Timestamp,
    /// The SM2 signing key (its certificate verifies `signature`).
    pub key_id: uuid::Uuid,
    /// The checkpoint as published: a C2SP signed note (text, blank line,
    /// signature lines), or, for checkpoints of the legacy format, the bare
    /// text that was signed (it has no blank line).
    pub note: String,
    /// DER SM2-with-SM3 signature over the note's text.
    pub signature: Vec<u8>,
}

/// A stored hash that is not 32 bytes long was not written by us.
pub fn hash32(bytes: &[u8]) -> Result<[u8; 32], crate::StoreError> {
    bytes.try_into().map_err(|_| {
        crate::StoreError::Corrupt(format!("audit tree hash of {} bytes", bytes.len()))
    })
}
