//! `/certificates`: the issuers' certificates, the root they chain to, its
//! revocation list and the signed status lists, for people who check
//! licenses offline (a bank's integrators, an auditor). The same data as
//! `GET /api/v1/certificates`, and links to the machine-readable files.

use crate::error::ApiResult;
use crate::http::pages::render;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use zhengzhao_core::certificates::IssuerCertificate;
use zhengzhao_domain::org::OrgCode;

pub struct CertRow {
    pub key_id: String,
    pub org: String,
    pub valid: String,
    pub state: &'static str,
    pub pem: String,
}

#[derive(Template)]
#[template(path = "certificates.html")]
pub struct CertificatesPage {
    pub roots: Vec<CertRow>,
    pub issuers: Vec<CertRow>,
}

fn day(t: jiff::Timestamp) -> String {
    t.to_zoned(zhengzhao_core::china_tz())
        .strftime("%Y-%m-%d")
        .to_string()
}

async fn row(s: &AppState, c: &IssuerCertificate) -> ApiResult<CertRow> {
    let org = match c.org.as_deref().map(OrgCode::parse) {
        Some(Ok(code)) => match s.library.cached_org(&code).await? {
            Some(o) => format!("{}（{code}）", o.name),
            None => code.to_string(),
        },
        Some(Err(_)) => c.org.clone().unwrap_or_default(),
        None => "电子证照库根证书".into(),
    };
    Ok(CertRow {
        key_id: c.key_id.to_string(),
        org,
        valid: format!("{} 至 {}", day(c.not_before), day(c.not_after)),
        state: if c.retired_at.is_some() {
            "已停用（仍可核验其签发的证照）"
        } else {
            "在用"
        },
        pem: c.certificate.clone(),
    })
}

/// `GET /certificates`
pub async fn page(State(s): State<AppState>) -> ApiResult<Response> {
    let set = s.library.certificate_set().await?;
    let mut roots = Vec::new();
    for c in &set.roots {
        roots.push(row(&s, c).await?);
    }
    let mut issuers = Vec::new();
    for c in &set.issuers {
        issuers.push(row(&s, c).await?);
    }
    render(&CertificatesPage { roots, issuers })
}
