//! The tamper-evident audit log (Art. 21): every audit event becomes a leaf
//! of an SM3 Merkle tree in the RFC 9162 shape; the library signs checkpoints
//! (tree size + root); anyone can ask for inclusion and consistency proofs;
//! `verify` rebuilds everything from the events and names the first entry
//! that does not fit.
//!
//! A checkpoint is a C2SP signed note (c2sp.org/tlog-checkpoint over
//! c2sp.org/signed-note): the text is the origin, the tree size, the base64
//! root and one extension line `time <RFC 3339>`; it is signed twice, both
//! lines under the origin as key name: an Ed25519 line (signature type 0x01,
//! what any note verifier checks, by a key derived from the master key) and
//! an SM2 line by the region authority's SM2 key (type 0xff followed by the
//! SM2-with-SM3 OID, see [`sm2_note_key_id`], which note verifiers skip as
//! an unknown key). The tree hashes with SM3, not SHA-256: the origin says
//! so (`…/audit-sm3/…`). Checkpoints signed before this format (`legacy`:
//! the text `zhengzhao audit log 150000`, size and root, with a detached SM2
//! signature and no time) are still served and checked as they were made.
//!
//! The tree is appended by an integrator (here, `integrate`), not by the
//! writes themselves, so the hot path pays nothing for it; the serve loop runs
//! it every few seconds and before every checkpoint and proof.

use super::{Actor, Library};
use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use zhengzhao_crypto::ed25519::VcKey;
use zhengzhao_crypto::merkle::{self, Fetched, Hash, Missing, NodeSource, Recorder};
use zhengzhao_crypto::note::{self, NoteSignature};
use zhengzhao_crypto::sm2sig::PublicKey;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_store::{AuditCheckpoint, AuditLeaf, AuditNode, AuditRecord, ChangeLog, StoreError};

/// First line of the checkpoints of the legacy format (before signed notes).
pub const LEGACY_ORIGIN: &str = "zhengzhao audit log 150000";
/// What follows the signature type byte 0xff in the SM2 line's key ID: the
/// OID of SM2-with-SM3 (GB/T 35276; distinguishing id 1234567812345678).
pub const SM2_NOTE_TYPE: &str = "1.2.156.10197.1.501";
/// The label the checkpoints' Ed25519 key is derived under (with the master key).
const CHECKPOINT_KEY_LABEL: &[u8] = b"zhengzhao audit checkpoint ed25519 v1";
/// Events integrated per store round trip.
const CHUNK: u32 = 1000;

/// The bytes a leaf hashes: the event's RFC 8785 JSON, its sequence number
/// included, so that the order of the log is part of what is proven.
pub fn leaf_entry(record: &AuditRecord) -> Result<String> {
    // Through a JSON value, for the RFC 8785 fast path (same bytes; see
    // `canonical_json_value`): integrating a large log is mostly this.
    let value = serde_json::to_value(record).map_err(|e| Error::Internal(e.to_string()))?;
    zhengzhao_crypto::canonical_json_value(&value).map_err(|e| Error::Internal(e.to_string()))
}

pub fn leaf_hash(record: &AuditRecord) -> Result<Hash> {
    Ok(merkle::leaf_hash(leaf_entry(record)?.as_bytes()))
}

/// The text both signatures of a checkpoint cover (a C2SP tlog-checkpoint
/// body): origin, tree size, base64 root, and the time it was signed (UTC,
/// whole seconds) as an extension line.
pub fn checkpoint_note(origin: &str, size: u64, root: &Hash, at: jiff::Timestamp) -> String {
    format!("{origin}\n{size}\n{}\ntime {at}\n", B64.encode(root))
}

/// The text of a legacy checkpoint (signed before checkpoints were signed
/// notes): a fixed origin with spaces, size and root, no time.
pub fn legacy_checkpoint_note(size: u64, root: &Hash) -> String {
    format!("{LEGACY_ORIGIN}\n{size}\n{}\n", B64.encode(root))
}

/// The key ID of a checkpoint's SM2 line, made as c2sp.org/signed-note
/// recommends for a signature type without an assigned byte:
/// SHA-256(key name ‖ 0x0A ‖ 0xff ‖ "1.2.156.10197.1.501" ‖ the 65-byte
/// uncompressed SEC1 SM2 public key)[:4]. A note verifier that knows only
/// the Ed25519 key ignores the line.
pub fn sm2_note_key_id(key_name: &str, sec1_public_key: &[u8]) -> [u8; 4] {
    let mut signature_type = vec![note::UNASSIGNED];
    signature_type.extend_from_slice(SM2_NOTE_TYPE.as_bytes());
    note::key_id(key_name, &signature_type, sec1_public_key)
}

/// The origin of this library's checkpoints, also the key name of their
/// signature lines: stable for as long as the master key is (the same for
/// `serve` and the command line, whatever the public URL), unique per
/// library, free of spaces, and saying that the tree hashes with SM3.
fn origin_of(key: &VcKey) -> String {
    let id = zhengzhao_crypto::ed25519::sha256(&key.public_key());
    format!(
        "zhengzhao/audit-sm3/{REGION_CODE}/{}",
        hex::encode(&id[..8])
    )
}

/// The two forms a stored checkpoint can have.
enum StoredForm<'a> {
    /// The text alone (`note`), SM2 signature in `signature`.
    Legacy,
    /// A signed note: its text and signature lines.
    Note {
        text: &'a str,
        signatures: Vec<NoteSignature>,
    },
}

/// Which form `cp` is in. A legacy text has no blank line; every signed note has one.
fn stored_form(cp: &AuditCheckpoint) -> Result<StoredForm<'_>, String> {
    if !cp.note.contains("\n\n") {
        return Ok(StoredForm::Legacy);
    }
    note::parse(&cp.note)
        .map(|(text, signatures)| StoredForm::Note { text, signatures })
        .map_err(|e| {
            format!(
                "checkpoint at tree size {} is not a well-formed signed note: {e}",
                cp.tree_size
            )
        })
}

/// The origin line of a checkpoint text.
fn origin_line(text: &str) -> &str {
    text.split('\n').next().unwrap_or_default()
}

fn missing(e: Missing) -> Error {
    Error::Internal(e.to_string())
}

/// A checkpoint as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    pub tree_size: u64,
    /// Base64 of the SM3 root hash.
    pub root_hash: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    /// `c2sp-tlog-checkpoint`: a C2SP signed note (`signed_note`) with an
    /// Ed25519 and an SM2 line. `legacy`: signed before checkpoints were
    /// signed notes; `note` with the SM2 `signature` alone, no time inside.
    pub format: &'static str,
    /// The log's origin, also the key name of the signature lines (absent on
    /// legacy checkpoints).
    pub origin: Option<String>,
    /// The exact text that was signed (the note's text, final newline included).
    pub note: String,
    /// The whole signed note: `note`, a blank line, the Ed25519 line and the
    /// SM2 line (absent on legacy checkpoints).
    pub signed_note: Option<String>,
    /// Base64 of the DER SM2-with-SM3 signature over `note` (distid 1234567812345678).
    pub signature: String,
    /// The SM2 signer's certificate (PEM).
    pub certificate: String,
}

/// The Ed25519 key that signs checkpoints, as note verifiers take it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VerifierKey {
    /// The checkpoints' origin and the key name of their signature lines.
    pub origin: String,
    /// The verifier key in the signed-note format,
    /// `<name>+<hex key ID>+<base64(0x01 ‖ public key)>` (what Go's
    /// `golang.org/x/mod/sumdb/note.NewVerifier` reads).
    pub vkey: String,
    /// `Ed25519`.
    pub algorithm: &'static str,
    /// Base64 of the 32-byte public key.
    pub public_key: String,
}

/// What `audit verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    /// Events newer than the tree (not integrated yet); nothing to check.
    pub pending: u64,
    /// The first entry or checkpoint that does not fit, if any.
    pub problem: Option<String>,
}

/// A problem the audit check found, and the seq of the entry to blame when
/// it is one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditProblem {
    pub message: String,
    pub seq: Option<i64>,
}

/// What the background check (`sweep_audit`) has found since the start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditIntegrity {
    /// Entries hashed again (an entry counts each time it is checked).
    pub entries_checked: u64,
    /// Completed passes over the whole log.
    pub passes: u64,
    /// Entries the current pass has reached.
    pub position: u64,
    /// The first problem found; it stays until the server restarts.
    pub problem: Option<AuditProblem>,
}

/// The background check's walks and findings, shared by a library's clones.
#[derive(Default)]
pub struct AuditSweep {
    walks: tokio::sync::Mutex<SweepWalks>,
    status: std::sync::Mutex<AuditIntegrity>,
}

#[derive(Default)]
struct SweepWalks {
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
struct AuditWalk {
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

enum Step {
    Walked,
    End,
    Problem(AuditProblem),
}

enum Beyond {
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

impl Library {
    /// Run `compute` over the stored nodes it needs, fetched in one query.
    async fn with_nodes<T>(
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

    /// The Ed25519 key of the checkpoints, derived from the master key (like
    /// the VC keys, under its own label): nothing to store or back up, and
    /// the same after a restore.
    fn checkpoint_key(&self) -> Result<VcKey> {
        let master = self.master_key()?;
        let seed = zhengzhao_crypto::sm3(&[CHECKPOINT_KEY_LABEL, &master.to_bytes()[..]].concat());
        Ok(VcKey::from_seed(&seed))
    }

    /// The origin of the checkpoints this library signs.
    pub fn audit_origin(&self) -> Result<String> {
        Ok(origin_of(&self.checkpoint_key()?))
    }

    /// The checkpoints' Ed25519 verifier key (published at
    /// `/api/v1/audit/verifier-key` and by `zhengzhao audit verifier-key`).
    pub fn audit_verifier_key(&self) -> Result<VerifierKey> {
        let key = self.checkpoint_key()?;
        let origin = origin_of(&key);
        Ok(VerifierKey {
            vkey: note::ed25519_vkey(&origin, &key.public_key()),
            origin,
            algorithm: "Ed25519",
            public_key: B64.encode(key.public_key()),
        })
    }

    /// Sign a checkpoint of the whole log as it stands, unless the last one
    /// already covers it (apart from the event that recorded that checkpoint).
    pub async fn checkpoint_audit(&self, actor: &Actor) -> Result<AuditCheckpoint> {
        let size = self.integrate_audit().await?;
        if let Some(last) = self.store.latest_audit_checkpoint().await?
            && (last.tree_size == size
                // A legacy checkpoint is followed by a signed note as soon
                // as the log has grown at all.
                || (!matches!(stored_form(&last), Ok(StoredForm::Legacy))
                    && self
                        .only_checkpoint_events_since(last.tree_size, size)
                        .await?))
        {
            return Ok(last);
        }
        let root = self.audit_root(size).await?;
        let region = OrgCode::parse(REGION_CODE).map_err(|e| Error::Internal(e.to_string()))?;
        let org = self
            .cached_org(&region)
            .await?
            .ok_or_else(|| Error::Internal("the region org is missing".into()))?;
        let key = self.signer_for(&org).await?;
        let ed25519 = self.checkpoint_key()?;
        let origin = origin_of(&ed25519);
        // Whole seconds, so the time in the text is exactly the stored one.
        let created_at = jiff::Timestamp::from_second(self.now().as_second())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let text = checkpoint_note(&origin, size, &root, created_at);
        let signature = key
            .pair
            .sign(text.as_bytes())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let lines = [
            NoteSignature {
                key_name: origin.clone(),
                key_id: note::key_id(&origin, &[note::ED25519], &ed25519.public_key()),
                signature: ed25519.sign(text.as_bytes()).to_vec(),
            },
            NoteSignature {
                key_name: origin.clone(),
                key_id: sm2_note_key_id(&origin, &key.pair.public_key().to_sec1()),
                signature: signature.clone(),
            },
        ];
        let signed = note::sign_text(&text, &lines).map_err(|e| Error::Internal(e.to_string()))?;
        let cp = AuditCheckpoint {
            tree_size: size,
            root,
            created_at,
            key_id: key.id,
            note: signed,
            signature,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "audit.checkpoint",
            format!("audit_tree:{size}"),
            json!({"tree_size": size, "root_hash": B64.encode(root), "origin": origin}),
        ));
        match self.store.add_audit_checkpoint(&cp, &log).await {
            Ok(()) => Ok(cp),
            // A concurrent checkpoint of the same size: that one stands.
            Err(StoreError::Conflict(_)) => self
                .store
                .latest_audit_checkpoint()
                .await?
                .ok_or_else(|| Error::Internal("checkpoint vanished".into())),
            Err(e) => Err(e.into()),
        }
    }

    /// The start-up check (as a transparency log does before it accepts
    /// writes): the stored tree must still have the root that the latest
    /// checkpoint signed, and the signature must hold. A full check of every
    /// entry is `verify_audit`.
    pub async fn check_audit_head(&self) -> Result<()> {
        let Some(cp) = self.store.latest_audit_checkpoint().await? else {
            return Ok(());
        };
        let root = self.audit_root(cp.tree_size).await?;
        match self.check_checkpoint(&cp, &root).await? {
            None => Ok(()),
            Some(problem) => Err(Error::Internal(format!(
                "{problem}; run `zhengzhao audit verify` to find the first bad entry"
            ))),
        }
    }

    async fn only_checkpoint_events_since(&self, from: u64, to: u64) -> Result<bool> {
        if to != from + 1 {
            return Ok(false);
        }
        let Some(leaf) = self.store.audit_leaves(from, 1).await?.into_iter().next() else {
            return Ok(false);
        };
        let event = self.store.audit_events(leaf.seq - 1, 1).await?;
        Ok(event
            .first()
            .is_some_and(|e| e.seq == leaf.seq && e.event.action == "audit.checkpoint"))
    }

    pub async fn checkpoint_view(&self, cp: &AuditCheckpoint) -> Result<CheckpointView> {
        let key =
            self.store.signing_key(cp.key_id).await?.ok_or_else(|| {
                Error::Internal(format!("checkpoint key {} is missing", cp.key_id))
            })?;
        let (format, origin, text, signed_note) = match stored_form(cp).map_err(Error::Internal)? {
            StoredForm::Legacy => ("legacy", None, cp.note.clone(), None),
            StoredForm::Note { text, .. } => (
                "c2sp-tlog-checkpoint",
                Some(origin_line(text).to_owned()),
                text.to_owned(),
                Some(cp.note.clone()),
            ),
        };
        Ok(CheckpointView {
            tree_size: cp.tree_size,
            root_hash: B64.encode(cp.root),
            created_at: cp.created_at,
            format,
            origin,
            note: text,
            signed_note,
            signature: B64.encode(&cp.signature),
            certificate: key.certificate_pem,
        })
    }

    /// The checkpoint signed at exactly `size` entries, if there is one.
    async fn checkpoint_at(&self, size: u64) -> Result<Option<CheckpointView>> {
        let found = self
            .store
            .audit_checkpoints(size, 1)
            .await?
            .into_iter()
            .find(|cp| cp.tree_size == size);
        match found {
            Some(cp) => Ok(Some(self.checkpoint_view(&cp).await?)),
            None => Ok(None),
        }
    }

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
    async fn checkpoint_beyond(&self, size: u64) -> Result<Beyond> {
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
    async fn checkpoints_within(&self, from: u64, to: u64) -> Result<Vec<AuditCheckpoint>> {
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

    /// A checkpoint against the root recomputed from the entries at its size:
    /// what its text states, its SM2 signature and, for a signed note, its
    /// Ed25519 line (when the master key is at hand to know the key: always
    /// in `serve`; the SM2 signature is checked regardless).
    async fn check_checkpoint(
        &self,
        cp: &AuditCheckpoint,
        recomputed_root: &Hash,
    ) -> Result<Option<String>> {
        let size = cp.tree_size;
        if *recomputed_root != cp.root {
            return Ok(Some(format!(
                "checkpoint at tree size {size} does not match the entries: one of entries 1-{size} was altered, deleted, inserted or reordered"
            )));
        }
        let form = match stored_form(cp) {
            Ok(form) => form,
            Err(problem) => return Ok(Some(problem)),
        };
        let text = match &form {
            StoredForm::Legacy => cp.note.as_str(),
            StoredForm::Note { text, .. } => text,
        };
        let expected = match &form {
            StoredForm::Legacy => legacy_checkpoint_note(size, &cp.root),
            StoredForm::Note { text, .. } => {
                checkpoint_note(origin_line(text), size, &cp.root, cp.created_at)
            }
        };
        if text != expected {
            return Ok(Some(format!(
                "checkpoint at tree size {size} states something else than its size, root and time"
            )));
        }
        let key = self.store.signing_key(cp.key_id).await?;
        let public = key.and_then(|k| PublicKey::from_sec1(&k.public_key).ok());
        let verified = public
            .as_ref()
            .is_some_and(|pk| pk.verify(text.as_bytes(), &cp.signature).is_ok());
        if !verified {
            return Ok(Some(format!(
                "checkpoint at tree size {size} is not signed by its key"
            )));
        }
        let StoredForm::Note { text, signatures } = form else {
            return Ok(None);
        };
        let origin = origin_line(text);
        // The SM2 line is the signature checked above, under its key's ID.
        let sm2_line = public.map(|pk| NoteSignature {
            key_name: origin.to_owned(),
            key_id: sm2_note_key_id(origin, &pk.to_sec1()),
            signature: cp.signature.clone(),
        });
        if !sm2_line.is_some_and(|line| signatures.contains(&line)) {
            return Ok(Some(format!(
                "checkpoint at tree size {size} lacks its SM2 signature line"
            )));
        }
        if let Ok(key) = self.checkpoint_key() {
            let public = key.public_key();
            let id = note::key_id(origin, &[note::ED25519], &public);
            let ed25519_ok = origin == origin_of(&key)
                && signatures
                    .iter()
                    .find(|s| s.key_name == origin && s.key_id == id)
                    .is_some_and(|s| {
                        zhengzhao_crypto::ed25519::verify(&public, text.as_bytes(), &s.signature)
                    });
            if !ed25519_ok {
                return Ok(Some(format!(
                    "checkpoint at tree size {size} is not signed by the log's Ed25519 key"
                )));
            }
        }
        Ok(None)
    }

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

/// The serve loop's part: integrate new events every few seconds, and sign a
/// checkpoint every `interval`, until `stop` turns true.
pub async fn run_checkpointer(
    library: Library,
    interval: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let integrate_every = std::time::Duration::from_secs(2).min(interval);
    let mut last_checkpoint = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(integrate_every) => {}
        }
        if let Err(e) = library.integrate_audit().await {
            tracing::error!(error = %e, "audit log integration failed");
            continue;
        }
        if last_checkpoint.elapsed() >= interval {
            last_checkpoint = tokio::time::Instant::now();
            if let Err(e) = library.checkpoint_audit(&Actor::system()).await {
                tracing::error!(error = %e, "audit checkpoint failed");
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use zhengzhao_store::AuditEvent;

    /// Leaves must never change bytes: stored trees depend on them.
    #[test]
    fn leaf_entries_are_the_records_rfc8785_json() {
        let record = AuditRecord {
            seq: 42,
            event: AuditEvent {
                id: uuid::Uuid::nil(),
                at: jiff::Timestamp::from_second(1_700_000_000)
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
                actor: "token:测试".into(),
                org: Some("150102".into()),
                role: None,
                client_addr: Some("127.0.0.1".into()),
                action: "license.issue".into(),
                target: "license:x".into(),
                outcome: "success".into(),
                reason: Some("原因\n\"引号\"".into()),
                detail: json!({"version": 1, "面": ["a", null, true], "zeta": {"b": 2, "a": 1}}),
            },
        };
        assert_eq!(
            leaf_entry(&record).unwrap_or_default(),
            zhengzhao_crypto::canonical_json(&record).unwrap_or_default()
        );
    }
}
