//! `zhengzhao bench issue`: raw SM2 signing rate against licenses issued per
//! second through the whole service layer (validate, sign, store, audit,
//! outbox, deliveries) on a fresh SQLite library, in one run.

use anyhow::Context;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use zhengzhao_crypto::sm2sig::KeyPair;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_server::auth::Caller;
use zhengzhao_server::service::Library;
use zhengzhao_server::service::licenses::IssueRequest;
use zhengzhao_server::{ServerConfig, open_store};

/// Raw SM2 signatures per second on `threads` threads, each signing for
/// `secs` seconds (long enough that a noisy neighbour averages out).
fn raw_rate(threads: usize, secs: f64) -> anyhow::Result<f64> {
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

pub(crate) fn request(i: usize, holder: &str) -> IssueRequest {
    let body = json!({
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
    });
    serde_json::from_value(body)
        .unwrap_or_else(|e| unreachable!("bench request is well-formed: {e}"))
}

pub async fn issue(
    count: usize,
    concurrency: usize,
    raw_seconds: f64,
    keep: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "zhengzhao bench issue: {count} licenses, {concurrency} concurrent requests, {cores} cores"
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
    let config = ServerConfig::new(&dir);
    let store = open_store(&config).await?;
    let library = Library::new(store.clone())
        .with_master_key(
            zhengzhao_server::app::load_master_key(&config).map_err(anyhow::Error::msg)?,
        )
        .with_channels(vec!["platform".into()]);
    library.ensure_seeded(&dir).await?;
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
    // Warm up: makes the CA and the org key, as the first real request would.
    library
        .issue_license(&caller, request(usize::MAX, &holder))
        .await?;

    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (library, caller, next, holder) = (
                library.clone(),
                caller.clone(),
                next.clone(),
                holder.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= count {
                        return Ok::<(), anyhow::Error>(());
                    }
                    library
                        .issue_license(&caller, request(i, &holder))
                        .await
                        .with_context(|| format!("issuing #{i}"))?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let wall = started.elapsed().as_secs_f64();
    let rate = count as f64 / wall;
    let ceiling = one * cores as f64;
    println!(
        "issued through the service layer:  {rate:>8.0} /s (SQLite, validate + sign + store + audit + outbox + delivery rows)"
    );
    println!(
        "ratio to raw signing × cores:      {:>8.1} % (target ≥ 50 %)",
        100.0 * rate / ceiling
    );
    println!(
        "ratio to measured {cores}-thread signing: {:>6.1} %",
        100.0 * rate / all
    );
    if let (Some(before), Some(after)) = (cpu_before, process_cpu_seconds()) {
        let used = after - before;
        println!(
            "CPU while issuing:                 {:>8.0} µs per license, cores {:.0} % busy (signing alone: {:.0} µs)",
            1e6 * used / count as f64,
            100.0 * used / (wall * cores as f64),
            1e6 / one
        );
    }
    Ok(())
}

/// User + system CPU time of this process so far (Linux `/proc`; `None` elsewhere).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // The kernel reports in clock ticks, USER_HZ = 100 on Linux.
    Some((utime + stime) / 100.0)
}
