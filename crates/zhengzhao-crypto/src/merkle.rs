//! The audit log's Merkle tree: RFC 9162 (Certificate Transparency 2.0) §2.1
//! with SM3 as the hash.
//!
//! - leaf hash `SM3(0x00 ‖ entry)`, interior node `SM3(0x01 ‖ left ‖ right)`,
//!   empty tree `SM3("")`;
//! - the tree over `n` leaves splits at the largest power of two below `n`;
//! - inclusion proofs (§2.1.3) and consistency proofs (§2.1.4), with the
//!   RFC's verification algorithms.
//!
//! Storage keeps every *complete* node: `(level, index)` covers leaves
//! `index·2^level .. (index+1)·2^level`; level 0 are the leaf hashes. Any
//! subtree hash the RFC's recursions ask for is then made of O(log n) stored
//! nodes, so a proof needs no pass over the log.

use crate::sm3;

pub type Hash = [u8; 32];

/// Where complete nodes are read from.
pub trait NodeSource {
    type Error;
    /// The hash of the complete node `(level, index)`; it must exist.
    fn node(&self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// A complete node, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub level: u32,
    pub index: u64,
    pub hash: Hash,
}

pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut buf = Vec::with_capacity(entry.len() + 1);
    buf.push(0x00);
    buf.extend_from_slice(entry);
    sm3(&buf)
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    sm3(&buf)
}

pub fn empty_root() -> Hash {
    sm3(b"")
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// MTH(D[start..end]), from complete nodes (RFC 9162 §2.1.1).
pub fn subtree<S: NodeSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.node(n.trailing_zeros(), start / n);
    }
    let k = split(n);
    let left = subtree(src, start, start + k)?;
    let right = subtree(src, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn root<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Hash, S::Error> {
    subtree(src, 0, size)
}

/// The nodes completed by appending `leaves` to a tree of `size` leaves:
/// the new leaves themselves (level 0) and every interior node they close.
pub fn append<S: NodeSource + ?Sized>(
    src: &S,
    size: u64,
    leaves: &[Hash],
) -> Result<Vec<Node>, S::Error> {
    let mut new: Vec<Node> = Vec::with_capacity(leaves.len() * 2);
    let find = |new: &[Node], level: u32, index: u64| -> Result<Hash, S::Error> {
        match new
            .iter()
            .rev()
            .find(|n| n.level == level && n.index == index)
        {
            Some(n) => Ok(n.hash),
            None => src.node(level, index),
        }
    };
    for (offset, leaf) in leaves.iter().enumerate() {
        let mut node = Node {
            level: 0,
            index: size + offset as u64,
            hash: *leaf,
        };
        new.push(node);
        // A right child closes its parent.
        while node.index % 2 == 1 {
            let left = find(&new, node.level, node.index - 1)?;
            node = Node {
                level: node.level + 1,
                index: node.index / 2,
                hash: node_hash(&left, &node.hash),
            };
            new.push(node);
        }
    }
    Ok(new)
}

/// PATH(m, D[start..end]) of RFC 9162 §2.1.3.1, `m` relative to `start`.
fn path<S: NodeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<S: NodeSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if index < size {
        path(src, index, 0, size, &mut out)?;
    }
    Ok(out)
}

/// RFC 9162 §2.1.3.2: does `proof` show leaf `index` (hash `leaf`) in the
/// tree of `size` leaves with root `root`?
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n % 2 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n % 2 == 0 {
                while f_n % 2 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// SUBPROOF(m, D[start..end], b) of RFC 9162 §2.1.4.1.
fn subproof<S: NodeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(subtree(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, complete, out)?;
        out.push(subtree(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(subtree(src, start, start + k)?);
    }
    Ok(())
}

/// The consistency proof between the trees of `old` and `new` leaves.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, S::Error> {
    let mut out = Vec::new();
    if 0 < old && old < new {
        subproof(src, old, 0, new, true, &mut out)?;
    }
    Ok(out)
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree of `old` leaves (root
/// `old_root`) to be a prefix of the tree of `new` leaves (root `new_root`)?
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == new {
        return proof.is_empty() && old_root == new_root;
    }
    if old == 0 {
        // Every tree extends the empty one; nothing to prove.
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = proof.to_vec();
    if old.is_power_of_two() {
        path.insert(0, *old_root);
    }
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old - 1, new - 1);
    while f_n % 2 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n % 2 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n % 2 == 0 {
                while f_n % 2 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *old_root && s_r == *new_root && s_n == 0
}

/// The complete nodes whose fold is the root of a tree of `size` leaves
/// (its right edge): all that appending to it, or its root, needs.
pub fn frontier(size: u64) -> Vec<(u32, u64)> {
    (0..64u32)
        .filter(|l| size >> l & 1 == 1)
        .map(|l| (l, (size >> l) - 1))
        .collect()
}

/// A node the computation needed and the source did not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    pub level: u32,
    pub index: u64,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "audit tree node ({}, {}) is missing",
            self.level, self.index
        )
    }
}

/// Records which nodes a computation reads, so that they can be fetched
/// in one query and the computation run again over [`Fetched`]. The
/// recursions here branch on sizes and indexes only, never on hash values,
/// so the second run reads exactly what the first recorded.
#[derive(Default)]
pub struct Recorder(std::cell::RefCell<Vec<(u32, u64)>>);

impl Recorder {
    pub fn coords(self) -> Vec<(u32, u64)> {
        let mut v = self.0.into_inner();
        v.sort_unstable();
        v.dedup();
        v
    }
}

impl NodeSource for Recorder {
    type Error = Missing;
    fn node(&self, level: u32, index: u64) -> Result<Hash, Missing> {
        self.0.borrow_mut().push((level, index));
        Ok([0; 32])
    }
}

/// Nodes fetched from storage.
#[derive(Default)]
pub struct Fetched(pub std::collections::HashMap<(u32, u64), Hash>);

impl NodeSource for Fetched {
    type Error = Missing;
    fn node(&self, level: u32, index: u64) -> Result<Hash, Missing> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or(Missing { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Memory(HashMap<(u32, u64), Hash>);

    impl NodeSource for Memory {
        type Error = String;
        fn node(&self, level: u32, index: u64) -> Result<Hash, String> {
            self.0
                .get(&(level, index))
                .copied()
                .ok_or_else(|| format!("no node ({level}, {index})"))
        }
    }

    /// RFC 9162's definition, straight from the leaves.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn grown(n: u64) -> (Memory, Vec<Hash>) {
        let mut mem = Memory::default();
        let mut leaves = Vec::new();
        // Appended in uneven batches, as the sequencer does.
        let mut size = 0;
        while size < n {
            let batch: Vec<Hash> = (size..n.min(size + 1 + size % 5))
                .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
                .collect();
            for node in append(&mem, size, &batch).unwrap() {
                mem.0.insert((node.level, node.index), node.hash);
            }
            size += batch.len() as u64;
            leaves.extend(batch);
        }
        (mem, leaves)
    }

    #[test]
    fn recorded_nodes_are_enough_to_run_again() {
        let (mem, _) = grown(45);
        let rec = Recorder::default();
        consistency_proof(&rec, 13, 45).unwrap();
        let fetched = Fetched(
            rec.coords()
                .into_iter()
                .map(|(l, i)| ((l, i), mem.node(l, i).unwrap()))
                .collect(),
        );
        assert_eq!(
            consistency_proof(&fetched, 13, 45).unwrap(),
            consistency_proof(&mem, 13, 45).unwrap()
        );
        let edge = Fetched(
            frontier(45)
                .into_iter()
                .map(|(l, i)| ((l, i), mem.node(l, i).unwrap()))
                .collect(),
        );
        assert_eq!(root(&edge, 45).unwrap(), root(&mem, 45).unwrap());
        assert!(
            append(&edge, 45, &[[7; 32]; 3]).is_ok(),
            "appending needs only the frontier"
        );
    }

    #[test]
    fn roots_match_the_rfc_definition() {
        let (mem, leaves) = grown(70);
        for n in 0..=70u64 {
            assert_eq!(
                root(&mem, n).unwrap(),
                mth(&leaves[..n as usize]),
                "size {n}"
            );
        }
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        let (mem, leaves) = grown(40);
        for n in 1..=40u64 {
            let r = root(&mem, n).unwrap();
            for i in 0..n {
                let proof = inclusion_proof(&mem, i, n).unwrap();
                assert!(
                    verify_inclusion(i, n, &leaves[i as usize], &proof, &r),
                    "{i} in {n}"
                );
                let other = leaves[((i + 1) % n) as usize];
                if n > 1 {
                    assert!(
                        !verify_inclusion(i, n, &other, &proof, &r),
                        "wrong leaf {i} in {n}"
                    );
                }
                if let Some(first) = proof.first() {
                    let mut bad = proof.clone();
                    bad[0] = node_hash(first, first);
                    assert!(!verify_inclusion(i, n, &leaves[i as usize], &bad, &r));
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_forked_tree_does_not() {
        let (mem, _) = grown(40);
        for n in 1..=40u64 {
            let new_root = root(&mem, n).unwrap();
            for m in 1..=n {
                let old_root = root(&mem, m).unwrap();
                let proof = consistency_proof(&mem, m, n).unwrap();
                assert!(
                    verify_consistency(m, n, &old_root, &new_root, &proof),
                    "{m} -> {n}"
                );
                let forged = node_hash(&old_root, &old_root);
                assert!(
                    !verify_consistency(m, n, &forged, &new_root, &proof),
                    "forged {m} -> {n}"
                );
            }
        }
    }

    #[test]
    fn the_rfc_examples_shape() {
        // RFC 9162 §2.1.5: the proof for leaf d (index 3) in the 7-leaf tree is [c, g, l].
        let (mem, leaves) = grown(7);
        let proof = inclusion_proof(&mem, 3, 7).unwrap();
        let g = node_hash(&leaves[0], &leaves[1]);
        let l = node_hash(&node_hash(&leaves[4], &leaves[5]), &leaves[6]);
        assert_eq!(proof, vec![leaves[2], g, l]);
        // §2.1.5: consistency between 3 and 7 leaves is [c, d, g, l].
        let proof = consistency_proof(&mem, 3, 7).unwrap();
        assert_eq!(proof, vec![leaves[2], leaves[3], g, l]);
    }
}
