//! QR presentation (亮证): a short-lived, signed token for one license that
//! shows exactly the face fields chosen when it was made. Scanning it (the
//! verify page or the API) is on the audit record; an expired, used or
//! forged token gets a clear answer and never data.
//!
//! A token is `base64url(claims).base64url(HMAC-SM3(claims))`, keyed with a
//! key derived from the master key, so only this library makes them. Claims:
//! license identifier, fields, expiry, a token id, and whether it is single
//! use (the default: its id is recorded on first scan, and a second scan is
//! refused). The token is a capability: the access log redacts it
//! (`loggable_path` in the HTTP crate), and audit events name only its id.

use super::{Actor, Library};
use crate::Principal;
use crate::policy::{self, Action};
use crate::verify::VerifyResult;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use zhengzhao_store::{ChangeLog, StoreError};

pub const DEFAULT_TTL_SECS: u64 = 300;
pub const MAX_TTL_SECS: u64 = 86_400;
const MAX_TOKEN_LEN: usize = 2048;
const PURPOSE: &[u8] = b"zhengzhao presentation v1";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentationRequest {
    /// Face field names to show; nothing else of the face is shown.
    pub fields: Vec<String>,
    /// Lifetime in seconds (default 300, at most 86,400).
    pub ttl_secs: Option<u64>,
    /// Refuse a second scan (default true). `false` makes a code anyone
    /// who sees it may scan again until it expires.
    pub single_use: Option<bool>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Presentation {
    pub token: String,
    /// The verify page for this token: what the QR code holds.
    pub url: String,
    pub qr_png: String,
    pub qr_svg: String,
    #[schema(value_type = String)]
    pub expires_at: jiff::Timestamp,
    pub single_use: bool,
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Claims {
    lid: String,
    f: Vec<String>,
    exp: i64,
    jti: uuid::Uuid,
    su: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShownField {
    pub name: String,
    pub label: String,
    #[schema(value_type = Object)]
    pub value: Value,
}

/// What a scan shows: the public check, and the chosen fields.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PresentedLicense {
    pub license: VerifyResult,
    pub fields: Vec<ShownField>,
    #[schema(value_type = String)]
    pub expires_at: jiff::Timestamp,
}

fn forged() -> Error {
    Error::field(
        "token",
        "not_genuine",
        "this presentation code was not made by this library, or was altered",
        "此亮证码不是本库生成的，或已被篡改",
    )
}

impl Library {
    pub fn presentation_url(&self, token: &str) -> String {
        self.urls.presentation_page(token)
    }

    /// Make a presentation token: the holder itself (signed in, or through
    /// a channel acting for it), or the issuing org's clerks acting for the
    /// holder at the counter.
    pub async fn create_presentation(
        &self,
        caller: &Principal,
        raw_id: &str,
        req: PresentationRequest,
    ) -> Result<Presentation> {
        let holder = match caller.holder {
            Some(_) => Some(policy::require_holder(caller)?),
            None => {
                policy::require(caller, Action::CreatePresentation)?;
                None
            }
        };
        let (l, asked) = self.find_license(raw_id).await?;
        let v = l
            .versions
            .iter()
            .find(|v| v.license_id == asked)
            .ok_or_else(|| Error::NotFound(format!("license {asked}")))?;
        match holder {
            // Another holder's license is as unknown as a missing one.
            Some(h) if v.holder.id != h.key => {
                return Err(Error::NotFound(format!("license {asked}")));
            }
            Some(_) => {}
            None if caller.org != l.issuer => {
                return Err(Error::Forbidden(format!(
                    "presentations of org {}'s licenses are made by its own clerks",
                    l.issuer
                )));
            }
            None => {}
        }
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?
            .ok_or_else(|| Error::Internal("license type vanished".into()))?;
        let known: Vec<&str> = t
            .spec
            .draft()
            .face_fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        let mut fields = req.fields.clone();
        fields.dedup();
        if let Some(bad) = fields.iter().find(|f| !known.contains(&f.as_str())) {
            return Err(Error::field(
                "fields",
                "unknown_field",
                format!("'{bad}' is not a face field of this license type"),
                format!("“{bad}”不是此类证照的照面字段"),
            ));
        }
        let ttl = req.ttl_secs.unwrap_or(DEFAULT_TTL_SECS);
        if !(1..=MAX_TTL_SECS).contains(&ttl) {
            return Err(Error::field(
                "ttl_secs",
                "range",
                "ttl_secs must be 1 to 86400",
                "有效时长应为1至86400秒",
            ));
        }
        let at = self.now();
        let expires_at = at
            .checked_add(jiff::SignedDuration::from_secs(
                i64::try_from(ttl).unwrap_or(300),
            ))
            .map_err(|e| Error::Internal(e.to_string()))?;
        let claims = Claims {
            lid: asked.to_string(),
            f: fields.clone(),
            exp: expires_at.as_second(),
            jti: uuid::Uuid::now_v7(),
            su: req.single_use.unwrap_or(true),
        };
        let token = self.seal_capability(PURPOSE, &claims)?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::field(
                "fields",
                "too_many",
                "too many fields",
                "字段过多",
            ));
        }
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "presentation.create",
            format!("license:{asked}"),
            json!({"presentation": claims.jti, "fields": fields, "expires_at": expires_at, "single_use": claims.su}),
        ));
        self.store.record_event(&log).await?;
        Ok(Presentation {
            url: self.presentation_url(&token),
            qr_png: self.urls.presentation_qr_png(&token),
            qr_svg: self.urls.presentation_qr_svg(&token),
            token,
            expires_at,
            single_use: claims.su,
            fields,
        })
    }

    fn read_token(&self, token: &str) -> Result<Claims> {
        self.open_capability(PURPOSE, token, MAX_TOKEN_LEN)?
            .ok_or_else(forged)
    }

    /// The URL a token's QR code holds, if the token is genuine (expiry is
    /// not checked: the picture shows nothing by itself).
    pub fn presentation_qr_target(&self, token: &str) -> Result<String> {
        self.read_token(token)?;
        Ok(self.presentation_url(token))
    }

    /// A scan: check the token, record the scan, show the chosen fields.
    pub async fn scan_presentation(
        &self,
        token: &str,
        client_addr: Option<String>,
    ) -> Result<PresentedLicense> {
        self.count_checks(crate::check_counts::CheckWay::Presentation, 1);
        let claims = self.read_token(token)?;
        let at = self.now();
        if at.as_second() >= claims.exp {
            return Err(Error::Gone(
                "this presentation code has expired; ask the holder for a new one".into(),
            ));
        }
        let (l, asked) = self.find_license(&claims.lid).await?;
        let license = self.public_result(&l, &asked).await?;
        let v = l
            .versions
            .iter()
            .find(|v| v.license_id == asked)
            .ok_or_else(|| Error::NotFound(format!("license {asked}")))?;
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        let reader = crate::disclosure::Reader::Presented { fields: &claims.f };
        let shown = crate::disclosure::disclose(reader, &l.type_code, t.as_deref(), v)?.face;
        let fields = claims
            .f
            .iter()
            .map(|name| ShownField {
                name: name.clone(),
                label: t
                    .as_ref()
                    .and_then(|t| t.spec.draft().face_fields.iter().find(|f| &f.name == name))
                    .map(|f| f.label.clone())
                    .unwrap_or_default(),
                value: shown.get(name).cloned().unwrap_or(Value::Null),
            })
            .collect();
        let actor = Actor {
            id: crate::ActorId::Anonymous,
            org: None,
            role: None,
            client_addr,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &actor,
            "presentation.scan",
            format!("license:{asked}"),
            json!({"presentation": claims.jti, "fields": claims.f}),
        ));
        if claims.su {
            match self.store.use_presentation(claims.jti, at, &log).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    return Err(Error::Gone(
                        "this presentation code was for one scan only and has been used".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            self.store.record_event(&log).await?;
        }
        Ok(PresentedLicense {
            license,
            fields,
            expires_at: jiff::Timestamp::from_second(claims.exp)
                .map_err(|e| Error::Internal(e.to_string()))?,
        })
    }
}
