//! Settings from, in order of precedence: command-line flags, `ZHENGZHAO_*`
//! environment variables (clap reads both), then the TOML file given by
//! `--config`, then defaults. Every key works in all three places.

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use zhengzhao_server::ServerConfig;

/// Where the library lives; taken by every command that touches one.
#[derive(Debug, Clone, Args)]
pub struct LibraryArgs {
    /// Data directory: the SQLite database and admin-token [default: ./data]
    #[arg(long, env = "ZHENGZHAO_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// Use PostgreSQL (postgres://user@host/db) instead of SQLite
    #[arg(
        long,
        env = "ZHENGZHAO_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// PostgreSQL schema to use [default: the connection's search_path]
    #[arg(long, env = "ZHENGZHAO_DATABASE_SCHEMA", global = true)]
    pub database_schema: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "ZHENGZHAO_LISTEN")]
    pub listen: Option<String>,
    /// Largest accepted request body, in bytes [default: 1048576]
    #[arg(long, env = "ZHENGZHAO_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Requests running longer get 503 [default: 30]
    #[arg(long, env = "ZHENGZHAO_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
}

/// The config file's keys: the same names as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    pub data: Option<PathBuf>,
    pub database_url: Option<String>,
    pub database_schema: Option<String>,
    pub listen: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub request_timeout_secs: Option<u64>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
}

impl FileSettings {
    pub fn load(path: Option<&PathBuf>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
    }
}

pub fn server_config(
    file: &FileSettings,
    lib: &LibraryArgs,
    serve: Option<&ServeArgs>,
) -> ServerConfig {
    let data = lib
        .data
        .clone()
        .or_else(|| file.data.clone())
        .unwrap_or_else(|| PathBuf::from("./data"));
    let mut c = ServerConfig::new(data);
    c.database_url = lib
        .database_url
        .clone()
        .or_else(|| file.database_url.clone());
    c.database_schema = lib
        .database_schema
        .clone()
        .or_else(|| file.database_schema.clone());
    if let Some(listen) = serve
        .and_then(|s| s.listen.clone())
        .or_else(|| file.listen.clone())
    {
        c.listen = listen;
    }
    if let Some(n) = serve.and_then(|s| s.max_body_bytes).or(file.max_body_bytes) {
        c.max_body_bytes = n;
    }
    if let Some(n) = serve
        .and_then(|s| s.request_timeout_secs)
        .or(file.request_timeout_secs)
    {
        c.request_timeout = Duration::from_secs(n);
    }
    c
}
