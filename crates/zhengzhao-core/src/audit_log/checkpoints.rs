//! Signed checkpoints (C2SP signed notes with an Ed25519 and an SM2 line):
//! signing them, checking them, the start-up check of the log's head, and
//! the loop that signs one at an interval.

use super::*;
use crate::{Actor, Library};
use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use zhengzhao_crypto::ed25519::VcKey;
use zhengzhao_crypto::merkle::Hash;
use zhengzhao_crypto::note::{self, NoteSignature};
use zhengzhao_crypto::sm2sig::PublicKey;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_store::{AuditCheckpoint, ChangeLog, StoreError};

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

impl Library {
    /// The Ed25519 key of the checkpoints, derived from the master key (like
    /// the VC keys, under its own label): nothing to store or back up, and
    /// the same after a restore.
    pub(super) fn checkpoint_key(&self) -> Result<VcKey> {
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

    pub(super) async fn only_checkpoint_events_since(&self, from: u64, to: u64) -> Result<bool> {
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
    pub(super) async fn checkpoint_at(&self, size: u64) -> Result<Option<CheckpointView>> {
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

    /// A checkpoint against the root recomputed from the entries at its size:
    /// what its text states, its SM2 signature and, for a signed note, its
    /// Ed25519 line (when the master key is at hand to know the key: always
    /// in `serve`; the SM2 signature is checked regardless).
    pub(super) async fn check_checkpoint(
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
}
