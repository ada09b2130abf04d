//! Building and running the server.

use crate::config::MasterKeySource;
use crate::config::ServerConfig;
use crate::http;
use crate::http::metrics::Metrics;
use crate::service::Library;
use crate::service::delivery::DeliveryWorker;
use crate::state::AppState;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use zhengzhao_crypto::keywrap::MasterKey;
use zhengzhao_store::{Store, StoreError};
use zhengzhao_store_postgres::PgStore;
use zhengzhao_store_sqlite::SqliteStore;

/// Open the configured store: PostgreSQL when a URL is set, else SQLite
/// under the data directory. Migrations run here.
pub async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, StoreError> {
    prepare_data_dir(&config.data_dir)?;
    Ok(match &config.database_url {
        Some(url) => Arc::new(PgStore::connect(url, config.database_schema.as_deref()).await?),
        None => Arc::new(SqliteStore::open(config.sqlite_path()).await?),
    })
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

/// The master key from configuration, or from `DATA/master-key`, which is
/// created (mode 0600) when absent.
pub fn load_master_key(config: &ServerConfig) -> Result<MasterKey, String> {
    match &config.master_key {
        Some(MasterKeySource::Hex(hex)) => MasterKey::from_hex(hex).map_err(|e| e.to_string()),
        Some(MasterKeySource::File(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            MasterKey::from_hex(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
        None => {
            let path = config.default_master_key_path();
            if path.exists() {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                return MasterKey::from_hex(&text).map_err(|e| format!("{}: {e}", path.display()));
            }
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
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("first-start seeding: {0}")]
    Seed(String),
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("TLS: {0}")]
    Tls(String),
    /// Settings that cannot work (e.g. no public URL beyond loopback).
    #[error("{0}")]
    Config(String),
    #[error("the audit log does not match its last signed checkpoint: {0}")]
    AuditLog(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
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
        let store = open_store(&config).await?;
        let master_key = load_master_key(&config).map_err(StartError::MasterKey)?;
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
        let started = crate::service::audit_event(
            &crate::service::Actor::system(),
            "server.start",
            format!("server:{addr}"),
            config_summary(&config, store.backend()),
        );
        store
            .record_event(&zhengzhao_store::ChangeLog::audit_only(started))
            .await
            .map_err(|e| StartError::Seed(format!("cannot record the start: {e}")))?;
        let metrics = Arc::new(Metrics::new(store.backend()));
        let state = AppState::new(crate::state::Shared {
            store,
            library,
            config: Arc::new(config),
            metrics,
            renderer: Arc::new(zhengzhao_render::PdfRenderer),
        });
        Ok(Self {
            listener,
            tls,
            state,
            addr,
            admin_token_path,
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
        let worker = DeliveryWorker::new(
            self.state.library.clone(),
            self.state.config.delivery_channels.clone(),
            self.state.config.delivery_retry_base,
        )
        .map_err(std::io::Error::other)?;
        let poll = self.state.config.delivery_poll;
        let checkpointer = tokio::spawn(crate::service::audit_log::run_checkpointer(
            self.state.library.clone(),
            self.state.config.audit_checkpoint_interval,
            stop_rx.clone(),
        ));
        let backups = self.state.config.backup_dir.clone().map(|dir| {
            tokio::spawn(crate::service::backup::run_backups(
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
        if let Some(b) = backups {
            let _ = b.await;
        }
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
