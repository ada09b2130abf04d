//! Building and running the server.

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
use zhengzhao_core::outbox::OutboxRelay;
use zhengzhao_core::setup::{self, StoreError};
use zhengzhao_crypto::keywrap::MasterKey;

pub use zhengzhao_core::setup::{
    DataDirLock, LOCK_FILE, LibraryLocation, SharedStore, StartError, load_master_key,
};

/// Open the configured store, creating it when missing (for `serve`,
/// `init`); migrations run here (`zhengzhao_core::setup::open_store`).
pub async fn open_store(config: &ServerConfig) -> Result<SharedStore, StoreError> {
    setup::open_store(&config.storage()).await
}

/// Open the configured store only if it holds a library (every command but
/// `serve` and `init`).
pub async fn open_existing_store(config: &ServerConfig) -> Result<SharedStore, StartError> {
    setup::open_existing_store(&config.storage()).await
}

pub fn library_location(config: &ServerConfig) -> LibraryLocation {
    setup::library_location(&config.storage())
}

/// The configured master key, if any (never makes one).
pub fn configured_master_key(config: &ServerConfig) -> Result<Option<MasterKey>, String> {
    setup::configured_master_key(&config.storage())
}

/// The master key for `serve` and `init` on `store` (`setup::master_key_for`).
pub async fn master_key_for(
    config: &ServerConfig,
    store: &SharedStore,
) -> Result<MasterKey, StartError> {
    setup::master_key_for(&config.storage(), store).await
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

impl Application {
    /// Open (and on first start, seed) the library and bind the listener.
    pub async fn build(config: ServerConfig) -> Result<Self, StartError> {
        Self::build_with_clock(config, Arc::new(zhengzhao_core::clock::SystemClock)).await
    }

    /// As [`Self::build`], with the library reading the time from `clock`
    /// (tests move it forward instead of sleeping).
    pub async fn build_with_clock(
        mut config: ServerConfig,
        clock: Arc<dyn zhengzhao_core::clock::Clock>,
    ) -> Result<Self, StartError> {
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
            .with_clock(clock)
            .with_master_key(master_key)
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
        let mut library = library
            .with_public_url(config.public_url.as_deref().unwrap_or_default())
            .with_objection_deadlines(config.objection_deadlines);
        if let Some(oidc) = &config.holder_oidc {
            let callback = format!(
                "{}{}",
                config.public_url.as_deref().unwrap_or_default(),
                zhengzhao_core::urls::paths::HOLDER_SIGN_IN_CALLBACK
            );
            let provider =
                crate::oidc::OidcProvider::new(oidc.clone(), &callback).map_err(|e| {
                    StartError::Config(crate::config::ConfigError {
                        zh: format!("持证主体统一身份认证设置有误：{e}"),
                        en: e,
                    })
                })?;
            library = library.with_identity_provider(Arc::new(provider));
        }
        // Configuration is read at start: each start's settings go on the
        // record, so a changed setting shows as a difference between starts.
        library
            .record_server_start(addr, config_summary(&config, library.backend()))
            .await
            .map_err(|e| StartError::Seed(format!("cannot record the start: {e}")))?;
        // Each year's holidays are published late in the year before: from
        // 1 November, say so if next year's are not imported yet.
        if let Ok(Some(year)) = library.calendar_missing_next_year().await {
            tracing::warn!(
                year,
                "the holiday calendar lacks {year}: deadlines in it count weekdays only and are provisional; import the State Council's arrangement with `zhengzhao calendar import FILE`"
            );
        }
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
        let relay = OutboxRelay {
            library: self.state.library.clone(),
            destinations: self.state.config.destinations(),
            transport: Arc::new(transport),
            retry_base: self.state.config.delivery_retry_base,
            max_attempts: self.state.config.delivery_max_attempts,
            lease: self.state.config.delivery_lease,
        };
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
        let check_counts = tokio::spawn(zhengzhao_core::check_counts::run_check_count_flusher(
            self.state.library.clone(),
            std::time::Duration::from_secs(60),
            stop_rx.clone(),
        ));
        let worker = tokio::spawn(relay.run(poll, stop_rx));
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
        let _ = check_counts.await;
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
        "holder_oidc": config.holder_oidc.as_ref().map(|o| serde_json::json!({
            "issuer": o.issuer,
            "client_id": o.client_id,
            "id_claim": o.id_claim,
            "id_type_claim": o.id_type_claim,
        })),
        "max_body_bytes": config.max_body_bytes,
        "request_timeout_secs": config.request_timeout.as_secs(),
        "delivery_channels": channels,
        "delivery_lease_secs": config.delivery_lease.as_secs(),
        "platform_url_sm3": config.platform_url.as_ref().map(|u| hex::encode(&sm3::Sm3::digest(u.as_bytes())[..8])),
        "national_platform_url_sm3": config.national_platform_url.as_ref().map(|u| hex::encode(&sm3::Sm3::digest(u.as_bytes())[..8])),
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
