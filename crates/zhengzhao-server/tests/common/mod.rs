//! Test support: a real server on port 0 with a fresh database (a temporary
//! SQLite file, or a private PostgreSQL schema), talked to over HTTP.
#![allow(dead_code)]

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use tokio::sync::oneshot;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_server::service::{Actor, Library};
use zhengzhao_server::{Application, ServerConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub admin_token: String,
    pub client: Client,
    pub library: Library,
    pub data_dir: PathBuf,
    _stop: oneshot::Sender<()>,
}

/// Run one test body against both backends: `both_backends!(name, body_fn);`
/// makes `name::sqlite` and `name::postgres`. The PostgreSQL case skips when
/// `TEST_DATABASE_URL` is unset, except under `CI=true`, where it fails.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite)
                    .await
                    .unwrap();
                super::$body(app).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(app) =
                    $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await
                else {
                    eprintln!("skipped: TEST_DATABASE_URL not set");
                    return;
                };
                super::$body(app).await;
            }
        }
    };
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Like `spawn`, with settings changed by `adjust` first.
    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> Option<Self> {
        let data_dir = tempfile::tempdir().unwrap().keep();
        let mut config = ServerConfig::new(&data_dir);
        config.listen = "127.0.0.1:0".into();
        config.max_body_bytes = 64 * 1024;
        if backend == Backend::Postgres {
            let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true but TEST_DATABASE_URL is not set"
                );
                return None;
            };
            config.database_schema =
                Some(zhengzhao_store_postgres::testing::fresh_schema_name(&url).await);
            config.database_url = Some(url);
        }
        adjust(&mut config);
        let app = Application::build(config).await.unwrap();
        let token_path = app
            .admin_token_path
            .clone()
            .expect("a fresh library is seeded");
        let admin_token = std::fs::read_to_string(token_path)
            .unwrap()
            .trim()
            .to_owned();
        let base = format!("http://{}", app.addr());
        let library = app.library().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Some(Self {
            base,
            admin_token,
            client: Client::new(),
            library,
            data_dir,
            _stop: stop,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token for `org` and `role`, made the way the CLI makes one.
    pub async fn token(&self, org: &str, role: Role) -> String {
        let (_, secret) = self
            .library
            .create_token(&Actor::cli(), &OrgCode::parse(org).unwrap(), role, "test")
            .await
            .unwrap();
        secret
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn audit_count(&self) -> usize {
        self.library
            .store
            .audit_events(0, 100_000)
            .await
            .unwrap()
            .len()
    }
}

/// Assert the status and that the body is an RFC 9457 problem with both
/// titles; return the problem.
pub async fn expect_problem(resp: Response, status: StatusCode) -> Value {
    assert_eq!(resp.status(), status, "unexpected status");
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["type"].as_str().unwrap().starts_with("/problems/"),
        "{body}"
    );
    assert!(!body["title"].as_str().unwrap().is_empty());
    assert!(!body["title_zh"].as_str().unwrap().is_empty());
    body
}

/// A valid new license type with the given code (authority 11100000000013338W).
pub fn license_type(code: &str, name: &str) -> Value {
    serde_json::json!({
        "code": code,
        "name": name,
        "defining_authority": {"name": "住房和城乡建设部", "credit_code": &code[..18]},
        "issuing_levels": ["league", "banner"],
        "holder_types": ["legal_person"],
        "aggregation_start": "2024-02-01",
        "public_attribute": "public",
        "standard_level": "national",
        "template": "a4-portrait",
        "license_number_field": "number",
        "face_fields": [
            {"name": "number", "label": "证书编号", "type": "text", "required": true, "max_length": 30},
            {"name": "grade", "label": "资质等级", "type": "enum", "values": ["一级", "二级"], "required": true, "max_length": 4},
            {"name": "issued_on", "label": "发证日期", "type": "date", "required": true}
        ]
    })
}
