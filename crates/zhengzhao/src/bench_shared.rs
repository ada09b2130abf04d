//! `zhengzhao bench shared`: a relying party's queries against `/healthz`,
//! over loopback HTTP, in one run: a library of N licenses (SQLite), eight
//! approved usage-list scenarios with a credential each (each scenario's
//! per-second rate is its own), then requests/s and p50/p99 latency for
//! (a) `/healthz` and (b) `POST /api/v1/shared/queries` for random holders.
//!
//! Every query writes its daily-quota count and its audit event (filed
//! under the holder) together, in one transaction (`record_counted_read`);
//! the SQLite writer commits concurrent writes together (group commit: one
//! transaction and one fsync for whatever queued during the last), which is
//! what keeps a write per read affordable.

use crate::bench_http::{Budget, RequestMaker, drive_apart, get, next_random, print};
use std::sync::Arc;
use std::time::Instant;
use zhengzhao_core::Principal;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_http::{Application, ServerConfig};

/// Scenarios (and credentials) the load is spread over.
const SCENARIOS: usize = 8;

fn approver() -> anyhow::Result<Principal> {
    Ok(Principal {
        actor: zhengzhao_core::ActorId::Cli("bench".into()),
        org: OrgCode::parse("150000").map_err(|e| anyhow::anyhow!("{e}"))?,
        roles: vec![Role::ScenarioApprover],
        client_addr: None,
        session: None,
        scenario: None,
        holder: None,
    })
}

pub async fn shared(
    licenses: usize,
    seconds: f64,
    concurrency: usize,
    keep: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "zhengzhao bench shared: {licenses} licenses, {concurrency} concurrent clients, {seconds} s per figure, {cores} cores"
    );
    let scratch = tempfile::tempdir()?;
    let dir = keep.unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let mut config = ServerConfig::new(&dir);
    config.listen = "127.0.0.1:0".into();
    config.public_rate_limit.per_second = 0;
    let app = Application::build(config).await?;
    let library = app.library().clone();

    // The library: reuse what a kept directory holds, issue the rest.
    let mut holders: Vec<String> = Vec::with_capacity(licenses);
    let mut before = None;
    while holders.len() < licenses {
        let page = library
            .licenses_page(&zhengzhao_store::LicenseFilter::default(), before, 2000)
            .await?;
        let Some(last) = page.last() else { break };
        before = Some(last.key);
        holders.extend(
            page.iter()
                .filter_map(|l| l.current())
                .map(|v| v.holder.id.clone()),
        );
    }
    holders.truncate(licenses);
    if holders.len() < licenses {
        let missing = licenses - holders.len();
        let started = Instant::now();
        let caller = crate::bench::clerk()?;
        let first = holders.len() + 1_000_000_000;
        crate::bench::issue_in_process(&library, &caller, first, missing, 256).await?;
        holders.extend((first..first + missing).map(crate::bench::holder_of));
        println!(
            "loaded {missing} licenses in {:.0} s ({:.0} /s)",
            started.elapsed().as_secs_f64(),
            missing as f64 / started.elapsed().as_secs_f64()
        );
    }

    // Eight usage-list scenarios, approved, a credential each.
    let approver = approver()?;
    let today = jiff::Zoned::now().date();
    let mut credentials = Vec::with_capacity(SCENARIOS);
    for i in 0..SCENARIOS {
        let application: zhengzhao_domain::scenario::ScenarioApplication = serde_json::from_value(
            serde_json::json!({
                "relying_party": {"name": format!("基准测试单位{i}"), "credit_code": "91150105MA0BANK017", "kind": "government"},
                "kind": "usage_list", "name": "基准测试", "purpose": "吞吐量测试",
                "legal_basis": "基准测试", "expected_daily_volume": 10_000_000,
                "grants": [{"type_code": "11100000MB0143028R001", "fields": ["name", "credit_code"]}],
                "valid_from": today.yesterday()?.to_string(),
                "valid_until": today.checked_add(jiff::Span::new().days(30))?.to_string(),
                "contact": {"name": "测试", "phone": "0471-1234567"}
            }),
        )?;
        let submitted = library.apply_for_scenario(None, None, application).await?;
        library
            .decide_scenario(
                &approver,
                submitted.scenario_id,
                zhengzhao_domain::scenario::Decision::Approve,
                "基准测试",
            )
            .await?;
        let credential = library
            .mint_scenario_credential(&approver, submitted.scenario_id, false)
            .await?;
        credentials.push(credential.token);
    }

    let base = format!("http://{}", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let holders = Arc::new(holders);
    let credentials = Arc::new(credentials);
    let healthz = get(format!("{base}/healthz"));
    let query: RequestMaker = Arc::new(move |c: &reqwest::Client, _, seed: &mut u64| {
        let n = next_random(seed);
        let holder = &holders[(n % holders.len() as u64) as usize];
        let credential = &credentials[((n >> 32) % credentials.len() as u64) as usize];
        c.post(format!("{base}/api/v1/shared/queries"))
            .bearer_auth(credential)
            .json(&serde_json::json!({
                "holder_id": holder, "type_code": "11100000MB0143028R001",
                "use_cause": "基准测试", "fields": ["name"]
            }))
    });
    drive_apart(healthz.clone(), concurrency, Budget::Seconds(1.0), None).await??;
    drive_apart(query.clone(), concurrency, Budget::Seconds(1.0), None).await??;

    let health = drive_apart(healthz, concurrency, Budget::Seconds(seconds), None).await??;
    print("(a) GET /healthz", &health);
    let shared = drive_apart(query, concurrency, Budget::Seconds(seconds), None).await??;
    print("(b) POST /api/v1/shared/queries", &shared);
    println!(
        "shared ÷ healthz throughput:        {:>7.1} %",
        100.0 * shared.rate / health.rate
    );
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
