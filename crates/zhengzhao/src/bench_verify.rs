//! `zhengzhao bench verify`: the public check against `/healthz`, over
//! loopback HTTP, in one run: a library of N licenses (SQLite), then
//! requests/s and p50/p99 latency for (a) `/healthz` and (b)
//! `/api/v1/verify/{id}` on random ids at full load, then (c) the verify
//! endpoint paced at half its peak rate.
//!
//! The load generator runs in the same process and on the same two cores as
//! the server, for both endpoints alike, so the ratio is fair; the absolute
//! rates are lower than a separate client machine would see.

use crate::bench::request;
use anyhow::Context;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_server::auth::Caller;
use zhengzhao_server::{Application, ServerConfig};

/// Latencies in microseconds, and the achieved rate.
struct Run {
    rate: f64,
    p50: f64,
    p99: f64,
    errors: usize,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// A small xorshift generator: spreads ids uniformly, no crypto needed.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Drive `paths()` with `concurrency` workers for `secs`; with `pace`, each
/// worker waits for its next slot so the total is `pace` requests/s.
async fn drive(
    client: &reqwest::Client,
    base: &str,
    ids: Option<Arc<Vec<String>>>,
    concurrency: usize,
    secs: f64,
    pace: Option<f64>,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, base, ids) = (client.clone(), base.to_owned(), ids.clone());
            tokio::spawn(async move {
                let mut seed =
                    0x9E37_79B9_7F4A_7C15u64 ^ (w as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                let mut lat = Vec::with_capacity(100_000);
                let mut errors = 0usize;
                let interval = pace.map(|r| Duration::from_secs_f64(concurrency as f64 / r));
                let mut slot = Instant::now() + Duration::from_micros(w as u64 * 37);
                while Instant::now() < deadline {
                    if let Some(iv) = interval {
                        let now = Instant::now();
                        if slot > now {
                            tokio::time::sleep(slot - now).await;
                        }
                        slot += iv;
                    }
                    let url = match &ids {
                        Some(ids) => {
                            let i = (next_random(&mut seed) % ids.len() as u64) as usize;
                            format!("{base}/api/v1/verify/{}", ids[i])
                        }
                        None => format!("{base}/healthz"),
                    };
                    let t = Instant::now();
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                        }
                        _ => errors += 1,
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (lat, e) = w.await?;
        all.extend(lat);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(Run {
        rate: all.len() as f64 / wall,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        errors,
    })
}

/// Run the load generator on a thread and runtime of its own, so its tasks
/// do not queue behind the server's on the same workers (they still share
/// the machine's cores, for both endpoints alike).
fn drive_apart(
    base: String,
    ids: Option<Arc<Vec<String>>>,
    concurrency: usize,
    secs: f64,
    pace: Option<f64>,
) -> tokio::task::JoinHandle<anyhow::Result<Run>> {
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .build()?;
            drive(&client, &base, ids, concurrency, secs, pace).await
        })
    })
}

fn print(label: &str, r: &Run) {
    println!(
        "{label:<34} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms{}",
        r.rate,
        r.p50,
        r.p99,
        if r.errors > 0 {
            format!("   ({} errors)", r.errors)
        } else {
            String::new()
        }
    );
}

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
        let caller = Caller {
            actor: "bench".into(),
            org: OrgCode::parse("150102").map_err(|e| anyhow::anyhow!("{e}"))?,
            roles: vec![Role::IssuerClerk],
            client_addr: None,
            session: None,
        };
        let holder = zhengzhao_domain::codes::CreditCode::with_check_character("91150102MA0N4JXK2")
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_string();
        let offset = ids.len();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..256)
            .map(|_| {
                let (library, caller, next, holder) = (
                    library.clone(),
                    caller.clone(),
                    next.clone(),
                    holder.clone(),
                );
                tokio::spawn(async move {
                    let mut made = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= missing {
                            return Ok::<_, anyhow::Error>(made);
                        }
                        let (rec, _) = library
                            .issue_license(&caller, request(offset + i + 1_000_000_000, &holder))
                            .await
                            .with_context(|| format!("issuing #{i}"))?;
                        if let Some(v) = rec.current() {
                            made.push(v.license_id.to_string());
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            ids.extend(t.await??);
        }
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
    // Warm the connections and the page cache.
    drive_apart(base.clone(), None, concurrency, 1.0, None).await??;
    drive_apart(base.clone(), Some(ids.clone()), concurrency, 1.0, None).await??;

    let health = drive_apart(base.clone(), None, concurrency, seconds, None).await??;
    print("(a) GET /healthz", &health);
    let check = drive_apart(base.clone(), Some(ids.clone()), concurrency, seconds, None).await??;
    print("(b) GET /api/v1/verify/{id}", &check);
    // Paced: fewer connections suffice, each sending at its own steady rhythm.
    let paced = concurrency.min(16);
    let half = drive_apart(
        base.clone(),
        Some(ids.clone()),
        paced,
        seconds,
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
