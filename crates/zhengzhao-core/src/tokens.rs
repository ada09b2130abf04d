//! API token use cases. Tokens are made at the command line by whoever can
//! open the library's data (and so already owns it); the secret is shown
//! once and stored only as its SM3 hash.

use super::{Actor, Library};
use crate::secrets::{generate_token, token_hash};
use crate::{Error, Result};
use serde_json::json;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_store::{ChangeLog, NewToken, TokenRecord};

impl Library {
    /// Make a token for `org` and `role`; returns its record and the secret.
    pub async fn create_token(
        &self,
        actor: &Actor,
        org: &OrgCode,
        role: Role,
        label: &str,
    ) -> Result<(TokenRecord, String)> {
        let (record, secret, _) = self
            .create_token_with(actor, org, role, label, false)
            .await?;
        Ok((record, secret))
    }

    /// As [`Self::create_token`]; with `signed`, the token also gets an HMAC
    /// key (returned third, shown once, stored wrapped under the master key)
    /// and every request made with it must then be signed.
    pub async fn create_token_with(
        &self,
        actor: &Actor,
        org: &OrgCode,
        role: Role,
        label: &str,
        signed: bool,
    ) -> Result<(TokenRecord, String, Option<String>)> {
        if role == Role::Channel && !signed {
            return Err(Error::field(
                "signed",
                "channel_signed",
                "a channel token must be --signed: the holder it names is covered by the signature",
                "服务渠道令牌必须使用 --signed 创建：所代表的持证主体须受签名保护",
            ));
        }
        if role == Role::RelyingParty {
            return Err(Error::field(
                "role",
                "scenario_only",
                "a relying_party credential is minted for an approved scenario: POST /api/v1/scenarios/{id}/credentials",
                "用证方凭证须为已批准的场景签发：POST /api/v1/scenarios/{id}/credentials",
            ));
        }
        self.mint_token(actor, org, role, label, signed, None).await
    }

    /// Make a token (for a relying party, bound to `scenario`); returns its
    /// record, the secret and the signing key, each shown once.
    pub(crate) async fn mint_token(
        &self,
        actor: &Actor,
        org: &OrgCode,
        role: Role,
        label: &str,
        signed: bool,
        scenario: Option<uuid::Uuid>,
    ) -> Result<(TokenRecord, String, Option<String>)> {
        if self.store.org(org).await?.is_none() {
            return Err(Error::NotFound(format!("org {org}")));
        }
        let label = label.trim();
        if label.chars().count() > 100 || label.chars().any(char::is_control) {
            return Err(Error::field(
                "label",
                "text",
                "label must be at most 100 characters",
                "标签不能超过100个字符",
            ));
        }
        let secret = generate_token()?;
        let id = uuid::Uuid::now_v7();
        let signing = if signed {
            let key = crate::signed_request::generate_signing_secret()?;
            let wrapped = self
                .master_key()?
                .encrypt(&crate::signed_request::wrap_aad(id), key.as_bytes())
                .map_err(|e| Error::Internal(e.to_string()))?;
            Some((key, wrapped))
        } else {
            None
        };
        let token = NewToken {
            id,
            hash: token_hash(&secret),
            org: org.clone(),
            role,
            label: label.to_owned(),
            created_at: self.now(),
            signing_secret: signing.as_ref().map(|(_, w)| w.clone()),
            scenario_id: scenario,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "token.create",
            format!("token:{}", token.id),
            json!({"org": org, "role": role, "label": label, "signed_requests": signed, "scenario": scenario}),
        ));
        self.store.create_token(&token, &log).await?;
        let record = TokenRecord {
            id: token.id,
            org: token.org,
            role,
            label: token.label,
            created_at: token.created_at,
            revoked_at: None,
            signing_secret: token.signing_secret,
            scenario_id: token.scenario_id,
        };
        Ok((record, secret, signing.map(|(k, _)| k)))
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRecord>> {
        Ok(self.store.tokens().await?)
    }

    pub async fn revoke_token(&self, actor: &Actor, id: uuid::Uuid) -> Result<TokenRecord> {
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "token.revoke",
            format!("token:{id}"),
            json!({}),
        ));
        Ok(self.store.revoke_token(id, log.audit.at, &log).await?)
    }
}

/// The parts of a request a token that must sign has to cover.
#[derive(Debug, Clone, Copy)]
pub struct RequestToVerify<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub signature: crate::signed_request::SignatureHeaders<'a>,
    /// The SM3 of the body, when the request carried a signature.
    pub body_digest: Option<&'a crate::signed_request::BodyDigest>,
}

impl Library {
    /// The principal behind a bearer token: unknown or malformed tokens are
    /// `Unauthenticated`; a token made with `--signed` must also have signed
    /// `request`, with a nonce it never used before (claimed here, only
    /// after the signature verified, so no one can burn a client's nonces).
    pub async fn token_principal(
        &self,
        token: &str,
        request: &RequestToVerify<'_>,
        client_addr: Option<String>,
    ) -> Result<crate::Principal> {
        if !crate::secrets::looks_like_token(token) {
            return Err(Error::Unauthenticated);
        }
        let record = self
            .store
            .token_by_hash(&token_hash(token))
            .await?
            .ok_or(Error::Unauthenticated)?;
        let on_behalf_of = request.signature.on_behalf_of;
        if record.role == Role::Channel && record.signing_secret.is_none() {
            return Err(Error::BadSignature(
                "a channel token must be made --signed and sign every request".into(),
            ));
        }
        if on_behalf_of.is_some() && record.role != Role::Channel {
            return Err(Error::Forbidden(
                "only a channel acts on behalf of a holder (X-ZZ-On-Behalf-Of)".into(),
            ));
        }
        if let Some(wrapped) = &record.signing_secret {
            let secret = self
                .master_key()?
                .decrypt(&crate::signed_request::wrap_aad(record.id), wrapped)
                .map_err(|e| Error::Internal(format!("signing key of token {}: {e}", record.id)))?;
            let secret = String::from_utf8(secret)
                .map_err(|_| Error::Internal(format!("signing key of token {}", record.id)))?;
            let now = self.now().as_second();
            let nonce = crate::signed_request::verify(
                &request.signature,
                request.method,
                request.path_and_query,
                request.body_digest,
                &secret,
                now,
            )?;
            self.nonces
                .claim(&self.store, record.id, nonce, now)
                .await?;
        }
        // A relying party's credential reads only while its scenario is in
        // force: checked on every request, so a suspension stops it at once.
        let scenario = match (record.role, record.scenario_id) {
            (Role::RelyingParty, Some(id)) => Some(self.active_scenario(id).await?),
            (Role::RelyingParty, None) => {
                return Err(Error::ScenarioInactive(
                    "this credential names no scenario".into(),
                ));
            }
            _ => None,
        };
        // Verified above as part of the signed text: the holder a channel names.
        let holder = match on_behalf_of {
            Some(raw) => Some(self.holder_ref(raw)?),
            None => None,
        };
        let actor = match &holder {
            Some(h) => crate::ActorId::Holder {
                via: crate::principal::HolderVia::Channel(record.id),
                holder: h.shown.clone(),
            },
            None => crate::ActorId::Token(record.id),
        };
        Ok(crate::Principal {
            actor,
            org: record.org,
            roles: vec![record.role],
            client_addr,
            session: None,
            scenario,
            holder,
        })
    }

    /// A holder named as `{id_type}:{id}` (`uscc:…` or `resident_id:…`).
    pub fn holder_ref(&self, raw: &str) -> Result<crate::principal::HolderRef> {
        use zhengzhao_domain::codes::{CreditCode, ResidentId};
        let bad = || {
            Error::Malformed(
                "X-ZZ-On-Behalf-Of must be uscc:<credit code> or resident_id:<resident id>".into(),
            )
        };
        let (id_type, id) = raw.trim().split_once(':').ok_or_else(bad)?;
        let id = id.trim().to_uppercase();
        match id_type {
            "uscc" => {
                let code = CreditCode::parse(&id).map_err(|_| bad())?.to_string();
                Ok(crate::principal::HolderRef {
                    id_type: "uscc",
                    key: code.clone(),
                    shown: code,
                })
            }
            "resident_id" => {
                ResidentId::parse(&id).map_err(|_| bad())?;
                Ok(crate::principal::HolderRef {
                    id_type: "resident_id",
                    key: self.holder_index(&id)?,
                    shown: crate::privacy::mask_text(&id),
                })
            }
            _ => Err(bad()),
        }
    }
}
