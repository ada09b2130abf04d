//! The handlers' steps, each conditional on the state it read (a step
//! taken twice at once: one wins, the other is told it changed), each an
//! audit event in the same transaction; and their lists and reads.

use super::{
    ApplicantView, AttachmentView, FLAGGING, ObjectionData, ObjectionView, Step, data_of, deadline,
};
use crate::library::Actor;
use crate::policy::{self, Action};
use crate::{Error, Library, Principal, Result};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::workdays::WorkCalendar;
use zhengzhao_store::{ChangeKind, ChangeLog, ObjectionRecord, OutboxMessage};

/// `POST /api/v1/objections/{ticket}/refuse`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefuseRequest {
    pub reason: String,
}

/// `POST /api/v1/objections/{ticket}/decide`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideRequest {
    /// `corrected`, `kept` or `undetermined`.
    pub outcome: String,
    /// What the investigation found (1–2000 characters).
    pub finding: String,
    /// For `corrected`: the correcting version, an update whose reason
    /// names this objection.
    #[serde(default)]
    pub license_id: Option<String>,
}

/// `POST /api/v1/objections/{ticket}/answer`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    pub text: String,
}

/// `GET /api/v1/objections?state=…&overdue=true`
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectionFilter {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub overdue: Option<bool>,
}

const OUTCOMES: [&str; 3] = ["corrected", "kept", "undetermined"];
/// Objections a list reads at most.
const LIST_LIMIT: u32 = 1000;

fn text_error(f: &str, max: usize) -> FieldError {
    FieldError::new(
        f,
        "text",
        format!("1-{max} characters"),
        format!("应为1至{max}个字符"),
    )
}

/// The topic of messages for a channel's applicants.
pub(crate) fn channel_topic(channel: &str) -> String {
    format!("objection:{channel}")
}

/// The topic of objections forwarded to the national platform.
pub(crate) const NATIONAL_TOPIC: &str = "objection:national";

/// An objection about another province's license, for the national platform.
pub(crate) fn national_message(
    o: &ObjectionRecord,
    d: &ObjectionData,
    event: &str,
) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: NATIONAL_TOPIC.into(),
        // `code` keeps one ticket's messages in order (the relay's stream).
        payload: json!({"event": event, "code": o.ticket, "ticket": o.ticket, "about_license": d.license_id,
                        "objection_kind": d.kind, "fields": d.fields}),
    }
}

impl Library {
    async fn objection_or_404(&self, ticket: &str) -> Result<ObjectionRecord> {
        self.store
            .objection_by_ticket(ticket)
            .await?
            .ok_or_else(|| Error::NotFound(format!("objection {ticket}")))
    }

    /// Handlers of the handling org or an org above it.
    async fn require_handler(&self, caller: &Principal, o: &ObjectionRecord) -> Result<()> {
        policy::require(caller, Action::HandleObjection)?;
        self.require_within(caller, &o.org).await
    }

    /// Take one step: from one of `from` to `to`, changing the data with
    /// `change`; the flag follows the new state.
    async fn step(
        &self,
        caller: &Principal,
        ticket: &str,
        from: &[&str],
        to: &str,
        change: impl FnOnce(&mut ObjectionData) -> Result<serde_json::Value>,
    ) -> Result<ObjectionView> {
        let mut o = self.objection_or_404(ticket).await?;
        self.require_handler(caller, &o).await?;
        if !from.contains(&o.state.as_str()) {
            return Err(Error::Conflict(format!(
                "objection {ticket} is {}; this step needs it {} / 当前状态不允许此操作",
                o.state,
                from.join(" or ")
            )));
        }
        let mut d = data_of(&o)?;
        let details = change(&mut d)?;
        let now = self.now();
        let actor = Actor::from(caller);
        d.history.push(Step {
            state: to.into(),
            at: now,
            by: actor.id.to_string(),
        });
        o.state = to.into();
        o.row_version += 1;
        o.flag_fields =
            (FLAGGING.contains(&to) && o.license_key.is_some()).then(|| d.fields.clone());
        o.data = serde_json::to_value(&d).map_err(|e| Error::Internal(e.to_string()))?;
        let mut log = ChangeLog::audit_only(self.audit_event(
            &actor,
            &format!("objection.{to}"),
            format!("objection:{ticket}"),
            details,
        ));
        log.audit.at = now;
        if to == "answered" {
            if o.channel != "public" {
                log.outbox.push(OutboxMessage {
                    id: uuid::Uuid::now_v7(),
                    topic: channel_topic(&o.channel),
                    payload: json!({"event": "objection.answered", "code": o.ticket, "ticket": o.ticket,
                                    "channel_reference": o.external_ref, "about_license": d.license_id,
                                    "outcome": d.outcome.as_deref().unwrap_or("refused"), "answer": d.answer}),
                });
            }
            if d.route == "national" {
                log.outbox
                    .push(national_message(&o, &d, "objection.answered"));
            }
        }
        self.store.update_objection(&o, &log).await?;
        // The flag is in the status lists: they say so at once.
        self.status_list_changed();
        let calendar = self.work_calendar().await?;
        self.objection_view(&o, &calendar).await
    }

    /// 受理: the objection is within scope; the license is flagged from now.
    pub async fn accept_objection(
        &self,
        caller: &Principal,
        ticket: &str,
    ) -> Result<ObjectionView> {
        let now = self.now();
        self.step(caller, ticket, &["submitted"], "accepted", |d| {
            if d.route == "national" {
                return Err(Error::Conflict("another province issued this license: answer that it went to the national platform / 该证照由外省签发，请直接答复".into()));
            }
            d.accepted_at = Some(now);
            Ok(json!({}))
        })
        .await
    }

    /// Refused as out of scope, with the reason the applicant is told.
    pub async fn refuse_objection(
        &self,
        caller: &Principal,
        ticket: &str,
        req: RefuseRequest,
    ) -> Result<ObjectionView> {
        let reason = req.reason.trim().to_owned();
        if !crate::licenses::text_ok(&reason, 500) {
            return Err(Error::Validation(vec![text_error("reason", 500)]));
        }
        self.step(caller, ticket, &["submitted"], "refused", |d| {
            d.refusal_reason = Some(reason.clone());
            Ok(json!({"reason": reason}))
        })
        .await
    }

    /// 核实: the investigation begins.
    pub async fn investigate_objection(
        &self,
        caller: &Principal,
        ticket: &str,
    ) -> Result<ObjectionView> {
        self.step(caller, ticket, &["accepted"], "investigating", |_| {
            Ok(json!({}))
        })
        .await
    }

    /// The outcome: corrected (by a version whose reason names this
    /// objection), kept, or undetermined (the finding and the objection
    /// both recorded). The flag goes.
    pub async fn decide_objection(
        &self,
        caller: &Principal,
        ticket: &str,
        req: DecideRequest,
    ) -> Result<ObjectionView> {
        let mut errors = Vec::new();
        if !OUTCOMES.contains(&req.outcome.as_str()) {
            errors.push(FieldError::new(
                "outcome",
                "outcome",
                "outcome is corrected, kept or undetermined",
                "结论应为corrected、kept或undetermined",
            ));
        }
        let finding = req.finding.trim().to_owned();
        if !crate::licenses::text_ok(&finding, 2000) {
            errors.push(text_error("finding", 2000));
        }
        if (req.outcome == "corrected") != req.license_id.is_some() {
            errors.push(FieldError::new(
                "license_id",
                "license_id",
                "license_id names the correcting version, for corrected only",
                "仅结论为corrected时填写更正后的证照标识",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        // The correcting version: of this license, its reason this objection.
        let correcting = match &req.license_id {
            None => None,
            Some(raw) => {
                let o = self.objection_or_404(ticket).await?;
                self.require_handler(caller, &o).await?;
                let (l, id) = self.find_license(raw).await?;
                let v = l.versions.iter().find(|v| v.license_id == id);
                let names_it = v.and_then(|v| v.reason.as_ref()).is_some_and(|r| {
                    r.kind == ChangeKind::Correction && r.objection.as_deref() == Some(ticket)
                });
                if Some(l.key) != o.license_key || !names_it {
                    return Err(Error::Validation(vec![FieldError::new(
                        "license_id",
                        "not_correcting",
                        "license_id is a version of this license whose reason is a correction naming this objection",
                        "license_id应为本证照因本异议更正而签发的版本",
                    )]));
                }
                Some(id.to_string())
            }
        };
        let now = self.now();
        self.step(
            caller,
            ticket,
            &["accepted", "investigating"],
            &req.outcome.clone(),
            |d| {
                d.outcome = Some(req.outcome.clone());
                d.finding = Some(finding.clone());
                d.correcting_license_id = correcting.clone();
                d.decided_at = Some(now);
                Ok(json!({"outcome": req.outcome, "correcting_license_id": correcting}))
            },
        )
        .await
    }

    /// 告知: the applicant is told (through its channel, or on the tracking page).
    pub async fn answer_objection(
        &self,
        caller: &Principal,
        ticket: &str,
        req: AnswerRequest,
    ) -> Result<ObjectionView> {
        let text = req.text.trim().to_owned();
        if !crate::licenses::text_ok(&text, 2000) {
            return Err(Error::Validation(vec![text_error("text", 2000)]));
        }
        let now = self.now();
        let current = self.objection_or_404(ticket).await?;
        let from: &[&str] = if data_of(&current)?.route == "national" {
            &["submitted"]
        } else {
            &["corrected", "kept", "undetermined", "refused"]
        };
        self.step(caller, ticket, from, "answered", |d| {
            d.answer = Some(text.clone());
            d.answered_at = Some(now);
            Ok(json!({}))
        })
        .await
    }

    /// 归档.
    pub async fn archive_objection(
        &self,
        caller: &Principal,
        ticket: &str,
    ) -> Result<ObjectionView> {
        let now = self.now();
        self.step(caller, ticket, &["answered"], "archived", |d| {
            d.archived_at = Some(now);
            Ok(json!({}))
        })
        .await
    }

    /// One objection, for its handlers.
    pub async fn read_objection(&self, caller: &Principal, ticket: &str) -> Result<ObjectionView> {
        policy::require(caller, Action::ReadObjections)?;
        let o = self.objection_or_404(ticket).await?;
        self.require_within(caller, &o.org).await?;
        let calendar = self.work_calendar().await?;
        self.objection_view(&o, &calendar).await
    }

    /// The objections within the caller's subtree, oldest first.
    pub async fn list_objections(
        &self,
        caller: &Principal,
        f: &ObjectionFilter,
    ) -> Result<Vec<ObjectionView>> {
        policy::require(caller, Action::ReadObjections)?;
        let calendar = self.work_calendar().await?;
        let mut out = Vec::new();
        for o in self
            .store
            .objections(f.state.as_deref(), LIST_LIMIT)
            .await?
        {
            if !self.store.org_within(&o.org, &caller.org).await? {
                continue;
            }
            let v = self.objection_view(&o, &calendar).await?;
            if f.overdue.is_none_or(|want| v.overdue == want) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Every overdue objection (for the metrics).
    pub async fn overdue_objections(&self) -> Result<usize> {
        let calendar = self.work_calendar().await?;
        let mut n = 0;
        for o in self.store.objections(None, u32::MAX).await? {
            let d = data_of(&o)?;
            if deadline(&o, &d, self.objection_deadlines, &calendar)
                .is_some_and(|x| self.today() > x.due_on)
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// An attachment, for the handlers only.
    pub async fn objection_attachment(
        &self,
        caller: &Principal,
        ticket: &str,
        n: i32,
    ) -> Result<(String, String, Vec<u8>)> {
        policy::require(caller, Action::HandleObjection)?;
        let o = self.objection_or_404(ticket).await?;
        self.require_within(caller, &o.org).await?;
        let a = self
            .store
            .objection_attachments(o.id)
            .await?
            .into_iter()
            .find(|a| a.n == n)
            .ok_or_else(|| Error::NotFound(format!("attachment {n} of objection {ticket}")))?;
        self.record_read(
            caller,
            "objection.attachment_read",
            format!("objection:{ticket}"),
            json!({"n": n, "sm3": a.sm3}),
        )
        .await?;
        Ok((a.name, a.media_type, a.bytes))
    }

    async fn objection_view(
        &self,
        o: &ObjectionRecord,
        calendar: &WorkCalendar,
    ) -> Result<ObjectionView> {
        let d = data_of(o)?;
        let opened = self
            .open_json(
                format!("objection:{}:applicant", o.id).as_bytes(),
                &d.applicant,
            )
            .await?;
        let s = |k: &str| opened[k].as_str().unwrap_or_default().to_owned();
        let due = deadline(o, &d, self.objection_deadlines, calendar);
        let attachments = self
            .store
            .objection_attachments(o.id)
            .await?
            .iter()
            .map(|a| AttachmentView {
                n: a.n,
                name: a.name.clone(),
                media_type: a.media_type.clone(),
                sm3: a.sm3.clone(),
                size: a.bytes.len(),
            })
            .collect();
        Ok(ObjectionView {
            ticket: o.ticket.clone(),
            state: o.state.clone(),
            route: d.route.clone(),
            license_id: d.license_id.clone(),
            org: o.org.to_string(),
            kind: d.kind.clone(),
            fields: d.fields.clone(),
            channel: o.channel.clone(),
            channel_reference: o.external_ref.clone(),
            applicant: ApplicantView {
                role: d.applicant_role.clone(),
                name: s("name"),
                phone: s("phone"),
            },
            statement: s("statement"),
            submitted_at: o.submitted_at,
            due_on: due.map(|x| x.due_on),
            provisional: due.is_some_and(|x| x.provisional),
            overdue: due.is_some_and(|x| self.today() > x.due_on),
            refusal_reason: d.refusal_reason,
            outcome: d.outcome,
            finding: d.finding,
            correcting_license_id: d.correcting_license_id,
            answer: d.answer,
            attachments,
            history: d.history,
        })
    }

    /// A correcting update names an objection: it must be this license's,
    /// accepted and not yet decided.
    pub(crate) async fn check_correction_objection(
        &self,
        license_key: i64,
        ticket: &str,
    ) -> Result<()> {
        let bad = |en: &str, zh: &str| {
            Error::Validation(vec![FieldError::new(
                "reason/objection",
                "objection",
                en,
                zh,
            )])
        };
        let Some(o) = self.store.objection_by_ticket(ticket).await? else {
            return Err(bad("no such objection", "没有该异议"));
        };
        if o.license_key != Some(license_key) {
            return Err(bad(
                "the objection is about another license",
                "该异议针对的是其他证照",
            ));
        }
        if !FLAGGING.contains(&o.state.as_str()) {
            return Err(bad(
                "the objection is not under investigation (accept it first)",
                "该异议不在核查中（请先受理）",
            ));
        }
        Ok(())
    }
}
