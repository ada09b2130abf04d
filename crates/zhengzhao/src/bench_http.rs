//! The load generator both HTTP benchmarks use: `concurrency` workers, each
//! with its own keep-alive connection, sending requests made by a
//! [`RequestMaker`] until a deadline or a request budget runs out, and
//! recording each answer's latency.
//!
//! It runs on a thread and runtime of its own ([`drive_apart`]), so its
//! tasks do not queue behind the server's on the same workers; it still
//! shares the machine's cores with the server, for the baseline and the
//! measured endpoint alike, so ratios are fair while absolute rates are
//! lower than a separate client machine would see.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Makes the `i`-th request of a run (`i` counts across all workers);
/// `seed` is the worker's own random state.
pub(crate) type RequestMaker =
    Arc<dyn Fn(&reqwest::Client, usize, &mut u64) -> reqwest::RequestBuilder + Send + Sync>;

/// Latencies in milliseconds, and the achieved rate.
pub(crate) struct Run {
    pub rate: f64,
    pub p50: f64,
    pub p99: f64,
    pub errors: usize,
    /// The first failed answer, for the operator to see what went wrong.
    pub first_error: Option<String>,
    /// CPU time the load generator's thread used for this run (Linux).
    pub load_cpu: Option<f64>,
}

/// How long a run lasts: for a time, or until `count` requests were sent.
#[derive(Clone, Copy)]
pub(crate) enum Budget {
    Seconds(f64),
    Requests(usize),
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

/// A small xorshift generator: spreads ids uniformly, no crypto needed.
pub(crate) fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

async fn drive(
    client: &reqwest::Client,
    make: RequestMaker,
    concurrency: usize,
    budget: Budget,
    pace: Option<f64>,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let deadline = match budget {
        Budget::Seconds(s) => Some(started + Duration::from_secs_f64(s)),
        Budget::Requests(_) => None,
    };
    let limit = match budget {
        Budget::Requests(n) => n,
        Budget::Seconds(_) => usize::MAX,
    };
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (client, make, next) = (client.clone(), make.clone(), next.clone());
            tokio::spawn(async move {
                let mut seed =
                    0x9E37_79B9_7F4A_7C15u64 ^ (w as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                let mut lat = Vec::with_capacity(100_000);
                let (mut errors, mut first_error) = (0usize, None);
                let interval = pace.map(|r| Duration::from_secs_f64(concurrency as f64 / r));
                let mut slot = Instant::now() + Duration::from_micros(w as u64 * 37);
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= limit {
                        break;
                    }
                    if let Some(iv) = interval {
                        let now = Instant::now();
                        if slot > now {
                            tokio::time::sleep(slot - now).await;
                        }
                        slot += iv;
                    }
                    let request = make(&client, i, &mut seed);
                    let t = Instant::now();
                    match request.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                        }
                        Ok(r) => {
                            errors += 1;
                            if first_error.is_none() {
                                let status = r.status();
                                let body = r.text().await.unwrap_or_default();
                                first_error = Some(format!("{status}: {body}"));
                            }
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                (lat, errors, first_error)
            })
        })
        .collect();
    let mut all = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for w in workers {
        let (lat, e, first) = w.await?;
        all.extend(lat);
        errors += e;
        first_error = first_error.or(first);
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort_unstable();
    Ok(Run {
        rate: all.len() as f64 / wall,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        errors,
        first_error,
        load_cpu: None,
    })
}

/// The name of the load generator's thread (seen in `top -H`, `perf`).
const LOAD_THREAD: &str = "zz-bench-load";

/// Run the load generator on a thread and runtime of its own.
pub(crate) async fn drive_apart(
    make: RequestMaker,
    concurrency: usize,
    budget: Budget,
    pace: Option<f64>,
) -> anyhow::Result<anyhow::Result<Run>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(LOAD_THREAD.into())
        .spawn(move || {
            let run = (|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let before = cpu_seconds("/proc/thread-self/stat");
                let mut run = rt.block_on(async move {
                    let client = reqwest::Client::builder()
                        .pool_max_idle_per_host(concurrency)
                        .build()?;
                    drive(&client, make, concurrency, budget, pace).await
                })?;
                run.load_cpu = cpu_seconds("/proc/thread-self/stat")
                    .zip(before)
                    .map(|(a, b)| a - b);
                Ok(run)
            })();
            let _ = tx.send(run);
        })?;
    Ok(rx.await?)
}

/// CPU time (user + system) in a Linux `/proc` stat file so far:
/// `/proc/self/stat` (the process) or `/proc/thread-self/stat` (the calling
/// thread); `None` elsewhere.
pub(crate) fn cpu_seconds(stat_file: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(stat_file).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // The kernel reports in clock ticks, USER_HZ = 100 on Linux.
    Some((utime + stime) / 100.0)
}

/// A GET of `url` made anew for each request.
pub(crate) fn get(url: String) -> RequestMaker {
    Arc::new(move |c: &reqwest::Client, _, _: &mut u64| c.get(&url))
}

pub(crate) fn print(label: &str, r: &Run) {
    println!(
        "{label:<34} {:>8.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms{}",
        r.rate,
        r.p50,
        r.p99,
        if r.errors > 0 {
            format!(
                "   ({} errors; first: {})",
                r.errors,
                r.first_error.as_deref().unwrap_or("?")
            )
        } else {
            String::new()
        }
    );
}
