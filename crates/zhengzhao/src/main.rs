//! `zhengzhao`: the license library's one binary.

mod bench;
mod bench_http;
mod bench_verify;
mod errors;
mod settings;

/// mimalloc: the service allocates many small, short-lived buffers (JSON,
/// rows); glibc malloc took a fifth of the CPU in the issuance benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand, ValueEnum};
use errors::{bail2, fail};
use settings::{FileSettings, LibraryArgs, ServeArgs, server_config};
use std::path::{Path, PathBuf};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_server::service::{Actor, Library};
use zhengzhao_server::{Application, ServerConfig, open_store};

#[derive(Debug, Parser)]
#[command(
    name = "zhengzhao",
    version,
    about = "内蒙古自治区市场监管电子证照库 — the market-regulation electronic license library"
)]
struct Cli {
    /// TOML config file; its keys are the flags' names with underscores
    #[arg(long, env = "ZHENGZHAO_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log format [default: text]
    #[arg(long, env = "ZHENGZHAO_LOG_FORMAT", global = true)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. info or zhengzhao_server=debug [default: info for
    /// serve, warn for the other commands]
    #[arg(long, env = "ZHENGZHAO_LOG_LEVEL", global = true)]
    log_level: Option<String>,
    #[command(flatten)]
    library: LibraryArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the library: HTTP API, pages and background work.
    Serve(ServeArgs),
    /// Create and seed a library without serving it (`serve` and `init` are
    /// the only commands that create one).
    Init,
    /// Manage API tokens (works while the server runs).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage staff accounts (the first security admin is made here).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage issuing orgs' signing keys and certificates.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Take a consistent online backup of the SQLite library (the server may keep serving).
    Backup {
        /// The backup file to create (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into the data directory, after checking that the
    /// master key opens its keys, its audit log and every license signature.
    /// Stop the server first (it holds the data directory's lock).
    Restore {
        /// A file made by `zhengzhao backup`.
        file: PathBuf,
        /// Replace an existing library.
        #[arg(long)]
        force: bool,
    },
    /// Measure and print performance figures.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Rebuild the audit tree from the events and check it against the stored
    /// tree and every signed checkpoint; fails naming the first bad entry.
    Verify,
    /// Bring the tree up to date, sign a checkpoint of it now and print it
    /// (a C2SP signed note: text, blank line, Ed25519 and SM2 lines).
    Checkpoint,
    /// Print the Ed25519 verifier key of the checkpoints (signed-note vkey),
    /// to hand to those who check them.
    VerifierKey,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List an org's keys (or the local CA's, without --org), active and retired.
    List {
        /// Org code whose keys to list, e.g. 150102 [default: the local CA]
        #[arg(long)]
        org: Option<String>,
    },
    /// Start a new key for an org, certified by the local test CA; the old one is retired.
    Rotate {
        /// Org code, e.g. 150102
        #[arg(long)]
        org: String,
    },
    /// Start a new data key for personal face fields (SM4-GCM); older keys
    /// stay to open what they sealed.
    RotateDataKey,
    /// Revoke an org's signing key (a compromised key): its certificate goes
    /// on the local CA's CRL, and what it signed from the revocation time on
    /// no longer verifies as genuine. The org's next license gets a new key.
    Revoke {
        /// The key's id (from `keys list --org …`)
        key: String,
        /// key_compromise, ca_compromise, affiliation_changed, superseded or cessation_of_operation
        #[arg(long)]
        reason: String,
        /// Since when the key is not to be trusted (RFC 3339, e.g.
        /// 2026-12-01T08:00:00+08:00), when a compromise began earlier
        /// [default: now]
        #[arg(long)]
        at: Option<String>,
    },
    /// Install a key and certificate issued by a real CA for an org.
    Import {
        /// Org code the key signs for, e.g. 150102
        #[arg(long)]
        org: String,
        /// The org's SM2 certificate, PEM
        #[arg(long)]
        cert: PathBuf,
        /// Its private key, PKCS#8 PEM
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Raw SM2 signing rate vs. licenses issued per second on SQLite, over
    /// loopback HTTP against the real server (or in process with --path service).
    Issue {
        /// How many licenses to issue
        #[arg(long, default_value_t = 30000)]
        count: usize,
        /// Concurrent HTTP connections (or in-process callers)
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// http: POST /api/v1/licenses on the real server; service: Library::issue_license in process
        #[arg(long, value_enum, default_value_t = bench::IssuePath::Http)]
        path: bench::IssuePath,
        /// How long each raw signing figure is measured.
        #[arg(long, default_value_t = 2.0)]
        raw_seconds: f64,
        /// Keep the library in this (new or empty) directory instead of discarding it.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// The public check against /healthz over loopback HTTP, on a library of
    /// --licenses licenses (SQLite): requests/s and p50/p99 latency.
    Verify {
        /// Licenses in the library checked against.
        #[arg(long, default_value_t = 1_000_000)]
        licenses: usize,
        /// How long each figure is measured.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Library directory to reuse (or fill and keep), so the licenses are
        /// loaded once across runs.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; prints the token alone on stdout, the only time it is shown.
    Create {
        /// Org code the token acts for, e.g. 150000 or 150781
        #[arg(long)]
        org: String,
        /// region_admin, catalog_admin, issuer_clerk, auditor, objection_handler, scenario_approver or security_admin
        #[arg(long)]
        role: String,
        /// A note saying who or what the token is for
        #[arg(long, default_value = "")]
        label: String,
        /// Also make an HMAC key (printed on a second line): every request
        /// with this token must then be signed (see README, "Signed requests")
        #[arg(long)]
        signed: bool,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by its id.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a staff account; prints its initial password and TOTP secret,
    /// the only time they are shown. The password must be changed at first login.
    Create {
        /// Login name: 3 to 32 of a-z 0-9 . _ -, starting with a letter
        #[arg(long)]
        username: String,
        /// The person's name as shown in the library
        #[arg(long)]
        name: String,
        /// Org code the account belongs to, e.g. 150000
        #[arg(long)]
        org: String,
        /// A role; repeat for several (e.g. --role security_admin)
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// List staff accounts (never their secrets).
    List,
    /// New initial password and TOTP secret for an account; unlocks it and
    /// ends its sessions (the way back in for a locked-out administrator).
    Reset {
        /// The account's login name.
        #[arg(long)]
        username: String,
    },
}

fn print_credentials(
    user: &zhengzhao_server::service::staff::StaffView,
    c: &zhengzhao_server::service::staff::InitialCredentials,
) {
    eprintln!(
        "zhengzhao: account {} ({}) of org {}; the credentials below are shown once",
        user.username, user.id, user.org
    );
    println!("username: {}", user.username);
    println!("initial_password: {}", c.initial_password);
    println!("totp_secret: {}", c.totp_secret);
    println!("totp_uri: {}", c.totp_uri);
}

fn init_logging(cli: &Cli, file: &FileSettings) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let level = cli
        .log_level
        .clone()
        .or_else(|| file.log_level.clone())
        // Only `serve` tells its story by default; the other commands print
        // their result and stay quiet otherwise (no migration notes). A
        // benchmark would otherwise also measure its own access log.
        .unwrap_or_else(|| {
            if matches!(cli.command, Command::Serve(_)) {
                "info"
            } else {
                "warn"
            }
            .into()
        });
    let filter = EnvFilter::try_new(&level).map_err(|e| {
        fail(
            format!("日志级别“{level}”不合法：{e}"),
            format!("bad log level '{level}': {e}"),
        )
    })?;
    let format = match (cli.log_format, file.log_format.as_deref()) {
        (Some(f), _) => f,
        (None, Some("json")) => LogFormat::Json,
        (None, Some("text") | None) => LogFormat::Text,
        (None, Some(other)) => bail2!(
            format!("log_format 应为 text 或 json，不是“{other}”"),
            format!("log_format must be text or json, not '{other}'"),
        ),
    };
    // Colour only for a person at a terminal, never into a file or a pipe.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

/// Register for SIGTERM and SIGINT now (before announcing that we listen, so
/// that a supervisor's early SIGTERM is never lost) and resolve on either.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handler = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| {
                fail(
                    format!("无法处理 {name} 信号：{e}"),
                    format!("cannot handle {name}: {e}"),
                )
            })
        };
        let mut term = handler(SignalKind::terminate(), "SIGTERM")?;
        let mut int = handler(SignalKind::interrupt(), "SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("shutting down: finishing requests in flight");
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: finishing requests in flight");
        })
    }
}

fn describe(config: &ServerConfig) -> String {
    match &config.database_url {
        Some(_) => "PostgreSQL".to_owned(),
        None => format!("SQLite at {}", config.sqlite_path().display()),
    }
}

async fn serve(config: ServerConfig) -> anyhow::Result<()> {
    let where_ = describe(&config);
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let app = Application::build(config).await?;
    let shutdown = shutdown_signal()?;
    println!("zhengzhao: library on {where_}");
    if let Some(path) = &app.admin_token_path {
        println!(
            "zhengzhao: new library seeded; admin API token written to {} (mode 0600)",
            path.display()
        );
    }
    let base = format!("{scheme}://{}", app.addr());
    println!("zhengzhao: listening on {base}");
    println!("  health:        {base}/healthz");
    println!("  catalog page:  {base}/catalog");
    println!("  catalog API:   {base}/api/v1/catalog");
    println!("  API docs:      {base}/api/docs");
    tracing::info!(addr = %app.addr(), "serving");
    app.run_until(shutdown)
        .await
        .map_err(|e| fail(format!("服务异常停止：{e}"), format!("serving failed: {e}")))?;
    Ok(())
}

/// `init`: create (and seed) the library, or find it ready.
async fn init(config: &ServerConfig) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let key = zhengzhao_server::app::master_key_for(config, &store).await?;
    let library = Library::new(store).with_master_key(key);
    if let Some(path) = library.ensure_seeded(&config.data_dir).await? {
        eprintln!(
            "zhengzhao: new library seeded; admin API token written to {} (mode 0600)",
            path.display()
        );
    }
    println!("zhengzhao: library ready on {}", describe(config));
    Ok(())
}

async fn user(config: &ServerConfig, cmd: UserCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        UserCommand::Create {
            username,
            name,
            org,
            roles,
        } => {
            let roles = roles
                .iter()
                .flat_map(|r| r.split(','))
                .map(|r| r.trim().parse::<Role>())
                .collect::<Result<Vec<_>, _>>()?;
            let new = zhengzhao_server::service::staff::NewStaff {
                username,
                display_name: name,
                org,
                roles,
            };
            let (user, creds) = library.create_staff_user(None, &Actor::cli(), new).await?;
            print_credentials(&user, &creds);
        }
        UserCommand::List => {
            println!(
                "{:<20}  {:<8}  {:<8}  {:<40}  name",
                "username", "org", "state", "roles"
            );
            for u in library.all_staff_users().await? {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else if u
                    .locked_until
                    .is_some_and(|t| t > zhengzhao_server::service::now())
                {
                    "locked"
                } else {
                    "active"
                };
                println!(
                    "{:<20}  {:<8}  {:<8}  {:<40}  {}",
                    u.username,
                    u.org,
                    state,
                    u.roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    u.display_name
                );
            }
        }
        UserCommand::Reset { username } => {
            let found = library.staff_user_named(&username).await?;
            let (user, creds) = library
                .reset_staff_credentials(None, &Actor::cli(), found.id)
                .await?;
            print_credentials(&user, &creds);
        }
    }
    Ok(())
}

/// The library for every command but `serve`, `init` and `bench`: it must
/// exist (a wrong `--data` or schema is an error, and nothing is created),
/// and its master key is used when one is configured, never made.
async fn library(config: &ServerConfig) -> anyhow::Result<Library> {
    let store = zhengzhao_server::app::open_existing_store(config).await?;
    let mut library = Library::new(store);
    match zhengzhao_server::app::configured_master_key(config) {
        Ok(Some(key)) => library = library.with_master_key(key),
        Ok(None) => {}
        Err(e) => bail2!(format!("主密钥不可用：{e}"), format!("master key: {e}")),
    }
    Ok(library)
}

async fn audit(config: &ServerConfig, cmd: AuditCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        AuditCommand::Verify => {
            library.integrate_audit().await?;
            let report = library.verify_audit().await?;
            match report.problem {
                None => {
                    println!(
                        "audit log verified: {} entries, {} signed checkpoints, {} pending",
                        report.entries_checked, report.checkpoints_checked, report.pending
                    );
                    Ok(())
                }
                Some(problem) => {
                    println!(
                        "audit log FAILED verification after {} good entries: {problem}",
                        report.entries_checked
                    );
                    bail2!(
                        format!("审计日志校验未通过：{problem}"),
                        format!("audit log verification failed: {problem}"),
                    )
                }
            }
        }
        AuditCommand::Checkpoint => {
            let cp = library.checkpoint_audit(&Actor::cli()).await?;
            let view = library.checkpoint_view(&cp).await?;
            match view.signed_note {
                Some(signed) => print!("{signed}"),
                // The log has not grown since a checkpoint of the old format.
                None => {
                    print!("{}", view.note);
                    eprintln!(
                        "旧格式检查点（无Ed25519签名）；SM2签名：{sig}\nlegacy checkpoint (no Ed25519 line); its SM2 signature: {sig}",
                        sig = view.signature
                    );
                }
            }
            Ok(())
        }
        AuditCommand::VerifierKey => {
            println!("{}", library.audit_verifier_key()?.vkey);
            Ok(())
        }
    }
}

async fn backup(config: &ServerConfig, to: &Path) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        bail2!(
            "PostgreSQL 证照库用 pg_dump 备份（见 docs/backup-and-restore.md）",
            "backups of a PostgreSQL library are taken with pg_dump (see docs/backup-and-restore.md)",
        );
    }
    if to.exists() {
        bail2!(
            format!("{} 已存在；备份从不覆盖文件", to.display()),
            format!("{} exists; a backup never overwrites a file", to.display()),
        );
    }
    let started = std::time::Instant::now();
    let store = zhengzhao_store_sqlite::SqliteStore::open_existing(config.sqlite_path())
        .await?
        .ok_or_else(|| {
            zhengzhao_server::app::StartError::NoLibrary(zhengzhao_server::app::library_location(
                config,
            ))
        })?;
    // VACUUM INTO: one read transaction, so the copy is the database as of
    // one instant, while writers carry on.
    store.vacuum_into(to.to_path_buf()).await?;
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({bytes} bytes, {:.1} s); keep the master key apart from it",
        to.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The file and its SQLite sidecars (WAL, shared memory, rollback journal).
fn with_sidecars(p: &Path) -> [PathBuf; 4] {
    ["", "-wal", "-shm", "-journal"].map(|s| {
        let mut name = p.as_os_str().to_owned();
        name.push(s);
        PathBuf::from(name)
    })
}

/// Does the file start like a SQLite database?
fn looks_like_sqlite(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).map_err(|e| {
        fail(
            format!("无法读取 {}：{e}", path.display()),
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok(f.read_exact(&mut head).is_ok() && &head == b"SQLite format 3\0")
}

async fn restore(config: &ServerConfig, from: &Path, force: bool) -> anyhow::Result<()> {
    if config.database_url.is_some() {
        bail2!(
            "PostgreSQL 证照库用 pg_restore 恢复（见 docs/backup-and-restore.md）",
            "a PostgreSQL library is restored with pg_restore (see docs/backup-and-restore.md)",
        );
    }
    if !looks_like_sqlite(from)? {
        bail2!(
            format!(
                "{} 不是 SQLite 数据库，不是 zhengzhao backup 生成的备份",
                from.display()
            ),
            format!(
                "{} is not a SQLite database, so not a backup made by `zhengzhao backup`",
                from.display()
            ),
        );
    }
    let target = config.sqlite_path();
    if target.exists() && !force {
        bail2!(
            format!(
                "{} 中已有证照库，恢复会替换它：请先停止服务，再加 --force",
                target.display()
            ),
            format!(
                "{} holds a library; restoring would replace it: stop the server and pass --force",
                target.display()
            ),
        );
    }
    let made_dir = !config.data_dir.exists();
    let restored = restore_checked(config, from, &target).await;
    if restored.is_err() && made_dir {
        // Leave nothing behind: the directory this run made holds only the lock.
        let _ = std::fs::remove_file(config.data_dir.join(zhengzhao_server::app::LOCK_FILE));
        let _ = std::fs::remove_dir(&config.data_dir);
    }
    restored
}

async fn restore_checked(config: &ServerConfig, from: &Path, target: &Path) -> anyhow::Result<()> {
    // `serve` holds this lock while it runs: a library is never replaced
    // under a running server.
    let _lock = zhengzhao_server::app::DataDirLock::acquire(&config.data_dir)?;
    let started = std::time::Instant::now();
    // Check a scratch copy (opening it may migrate it), then install a
    // fresh copy of the backup itself.
    let scratch = config.data_dir.join("zhengzhao.db.restore-check");
    let staged = config.data_dir.join("zhengzhao.db.restoring");
    for f in with_sidecars(&scratch)
        .iter()
        .chain(with_sidecars(&staged).iter())
    {
        let _ = std::fs::remove_file(f);
    }
    let copy = |to: &Path| {
        std::fs::copy(from, to).map_err(|e| {
            fail(
                format!("无法复制 {} 到 {}：{e}", from.display(), to.display()),
                format!("cannot copy {} to {}: {e}", from.display(), to.display()),
            )
        })
    };
    copy(&scratch)?;
    let checked = check_backup(config, from, &scratch).await;
    for f in with_sidecars(&scratch) {
        let _ = std::fs::remove_file(f);
    }
    let (keys, audit, signatures) = checked?;
    let install = || -> std::io::Result<()> {
        std::fs::File::open(&staged)?.sync_all()?;
        // The old library's WAL must not be replayed onto the restored file.
        for f in with_sidecars(target).iter().skip(1) {
            let _ = std::fs::remove_file(f);
        }
        std::fs::rename(&staged, target)
    };
    copy(&staged)?;
    install().map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        fail(
            format!("无法把备份放到 {}：{e}", target.display()),
            format!("cannot install the backup as {}: {e}", target.display()),
        )
    })?;
    println!(
        "restored {} into {} in {:.1} s: master key opens its {} wrapped keys, audit log verified ({} entries, {} checkpoints; {} newer events not yet in the tree), {} licenses with {} signed versions verified",
        from.display(),
        target.display(),
        started.elapsed().as_secs_f64(),
        keys.wrapped(),
        audit.entries_checked,
        audit.checkpoints_checked,
        audit.pending,
        signatures.licenses,
        signatures.versions
    );
    Ok(())
}

/// Everything a restore checks on its scratch copy before it installs anything.
async fn check_backup(
    config: &ServerConfig,
    from: &Path,
    scratch: &Path,
) -> anyhow::Result<(
    zhengzhao_server::service::keys::MasterKeyReport,
    zhengzhao_server::service::audit_log::VerifyReport,
    zhengzhao_server::service::backup::SignatureReport,
)> {
    let Some(store) = zhengzhao_store_sqlite::SqliteStore::open_existing(scratch).await? else {
        bail2!(
            format!(
                "{} 中没有证照库，不是 zhengzhao backup 生成的备份",
                from.display()
            ),
            format!(
                "{} holds no library: it is not a backup made by `zhengzhao backup`",
                from.display()
            ),
        );
    };
    let mut library = Library::new(std::sync::Arc::new(store));
    let key = zhengzhao_server::app::configured_master_key(config)
        .map_err(|e| fail(format!("主密钥不可用：{e}"), format!("master key: {e}")))?;
    let given = key.is_some();
    if let Some(key) = key {
        library = library.with_master_key(key);
    }
    // The keys first: a library restored without the key that opens them
    // can verify, but never sign, log anyone in or open personal data.
    let keys = library.check_master_key().await?;
    if let Some(problem) = &keys.problem {
        let master = config.default_master_key_path();
        if given {
            bail2!(
                format!("给出的主密钥打不开备份中的密钥，不是这个证照库的主密钥（{problem}）"),
                format!("{problem}: the master key given is not this library's"),
            );
        }
        bail2!(
            format!(
                "备份中的密钥以主密钥加密保存，但未提供主密钥：请将它放到 {}，或用 --master-key-file、ZHENGZHAO_MASTER_KEY 指定",
                master.display()
            ),
            format!(
                "{problem}: put the library's master key in {} or give --master-key-file or ZHENGZHAO_MASTER_KEY",
                master.display()
            ),
        );
    }
    let audit = library.verify_audit().await?;
    if let Some(problem) = audit.problem {
        bail2!(
            format!("备份的审计日志校验未通过：{problem}"),
            format!("the backup's audit log does not verify: {problem}"),
        );
    }
    let signatures = library.verify_license_signatures().await?;
    if let Some(problem) = signatures.problem.clone() {
        bail2!(
            format!("备份中的证照签名校验未通过：{problem}"),
            format!("the backup's licenses do not verify: {problem}"),
        );
    }
    Ok((keys, audit, signatures))
}

async fn token(config: &ServerConfig, cmd: TokenCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        TokenCommand::Create {
            org,
            role,
            label,
            signed,
        } => {
            let org = OrgCode::parse(&org).map_err(|e| {
                fail(
                    format!("--org {org}：{}", e.zh()),
                    format!("--org {org}: {e}"),
                )
            })?;
            let role: Role = role.parse()?;
            let (record, secret, signing) = library
                .create_token_with(&Actor::cli(), &org, role, &label, signed)
                .await?;
            eprintln!(
                "zhengzhao: token {} for org {} role {} created; it is shown once, below{}",
                record.id,
                record.org,
                record.role,
                if signed {
                    " (second line: the HMAC signing key)"
                } else {
                    ""
                }
            );
            println!("{secret}");
            if let Some(key) = signing {
                println!("{key}");
            }
        }
        TokenCommand::List => {
            println!(
                "{:<36}  {:<10}  {:<17}  {:<8}  label",
                "id", "org", "role", "state"
            );
            for t in library.tokens().await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<10}  {:<17}  {:<8}  {}",
                    t.id, t.org, t.role, state, t.label
                );
            }
        }
        TokenCommand::Revoke { id } => {
            let id = uuid::Uuid::parse_str(&id).map_err(|_| {
                fail(
                    format!("“{id}”不是令牌编号"),
                    format!("'{id}' is not a token id"),
                )
            })?;
            let t = library.revoke_token(&Actor::cli(), id).await?;
            println!("token {} revoked", t.id);
        }
    }
    Ok(())
}

async fn keys(config: &ServerConfig, cmd: KeysCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    let org_of = |code: &str| {
        let code = code.to_owned();
        let library = library.clone();
        async move {
            let parsed = OrgCode::parse(&code).map_err(|e| {
                fail(
                    format!("--org {code}：{}", e.zh()),
                    format!("--org {code}: {e}"),
                )
            })?;
            library.store.org(&parsed).await?.ok_or_else(|| {
                fail(
                    format!("机构 {code} 不存在"),
                    format!("org {code} does not exist"),
                )
            })
        }
    };
    match cmd {
        KeysCommand::List { org } => {
            let org = match org {
                Some(o) => Some(org_of(&o).await?.code),
                None => None,
            };
            println!(
                "{:<36}  {:<8}  {:<9}  {:<8}  {:<20}  not after",
                "id", "purpose", "source", "state", "created"
            );
            let revoked: Vec<uuid::Uuid> = library
                .store
                .key_revocations()
                .await?
                .iter()
                .map(|r| r.key_id)
                .collect();
            for k in library.store.signing_keys(org.as_ref()).await? {
                let state = if revoked.contains(&k.id) {
                    "revoked"
                } else if k.retired_at.is_some() {
                    "retired"
                } else {
                    "active"
                };
                println!(
                    "{:<36}  {:<8}  {:<9}  {:<8}  {:<20}  {}",
                    k.id,
                    k.purpose.as_str(),
                    k.source.as_str(),
                    state,
                    k.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    k.not_after.strftime("%Y-%m-%d")
                );
            }
        }
        KeysCommand::Rotate { org } => {
            let org = org_of(&org).await?;
            let k = library.rotate_key(&Actor::cli(), &org).await?;
            println!(
                "key {} is now active for {}; earlier keys stay available for verification",
                k.id, org.code
            );
        }
        KeysCommand::Revoke { key, reason, at } => {
            let id = uuid::Uuid::parse_str(&key).map_err(|_| {
                fail(
                    format!("{key} 不是密钥标识（UUID）"),
                    format!("{key} is not a key id (UUID)"),
                )
            })?;
            let at = at
                .map(|t| {
                    t.parse::<jiff::Timestamp>().map_err(|e| {
                        fail(
                            format!("--at {t} 不是RFC 3339时间：{e}"),
                            format!("--at {t} is not an RFC 3339 time: {e}"),
                        )
                    })
                })
                .transpose()?;
            let r = library.revoke_key(&Actor::cli(), id, &reason, at).await?;
            println!(
                "key {} revoked from {} ({}); it is on the CRL and signs no more",
                r.key_id, r.revoked_at, r.reason
            );
        }
        KeysCommand::RotateDataKey => {
            let id = library.rotate_data_key(&Actor::cli()).await?;
            println!(
                "data key {id} now seals new personal data; earlier keys stay to open what they sealed"
            );
        }
        KeysCommand::Import { org, cert, key } => {
            let org = org_of(&org).await?;
            let read = |path: &Path| {
                std::fs::read_to_string(path).map_err(|e| {
                    fail(
                        format!("无法读取 {}：{e}", path.display()),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })
            };
            let cert_pem = read(&cert)?;
            let key_pem = read(&key)?;
            let k = library
                .import_key(&Actor::cli(), &org, &cert_pem, &key_pem)
                .await?;
            println!(
                "imported key {} for {}; it signs from now on",
                k.id, org.code
            );
        }
    }
    Ok(())
}

/// Parse the command line; a usage error is told in both languages (clap
/// words the details in English) and exits with status 2.
fn parse_cli() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                e.exit();
            }
            let _ = e.print();
            eprintln!(
                "zhengzhao: 命令行参数有误，用法见 zhengzhao --help / invalid command line, see zhengzhao --help"
            );
            std::process::exit(2);
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let file = FileSettings::load(cli.config.as_ref())?;
    init_logging(&cli, &file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            fail(
                format!("无法启动运行时：{e}"),
                format!("cannot start the runtime: {e}"),
            )
        })?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(ref args) => {
                serve(server_config(&file, &cli.library, Some(args))?).await
            }
            Command::Init => init(&server_config(&file, &cli.library, None)?).await,
            Command::Token(cmd) => token(&server_config(&file, &cli.library, None)?, cmd).await,
            Command::User(cmd) => user(&server_config(&file, &cli.library, None)?, cmd).await,
            Command::Keys(cmd) => keys(&server_config(&file, &cli.library, None)?, cmd).await,
            Command::Audit(cmd) => audit(&server_config(&file, &cli.library, None)?, cmd).await,
            Command::Backup { to } => backup(&server_config(&file, &cli.library, None)?, &to).await,
            Command::Restore { file: from, force } => {
                restore(&server_config(&file, &cli.library, None)?, &from, force).await
            }
            Command::Bench(BenchCommand::Issue {
                count,
                concurrency,
                raw_seconds,
                keep,
                path,
            }) => {
                bench::issue(bench::IssueBench {
                    count,
                    concurrency,
                    raw_seconds,
                    keep,
                    path,
                })
                .await
            }
            Command::Bench(BenchCommand::Verify {
                licenses,
                seconds,
                concurrency,
                keep,
            }) => bench_verify::verify(licenses, seconds, concurrency, keep).await,
        }
    })
}

/// The one place errors are printed: each line in Chinese and English.
fn main() -> std::process::ExitCode {
    match run(parse_cli()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            for line in errors::lines(&e) {
                eprintln!("zhengzhao: {line}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `--help` is complete: every command and every option or argument of
    /// every command says what it is.
    #[test]
    fn every_command_and_option_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            if cmd.get_about().is_none() && path != "zhengzhao help" {
                missing.push(format!("{path} (the command)"));
            }
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut cli = Cli::command();
        cli.build();
        let mut missing = Vec::new();
        walk(&cli, "zhengzhao", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }
}
