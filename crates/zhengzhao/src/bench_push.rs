//! `zhengzhao bench push`: the outbox relay against a local receiver that
//! refuses a share of requests (503, at random), in one run: a library of N
//! freshly issued licenses (SQLite; one outbox message each), then the time
//! until the platform destination's backlog is empty, the messages/s that
//! makes, and the raw SM2 signing rate beside it (each message is signed by
//! the region's key as it is sent).
//!
//! The receiver runs on its own thread and runtime in this process, on the
//! same two cores as the relay.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zhengzhao_core::outbox::{Destination, OutboxRelay};
use zhengzhao_http::{Application, ServerConfig};

#[derive(Default)]
struct Counts {
    requests: u64,
    refused: u64,
    applied: HashSet<String>,
    seed: u64,
}

async fn receive(
    State((counts, fail_ratio)): State<(Arc<Mutex<Counts>>, f64)>,
    headers: HeaderMap,
) -> StatusCode {
    let Ok(mut c) = counts.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    c.requests += 1;
    let roll = crate::bench_http::next_random(&mut c.seed) % 10_000;
    if (roll as f64) < fail_ratio * 10_000.0 {
        c.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let id = headers
        .get("x-zz-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    c.applied.insert(id);
    StatusCode::OK
}

/// The receiver on its own thread and runtime: its URL and counts.
fn spawn_receiver(fail_ratio: f64) -> anyhow::Result<(String, Arc<Mutex<Counts>>)> {
    let counts = Arc::new(Mutex::new(Counts {
        seed: 0x9e37_79b9_7f4a_7c15,
        ..Counts::default()
    }));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}/in", listener.local_addr()?);
    let state = (counts.clone(), fail_ratio);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(rt) = rt else { return };
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/in", axum::routing::post(receive))
                .with_state(state);
            if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
                let _ = axum::serve(l, app).await;
            }
        });
    });
    Ok((url, counts))
}

pub async fn push(messages: usize, fail_ratio: f64, raw_seconds: f64) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "zhengzhao bench push: {messages} messages, receiver refuses {:.0} % (503), {cores} cores",
        fail_ratio * 100.0
    );
    let one = crate::bench::raw_rate(1, raw_seconds)?;
    let all = crate::bench::raw_rate(cores, raw_seconds)?;
    println!(
        "raw SM2 sign (1 KiB, DER):        {one:>8.0} /s on 1 core, {all:>8.0} /s on {cores} threads"
    );

    let scratch = tempfile::tempdir()?;
    let mut config = ServerConfig::new(scratch.path());
    config.listen = "127.0.0.1:0".into();
    let app = Application::build(config).await?;
    let library = app.library().clone();
    let started = Instant::now();
    let caller = crate::bench::clerk()?;
    crate::bench::issue_in_process(&library, &caller, 1, messages, 256).await?;
    println!(
        "issued {messages} licenses (one outbox message each) in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    let (url, counts) = spawn_receiver(fail_ratio)?;
    let relay = OutboxRelay {
        library: library.clone(),
        destinations: vec![Destination::platform(&url)],
        transport: Arc::new(zhengzhao_http::webhook::WebhookTransport::new()?),
        retry_base: Duration::from_millis(100),
        max_attempts: zhengzhao_core::outbox::MAX_ATTEMPTS,
        lease: zhengzhao_core::outbox::LEASE,
    };
    relay.register().await?;
    let started = Instant::now();
    let (mut busy, mut attempts) = (Duration::ZERO, 0usize);
    let mut most_delivered_at = None;
    loop {
        let round = Instant::now();
        let n = relay.run_once().await;
        if n > 0 {
            busy += round.elapsed();
            attempts += n;
        }
        let delivered = counts.lock().map_or(0, |c| c.applied.len());
        if most_delivered_at.is_none() && delivered * 100 >= messages * 99 {
            most_delivered_at = Some(started.elapsed());
        }
        if n == 0 {
            let summary = library.outbox_summary().await?;
            let backlog: u64 = summary.iter().map(|s| s.pending + s.in_flight).sum();
            if backlog == 0 && delivered + parked(&library).await? as usize >= messages {
                break;
            }
            // Only messages waiting out their backoff are left.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let took = started.elapsed().as_secs_f64();
    let parked = parked(&library).await?;
    let c = counts
        .lock()
        .map_err(|_| anyhow::anyhow!("receiver poisoned"))?;
    let delivered = c.applied.len();
    println!(
        "attempts while work was due:      {:>8.0} /s ({attempts} attempts in {:.1} s; receiver saw {} requests, refused {})",
        attempts as f64 / busy.as_secs_f64(),
        busy.as_secs_f64(),
        c.requests,
        c.refused
    );
    println!(
        "messages/s ÷ raw signing on {cores}:   {:>8.1} %",
        100.0 * attempts as f64 / busy.as_secs_f64() / all
    );
    println!(
        "99 % of {messages} delivered after:  {:>8.1} s",
        most_delivered_at.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    println!(
        "backlog empty after:              {took:>8.1} s ({delivered} delivered, {parked} parked; the tail is the retry backoff, base {} ms doubling)",
        relay.retry_base.as_millis()
    );
    Ok(())
}

async fn parked(library: &zhengzhao_core::Library) -> anyhow::Result<u64> {
    Ok(library
        .outbox_summary()
        .await?
        .iter()
        .map(|s| s.parked + s.rejected)
        .sum())
}
