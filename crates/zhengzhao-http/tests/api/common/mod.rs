//! Test support: a real server on port 0 with a fresh database (a temporary
//! SQLite file, or a private PostgreSQL schema), talked to over HTTP.
#![allow(dead_code)]

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use tokio::sync::oneshot;
use zhengzhao_core::{Actor, Library};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_http::{Application, ServerConfig};

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
    pub backend: Backend,
    /// PostgreSQL: the database URL and this test's schema.
    pub postgres: Option<(String, String)>,
    /// The server's clock: a test moves it forward instead of sleeping.
    pub clock: std::sync::Arc<zhengzhao_core::clock::AdjustableClock>,
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
                    eprintln!("skipped: the PostgreSQL half is skipped on purpose");
                    return;
                };
                super::$body(app).await;
            }
        }
    };
}

/// Like `both_backends!`, with the settings changed by `$adjust` (a function
/// `fn(&mut ServerConfig)` beside the body) first:
/// `both_backends_with!(name, body_fn, adjust_fn);`. The same skip rule.
#[macro_export]
macro_rules! both_backends_with {
    ($name:ident, $body:ident, $adjust:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::common::TestApp::spawn_with(
                    $crate::common::Backend::Sqlite,
                    super::$adjust,
                )
                .await
                .unwrap();
                super::$body(app).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(app) = $crate::common::TestApp::spawn_with(
                    $crate::common::Backend::Postgres,
                    super::$adjust,
                )
                .await
                else {
                    eprintln!("skipped: the PostgreSQL half is skipped on purpose");
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
            let url = zhengzhao_store_postgres::testing::test_database_url()?;
            config.database_schema =
                Some(zhengzhao_store_postgres::testing::fresh_schema_name(&url).await);
            config.database_url = Some(url);
        }
        adjust(&mut config);
        let postgres = config
            .database_url
            .clone()
            .zip(config.database_schema.clone());
        let clock = std::sync::Arc::new(zhengzhao_core::clock::AdjustableClock::new());
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .unwrap();
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
            backend,
            postgres,
            clock,
            _stop: stop,
        })
    }

    /// A second server on this test's PostgreSQL database and master key,
    /// as a second `serve` process beside the first (PostgreSQL only).
    pub async fn join(&self) -> Self {
        let (url, schema) = self.postgres.clone().expect("join needs PostgreSQL");
        let data_dir = tempfile::tempdir().unwrap().keep();
        let mut config = ServerConfig::new(&data_dir);
        config.listen = "127.0.0.1:0".into();
        config.database_url = Some(url);
        config.database_schema = Some(schema);
        config.master_key = Some(zhengzhao_http::config::MasterKeySource::File(
            self.data_dir.join("master-key"),
        ));
        let postgres = self.postgres.clone();
        let clock = std::sync::Arc::new(zhengzhao_core::clock::AdjustableClock::new());
        let app = Application::build_with_clock(config, clock.clone())
            .await
            .unwrap();
        assert!(app.admin_token_path.is_none(), "joined an existing library");
        let base = format!("http://{}", app.addr());
        let library = app.library().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Self {
            base,
            admin_token: self.admin_token.clone(),
            client: Client::new(),
            library,
            data_dir,
            backend: self.backend,
            postgres,
            clock,
            _stop: stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A token for `org` and `role`, made the way the CLI makes one; for
    /// `relying_party`, the credential of an approved usage-list scenario
    /// (the one way such a credential is made).
    pub async fn token(&self, org: &str, role: Role) -> String {
        if role == Role::RelyingParty {
            let grants = serde_json::json!([{"type_code": BUSINESS_LICENSE, "fields": ["name", "credit_code"]}]);
            return self.scenario_credential("usage_list", grants, 1000).await.1;
        }
        let (_, secret) = self
            .library
            .create_token(&Actor::cli(), &OrgCode::parse(org).unwrap(), role, "test")
            .await
            .unwrap();
        secret
    }

    /// A scenario application of `kind` with `grants`, valid from yesterday
    /// for 300 days (by the server's clock).
    pub fn scenario_application(&self, kind: &str, grants: Value, volume: u32) -> Value {
        let party_kind = if kind == "social" {
            "social"
        } else {
            "government"
        };
        self.scenario_application_by(party_kind, kind, grants, volume)
    }

    /// As `scenario_application`, by a relying party of `party_kind`
    /// (`government`, `social` or `platform`).
    pub fn scenario_application_by(
        &self,
        party_kind: &str,
        kind: &str,
        grants: Value,
        volume: u32,
    ) -> Value {
        let today = self.library.today();
        serde_json::json!({
            "relying_party": {"name": "某银行股份有限公司呼和浩特分行", "credit_code": "91150102MA0N4JXK2C", "kind": party_kind},
            "kind": kind, "name": "对公开户", "purpose": "对公账户开户时核验营业执照",
            "legal_basis": "《优化营商环境条例》第十九条",
            "grants": grants, "expected_daily_volume": volume,
            "valid_from": today.yesterday().unwrap().to_string(),
            "valid_until": today.checked_add(jiff::Span::new().days(300)).unwrap().to_string(),
            "contact": {"name": "李四", "phone": "0471-1234567"}
        })
    }

    /// Apply (through the portal), approve (the region's scenario approver)
    /// and mint a credential: the scenario's id and the credential.
    pub async fn scenario_credential(
        &self,
        kind: &str,
        grants: Value,
        volume: u32,
    ) -> (String, String) {
        let application = self.scenario_application(kind, grants, volume);
        self.approved_credential(&application).await
    }

    /// Apply with `application`, approve, and mint a credential.
    pub async fn approved_credential(&self, application: &Value) -> (String, String) {
        let (_, approver) = self
            .library
            .create_token(
                &Actor::cli(),
                &OrgCode::parse("150000").unwrap(),
                Role::ScenarioApprover,
                "test",
            )
            .await
            .unwrap();
        let r = self
            .send_json(
                reqwest::Method::POST,
                "/api/v1/scenarios",
                None,
                application,
            )
            .await;
        assert_eq!(
            r.status(),
            reqwest::StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        let id = r.json::<Value>().await.unwrap()["scenario_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = self
            .send_json(
                reqwest::Method::POST,
                &format!("/api/v1/scenarios/{id}/decision"),
                Some(&approver),
                &serde_json::json!({"decision": "approve", "reason": "材料齐全"}),
            )
            .await;
        assert_eq!(
            r.status(),
            reqwest::StatusCode::OK,
            "{}",
            r.text().await.unwrap()
        );
        let r = self
            .send_json(
                reqwest::Method::POST,
                &format!("/api/v1/scenarios/{id}/credentials"),
                Some(&approver),
                &serde_json::json!({}),
            )
            .await;
        assert_eq!(
            r.status(),
            reqwest::StatusCode::CREATED,
            "{}",
            r.text().await.unwrap()
        );
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, token)
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

    /// Issue a license as `token`, expecting success; the answer's body.
    pub async fn issue(&self, token: &str, body: &Value) -> Value {
        let resp = self
            .send_json(reqwest::Method::POST, "/api/v1/licenses", Some(token), body)
            .await;
        assert!(
            resp.status().is_success(),
            "issuing failed: {}",
            resp.status()
        );
        resp.json().await.unwrap()
    }

    /// Update a business license issued from `license_request` to a new
    /// domicile, expecting 201; the new version's identifier. The rest of
    /// the face is its current one (read as the library reads it, so no
    /// read is audited).
    pub async fn update_domicile(&self, token: &str, license_id: &str, domicile: &str) -> String {
        let (license, _) = self.library.find_license(license_id).await.unwrap();
        let mut face = license.current().unwrap().face.clone();
        face["domicile"] = serde_json::json!(domicile);
        let update = serde_json::json!({"face": face, "valid_from": "2024-01-15", "valid_until": null, "reason": {"kind": "change", "text": "住所变更"}});
        let r = self
            .send_json(
                reqwest::Method::POST,
                &format!("/api/v1/licenses/{license_id}/versions"),
                Some(token),
                &update,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["license_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Run SQL straight against this test's database, as someone with
    /// database access (and no business going through the library) would.
    pub async fn raw_sql(&self, sql: &str) {
        match &self.postgres {
            None => {
                let c = rusqlite::Connection::open(self.data_dir.join("zhengzhao.db")).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                c.execute_batch(sql).unwrap();
            }
            Some((url, schema)) => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                    .await
                    .unwrap();
            }
        }
    }

    /// A single integer from plain SQL against this test's database (e.g. a
    /// `SELECT count(*)`), read as someone with database access would.
    pub async fn raw_count(&self, sql: &str) -> i64 {
        match &self.postgres {
            None => {
                let c = rusqlite::Connection::open(self.data_dir.join("zhengzhao.db")).unwrap();
                c.query_row(sql, [], |r| r.get(0)).unwrap()
            }
            Some((url, schema)) => {
                let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .batch_execute(&format!("SET search_path TO {schema}"))
                    .await
                    .unwrap();
                client.query_one(sql, &[]).await.unwrap().get(0)
            }
        }
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

/// Every role the authorization matrices send plain bearer requests for:
/// all but `channel`, whose requests must be signed and name a holder (its
/// refusals are tested with signed requests in `holders`).
pub fn matrix_roles() -> impl Iterator<Item = Role> {
    Role::ALL.into_iter().filter(|r| *r != Role::Channel)
}

pub const BUSINESS_LICENSE: &str = "11100000MB0143028R001";
const HOLDER: &str = "91150102MA0N4JXK2X";

/// The credit code of the holder of `license_request(record)`: one holder
/// per record, since a holder may have only one current 营业执照. Its
/// subject code (positions 9-17) is FNV-1a of `record` in GB 32100's symbols.
pub fn holder_code_for(record: &str) -> String {
    const SYMBOLS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in record.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let body: String = (0..9)
        .map(|i| char::from(SYMBOLS[((h >> (i * 7)) % 31) as usize]))
        .collect();
    zhengzhao_domain::codes::CreditCode::with_check_character(&format!("{}{body}", &HOLDER[..8]))
        .unwrap()
        .to_string()
}

/// The holder of `license_request("r1")`.
pub fn holder_code() -> String {
    holder_code_for("r1")
}

/// A valid 营业执照 issue request by org 150102 for `record`, for the
/// holder `holder_code_for(record)`.
pub fn license_request(record: &str) -> Value {
    license_request_held_by(record, &holder_code_for(record))
}

/// `license_request(record)` for the holder with credit code `uscc`.
pub fn license_request_held_by(record: &str, uscc: &str) -> Value {
    serde_json::json!({
        "type_code": BUSINESS_LICENSE,
        "issuer": "150102",
        "holder": {"name": "呼和浩特市青城科技有限公司", "id_type": "uscc", "id": uscc},
        "face": {
            "credit_code": uscc,
            "name": "呼和浩特市青城科技有限公司",
            "entity_type": "有限责任公司（自然人投资或控股）",
            "legal_representative": "张三",
            "business_scope": "软件开发；信息技术咨询服务。\r\n（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
            "registered_capital": "1000000",
            "established_date": "2024-01-15",
            "domicile": "内蒙古自治区呼和浩特市新城区某某路88号",
            "registration_authority": "150102",
            "registration_date": "2026-11-29"
        },
        "valid_from": "2024-01-15",
        "valid_until": null,
        "source": {"system": "qiye-dengji", "record_id": record}
    })
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

/// OpenSSL 3's own check of an SM2 signature, with exactly the command the
/// license issue names: `payload` (text), `signature_b64` (base64 of DER) and
/// the signer's `certificate_pem`, whose public key OpenSSL extracts itself.
pub fn openssl_verify(
    payload: &str,
    signature_b64: &str,
    certificate_pem: &str,
) -> std::process::Output {
    use base64::Engine;
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let (input, sig, cert, public) = (
        dir.path().join("payload"),
        dir.path().join("sig.der"),
        dir.path().join("cert.pem"),
        dir.path().join("PUB.pem"),
    );
    std::fs::write(&input, payload).unwrap();
    std::fs::write(
        &sig,
        base64::engine::general_purpose::STANDARD
            .decode(signature_b64)
            .unwrap(),
    )
    .unwrap();
    std::fs::write(&cert, certificate_pem).unwrap();
    let out = Command::new("openssl")
        .args(["x509", "-pubkey", "-noout", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&public, &out.stdout).unwrap();
    Command::new("openssl")
        .args([
            "pkeyutl",
            "-verify",
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
            "-pubin",
            "-inkey",
        ])
        .arg(&public)
        .arg("-in")
        .arg(&input)
        .arg("-sigfile")
        .arg(&sig)
        .output()
        .unwrap()
}
