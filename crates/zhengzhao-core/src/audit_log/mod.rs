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

mod checkpoints;
mod proofs;
mod tree;
mod walk;

use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
pub use checkpoints::*;
pub use proofs::*;
use serde::Serialize;
pub use walk::*;
use zhengzhao_crypto::ed25519::VcKey;
use zhengzhao_crypto::merkle::{self, Hash, Missing};
use zhengzhao_crypto::note::{self, NoteSignature};
use zhengzhao_domain::org::REGION_CODE;
use zhengzhao_store::{AuditCheckpoint, AuditRecord};

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
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
