//! Taking an objection in: from the public form and API, or from a channel
//! (the regional platform, the 12345 hotline, the mobile app) with its
//! signed `channel` token and its own reference; and the applicant's
//! tracking with ticket and code.

use super::{APPLICANT_ROLES, CHANNELS, KINDS, ObjectionData, Step, TrackView, data_of, deadline};
use crate::library::Actor;
use crate::{Error, Library, Principal, Result};
use base64::Engine;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_store::{ChangeLog, ObjectionAttachment, ObjectionRecord};

/// Attachments one objection may carry.
pub const MAX_ATTACHMENTS: usize = 3;
/// Bytes one attachment may have.
pub const MAX_ATTACHMENT_BYTES: usize = 512 * 1024;
/// The file types taken, by their content: (media type, extensions).
const ALLOWED: [(&str, &[&str]); 3] = [
    ("application/pdf", &["pdf"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
];
/// Letters of tickets and tracking codes: no 0/O, 1/I/L to misread.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// `POST /api/v1/objections`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionRequest {
    /// The license's GB/T 36904 identifier (any version).
    pub license_id: String,
    /// `accuracy`, `completeness` or `timeliness`.
    pub kind: String,
    /// The face fields concerned (also `holder_name`, `valid_from`, `valid_until`).
    pub fields: Vec<String>,
    /// What is wrong, in the applicant's words (1–2000 characters).
    pub statement: String,
    pub applicant: ApplicantInput,
    #[serde(default)]
    pub attachments: Vec<AttachmentInput>,
    /// With a `channel` token: `platform`, `hotline_12345` or `mobile_app`.
    #[serde(default)]
    pub channel: Option<String>,
    /// With a `channel` token: the channel's own reference (a second
    /// submission with it is answered with the first).
    #[serde(default)]
    pub channel_reference: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicantInput {
    /// `holder`, `relying_party` or `other`.
    pub role: String,
    pub name: String,
    pub phone: String,
}

/// A file: PDF, PNG or JPEG, at most 512 KiB, checked by its content.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentInput {
    pub name: String,
    /// The file, base64 (standard alphabet).
    pub content_base64: String,
}

/// The answer to a submission.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Submitted {
    pub ticket: String,
    /// The applicant's key to follow the objection (`/objections/track`);
    /// shown once. `null` when a channel's reference was submitted again.
    pub tracking_code: Option<String>,
    pub state: String,
    pub route: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<Date>,
    pub provisional: bool,
}

/// `POST /api/v1/objections/track`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackRequest {
    pub ticket: String,
    pub tracking_code: String,
}

fn field(f: &str, code: &'static str, en: impl Into<String>, zh: impl Into<String>) -> FieldError {
    FieldError::new(f, code, en, zh)
}

fn random_code(len: usize) -> Result<String> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(e.to_string()))?;
    // 256 is not a multiple of 31: the slight bias costs < 0.1 bit a letter.
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

/// A license identifier as asked, or the 422 naming the field.
fn license_id_of(raw: &str) -> Result<LicenseId> {
    LicenseId::parse(raw.trim()).map_err(|e| {
        Error::Validation(vec![field(
            "license_id",
            "license_id",
            e.to_string(),
            "证照标识不符合GB/T 36904",
        )])
    })
}

fn tracking_hash(code: &str) -> Vec<u8> {
    crate::secrets::token_hash(&format!(
        "objection-tracking:{}",
        code.trim().to_uppercase()
    ))
}

/// Whether a license identifier names an issuer outside the region (its
/// issuer's credit code registered in another province).
fn issued_elsewhere(id: &LicenseId) -> bool {
    let division = id.issuer_code().get(2..4).unwrap_or("");
    division != zhengzhao_domain::org::REGION_CODE.get(..2).unwrap_or("15")
}

/// Check one attachment by its content; the name must agree with it.
fn check_attachment(
    i: usize,
    a: &AttachmentInput,
) -> std::result::Result<ObjectionAttachment, FieldError> {
    let at = format!("attachments/{i}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(a.content_base64.as_bytes())
        .map_err(|_| {
            field(
                &at,
                "base64",
                "content_base64 is not base64",
                "附件内容不是base64编码",
            )
        })?;
    if bytes.is_empty() || bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(field(
            &at,
            "size",
            format!("an attachment has 1 to {MAX_ATTACHMENT_BYTES} bytes"),
            format!("附件大小应为1至{MAX_ATTACHMENT_BYTES}字节"),
        ));
    }
    let sniffed = infer::get(&bytes).map(|t| t.mime_type());
    let Some((media_type, extensions)) = ALLOWED.iter().find(|(m, _)| Some(*m) == sniffed) else {
        return Err(field(
            &at,
            "type",
            "an attachment is a PDF, PNG or JPEG file (checked by its content)",
            "附件应为PDF、PNG或JPEG文件（按内容识别）",
        ));
    };
    let ext = a.name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    if !crate::licenses::text_ok(&a.name, 100)
        || !ext.is_some_and(|e| extensions.contains(&e.as_str()))
    {
        return Err(field(
            &at,
            "name",
            format!("the file's name must end as its content is ({media_type})"),
            format!("文件名的扩展名应与文件内容（{media_type}）一致"),
        ));
    }
    Ok(ObjectionAttachment {
        n: i32::try_from(i).unwrap_or(i32::MAX),
        name: a.name.trim().to_owned(),
        media_type: (*media_type).to_owned(),
        sm3: hex::encode(zhengzhao_crypto::sm3(&bytes)),
        bytes,
    })
}

impl Library {
    /// Take an objection in. `caller` is `None` for the public form and
    /// API, or a `channel` token's principal. Returns what the applicant is
    /// told, and whether it is new (`false`: the channel's reference was
    /// submitted before, and that objection is answered).
    pub async fn submit_objection(
        &self,
        caller: Option<&Principal>,
        client_addr: Option<String>,
        req: ObjectionRequest,
    ) -> Result<(Submitted, bool)> {
        let channel = match caller {
            None => {
                if req.channel.is_some() || req.channel_reference.is_some() {
                    return Err(Error::Validation(vec![field(
                        "channel",
                        "channel_only",
                        "channel and channel_reference come with a channel's token",
                        "channel与channel_reference仅用于渠道凭证提交",
                    )]));
                }
                None
            }
            Some(c) => {
                crate::policy::require(c, crate::policy::Action::SubmitObjectionForChannel)?;
                let (Some(name), Some(reference)) = (&req.channel, &req.channel_reference) else {
                    return Err(Error::Validation(vec![field(
                        "channel_reference",
                        "required",
                        "a channel names itself (channel) and its reference (channel_reference)",
                        "渠道提交须填写channel与channel_reference",
                    )]));
                };
                if !CHANNELS.contains(&name.as_str()) || !crate::licenses::text_ok(reference, 100) {
                    return Err(Error::Validation(vec![field(
                        "channel",
                        "channel",
                        "channel is platform, hotline_12345 or mobile_app, with a reference of 1-100 characters",
                        "channel应为platform、hotline_12345或mobile_app，channel_reference为1至100个字符",
                    )]));
                }
                if let Some(o) = self
                    .store
                    .objection_by_reference(name, reference.trim())
                    .await?
                {
                    return Ok((self.submitted(&o, None).await?, false));
                }
                Some((name.clone(), reference.trim().to_owned(), c))
            }
        };
        let mut errors = Vec::new();
        if !KINDS.contains(&req.kind.as_str()) {
            errors.push(field(
                "kind",
                "kind",
                "kind is accuracy, completeness or timeliness",
                "kind应为accuracy、completeness或timeliness",
            ));
        }
        if !crate::licenses::text_ok(&req.statement, 2000) {
            errors.push(field(
                "statement",
                "text",
                "the statement has 1-2000 characters",
                "异议陈述应为1至2000个字符",
            ));
        }
        if !APPLICANT_ROLES.contains(&req.applicant.role.as_str()) {
            errors.push(field(
                "applicant/role",
                "role",
                "role is holder, relying_party or other",
                "申请人身份应为holder、relying_party或other",
            ));
        }
        if !crate::licenses::text_ok(&req.applicant.name, 100) {
            errors.push(field(
                "applicant/name",
                "text",
                "the name has 1-100 characters",
                "申请人姓名应为1至100个字符",
            ));
        }
        let phone = req.applicant.phone.trim();
        if phone.len() < 5
            || phone.len() > 20
            || !phone
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == '+')
        {
            errors.push(field(
                "applicant/phone",
                "phone",
                "a phone number of 5-20 digits",
                "联系电话应为5至20位数字",
            ));
        }
        let mut fields = req.fields.clone();
        fields.sort_unstable();
        fields.dedup();
        if fields.is_empty() || fields.len() > 30 || fields.len() != req.fields.len() {
            errors.push(field(
                "fields",
                "fields",
                "name 1-30 fields, each once",
                "应列出1至30个字段，不重复",
            ));
        }
        if req.attachments.len() > MAX_ATTACHMENTS {
            errors.push(field(
                "attachments",
                "count",
                format!("at most {MAX_ATTACHMENTS} attachments"),
                format!("附件至多{MAX_ATTACHMENTS}个"),
            ));
        }
        let mut attachments = Vec::new();
        for (i, a) in req.attachments.iter().enumerate().take(MAX_ATTACHMENTS) {
            match check_attachment(i, a) {
                Ok(a) => attachments.push(a),
                Err(e) => errors.push(e),
            }
        }
        let id = license_id_of(&req.license_id)?;
        // The license: ours, or (the national route) another province's.
        let (license, route, org) = match self.store.license_by_identifier(&id).await? {
            Some(l) => {
                let org = l.issuer.clone();
                (Some(l), "local", org)
            }
            None if issued_elsewhere(&id) => {
                (None, "national", zhengzhao_domain::org::OrgCode::region())
            }
            None => return Err(Error::NotFound(format!("license {id}"))),
        };
        if let Some(l) = &license {
            // A channel acting for a holder objects to that holder's licenses only.
            if let Some(h) = caller.and_then(|c| c.holder.as_ref())
                && l.current().is_none_or(|v| v.holder.id != h.key)
            {
                return Err(Error::NotFound(format!("license {id}")));
            }
            let (_, known) = self.objection_fields_of(l).await?;
            for (i, f) in req.fields.iter().enumerate() {
                if !known.iter().any(|(name, _)| name == f) {
                    errors.push(field(
                        &format!("fields/{i}"),
                        "unknown_field",
                        format!("the license has no field '{f}'"),
                        format!("该证照没有字段“{f}”"),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let now = self.now();
        let oid = uuid::Uuid::now_v7();
        let day = now.to_zoned(crate::china_tz()).date();
        let ticket = format!("YY{}-{}", day.strftime("%Y%m%d"), random_code(6)?);
        let code = random_code(16)?;
        let applicant = self
            .seal_json(
                format!("objection:{oid}:applicant").as_bytes(),
                &json!({"name": req.applicant.name.trim(), "phone": phone, "statement": req.statement.trim()}),
            )
            .await?;
        let (channel_name, reference, token) = match &channel {
            Some((name, reference, c)) => (
                name.clone(),
                Some(reference.clone()),
                match c.actor {
                    crate::ActorId::Token(t) => Some(t),
                    crate::ActorId::Holder {
                        via: crate::HolderVia::Channel(t),
                        ..
                    } => Some(t),
                    _ => None,
                },
            ),
            None => ("public".to_owned(), None, None),
        };
        let actor = caller
            .map(Actor::from)
            .unwrap_or_else(|| Actor::anonymous(client_addr));
        let data = ObjectionData {
            license_id: id.to_string(),
            route: route.into(),
            kind: req.kind.clone(),
            fields: req.fields.clone(),
            applicant_role: req.applicant.role.clone(),
            applicant,
            token,
            history: vec![Step {
                state: "submitted".into(),
                at: now,
                by: actor.id.to_string(),
            }],
            ..ObjectionData::default()
        };
        let record = ObjectionRecord {
            id: oid,
            ticket: ticket.clone(),
            tracking_hash: tracking_hash(&code),
            license_key: license.as_ref().map(|l| l.key),
            org,
            state: "submitted".into(),
            channel: channel_name.clone(),
            external_ref: reference.clone(),
            submitted_at: now,
            row_version: 1,
            flag_fields: None,
            data: serde_json::to_value(&data).map_err(|e| Error::Internal(e.to_string()))?,
        };
        let mut log = ChangeLog::audit_only(self.audit_event(
            &actor,
            "objection.submit",
            format!("objection:{ticket}"),
            json!({"license_id": id, "kind": req.kind, "fields": req.fields, "route": route,
                   "channel": channel_name, "channel_reference": reference,
                   "attachments": attachments.iter().map(|a| json!({"name": a.name, "sm3": a.sm3})).collect::<Vec<_>>()}),
        ));
        log.audit.at = now;
        if route == "national" {
            log.outbox.push(super::workflow::national_message(
                &record,
                &data,
                "objection.forwarded",
            ));
        }
        match self.store.add_objection(&record, &attachments, &log).await {
            Ok(()) => Ok((self.submitted(&record, Some(code)).await?, true)),
            // The same reference, submitted twice at once: the first won.
            Err(zhengzhao_store::StoreError::Conflict(_)) if reference.is_some() => {
                let o = self
                    .store
                    .objection_by_reference(&channel_name, reference.as_deref().unwrap_or_default())
                    .await?
                    .ok_or_else(|| Error::Conflict("ticket collision; submit again".into()))?;
                Ok((self.submitted(&o, None).await?, false))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn submitted(&self, o: &ObjectionRecord, code: Option<String>) -> Result<Submitted> {
        let d = data_of(o)?;
        let due = deadline(
            o,
            &d,
            self.objection_deadlines,
            &self.work_calendar().await?,
        );
        Ok(Submitted {
            ticket: o.ticket.clone(),
            tracking_code: code,
            state: o.state.clone(),
            route: d.route,
            due_on: due.map(|d| d.due_on),
            provisional: due.is_some_and(|d| d.provisional),
        })
    }

    /// What the public objection form shows for a license: its type's
    /// name and the (name, label) of each field an objection may concern.
    pub async fn objection_form(&self, raw_id: &str) -> Result<(String, Vec<(String, String)>)> {
        let id = license_id_of(raw_id)?;
        let l = self
            .store
            .license_by_identifier(&id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("license {id}")))?;
        self.objection_fields_of(&l).await
    }

    /// What an objection may concern on `l`: its type's name, and the
    /// (name, label) of its face fields, the holder's name and the validity.
    async fn objection_fields_of(
        &self,
        l: &zhengzhao_store::LicenseRecord,
    ) -> Result<(String, Vec<(String, String)>)> {
        let version = l.current().map(|v| v.type_version);
        let mut name = String::new();
        let mut fields: Vec<(String, String)> = Vec::new();
        if let Some(t) = self.cached_license_type(&l.type_code, version).await? {
            name = t.spec.draft().name.clone();
            fields.extend(
                t.spec
                    .draft()
                    .face_fields
                    .iter()
                    .map(|f| (f.name.clone(), f.label.clone())),
            );
        }
        fields.extend([
            ("holder_name".to_owned(), "持证主体名称".to_owned()),
            ("valid_from".to_owned(), "有效期起始日期".to_owned()),
            ("valid_until".to_owned(), "有效期截止日期".to_owned()),
        ]);
        Ok((name, fields))
    }

    /// The applicant follows its objection. A wrong ticket and a wrong code
    /// get the same answer, so neither can be probed for.
    pub async fn track_objection(&self, req: &TrackRequest) -> Result<TrackView> {
        let not_found = || {
            Error::NotFound(
                "no objection with this ticket and tracking code / 受理编号或查询码不正确".into(),
            )
        };
        let o = self
            .store
            .objection_by_ticket(req.ticket.trim())
            .await?
            .ok_or_else(not_found)?;
        let sent = tracking_hash(&req.tracking_code);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_slice(),
            o.tracking_hash.as_slice(),
        )) {
            return Err(not_found());
        }
        let d = data_of(&o)?;
        let due = deadline(
            &o,
            &d,
            self.objection_deadlines,
            &self.work_calendar().await?,
        );
        Ok(TrackView {
            ticket: o.ticket,
            state: o.state,
            route: d.route,
            license_id: d.license_id,
            kind: d.kind,
            fields: d.fields,
            submitted_at: o.submitted_at,
            due_on: due.map(|d| d.due_on),
            refusal_reason: d.refusal_reason,
            outcome: d.outcome,
            answer: d.answer,
            answered_at: d.answered_at,
        })
    }
}
