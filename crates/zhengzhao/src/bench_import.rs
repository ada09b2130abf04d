//! `zhengzhao bench import`: bulk aggregation of N generated business
//! licenses into a fresh SQLite library through the importer itself
//! (`zhengzhao import`'s code path: bounded queue, workers, report), with
//! signing; licenses/s beside the raw SM2 signing rate measured in the same
//! run, and the process's peak memory.

use crate::commands::import::{ImportArgs, run};
use std::io::Write;
use std::time::Instant;
use zhengzhao_http::{Application, ServerConfig};

/// `VmHWM` (peak resident memory) of this process in MiB (Linux `/proc`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub async fn import(
    licenses: usize,
    raw_seconds: f64,
    concurrency: Option<usize>,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("zhengzhao bench import: {licenses} licenses into SQLite, {cores} cores");
    let one = crate::bench::raw_rate(1, raw_seconds)?;
    let all = crate::bench::raw_rate(cores, raw_seconds)?;
    println!(
        "raw SM2 sign (1 KiB, DER):        {one:>8.0} /s on 1 core, {all:>8.0} /s on {cores} threads"
    );

    let scratch = tempfile::tempdir()?;
    let file = scratch.path().join("export.jsonl");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in 0..licenses {
            writeln!(w, "{}", crate::bench::request_json(i))?;
        }
        w.flush()?;
    }
    let bytes = std::fs::metadata(&file)?.len();
    println!(
        "generated {licenses} rows ({:.0} MiB of JSON Lines)",
        bytes as f64 / 1048576.0
    );

    let data = scratch.path().join("data");
    std::fs::create_dir_all(&data)?;
    let mut config = ServerConfig::new(&data);
    config.listen = "127.0.0.1:0".into();
    let app = Application::build(config).await?;
    let library = app.library().clone();
    let args = ImportArgs {
        file,
        format: None,
        dry_run: false,
        report: None,
        max_reject_ratio: 0.5,
        concurrency,
        public_url: None,
    };
    let started = Instant::now();
    let t = run(&library, &args).await?;
    let secs = started.elapsed().as_secs_f64();
    let rate = t.imported as f64 / secs;
    println!(
        "imported {} of {} rows in {secs:.1} s: {rate:>8.0} licenses/s ({} rejected)",
        t.imported, t.read, t.rejected
    );
    println!(
        "÷ raw single-core signing × {cores}:   {:>8.1} % (target ≥ 60 %)",
        100.0 * rate / (one * cores as f64)
    );
    match peak_rss_mib() {
        Some(mib) => println!("peak resident memory (VmHWM):     {mib:>8.0} MiB (target < 200)"),
        None => println!("peak resident memory:             unknown (no /proc)"),
    }
    Ok(())
}
