//! `zhengzhao`: the license library's one binary.

mod settings;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use settings::{FileSettings, LibraryArgs, ServeArgs, server_config};
use std::path::PathBuf;
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
    /// Log filter, e.g. info or zhengzhao_server=debug [default: info]
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
    /// Create and seed a library without serving it.
    Init,
    /// Manage API tokens (works while the server runs).
    #[command(subcommand)]
    Token(TokenCommand),
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
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by its id.
    Revoke { id: String },
}

fn init_logging(cli: &Cli, file: &FileSettings) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let level = cli
        .log_level
        .clone()
        .or_else(|| file.log_level.clone())
        .unwrap_or_else(|| "info".into());
    let filter = EnvFilter::try_new(&level).with_context(|| format!("bad log level '{level}'"))?;
    let format = match (cli.log_format, file.log_format.as_deref()) {
        (Some(f), _) => f,
        (None, Some("json")) => LogFormat::Json,
        (None, Some("text") | None) => LogFormat::Text,
        (None, Some(other)) => bail!("log_format must be text or json, not '{other}'"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
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
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
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
    let app = Application::build(config).await?;
    let shutdown = shutdown_signal()?;
    println!("zhengzhao: library on {where_}");
    if let Some(path) = &app.admin_token_path {
        println!(
            "zhengzhao: new library seeded; admin API token written to {} (mode 0600)",
            path.display()
        );
    }
    let base = format!("http://{}", app.addr());
    println!("zhengzhao: listening on {base}");
    println!("  health:        {base}/healthz");
    println!("  catalog page:  {base}/catalog");
    println!("  catalog API:   {base}/api/v1/catalog");
    println!("  API docs:      {base}/api/docs");
    tracing::info!(addr = %app.addr(), "serving");
    app.run_until(shutdown).await?;
    Ok(())
}

async fn library(config: &ServerConfig) -> anyhow::Result<Library> {
    let store = open_store(config).await?;
    let library = Library::new(store);
    if let Some(path) = library.ensure_seeded(&config.data_dir).await? {
        eprintln!(
            "zhengzhao: new library seeded; admin API token written to {} (mode 0600)",
            path.display()
        );
    }
    Ok(library)
}

async fn token(config: &ServerConfig, cmd: TokenCommand) -> anyhow::Result<()> {
    let library = library(config).await?;
    match cmd {
        TokenCommand::Create { org, role, label } => {
            let org = OrgCode::parse(&org).map_err(|e| anyhow::anyhow!("--org {org}: {e}"))?;
            let role: Role = role.parse()?;
            let (record, secret) = library
                .create_token(&Actor::cli(), &org, role, &label)
                .await?;
            eprintln!(
                "zhengzhao: token {} for org {} role {} created; it is shown once, below",
                record.id, record.org, record.role
            );
            println!("{secret}");
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
            let id =
                uuid::Uuid::parse_str(&id).with_context(|| format!("'{id}' is not a token id"))?;
            let t = library.revoke_token(&Actor::cli(), id).await?;
            println!("token {} revoked", t.id);
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let file = FileSettings::load(cli.config.as_ref())?;
    init_logging(&cli, &file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(ref args) => serve(server_config(&file, &cli.library, Some(args))).await,
            Command::Init => {
                let config = server_config(&file, &cli.library, None);
                library(&config).await?;
                println!("zhengzhao: library ready on {}", describe(&config));
                Ok(())
            }
            Command::Token(cmd) => token(&server_config(&file, &cli.library, None), cmd).await,
        }
    })
}
