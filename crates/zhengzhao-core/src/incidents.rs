//! Emergencies (Art. 9): when force majeure stops issuance, updates or
//! revocations at an org, the org opens an incident; while it is open, its
//! business system registers the source records it could not aggregate
//! (the backlog); once the fault is cleared, each item is due within three
//! working days of the clearing day, on the holiday calendar (make-up
//! workdays count, holidays do not).
//!
//! An item's state is read, not stored: it is `done` once the matching
//! license operation is in the library (the source record's license
//! issued; a new version of it since the incident began; it revoked),
//! `overdue` when not done after its due day, `pending` otherwise. So an
//! item completes however the operation arrives (API, batch, import).
//!
//! The calendar is the shipped file merged with the operator's imports
//! (`zhengzhao calendar import`). A deadline in a year it does not hold
//! yet is counted on weekdays and marked `provisional`; it becomes firm
//! when that year is imported.

use crate::library::Actor;
use crate::policy::{self, Action};
use crate::{Error, Library, Principal, Result};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_domain::role::Role;
use zhengzhao_domain::workdays::WorkCalendar;
use zhengzhao_store::{BacklogItemRecord, ChangeLog, IncidentRecord, LicenseRecord};

/// Working days after the clearing day within which an item is due.
pub const DUE_WORKING_DAYS: u32 = 3;
const OPERATIONS: [&str; 3] = ["issue", "update", "revoke"];
/// Items registered in one request.
const MAX_ITEMS: usize = 1000;

/// `POST /api/v1/incidents`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentRequest {
    pub org: String,
    pub cause: String,
    /// RFC 3339 with its offset, e.g. `2026-09-28T09:00:00+08:00`.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: jiff::Timestamp,
    /// The operations the fault blocked: `issue`, `update`, `revoke`.
    pub operations: Vec<String>,
}

/// `POST /api/v1/incidents/{id}/backlog`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacklogRequest {
    pub items: Vec<BacklogItemInput>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacklogItemInput {
    pub source: crate::licenses::SourceInput,
    /// `issue`, `update` or `revoke`: one the incident blocked.
    pub operation: String,
    /// The day the paper license (or its change) was issued.
    #[schema(value_type = String, format = Date)]
    pub paper_issued_on: Date,
}

/// `POST /api/v1/incidents/{id}/close`
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    #[schema(value_type = String, format = DateTime)]
    pub cleared_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SourceView {
    pub system: String,
    pub record_id: String,
}

/// One item and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BacklogItemView {
    pub source: SourceView,
    pub operation: String,
    #[schema(value_type = String, format = Date)]
    pub paper_issued_on: Date,
    /// Three working days after the clearing day; `null` while open.
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<Date>,
    /// The due day runs into a year the calendar does not hold yet.
    pub provisional: bool,
    /// `pending`, `done` or `overdue`.
    pub state: &'static str,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IncidentView {
    pub incident_id: uuid::Uuid,
    pub org: String,
    pub cause: String,
    #[schema(value_type = String)]
    pub started_at: jiff::Timestamp,
    pub operations: Vec<String>,
    #[schema(value_type = Option<String>)]
    pub cleared_at: Option<jiff::Timestamp>,
    pub items: Vec<BacklogItemView>,
    pub overdue: usize,
}

fn field(f: &str, code: &'static str, en: impl Into<String>, zh: impl Into<String>) -> FieldError {
    FieldError::new(f, code, en, zh)
}

/// Text of 1 to `max` characters (as the issue checks), without surrounding spaces.
fn text_ok(s: &str, max: usize) -> bool {
    crate::licenses::text_ok(s, max) && s.trim() == s
}

impl Library {
    /// The holiday calendar: the shipped file, then each import over it.
    pub async fn work_calendar(&self) -> Result<WorkCalendar> {
        let mut cal = WorkCalendar::builtin();
        for text in self.store.calendar_imports().await? {
            match WorkCalendar::parse(&text) {
                Ok(newer) => cal.merge(newer),
                Err(e) => {
                    tracing::warn!(error = %e, "an imported calendar no longer parses; skipped")
                }
            }
        }
        Ok(cal)
    }

    /// Import a newer holiday arrangement (whole years); the years it holds.
    pub async fn import_calendar(&self, actor: &Actor, text: &str) -> Result<Vec<i16>> {
        let parsed =
            WorkCalendar::parse(text).map_err(|e| Error::Validation(vec![e.at("file")]))?;
        let years: Vec<i16> = parsed.years().collect();
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "calendar.import",
            "calendar".into(),
            json!({"years": years}),
        ));
        self.store.add_calendar_import(text, &log).await?;
        Ok(years)
    }

    /// The year to warn of from 1 November on, if the calendar lacks it.
    pub async fn calendar_missing_next_year(&self) -> Result<Option<i16>> {
        Ok(self.work_calendar().await?.missing_next_year(self.today()))
    }

    /// Incidents are an org's own: its issuing clerks, or a region admin or
    /// auditor above it.
    async fn require_incident_scope(
        &self,
        caller: &Principal,
        org: &OrgCode,
        write: bool,
    ) -> Result<()> {
        policy::require(
            caller,
            if write {
                Action::ManageIncident
            } else {
                Action::ReadIncidents
            },
        )?;
        if caller.has(Role::RegionAdmin) || caller.has(Role::Auditor) {
            self.require_within(caller, org).await
        } else {
            policy::require_own_org(caller, org)
        }
    }

    async fn incident_or_404(&self, id: uuid::Uuid) -> Result<IncidentRecord> {
        self.store
            .incident(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("incident {id}")))
    }

    /// Open an incident.
    pub async fn open_incident(
        &self,
        caller: &Principal,
        req: IncidentRequest,
    ) -> Result<IncidentView> {
        policy::require(caller, Action::ManageIncident)?;
        let mut errors = Vec::new();
        let org = OrgCode::parse(&req.org).map_err(|e| Error::Validation(vec![e.at("org")]))?;
        if self.cached_org(&org).await?.is_none() {
            return Err(Error::Validation(vec![field(
                "org",
                "unknown_org",
                format!("org {org} does not exist"),
                format!("机构{org}不存在"),
            )]));
        }
        self.require_incident_scope(caller, &org, true).await?;
        if !text_ok(&req.cause, 500) {
            errors.push(field(
                "cause",
                "text",
                "cause must be 1-500 characters",
                "原因应为1至500个字符",
            ));
        }
        if req.started_at > self.now() {
            errors.push(field(
                "started_at",
                "future",
                "started_at is in the future",
                "开始时间晚于当前时间",
            ));
        }
        let mut ops = req.operations.clone();
        ops.sort_unstable();
        ops.dedup();
        if ops.is_empty()
            || ops.len() != req.operations.len()
            || ops.iter().any(|o| !OPERATIONS.contains(&o.as_str()))
        {
            errors.push(field(
                "operations",
                "operations",
                "operations names one or more of issue, update, revoke, each once",
                "operations应为issue、update、revoke中的一项或多项，不重复",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let now = self.now();
        let incident = IncidentRecord {
            id: uuid::Uuid::now_v7(),
            org,
            cause: req.cause,
            started_at: req.started_at,
            operations: req.operations,
            cleared_at: None,
            created_at: now,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "incident.open",
            format!("incident:{}", incident.id),
            json!({"org": incident.org, "started_at": incident.started_at, "operations": incident.operations}),
        ));
        self.store.add_incident(&incident, &log).await?;
        let calendar = self.work_calendar().await?;
        self.incident_view(&incident, &calendar).await
    }

    /// Register source records the fault left undone.
    pub async fn register_backlog(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
        req: BacklogRequest,
    ) -> Result<IncidentView> {
        policy::require(caller, Action::ManageIncident)?;
        let incident = self.incident_or_404(id).await?;
        self.require_incident_scope(caller, &incident.org, true)
            .await?;
        if incident.cleared_at.is_some() {
            return Err(Error::Conflict("the incident is closed: items are registered while it is open / 事件已结束，不能再登记".into()));
        }
        let mut errors = Vec::new();
        if req.items.is_empty() || req.items.len() > MAX_ITEMS {
            errors.push(field(
                "items",
                "count",
                format!("1 to {MAX_ITEMS} items"),
                format!("应为1至{MAX_ITEMS}项"),
            ));
        }
        let (started, today) = (
            incident.started_at.to_zoned(crate::china_tz()).date(),
            self.today(),
        );
        for (i, it) in req.items.iter().enumerate() {
            let at = |f: &str| format!("items/{i}/{f}");
            if !text_ok(&it.source.system, 64) {
                errors.push(field(
                    &at("source/system"),
                    "text",
                    "1-64 characters",
                    "应为1至64个字符",
                ));
            }
            if !text_ok(&it.source.record_id, 128) {
                errors.push(field(
                    &at("source/record_id"),
                    "text",
                    "1-128 characters",
                    "应为1至128个字符",
                ));
            }
            if !incident.operations.contains(&it.operation) {
                errors.push(field(
                    &at("operation"),
                    "not_blocked",
                    "not an operation this incident blocked",
                    "该操作不在本事件受影响范围内",
                ));
            }
            if it.paper_issued_on < started || it.paper_issued_on > today {
                errors.push(field(
                    &at("paper_issued_on"),
                    "range",
                    "from the incident's first day to today",
                    "应在事件开始之日至今日之间",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let now = self.now();
        let items: Vec<BacklogItemRecord> = req
            .items
            .iter()
            .map(|it| BacklogItemRecord {
                incident_id: id,
                source_system: it.source.system.clone(),
                record_id: it.source.record_id.clone(),
                operation: it.operation.clone(),
                paper_issued_on: it.paper_issued_on,
                registered_at: now,
            })
            .collect();
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "incident.backlog",
            format!("incident:{id}"),
            json!({"items": items.len()}),
        ));
        self.store.add_backlog_items(id, &items, &log).await?;
        let calendar = self.work_calendar().await?;
        self.incident_view(&incident, &calendar).await
    }

    /// The fault is cleared: from now the items are due.
    pub async fn close_incident(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
        req: CloseRequest,
    ) -> Result<IncidentView> {
        policy::require(caller, Action::ManageIncident)?;
        let incident = self.incident_or_404(id).await?;
        self.require_incident_scope(caller, &incident.org, true)
            .await?;
        if req.cleared_at < incident.started_at || req.cleared_at > self.now() {
            return Err(Error::Validation(vec![field(
                "cleared_at",
                "range",
                "cleared_at is between the incident's start and now",
                "结束时间应在事件开始之后、当前时间之前",
            )]));
        }
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::from(caller),
            "incident.close",
            format!("incident:{id}"),
            json!({"cleared_at": req.cleared_at}),
        ));
        let closed = self.store.close_incident(id, req.cleared_at, &log).await?;
        let calendar = self.work_calendar().await?;
        self.incident_view(&closed, &calendar).await
    }

    /// The incidents the caller may see (its org's, or below it for a
    /// region admin or auditor), newest first, with their items' states.
    pub async fn list_incidents(&self, caller: &Principal) -> Result<Vec<IncidentView>> {
        policy::require(caller, Action::ReadIncidents)?;
        let calendar = self.work_calendar().await?;
        let mut out = Vec::new();
        for incident in self.store.incidents().await? {
            if self
                .require_incident_scope(caller, &incident.org, false)
                .await
                .is_ok()
            {
                out.push(self.incident_view(&incident, &calendar).await?);
            }
        }
        Ok(out)
    }

    /// An incident with its items' states.
    pub async fn read_incident(&self, caller: &Principal, id: uuid::Uuid) -> Result<IncidentView> {
        policy::require(caller, Action::ReadIncidents)?;
        let incident = self.incident_or_404(id).await?;
        self.require_incident_scope(caller, &incident.org, false)
            .await?;
        let calendar = self.work_calendar().await?;
        self.incident_view(&incident, &calendar).await
    }

    /// The view of `incident` with its items' due days on `calendar`.
    async fn incident_view(
        &self,
        incident: &IncidentRecord,
        calendar: &WorkCalendar,
    ) -> Result<IncidentView> {
        let today = self.today();
        let due = incident.cleared_at.map(|c| {
            calendar.add_working_days(c.to_zoned(crate::china_tz()).date(), DUE_WORKING_DAYS)
        });
        let mut items = Vec::new();
        for it in self.store.backlog_items(incident.id).await? {
            let done = self.backlog_done(incident, &it).await?;
            let state = match (done, due) {
                (true, _) => "done",
                (false, Some(d)) if today > d.due_on => "overdue",
                _ => "pending",
            };
            items.push(BacklogItemView {
                source: SourceView {
                    system: it.source_system,
                    record_id: it.record_id,
                },
                operation: it.operation,
                paper_issued_on: it.paper_issued_on,
                due_on: due.map(|d| d.due_on),
                provisional: due.is_some_and(|d| d.provisional),
                state,
            });
        }
        Ok(IncidentView {
            incident_id: incident.id,
            org: incident.org.to_string(),
            cause: incident.cause.clone(),
            started_at: incident.started_at,
            operations: incident.operations.clone(),
            cleared_at: incident.cleared_at,
            overdue: items.iter().filter(|i| i.state == "overdue").count(),
            items,
        })
    }

    /// Whether the item's license operation is in the library.
    async fn backlog_done(
        &self,
        incident: &IncidentRecord,
        it: &BacklogItemRecord,
    ) -> Result<bool> {
        let Some(l) = self
            .store
            .license_by_source(&it.source_system, &it.record_id)
            .await?
        else {
            return Ok(false);
        };
        Ok(l.issuer == incident.org && operation_done(&l, &it.operation, incident.started_at))
    }

    /// Every incident's items not done, with their due days (the command
    /// line's `backlog`; the metric counts the overdue ones).
    pub async fn open_backlog(&self) -> Result<Vec<(IncidentView, BacklogItemView)>> {
        let mut out = Vec::new();
        // Read once for all incidents (each view would read it again).
        let calendar = self.work_calendar().await?;
        for incident in self.store.incidents().await? {
            let view = self.incident_view(&incident, &calendar).await?;
            for item in view.items.iter().filter(|i| i.state != "done") {
                out.push((view.clone(), item.clone()));
            }
        }
        Ok(out)
    }
}

fn operation_done(l: &LicenseRecord, operation: &str, since: jiff::Timestamp) -> bool {
    match operation {
        "issue" => true,
        "update" => l
            .versions
            .iter()
            .any(|v| v.version > 1 && v.issued_at >= since),
        "revoke" => l.revocation.is_some(),
        _ => false,
    }
}
