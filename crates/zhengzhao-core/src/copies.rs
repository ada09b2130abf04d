//! Annotated copies (加注件): the only file a relying party receives of a
//! license. A new PDF of the license with only the granted (and, for a
//! social scenario, consented) face fields, the annotation tiled across
//! every page and printed under its title — "此件由{relying party}申请",
//! "仅供{use_cause}使用", "有效期至{date}" — and its own signed document
//! (SM2, the region's key) naming the copy, the relying party, the
//! scenario, the purpose and the expiry, which the document check
//! recognises (`kind: copy`).
//!
//! The answer to a request is a one-time download link that expires in ten
//! minutes; the PDF is made at download, so a consent withdrawn or a
//! scenario suspended before then stops it.

use crate::disclosure::{Reader, disclose};
use crate::document_check::{DocumentCheck, DocumentProblem};
use crate::holders::holder_target;
use crate::policy::{self, Action};
use crate::{Error, Library, Principal, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};
use zhengzhao_store::ChangeLog;

/// The key of a copy's embedded signed document in its PDF.
pub const PDF_COPY_KEY: &str = "zhengzhao_annotated_copy";
/// How long a download link lasts.
pub const LINK_TTL_SECS: i64 = 600;
/// The longest a copy may be valid.
pub const MAX_COPY_DAYS: i64 = 90;
const PURPOSE: &[u8] = b"zhengzhao copy v1";
const MAX_TOKEN_LEN: usize = 4096;

/// `POST /api/v1/shared/licenses/{license_id}/copies`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRequest {
    pub use_cause: String,
    /// The last day the copy is valid (at most 90 days ahead).
    #[schema(value_type = String)]
    pub valid_until: jiff::civil::Date,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CopyLink {
    pub copy_id: uuid::Uuid,
    /// One download, within ten minutes.
    pub url: String,
    #[schema(value_type = String)]
    pub link_expires_at: jiff::Timestamp,
    #[schema(value_type = String)]
    pub valid_until: jiff::civil::Date,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    cid: uuid::Uuid,
    lid: String,
    sid: uuid::Uuid,
    c: String,
    vu: jiff::civil::Date,
    exp: i64,
}

/// What the document check tells of a copy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CopyInfo {
    pub copy_id: Value,
    pub license_id: Value,
    pub relying_party: Value,
    pub scenario_id: Value,
    pub use_cause: Value,
    pub valid_until: Value,
    /// Past `valid_until`: the copy no longer serves its purpose.
    pub expired: bool,
}

fn forged() -> Error {
    Error::Gone("this copy link is not genuine, has expired or was used / 加注件下载链接无效、已过期或已使用".into())
}

impl Library {
    /// The fields a scenario's copy of `license_id` shows, checked as a
    /// read is: the grant, and for a social scenario a live consent.
    async fn copy_fields(
        &self,
        scenario: &crate::scenarios::ActiveScenario,
        license: &zhengzhao_store::LicenseRecord,
    ) -> Result<Vec<String>> {
        let fields =
            crate::disclosure::granted_fields(&scenario.spec.grants, &license.type_code, None)?;
        if scenario.spec.kind.needs_consent() {
            let holder = license
                .current()
                .map(|v| v.holder.id.clone())
                .unwrap_or_default();
            if self
                .live_consent(&holder, scenario.id, &license.type_code, &fields)
                .await?
                .is_none()
            {
                return Err(Error::ConsentRequired(
                    "a copy for a social scenario needs the holder's live consent to every granted field / 社会化场景申请加注件须经持证主体授权".into(),
                ));
            }
        }
        Ok(fields)
    }

    /// Ask for an annotated copy of a license: a one-time download link.
    pub async fn request_copy(
        &self,
        caller: &Principal,
        raw_id: &str,
        req: &CopyRequest,
    ) -> Result<CopyLink> {
        policy::require(caller, Action::SharedRead)?;
        let scenario = caller
            .scenario
            .clone()
            .ok_or_else(|| Error::ScenarioInactive("this credential names no scenario".into()))?;
        let cause = crate::shared::use_cause_ok(&req.use_cause)?;
        let cause = cause.as_str();
        let today = self.today();
        let last = today
            .checked_add(jiff::Span::new().days(MAX_COPY_DAYS))
            .map_err(|e| Error::Internal(e.to_string()))?;
        if req.valid_until < today || req.valid_until > last {
            return Err(Error::field(
                "valid_until",
                "range",
                "valid_until must be from today to 90 days ahead",
                "加注件有效期应为今日起90日内",
            ));
        }
        let (license, _) = self.find_license(raw_id).await?;
        if license.revocation.is_some() {
            return Err(Error::Conflict(
                "the license is revoked / 证照已注销".into(),
            ));
        }
        let fields = self.copy_fields(&scenario, &license).await?;
        let current = license
            .current()
            .ok_or_else(|| Error::Internal("license without a version".into()))?;
        let holder_key = current.holder.id.clone();
        let cid = uuid::Uuid::now_v7();
        let link_expires_at = self
            .now()
            .checked_add(jiff::SignedDuration::from_secs(LINK_TTL_SECS))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let claims = Claims {
            cid,
            lid: current.license_id.to_string(),
            sid: scenario.id,
            c: cause.to_owned(),
            vu: req.valid_until,
            exp: link_expires_at.as_second(),
        };
        let token = self.seal_capability(PURPOSE, &claims)?;
        self.record_read(
            caller,
            "license.copy_request",
            holder_target(&holder_key),
            json!({"copy": cid, "scenario": scenario.id, "license": claims.lid, "use_cause": cause,
                   "valid_until": req.valid_until, "fields": fields,
                   "relying_party_name": scenario.spec.relying_party.name}),
        )
        .await?;
        Ok(CopyLink {
            copy_id: cid,
            url: format!("{}/api/v1/shared/copies/{token}", self.urls().base()),
            link_expires_at,
            valid_until: req.valid_until,
        })
    }

    /// Download a copy once: the annotated PDF, made now.
    pub async fn download_copy(&self, token: &str) -> Result<Vec<u8>> {
        let claims: Claims = self
            .open_capability(PURPOSE, token, MAX_TOKEN_LEN)?
            .ok_or_else(forged)?;
        if self.now().as_second() >= claims.exp {
            return Err(forged());
        }
        // Checked again now: a suspension or a withdrawn consent stops a
        // link not yet used.
        let scenario = self.active_scenario(claims.sid).await?;
        let (license, _) = self.find_license(&claims.lid).await?;
        let fields = self.copy_fields(&scenario, &license).await?;
        let license = self.open_license(license).await?;
        let v = license
            .versions
            .iter()
            .find(|v| v.license_id.to_string() == claims.lid)
            .ok_or_else(|| Error::NotFound(format!("license {}", claims.lid)))?;
        let t = self
            .cached_license_type(&license.type_code, Some(v.type_version))
            .await?
            .ok_or_else(|| Error::Internal("license type vanished".into()))?;
        let reader = Reader::RelyingParty {
            grants: &scenario.spec.grants,
            asked: Some(&fields),
        };
        let shown = disclose(reader, &license.type_code, Some(&t), v)?.face;
        let rp = &scenario.spec.relying_party;
        let statement = json!({
            "type": "zhengzhao.copy/1",
            "copy_id": claims.cid,
            "license_id": claims.lid,
            "relying_party": {"name": rp.name, "credit_code": rp.credit_code.to_string()},
            "scenario_id": scenario.id,
            "use_cause": claims.c,
            "valid_until": claims.vu,
            "fields": shown,
            "issued_at": self.now(),
        });
        let payload = zhengzhao_crypto::canonical_json_value(&statement)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (signature, certificate) = self.sign_as_region(payload.as_bytes()).await?;
        let (y, m, d) = (claims.vu.year(), claims.vu.month(), claims.vu.day());
        let annotation = vec![
            format!("此件由{}申请", rp.name),
            format!("仅供{}使用", claims.c),
            format!("有效期至{y}年{m:02}月{d:02}日"),
        ];
        // The printable view of the version, with only the shown fields.
        let view = self
            .license_view_for_copy(&license, &v.license_id, &scenario.spec.grants)
            .await?;
        let mut print = self.print_view(&view).await?;
        let labels: Vec<String> = t
            .spec
            .draft()
            .face_fields
            .iter()
            .filter(|f| shown.contains_key(&f.name))
            .map(|f| f.label.clone())
            .collect();
        print.fields.retain(|(label, _)| labels.contains(label));
        print.notices = annotation.clone();
        print.watermark = annotation;
        print.attachment = Some(
            json!({ PDF_COPY_KEY: {"payload": payload, "signature": signature, "certificate": certificate} })
                .to_string(),
        );
        // One download: the copy's id is used up (as a presentation's is).
        let log = ChangeLog::audit_only(self.audit_event(
            &crate::Actor::system(),
            "license.copy_download",
            holder_target(&v.holder.id),
            json!({"copy": claims.cid, "scenario": scenario.id, "license": claims.lid, "fields": fields}),
        ));
        self.store
            .use_presentation(claims.cid, self.now(), &log)
            .await
            .map_err(|e| match e {
                zhengzhao_store::StoreError::Conflict(_) => forged(),
                other => other.into(),
            })?;
        let renderer = self.renderer();
        tokio::task::spawn_blocking(move || {
            renderer
                .render(&print)
                .map_err(|e| Error::Internal(e.to_string()))
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// The document check of a posted PDF that holds a copy's signed
    /// document: genuine (signed by the region's key of this library) or
    /// not, and expired or not.
    pub(crate) async fn check_copy(&self, pdf: &[u8]) -> Result<Option<DocumentCheck>> {
        let marker = format!("{{\"{PDF_COPY_KEY}\":");
        let Some(start) = pdf
            .windows(marker.len())
            .position(|w| w == marker.as_bytes())
        else {
            return Ok(None);
        };
        let doc = serde_json::Deserializer::from_slice(&pdf[start..])
            .into_iter::<Value>()
            .next()
            .and_then(Result::ok)
            .and_then(|mut v| v.get_mut(PDF_COPY_KEY).map(Value::take))
            .unwrap_or(Value::Null);
        let payload = doc["payload"].as_str().unwrap_or_default().to_owned();
        let signature = doc["signature"]
            .as_str()
            .and_then(|s| B64.decode(s).ok())
            .unwrap_or_default();
        let region = OrgCode::parse(REGION_CODE).map_err(|e| Error::Internal(e.to_string()))?;
        let genuine = self
            .key_of_org_that_verifies(&region, |pk| {
                pk.verify(payload.as_bytes(), &signature).is_ok()
            })
            .await?
            .is_some();
        let statement: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
        let expired = statement["valid_until"]
            .as_str()
            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
            .is_none_or(|d| self.today() > d);
        let copy = CopyInfo {
            copy_id: statement["copy_id"].clone(),
            license_id: statement["license_id"].clone(),
            relying_party: statement["relying_party"].clone(),
            scenario_id: statement["scenario_id"].clone(),
            use_cause: statement["use_cause"].clone(),
            valid_until: statement["valid_until"].clone(),
            expired,
        };
        let mut problems = Vec::new();
        if !genuine {
            problems.push(DocumentProblem {
                part: "signature".into(),
                message: "the copy's signed document does not verify under this library's keys"
                    .into(),
                message_zh: "加注件签名文件未通过本库密钥验证".into(),
            });
        } else if expired {
            problems.push(DocumentProblem {
                part: "copy".into(),
                message: "the annotated copy is past its valid_until".into(),
                message_zh: "加注件已过有效期".into(),
            });
        }
        Ok(Some(DocumentCheck {
            verdict: match (genuine, expired) {
                (false, _) => "altered",
                (true, true) => "genuine_copy_expired",
                (true, false) => "genuine_copy",
            },
            valid: genuine && !expired,
            signature_valid: genuine,
            issued_by_this_library: genuine,
            schema: statement["type"].as_str().map(str::to_owned),
            status_signed: false,
            license_id: statement["license_id"].as_str().map(str::to_owned),
            version: None,
            library_record: "not_compared",
            status: None,
            pdf_signature_valid: None,
            problems,
            kind: Some("copy"),
            copy: genuine.then_some(copy),
        }))
    }
}
