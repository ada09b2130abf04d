//! `serve` over TLS: HTTPS with the configured certificate, HSTS on, plain
//! HTTP refused; HSTS off without TLS; bad key files stop the start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod common;

use common::*;
use std::process::Command;
use zhengzhao_server::config::TlsFiles;

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

#[tokio::test]
async fn no_hsts_without_tls_and_bad_files_stop_the_start() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let resp = app.get("/healthz").await;
    assert!(!resp.headers().contains_key("strict-transport-security"));

    let dir = tempfile::tempdir().unwrap();
    let mut config = zhengzhao_server::ServerConfig::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".into();
    config.tls = Some(TlsFiles {
        cert: dir.path().join("missing.pem"),
        key: dir.path().join("missing-key.pem"),
    });
    let Err(e) = zhengzhao_server::Application::build(config).await else {
        panic!("a missing certificate must stop the start");
    };
    assert!(e.to_string().starts_with("TLS"), "{e}");
}
