//! `serve` over TLS: HTTPS with the configured certificate, HSTS on, plain
//! HTTP refused; HSTS off without TLS; bad key files stop the start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use std::process::Command;
use zhengzhao_http::config::TlsFiles;

/// A self-signed certificate for 127.0.0.1, made by OpenSSL.
fn certificate(dir: &std::path::Path) -> TlsFiles {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            // An end-entity certificate (webpki refuses a CA as one).
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    TlsFiles { cert, key }
}

// SQLite only: the TLS handshake and HSTS are the HTTP layer's, whatever the store.
#[tokio::test]
async fn https_with_hsts_and_no_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path());
    let pem = std::fs::read(&files.cert).unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.tls = Some(files))
        .await
        .unwrap();
    let https = app.base.replacen("http://", "https://", 1);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let resp = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let page = client.get(format!("{https}/catalog")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().contains_key("content-security-policy"));

    let plain = reqwest::Client::new()
        .get(format!("{}/healthz", app.base))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP must not be served on the TLS port"
    );
    // An untrusted client (no root for the self-signed certificate) is refused too.
    assert!(
        reqwest::Client::new()
            .get(format!("{https}/healthz"))
            .send()
            .await
            .is_err()
    );
}

// SQLite only: HSTS and the TLS files are checked by the HTTP layer, before any store opens.
#[tokio::test]
async fn no_hsts_without_tls_and_bad_files_stop_the_start() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let resp = app.get("/healthz").await;
    assert!(!resp.headers().contains_key("strict-transport-security"));

    let dir = tempfile::tempdir().unwrap();
    let mut config = zhengzhao_http::ServerConfig::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".into();
    config.tls = Some(TlsFiles {
        cert: dir.path().join("missing.pem"),
        key: dir.path().join("missing-key.pem"),
    });
    let Err(e) = zhengzhao_http::Application::build(config).await else {
        panic!("a missing certificate must stop the start");
    };
    assert!(e.to_string().starts_with("TLS"), "{e}");
}

/// Over TLS too: a silent client is dropped after the header timeout
/// (the handshake deadline), and so is one that finishes the handshake but
/// sends half a header; the slots they held serve others.
// SQLite only: handshake and header timeouts cut clients off before any store access.
#[tokio::test]
async fn slow_clients_are_cut_off_over_tls() {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let files = certificate(dir.path());
    let pem = std::fs::read(&files.cert).unwrap();
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.tls = Some(files);
        c.header_read_timeout = std::time::Duration::from_millis(200);
        c.max_connections = 2;
    })
    .await
    .unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
    let bound = std::time::Duration::from_secs(60);

    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut half = connector.connect(name, tcp).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(bound, silent.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "a silent client is never dropped");
    let mut got = Vec::new();
    let closed = tokio::time::timeout(bound, half.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "half a header over TLS is never cut off");
    assert!(!String::from_utf8_lossy(&got).contains("200 OK"));

    let https = app.base.replacen("http://", "https://", 1);
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let resp = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
