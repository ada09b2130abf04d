//! `zhengzhao`: the license library's one binary.

mod bench;
mod bench_http;
mod bench_import;
mod bench_push;
mod bench_shared;
mod bench_verify;
mod commands;
mod errors;
mod settings;

/// mimalloc: the service allocates many small, short-lived buffers (JSON,
/// rows); glibc malloc took a fifth of the CPU in the issuance benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand, ValueEnum};
use commands::audit::{AuditCommand, audit};
use commands::backup::{backup, restore};
use commands::keys::{KeysCommand, keys};
use commands::serve::{init, serve};
use commands::token::{TokenCommand, token};
use commands::user::{UserCommand, user};
use errors::{bail2, fail};
use settings::{FileSettings, LibraryArgs, ServeArgs, server_config};
use std::path::PathBuf;
use zhengzhao_core::Library;
use zhengzhao_http::ServerConfig;

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
    /// Log filter, e.g. info or zhengzhao_http=debug [default: info for
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
    Serve(Box<ServeArgs>),
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
    /// Aggregate licenses in bulk from a business system's export (JSON Lines
    /// or CSV); exit status 2 when some rows were rejected.
    Import(commands::import::ImportArgs),
    /// Compare a business system's export with the library (Art. 7); exit
    /// status 2 when differences remain.
    Reconcile(commands::reconcile::ReconcileArgs),
    /// Every emergency backlog item not done (Art. 9), with its due day, as JSON lines.
    Backlog,
    /// The holiday calendar that working-day deadlines count on.
    #[command(subcommand)]
    Calendar(commands::incidents::CalendarCommand),
    /// The outbox relay to the platforms and delivery channels.
    #[command(subcommand)]
    Outbox(commands::outbox::OutboxCommand),
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
    /// Bulk import of generated licenses into SQLite through `zhengzhao
    /// import`'s code path: licenses/s beside the raw signing rate, peak memory.
    Import {
        /// Rows generated and imported.
        #[arg(long, default_value_t = 100_000)]
        licenses: usize,
        /// How long each raw signing figure is measured.
        #[arg(long, default_value_t = 2.0)]
        raw_seconds: f64,
        /// Rows in progress at once [default: as `import`, 64 per core]
        #[arg(long)]
        concurrency: Option<usize>,
    },
    /// The outbox relay draining a backlog to a local receiver that refuses
    /// a share of requests: messages/s beside the raw signing rate.
    Push {
        /// Licenses issued first (one outbox message each).
        #[arg(long, default_value_t = 100_000)]
        messages: usize,
        /// Share of requests the receiver answers 503.
        #[arg(long, default_value_t = 0.3)]
        fail_ratio: f64,
        /// How long each raw signing figure is measured.
        #[arg(long, default_value_t = 2.0)]
        raw_seconds: f64,
    },
    /// A relying party's shared queries against /healthz over loopback
    /// HTTP, on a library of --licenses licenses (SQLite).
    Shared {
        /// Licenses in the library the holders are drawn from.
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

/// The library for every command but `serve`, `init` and `bench`: it must
/// exist (a wrong `--data` or schema is an error, and nothing is created),
/// and its master key is used when one is configured, never made.
pub(crate) async fn library(config: &ServerConfig) -> anyhow::Result<Library> {
    let store = zhengzhao_http::app::open_existing_store(config).await?;
    let mut library = Library::new(store);
    match zhengzhao_http::app::configured_master_key(config) {
        Ok(Some(key)) => library = library.with_master_key(key),
        Ok(None) => {}
        Err(e) => bail2!(format!("主密钥不可用：{e}"), format!("master key: {e}")),
    }
    Ok(library)
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
            Command::Import(args) => {
                commands::import::import(&server_config(&file, &cli.library, None)?, args).await
            }
            Command::Reconcile(args) => {
                commands::reconcile::reconcile(&server_config(&file, &cli.library, None)?, args)
                    .await
            }
            Command::Backlog => {
                commands::incidents::backlog(&server_config(&file, &cli.library, None)?).await
            }
            Command::Calendar(cmd) => {
                commands::incidents::calendar(&server_config(&file, &cli.library, None)?, cmd).await
            }
            Command::Outbox(cmd) => {
                commands::outbox::outbox(&server_config(&file, &cli.library, None)?, cmd).await
            }
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
            Command::Bench(BenchCommand::Shared {
                licenses,
                seconds,
                concurrency,
                keep,
            }) => bench_shared::shared(licenses, seconds, concurrency, keep).await,
            Command::Bench(BenchCommand::Import {
                licenses,
                raw_seconds,
                concurrency,
            }) => bench_import::import(licenses, raw_seconds, concurrency).await,
            Command::Bench(BenchCommand::Push {
                messages,
                fail_ratio,
                raw_seconds,
            }) => bench_push::push(messages, fail_ratio, raw_seconds).await,
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
            // Some rows of an import were rejected, the others taken.
            if e.downcast_ref::<commands::import::SomeRejected>().is_some()
                || e.downcast_ref::<commands::reconcile::Unreconciled>()
                    .is_some()
            {
                return std::process::ExitCode::from(2);
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
