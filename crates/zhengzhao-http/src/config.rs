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
    /// The regional government platform's receiving URL (Art. 6–7): every
    /// license and catalog change is pushed there.
    pub platform_url: Option<String>,
    /// The national platform's (Art. 17), receiving the same messages.
    pub national_platform_url: Option<String>,
    /// How often the outbox relay looks for due messages when idle.
    pub delivery_poll: Duration,
    /// First retry delay of a failed send; each retry doubles it (capped at
    /// an hour, less up to half at random).
    pub delivery_retry_base: Duration,
    /// Failed sends before a message is parked (then only a replay sends it).
    pub delivery_max_attempts: u32,
    /// How long a claimed message belongs to this server: if it dies, the
    /// message goes out again after this (from it or another server).
    pub delivery_lease: Duration,
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
    pub session_policy: zhengzhao_core::staff::SessionPolicy,
    /// Base URL printed on licenses (QR codes link to `{public_url}/verify/{id}`):
    /// an absolute `http(s)://` URL. Required when listening beyond loopback;
    /// on loopback, `None` means the bound address (`http(s)://ADDR`).
    pub public_url: Option<String>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For`
    /// is believed: the client is the rightmost address not among them.
    /// From anyone else the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A connection must send a request's whole header (and finish its TLS
    /// handshake) within this time, else it is closed; an idle keep-alive
    /// connection is closed after it too.
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait, unaccepted, until one
    /// closes. Capped by the open-file limit (see `http::tls::serve`).
    pub max_connections: usize,
    /// The region's identity provider, for holders signing in themselves
    /// (`GET /api/v1/holder/sign-in`); without it only channels act for holders.
    pub holder_oidc: Option<HolderOidc>,
    /// Working days to accept an objection and to answer it (Art. 19).
    pub objection_deadlines: zhengzhao_core::objections::ObjectionDeadlines,
    /// Tracking requests per minute per client address
    /// (`/api/v1/objections/track`: ticket and code must not be guessable
    /// by trying); 0 turns the limit off.
    pub objection_track_per_minute: u32,
}

/// The OpenID Connect client registration of this library at the region's
/// identity provider, and the ID token claims that name the holder.
#[derive(Clone)]
pub struct HolderOidc {
    /// The issuer URL (`{issuer}/.well-known/openid-configuration` is read).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The claim holding the holder's id (a credit code or resident id).
    pub id_claim: String,
    /// The claim holding its type: `uscc` or `resident_id`.
    pub id_type_claim: String,
}

impl HolderOidc {
    pub const DEFAULT_ID_CLAIM: &'static str = "holder_id";
    pub const DEFAULT_ID_TYPE_CLAIM: &'static str = "holder_id_type";
}

/// Never the secret.
impl std::fmt::Debug for HolderOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HolderOidc")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<hidden>")
            .field("id_claim", &self.id_claim)
            .field("id_type_claim", &self.id_type_claim)
            .finish()
    }
}

/// The certificate chain and private key `serve` uses for TLS (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Where the master key comes from.
pub use zhengzhao_core::setup::MasterKeySource;

/// One delivery channel: a name shown with the license and the webhook it posts to.
pub use zhengzhao_core::outbox::DeliveryChannel;
impl ServerConfig {
    pub const DEFAULT_LISTEN: &'static str = "127.0.0.1:8080";
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

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
            platform_url: None,
            national_platform_url: None,
            delivery_poll: Duration::from_secs(2),
            delivery_retry_base: Duration::from_secs(5),
            delivery_max_attempts: zhengzhao_core::outbox::MAX_ATTEMPTS,
            delivery_lease: zhengzhao_core::outbox::LEASE,
            audit_checkpoint_interval: Duration::from_secs(300),
            audit_sweep_interval: Duration::from_secs(5),
            audit_sweep_batch: 2000,
            tls: None,
            backup_dir: None,
            backup_interval: Duration::from_secs(24 * 3600),
            backup_keep: 7,
            public_url: None,
            trusted_proxies: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            holder_oidc: None,
            objection_deadlines: zhengzhao_core::objections::ObjectionDeadlines::default(),
            objection_track_per_minute: 10,
            session_policy: zhengzhao_core::staff::SessionPolicy::default(),
            public_rate_limit: crate::http::rate_limit::PublicRateLimit::default(),
        }
    }

    /// Where the library's data is and how its keys are opened.
    pub fn storage(&self) -> zhengzhao_core::setup::StorageConfig {
        zhengzhao_core::setup::StorageConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            database_schema: self.database_schema.clone(),
            master_key: self.master_key.clone(),
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

    /// Cookies carry `Secure` when the library is reached over HTTPS: it
    /// speaks TLS itself, or its public URL is `https://` (a TLS proxy).
    pub fn secure_cookies(&self) -> bool {
        self.tls.is_some()
            || self
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }

    /// Check the listen address and public URL before anything starts: the
    /// public URL must be an absolute http(s) URL, and is required unless
    /// the library listens on loopback only (else every QR code would name
    /// `0.0.0.0` or an internal address). Messages in English and Chinese.
    pub fn check_public_url(&self) -> Result<(), ConfigError> {
        match &self.public_url {
            Some(url) => check_public_url(url),
            None if listens_on_loopback(&self.listen) => Ok(()),
            None => Err(ConfigError {
                en: format!(
                    "listening on {}, beyond this machine, needs --public-url: the address \
                     people and QR codes reach the library at, e.g. https://zz.example.gov.cn",
                    self.listen
                ),
                zh: format!(
                    "监听地址{}不限于本机，须用 --public-url 指定公众和二维码访问本库的地址，\
                     例如 https://zz.example.gov.cn",
                    self.listen
                ),
            }),
        }
    }

    /// The public URL, or for a loopback listener without one, the bound
    /// address.
    pub fn public_url_or(&self, bound: std::net::SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{bound}")
            }
        }
    }

    /// Every destination of the outbox relay: the platforms, then the channels.
    pub fn destinations(&self) -> Vec<zhengzhao_core::outbox::Destination> {
        use zhengzhao_core::outbox::Destination;
        let mut all = Vec::new();
        if let Some(url) = &self.platform_url {
            all.push(Destination::platform(url));
        }
        if let Some(url) = &self.national_platform_url {
            all.push(Destination::national_platform(url));
        }
        all.extend(self.delivery_channels.iter().map(Destination::channel));
        all
    }
}

/// Whether `listen` (`HOST:PORT`) names only this machine.
fn listens_on_loopback(listen: &str) -> bool {
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        return addr.ip().to_canonical().is_loopback();
    }
    listen
        .rsplit_once(':')
        .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

/// An absolute `http://` or `https://` URL with a host, and no query or
/// fragment (paths are appended to it).
fn check_public_url(url: &str) -> Result<(), ConfigError> {
    let bad = |why: &str, zh: &str| {
        Err(ConfigError {
            en: format!("--public-url {url:?} {why}"),
            zh: format!("--public-url“{url}”{zh}"),
        })
    };
    let Ok(uri) = url.parse::<axum::http::Uri>() else {
        return bad("is not a URL", "不是有效的网址");
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return bad(
            "must start with http:// or https://",
            "应以 http:// 或 https:// 开头",
        );
    }
    if uri.host().is_none_or(str::is_empty) {
        return bad("has no host", "缺少主机名");
    }
    if url.contains(['?', '#']) {
        return bad("must not have a query or fragment", "不应包含查询串或片段");
    }
    Ok(())
}

pub use zhengzhao_core::setup::ConfigError;

/// A trusted proxy as given on the command line: an address (`10.0.0.5`,
/// `::1`) or a CIDR range (`10.0.0.0/8`).
pub fn parse_trusted_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| {
            format!(
                "--trusted-proxy {text:?} is neither an IP address nor a CIDR range / \
                 --trusted-proxy“{text}”既不是IP地址也不是CIDR网段"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_is_required_beyond_loopback() {
        let mut c = ServerConfig::new("/tmp/x");
        for listen in ["127.0.0.1:0", "[::1]:8080", "localhost:8080"] {
            c.listen = listen.into();
            assert!(c.check_public_url().is_ok(), "{listen}");
        }
        for listen in ["0.0.0.0:8080", "[::]:8080", "10.1.2.3:80", "zz.internal:80"] {
            c.listen = listen.into();
            let e = c.check_public_url().unwrap_err().to_string();
            assert!(e.contains("--public-url") && e.contains("须用"), "{e}");
        }
        c.public_url = Some("https://zz.example.gov.cn/".into());
        assert!(c.check_public_url().is_ok());
        assert!(c.secure_cookies());
        assert_eq!(
            c.public_url_or("127.0.0.1:1".parse().unwrap()),
            "https://zz.example.gov.cn"
        );
        for bad in [
            "zz.example.gov.cn",
            "ftp://zz.example.gov.cn",
            "https://",
            "https://zz.example.gov.cn/?a=1",
            "/verify",
        ] {
            c.public_url = Some(bad.into());
            assert!(c.check_public_url().is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        assert_eq!(
            parse_trusted_proxy("10.0.0.5").unwrap().to_string(),
            "10.0.0.5/32"
        );
        assert_eq!(
            parse_trusted_proxy("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_trusted_proxy("::1").unwrap().to_string(), "::1/128");
        assert!(parse_trusted_proxy("proxy.local").is_err());
        assert!(parse_trusted_proxy("10.0.0.0/33").is_err());
    }
}
