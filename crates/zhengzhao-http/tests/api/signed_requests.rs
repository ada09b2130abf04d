//! Signed requests over HTTP: a token made with `signed` must sign every
//! request (HMAC-SM3 over method, path, timestamp, nonce and body hash);
//! tampering, replays and stale timestamps are refused and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::{Method, RequestBuilder, StatusCode};
use zhengzhao_core::Actor;
use zhengzhao_core::signed_request::{body_sm3_hex, sign, string_to_sign};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;

struct Client<'a> {
    app: &'a TestApp,
    token: String,
    key: String,
}

impl Client<'_> {
    /// A request signed as a well-behaved client would; `body` is sent as is.
    fn signed(
        &self,
        method: Method,
        path: &str,
        body: &[u8],
        ts: i64,
        nonce: &str,
    ) -> RequestBuilder {
        let sig = sign(
            &self.key,
            &string_to_sign(
                method.as_str(),
                path,
                &ts.to_string(),
                nonce,
                &body_sm3_hex(body),
            ),
        )
        .unwrap();
        self.app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("x-zz-timestamp", ts.to_string())
            .header("x-zz-nonce", nonce)
            .header("x-zz-signature", sig)
            .body(body.to_vec())
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn signed_requests(app: TestApp) {
    let (_, token, key) = app
        .library
        .create_token_with(
            &Actor::cli(),
            &OrgCode::parse("150102").unwrap(),
            Role::IssuerClerk,
            "bank gateway",
            true,
        )
        .await
        .unwrap();
    let key = key.unwrap();
    assert!(key.starts_with("zzs_"));
    let c = Client {
        app: &app,
        token: token.clone(),
        key,
    };
    let body = serde_json::to_vec(&license_request("SIGNED-1")).unwrap();

    // The bearer token alone is not enough.
    let r = app.get_as("/api/v1/licenses?limit=5", &token).await;
    let p = expect_problem(r, StatusCode::UNAUTHORIZED).await;
    assert_eq!(p["type"], "/problems/bad-signature");

    let before = app.audit_count().await;
    // Body altered after signing: refused, nothing written.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let req = c
        .signed(
            Method::POST,
            "/api/v1/licenses",
            &body,
            now(),
            "nonce-tamper-000001",
        )
        .body(tampered);
    expect_problem(req.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    // Signed for another path.
    let sig_path = c.signed(
        Method::POST,
        "/api/v1/orgs",
        &body,
        now(),
        "nonce-path-00000001",
    );
    let req = app
        .client
        .post(app.url("/api/v1/licenses"))
        .headers(sig_path.build().unwrap().headers().clone())
        .body(body.clone());
    expect_problem(req.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    // Outside the replay window.
    let req = c.signed(
        Method::POST,
        "/api/v1/licenses",
        &body,
        now() - 301,
        "nonce-stale-0000001",
    );
    let p = expect_problem(req.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("window"));
    // A short nonce.
    let req = c.signed(Method::POST, "/api/v1/licenses", &body, now(), "short");
    expect_problem(req.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    assert_eq!(app.audit_count().await, before);

    // Properly signed: accepted.
    let ts = now();
    let r = c
        .signed(
            Method::POST,
            "/api/v1/licenses",
            &body,
            ts,
            "nonce-good-00000001",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The same request again is a replay.
    let r = c
        .signed(
            Method::POST,
            "/api/v1/licenses",
            &body,
            ts,
            "nonce-good-00000001",
        )
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("nonce"));
    // Reads are signed too; the query is covered.
    let r = c
        .signed(
            Method::GET,
            "/api/v1/licenses?limit=5",
            b"",
            now(),
            "nonce-read-00000001",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c.signed(
        Method::GET,
        "/api/v1/licenses?limit=5",
        b"",
        now(),
        "nonce-read-00000002",
    );
    let req = app
        .client
        .get(app.url("/api/v1/licenses?limit=50"))
        .headers(r.build().unwrap().headers().clone());
    expect_problem(req.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;

    // An ordinary token needs no signature.
    let plain = app.token("150102", Role::IssuerClerk).await;
    assert_eq!(
        app.get_as("/api/v1/licenses?limit=5", &plain)
            .await
            .status(),
        StatusCode::OK
    );
    // The token list never shows the HMAC key.
    assert!(app.library.tokens().await.unwrap().iter().all(|t| {
        serde_json::to_string(t)
            .map(|s| !s.contains("signing"))
            .unwrap()
    }));
}
both_backends!(signing, signed_requests);

/// A server on the data directory (SQLite) or schema (PostgreSQL) of
/// `config`, running until `stop` is sent; its base URL.
async fn start(
    config: &zhengzhao_http::ServerConfig,
) -> (
    String,
    zhengzhao_core::Library,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let app = zhengzhao_http::Application::build(config.clone())
        .await
        .unwrap();
    let (base, library) = (format!("http://{}", app.addr()), app.library().clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    (base, library, stop, running)
}

/// A signed GET as a client sends it.
fn signed_get(
    base: &str,
    token: &str,
    key: &str,
    path: &str,
    ts: i64,
    nonce: &str,
) -> reqwest::RequestBuilder {
    let sig = sign(
        key,
        &string_to_sign("GET", path, &ts.to_string(), nonce, &body_sm3_hex(b"")),
    )
    .unwrap();
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .header("x-zz-timestamp", ts.to_string())
        .header("x-zz-nonce", nonce)
        .header("x-zz-signature", sig)
}

/// Nonces are kept in the database for the replay window: a captured
/// request replayed after a restart, or to another node on the same
/// PostgreSQL, is refused.
async fn replays_after_restart_are_refused(backend: Backend) {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = zhengzhao_http::ServerConfig::new(data_dir.path());
    config.listen = "127.0.0.1:0".into();
    if backend == Backend::Postgres {
        let Some(url) = zhengzhao_store_postgres::testing::test_database_url() else {
            return;
        };
        config.database_schema =
            Some(zhengzhao_store_postgres::testing::fresh_schema_name(&url).await);
        config.database_url = Some(url);
    }
    let (base, library, stop, running) = start(&config).await;
    let (_, token, key) = library
        .create_token_with(
            &Actor::cli(),
            &OrgCode::parse("150102").unwrap(),
            Role::IssuerClerk,
            "bank gateway",
            true,
        )
        .await
        .unwrap();
    drop(library);
    let key = key.unwrap();
    let path = "/api/v1/licenses?limit=5";
    let ts = now();
    let captured = "nonce-restart-000001";
    let r = signed_get(&base, &token, &key, path, ts, captured)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    if backend == Backend::Postgres {
        // Another node on the same database, while the first runs: its own
        // data directory (each node locks its own), the same master key.
        let other_dir = tempfile::tempdir().unwrap();
        let mut other_config = config.clone();
        other_config.data_dir = other_dir.path().to_path_buf();
        other_config.master_key = Some(zhengzhao_http::config::MasterKeySource::File(
            config.default_master_key_path(),
        ));
        let (other, _, other_stop, other_running) = start(&other_config).await;
        let r = signed_get(&other, &token, &key, path, ts, captured)
            .send()
            .await
            .unwrap();
        let p = expect_problem(r, StatusCode::UNAUTHORIZED).await;
        assert!(p["detail"].as_str().unwrap().contains("nonce"), "{p}");
        // And the other way round.
        let fresh = "nonce-other-node-01";
        let r = signed_get(&other, &token, &key, path, now(), fresh)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = signed_get(&base, &token, &key, path, now(), fresh)
            .send()
            .await
            .unwrap();
        expect_problem(r, StatusCode::UNAUTHORIZED).await;
        other_stop.send(()).unwrap();
        other_running.await.unwrap().unwrap();
    }

    // A restart: the first server stops completely, a new one starts on
    // the same library.
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    let (base, _, stop, running) = start(&config).await;
    let r = signed_get(&base, &token, &key, path, ts, captured)
        .send()
        .await
        .unwrap();
    let p = expect_problem(r, StatusCode::UNAUTHORIZED).await;
    assert!(p["detail"].as_str().unwrap().contains("nonce"), "{p}");
    // A new nonce still works.
    let r = signed_get(&base, &token, &key, path, now(), "nonce-restart-000002")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
}

mod replay_after_restart {
    #[tokio::test]
    async fn sqlite() {
        super::replays_after_restart_are_refused(crate::common::Backend::Sqlite).await;
    }
    #[tokio::test]
    async fn postgres() {
        super::replays_after_restart_are_refused(crate::common::Backend::Postgres).await;
    }
}
