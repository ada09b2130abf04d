//! Operations surface: health, metrics, OpenAPI and its viewer, request ids,
//! unknown routes, security headers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::{Backend, TestApp, expect_problem};
use reqwest::StatusCode;
use serde_json::Value;

async fn operations_endpoints_answer(app: TestApp) {
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().contains_key("x-request-id"));
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );

    // Make a request to a templated route, then look for it in the metrics.
    app.get("/api/v1/orgs/150781").await;
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("zhengzhao_http_requests_total{"),
        "{metrics}"
    );
    assert!(
        metrics.contains("route=\"/api/v1/orgs/{code}\""),
        "{metrics}"
    );
    assert!(
        metrics.contains("zhengzhao_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains("zhengzhao_db_pool_size{backend="),
        "{metrics}"
    );
    assert!(!metrics.contains(&app.admin_token));

    let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/catalog",
        "/api/v1/catalog/{code}",
        "/api/v1/orgs",
        "/healthz",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let viewer = app.get("/api/docs/").await;
    assert_eq!(viewer.status(), StatusCode::OK);
    assert!(viewer.text().await.unwrap().contains("swagger"));

    expect_problem(app.get("/api/v1/nothing-here").await, StatusCode::NOT_FOUND).await;
    let index = app.get("/").await.text().await.unwrap();
    assert!(index.contains("电子证照发证目录公示"));
}
both_backends!(operations, operations_endpoints_answer);

/// Each start records its settings in the audit log (configuration changes
/// show as differences between starts), and no secret among them.
async fn starts_are_on_the_record(app: TestApp) {
    let events = app.library.store.audit_events(0, 10_000).await.unwrap();
    let starts: Vec<_> = events
        .iter()
        .filter(|e| e.event.action == "server.start")
        .collect();
    assert_eq!(starts.len(), 1);
    let d = &starts[0].event.detail;
    assert_eq!(d["tls"], false);
    assert_eq!(d["session"]["lockout_threshold"], 5);
    assert_eq!(d["session"]["idle_timeout_secs"], 1800);
    assert!(d["backend"] == "sqlite" || d["backend"] == "postgres");
    let text = serde_json::to_string(&starts[0]).unwrap();
    assert!(!text.contains("postgres://"), "{text}");
    assert!(!text.contains(&app.admin_token));
}
both_backends!(start_record, starts_are_on_the_record);

/// Read what the server sends until it closes the connection (a reset
/// counts as closed). The outer bound only keeps a broken server from
/// hanging the test; nothing is asserted about how long it took.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        stream.read_to_end(&mut got),
    )
    .await;
    assert!(read.is_ok(), "the server never closed the connection");
    got
}

/// Slowloris: connections that send half a header are closed after the
/// header timeout, so with every slot taken by them, a waiting client and
/// then `/healthz` are still served.
// SQLite only: the header timeout cuts clients off before any store access.
#[tokio::test]
async fn half_headers_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout = std::time::Duration::from_millis(200);
        c.max_connections = 4;
    })
    .await
    .unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: zz\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // Beyond the limit: waits to be accepted.
    let mut waiting = tokio::net::TcpStream::connect(&addr).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: zz\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    for s in &mut slow {
        let got = read_until_closed(s).await;
        assert!(
            !String::from_utf8_lossy(&got).contains("200 OK"),
            "a half header is never answered"
        );
    }
    let answer = read_until_closed(&mut waiting).await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

/// Connections beyond the limit are held unaccepted until one closes.
// SQLite only: the connection limit acts before any request, let alone store access.
#[tokio::test]
async fn connections_beyond_the_limit_wait() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout = std::time::Duration::from_secs(60);
        c.max_connections = 2;
    })
    .await
    .unwrap();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        slow.push(s);
    }
    let mut waiting = tokio::net::TcpStream::connect(&addr).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: zz\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Not served while both slots are taken (a slow server only makes
    // this pass more easily).
    let mut first = [0u8; 1];
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        waiting.read(&mut first),
    )
    .await;
    assert!(early.is_err(), "served beyond the connection limit");
    // One slow client gives up: its slot goes to the waiting one.
    drop(slow.pop());
    let mut answer = first.to_vec();
    answer.extend(read_until_closed(&mut waiting).await);
    assert!(
        String::from_utf8_lossy(&answer).contains("200 OK"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

/// Listening beyond loopback needs a public URL (else every QR code would
/// name 0.0.0.0); a bad one stops the start too, before anything is made.
// SQLite only: the public URL is a setting, checked before any store opens.
#[tokio::test]
async fn public_url_is_required_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = zhengzhao_http::ServerConfig::new(dir.path().join("data"));
    config.listen = "0.0.0.0:0".into();
    let Err(e) = zhengzhao_http::Application::build(config.clone()).await else {
        panic!("listening on 0.0.0.0 without a public URL must not start");
    };
    // The command line prints both languages (`StartError::zh` beside Display).
    let (msg, zh) = (e.to_string(), e.zh());
    assert!(msg.contains("--public-url"), "{msg}");
    assert!(zh.contains("--public-url") && zh.contains("须用"), "{zh}");
    assert!(!dir.path().join("data").exists(), "nothing is created");
    config.public_url = Some("zz.example.gov.cn".into());
    let Err(e) = zhengzhao_http::Application::build(config.clone()).await else {
        panic!("a public URL without a scheme must not start");
    };
    assert!(e.to_string().contains("https://"), "{e}");

    // With one, it starts, and links carry it.
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.listen = "0.0.0.0:0".into();
        c.public_url = Some("https://zz.example.gov.cn/".into());
    })
    .await
    .unwrap();
    let list: Value = app.get("/api/v1/status-list").await.json().await.unwrap();
    assert!(
        list.to_string()
            .contains("https://zz.example.gov.cn/api/v1/status-list"),
        "{list}"
    );
}

/// With an https public URL (TLS ends at a proxy), cookies are `Secure`:
/// the login form's CSRF cookie and the session cookie.
async fn cookies_are_secure_behind_https(app: TestApp) {
    use zhengzhao_core::clock::Clock;
    use zhengzhao_core::credentials::{totp_code, totp_step};
    let form = app.get("/login").await;
    let set = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set.starts_with("zz_login_csrf=") && set.contains("; Secure"),
        "{set}"
    );

    let security = app
        .token("150000", zhengzhao_domain::role::Role::SecurityAdmin)
        .await;
    let r = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/users",
            Some(&security),
            &serde_json::json!({"username": "proxy.li", "display_name": "测试人员", "org": "150102", "roles": ["auditor"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    let secret = data_encoding::BASE32_NOPAD
        .decode(body["totp_secret"].as_str().unwrap().as_bytes())
        .unwrap();
    let code = totp_code(&secret, totp_step(app.clock.now().as_second())).unwrap();
    let r = app
        .send_json(
            reqwest::Method::POST,
            "/api/v1/session",
            None,
            &serde_json::json!({"username": "proxy.li", "password": body["initial_password"], "totp_code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("zz_session=") && set.contains("; Secure"),
        "{set}"
    );
}

/// An https public URL: TLS ends at a proxy in front.
fn behind_https(c: &mut zhengzhao_http::ServerConfig) {
    c.public_url = Some("https://zz.example.gov.cn".into());
}
both_backends_with!(
    secure_cookies,
    cookies_are_secure_behind_https,
    behind_https
);

/// Only a trusted proxy's `X-Forwarded-For` is believed: from it, the rate
/// limit and the audit log see the forwarded client; from anyone else the
/// header changes nothing.
async fn forwarded_for_from_trusted_proxies(backend: Backend) {
    let limit = zhengzhao_http::http::rate_limit::PublicRateLimit {
        per_second: 1,
        burst: 3,
    };
    let trusted = TestApp::spawn_with(backend, |c| {
        c.trusted_proxies =
            vec![zhengzhao_http::config::parse_trusted_proxy("127.0.0.0/8").unwrap()];
        c.public_rate_limit = limit;
    })
    .await;
    let Some(trusted) = trusted else { return };
    let check = |app: &TestApp, forwarded: String| {
        app.client
            .get(app.url("/api/v1/verify/NOT-AN-ID"))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    // One forwarded client runs out of requests...
    let mut limited = false;
    for _ in 0..1000 {
        let r = check(&trusted, "203.0.113.7, 198.51.100.7".into())
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "the forwarded client is limited");
    // ...while others behind the same proxy are not.
    for other in ["198.51.100.8", "198.51.100.9", "2001:db8::1"] {
        let r = check(&trusted, format!("198.51.100.7, {other}"))
            .await
            .unwrap();
        assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{other}");
    }
    // The audit log names the forwarded client.
    let clerk = trusted
        .token("150102", zhengzhao_domain::role::Role::IssuerClerk)
        .await;
    let issued = trusted
        .issue(&clerk, &crate::common::license_request("XFF-1"))
        .await;
    let p: Value = trusted
        .send_json(
            reqwest::Method::POST,
            &format!(
                "/api/v1/licenses/{}/presentations",
                issued["license_id"].as_str().unwrap()
            ),
            Some(&clerk),
            &serde_json::json!({"fields": ["name"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let r = trusted
        .client
        .get(trusted.url(&format!(
            "/api/v1/presentations/{}",
            p["token"].as_str().unwrap()
        )))
        .header("x-forwarded-for", "198.51.100.20")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let events = trusted
        .library
        .store
        .audit_events(0, 100_000)
        .await
        .unwrap();
    let scan = events
        .iter()
        .rev()
        .find(|e| e.event.action == "presentation.scan")
        .unwrap();
    assert_eq!(scan.event.client_addr.as_deref(), Some("198.51.100.20"));

    // Not trusted: the header is ignored: the audit log names the peer,
    // and changing it evades nothing.
    let untrusted = TestApp::spawn_with(backend, |c| c.public_rate_limit = limit)
        .await
        .unwrap();
    let clerk = untrusted
        .token("150102", zhengzhao_domain::role::Role::IssuerClerk)
        .await;
    let issued = untrusted
        .issue(&clerk, &crate::common::license_request("XFF-2"))
        .await;
    let p: Value = untrusted
        .send_json(
            reqwest::Method::POST,
            &format!(
                "/api/v1/licenses/{}/presentations",
                issued["license_id"].as_str().unwrap()
            ),
            Some(&clerk),
            &serde_json::json!({"fields": ["name"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let r = untrusted
        .client
        .get(untrusted.url(&format!(
            "/api/v1/presentations/{}",
            p["token"].as_str().unwrap()
        )))
        .header("x-forwarded-for", "198.51.100.20")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let events = untrusted
        .library
        .store
        .audit_events(0, 100_000)
        .await
        .unwrap();
    let scan = events
        .iter()
        .rev()
        .find(|e| e.event.action == "presentation.scan")
        .unwrap();
    assert_eq!(scan.event.client_addr.as_deref(), Some("127.0.0.1"));
    let mut limited = false;
    for i in 0..1000 {
        let r = check(&untrusted, format!("198.51.100.{}", i % 250))
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(
        limited,
        "a made-up X-Forwarded-For must not evade the limit"
    );
}

mod forwarded_for {
    #[tokio::test]
    async fn sqlite() {
        super::forwarded_for_from_trusted_proxies(crate::common::Backend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::forwarded_for_from_trusted_proxies(crate::common::Backend::Postgres).await;
    }
}
