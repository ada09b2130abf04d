//! The audit log's Merkle tree and checkpoints.

use crate::{backend, ts, uuid_of};
use rusqlite::{Connection, OptionalExtension, params};
use zhengzhao_store::rules;
use zhengzhao_store::{
    AuditCheckpoint, AuditLeaf, AuditNode, AuditTreeHead, StoreError, StoreResult, hash32,
};

pub(crate) fn head(c: &Connection) -> StoreResult<AuditTreeHead> {
    // Two sub-selects, not one SELECT with two max(): SQLite answers a lone
    // max() from the index's last entry, but two aggregates in one SELECT
    // scan the whole table (seen in a profile as `minmaxStep`, growing
    // with the log).
    c.prepare_cached(
        "SELECT coalesce((SELECT max(leaf_index) FROM audit_leaves) + 1, 0),
                coalesce((SELECT max(seq) FROM audit_leaves), 0)",
    )
    .and_then(|mut s| {
        s.query_row([], |r| {
            Ok(AuditTreeHead {
                size: r.get::<_, i64>(0)? as u64,
                last_seq: r.get(1)?,
            })
        })
    })
    .map_err(backend)
}

pub(crate) fn append(
    c: &Connection,
    expected: &AuditTreeHead,
    leaves: &[AuditLeaf],
    nodes: &[AuditNode],
) -> StoreResult<()> {
    let now = head(c)?;
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
        .prepare_cached(
            "SELECT seq FROM audit_events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
        )
        .and_then(|mut s| {
            s.query_map(
                params![expected.last_seq, last.seq, leaves.len() as i64 + 1],
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<Vec<i64>>>()
        })
        .map_err(backend)?;
    rules::check_next_leaves(expected, leaves, &next_events)?;
    for l in leaves {
        c.prepare_cached("INSERT INTO audit_leaves (leaf_index, seq, hash) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![l.index as i64, l.seq, &l.hash[..]]))
            .map_err(backend)?;
    }
    for n in nodes.iter().filter(|n| n.level > 0) {
        c.prepare_cached("INSERT INTO audit_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![n.level, n.index as i64, &n.hash[..]]))
            .map_err(backend)?;
    }
    Ok(())
}

pub(crate) fn nodes(c: &Connection, coords: &[(u32, u64)]) -> StoreResult<Vec<AuditNode>> {
    let mut out = Vec::with_capacity(coords.len());
    for &(level, index) in coords {
        let sql = if level == 0 {
            "SELECT hash FROM audit_leaves WHERE leaf_index = ?2 AND ?1 = 0"
        } else {
            "SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2"
        };
        let hash: Option<Vec<u8>> = c
            .prepare_cached(sql)
            .and_then(|mut s| {
                s.query_row(params![level, index as i64], |r| r.get(0))
                    .optional()
            })
            .map_err(backend)?;
        if let Some(h) = hash {
            out.push(AuditNode {
                level,
                index,
                hash: hash32(&h)?,
            });
        }
    }
    Ok(out)
}

fn leaf_of_row(r: &rusqlite::Row) -> rusqlite::Result<(i64, i64, Vec<u8>)> {
    TryFrom::try_from(r)
}

fn to_leaf((index, seq, hash): (i64, i64, Vec<u8>)) -> StoreResult<AuditLeaf> {
    Ok(AuditLeaf {
        index: index as u64,
        seq,
        hash: hash32(&hash)?,
    })
}

pub(crate) fn leaves(c: &Connection, from: u64, limit: u32) -> StoreResult<Vec<AuditLeaf>> {
    let rows = c
        .prepare_cached(
            "SELECT leaf_index, seq, hash FROM audit_leaves WHERE leaf_index >= ?1 ORDER BY leaf_index LIMIT ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![from as i64, limit], leaf_of_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(backend)?;
    rows.into_iter().map(to_leaf).collect()
}

pub(crate) fn leaf_of(c: &Connection, seq: i64) -> StoreResult<Option<AuditLeaf>> {
    c.prepare_cached("SELECT leaf_index, seq, hash FROM audit_leaves WHERE seq = ?1")
        .and_then(|mut s| s.query_row([seq], leaf_of_row).optional())
        .map_err(backend)?
        .map(to_leaf)
        .transpose()
}

pub(crate) fn add_checkpoint(c: &Connection, cp: &AuditCheckpoint) -> StoreResult<()> {
    c.execute(
        "INSERT INTO audit_checkpoints (tree_size, root, created_at, key_id, note, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            cp.tree_size as i64,
            &cp.root[..],
            cp.created_at.to_string(),
            cp.key_id.to_string(),
            cp.note,
            cp.signature
        ],
    )
    .map_err(|e| match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(format!("a checkpoint at tree size {} exists", cp.tree_size))
        }
        _ => backend(e),
    })?;
    Ok(())
}

pub(crate) fn checkpoints(
    c: &Connection,
    from_size: u64,
    limit: u32,
    latest: bool,
) -> StoreResult<Vec<AuditCheckpoint>> {
    let sql = if latest {
        "SELECT tree_size, root, created_at, key_id, note, signature FROM audit_checkpoints
         WHERE tree_size >= ?1 ORDER BY tree_size DESC LIMIT ?2"
    } else {
        "SELECT tree_size, root, created_at, key_id, note, signature FROM audit_checkpoints
         WHERE tree_size >= ?1 ORDER BY tree_size LIMIT ?2"
    };
    type Raw = (i64, Vec<u8>, String, String, String, Vec<u8>);
    let rows: Vec<Raw> = c
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params![from_size as i64, limit], |r| TryFrom::try_from(r))?
                .collect()
        })
        .map_err(backend)?;
    rows.into_iter()
        .map(|(size, root, at, key, note, signature)| {
            Ok(AuditCheckpoint {
                tree_size: size as u64,
                root: hash32(&root)?,
                created_at: ts(&at)?,
                key_id: uuid_of(&key)?,
                note,
                signature,
            })
        })
        .collect()
}
