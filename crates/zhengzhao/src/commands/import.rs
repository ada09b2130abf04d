//! `zhengzhao import FILE`: bulk aggregation from a business system's
//! export (JSON Lines, or CSV with a header; `zhengzhao_core::import`).
//!
//! One thread reads and parses the file into a bounded queue (so memory
//! stays flat whatever the file's size, and the reader waits when the
//! store is behind); worker tasks issue the rows, signing on every core;
//! one collector counts, writes rejected rows to the report (row number
//! and reason, never a value), shows progress and stops a file that is
//! mostly wrong. Rows are idempotent on their source record: an import
//! stopped half-way is run again, and what it already took is `unchanged`.

use crate::errors::fail;
use crate::library;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use zhengzhao_core::import::{RowOutcome, check_csv_header, csv_row};
use zhengzhao_core::{Library, Principal};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_http::ServerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct ImportArgs {
    /// The export: JSON Lines (each line the object POST /api/v1/licenses
    /// takes) or CSV with a header (columns: see the README)
    pub file: PathBuf,
    /// The file's format [default: by its extension, .csv or else JSON Lines]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Check every row, write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Where rejected rows are reported (row number and reason, no data)
    /// [default: FILE.rejected.jsonl]
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Stop when more than this share of the rows so far (after 100) is rejected
    #[arg(long, default_value_t = 0.5)]
    pub max_reject_ratio: f64,
    /// Rows in progress at once [default: 64 per core]
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// The base URL the licenses link to (as `serve --public-url`; or
    /// `public_url` in the config file): it is signed into every license
    #[arg(long, env = "ZHENGZHAO_PUBLIC_URL")]
    pub public_url: Option<String>,
}

/// Some rows were rejected (exit status 2; the others were taken).
#[derive(Debug)]
pub(crate) struct SomeRejected(pub u64);

impl std::fmt::Display for SomeRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} 行被拒绝，见报告文件 / {} rows rejected, see the report",
            self.0, self.0
        )
    }
}

impl std::error::Error for SomeRejected {}

/// A row read: its number (1 = the first data row) and its object, or why
/// it could not be read.
pub(crate) type Row = (u64, Result<Value, String>);

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    pub read: u64,
    pub imported: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

pub(crate) async fn import(config: &ServerConfig, args: ImportArgs) -> anyhow::Result<()> {
    // The links in each signed license (its check page, the status lists)
    // must be the public ones, not a default.
    let Some(url) = args
        .public_url
        .clone()
        .or_else(|| config.public_url.clone())
    else {
        return Err(fail(
            "导入须指定证照中的公开地址：--public-url 或配置文件中的 public_url",
            "import needs the public URL the licenses link to: --public-url, or public_url in the config file",
        ));
    };
    let library = library(config).await?.with_public_url(&url);
    let tally = run(&library, &args).await?;
    let verb = if args.dry_run {
        "would import"
    } else {
        "imported"
    };
    println!(
        "read {}, {verb} {}, unchanged {}, rejected {}",
        tally.read, tally.imported, tally.unchanged, tally.rejected
    );
    if tally.rejected > 0 {
        return Err(SomeRejected(tally.rejected).into());
    }
    Ok(())
}

/// The format asked for, else by the file's extension (`.csv`, else JSON Lines).
pub(crate) fn format_of(file: &Path, asked: Option<Format>) -> Format {
    asked.unwrap_or_else(|| {
        if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            Format::Csv
        } else {
            Format::Jsonl
        }
    })
}

/// The whole import; also what `bench import` times.
pub(crate) async fn run(library: &Library, args: &ImportArgs) -> anyhow::Result<Tally> {
    let size = std::fs::metadata(&args.file)
        .map_err(|e| {
            fail(
                format!("无法读取 {}：{e}", args.file.display()),
                format!("cannot read {}: {e}", args.file.display()),
            )
        })?
        .len();
    let report_path = args.report.clone().unwrap_or_else(|| {
        let mut p = args.file.clone().into_os_string();
        p.push(".rejected.jsonl");
        PathBuf::from(p)
    });
    let mut report = std::io::BufWriter::new(std::fs::File::create(&report_path)?);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = args.concurrency.unwrap_or(64 * cores).max(1);
    let (rows_tx, rows_rx) = tokio::sync::mpsc::channel::<Row>(4 * workers);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<(u64, RowOutcome)>(4 * workers);
    let bytes_read = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (file, format) = (args.file.clone(), format_of(&args.file, args.format));
        let (bytes_read, stop) = (bytes_read.clone(), stop.clone());
        std::thread::spawn(move || read_rows(&file, format, &rows_tx, &bytes_read, &stop))
    };
    let rows_rx = Arc::new(tokio::sync::Mutex::new(rows_rx));
    let principals: Arc<std::sync::Mutex<HashMap<String, Principal>>> = Arc::default();
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (library, rows_rx, done_tx) = (library.clone(), rows_rx.clone(), done_tx.clone());
        let (principals, dry_run) = (principals.clone(), args.dry_run);
        tasks.push(tokio::spawn(async move {
            loop {
                let next = rows_rx.lock().await.recv().await;
                let Some((n, row)) = next else { return Ok(()) };
                let outcome = match row {
                    Err(why) => RowOutcome::Rejected {
                        problem: "malformed".into(),
                        fields: vec![why],
                    },
                    Ok(v) => {
                        let caller = clerk_for(&principals, &v);
                        library.import_row(&caller, v, dry_run).await?
                    }
                };
                if done_tx.send((n, outcome)).await.is_err() {
                    return Ok(());
                }
            }
        }));
    }
    drop(done_tx);
    let progress = Progress::new(size);
    let mut t = Tally::default();
    let mut aborted = None;
    while let Some((n, outcome)) = done_rx.recv().await {
        t.read += 1;
        match &outcome {
            RowOutcome::Imported { .. } => t.imported += 1,
            RowOutcome::Unchanged { .. } => t.unchanged += 1,
            RowOutcome::Rejected { .. } => {
                t.rejected += 1;
                let line = json!({"row": n, "outcome": outcome});
                writeln!(report, "{line}")?;
            }
        }
        progress.tick(bytes_read.load(Ordering::Relaxed), &t);
        if t.read >= 100 && (t.rejected as f64) > args.max_reject_ratio * t.read as f64 {
            stop.store(true, Ordering::Relaxed);
            aborted = Some(t);
            break;
        }
    }
    // Let the workers finish what they took, then close.
    drop(done_rx);
    let mut failure: Option<zhengzhao_core::Error> = None;
    for task in tasks {
        if let Ok(Err(e)) = task.await {
            failure.get_or_insert(e);
        }
    }
    progress.finish(&t);
    report.flush()?;
    let read = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the reader thread failed"))?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    if let Some(t) = aborted {
        return Err(fail(
            format!(
                "被拒绝的行超过 {:.0}%（{} 行中 {} 行），已停止；见 {}",
                args.max_reject_ratio * 100.0,
                t.read,
                t.rejected,
                report_path.display()
            ),
            format!(
                "stopped: more than {:.0} % of rows rejected ({} of {}); see {}",
                args.max_reject_ratio * 100.0,
                t.rejected,
                t.read,
                report_path.display()
            ),
        ));
    }
    read?;
    if t.rejected > 0 {
        eprintln!(
            "rejected rows: {} / 被拒绝的行见：{}",
            report_path.display(),
            report_path.display()
        );
    }
    Ok(t)
}

/// The issuing clerk of the row's issuer, at the command line.
pub(crate) fn clerk_for(
    cache: &std::sync::Mutex<HashMap<String, Principal>>,
    row: &Value,
) -> Principal {
    let issuer = row["issuer"].as_str().unwrap_or_default().to_owned();
    if let Ok(c) = cache.lock()
        && let Some(p) = c.get(&issuer)
    {
        return p.clone();
    }
    // An issuer that is no org code: the row is rejected by the use case,
    // which names the field; any org here will do.
    let org = OrgCode::parse(&issuer).unwrap_or_else(|_| OrgCode::region());
    let p = Principal {
        actor: zhengzhao_core::Actor::cli().id,
        org,
        roles: vec![Role::IssuerClerk],
        client_addr: None,
        session: None,
        scenario: None,
        holder: None,
    };
    if let Ok(mut c) = cache.lock() {
        c.insert(issuer, p.clone());
    }
    p
}

/// Read the file row by row into `tx` (blocking when the queue is full).
pub(crate) fn read_rows(
    file: &Path,
    format: Format,
    tx: &tokio::sync::mpsc::Sender<Row>,
    bytes_read: &AtomicU64,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let f = std::fs::File::open(file)?;
    match format {
        Format::Jsonl => {
            let mut r = std::io::BufReader::with_capacity(1 << 16, f);
            let (mut line, mut n) = (String::new(), 0u64);
            loop {
                line.clear();
                let len = r.read_line(&mut line)?;
                if len == 0 || stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                bytes_read.fetch_add(len as u64, Ordering::Relaxed);
                if line.trim().is_empty() {
                    continue;
                }
                n += 1;
                let row = serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("not JSON: line {n}, column {}", e.column()));
                if tx.blocking_send((n, row)).is_err() {
                    return Ok(());
                }
            }
        }
        Format::Csv => {
            let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(f);
            let header: Vec<String> = r.headers()?.iter().map(str::to_owned).collect();
            check_csv_header(&header).map_err(|e| {
                fail(
                    format!("CSV表头有误：{e}"),
                    format!("the CSV header is wrong: {e}"),
                )
            })?;
            let mut record = csv::StringRecord::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && r.read_record(&mut record)? {
                n += 1;
                bytes_read.store(record.position().map_or(0, |p| p.byte()), Ordering::Relaxed);
                let cells: Vec<String> = record.iter().map(str::to_owned).collect();
                let row = csv_row(&header, &cells).map_err(|_| {
                    format!(
                        "row {n}: {} cells for {} columns",
                        cells.len(),
                        header.len()
                    )
                });
                if tx.blocking_send((n, row)).is_err() {
                    return Ok(());
                }
            }
            Ok(())
        }
    }
}

/// A bar with rate and ETA on a terminal; a plain line every 10 s otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: std::time::Instant,
    last_line: std::sync::Mutex<std::time::Instant>,
    size: u64,
}

impl Progress {
    fn new(size: u64) -> Self {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(size);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {msg} {per_sec} ETA {eta}",
            ) {
                b.set_style(style);
            }
            b
        });
        let now = std::time::Instant::now();
        Self {
            bar,
            started: now,
            last_line: std::sync::Mutex::new(now),
            size,
        }
    }

    fn tick(&self, bytes: u64, t: &Tally) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
            if t.read.is_multiple_of(64) {
                b.set_message(format!("{} rows", t.read));
            }
            return;
        }
        let Ok(mut last) = self.last_line.lock() else {
            return;
        };
        if last.elapsed().as_secs() >= 10 {
            *last = std::time::Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            eprintln!(
                "{} rows ({:.0} /s), {:.0} % of the file, {} rejected",
                t.read,
                t.read as f64 / secs,
                100.0 * bytes as f64 / self.size.max(1) as f64,
                t.rejected
            );
        }
    }

    fn finish(&self, t: &Tally) {
        if let Some(b) = &self.bar {
            b.finish_with_message(format!("{} rows", t.read));
        }
    }
}
