//! `zhengzhao bench verify`: the public check against `/healthz`, over
//! loopback HTTP, in one run: a library of N licenses (SQLite), then
//! requests/s and p50/p99 latency for (a) `/healthz` and (b)
//! `/api/v1/verify/{id}` on random ids at full load, then (c) the verify
//! endpoint paced at half its peak rate.
//!
//! The load generator runs in the same process and on the same two cores as
//! the server, for both endpoints alike, so the ratio is fair; the absolute
//! rates are lower than a separate client machine would see.

use crate::bench_http::{Budget, RequestMaker, drive_apart, get, next_random, print};
use std::sync::Arc;
use std::time::Instant;
use zhengzhao_http::{Application, ServerConfig};

pub async fn verify(
    licenses: usize,
    seconds: f64,
    concurrency: usize,
    keep: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "zhengzhao bench verify: {licenses} licenses, {concurrency} concurrent clients, {seconds} s per figure, {cores} cores"
    );
    let scratch = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let mut config = ServerConfig::new(&dir);
    config.listen = "127.0.0.1:0".into();
    // The load comes from one address: no per-address limit here.
    config.public_rate_limit.per_second = 0;
    let app = Application::build(config).await?;
    let library = app.library().clone();

    // The library: reuse what a kept directory holds, issue the rest.
    let mut ids: Vec<String> = Vec::with_capacity(licenses);
    let mut before = None;
    while ids.len() < licenses {
        let page = library
            .licenses_page(&zhengzhao_store::LicenseFilter::default(), before, 2000)
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.key);
        ids.extend(
            page.iter()
                .filter_map(|l| l.current())
                .map(|v| v.license_id.to_string()),
        );
    }
    ids.truncate(licenses);
    if ids.len() < licenses {
        let missing = licenses - ids.len();
        let started = Instant::now();
        let caller = crate::bench::clerk()?;
        // Record ids far above any a kept library already used.
        let first = ids.len() + 1_000_000_000;
        ids.extend(crate::bench::issue_in_process(&library, &caller, first, missing, 256).await?);
        println!(
            "loaded {missing} licenses in {:.0} s ({:.0} /s)",
            started.elapsed().as_secs_f64(),
            missing as f64 / started.elapsed().as_secs_f64()
        );
    }
    let started = Instant::now();
    let (checked, bad) = library.warm_verify_cache().await?;
    println!(
        "signatures checked once at start:  {checked} in {:.1} s ({:.0} /s on {cores} cores), {bad} bad",
        started.elapsed().as_secs_f64(),
        checked as f64 / started.elapsed().as_secs_f64()
    );

    let base = format!("http://{}", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let ids = Arc::new(ids);
    let healthz = get(format!("{base}/healthz"));
    let verify: RequestMaker = Arc::new(move |c: &reqwest::Client, _, seed: &mut u64| {
        let i = (next_random(seed) % ids.len() as u64) as usize;
        c.get(format!("{base}/api/v1/verify/{}", ids[i]))
    });
    // Warm the connections and the page cache.
    drive_apart(healthz.clone(), concurrency, Budget::Seconds(1.0), None).await??;
    drive_apart(verify.clone(), concurrency, Budget::Seconds(1.0), None).await??;

    let health = drive_apart(healthz, concurrency, Budget::Seconds(seconds), None).await??;
    print("(a) GET /healthz", &health);
    let check = drive_apart(verify.clone(), concurrency, Budget::Seconds(seconds), None).await??;
    print("(b) GET /api/v1/verify/{id}", &check);
    // Paced: fewer connections suffice, each sending at its own steady rhythm.
    let paced = concurrency.min(16);
    let half = drive_apart(
        verify,
        paced,
        Budget::Seconds(seconds),
        Some(check.rate / 2.0),
    )
    .await??;
    print("(c) verify at half its peak rate", &half);
    println!(
        "verify ÷ healthz throughput:        {:>7.1} % (target ≥ 50 %)",
        100.0 * check.rate / health.rate
    );
    println!(
        "p99 at half the peak rate:          {:>7.2} ms (target < 5 ms)",
        half.p99
    );
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
