//! Objections (异议核查, Art. 19): a holder, a relying party or anyone else
//! says a license is inaccurate, incomplete or out of date; the issuing org
//! investigates, corrects or keeps it, and tells the applicant.
//!
//! The workflow, after the public-data objection procedures in force in
//! China (提出 → 受理 → 异议标注 → 核实与处理 → 标注撤销 → 告知 → 归档):
//!
//! ```text
//! submitted ─accept→ accepted ─investigate→ investigating ─decide→ corrected | kept | undetermined
//!     │                                                                 │
//!     └─refuse→ refused ───────────────────answer─────────────────→ answered ─archive→ archived
//! ```
//!
//! From acceptance to the decision the license is **flagged**
//! (`under_objection`, with the fields concerned) wherever it is shown:
//! the public check, relying parties' reads, the status lists. A correction
//! is an ordinary update (a new signed version) whose reason names the
//! objection. An objection about a license another province issued is not
//! ours to decide: it takes the `national` route, handled by the region,
//! which answers that it was passed to the national platform.
//!
//! Deadlines count working days on the holiday calendar (`incidents`):
//! accept within [`ACCEPT_DAYS`] of submission, answer within
//! [`ANSWER_DAYS`] of acceptance (both configurable). A deadline in a year
//! the calendar does not hold yet is counted on weekdays and `provisional`.
//!
//! Privacy: the applicant's name, phone and statement are sealed at rest
//! and shown to the handlers only; the applicant follows its objection
//! with the ticket and a tracking code that only it holds (stored as a
//! hash), and learns nothing without the code.

mod intake;
mod workflow;

pub use intake::{ApplicantInput, AttachmentInput, ObjectionRequest, Submitted, TrackRequest};
pub use workflow::{AnswerRequest, DecideRequest, ObjectionFilter, RefuseRequest};
pub(crate) use workflow::{NATIONAL_TOPIC, channel_topic};

use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zhengzhao_domain::workdays::{Deadline, WorkCalendar};
use zhengzhao_store::ObjectionRecord;

/// Working days to accept (or refuse) an objection, by default.
pub const ACCEPT_DAYS: u32 = 2;
/// Working days from acceptance to the answer, by default.
pub const ANSWER_DAYS: u32 = 15;

/// The deadlines in working days, per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectionDeadlines {
    pub accept_days: u32,
    pub answer_days: u32,
}

impl Default for ObjectionDeadlines {
    fn default() -> Self {
        Self {
            accept_days: ACCEPT_DAYS,
            answer_days: ANSWER_DAYS,
        }
    }
}

pub const KINDS: [&str; 3] = ["accuracy", "completeness", "timeliness"];
pub const APPLICANT_ROLES: [&str; 3] = ["holder", "relying_party", "other"];
/// The channels a `channel` token may submit through (besides `public`).
pub const CHANNELS: [&str; 3] = ["platform", "hotline_12345", "mobile_app"];
/// States in which the license is flagged.
const FLAGGING: [&str; 2] = ["accepted", "investigating"];
/// States that still wait for the handlers.
const OPEN: [&str; 6] = [
    "submitted",
    "accepted",
    "investigating",
    "corrected",
    "kept",
    "undetermined",
];

/// What the core keeps of an objection besides the stored columns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ObjectionData {
    license_id: String,
    /// `local` (ours to decide) or `national` (another province issued it).
    route: String,
    kind: String,
    fields: Vec<String>,
    applicant_role: String,
    /// Sealed JSON `{name, phone, statement}`.
    applicant: String,
    /// The channel token it came with, if any.
    #[serde(default)]
    token: Option<uuid::Uuid>,
    #[serde(default)]
    accepted_at: Option<jiff::Timestamp>,
    #[serde(default)]
    refusal_reason: Option<String>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    finding: Option<String>,
    #[serde(default)]
    correcting_license_id: Option<String>,
    #[serde(default)]
    decided_at: Option<jiff::Timestamp>,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    answered_at: Option<jiff::Timestamp>,
    #[serde(default)]
    archived_at: Option<jiff::Timestamp>,
    #[serde(default)]
    history: Vec<Step>,
}

/// One step of the workflow, as the handlers see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Step {
    pub state: String,
    #[schema(value_type = String)]
    pub at: jiff::Timestamp,
    /// Who took it (the audit log's actor).
    pub by: String,
}

fn data_of(o: &ObjectionRecord) -> crate::Result<ObjectionData> {
    serde_json::from_value(o.data.clone())
        .map_err(|e| crate::Error::Internal(format!("objection {}: {e}", o.ticket)))
}

/// The deadline of the step an objection waits for, if it waits.
fn deadline(
    o: &ObjectionRecord,
    d: &ObjectionData,
    days: ObjectionDeadlines,
    calendar: &WorkCalendar,
) -> Option<Deadline> {
    let day = |t: jiff::Timestamp| t.to_zoned(crate::china_tz()).date();
    match o.state.as_str() {
        "submitted" if d.route == "national" => {
            Some(calendar.add_working_days(day(o.submitted_at), days.answer_days))
        }
        "submitted" => Some(calendar.add_working_days(day(o.submitted_at), days.accept_days)),
        s if OPEN.contains(&s) => Some(calendar.add_working_days(
            day(d.accepted_at.unwrap_or(o.submitted_at)),
            days.answer_days,
        )),
        _ => None,
    }
}

/// The applicant as the handlers see it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApplicantView {
    /// `holder`, `relying_party` or `other`.
    pub role: String,
    pub name: String,
    pub phone: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttachmentView {
    pub n: i32,
    pub name: String,
    pub media_type: String,
    /// SM3 of the file, hex.
    pub sm3: String,
    pub size: usize,
}

/// An objection as its handlers see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectionView {
    pub ticket: String,
    /// `submitted`, `accepted`, `refused`, `investigating`, `corrected`,
    /// `kept`, `undetermined`, `answered` or `archived`.
    pub state: String,
    /// `local`, or `national` for a license another province issued.
    pub route: String,
    pub license_id: String,
    /// The org that handles it.
    pub org: String,
    pub kind: String,
    pub fields: Vec<String>,
    /// `public`, `platform`, `hotline_12345` or `mobile_app`.
    pub channel: String,
    pub channel_reference: Option<String>,
    pub applicant: ApplicantView,
    pub statement: String,
    #[schema(value_type = String)]
    pub submitted_at: jiff::Timestamp,
    /// The last day of the step it waits for; `null` once answered.
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<Date>,
    /// The due day runs into a year the calendar does not hold yet.
    pub provisional: bool,
    pub overdue: bool,
    pub refusal_reason: Option<String>,
    pub outcome: Option<String>,
    pub finding: Option<String>,
    pub correcting_license_id: Option<String>,
    pub answer: Option<String>,
    pub attachments: Vec<AttachmentView>,
    pub history: Vec<Step>,
}

/// What the applicant sees with its ticket and tracking code.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TrackView {
    pub ticket: String,
    pub state: String,
    pub route: String,
    pub license_id: String,
    pub kind: String,
    pub fields: Vec<String>,
    #[schema(value_type = String)]
    pub submitted_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<Date>,
    pub refusal_reason: Option<String>,
    pub outcome: Option<String>,
    pub answer: Option<String>,
    #[schema(value_type = Option<String>)]
    pub answered_at: Option<jiff::Timestamp>,
}
