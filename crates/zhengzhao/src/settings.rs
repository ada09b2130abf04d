//! Settings from, in order of precedence: command-line flags, `ZHENGZHAO_*`
//! environment variables (clap reads both), then the TOML file given by
//! `--config`, then defaults. Every key works in all three places.

use crate::errors::fail;
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;
use zhengzhao_http::ServerConfig;
use zhengzhao_http::config::{DeliveryChannel, MasterKeySource};

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
    /// File with the 128-bit master key (32 hex digits) that wraps private keys [default: DATA/master-key]
    #[arg(long, env = "ZHENGZHAO_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
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
    /// Base URL printed on licenses and in QR codes, e.g. https://zz.amr.nmg.gov.cn;
    /// required unless listening on loopback [default: http://LISTEN]
    #[arg(long, env = "ZHENGZHAO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A reverse proxy (address or CIDR range) whose X-Forwarded-For is
    /// believed (repeatable; env: comma-separated) [default: none]
    #[arg(
        long = "trusted-proxy",
        env = "ZHENGZHAO_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// Seconds a connection has to send a request's header (and finish TLS);
    /// idle connections are closed after it too [default: 10]
    #[arg(long, env = "ZHENGZHAO_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Connections served at once; more wait to be accepted (capped by the
    /// open-file limit) [default: 1024]
    #[arg(long, env = "ZHENGZHAO_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Delivery channel as NAME=URL (repeatable; env: comma-separated)
    #[arg(
        long = "delivery-channel",
        env = "ZHENGZHAO_DELIVERY_CHANNELS",
        value_delimiter = ','
    )]
    pub delivery_channels: Vec<String>,
    /// The regional government platform's receiving URL: every license and
    /// catalog change is pushed there [default: none]
    #[arg(long, env = "ZHENGZHAO_PLATFORM_URL")]
    pub platform_url: Option<String>,
    /// The national platform's receiving URL (the same messages) [default: none]
    #[arg(long, env = "ZHENGZHAO_NATIONAL_PLATFORM_URL")]
    pub national_platform_url: Option<String>,
    /// Seconds a claimed outbox message belongs to this server; if it dies,
    /// the message is sent again after them [default: 120]
    #[arg(long, env = "ZHENGZHAO_DELIVERY_LEASE_SECS")]
    pub delivery_lease_secs: Option<u64>,
    /// Working days to accept (or refuse) an objection [default: 2]
    #[arg(long, env = "ZHENGZHAO_OBJECTION_ACCEPT_DAYS")]
    pub objection_accept_days: Option<u32>,
    /// Working days from accepting an objection to answering it [default: 15]
    #[arg(long, env = "ZHENGZHAO_OBJECTION_ANSWER_DAYS")]
    pub objection_answer_days: Option<u32>,
    /// Objection tracking requests per minute per client address; 0: no limit [default: 10]
    #[arg(long, env = "ZHENGZHAO_OBJECTION_TRACK_PER_MINUTE")]
    pub objection_track_per_minute: Option<u32>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key)
    #[arg(long, env = "ZHENGZHAO_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, env = "ZHENGZHAO_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Take scheduled backups (SQLite) into this directory [default: none]
    #[arg(long, env = "ZHENGZHAO_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Hours between scheduled backups [default: 24]
    #[arg(long, env = "ZHENGZHAO_BACKUP_INTERVAL_HOURS")]
    pub backup_interval_hours: Option<f64>,
    /// Scheduled backups kept; older ones are deleted [default: 7]
    #[arg(long, env = "ZHENGZHAO_BACKUP_KEEP")]
    pub backup_keep: Option<usize>,
    /// Public verification requests per second per client address (burst:
    /// twice that); 0 turns the limit off [default: 50]
    #[arg(long, env = "ZHENGZHAO_PUBLIC_RATE_LIMIT")]
    pub public_rate_limit: Option<u32>,
    /// Login attempts per minute per client address (also the burst); 0
    /// turns the limit off [default: 30]
    #[arg(long, env = "ZHENGZHAO_LOGIN_RATE_PER_ADDRESS")]
    pub login_rate_per_address: Option<u32>,
    /// Login attempts per minute per username (also the burst); 0 turns
    /// the limit off [default: 10]
    #[arg(long, env = "ZHENGZHAO_LOGIN_RATE_PER_USER")]
    pub login_rate_per_user: Option<u32>,
    /// The region's identity provider for holders signing in themselves: its
    /// OpenID Connect issuer URL (https, or http on loopback) [default: none]
    #[arg(long, env = "ZHENGZHAO_HOLDER_OIDC_ISSUER")]
    pub holder_oidc_issuer: Option<String>,
    /// This library's client id at the identity provider
    #[arg(long, env = "ZHENGZHAO_HOLDER_OIDC_CLIENT_ID")]
    pub holder_oidc_client_id: Option<String>,
    /// This library's client secret there (prefer the environment variable:
    /// a flag shows in the process list)
    #[arg(
        long,
        env = "ZHENGZHAO_HOLDER_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub holder_oidc_client_secret: Option<String>,
    /// The ID token claim that holds the holder's id [default: holder_id]
    #[arg(long, env = "ZHENGZHAO_HOLDER_OIDC_ID_CLAIM")]
    pub holder_oidc_id_claim: Option<String>,
    /// The ID token claim that holds the id's type, `uscc` or `resident_id`
    /// [default: holder_id_type]
    #[arg(long, env = "ZHENGZHAO_HOLDER_OIDC_ID_TYPE_CLAIM")]
    pub holder_oidc_id_type_claim: Option<String>,
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
    pub master_key_file: Option<PathBuf>,
    pub public_url: Option<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub header_read_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub backup_dir: Option<PathBuf>,
    pub backup_interval_hours: Option<f64>,
    pub backup_keep: Option<usize>,
    pub public_rate_limit: Option<u32>,
    pub login_rate_per_address: Option<u32>,
    pub login_rate_per_user: Option<u32>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub holder_oidc_issuer: Option<String>,
    pub holder_oidc_client_id: Option<String>,
    pub holder_oidc_client_secret: Option<String>,
    pub holder_oidc_id_claim: Option<String>,
    pub holder_oidc_id_type_claim: Option<String>,
    pub platform_url: Option<String>,
    pub national_platform_url: Option<String>,
    pub delivery_lease_secs: Option<u64>,
    pub objection_accept_days: Option<u32>,
    pub objection_answer_days: Option<u32>,
    pub objection_track_per_minute: Option<u32>,
    /// `[[delivery_channels]]` tables with `name` and `url`.
    #[serde(default)]
    pub delivery_channels: Vec<ChannelSetting>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSetting {
    pub name: String,
    pub url: String,
}

fn parse_channel(s: &str) -> anyhow::Result<DeliveryChannel> {
    let (name, url) = s.split_once('=').ok_or_else(|| {
        fail(
            format!("推送渠道“{s}”应写作 名称=URL"),
            format!("delivery channel '{s}' must be NAME=URL"),
        )
    })?;
    channel(name, url)
}

fn channel(name: &str, url: &str) -> anyhow::Result<DeliveryChannel> {
    let name = name.trim();
    let url = url.trim();
    if name.is_empty() {
        return Err(fail("推送渠道需要名称", "a delivery channel needs a name"));
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(fail(
            format!("推送渠道 {name}：URL 应以 http:// 或 https:// 开头"),
            format!("delivery channel {name}: URL must start with http:// or https://"),
        ));
    }
    Ok(DeliveryChannel {
        name: name.to_owned(),
        url: url.to_owned(),
    })
}

impl FileSettings {
    pub fn load(path: Option<&PathBuf>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(
                format!("无法读取配置文件 {}：{e}", path.display()),
                format!("cannot read config file {}: {e}", path.display()),
            )
        })?;
        toml::from_str(&text).map_err(|e| {
            fail(
                format!("配置文件 {} 有误：{e}", path.display()),
                format!("config file {}: {e}", path.display()),
            )
        })
    }
}

pub fn server_config(
    file: &FileSettings,
    lib: &LibraryArgs,
    serve: Option<&ServeArgs>,
) -> anyhow::Result<ServerConfig> {
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
    if let Some(path) = lib
        .master_key_file
        .clone()
        .or_else(|| file.master_key_file.clone())
    {
        c.master_key = Some(MasterKeySource::File(path));
    } else if let Ok(hex) = std::env::var("ZHENGZHAO_MASTER_KEY") {
        c.master_key = Some(MasterKeySource::Hex(hex));
    }
    let tls_cert = serve
        .and_then(|s| s.tls_cert.clone())
        .or_else(|| file.tls_cert.clone());
    let tls_key = serve
        .and_then(|s| s.tls_key.clone())
        .or_else(|| file.tls_key.clone());
    c.tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(zhengzhao_http::config::TlsFiles { cert, key }),
        (None, None) => None,
        _ => {
            return Err(fail(
                "TLS 需要同时给出 tls_cert 和 tls_key",
                "TLS needs both tls_cert and tls_key",
            ));
        }
    };
    c.backup_dir = serve
        .and_then(|s| s.backup_dir.clone())
        .or_else(|| file.backup_dir.clone());
    if let Some(hours) = serve
        .and_then(|s| s.backup_interval_hours)
        .or(file.backup_interval_hours)
    {
        if !(hours.is_finite() && hours > 0.0) {
            return Err(fail(
                format!("backup_interval_hours 应为正的小时数，不是 {hours}"),
                format!("backup_interval_hours must be a positive number of hours, not {hours}"),
            ));
        }
        c.backup_interval = std::time::Duration::from_secs_f64(hours * 3600.0);
    }
    if let Some(keep) = serve.and_then(|s| s.backup_keep).or(file.backup_keep) {
        c.backup_keep = keep.max(1);
    }
    if let Some(rate) = serve
        .and_then(|s| s.public_rate_limit)
        .or(file.public_rate_limit)
    {
        c.public_rate_limit = zhengzhao_http::http::rate_limit::PublicRateLimit {
            per_second: rate,
            burst: rate.saturating_mul(2),
        };
    }
    let login_rate = |n: u32| zhengzhao_core::login_limits::LoginRate {
        per_minute: n,
        burst: n,
    };
    let limits = &mut c.session_policy.login_limits;
    if let Some(n) = serve
        .and_then(|s| s.login_rate_per_address)
        .or(file.login_rate_per_address)
    {
        limits.per_address = login_rate(n);
    }
    if let Some(n) = serve
        .and_then(|s| s.login_rate_per_user)
        .or(file.login_rate_per_user)
    {
        limits.per_username = login_rate(n);
    }
    // Unset on loopback: the bound address; required beyond it (checked
    // when the server starts).
    c.public_url = serve
        .and_then(|s| s.public_url.clone())
        .or_else(|| file.public_url.clone());
    let flagged = serve
        .map(|s| s.trusted_proxies.as_slice())
        .unwrap_or_default();
    let proxies = if flagged.is_empty() {
        file.trusted_proxies.as_slice()
    } else {
        flagged
    };
    c.trusted_proxies = proxies
        .iter()
        .map(|p| zhengzhao_http::config::parse_trusted_proxy(p).map_err(anyhow::Error::msg))
        .collect::<anyhow::Result<_>>()?;
    c.holder_oidc = holder_oidc(serve, file)?;
    if let Some(secs) = serve
        .and_then(|s| s.delivery_lease_secs)
        .or(file.delivery_lease_secs)
    {
        anyhow::ensure!(
            secs > 0,
            "delivery_lease_secs must be at least 1 / delivery_lease_secs 至少为1秒"
        );
        c.delivery_lease = Duration::from_secs(secs);
    }
    if let Some(days) = serve
        .and_then(|s| s.objection_accept_days)
        .or(file.objection_accept_days)
    {
        c.objection_deadlines.accept_days = days;
    }
    if let Some(days) = serve
        .and_then(|s| s.objection_answer_days)
        .or(file.objection_answer_days)
    {
        c.objection_deadlines.answer_days = days;
    }
    if let Some(n) = serve
        .and_then(|s| s.objection_track_per_minute)
        .or(file.objection_track_per_minute)
    {
        c.objection_track_per_minute = n;
    }
    c.platform_url = platform_url(
        "platform_url",
        serve
            .and_then(|s| s.platform_url.clone())
            .or_else(|| file.platform_url.clone()),
    )?;
    c.national_platform_url = platform_url(
        "national_platform_url",
        serve
            .and_then(|s| s.national_platform_url.clone())
            .or_else(|| file.national_platform_url.clone()),
    )?;
    if let Some(secs) = serve
        .and_then(|s| s.header_read_timeout_secs)
        .or(file.header_read_timeout_secs)
    {
        anyhow::ensure!(
            secs > 0,
            "header_read_timeout_secs must be at least 1 / header_read_timeout_secs 至少为1秒"
        );
        c.header_read_timeout = Duration::from_secs(secs);
    }
    if let Some(n) = serve
        .and_then(|s| s.max_connections)
        .or(file.max_connections)
    {
        anyhow::ensure!(
            n > 0,
            "max_connections must be at least 1 / max_connections 至少为1"
        );
        c.max_connections = n;
    }
    let flagged = serve
        .map(|s| s.delivery_channels.as_slice())
        .unwrap_or_default();
    c.delivery_channels = if flagged.is_empty() {
        file.delivery_channels
            .iter()
            .map(|ch| channel(&ch.name, &ch.url))
            .collect::<anyhow::Result<_>>()?
    } else {
        flagged
            .iter()
            .map(|s| parse_channel(s))
            .collect::<anyhow::Result<_>>()?
    };
    Ok(c)
}

/// The holder sign-in settings: none without an issuer; with one, the
/// client id and secret are required and the issuer must be https (http
/// only on loopback, for a provider on the same machine).
fn holder_oidc(
    serve: Option<&ServeArgs>,
    file: &FileSettings,
) -> anyhow::Result<Option<zhengzhao_http::config::HolderOidc>> {
    use zhengzhao_http::config::HolderOidc;
    let pick = |flag: Option<&Option<String>>, from_file: &Option<String>| {
        flag.and_then(Clone::clone).or_else(|| from_file.clone())
    };
    let Some(issuer) = pick(
        serve.map(|s| &s.holder_oidc_issuer),
        &file.holder_oidc_issuer,
    ) else {
        return Ok(None);
    };
    // The URL itself is parsed when the server starts; here only where it points.
    let loopback_http = issuer.strip_prefix("http://").is_some_and(|rest| {
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    if !issuer.starts_with("https://") && !loopback_http {
        return Err(fail(
            "holder_oidc_issuer 应使用https（仅本机回环地址可用http）",
            "holder_oidc_issuer must be https (http only on loopback)",
        ));
    }
    let required = |name: &str, v: Option<String>| {
        v.filter(|v| !v.is_empty()).ok_or_else(|| {
            fail(
                format!("设置了holder_oidc_issuer时必须同时设置{name}"),
                format!("{name} is required with holder_oidc_issuer"),
            )
        })
    };
    Ok(Some(HolderOidc {
        issuer,
        client_id: required(
            "holder_oidc_client_id",
            pick(
                serve.map(|s| &s.holder_oidc_client_id),
                &file.holder_oidc_client_id,
            ),
        )?,
        client_secret: required(
            "holder_oidc_client_secret",
            pick(
                serve.map(|s| &s.holder_oidc_client_secret),
                &file.holder_oidc_client_secret,
            ),
        )?,
        id_claim: pick(
            serve.map(|s| &s.holder_oidc_id_claim),
            &file.holder_oidc_id_claim,
        )
        .unwrap_or_else(|| HolderOidc::DEFAULT_ID_CLAIM.into()),
        id_type_claim: pick(
            serve.map(|s| &s.holder_oidc_id_type_claim),
            &file.holder_oidc_id_type_claim,
        )
        .unwrap_or_else(|| HolderOidc::DEFAULT_ID_TYPE_CLAIM.into()),
    }))
}

/// A platform's receiving URL: absolute `http(s)://`.
fn platform_url(key: &str, url: Option<String>) -> anyhow::Result<Option<String>> {
    match url {
        Some(u) if !(u.starts_with("https://") || u.starts_with("http://")) => Err(fail(
            format!("{key} 应为http(s)://开头的完整地址，不是 {u}"),
            format!("{key} must be an absolute http(s):// URL, not {u}"),
        )),
        other => Ok(other.filter(|u| !u.is_empty())),
    }
}
