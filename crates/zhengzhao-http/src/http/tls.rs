//! The connection layer of `serve`: the accept loop (plain or TLS, rustls
//! with the ring provider), its limits, and who the client is.
//!
//! - At most `max_connections` connections are served at once; beyond that
//!   the loop stops accepting (the kernel's backlog holds newcomers) until
//!   one closes.
//! - A connection must finish its TLS handshake, and send each request's
//!   whole header, within `header_read_timeout`; an idle keep-alive
//!   connection is closed after it too. A client that sends half a header
//!   (slowloris) therefore holds a slot for that long at most.
//! - Behind a reverse proxy, `X-Forwarded-For` is believed only from the
//!   configured trusted proxies ([`resolve_client`]).

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Extensions, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The TCP peer's address, as handlers see it, over plain TCP or TLS.
/// Behind a proxy this is the proxy: see [`client_ip`].
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// The client's address as [`resolve_client`] found it: the peer, or for
/// a trusted proxy, the address it forwarded.
#[derive(Debug, Clone, Copy)]
pub struct ForwardedClient(pub IpAddr);

/// The client's IP address: forwarded by a trusted proxy, else the peer.
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ForwardedClient>()
        .map(|c| c.0)
        .or_else(|| {
            extensions
                .get::<ConnectInfo<ClientAddr>>()
                .map(|ConnectInfo(a)| a.0.ip().to_canonical())
        })
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

impl TrustedProxies {
    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted
    /// proxy; then, walking `X-Forwarded-For` from the right, the first
    /// address that is not a trusted proxy (what the outermost trusted
    /// proxy saw). Entries a client may have written further left are
    /// never reached. An unreadable entry ends the walk at the last address
    /// believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else { break };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Middleware: note the client's address ([`ForwardedClient`]) for the
/// rate limiter, audit events and callers.
pub async fn resolve_client(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|ConnectInfo(a)| a.0.ip());
    if let Some(peer) = peer {
        let client = trusted.client(peer, request.headers());
        request.extensions_mut().insert(ForwardedClient(client));
    }
    next.run(request).await
}

/// rustls settings from a PEM certificate chain and a PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("TLS certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "TLS certificate {}: no certificate in it",
            cert.display()
        ));
    }
    let key =
        PrivateKeyDer::from_pem_file(key).map_err(|e| format!("TLS key {}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| format!("TLS certificate and key: {e}"))?;
    Ok(Arc::new(config))
}

/// The limits of the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

/// File descriptors kept free for the database, logs and backups.
const RESERVED_FILES: usize = 64;

/// The soft limit on open files (Linux), if known.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Connections served at once: as configured, but never so many that the
/// process runs out of file descriptors (then `/healthz` would stop
/// answering).
fn connection_budget(configured: usize) -> usize {
    let configured = configured.clamp(1, 1 << 20);
    match open_file_limit() {
        Some(files) if files.saturating_sub(RESERVED_FILES) < configured => {
            let capped = files.saturating_sub(RESERVED_FILES).max(16);
            tracing::info!(
                configured,
                capped,
                open_file_limit = files,
                "max_connections capped by the open-file limit"
            );
            capped
        }
        _ => configured,
    }
}

/// Serve `app` on `listener` (over TLS with `tls`) until `shutdown`
/// resolves; then stop accepting, let each connection finish its request
/// in flight, and return once all are closed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let budget = connection_budget(limits.max_connections);
    let permits = Arc::new(Semaphore::new(budget));
    let (stop_tx, stop_rx) = watch::channel(false);
    let acceptor = tls.map(TlsAcceptor::from);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        // A slot first: beyond the limit, newcomers wait in the backlog.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(Duration::from_millis(50)) => continue,
                    }
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            app: app.clone(),
            http: http.clone(),
            peer,
            stop: stop_rx.clone(),
            handshake_deadline: limits.header_read_timeout,
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            connection.run(stream, acceptor).await;
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    // Every open connection holds a slot: having them all back means all
    // connections are closed.
    let _ = permits
        .acquire_many(u32::try_from(budget).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

struct Connection {
    app: Router,
    http: hyper::server::conn::http1::Builder,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    handshake_deadline: Duration,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, acceptor: Option<TlsAcceptor>) {
        let Some(acceptor) = acceptor else {
            return self.serve(TokioIo::new(stream)).await;
        };
        let peer = self.peer;
        let handshake = tokio::time::timeout(self.handshake_deadline, acceptor.accept(stream));
        let tls = tokio::select! {
            done = handshake => match done {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            },
            _ = self.stop.changed() => return,
        };
        self.serve(TokioIo::new(tls)).await
    }

    async fn serve<I>(mut self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (app, peer) = (self.app, self.peer);
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(ClientAddr(peer)));
            app.clone().oneshot(req)
        });
        let conn = self.http.serve_connection(io, service);
        tokio::pin!(conn);
        let done = tokio::select! {
            done = conn.as_mut() => done,
            _ = self.stop.changed() => {
                conn.as_mut().graceful_shutdown();
                conn.as_mut().await
            }
        };
        if let Err(e) = done {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_for_is_believed_from_trusted_proxies_only() {
        let trusted = TrustedProxies(vec![
            crate::config::parse_trusted_proxy("127.0.0.1").unwrap(),
            crate::config::parse_trusted_proxy("10.0.0.0/8").unwrap(),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // An untrusted peer: the header is ignored.
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &xff(&["198.51.100.1"])),
            ip("203.0.113.9")
        );
        // A trusted peer: the rightmost untrusted hop, whatever the client
        // wrote further left.
        assert_eq!(
            trusted.client(
                ip("127.0.0.1"),
                &xff(&["6.6.6.6, 198.51.100.1", "10.1.1.1"])
            ),
            ip("198.51.100.1")
        );
        // IPv4-mapped peers and ports in entries.
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &xff(&["198.51.100.1:4711"])),
            ip("198.51.100.1")
        );
        // No header, or only trusted hops, or garbage: the last believed.
        assert_eq!(trusted.client(ip("127.0.0.1"), &xff(&[])), ip("127.0.0.1"));
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &xff(&["10.2.2.2"])),
            ip("10.2.2.2")
        );
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &xff(&["198.51.100.1, junk, 10.2.2.2"])),
            ip("10.2.2.2")
        );
        // Nothing trusted: always the peer.
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), &xff(&["198.51.100.1"])),
            ip("127.0.0.1")
        );
    }
}
