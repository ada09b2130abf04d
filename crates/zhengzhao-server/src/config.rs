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
        }
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("zhengzhao.db")
    }

    pub fn admin_token_path(&self) -> PathBuf {
        self.data_dir.join("admin-token")
    }
}
