//! Building and running the server.

use crate::config::MasterKeySource;
use crate::config::ServerConfig;
use crate::http;
use crate::http::metrics::Metrics;
use crate::state::AppState;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use zhengzhao_core::Library;
use zhengzhao_core::delivery::DeliveryWorker;
use zhengzhao_crypto::keywrap::MasterKey;
use zhengzhao_store::{Store, StoreError};
use zhengzhao_store_postgres::PgStore;
use zhengzhao_store_sqlite::SqliteStore;

/// Open the configured store: PostgreSQL when a URL is set, else SQLite
/// under the data directory; created when missing (for `serve`, `init`).
/// Migrations run here.
pub async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, StoreError> {
    prepare_data_dir(&config.data_dir)?;
    Ok(match &config.database_url {
        Some(url) => Arc::new(PgStore::connect(url, config.database_schema.as_deref()).await?),
        None => Arc::new(SqliteStore::open(config.sqlite_path()).await?),
    })
}

/// Open the configured store only if it holds a library (every command but
/// `serve` and `init`): a wrong `--data` or schema is `StartError::NoLibrary`,
/// and nothing is created, neither directory nor database nor schema.
pub async fn open_existing_store(config: &ServerConfig) -> Result<Arc<dyn Store>, StartError> {
    let found: Option<Arc<dyn Store>> = match &config.database_url {
        Some(url) => PgStore::connect_existing(url, config.database_schema.as_deref())
            .await?
            .map(|s| Arc::new(s) as Arc<dyn Store>),
        None => SqliteStore::open_existing(config.sqlite_path())
            .await?
            .map(|s| Arc::new(s) as Arc<dyn Store>),
    };
    found.ok_or_else(|| StartError::NoLibrary(library_location(config)))
}

/// Where the configured library is, for messages (never the database URL,
/// which may hold a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibraryLocation {
    /// The data directory of a SQLite library.
    Dir(PathBuf),
    /// A PostgreSQL library in this schema, or in the connection's search path.
    Postgres(Option<String>),
}

impl std::fmt::Display for LibraryLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(dir) => write!(f, "{}", dir.display()),
            Self::Postgres(Some(schema)) => write!(f, "PostgreSQL schema {schema}"),
            Self::Postgres(None) => write!(f, "the PostgreSQL database's search path"),
        }
    }
}

impl LibraryLocation {
    pub fn zh(&self) -> String {
        match self {
            Self::Dir(dir) => dir.display().to_string(),
            Self::Postgres(Some(schema)) => format!("PostgreSQL 模式 {schema}"),
            Self::Postgres(None) => "PostgreSQL 数据库（连接的搜索路径）".to_owned(),
        }
    }
}

pub fn library_location(config: &ServerConfig) -> LibraryLocation {
    match &config.database_url {
        Some(_) => LibraryLocation::Postgres(config.database_schema.clone()),
        None => LibraryLocation::Dir(config.data_dir.clone()),
    }
}

/// Create the data directory readable by its owner only: it holds the
/// database and the admin token.
fn prepare_data_dir(dir: &std::path::Path) -> Result<(), StoreError> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| {
        StoreError::Backend(format!(
            "cannot create data directory {}: {e}",
            dir.display()
        ))
    })
}

/// The lock file in the data directory: `serve` holds it while it runs,
/// `restore` while it replaces the library.
pub const LOCK_FILE: &str = "zhengzhao.lock";

/// An exclusive lock on a data directory (`DATA/zhengzhao.lock`, an OS file
/// lock, released when this is dropped or the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    /// Take the lock; `StartError::Locked` when another process holds it.
    /// The directory is created (owner only) when missing.
    pub fn acquire(dir: &std::path::Path) -> Result<Self, StartError> {
        prepare_data_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let io = |e: std::io::Error| {
            StartError::Store(StoreError::Backend(format!("{}: {e}", path.display())))
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StartError::Locked(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // The holder's process id, for the operator who finds the file.
        file.set_len(0)
            .and_then(|()| {
                std::io::Write::write_all(&mut file, format!("{}\n", std::process::id()).as_bytes())
            })
            .map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// The configured master key: `--master-key-file`, `ZHENGZHAO_MASTER_KEY`,
/// or `DATA/master-key` if that file exists. Never makes one.
pub fn configured_master_key(config: &ServerConfig) -> Result<Option<MasterKey>, String> {
    let read = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        MasterKey::from_hex(&text).map_err(|e| format!("{}: {e}", path.display()))
    };
    match &config.master_key {
        Some(MasterKeySource::Hex(hex)) => MasterKey::from_hex(hex)
            .map(Some)
            .map_err(|e| format!("ZHENGZHAO_MASTER_KEY: {e}")),
        Some(MasterKeySource::File(path)) => read(path).map(Some),
        None => {
            let path = config.default_master_key_path();
            if path.exists() {
                read(&path).map(Some)
            } else {
                Ok(None)
            }
        }
    }
}

/// Make a new master key in `DATA/master-key` (mode 0600); never overwrites.
fn mint_master_key(config: &ServerConfig) -> Result<MasterKey, String> {
    let path = config.default_master_key_path();
    let key = MasterKey::generate().map_err(|e| e.to_string())?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, format!("{}\n", key.to_hex()).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    tracing::warn!(path = %path.display(), "created a new master key; keep a copy apart from the data directory");
    Ok(key)
}

/// The master key from configuration, or from `DATA/master-key`, which is
/// created (mode 0600) when absent. For a library known to be new (the
/// benchmarks); `serve` and `init` use [`master_key_for`].
pub fn load_master_key(config: &ServerConfig) -> Result<MasterKey, String> {
    match configured_master_key(config)? {
        Some(key) => Ok(key),
        None => mint_master_key(config),
    }
}

/// The master key for `serve` and `init` on `store`: the configured one,
/// checked to open every wrapped key of the library; or, for a library that
/// keeps no wrapped key yet, a new `DATA/master-key`. Never a new key for a
/// library whose keys are wrapped under one (a restored library started
/// without its key): that is an error naming where the key is looked for.
pub async fn master_key_for(
    config: &ServerConfig,
    store: &Arc<dyn Store>,
) -> Result<MasterKey, StartError> {
    let configured = configured_master_key(config).map_err(StartError::MasterKey)?;
    let mut library = Library::new(store.clone());
    if let Some(key) = &configured {
        library = library.with_master_key(key.clone());
    }
    let report = library
        .check_master_key()
        .await
        .map_err(|e| StartError::MasterKey(e.to_string()))?;
    match (configured, report.problem) {
        (Some(key), None) => Ok(key),
        (Some(_), Some(problem)) => Err(StartError::WrongMasterKey(problem)),
        (None, None) => mint_master_key(config).map_err(StartError::MasterKey),
        (None, Some(problem)) => Err(StartError::MissingMasterKey {
            path: config.default_master_key_path(),
            problem,
        }),
    }
}

/// A library bound to its listening socket, ready to run.
pub struct Application {
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: AppState,
    addr: SocketAddr,
    /// Set when this start seeded a new library.
    pub admin_token_path: Option<PathBuf>,
    /// Held until `run_until` returns (or this is dropped).
    _lock: DataDirLock,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The configured place holds no library (a command other than `serve`
    /// or `init` never makes one).
    #[error("no library at {0}")]
    NoLibrary(LibraryLocation),
    /// Another process (a running `serve`, or a `restore`) holds the data directory.
    #[error(
        "another process holds the library at {} (is `zhengzhao serve` running there?); lock file {}",
        .0.display(),
        .0.join(LOCK_FILE).display()
    )]
    Locked(PathBuf),
    /// The library keeps keys wrapped under a master key that is not given.
    #[error(
        "the master key is missing: {problem}; put it in {} or give --master-key-file or ZHENGZHAO_MASTER_KEY (a new key would open none of them)",
        path.display()
    )]
    MissingMasterKey { path: PathBuf, problem: String },
    /// The master key given does not open the library's wrapped keys.
    #[error("{0}: this is not the library's master key")]
    WrongMasterKey(String),
    #[error("first-start seeding: {0}")]
    Seed(String),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("TLS: {0}")]
    Tls(String),
    /// Settings that cannot work (e.g. no public URL beyond loopback).
    #[error("{}", .0.en)]
    Config(crate::config::ConfigError),
    #[error("the audit log does not match its last signed checkpoint: {0}")]
    AuditLog(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

impl StartError {
    /// The same in Chinese, for the command line (names and paths as in English).
    pub fn zh(&self) -> String {
        match self {
            StartError::Store(e) => format!("存储错误：{e}"),
            StartError::NoLibrary(at) => format!("{} 处没有证照库", at.zh()),
            StartError::Locked(dir) => format!(
                "证照库 {} 正由另一进程使用（是否有 zhengzhao serve 在运行？）",
                dir.display()
            ),
            StartError::MissingMasterKey { path, .. } => format!(
                "缺少主密钥：证照库中有以主密钥加密保存的密钥；请将主密钥放到 {}，或用 --master-key-file、ZHENGZHAO_MASTER_KEY 指定（新生成的密钥无法解开它们）",
                path.display()
            ),
            StartError::WrongMasterKey(_) => {
                "给出的主密钥打不开证照库中的密钥，不是这个证照库的主密钥".to_owned()
            }
            StartError::Seed(e) => format!("首次启动初始化失败：{e}"),
            StartError::MasterKey(e) => format!("主密钥不可用：{e}"),
            StartError::Tls(e) => format!("TLS 配置错误：{e}"),
            StartError::Config(e) => e.zh.clone(),
            StartError::AuditLog(e) => format!("审计日志与最近的签名检查点不符：{e}"),
            StartError::Listen { addr, source } => format!("无法监听 {addr}：{source}"),
        }
    }
}

impl Application {
    /// Open (and on first start, seed) the library and bind the listener.
    pub async fn build(mut config: ServerConfig) -> Result<Self, StartError> {
        config.check_public_url().map_err(StartError::Config)?;
        let tls = match &config.tls {
            Some(files) => Some(
                crate::http::tls::server_config(&files.cert, &files.key)
                    .map_err(StartError::Tls)?,
            ),
            None => None,
        };
        // One server per data directory; `restore` waits for it to stop.
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let store = open_store(&config).await?;
        let master_key = master_key_for(&config, &store).await?;
        let library = Library::new(store.clone())
            .with_master_key(master_key)
            .with_channels(config.channel_names())
            .with_session_policy(config.session_policy);
        let admin_token_path = library
            .ensure_seeded(&config.data_dir)
            .await
            .map_err(|e| StartError::Seed(e.to_string()))?;
        library
            .check_audit_head()
            .await
            .map_err(|e| StartError::AuditLog(e.to_string()))?;
        let listener =
            TcpListener::bind(&config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen.clone(),
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
        // Links printed on licenses: the public URL, or on loopback without
        // one, the address just bound.
        config.public_url = Some(config.public_url_or(addr));
        let library = library.with_public_url(config.public_url.as_deref().unwrap_or_default());
        // Configuration is read at start: each start's settings go on the
        // record, so a changed setting shows as a difference between starts.
        library
            .record_server_start(addr, config_summary(&config, library.backend()))
            .await
            .map_err(|e| StartError::Seed(format!("cannot record the start: {e}")))?;
        let metrics = Arc::new(Metrics::new(library.backend()));
        let state = AppState::new(crate::state::Shared {
            library,
            config: Arc::new(config),
            metrics,
        });
        Ok(Self {
            listener,
            tls,
            state,
            addr,
            admin_token_path,
            _lock: lock,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn library(&self) -> &Library {
        &self.state.library
    }

    /// Serve (and run the background workers) until `shutdown` resolves,
    /// then finish in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let transport = crate::webhook::WebhookTransport::new().map_err(std::io::Error::other)?;
        let worker = DeliveryWorker::new(
            self.state.library.clone(),
            self.state.config.delivery_channels.clone(),
            self.state.config.delivery_retry_base,
            Arc::new(transport),
        );
        let poll = self.state.config.delivery_poll;
        let checkpointer = tokio::spawn(zhengzhao_core::audit_log::run_checkpointer(
            self.state.library.clone(),
            self.state.config.audit_checkpoint_interval,
            stop_rx.clone(),
        ));
        let sweeper = tokio::spawn(zhengzhao_core::audit_log::run_audit_sweeper(
            self.state.library.clone(),
            self.state.config.audit_sweep_interval,
            self.state.config.audit_sweep_batch,
            stop_rx.clone(),
        ));
        let backups = self.state.config.backup_dir.clone().map(|dir| {
            tokio::spawn(zhengzhao_core::backup::run_backups(
                self.state.library.clone(),
                dir,
                self.state.config.backup_interval,
                self.state.config.backup_keep,
                stop_rx.clone(),
            ))
        });
        let worker = tokio::spawn(worker.run(poll, stop_rx));
        let limits = crate::http::tls::ConnectionLimits {
            header_read_timeout: self.state.config.header_read_timeout,
            max_connections: self.state.config.max_connections,
        };
        let app = http::router(self.state);
        let served = crate::http::tls::serve(self.listener, self.tls, app, limits, shutdown).await;
        let _ = stop_tx.send(true);
        let _ = worker.await;
        let _ = checkpointer.await;
        let _ = sweeper.await;
        if let Some(b) = backups {
            let _ = b.await;
        }
        drop(self._lock);
        served
    }
}

/// The settings of a start, for the audit log: never a secret (no database
/// URL, no key, webhook URLs only as SM3 fingerprints).
fn config_summary(config: &ServerConfig, backend: &str) -> serde_json::Value {
    use sm3::Digest;
    let channels: Vec<serde_json::Value> = config
        .delivery_channels
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name,
                "url_sm3": hex::encode(&sm3::Sm3::digest(c.url.as_bytes())[..8]),
            })
        })
        .collect();
    let p = config.session_policy;
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "backend": backend,
        "listen": config.listen,
        "tls": config.tls.is_some(),
        "public_url": config.public_url,
        "trusted_proxies": config.trusted_proxies.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "header_read_timeout_ms": u64::try_from(config.header_read_timeout.as_millis()).unwrap_or(u64::MAX),
        "max_connections": config.max_connections,
        "max_body_bytes": config.max_body_bytes,
        "request_timeout_secs": config.request_timeout.as_secs(),
        "delivery_channels": channels,
        "audit_checkpoint_interval_secs": config.audit_checkpoint_interval.as_secs(),
        "audit_sweep": {
            "interval_secs": config.audit_sweep_interval.as_secs_f64(),
            "batch": config.audit_sweep_batch,
        },
        "backup": config.backup_dir.as_ref().map(|d| serde_json::json!({
            "dir": d.display().to_string(),
            "interval_secs": config.backup_interval.as_secs(),
            "keep": config.backup_keep,
        })),
        "session": {
            "idle_timeout_secs": p.idle_timeout.as_secs(),
            "absolute_timeout_secs": p.absolute_timeout.as_secs(),
            "lockout_threshold": p.lockout_threshold,
            "lockout_secs": p.lockout_duration.as_secs(),
        },
    })
}
