//! What a restore checks before it reports success: besides the audit log
//! (`audit_log::verify_audit`), every signature of every license version.

use super::Library;
use crate::Result;
use std::collections::HashMap;
use zhengzhao_crypto::sm2sig::PublicKey;
use zhengzhao_store::LicenseFilter;

/// What `verify_license_signatures` found.
#[derive(Debug, Clone, Default)]
pub struct SignatureReport {
    pub licenses: u64,
    pub versions: u64,
    /// The first version whose signature does not verify, if any.
    pub problem: Option<String>,
    /// Licenses whose stored data cannot be read (a sealed value under an
    /// unknown data key, or one that does not open), by the identifier of
    /// the version that failed. Each is logged and left out of the check
    /// (and of `licenses`/`versions`); the others are checked all the same.
    pub unreadable: Vec<String>,
}

impl Library {
    /// Check every stored license version's signature over its payload
    /// against the public key it names (the master key opens sealed
    /// personal fields first). A license that cannot be read never stops
    /// the check: it is logged and named in `unreadable`.
    pub async fn verify_license_signatures(&self) -> Result<SignatureReport> {
        let mut report = SignatureReport::default();
        let mut keys: HashMap<uuid::Uuid, Option<PublicKey>> = HashMap::new();
        let mut before = None;
        loop {
            // Opened: sealed personal fields back in, so the payload is
            // the text that was signed.
            let opened = self
                .open_page(&LicenseFilter::default(), before, 500)
                .await?;
            let Some(last) = opened.next_before else {
                return Ok(report);
            };
            before = Some(last);
            report.unreadable.extend(opened.unreadable);
            let page = opened.licenses;
            for license in &page {
                for v in &license.versions {
                    if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(v.key_id) {
                        let key = self.store.signing_key(v.key_id).await?;
                        slot.insert(key.and_then(|k| PublicKey::from_sec1(&k.public_key).ok()));
                    }
                }
            }
            // SM2 verification is the cost of a restore: spread it over the cores.
            let versions: Vec<&zhengzhao_store::LicenseVersionRecord> =
                page.iter().flat_map(|l| l.versions.iter()).collect();
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let chunk = versions.len().div_ceil(threads).max(1);
            let keys = &keys;
            let bad = std::thread::scope(|scope| {
                let workers: Vec<_> = versions
                    .chunks(chunk)
                    .map(|part| {
                        scope.spawn(move || {
                            part.iter()
                                .find(|v| {
                                    keys.get(&v.key_id)
                                        .and_then(Option::as_ref)
                                        .is_none_or(|pk| {
                                            pk.verify(v.payload.as_bytes(), &v.signature).is_err()
                                        })
                                })
                                .map(|v| (v.license_id.to_string(), v.key_id))
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| {
                        w.join().unwrap_or(Some((
                            "(a verifying thread failed)".into(),
                            uuid::Uuid::nil(),
                        )))
                    })
                    .find_map(|found| found)
            });
            if let Some((id, key)) = bad {
                report.problem = Some(format!(
                    "license version {id} does not verify under key {key}"
                ));
                return Ok(report);
            }
            report.licenses += page.len() as u64;
            report.versions += versions.len() as u64;
        }
    }
}

/// Prefix of the files scheduled backups write; the rest is a UTC time, so
/// that names sort by age.
pub const SCHEDULED_PREFIX: &str = "zhengzhao-";

/// Take one scheduled backup into `dir` and keep only the newest `keep`.
pub async fn scheduled_backup(
    library: &Library,
    dir: &std::path::Path,
    keep: usize,
) -> Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::Error::Internal(format!("{}: {e}", dir.display())))?;
    let name = format!(
        "{SCHEDULED_PREFIX}{}.db",
        library.now().strftime("%Y%m%dT%H%M%S%.6fZ")
    );
    let path = dir.join(&name);
    // Written under another name and renamed when complete, so a listing
    // (or the pruning below) never takes a half-written file for a backup.
    let partial = dir.join(format!(".{name}.partial"));
    library.store.backup_to(&partial).await?;
    std::fs::rename(&partial, &path)
        .map_err(|e| crate::Error::Internal(format!("{}: {e}", path.display())))?;
    let mut taken: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| crate::Error::Internal(format!("{}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(".db"))
        })
        .collect();
    taken.sort();
    let surplus = taken.len().saturating_sub(keep.max(1));
    for old in taken.into_iter().take(surplus) {
        if let Err(e) = std::fs::remove_file(&old) {
            tracing::warn!(path = %old.display(), error = %e, "cannot remove an old backup");
        }
    }
    Ok(path)
}

/// The serve loop's part: a backup every `interval` until `stop` turns true.
pub async fn run_backups(
    library: Library,
    dir: std::path::PathBuf,
    interval: std::time::Duration,
    keep: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
        match scheduled_backup(&library, &dir, keep).await {
            Ok(path) => tracing::info!(path = %path.display(), "scheduled backup written"),
            Err(e) => tracing::error!(error = %e, "scheduled backup failed"),
        }
    }
}
