//! Records of signing keys, licenses and their deliveries.

use jiff::civil::Date;
use serde::Serialize;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::OrgCode;

/// What a signing key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPurpose {
    /// The library's local (test) CA, certifying org keys.
    Ca,
    /// An issuing org's license-signing key.
    License,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Ca => "ca",
            KeyPurpose::License => "license",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ca" => Some(Self::Ca),
            "license" => Some(Self::License),
            _ => None,
        }
    }
}

/// Where a key's certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// Made here and certified by the library's local test CA.
    LocalCa,
    /// Imported with a certificate from an external (real) CA.
    Imported,
}

impl KeySource {
    pub fn as_str(self) -> &'static str {
        match self {
            KeySource::LocalCa => "local_ca",
            KeySource::Imported => "imported",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "local_ca" => Some(Self::LocalCa),
            "imported" => Some(Self::Imported),
            _ => None,
        }
    }
}

/// A signing key: public half and certificate in the clear, private half
/// encrypted under the master key (SM4-GCM, the key id as associated data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub id: uuid::Uuid,
    /// `None` for the library's CA key.
    pub org: Option<OrgCode>,
    pub purpose: KeyPurpose,
    pub source: KeySource,
    /// Uncompressed SEC1 point.
    pub public_key: Vec<u8>,
    pub wrapped_private_key: Vec<u8>,
    pub certificate_pem: String,
    pub not_before: jiff::Timestamp,
    pub not_after: jiff::Timestamp,
    pub created_at: jiff::Timestamp,
    pub retired_at: Option<jiff::Timestamp>,
}

/// A signing key withdrawn from trust (its certificate goes on the CRL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevocation {
    pub key_id: uuid::Uuid,
    /// From when the key is not trusted (may lie before `recorded_at`:
    /// the moment a compromise began). Anything it signed at or after this
    /// time is not genuine.
    pub revoked_at: jiff::Timestamp,
    /// RFC 5280 reason: `key_compromise`, `ca_compromise`, `affiliation_changed`,
    /// `superseded`, `cessation_of_operation`.
    pub reason: String,
    pub recorded_at: jiff::Timestamp,
}

/// Who holds a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub name: String,
    /// `uscc` or `resident_id`.
    pub id_type: String,
    pub id: String,
}

/// One signed version of a license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseVersionRecord {
    pub license_id: LicenseId,
    pub version: u16,
    /// The catalog version of the type this version was validated against.
    pub type_version: u32,
    pub holder: Holder,
    /// The face data; always equal to the `face` member of `payload` (a
    /// backend may keep it only there).
    pub face: serde_json::Value,
    pub license_number: Option<String>,
    pub valid_from: Date,
    pub valid_until: Option<Date>,
    pub issued_at: jiff::Timestamp,
    /// The RFC 8785 canonical JSON that was signed, byte for byte.
    pub payload: String,
    /// DER SM2-with-SM3 signature over `payload`.
    pub signature: Vec<u8>,
    pub key_id: uuid::Uuid,
    /// Why this version replaced the one before (`None` for the first).
    pub reason: Option<ChangeReason>,
    /// This version's entry in the status lists (`Store::reserve_status_indexes`).
    pub status_index: i64,
}

/// Which versions are no longer in force (for the status lists).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionStatusSummary {
    /// One more than the highest index ever reserved.
    pub next_index: i64,
    /// Versions an update replaced, of licenses not revoked.
    pub superseded: Vec<i64>,
    /// Every version of a revoked license.
    pub revoked: Vec<i64>,
}

/// Why an update (更新) issued a new version: the business change of the
/// licensed facts (变更), the correction of an error (更正), or a new copy
/// of unchanged facts (补发).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Change,
    Correction,
    Reissue,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Change => "change",
            ChangeKind::Correction => "correction",
            ChangeKind::Reissue => "reissue",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "change" => Some(Self::Change),
            "correction" => Some(Self::Correction),
            "reissue" => Some(Self::Reissue),
            _ => None,
        }
    }
    /// The Chinese term (变更 / 更正 / 补发).
    pub fn zh(self) -> &'static str {
        match self {
            ChangeKind::Change => "变更",
            ChangeKind::Correction => "更正",
            ChangeKind::Reissue => "补发",
        }
    }
}

/// The reason recorded with a version made by an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeReason {
    pub kind: ChangeKind,
    pub text: String,
    /// The objection (its ticket) a correction answers (Art. 19).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objection: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    pub at: jiff::Timestamp,
    pub by: String,
    pub reason: String,
}

/// A license with every version, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRecord {
    /// Internal row key; never shown.
    pub key: i64,
    pub type_code: LicenseTypeCode,
    pub issuer: OrgCode,
    pub serial: String,
    pub source_system: String,
    pub source_record_id: String,
    pub created_at: jiff::Timestamp,
    pub revocation: Option<Revocation>,
    pub versions: Vec<LicenseVersionRecord>,
    /// Under objection (异议标注): the fields its open objections concern.
    pub objection_fields: Option<Vec<String>>,
}

impl LicenseRecord {
    pub fn current(&self) -> Option<&LicenseVersionRecord> {
        self.versions.last()
    }
}

/// A new license: its identity and its first version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLicense {
    pub type_code: LicenseTypeCode,
    pub issuer: OrgCode,
    pub serial: String,
    pub source_system: String,
    pub source_record_id: String,
    /// The type allows one current license per holder
    /// (`one_current_license_per_holder` of the catalog version issued under):
    /// the store refuses this one while the holder (`first.holder.id`, as
    /// stored) has a license of the type that is not revoked.
    pub one_current_per_holder: bool,
    pub first: LicenseVersionRecord,
}

/// Filters of the license list; every one is served by an index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseFilter {
    pub holder_id: Option<String>,
    pub type_code: Option<LicenseTypeCode>,
    /// Only licenses issued by orgs in this subtree.
    pub issuer_within: Option<OrgCode>,
}

/// A delivery of one license version over one channel (Art. 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub id: i64,
    pub license_id: LicenseId,
    pub channel: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<jiff::Timestamp>,
    pub last_error: Option<String>,
    pub delivered_at: Option<jiff::Timestamp>,
    pub created_at: jiff::Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Gave up after the last retry.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A business system's record as the library holds it (reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    pub record_id: String,
    /// The license's current version.
    pub license_id: LicenseId,
    pub revoked: bool,
}
