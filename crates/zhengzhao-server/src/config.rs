//! The resolved settings `Application::build` needs. Reading them from a TOML
//! file, `ZHENGZHAO_*` variables and flags is the binary's job.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Holds the SQLite database (unless `database_url` is set) and `admin-token`.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// PostgreSQL schema to live in (tests use one each); `None` uses the default.
    pub database_schema: Option<String>,
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 503.
    pub request_timeout: Duration,
    /// Where private keys are unwrapped from. `None`: `DATA/master-key`,
    /// created on first start (keep a copy apart from the data: a backup of
    /// the database is useless without it).
    pub master_key: Option<MasterKeySource>,
    /// Delivery channels (Art. 8): each an HTTP webhook.
    pub delivery_channels: Vec<DeliveryChannel>,
    /// How often the delivery worker looks for due deliveries.
    pub delivery_poll: Duration,
    /// First retry delay of a failed delivery; each retry doubles it (capped at an hour).
    pub delivery_retry_base: Duration,
    /// How often `serve` signs a checkpoint of the audit log (when it grew).
    pub audit_checkpoint_interval: Duration,
    /// How often `serve` checks the audit log against its tree in the
    /// background (`Library::sweep_audit`), and how many entries of the pass
    /// over the whole log each round takes (new entries are all checked).
    pub audit_sweep_interval: Duration,
    pub audit_sweep_batch: u32,
    /// Scheduled backups inside `serve` (SQLite): into this directory, every
    /// `backup_interval`, keeping the newest `backup_keep` files.
    pub backup_dir: Option<PathBuf>,
    pub backup_interval: Duration,
    pub backup_keep: usize,
    /// Serve HTTPS with this PEM certificate chain and PEM private key.
    pub tls: Option<TlsFiles>,
    /// Requests per second (and burst) per client address on the public
    /// verification endpoints; a rate of 0 turns the limit off.
    pub public_rate_limit: crate::http::rate_limit::PublicRateLimit,
    /// Staff session timeouts and login lockout.
    pub session_policy: crate::service::staff::SessionPolicy,
    /// Base URL printed on licenses (QR codes link to `{public_url}/verify/{id}`).
    pub public_url: String,
}

/// The certificate chain and private key `serve` uses for TLS (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where the master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// A file holding 32 hex digits.
    File(PathBuf),
    /// The key itself (e.g. from `ZHENGZHAO_MASTER_KEY`).
    Hex(String),
}

/// One delivery channel: a name shown with the license and the webhook it posts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryChannel {
    pub name: String,
    pub url: String,
}

impl ServerConfig {
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

    /// Defaults for a library in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            database_schema: None,
            listen: Self::DEFAULT_LISTEN.to_owned(),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(30),
            master_key: None,
            delivery_channels: Vec::new(),
            delivery_poll: Duration::from_secs(2),
            delivery_retry_base: Duration::from_secs(5),
            audit_checkpoint_interval: Duration::from_secs(300),
            audit_sweep_interval: Duration::from_secs(5),
            audit_sweep_batch: 2000,
            tls: None,
            backup_dir: None,
            backup_interval: Duration::from_secs(24 * 3600),
            backup_keep: 7,
            public_url: format!("http://{}", Self::DEFAULT_LISTEN),
            session_policy: crate::service::staff::SessionPolicy::default(),
            public_rate_limit: crate::http::rate_limit::PublicRateLimit::default(),
        }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("zhengzhao.db")
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join("admin-token")
    }

    pub fn default_master_key_path(&self) -> PathBuf {
        self.data_dir.join("master-key")
    }

    pub fn channel_names(&self) -> Vec<String> {
        self.delivery_channels
            .iter()
            .map(|c| c.name.clone())
            .collect()
    }
}
