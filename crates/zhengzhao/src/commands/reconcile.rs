//! `zhengzhao reconcile EXPORT --system NAME`: a business system's export
//! against the library (Art. 7; `zhengzhao_core::reconcile`). Every row
//! that is not alike is printed as a JSON line (missing, differs with its
//! fields, rejected), then every license of the system the export lacks
//! (extra); a summary goes to standard error. `--repair` issues what is
//! missing and corrects what differs; extra licenses are revoked only with
//! `--revoke-extra`. Exit status 0 when all is alike (or repaired), 2 when
//! differences remain.

use super::import::{Format, Row, clerk_for, format_of, read_rows};
use crate::errors::fail;
use crate::library;
use clap::Args;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use zhengzhao_core::reconcile::ReconcileOutcome;
use zhengzhao_core::{Library, Principal};
use zhengzhao_http::ServerConfig;

#[derive(Debug, Clone, Args)]
pub(crate) struct ReconcileArgs {
    /// The business system's export (JSON Lines or CSV, as for `import`)
    pub file: PathBuf,
    /// The business system: the `source.system` of its rows
    #[arg(long)]
    pub system: String,
    /// The file's format [default: by its extension]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Issue what is missing and correct what differs (a correction worded "reconcile: …")
    #[arg(long)]
    pub repair: bool,
    /// Also revoke what the library holds and the export lacks
    #[arg(long)]
    pub revoke_extra: bool,
    /// The base URL the licenses link to (needed with --repair)
    #[arg(long, env = "ZHENGZHAO_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// Differences remain (exit status 2).
#[derive(Debug)]
pub(crate) struct Unreconciled(pub u64);

impl std::fmt::Display for Unreconciled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} 处与业务系统不一致 / {} differences remain",
            self.0, self.0
        )
    }
}

impl std::error::Error for Unreconciled {}

#[derive(Default)]
struct Tally {
    read: u64,
    same: u64,
    missing: u64,
    differs: u64,
    extra: u64,
    rejected: u64,
    issued: u64,
    updated: u64,
    revoked: u64,
}

pub(crate) async fn reconcile(config: &ServerConfig, args: ReconcileArgs) -> anyhow::Result<()> {
    let mut library = library(config).await?;
    if args.repair || args.revoke_extra {
        let Some(url) = args
            .public_url
            .clone()
            .or_else(|| config.public_url.clone())
        else {
            return Err(fail(
                "修复须指定证照中的公开地址：--public-url 或配置文件中的 public_url",
                "--repair needs the public URL the licenses link to: --public-url, or public_url in the config file",
            ));
        };
        library = library.with_public_url(&url);
    }
    let format = format_of(&args.file, args.format);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Row>(1024);
    let reader = {
        let file = args.file.clone();
        std::thread::spawn(move || {
            read_rows(
                &file,
                format,
                &tx,
                &AtomicU64::new(0),
                &AtomicBool::new(false),
            )
        })
    };
    let principals: Arc<std::sync::Mutex<HashMap<String, Principal>>> = Arc::default();
    let mut t = Tally::default();
    // The export's record ids: what is not among them is extra.
    let mut seen: HashSet<String> = HashSet::new();
    let mut batch = Vec::new();
    loop {
        let next = rx.recv().await;
        let done = next.is_none();
        if let Some((n, row)) = next {
            if let Ok(v) = &row
                && let Some(r) = v["source"]["record_id"].as_str()
            {
                seen.insert(r.to_owned());
            }
            batch.push((n, row));
        }
        // A few rows at a time, in order: reconciliation is read-mostly.
        if batch.len() >= 64 || (done && !batch.is_empty()) {
            let rows = std::mem::take(&mut batch);
            let checks = rows.into_iter().map(|(n, row)| {
                let (library, principals, system) = (&library, principals.clone(), &args.system);
                async move {
                    let outcome = match row {
                        Err(why) => Ok(ReconcileOutcome::Rejected {
                            problem: "malformed".into(),
                            fields: vec![why],
                        }),
                        Ok(v) => {
                            let caller = clerk_for(&principals, &v);
                            library.reconcile_row(&caller, system, v, args.repair).await
                        }
                    };
                    (n, outcome)
                }
            });
            for (n, outcome) in futures_util::future::join_all(checks).await {
                let outcome = outcome?;
                t.count(&outcome);
                if !matches!(outcome, ReconcileOutcome::Same { .. }) {
                    println!("{}", serde_json::json!({"row": n, "outcome": outcome}));
                }
            }
        }
        if done {
            break;
        }
    }
    reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread failed"))??;
    extra(&library, &args, &seen, &principals, &mut t).await?;
    eprintln!(
        "read {}: same {}, missing {}, differing {}, extra {}, rejected {}; issued {}, updated {}, revoked {}",
        t.read, t.same, t.missing, t.differs, t.extra, t.rejected, t.issued, t.updated, t.revoked
    );
    let left =
        (t.missing - t.issued) + (t.differs - t.updated) + (t.extra - t.revoked) + t.rejected;
    if left > 0 {
        return Err(Unreconciled(left).into());
    }
    Ok(())
}

impl Tally {
    fn count(&mut self, outcome: &ReconcileOutcome) {
        self.read += 1;
        match outcome {
            ReconcileOutcome::Same { .. } => self.same += 1,
            ReconcileOutcome::Missing { issued, .. } => {
                self.missing += 1;
                self.issued += u64::from(issued.is_some());
            }
            ReconcileOutcome::Differs { updated, .. } => {
                self.differs += 1;
                self.updated += u64::from(updated.is_some());
            }
            ReconcileOutcome::Rejected { .. } => self.rejected += 1,
            ReconcileOutcome::Extra { .. } => {}
        }
    }
}

/// The system's licenses the export lacks (revoked with `--revoke-extra`).
async fn extra(
    library: &Library,
    args: &ReconcileArgs,
    seen: &HashSet<String>,
    principals: &std::sync::Mutex<HashMap<String, Principal>>,
    t: &mut Tally,
) -> anyhow::Result<()> {
    let mut after: Option<String> = None;
    loop {
        let page = library
            .source_records(&args.system, after.as_deref(), 2000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.record_id.clone());
        // A revoked license the export lacks is in line already.
        for r in page
            .iter()
            .filter(|r| !r.revoked && !seen.contains(&r.record_id))
        {
            t.extra += 1;
            let id = r.license_id.to_string();
            let mut revoked = false;
            if args.revoke_extra {
                let (l, _) = library.find_license(&id).await?;
                let caller = clerk_for(principals, &serde_json::json!({"issuer": l.issuer}));
                library.revoke_extra(&caller, &id).await?;
                revoked = true;
                t.revoked += 1;
            }
            let outcome = ReconcileOutcome::Extra {
                record_id: r.record_id.clone(),
                license_id: id,
                revoked,
            };
            println!("{}", serde_json::json!({"outcome": outcome}));
        }
    }
    Ok(())
}
