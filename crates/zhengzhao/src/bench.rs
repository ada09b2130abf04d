//! `zhengzhao bench issue`: raw SM2 signing rate against licenses issued per
//! second on a fresh SQLite library, in one run: by default over loopback
//! HTTP against the real server (token check, JSON, validate, sign, store,
//! audit, outbox, deliveries), with `/healthz` over the same connections as
//! the HTTP baseline; with `--path service`, through the service layer alone.

use crate::bench_http::{Budget, RequestMaker, cpu_seconds, drive_apart, get, print};
use anyhow::Context;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use zhengzhao_core::Library;
use zhengzhao_core::Principal;
use zhengzhao_core::licenses::IssueRequest;
use zhengzhao_crypto::sm2sig::KeyPair;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_http::{Application, ServerConfig};

/// Raw SM2 signatures per second on `threads` threads, each signing for
/// `secs` seconds (long enough that a noisy neighbour averages out).
pub(crate) fn raw_rate(threads: usize, secs: f64) -> anyhow::Result<f64> {
    let key = Arc::new(KeyPair::generate()?);
    let payload = Arc::new(vec![0x5au8; 1024]);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (key, payload) = (key.clone(), payload.clone());
            std::thread::spawn(move || -> anyhow::Result<usize> {
                let mut p = payload.to_vec();
                let mut signed = 0usize;
                while started.elapsed().as_secs_f64() < secs {
                    for _ in 0..50 {
                        p[0] = (signed + t) as u8;
                        std::hint::black_box(key.sign(&p)?);
                        signed += 1;
                    }
                }
                Ok(signed)
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h
            .join()
            .map_err(|_| anyhow::anyhow!("signing thread panicked"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// The credit code of the `i`-th benchmark license's holder: one holder per
/// license, as 营业执照 allows one current license per credit code. The
/// subject code (positions 9-17) is `i` in GB 32100's 31 symbols.
pub(crate) fn holder_of(i: usize) -> String {
    const SYMBOLS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = *b"91150102000000000";
    let mut n = i;
    for slot in body[8..].iter_mut().rev() {
        *slot = SYMBOLS[n % 31];
        n /= 31;
    }
    let body = String::from_utf8_lossy(&body);
    zhengzhao_domain::codes::CreditCode::with_check_character(&body)
        .map(|c| c.to_string())
        .unwrap_or_else(|e| unreachable!("a 91 code of valid symbols: {e}"))
}

/// The issue request body of the `i`-th benchmark license.
pub(crate) fn request_json(i: usize) -> serde_json::Value {
    let holder = holder_of(i);
    json!({
        "type_code": "11100000MB0143028R001",
        "issuer": "150102",
        "holder": {"name": format!("呼和浩特市测试{i}有限公司"), "id_type": "uscc", "id": holder},
        "face": {
            "credit_code": holder,
            "name": format!("呼和浩特市测试{i}有限公司"),
            "entity_type": "有限责任公司（自然人投资或控股）",
            "legal_representative": "张三",
            "business_scope": "软件开发；信息技术咨询服务；数据处理和存储支持服务；计算机软硬件及辅助设备零售。（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
            "registered_capital": "1000000",
            "established_date": "2024-01-15",
            "domicile": "内蒙古自治区呼和浩特市新城区某某路88号",
            "registration_authority": "150102",
            "registration_date": "2024-01-15"
        },
        "valid_from": "2024-01-15",
        "valid_until": null,
        "source": {"system": "bench", "record_id": format!("B{i}")}
    })
}

pub(crate) fn request(i: usize) -> IssueRequest {
    serde_json::from_value(request_json(i))
        .unwrap_or_else(|e| unreachable!("bench request is well-formed: {e}"))
}

/// Where `bench issue` sends its licenses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IssuePath {
    /// `POST /api/v1/licenses` on the real server over loopback HTTP, with
    /// an issuer clerk's API token: what business systems meet.
    Http,
    /// `Library::issue_license` called in process (no HTTP, no token
    /// check): shows what the HTTP layer adds.
    Service,
}

pub struct IssueBench {
    pub count: usize,
    pub concurrency: usize,
    pub raw_seconds: f64,
    pub keep: Option<std::path::PathBuf>,
    pub path: IssuePath,
}

pub async fn issue(b: IssueBench) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let IssueBench {
        count,
        concurrency,
        raw_seconds,
        keep,
        path,
    } = b;
    println!(
        "zhengzhao bench issue: {count} licenses, {concurrency} concurrent {}, {cores} cores",
        match path {
            IssuePath::Http => "HTTP connections",
            IssuePath::Service => "in-process calls",
        }
    );
    let one = raw_rate(1, raw_seconds)?;
    let all = raw_rate(cores, raw_seconds)?;
    println!(
        "raw SM2 sign (1 KiB, DER):        {one:>8.0} /s on 1 core, {all:>8.0} /s on {cores} threads"
    );

    // A temporary library, or with --keep one left behind (for backup and
    // restore drills on a library of realistic size).
    let scratch = tempfile::tempdir()?;
    let dir = match &keep {
        Some(d) => {
            if d.exists() && std::fs::read_dir(d)?.next().is_some() {
                anyhow::bail!("--keep {}: the directory is not empty", d.display());
            }
            d.clone()
        }
        None => scratch.path().to_path_buf(),
    };
    let mut config = ServerConfig::new(&dir);
    config.listen = "127.0.0.1:0".into();
    // One delivery channel, so each license also gets its delivery row; the
    // worker that would post them waits past the end of the run.
    config.delivery_channels = vec![zhengzhao_http::config::DeliveryChannel {
        name: "platform".into(),
        url: "http://127.0.0.1:9/unused".into(),
    }];
    config.delivery_poll = std::time::Duration::from_secs(24 * 3600);
    let app = Application::build(config).await?;
    let library = app.library().clone();
    let caller = clerk()?;
    let issuer = caller.org.clone();
    // Warm up: makes the CA and the org key, as the first real request would.
    library.issue_license(&caller, request(usize::MAX)).await?;

    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let (rate, latency) = match path {
        IssuePath::Service => {
            issue_in_process(&library, &caller, 0, count, concurrency).await?;
            (count as f64 / started.elapsed().as_secs_f64(), None)
        }
        IssuePath::Http => {
            let actor = zhengzhao_core::Actor::cli();
            let (_, token) = library
                .create_token(&actor, &issuer, Role::IssuerClerk, "bench issue")
                .await?;
            let base = format!("http://{}", app.addr());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(app.run_until(async {
                let _ = stopped.await;
            }));
            let url = format!("{base}/api/v1/licenses");
            let make: RequestMaker = Arc::new(move |c: &reqwest::Client, i, _: &mut u64| {
                c.post(&url).bearer_auth(&token).json(&request_json(i))
            });
            // The trivial endpoint first, over the same connections: the
            // ceiling of the HTTP layer alone on this machine.
            let health = drive_apart(
                get(format!("{base}/healthz")),
                concurrency,
                Budget::Seconds(raw_seconds),
                None,
            )
            .await??;
            print("GET /healthz (baseline)", &health);
            let cpu_start = process_cpu_seconds();
            let t = Instant::now();
            let run = drive_apart(make, concurrency, Budget::Requests(count), None).await??;
            let wall = t.elapsed().as_secs_f64();
            let load = run.load_cpu;
            print("POST /api/v1/licenses", &run);
            if run.errors > 0 {
                anyhow::bail!("{} of {count} issue requests failed", run.errors);
            }
            let _ = stop.send(());
            let _ = server.await;
            let cpu = process_cpu_seconds().zip(cpu_start).map(|(a, b)| a - b);
            if let (Some(cpu), Some(load)) = (cpu, load) {
                println!(
                    "server CPU per license:            {:>8.0} µs (the load generator's {:.0} µs apart)",
                    1e6 * (cpu - load) / count as f64,
                    1e6 * load / count as f64
                );
            }
            (run.rate, Some((run, wall, cpu, health.rate)))
        }
    };
    let ceiling = one * cores as f64;
    println!(
        "issued {}: {rate:>8.0} /s (SQLite, validate + sign + store + audit + outbox + delivery rows)",
        match path {
            IssuePath::Http => "over HTTP",
            IssuePath::Service => "through the service layer",
        }
    );
    println!(
        "ratio to raw signing × cores:      {:>8.1} % (target ≥ 50 %)",
        100.0 * rate / ceiling
    );
    println!(
        "ratio to measured {cores}-thread signing: {:>6.1} %",
        100.0 * rate / all
    );
    let (wall, used) = match &latency {
        Some((run, wall, cpu, health)) => {
            println!(
                "latency at {concurrency} connections:        p50 {:.2} ms, p99 {:.2} ms (target p99 < 50 ms)",
                run.p50, run.p99
            );
            println!(
                "issue ÷ /healthz throughput:        {:>7.1} %",
                100.0 * rate / health
            );
            (*wall, *cpu)
        }
        None => {
            let wall = started.elapsed().as_secs_f64();
            (
                wall,
                process_cpu_seconds().zip(cpu_before).map(|(a, b)| a - b),
            )
        }
    };
    if let Some(used) = used {
        println!(
            "CPU while issuing:                 {:>8.0} µs per license (server and load generator), cores {:.0} % busy (signing alone: {:.0} µs)",
            1e6 * used / count as f64,
            100.0 * used / (wall * cores as f64),
            1e6 / one
        );
    }
    Ok(())
}

/// Issue `count` licenses through `Library::issue_license` in process, with
/// `concurrency` tasks, the `i`-th from `request(first + i)`; their identifiers.
pub(crate) async fn issue_in_process(
    library: &Library,
    caller: &Principal,
    first: usize,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (library, caller, next) = (library.clone(), caller.clone(), next.clone());
            tokio::spawn(async move {
                let mut made = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return Ok::<_, anyhow::Error>(made);
                    }
                    let (rec, _) = library
                        .issue_license(&caller, request(first + i))
                        .await
                        .with_context(|| format!("issuing #{i}"))?;
                    if let Some(v) = rec.current() {
                        made.push(v.license_id.to_string());
                    }
                }
            })
        })
        .collect();
    let mut ids = Vec::with_capacity(count);
    for t in tasks {
        ids.extend(t.await??);
    }
    Ok(ids)
}

/// The benchmarks' issuing clerk of org 150102.
pub(crate) fn clerk() -> anyhow::Result<Principal> {
    Ok(Principal {
        actor: zhengzhao_core::ActorId::Cli("bench".into()),
        org: OrgCode::parse("150102").map_err(|e| anyhow::anyhow!("{e}"))?,
        roles: vec![Role::IssuerClerk],
        client_addr: None,
        session: None,
        scenario: None,
        holder: None,
    })
}

/// User + system CPU time of this process so far (Linux `/proc`; `None` elsewhere).
fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds("/proc/self/stat")
}
