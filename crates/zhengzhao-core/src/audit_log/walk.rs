//! Checking the log against its tree: `verify_audit` (the whole log, at the
//! command line) and the background sweep, both walking with one `AuditWalk`.

use super::*;
use crate::Library;
use crate::{Error, Result};
use std::collections::HashMap;
use zhengzhao_crypto::merkle::{self, Fetched, Hash};
use zhengzhao_store::{AuditCheckpoint, AuditRecord};

/// The background check's walks and findings, shared by a library's clones.
#[derive(Default)]
pub struct AuditSweep {
    walks: tokio::sync::Mutex<SweepWalks>,
    status: std::sync::Mutex<AuditIntegrity>,
}

#[derive(Default)]
pub(super) struct SweepWalks {
    /// Follows the tree's newest entries, from where it stood at the first round.
    tail: Option<AuditWalk>,
    /// The pass over the whole log.
    rescan: Option<AuditWalk>,
}

impl AuditSweep {
    fn checked(&self, entries: u64, position: Option<u64>) {
        if let Ok(mut s) = self.status.lock() {
            s.entries_checked += entries;
            if let Some(p) = position {
                s.position = p;
            }
        }
    }

    fn pass_done(&self) {
        if let Ok(mut s) = self.status.lock() {
            s.passes += 1;
            s.position = 0;
        }
    }

    fn found(&self, problem: AuditProblem) {
        let Ok(mut s) = self.status.lock() else {
            return;
        };
        if s.problem.is_none() {
            tracing::error!(
                seq = problem.seq,
                problem = %problem.message,
                "the audit log does not match its tree; run `zhengzhao audit verify`"
            );
            s.problem = Some(problem);
        }
    }
}

/// A walk along the audit tree from one leaf on: it hashes each event again
/// and holds it against its leaf, recomputes the nodes above and holds them
/// against the stored ones, and checks each signed checkpoint it passes
/// against the recomputed root. After a problem the walk is spent.
pub(super) struct AuditWalk {
    /// Leaves walked: the next leaf's index.
    size: u64,
    /// The seq of the last leaf walked.
    after_seq: i64,
    /// The recomputed right edge of the tree: all a root or an append needs.
    edge: Fetched,
    /// Entries known good: before a problem, those before it.
    good: u64,
    checkpoints_checked: u64,
    /// The tree size of the last checkpoint that verified.
    proven: u64,
}

pub(super) enum Step {
    Walked,
    End,
    Problem(AuditProblem),
}

pub(super) enum Beyond {
    Nothing,
    Grown,
    Deleted(String),
}

impl AuditWalk {
    fn from_start() -> Self {
        Self {
            size: 0,
            after_seq: 0,
            edge: Fetched::default(),
            good: 0,
            checkpoints_checked: 0,
            proven: 0,
        }
    }

    /// A walk from leaf `size` on, taking the stored tree below it as given.
    async fn at(library: &Library, size: u64) -> Result<Self> {
        let Some(last) = size.checked_sub(1) else {
            return Ok(Self::from_start());
        };
        let edge = Fetched(
            library
                .store
                .audit_nodes(&merkle::frontier(size))
                .await?
                .into_iter()
                .map(|n| ((n.level, n.index), n.hash))
                .collect(),
        );
        let after_seq = library
            .store
            .audit_leaves(last, 1)
            .await?
            .first()
            .map(|l| l.seq)
            .ok_or_else(|| Error::Internal(format!("audit tree leaf #{last} is missing")))?;
        Ok(Self {
            size,
            after_seq,
            edge,
            good: size,
            checkpoints_checked: 0,
            proven: size,
        })
    }

    fn problem(&mut self, message: String, seq: Option<i64>, good: u64) -> Step {
        self.good = good;
        Step::Problem(AuditProblem { message, seq })
    }

    /// Walk up to `limit` more leaves.
    async fn step(&mut self, library: &Library, limit: u32) -> Result<Step> {
        let leaves = library.store.audit_leaves(self.size, limit).await?;
        if leaves.is_empty() {
            return Ok(Step::End);
        }
        let mut events: std::collections::VecDeque<AuditRecord> = Default::default();
        let mut events_done = false;
        let mut after_seq = self.after_seq;
        let mut recomputed = Vec::with_capacity(leaves.len());
        for leaf in &leaves {
            let index = self.size + recomputed.len() as u64;
            if leaf.index != index {
                return Ok(self.problem(
                    format!(
                        "audit tree leaf #{index} is missing (the next stored leaf is #{})",
                        leaf.index
                    ),
                    None,
                    index,
                ));
            }
            // The next event in sequence order must be this leaf's.
            if events.is_empty() && !events_done {
                events.extend(library.store.audit_events(after_seq, CHUNK).await?);
                events_done = events.is_empty();
            }
            let entry = leaf.index + 1;
            match events.front() {
                Some(e) if e.seq < leaf.seq => {
                    let message = format!(
                        "audit event seq {} is not in the tree, but entry #{entry} after it is: a row was inserted",
                        e.seq
                    );
                    let seq = Some(e.seq);
                    return Ok(self.problem(message, seq, leaf.index));
                }
                Some(e) if e.seq == leaf.seq => {
                    if leaf_hash(e)? != leaf.hash {
                        return Ok(self.problem(
                            format!(
                                "audit entry #{entry} (seq {}) was altered: it no longer hashes to its leaf",
                                leaf.seq
                            ),
                            Some(leaf.seq),
                            leaf.index,
                        ));
                    }
                    recomputed.push(leaf.hash);
                    after_seq = e.seq;
                    events.pop_front();
                }
                _ => {
                    return Ok(self.problem(
                        format!("audit entry #{entry} (seq {}) was deleted", leaf.seq),
                        Some(leaf.seq),
                        leaf.index,
                    ));
                }
            }
        }
        // Extend the recomputed tree leaf by leaf, noting the root at each
        // checkpoint's size; then hold the stored nodes against it.
        let end = self.size + recomputed.len() as u64;
        let mut checkpoints = library
            .checkpoints_within(self.size + 1, end)
            .await?
            .into_iter()
            .peekable();
        let mut computed: Vec<merkle::Node> = Vec::new();
        let mut reached: Vec<(AuditCheckpoint, Hash)> = Vec::new();
        let mut size = self.size;
        for hash in recomputed {
            let new = merkle::append(&self.edge, size, &[hash]).map_err(missing)?;
            for n in &new {
                self.edge.0.insert((n.level, n.index), n.hash);
            }
            computed.extend(new);
            size += 1;
            let keep = merkle::frontier(size);
            self.edge.0.retain(|k, _| keep.contains(k));
            while let Some(cp) = checkpoints.next_if(|cp| cp.tree_size <= size) {
                let root = merkle::root(&self.edge, size).map_err(missing)?;
                reached.push((cp, root));
            }
        }
        let coords: Vec<(u32, u64)> = computed.iter().map(|n| (n.level, n.index)).collect();
        let stored: HashMap<(u32, u64), Hash> = library
            .store
            .audit_nodes(&coords)
            .await?
            .into_iter()
            .map(|n| ((n.level, n.index), n.hash))
            .collect();
        if let Some(n) = computed
            .iter()
            .find(|n| stored.get(&(n.level, n.index)) != Some(&n.hash))
        {
            let first_below = n.index.checked_shl(n.level).unwrap_or(0).min(end);
            return Ok(self.problem(
                format!(
                    "audit tree node ({}, {}) does not match the entries below it",
                    n.level, n.index
                ),
                None,
                first_below,
            ));
        }
        for (cp, root) in reached {
            if let Some(problem) = library.check_checkpoint(&cp, &root).await? {
                let proven = self.proven;
                return Ok(self.problem(problem, None, proven));
            }
            self.checkpoints_checked += 1;
            self.proven = cp.tree_size;
        }
        self.size = size;
        self.after_seq = after_seq;
        self.good = size;
        Ok(Step::Walked)
    }
}

/// The serve loop's part of the background check: a `sweep_audit` round
/// every `interval`, until `stop` turns true.
pub async fn run_audit_sweeper(
    library: Library,
    interval: std::time::Duration,
    batch: u32,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if let Err(e) = library.sweep_audit(batch).await {
            tracing::error!(error = %e, "audit log check failed");
        }
    }
}

impl Library {
    /// Rebuild the tree from the audit events and hold it against the stored
    /// leaves, nodes and signed checkpoints. Stops at the first problem;
    /// `entries_checked` then counts the entries known good before it.
    pub async fn verify_audit(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let mut walk = AuditWalk::from_start();
        loop {
            let step = walk.step(self, CHUNK).await?;
            report.entries_checked = walk.good;
            report.checkpoints_checked = walk.checkpoints_checked;
            match step {
                Step::Walked => continue,
                Step::Problem(p) => {
                    report.problem = Some(p.message);
                    return Ok(report);
                }
                Step::End => {}
            }
            match self.checkpoint_beyond(walk.size).await? {
                Beyond::Nothing => break,
                // The tree grew while it was walked (a server is running):
                // walk on to the checkpoint.
                Beyond::Grown => continue,
                Beyond::Deleted(problem) => {
                    report.problem = Some(problem);
                    return Ok(report);
                }
            }
        }
        let mut after_seq = walk.after_seq;
        loop {
            let page = self.store.audit_events(after_seq, CHUNK).await?;
            let Some(last) = page.last() else { break };
            after_seq = last.seq;
            report.pending += page.len() as u64;
        }
        Ok(report)
    }

    /// Is a signed checkpoint beyond the `size` entries walked? Read before
    /// the tree's head, so a checkpoint made meanwhile finds its leaves there.
    pub(super) async fn checkpoint_beyond(&self, size: u64) -> Result<Beyond> {
        let Some(cp) = self
            .store
            .audit_checkpoints(size + 1, 1)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Beyond::Nothing);
        };
        if self.store.audit_tree_head().await?.size > size {
            return Ok(Beyond::Grown);
        }
        Ok(Beyond::Deleted(format!(
            "checkpoint at tree size {} is beyond the {size} entries in the tree: entries were deleted",
            cp.tree_size
        )))
    }

    /// The signed checkpoints of tree sizes `from..=to`.
    pub(super) async fn checkpoints_within(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Vec<AuditCheckpoint>> {
        let mut found: Vec<AuditCheckpoint> = Vec::new();
        loop {
            let start = found.last().map_or(from, |c| c.tree_size + 1);
            if start > to {
                return Ok(found);
            }
            let page = self.store.audit_checkpoints(start, CHUNK).await?;
            let full = page.len() == CHUNK as usize;
            let mut past = false;
            for cp in page {
                if cp.tree_size > to {
                    past = true;
                    break;
                }
                found.push(cp);
            }
            if past || !full {
                return Ok(found);
            }
        }
    }

    /// One round of the background check of the audit log (`serve` runs it
    /// every `audit_sweep_interval`): every entry added to the tree since the
    /// last round, then the next `batch` entries of the pass over the whole
    /// log, which starts over at the first entry when it reaches the end.
    /// Each entry's event is hashed again and held against its leaf, the
    /// nodes above against the stored ones, and each signed checkpoint passed
    /// against the recomputed root. The first problem is logged (naming the
    /// entry and its seq), kept, and shown by `/metrics`.
    pub async fn sweep_audit(&self, batch: u32) -> Result<AuditIntegrity> {
        let batch = batch.max(1);
        let mut walks = self.audit_sweep.walks.lock().await;
        // New entries, promptly (bounded, so one round stays short).
        let mut tail = match walks.tail.take() {
            Some(w) => w,
            None => AuditWalk::at(self, self.store.audit_tree_head().await?.size).await?,
        };
        let mut budget = u64::from(batch) * 4;
        loop {
            let before = tail.size;
            match tail.step(self, batch).await? {
                Step::Walked => {
                    self.audit_sweep.checked(tail.size - before, None);
                    budget = budget.saturating_sub(tail.size - before);
                    if budget == 0 {
                        walks.tail = Some(tail);
                        break;
                    }
                }
                Step::End => {
                    walks.tail = Some(tail);
                    break;
                }
                // Found: the walk is spent; the next round follows the
                // tree from its head again.
                Step::Problem(p) => {
                    self.audit_sweep.found(p);
                    break;
                }
            }
        }
        // The whole log, a batch at a time.
        let mut rescan = walks.rescan.take().unwrap_or_else(AuditWalk::from_start);
        let before = rescan.size;
        match rescan.step(self, batch).await? {
            Step::Walked => {
                self.audit_sweep
                    .checked(rescan.size - before, Some(rescan.size));
                walks.rescan = Some(rescan);
            }
            Step::End => match self.checkpoint_beyond(rescan.size).await? {
                Beyond::Nothing => self.audit_sweep.pass_done(),
                Beyond::Grown => walks.rescan = Some(rescan),
                Beyond::Deleted(message) => {
                    self.audit_sweep.found(AuditProblem { message, seq: None });
                }
            },
            Step::Problem(p) => self.audit_sweep.found(p),
        }
        Ok(self.audit_integrity())
    }

    /// What the background check has found so far.
    pub fn audit_integrity(&self) -> AuditIntegrity {
        self.audit_sweep
            .status
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }
}
