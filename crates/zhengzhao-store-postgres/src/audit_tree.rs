//! The audit log's Merkle tree and checkpoints.

use crate::db::Db;
use crate::row::RowExt;
use crate::{backend, classify};
use zhengzhao_store::rules;
use zhengzhao_store::{
    AuditCheckpoint, AuditLeaf, AuditNode, AuditTreeHead, StoreError, StoreResult, hash32,
};

pub(crate) async fn head<C: Db + ?Sized>(c: &C) -> StoreResult<AuditTreeHead> {
    let r = c
        .query_one(
            "SELECT coalesce(max(leaf_index) + 1, 0), coalesce(max(seq), 0) FROM audit_leaves",
            &[],
        )
        .await
        .map_err(backend)?;
    Ok(AuditTreeHead {
        size: r.col::<i64>(0, "audit tree head")? as u64,
        last_seq: r.col(1, "audit tree head")?,
    })
}

/// In the caller's transaction.
pub(crate) async fn append<C: Db + ?Sized>(
    c: &C,
    expected: &AuditTreeHead,
    leaves: &[AuditLeaf],
    nodes: &[AuditNode],
) -> StoreResult<()> {
    // Waits for every transaction that is appending to the audit log, and
    // holds new ones back until this one ends: so every event with a sequence
    // number up to the last leaf's is committed now, and none can join later.
    c.batch_execute("LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE")
        .await
        .map_err(backend)?;
    let now = head(c).await?;
    if now != *expected {
        return Err(StoreError::Conflict(format!(
            "the audit tree has {} leaves, not {}",
            now.size, expected.size
        )));
    }
    let Some(last) = leaves.last() else {
        return Ok(());
    };
    // The events the leaves must be: those after the head, up to the last
    // leaf's (one more than the leaves is enough to see a mismatch).
    let next_events = c
        .query(
            "SELECT seq FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
            &[&expected.last_seq, &last.seq, &(leaves.len() as i64 + 1)],
        )
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.col(0, "audit event seq"))
        .collect::<StoreResult<Vec<i64>>>()?;
    rules::check_next_leaves(expected, leaves, &next_events)?;
    // Prepared once per connection (`Db`), run per row.
    for l in leaves {
        c.execute(
            "INSERT INTO audit_leaves (leaf_index, seq, hash) VALUES ($1, $2, $3)",
            &[&(l.index as i64), &l.seq, &&l.hash[..]],
        )
        .await
        .map_err(classify)?;
    }
    for n in nodes.iter().filter(|n| n.level > 0) {
        c.execute(
            "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)",
            &[&(n.level as i32), &(n.index as i64), &&n.hash[..]],
        )
        .await
        .map_err(classify)?;
    }
    Ok(())
}

pub(crate) async fn nodes<C: Db + ?Sized>(
    c: &C,
    coords: &[(u32, u64)],
) -> StoreResult<Vec<AuditNode>> {
    let levels: Vec<i32> = coords.iter().map(|(l, _)| *l as i32).collect();
    let indexes: Vec<i64> = coords.iter().map(|(_, i)| *i as i64).collect();
    let rows = c
        .query(
            "SELECT w.level, w.idx, coalesce(n.hash, l.hash)
             FROM unnest($1::int[], $2::bigint[]) AS w(level, idx)
             LEFT JOIN audit_nodes n ON n.level = w.level AND n.idx = w.idx AND w.level > 0
             LEFT JOIN audit_leaves l ON l.leaf_index = w.idx AND w.level = 0
             WHERE coalesce(n.hash, l.hash) IS NOT NULL",
            &[&levels, &indexes],
        )
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(AuditNode {
                level: r.col::<i32>(0, "audit node")? as u32,
                index: r.col::<i64>(1, "audit node")? as u64,
                hash: hash32(r.col::<&[u8]>(2, "audit node")?)?,
            })
        })
        .collect()
}

fn to_leaf(r: &tokio_postgres::Row) -> StoreResult<AuditLeaf> {
    Ok(AuditLeaf {
        index: r.col::<i64>(0, "audit leaf")? as u64,
        seq: r.col(1, "audit leaf")?,
        hash: hash32(r.col::<&[u8]>(2, "audit leaf")?)?,
    })
}

pub(crate) async fn leaves<C: Db + ?Sized>(
    c: &C,
    from: u64,
    limit: u32,
) -> StoreResult<Vec<AuditLeaf>> {
    c.query(
        "SELECT leaf_index, seq, hash FROM audit_leaves WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2",
        &[&(from as i64), &i64::from(limit)],
    )
    .await
    .map_err(backend)?
    .iter()
    .map(to_leaf)
    .collect()
}

pub(crate) async fn leaf_of<C: Db + ?Sized>(c: &C, seq: i64) -> StoreResult<Option<AuditLeaf>> {
    c.query_opt(
        "SELECT leaf_index, seq, hash FROM audit_leaves WHERE seq = $1",
        &[&seq],
    )
    .await
    .map_err(backend)?
    .as_ref()
    .map(to_leaf)
    .transpose()
}

pub(crate) async fn add_checkpoint<C: Db + ?Sized>(c: &C, cp: &AuditCheckpoint) -> StoreResult<()> {
    c.execute(
        "INSERT INTO audit_checkpoints (tree_size, root, created_at, key_id, note, signature)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &(cp.tree_size as i64),
            &&cp.root[..],
            &cp.created_at,
            &cp.key_id,
            &cp.note,
            &cp.signature,
        ],
    )
    .await
    .map_err(classify)?;
    Ok(())
}

pub(crate) async fn checkpoints<C: Db + ?Sized>(
    c: &C,
    from_size: u64,
    limit: u32,
    latest: bool,
) -> StoreResult<Vec<AuditCheckpoint>> {
    let sql = if latest {
        "SELECT tree_size, root, created_at, key_id, note, signature FROM audit_checkpoints
         WHERE tree_size >= $1 ORDER BY tree_size DESC LIMIT $2"
    } else {
        "SELECT tree_size, root, created_at, key_id, note, signature FROM audit_checkpoints
         WHERE tree_size >= $1 ORDER BY tree_size LIMIT $2"
    };
    c.query(sql, &[&(from_size as i64), &i64::from(limit)])
        .await
        .map_err(backend)?
        .iter()
        .map(|r| {
            Ok(AuditCheckpoint {
                tree_size: r.col::<i64>(0, "audit checkpoint")? as u64,
                root: hash32(r.col::<&[u8]>(1, "audit checkpoint")?)?,
                created_at: r.col(2, "audit checkpoint")?,
                key_id: r.col(3, "audit checkpoint")?,
                note: r.col(4, "audit checkpoint")?,
                signature: r.col(5, "audit checkpoint")?,
            })
        })
        .collect()
}
