//! Finding, opening and locking a library before anything runs: the store
//! (PostgreSQL when a URL is set, else SQLite under the data directory),
//! the data directory's lock, and the master key. Shared by `serve` (the
//! HTTP crate's `Application::build`) and every command of the binary.

use crate::Library;
use std::path::PathBuf;
use std::sync::Arc;
use zhengzhao_crypto::keywrap::MasterKey;
use zhengzhao_store::Store;
pub use zhengzhao_store::StoreError;
use zhengzhao_store_postgres::PgStore;
use zhengzhao_store_sqlite::SqliteStore;

/// A handle on the open store, as the setup functions pass it around.
pub type SharedStore = Arc<dyn Store>;

/// Where the library's data is and how its keys are opened.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// Holds the SQLite database (unless `database_url` is set), the lock
    /// file, `admin-token` and by default `master-key`.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// PostgreSQL schema to live in (tests use one each); `None` uses the default.
    pub database_schema: Option<String>,
    /// Where private keys are unwrapped from. `None`: `DATA/master-key`.
    pub master_key: Option<MasterKeySource>,
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// A file holding 32 hex digits.
    File(PathBuf),
    /// The key itself (e.g. from `ZHENGZHAO_MASTER_KEY`).
    Hex(String),
}

impl StorageConfig {
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("zhengzhao.db")
    }

    pub fn default_master_key_path(&self) -> PathBuf {
        self.data_dir.join("master-key")
    }
}

/// A setting that cannot work, said in English and in Chinese (the command
/// line prints "English / 中文").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub en: String,
    pub zh: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} / {}", self.en, self.zh)
    }
}

impl std::error::Error for ConfigError {}

/// Open the configured store: PostgreSQL when a URL is set, else SQLite
/// under the data directory; created when missing (for `serve`, `init`).
/// Migrations run here.
pub async fn open_store(config: &StorageConfig) -> Result<Arc<dyn Store>, StoreError> {
    prepare_data_dir(&config.data_dir)?;
    Ok(match &config.database_url {
        Some(url) => Arc::new(PgStore::connect(url, config.database_schema.as_deref()).await?),
        None => Arc::new(SqliteStore::open(config.sqlite_path()).await?),
    })
}

/// Open the configured store only if it holds a library (every command but
/// `serve` and `init`): a wrong `--data` or schema is `StartError::NoLibrary`,
/// and nothing is created, neither directory nor database nor schema.
pub async fn open_existing_store(config: &StorageConfig) -> Result<Arc<dyn Store>, StartError> {
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

pub fn library_location(config: &StorageConfig) -> LibraryLocation {
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
pub fn configured_master_key(config: &StorageConfig) -> Result<Option<MasterKey>, String> {
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
fn mint_master_key(config: &StorageConfig) -> Result<MasterKey, String> {
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
pub fn load_master_key(config: &StorageConfig) -> Result<MasterKey, String> {
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
    config: &StorageConfig,
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
    Config(ConfigError),
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
