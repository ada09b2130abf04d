//! Objections (异议核查, Art. 19) as stored: what is looked up or must be
//! unique has its own field; the rest of the workflow (`data`) is shaped by
//! the core, which alone knows the states and what each means.

use zhengzhao_domain::org::OrgCode;

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectionRecord {
    pub id: uuid::Uuid,
    /// The number the applicant quotes.
    pub ticket: String,
    /// Hash of the applicant's tracking code (the code is never kept).
    pub tracking_hash: Vec<u8>,
    /// The license objected to; `None` for one another province issued.
    pub license_key: Option<i64>,
    /// The org that handles it.
    pub org: OrgCode,
    pub state: String,
    /// `public`, or the channel it came through.
    pub channel: String,
    /// The channel's own reference (unique per channel).
    pub external_ref: Option<String>,
    pub submitted_at: jiff::Timestamp,
    /// Counts changes: an update names the version it read.
    pub row_version: i64,
    /// The fields concerned while the license is flagged; `None` otherwise.
    pub flag_fields: Option<Vec<String>>,
    /// Everything else, as the core shapes it.
    pub data: serde_json::Value,
}

/// A file the applicant gave, checked by its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectionAttachment {
    pub n: i32,
    pub name: String,
    pub media_type: String,
    /// SM3 of `bytes`, hex.
    pub sm3: String,
    pub bytes: Vec<u8>,
}
