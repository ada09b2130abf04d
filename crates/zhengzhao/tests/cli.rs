//! The `zhengzhao` binary as an operator meets it: first start, tokens made
//! while the server runs, SIGTERM, restart, config file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_zhengzhao");

struct Server {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

/// Where a test's library is kept: SQLite under its data directory, or
/// PostgreSQL at this URL (`TEST_DATABASE_URL`).
#[derive(Debug, Clone)]
enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// A place for one new library on this backend (on PostgreSQL, a fresh
    /// schema; the data directory still holds the master key and admin token).
    async fn library(&self) -> Db {
        match self {
            Self::Sqlite => SQLITE,
            Self::Postgres(url) => Db {
                postgres: Some((
                    url.clone(),
                    zhengzhao_store_postgres::testing::fresh_schema_name(url).await,
                )),
            },
        }
    }
}

/// One library's place: the extra arguments that point a command at it.
struct Db {
    /// PostgreSQL: the database URL and the library's schema.
    postgres: Option<(String, String)>,
}

/// SQLite in the data directory: no extra arguments.
const SQLITE: Db = Db { postgres: None };

impl Db {
    /// Nothing for SQLite; `--database-url` and `--database-schema` for PostgreSQL.
    fn args(&self) -> Vec<&str> {
        match &self.postgres {
            None => Vec::new(),
            Some((url, schema)) => vec!["--database-url", url, "--database-schema", schema],
        }
    }

    /// `cli`, on this library.
    fn cli(&self, data: &Path, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .arg("--data")
            .arg(data)
            .args(self.args())
            .env("ZHENGZHAO_LOG_LEVEL", "warn")
            .env_remove("ZHENGZHAO_DATABASE_URL")
            .output()
            .unwrap()
    }

    /// `serve`, on this library.
    fn serve(&self, args: &[&str]) -> Server {
        let mut command = Command::new(BIN);
        command.arg("serve").args(args).args(self.args());
        start(command)
    }
}

/// Run one test body on both backends: `both_backends!(name);` beside
/// `async fn name(backend: Backend)` makes the tests `name::sqlite` and
/// `name::postgres`. The PostgreSQL half is skipped, with a line on stderr,
/// only when `test_database_url()` says so (never under `CI=true`).
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                let Some(url) = zhengzhao_store_postgres::testing::test_database_url() else {
                    return;
                };
                super::$name(super::Backend::Postgres(url)).await;
            }
        }
    };
}

/// Start `zhengzhao serve` and wait for its "listening on" line.
fn serve(args: &[&str]) -> Server {
    SQLITE.serve(args)
}

/// Start `command` (a `zhengzhao serve`) and wait for its "listening on" line.
fn start(mut command: Command) -> Server {
    let mut child = command
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut stdout = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "server exited early: {stdout:?}"
        );
        stdout.push(line.trim_end().to_owned());
        // The listening line is followed by the four URLs.
        if stdout
            .iter()
            .rev()
            .nth(4)
            .is_some_and(|l| l.contains("listening on http://"))
        {
            break;
        }
    }
    let listening = stdout
        .iter()
        .find(|l| l.contains("listening on http://"))
        .unwrap();
    let base = listening.rsplit(' ').next().unwrap().to_owned();
    // Drain the rest in the background so the pipe never fills.
    std::thread::spawn(move || for _ in reader.lines() {});
    Server {
        child,
        base,
        stdout,
    }
}

impl Drop for Server {
    /// A failing test must not leave a server running.
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Run a command on the SQLite library in `data`.
fn cli(data: &Path, args: &[&str]) -> std::process::Output {
    SQLITE.cli(data, args)
}

fn terminate(server: Server) {
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            assert!(status.success(), "exit after SIGTERM: {status}");
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn first_start_tokens_shutdown_and_restart(backend: Backend) {
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let server = db.serve(&["--data", data_s, "--listen", "127.0.0.1:0"]);
    let token_file = data.join("admin-token");
    let admin = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert!(admin.starts_with("zzt_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let printed = server.stdout.join("\n");
    assert!(printed.contains(token_file.to_str().unwrap()), "{printed}");
    assert!(!printed.contains(&admin), "the token itself was printed");
    assert!(printed.contains("/catalog"), "{printed}");

    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "{\"status\":\"ok\"}");

    // A token made at the command line while the server runs.
    let out = db.cli(
        &data,
        &[
            "token",
            "create",
            "--org",
            "150100",
            "--role",
            "issuer_clerk",
            "--label",
            "包头测试",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "token create must print the token alone: {stdout:?}"
    );
    let clerk = lines[0];
    assert!(clerk.starts_with("zzt_") && clerk.len() == 68);
    let as_clerk = http
        .post(format!("{}/api/v1/catalog", server.base))
        .bearer_auth(clerk)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        as_clerk.status(),
        403,
        "a live clerk token is recognised, then refused by role"
    );

    let list = String::from_utf8(db.cli(&data, &["token", "list"]).stdout).unwrap();
    let row = list.lines().find(|l| l.contains("包头测试")).unwrap();
    assert!(
        row.contains("150100") && row.contains("issuer_clerk") && row.contains("active"),
        "{row}"
    );
    assert!(!list.contains("zzt_"), "token list shows a secret");
    let id = row.split_whitespace().next().unwrap();
    assert!(db.cli(&data, &["token", "revoke", id]).status.success());
    let after = http
        .post(format!("{}/api/v1/catalog", server.base))
        .bearer_auth(clerk)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401);

    let bad = db.cli(
        &data,
        &["token", "create", "--org", "150100", "--role", "boss"],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("unknown role 'boss'") && err.contains("未知角色"),
        "{err}"
    );
    let bad = db.cli(
        &data,
        &["token", "create", "--org", "159999", "--role", "auditor"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("159999"));

    terminate(server);

    // A restart reuses the library: no new seed, same admin token.
    let again = db.serve(&["--data", data_s, "--listen", "127.0.0.1:0"]);
    assert!(
        !again.stdout.join("\n").contains("seeded"),
        "{:?}",
        again.stdout
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), admin);
    let orgs = http
        .get(format!("{}/api/v1/orgs/150781", again.base))
        .send()
        .await
        .unwrap();
    assert_eq!(orgs.status(), 200);
    terminate(again);
}
both_backends!(first_start_tokens_shutdown_and_restart);

// SQLite only: about where settings come from (file, env, flags), not the store.
#[tokio::test(flavor = "multi_thread")]
async fn settings_come_from_file_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("lib");
    let config = dir.path().join("zhengzhao.toml");
    std::fs::write(
        &config,
        format!(
            "data = {:?}\nlisten = \"127.0.0.1:1\"\nlog_format = \"json\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    // The flag beats the file's unusable port.
    let server = serve(&[
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(
        data.join("admin-token").exists(),
        "data directory from the file"
    );
    terminate(server);

    // An environment variable beats the file too.
    let mut child = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("ZHENGZHAO_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    while !line.contains("listening on") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0);
    }
    child.kill().unwrap();
    let _ = child.wait();

    // An unknown key is an error that names it.
    std::fs::write(&config, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lisen"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// SQLite only (both benches): a bench builds its own scratch SQLite library;
// the database flags do not reach it.
/// `bench issue` issues real licenses and prints both rates and their ratio.
#[test]
fn bench_issue_prints_its_figures() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "issue",
            "--count",
            "40",
            "--concurrency",
            "8",
            "--raw-seconds",
            "0.2",
        ])
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    let figure = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line in {text}"));
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let cores: f64 = text
        .lines()
        .next()
        .and_then(|l| l.split(", ").last())
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let one = figure("raw SM2 sign (1 KiB, DER):");
    // Over loopback HTTP by default, with the trivial endpoint as baseline.
    let issued = figure("issued over HTTP:");
    assert!(figure("GET /healthz (baseline)") > 0.0, "{text}");
    assert!(figure("POST /api/v1/licenses") > 0.0, "{text}");
    assert!(text.contains("p99"), "{text}");
    let ratio = figure("ratio to raw signing × cores:");
    assert!(one > 0.0 && issued > 0.0, "{text}");
    let expected = 100.0 * issued / (one * cores);
    assert!(
        (ratio - expected).abs() < 0.1,
        "{ratio} vs {expected}: {text}"
    );
}

/// `bench shared` loads a library, approves its scenarios, and prints both
/// figures, every query answered (no errors: no quota, rate or grant
/// refusals), with a ratio that agrees with them.
#[test]
fn bench_shared_prints_its_figures() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "shared",
            "--licenses",
            "60",
            "--seconds",
            "0.3",
            "--concurrency",
            "4",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    let rate = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line in {text}"));
        assert!(!line.contains("errors"), "{line}");
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let health = rate("(a) GET /healthz");
    let shared = rate("(b) POST /api/v1/shared/queries");
    assert!(health > 0.0 && shared > 0.0, "{text}");
    let ratio: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("shared ÷ healthz throughput:"))
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (ratio - 100.0 * shared / health).abs() < 0.2,
        "{ratio}: {text}"
    );
}

/// `bench verify` loads a library, checks every signature once, and prints
/// the three figures with a ratio that agrees with them.
#[test]
fn bench_verify_prints_its_figures() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "verify",
            "--licenses",
            "60",
            "--seconds",
            "0.3",
            "--concurrency",
            "4",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    let rate = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no '{prefix}' line in {text}"));
        assert!(!line.contains("errors"), "{line}");
        line[prefix.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let health = rate("(a) GET /healthz");
    let check = rate("(b) GET /api/v1/verify/{id}");
    let half = rate("(c) verify at half its peak rate");
    assert!(health > 0.0 && check > 0.0 && half > 0.0, "{text}");
    assert!(half < check, "paced below the peak: {text}");
    assert!(
        text.contains("signatures checked once at start:  60 in"),
        "{text}"
    );
    assert!(text.contains(", 0 bad"), "{text}");
    let ratio: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("verify ÷ healthz throughput:"))
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (ratio - 100.0 * check / health).abs() < 0.2,
        "{ratio}: {text}"
    );
}

/// `audit verify` passes on an untouched library, and after a row of the
/// audit log is edited directly in the database it fails, naming the entry.
async fn audit_verify_names_the_first_tampered_entry(backend: Backend) {
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    for args in [
        &["init"][..],
        &["token", "create", "--org", "150100", "--role", "auditor"],
        &["token", "create", "--org", "150200", "--role", "auditor"],
        &["audit", "checkpoint"],
        &["token", "create", "--org", "150300", "--role", "auditor"],
    ] {
        let out = db.cli(data, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let good = db.cli(data, &["audit", "verify"]);
    let text = String::from_utf8(good.stdout).unwrap();
    assert!(good.status.success(), "{text}");
    assert!(text.contains("audit log verified"), "{text}");
    assert!(text.contains("1 signed checkpoints"), "{text}");

    // The second token made: its entry number (1-based) and sequence number.
    let find = "SELECT (SELECT count(*) FROM audit_events e WHERE e.seq <= t.seq), t.seq
             FROM audit_events t WHERE t.action = 'token.create' ORDER BY t.seq LIMIT 1 OFFSET 1";
    let (entry, seq): (i64, i64) = match &db.postgres {
        None => {
            let conn = rusqlite::Connection::open(data.join("zhengzhao.db")).unwrap();
            let (entry, seq): (i64, i64) = conn
                .query_row(find, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            conn.execute_batch(&format!(
                "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET org = '150100' WHERE seq = {seq};"
            ))
            .unwrap();
            (entry, seq)
        }
        Some((url, schema)) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(&format!("SET search_path TO {schema}"))
                .await
                .unwrap();
            let row = client.query_one(find, &[]).await.unwrap();
            let (entry, seq): (i64, i64) = (row.get(0), row.get(1));
            client
                .batch_execute(&format!(
                    "DROP TRIGGER audit_events_no_change ON audit_events; UPDATE audit_events SET org = '150100' WHERE seq = {seq};"
                ))
                .await
                .unwrap();
            (entry, seq)
        }
    };
    let bad = db.cli(data, &["audit", "verify"]);
    let text = String::from_utf8(bad.stdout).unwrap();
    assert!(!bad.status.success(), "{text}");
    assert!(
        text.contains(&format!("entry #{entry} (seq {seq}) was altered")),
        "{text}"
    );
    // The entries before the altered one were checked and are good.
    assert!(
        text.contains(&format!(
            "FAILED verification after {} good entries",
            entry - 1
        )),
        "{text}"
    );
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("审计日志校验未通过"), "{err}");
}
both_backends!(audit_verify_names_the_first_tampered_entry);

/// `audit checkpoint` prints the whole signed note, which a note verifier
/// holding the key `audit verifier-key` prints accepts (the independent
/// Python checker of the server's tests).
async fn audit_checkpoint_prints_a_signed_note(backend: Backend) {
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let run = |args: &[&str]| {
        let out = db.cli(data, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["init"]);
    let note = run(&["audit", "checkpoint"]);
    let vkey = run(&["audit", "verifier-key"]);
    let vkey = vkey.trim_end();
    let (text, signatures) = note.rsplit_once("\n\n").unwrap();
    let origin = text.lines().next().unwrap();
    assert!(origin.starts_with("zhengzhao/audit-sm3/150000/"), "{note}");
    assert!(vkey.starts_with(&format!("{origin}+")), "{vkey}");
    assert!(text.lines().nth(3).unwrap().starts_with("time "), "{note}");
    assert_eq!(
        signatures
            .lines()
            .filter(|l| l.starts_with(&format!("\u{2014} {origin} ")))
            .count(),
        2,
        "{note}"
    );
    let script = data.join("note_verify.py");
    let file = data.join("checkpoint.note");
    std::fs::write(
        &script,
        include_str!("../../zhengzhao-http/tests/api/note_verify.py"),
    )
    .unwrap();
    std::fs::write(&file, &note).unwrap();
    let checked = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .arg(vkey)
        .output()
        .expect("python3 with the cryptography package must be installed");
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    // (The first checkpoint made the region's key, an event: the next one
    // covers it.) Nothing new after that: the same checkpoint again.
    let second = run(&["audit", "checkpoint"]);
    assert_ne!(second, note);
    assert_eq!(run(&["audit", "checkpoint"]), second);
    assert!(run(&["audit", "verify"]).contains("2 signed checkpoints"));
}
both_backends!(audit_checkpoint_prints_a_signed_note);

// SQLite only: `backup` copies the SQLite file (PostgreSQL: pg_dump, see
// `backup_and_restore_on_postgres_point_to_pg_dump`).
/// A backup taken while licenses are being issued restores into a library
/// whose audit log and signatures verify; a second restore over it needs --force.
#[tokio::test(flavor = "multi_thread")]
async fn backup_under_writes_restores_to_a_library_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let server = serve(&["--data", live.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let out = cli(
        &live,
        &[
            "token",
            "create",
            "--org",
            "150102",
            "--role",
            "issuer_clerk",
        ],
    );
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let base = server.base.clone();
    let writer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        for i in 0..40 {
            // One company per license: a credit code has one current 营业执照.
            let holder = zhengzhao_domain::codes::CreditCode::with_check_character(&format!(
                "91150102MA0N4JX{i:02}"
            ))
            .unwrap()
            .to_string();
            let body = serde_json::json!({
                "type_code": "11100000MB0143028R001",
                "issuer": "150102",
                "holder": {"name": format!("备份测试{i}有限公司"), "id_type": "uscc", "id": holder},
                "face": {
                    "credit_code": holder, "name": format!("备份测试{i}有限公司"),
                    "entity_type": "有限责任公司", "legal_representative": "张三",
                    "business_scope": "软件开发", "registered_capital": "1000000",
                    "established_date": "2024-01-15", "domicile": "呼和浩特市新城区",
                    "registration_authority": "150102", "registration_date": "2024-01-15"
                },
                "valid_from": "2024-01-15", "valid_until": null,
                "source": {"system": "backup-test", "record_id": format!("R{i}")}
            });
            let resp = client
                .post(format!("{base}/api/v1/licenses"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let file = dir.path().join("backup.db");
    let (live_c, file_c) = (live.clone(), file.clone());
    let backup = tokio::task::spawn_blocking(move || {
        cli(&live_c, &["backup", "--to", file_c.to_str().unwrap()])
    })
    .await
    .unwrap();
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    writer.await.unwrap();
    terminate(server);

    let restored = dir.path().join("restored");
    // Without the master key that opens its keys, the backup is refused
    // before anything is installed.
    let keyless = cli(&restored, &["restore", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&keyless.stderr);
    assert!(!keyless.status.success(), "{err}");
    assert!(
        err.contains("--master-key-file") && err.contains("未提供主密钥"),
        "{err}"
    );
    assert!(
        !restored.exists(),
        "a refused restore leaves nothing behind"
    );

    let key = live.join("master-key");
    let key = key.to_str().unwrap();
    let out = cli(
        &restored,
        &["restore", file.to_str().unwrap(), "--master-key-file", key],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("master key opens its"), "{text}");
    assert!(text.contains("audit log verified"), "{text}");
    assert!(text.contains("signed versions verified"), "{text}");
    let verify = cli(&restored, &["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // Started without its master key, the restored library refuses to
    // start and makes no new key (one that would open none of its keys).
    let start = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&restored)
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&start.stderr);
    assert!(!start.status.success(), "{err}");
    assert!(
        err.contains(restored.join("master-key").to_str().unwrap())
            && err.contains("ZHENGZHAO_MASTER_KEY")
            && err.contains("缺少主密钥"),
        "{err}"
    );
    assert!(
        !restored.join("master-key").exists(),
        "a master key was made"
    );

    let again = cli(&restored, &["restore", file.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = cli(
        &restored,
        &[
            "restore",
            file.to_str().unwrap(),
            "--force",
            "--master-key-file",
            key,
        ],
    );
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
}

/// Files in `dir` and their bytes (the lock file aside), to show that a
/// refused command changed nothing.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name() != "zhengzhao.lock")
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// SQLite only: about the data directory and its database file; PostgreSQL
// has its own, `no_library_in_a_fresh_postgres_schema`.
/// A typo in `--data` (or a wrong working directory) never makes a library:
/// only `serve` and `init` do. Every other command fails, in both
/// languages, and leaves nothing behind.
#[test]
fn only_serve_and_init_make_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong");
    let pem = dir.path().join("x.pem");
    std::fs::write(&pem, "not used").unwrap();
    let pem = pem.to_str().unwrap();
    let backup = dir.path().join("backup.db");
    let id = "01900000-0000-7000-8000-000000000000";
    for args in [
        &["audit", "verify"][..],
        &["audit", "checkpoint"],
        &["token", "list"],
        &["token", "create", "--org", "150100", "--role", "auditor"],
        &["token", "revoke", id],
        &["user", "list"],
        &[
            "user",
            "create",
            "--username",
            "sec.admin",
            "--name",
            "安全管理员",
            "--org",
            "150000",
            "--role",
            "security_admin",
        ],
        &["user", "reset", "--username", "sec.admin"],
        &["keys", "list"],
        &["keys", "rotate", "--org", "150102"],
        &["keys", "rotate-data-key"],
        &["keys", "revoke", id, "--reason", "key_compromise"],
        &[
            "keys", "import", "--org", "150102", "--cert", pem, "--key", pem,
        ],
        &["backup", "--to", backup.to_str().unwrap()],
    ] {
        let out = cli(&wrong, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&format!("no library at {}", wrong.display()))
                && err.contains("处没有证照库"),
            "{args:?}: {err}"
        );
        assert!(!wrong.exists(), "{args:?} left {}", wrong.display());
        assert!(!backup.exists(), "{args:?}");
    }

    // A wrong working directory: the default ./data is not made either.
    let out = Command::new(BIN)
        .args(["token", "list"])
        .current_dir(dir.path())
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATA")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("no library at ./data"), "{err}");
    assert!(!dir.path().join("data").exists());

    // A file there that is not a library is not taken for one, nor changed.
    std::fs::create_dir(&wrong).unwrap();
    std::fs::write(wrong.join("zhengzhao.db"), "not a database").unwrap();
    let out = cli(&wrong, &["token", "list"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a SQLite database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        snapshot(&wrong),
        [("zhengzhao.db".to_owned(), b"not a database".to_vec())]
    );

    // `init` makes one; then the others find it.
    let lib = dir.path().join("lib");
    ok(&cli(&lib, &["init"]));
    assert!(ok(&cli(&lib, &["token", "list"])).contains("region_admin"));
}

/// The same on PostgreSQL: a schema without the library's tables is no
/// library; the commands neither create the schema nor migrate it.
#[tokio::test(flavor = "multi_thread")]
async fn no_library_in_a_fresh_postgres_schema() {
    let Some(url) = zhengzhao_store_postgres::testing::test_database_url() else {
        return;
    };
    let schema = zhengzhao_store_postgres::testing::fresh_schema_name(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--data")
            .arg(&data)
            .args(["--database-url", &url, "--database-schema", &schema])
            .env("ZHENGZHAO_LOG_LEVEL", "warn")
            .output()
            .unwrap()
    };
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let tables = || async {
        client
            .query_one(
                "SELECT count(*) FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid
                 WHERE n.nspname = $1",
                &[&schema],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let refused = |out: std::process::Output| {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains(&format!("no library at PostgreSQL schema {schema}"))
                && err.contains("处没有证照库"),
            "{err}"
        );
        assert!(!data.exists());
    };
    for args in [
        &["token", "list"][..],
        &["audit", "verify"],
        &["user", "list"],
    ] {
        refused(run(args));
    }
    assert_eq!(tables().await, 0, "the schema was created");
    // An empty schema is no library either, and stays empty.
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    refused(run(&[
        "token", "create", "--org", "150100", "--role", "auditor",
    ]));
    assert_eq!(tables().await, 1, "the empty schema was migrated");

    ok(&run(&["init"]));
    assert!(ok(&run(&["token", "list"])).contains("region_admin"));
    let _ = client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await;
}

/// On PostgreSQL, `backup` and `restore` are refused, pointing to pg_dump
/// and pg_restore: no file is written, and the library is left as it was.
#[tokio::test(flavor = "multi_thread")]
async fn backup_and_restore_on_postgres_point_to_pg_dump() {
    let Some(url) = zhengzhao_store_postgres::testing::test_database_url() else {
        return;
    };
    let db = Backend::Postgres(url).library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&db.cli(&data, &["init"]));
    let tokens = ok(&db.cli(&data, &["token", "list"]));
    let before = snapshot(&data);

    let file = dir.path().join("backup.db");
    let out = db.cli(&data, &["backup", "--to", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("backups of a PostgreSQL library are taken with pg_dump")
            && err.contains("用 pg_dump 备份")
            && err.contains("docs/backup-and-restore.md"),
        "{err}"
    );
    assert!(!file.exists(), "a backup file was written");

    // A real backup (of a SQLite library) is refused as well, even with --force.
    let sqlite = dir.path().join("sqlite");
    ok(&cli(&sqlite, &["init"]));
    ok(&cli(&sqlite, &["backup", "--to", file.to_str().unwrap()]));
    let out = db.cli(&data, &["restore", file.to_str().unwrap(), "--force"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("a PostgreSQL library is restored with pg_restore")
            && err.contains("用 pg_restore 恢复")
            && err.contains("docs/backup-and-restore.md"),
        "{err}"
    );
    assert_eq!(
        snapshot(&data),
        before,
        "a refused restore changed the data directory"
    );
    assert_eq!(ok(&db.cli(&data, &["token", "list"])), tokens);
}

// SQLite only: about SQLite backup files (PostgreSQL refuses `restore`).
/// `restore` refuses a file that holds no library: not a SQLite file at
/// all, an empty one, or a SQLite database of something else.
#[test]
fn restore_refuses_a_file_that_holds_no_library() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "这不是备份 / not a backup\n").unwrap();
    let zero = dir.path().join("zero.db");
    std::fs::write(&zero, "").unwrap();
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('x');")
        .unwrap();
    for (file, en, zh) in [
        (&text, "is not a SQLite database", "不是 SQLite 数据库"),
        (&zero, "is not a SQLite database", "不是 SQLite 数据库"),
        (&other, "holds no library", "中没有证照库"),
    ] {
        let out = cli(&target, &["restore", file.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file:?}: {err}");
        assert!(err.contains(en) && err.contains(zh), "{file:?}: {err}");
        assert!(!target.exists(), "{file:?}");
    }
    let tables: i64 = rusqlite::Connection::open(&other)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "the file restored from is left as it was");
}

// SQLite only: restores a SQLite backup over the running library.
/// While `serve` runs on a data directory it holds its lock: `restore`
/// (even with --force) and a second `serve` are refused, and the running
/// library is untouched; once it stops, the restore goes through.
#[tokio::test(flavor = "multi_thread")]
async fn restore_and_a_second_serve_are_refused_while_serve_runs() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let server = serve(&["--data", live.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    let file = dir.path().join("backup.db");
    ok(&cli(&live, &["backup", "--to", file.to_str().unwrap()]));
    let token = ok(&cli(
        &live,
        &["token", "create", "--org", "150100", "--role", "auditor"],
    ));

    let restore = cli(&live, &["restore", file.to_str().unwrap(), "--force"]);
    let err = String::from_utf8_lossy(&restore.stderr);
    assert!(!restore.status.success(), "{err}");
    assert!(
        err.contains("another process holds the library") && err.contains("正由另一进程使用"),
        "{err}"
    );
    let second = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&live)
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{err}");
    assert!(err.contains("another process holds the library"), "{err}");

    // The token made after the backup still works: nothing was replaced.
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/audit/events", server.base))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    terminate(server);

    let restored = ok(&cli(&live, &["restore", file.to_str().unwrap(), "--force"]));
    assert!(restored.contains("audit log verified"), "{restored}");
}

// SQLite only: restores a SQLite backup (PostgreSQL refuses `restore`).
/// A master key that does not open the backup's keys (here: the target
/// library's own) is refused before anything is installed; the right one
/// restores, after which the target's old key no longer starts it.
#[test]
fn restore_with_the_wrong_master_key_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for d in [&a, &b] {
        ok(&cli(d, &["init"]));
        ok(&cli(d, &["keys", "rotate", "--org", "150102"]));
    }
    let file = dir.path().join("a.db");
    ok(&cli(&a, &["backup", "--to", file.to_str().unwrap()]));
    let before = snapshot(&b);

    let out = cli(&b, &["restore", file.to_str().unwrap(), "--force"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is not this library's") && err.contains("不是这个证照库的主密钥"),
        "{err}"
    );
    assert_eq!(snapshot(&b), before, "a refused restore changed the target");

    let a_key = a.join("master-key");
    ok(&cli(
        &b,
        &[
            "restore",
            file.to_str().unwrap(),
            "--force",
            "--master-key-file",
            a_key.to_str().unwrap(),
        ],
    ));
    let start = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&b)
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&start.stderr);
    assert!(!start.status.success(), "{err}");
    assert!(err.contains("not the library's master key"), "{err}");
}

/// Commands other than `serve` are quiet unless asked (no migration notes),
/// and log lines carry no colour codes when stderr is not a terminal.
async fn commands_are_quiet_and_colourless_by_default(backend: Backend) {
    let (fresh_db, loud_db) = (backend.library().await, backend.library().await);
    let dir = tempfile::tempdir().unwrap();
    let quiet = |db: &Db, args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .args(db.args())
            .env_remove("ZHENGZHAO_LOG_LEVEL")
            .env_remove("ZHENGZHAO_DATABASE_URL")
            .output()
            .unwrap()
    };
    let fresh = dir.path().join("fresh");
    let out = quiet(&fresh_db, &["init", "--data", fresh.to_str().unwrap()]);
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("INFO") && !err.contains('\x1b'), "{err}");
    let out = quiet(
        &fresh_db,
        &["token", "list", "--data", fresh.to_str().unwrap()],
    );
    ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");

    let loud = dir.path().join("loud");
    let out = quiet(
        &loud_db,
        &[
            "init",
            "--log-level",
            "info",
            "--data",
            loud.to_str().unwrap(),
        ],
    );
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("INFO"),
        "asked for, the notes are there: {err}"
    );
    assert!(!err.contains('\x1b'), "{err}");
}
both_backends!(commands_are_quiet_and_colourless_by_default);

/// The first staff user is made at the command line while the server runs,
/// logs in over HTTP with the printed password and TOTP secret, and is
/// listed; a signed token prints its HMAC key on a second line.
async fn first_staff_user_from_the_command_line(backend: Backend) {
    use zhengzhao_core::credentials::{totp_code, totp_secret_from_base32, totp_step};
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = db.serve(&["--data", data.to_str().unwrap(), "--listen", "127.0.0.1:0"]);

    let bad = db.cli(
        &data,
        &[
            "user",
            "create",
            "--username",
            "sec.admin",
            "--name",
            "安全管理员",
            "--org",
            "150000",
            "--role",
            "auditor",
            "--role",
            "issuer_clerk",
        ],
    );
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("roles") && err.contains("职责分离"), "{err}");

    let out = db.cli(
        &data,
        &[
            "user",
            "create",
            "--username",
            "sec.admin",
            "--name",
            "安全管理员",
            "--org",
            "150000",
            "--role",
            "security_admin",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
            .to_owned()
    };
    let password = field("initial_password");
    let secret = totp_secret_from_base32(&field("totp_secret")).unwrap();
    assert!(field("totp_uri").starts_with("otpauth://totp/zhengzhao:sec.admin?"));
    // The code of the step five seconds from now: the server takes one step
    // either side, so it holds whether or not a step ends before it arrives
    // (this server runs the system clock; no waiting for a fresh step).
    let code = totp_code(&secret, totp_step(jiff::Timestamp::now().as_second() + 5)).unwrap();
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/session", server.base))
        .json(
            &serde_json::json!({"username": "sec.admin", "password": password, "totp_code": code}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::CREATED);
    let session: serde_json::Value = login.json().await.unwrap();
    assert_eq!(session["must_change_password"], true);
    assert_eq!(session["roles"], serde_json::json!(["security_admin"]));

    let list = db.cli(&data, &["user", "list"]);
    let listed = String::from_utf8(list.stdout).unwrap();
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("sec.admin") && l.contains("security_admin")),
        "{listed}"
    );
    assert!(!listed.contains(&password));

    let signed = db.cli(
        &data,
        &[
            "token",
            "create",
            "--org",
            "150781",
            "--role",
            "issuer_clerk",
            "--label",
            "登记系统",
            "--signed",
        ],
    );
    assert!(signed.status.success());
    let lines: Vec<String> = String::from_utf8(signed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("zzt_") && lines[1].starts_with("zzs_"));
    terminate(server);
}
both_backends!(first_staff_user_from_the_command_line);

// SQLite only: the README's walkthrough uses the default SQLite library.
/// The README's walkthrough, run as written: its `sh` blocks, in order, in
/// one shell beside a started server (same working directory, so the CLI
/// finds `./data`), with only the server's address put in for :8080.
/// Run the `sh` blocks of the README's section `name`, in order, in one
/// shell beside a freshly started server (same working directory, so the
/// CLI finds `./data`), with only the server's address put in for :8080.
/// Returns the script's standard output and error; fails the test if it
/// fails.
fn run_readme_section(name: &str) -> (String, String) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split(&format!("\n## {name}\n"))
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap_or_else(|| panic!("README has a {name} section"));
    let blocks: Vec<&str> = section
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 5, "{blocks:?}");

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .env_remove("ZHENGZHAO_DATA")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "server exited early"
        );
        if let Some(url) = line.trim_end().split("listening on ").nth(1) {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    let server = Server {
        child,
        base: base.clone(),
        stdout: Vec::new(),
    };

    let script = blocks.join("\n").replace("http://127.0.0.1:8080", &base);
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .env_remove("ZHENGZHAO_DATA")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{script}\n---\n{stdout}\n---\n{stderr}"
    );
    let output = (stdout.into_owned(), stderr.into_owned());
    terminate(server);
    output
}

#[test]
fn readme_walkthrough_runs_as_written() {
    let (stdout, stderr) = run_readme_section("Walkthrough");
    // The license was issued, updated, checked, verified with OpenSSL (its
    // document and its PDF), revoked.
    let id = stdout.lines().next().unwrap_or_default();
    assert!(
        id.starts_with("1.2.156.3005.2.11100000MB0143028R001."),
        "{stdout}"
    );
    assert!(stdout.contains("\"version\": 2"), "{stdout}");
    assert!(stdout.contains("\"signature_valid\": true"), "{stdout}");
    assert!(
        stdout.contains("Signature Verified Successfully"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("cert.pem: OK"), "{stdout}\n{stderr}");
    // The PDF: its signature covers the whole file, OpenSSL checks the
    // message digest over it and the SM2 signature (document, PDF and status list: three times).
    assert!(
        stdout.contains("the signature covers the whole file")
            && stderr.contains("CMS Verification successful")
            && stdout.matches("Signature Verified Successfully").count() == 3,
        "{stdout}\n{stderr}"
    );
    // Revoked: by the API, the public check, and offline from the signed
    // status list (after OpenSSL verified the list's signature).
    assert_eq!(
        stdout.lines().rev().take(5).collect::<Vec<_>>(),
        [
            "\"revoked\"",
            "Signature Verified Successfully",
            "region.pem: OK",
            "\"revoked\"",
            "\"revoked\""
        ],
        "{stdout}"
    );
}

/// The README's relying parties, run as written: the bank's application,
/// approval, credential, the holder's consent through a channel (signed
/// with OpenSSL's HMAC-SM3), an annotated copy and its document check, the
/// bank's read, the holder's usage view, and a counter's usage-list check.
#[test]
fn readme_relying_parties_run_as_written() {
    let (stdout, stderr) = run_readme_section("Relying parties");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[1..],
        [
            "approved",
            "granted",
            r#"{"kind":"copy","verdict":"genuine_copy","use_cause":"开立对公账户"}"#,
            r#"{"credit_code":"91150102MA0N4JXK2C","name":"呼和浩特市青城科技有限公司"}"#,
            r#"{"relying_party":"某银行股份有限公司呼和浩特分行","use_cause":"开立对公账户","fields":["name","credit_code"],"result":"success"}"#,
            "1",
            r#"["食品经营许可证"]"#,
        ],
        "{stdout}\n{stderr}"
    );
    assert!(
        lines[0].starts_with("1.2.156.3005.2.11100000MB0143028R001."),
        "{stdout}"
    );
}

/// The README's objections, run as written: a public objection, accepted
/// (the public check shows the flag), corrected by a new version naming
/// it, decided, answered, and read back with ticket and tracking code.
#[test]
fn readme_objections_run_as_written() {
    let (stdout, stderr) = run_readme_section("Objections");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[1..],
        [
            r#"{"state":"submitted","route":"local"}"#,
            r#"{"under_objection":true,"objection_fields":["business_scope"]}"#,
            "corrected",
            r#"{"state":"answered","outcome":"corrected","answer":"经营范围已补登，新版执照已签发。"}"#,
        ],
        "{stdout}\n{stderr}"
    );
    assert!(
        lines[0].starts_with("1.2.156.3005.2.11100000MB0143028R001."),
        "{stdout}"
    );
}

/// `keys revoke` withdraws an org key: listed as revoked, refused twice,
/// bad input refused with a reason in both languages, and the org's next
/// key is a new one.
async fn keys_revoke_withdraws_a_key(backend: Backend) {
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("lib");
    ok(&db.cli(&d, &["init"]));
    let rotated = ok(&db.cli(&d, &["keys", "rotate", "--org", "150102"]));
    let key = rotated.split_whitespace().nth(1).unwrap().to_owned();
    let out = ok(&db.cli(
        &d,
        &[
            "keys",
            "revoke",
            &key,
            "--reason",
            "key_compromise",
            "--at",
            "2026-01-01T00:00:00+08:00",
        ],
    ));
    assert!(
        out.contains(&format!("key {key} revoked from 2025-12-31T16:00:00Z")),
        "{out}"
    );
    let list = ok(&db.cli(&d, &["keys", "list", "--org", "150102"]));
    let line = list.lines().find(|l| l.starts_with(&key)).unwrap();
    assert!(line.contains("revoked"), "{list}");
    for (args, en, zh) in [
        (
            vec!["keys", "revoke", &key, "--reason", "key_compromise"],
            "already revoked",
            "冲突",
        ),
        (
            vec!["keys", "revoke", &key, "--reason", "lost"],
            "reason must be one of",
            "吊销原因",
        ),
        (
            vec!["keys", "revoke", "nope", "--reason", "key_compromise"],
            "is not a key id",
            "不是密钥标识",
        ),
        (
            vec![
                "keys",
                "revoke",
                &key,
                "--reason",
                "key_compromise",
                "--at",
                "yesterday",
            ],
            "is not an RFC 3339 time",
            "不是RFC 3339时间",
        ),
    ] {
        let out = db.cli(&d, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(en) && err.contains(zh), "{args:?}: {err}");
    }
    let rotated = ok(&db.cli(&d, &["keys", "rotate", "--org", "150102"]));
    assert!(!rotated.contains(&key), "{rotated}");
}
both_backends!(keys_revoke_withdraws_a_key);

/// A business license row of the import format (`POST /api/v1/licenses`).
fn import_row(i: usize, record: &str) -> serde_json::Value {
    const SYMBOLS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = *b"91150102000000000";
    let mut n = i + 7000;
    for slot in body[8..].iter_mut().rev() {
        *slot = SYMBOLS[n % 31];
        n /= 31;
    }
    let holder =
        zhengzhao_domain::codes::CreditCode::with_check_character(&String::from_utf8_lossy(&body))
            .unwrap()
            .to_string();
    let name = format!("呼和浩特市导入{i}有限公司");
    serde_json::json!({
        "type_code": "11100000MB0143028R001", "issuer": "150102",
        "holder": {"name": name, "id_type": "uscc", "id": holder},
        "face": {"credit_code": holder, "name": name, "entity_type": "有限责任公司",
                 "business_scope": "软件开发", "established_date": "2024-01-15",
                 "registration_authority": "150102", "registration_date": "2024-01-15"},
        "valid_from": "2024-01-15", "valid_until": null,
        "source": {"system": "qiye-dengji", "record_id": record}
    })
}

/// `import`: good rows are taken, bad ones reported by row number and
/// reason (no data), exit status 2; run again, nothing is duplicated; a
/// dry run writes nothing; CSV maps to the same rows; a mostly wrong file
/// stops.
async fn import_takes_reports_and_resumes(backend: Backend) {
    let db = backend.library().await;
    let url = ["--public-url", "https://zz.example.gov.cn"];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&db.cli(&data, &["init"]));
    let file = dir.path().join("export.jsonl");
    let mut lines: Vec<String> = (0..6)
        .map(|i| import_row(i, &format!("R{i}")).to_string())
        .collect();
    let mut bad = import_row(6, "R6");
    bad["face"]["name"] = serde_json::json!("");
    lines.insert(2, bad.to_string());
    lines.insert(4, "{not json".into());
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let path = file.to_str().unwrap();

    let dry = db.cli(&data, &["import", path, "--dry-run", url[0], url[1]]);
    assert_eq!(
        dry.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would import 6"));
    let out = db.cli(&data, &["token", "list"]);
    ok(&out);

    let first = db.cli(&data, &["import", path, url[0], url[1]]);
    assert_eq!(first.status.code(), Some(2));
    let said = String::from_utf8_lossy(&first.stdout);
    assert!(
        said.contains("read 8, imported 6, unchanged 0, rejected 2"),
        "{said}"
    );
    let report = std::fs::read_to_string(dir.path().join("export.jsonl.rejected.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut numbers: Vec<i64> = rows.iter().map(|r| r["row"].as_i64().unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [3, 5]);
    assert!(report.contains("face/name"), "{report}");
    assert!(
        !report.contains("呼和浩特市导入"),
        "no data in the report: {report}"
    );

    // The public URL is signed into each license: required.
    let out = db.cli(&data, &["import", path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-url"));

    // Run again (as after a stop): nothing new, nothing duplicated.
    let again = db.cli(&data, &["import", path, url[0], url[1]]);
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        said.contains("read 8, imported 0, unchanged 6, rejected 2"),
        "{said}"
    );

    // CSV: the same mapping, with face.<name> columns.
    let csv = dir.path().join("export.csv");
    let r = import_row(20, "C20");
    let f = &r["face"];
    std::fs::write(
        &csv,
        format!(
            "type_code,issuer,holder_name,holder_id_type,holder_id,valid_from,valid_until,source_system,source_record_id,face.credit_code,face.name,face.entity_type,face.business_scope,face.established_date,face.registration_authority,face.registration_date\n\
             11100000MB0143028R001,150102,{n},uscc,{h},2024-01-15,,qiye-dengji,C20,{h},{n},有限责任公司,软件开发,2024-01-15,150102,2024-01-15\n",
            n = f["name"].as_str().unwrap(),
            h = f["credit_code"].as_str().unwrap()
        ),
    )
    .unwrap();
    let out = db.cli(&data, &["import", csv.to_str().unwrap(), url[0], url[1]]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("read 1, imported 1"));
    std::fs::write(&csv, "type_code,issuer,fcae.name\n").unwrap();
    let out = db.cli(&data, &["import", csv.to_str().unwrap(), url[0], url[1]]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fcae.name"));

    // Mostly wrong: stopped, and said so.
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{}\n".repeat(300)).unwrap();
    let out = db.cli(
        &data,
        &[
            "import",
            junk.to_str().unwrap(),
            "--max-reject-ratio",
            "0.1",
            url[0],
            url[1],
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("stopped"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
both_backends!(import_takes_reports_and_resumes);

/// `calendar import` takes whole years (a bad file names its line and
/// changes nothing); `backlog` lists what is not done.
#[test]
fn calendar_import_and_backlog() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&cli(&data, &["init"]));
    let bad = dir.path().join("bad.tsv");
    std::fs::write(
        &bad,
        "2027-01-01\tholiday\t元旦\n2027-13-01\tholiday\t坏日期\n",
    )
    .unwrap();
    let out = cli(&data, &["calendar", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") || err.contains("第2行"), "{err}");
    let good = dir.path().join("2027.tsv");
    std::fs::write(
        &good,
        "# 2027\n2027-01-01\tholiday\t元旦\n2027-05-01\tholiday\t劳动节\n2027-10-01\tholiday\t国庆节\n2027-10-02\tholiday\t国庆节\n2027-10-03\tholiday\t国庆节\n",
    )
    .unwrap();
    let out = cli(&data, &["calendar", "import", good.to_str().unwrap()]);
    assert_eq!(ok(&out).trim(), "imported 2027");
    let out = cli(&data, &["backlog"]);
    assert_eq!(ok(&out), "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 items not done"));
}

/// `reconcile`: the export against the library, field by field — missing,
/// differing, extra, rejected as JSON lines, exit status 2; `--repair
/// --revoke-extra` brings the library in line (exit 0), after which the
/// same export is all alike.
async fn reconcile_reports_and_repairs(backend: Backend) {
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&db.cli(&data, &["init"]));
    let url = ["--public-url", "https://zz.example.gov.cn"];
    let held = dir.path().join("held.jsonl");
    let rows: Vec<String> = (0..3)
        .map(|i| import_row(100 + i, &format!("K{i}")).to_string())
        .collect();
    std::fs::write(&held, rows.join("\n")).unwrap();
    ok(&db.cli(&data, &["import", held.to_str().unwrap(), url[0], url[1]]));

    // The system's export today: K0 alike, K1 changed, K2 gone, K3 new,
    // and a row of another system.
    let mut changed = import_row(101, "K1");
    changed["face"]["business_scope"] = serde_json::json!("软件开发；技术服务");
    let mut foreign = import_row(104, "X1");
    foreign["source"]["system"] = serde_json::json!("other");
    let export = dir.path().join("export.jsonl");
    let lines = [
        import_row(100, "K0").to_string(),
        changed.to_string(),
        import_row(103, "K3").to_string(),
        foreign.to_string(),
    ];
    std::fs::write(&export, lines.join("\n")).unwrap();
    let path = export.to_str().unwrap();
    let out = db.cli(&data, &["reconcile", path, "--system", "qiye-dengji"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let status = |s: &str| {
        said.iter()
            .find(|l| l["outcome"]["status"] == s)
            .unwrap()
            .clone()
    };
    assert_eq!(
        status("differs")["outcome"]["fields"],
        serde_json::json!(["face/business_scope"])
    );
    assert_eq!(status("differs")["row"], 2);
    assert_eq!(status("missing")["outcome"]["record_id"], "K3");
    assert_eq!(status("extra")["outcome"]["record_id"], "K2");
    assert_eq!(
        status("rejected")["outcome"]["fields"][0],
        "source/system: other_system"
    );
    assert_eq!(said.len(), 4, "K0 is alike: {said:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("read 4: same 1, missing 1, differing 1, extra 1, rejected 1")
    );

    // Repair (without the foreign row): issued, corrected, revoked.
    std::fs::write(&export, lines[..3].join("\n")).unwrap();
    let out = db.cli(
        &data,
        &[
            "reconcile",
            path,
            "--system",
            "qiye-dengji",
            "--repair",
            "--revoke-extra",
            url[0],
            url[1],
        ],
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("issued 1, updated 1, revoked 1"));
    let out = db.cli(&data, &["reconcile", path, "--system", "qiye-dengji"]);
    ok(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "all alike now");
    assert!(String::from_utf8_lossy(&out.stderr).contains("read 3: same 3"));
}
both_backends!(reconcile_reports_and_repairs);

/// How many licenses the library in `data` (on `db`) holds, read directly.
async fn license_count(db: &Db, data: &Path) -> i64 {
    match &db.postgres {
        None => {
            let c = rusqlite::Connection::open(data.join("zhengzhao.db")).unwrap();
            c.query_row("SELECT count(*) FROM licenses", [], |r| r.get(0))
                .unwrap()
        }
        Some((url, schema)) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .query_one(&format!("SELECT count(*) FROM \"{schema}\".licenses"), &[])
                .await
                .unwrap()
                .get(0)
        }
    }
}

/// Wait (polling another process's progress) until `done` or a minute passed.
async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The importer killed with SIGKILL half-way and run again: every row is
/// there exactly once, what the first run committed is `unchanged`, and
/// the audit log verifies.
async fn import_killed_and_resumed(backend: Backend) {
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&db.cli(&data, &["init"]));
    let file = dir.path().join("big.jsonl");
    let rows: Vec<String> = (0..6000)
        .map(|i| import_row(10_000 + i, &format!("S{i}")).to_string())
        .collect();
    std::fs::write(&file, rows.join("\n")).unwrap();
    let args = [
        "import",
        file.to_str().unwrap(),
        "--public-url",
        "https://zz.example.gov.cn",
    ];
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(&data)
        .args(db.args())
        .env("ZHENGZHAO_LOG_LEVEL", "warn")
        .env_remove("ZHENGZHAO_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first rows", async || {
        license_count(&db, &data).await >= 300
    })
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
    let committed = license_count(&db, &data).await;
    assert!(committed < 6000, "killed before the end: {committed}");

    let out = db.cli(&data, &args);
    let said = ok(&out);
    let unchanged: i64 = said
        .split("unchanged ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        said.contains(&format!("read 6000, imported {}", 6000 - unchanged)),
        "{said}"
    );
    assert_eq!(unchanged, committed, "what was committed is unchanged");
    assert_eq!(license_count(&db, &data).await, 6000, "each row once");
    ok(&db.cli(&data, &["audit", "verify"]));
}
both_backends!(import_killed_and_resumed);

/// A platform that takes its time; it records every request's event id.
async fn slow_platform() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    let got: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                // A receiver slower than the relay, so a kill lands mid-push.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let event = headers["x-zz-event-id"].to_str().unwrap().to_owned();
                let json: serde_json::Value = serde_json::from_str(&body).unwrap();
                let license = json["license_id"].as_str().unwrap_or_default().to_owned();
                seen.lock().unwrap().push((event, license));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// The server killed with SIGKILL while pushing to the platform, then
/// started again: every message reaches the platform (a message in flight
/// at the kill may come twice, with the same event id, never as two
/// events), and the outbox drains.
async fn server_killed_mid_push(backend: Backend) {
    let db = backend.library().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, got) = slow_platform().await;
    let flags = [
        "--data",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--platform-url",
        url.as_str(),
        "--delivery-lease-secs",
        "1",
    ];
    let server = db.serve(&flags);
    let base = server.base.clone();
    let file = dir.path().join("push.jsonl");
    let rows: Vec<String> = (0..400)
        .map(|i| import_row(20_000 + i, &format!("P{i}")).to_string())
        .collect();
    std::fs::write(&file, rows.join("\n")).unwrap();
    ok(&db.cli(
        &data,
        &["import", file.to_str().unwrap(), "--public-url", &base],
    ));
    wait_for("the first pushes", async || got.lock().unwrap().len() >= 40).await;
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let before_restart = got.lock().unwrap().len();
    assert!(before_restart < 400, "killed mid-push: {before_restart}");

    let again = db.serve(&flags);
    let distinct = || {
        let mut ids: Vec<String> = got.lock().unwrap().iter().map(|(e, _)| e.clone()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    wait_for("every message", async || distinct().len() >= 400).await;
    let all = got.lock().unwrap().clone();
    let mut licenses: Vec<&str> = all.iter().map(|(_, l)| l.as_str()).collect();
    licenses.sort_unstable();
    licenses.dedup();
    assert_eq!(licenses.len(), 400, "every license once as an event");
    assert_eq!(distinct().len(), 400, "no license as two events");
    let out = db.cli(&data, &["outbox", "list", "--state", "pending"]);
    assert_eq!(ok(&out), "");
    terminate(again);
}
both_backends!(server_killed_mid_push);
