//! The signed statement of a license version: its number, the payload
//! (schema `zhengzhao.license/2`, the status entry inside), the differences an
//! update made, the platform message, and signing with the issuer's key.

use super::*;
use crate::Library;
use crate::{Error, Result};
use jiff::civil::Date;
use serde_json::{Value, json};
use zhengzhao_domain::catalog::LicenseTypeVersion;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::{Org, OrgCode};
use zhengzhao_store::{Holder, LicenseRecord, OutboxMessage};

pub(super) fn license_number(
    type_version: &LicenseTypeVersion,
    face: &serde_json::Map<String, Value>,
) -> Option<String> {
    let field = type_version.spec.draft().license_number_field.as_ref()?;
    face.get(field).and_then(Value::as_str).map(str::to_owned)
}

/// Fields that differ between a stored first version and a new request, for a 409.
pub(super) fn differences(
    existing: &LicenseRecord,
    req: &IssueRequest,
    holder: &Holder,
    face: &Value,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some(first) = existing.versions.first() else {
        return out;
    };
    if existing.type_code.as_str() != req.type_code {
        out.push("type_code".to_owned());
    }
    if existing.issuer.as_str() != req.issuer {
        out.push("issuer".to_owned());
    }
    if first.holder != *holder {
        out.push("holder".to_owned());
    }
    if first.valid_from != req.valid_from {
        out.push("valid_from".to_owned());
    }
    if first.valid_until != req.valid_until {
        out.push("valid_until".to_owned());
    }
    out.extend(face_differences(&first.face, face));
    out
}

/// `face/<name>` for each face field that differs between `a` and `b`
/// (present in one only, or with another value), in name order.
pub(crate) fn face_differences(a: &Value, b: &Value) -> Vec<String> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("face/{k}"))
        .collect()
}

/// Everything one version of a license states.
pub(super) struct Statement<'a> {
    pub(super) id: &'a LicenseId,
    pub(super) version: u16,
    pub(super) serial: &'a str,
    pub(super) license_type: &'a LicenseTypeVersion,
    pub(super) issuer: &'a Org,
    pub(super) holder: &'a Holder,
    pub(super) number: Option<&'a str>,
    pub(super) valid_from: Date,
    pub(super) valid_until: Option<Date>,
    pub(super) issued_at: jiff::Timestamp,
    pub(super) supersedes: Option<&'a LicenseId>,
    /// This version's entry in the `message` status list (schema 2).
    pub(super) status: Value,
}

impl Statement<'_> {
    /// What is signed: everything the license states, and nothing else.
    /// The face data is moved in (not copied); [`Library::sign`] moves it back out.
    fn payload(&self, face: Value) -> Value {
        let t = self.license_type;
        let mut payload = json!({
            "schema": DOCUMENT_SCHEMA,
            "license_id": self.id,
            "version": self.version,
            "serial": self.serial,
            "license_type": {"code": t.spec.code(), "name": t.spec.draft().name, "version": t.version},
            "license_number": self.number,
            "issuer": {"code": self.issuer.code, "name": self.issuer.name, "credit_code": self.issuer.credit_code},
            "holder": self.holder,
            "valid_from": self.valid_from.to_string(),
            "valid_until": self.valid_until.map(|d| d.to_string()),
            "issued_at": self.issued_at.to_string(),
            "supersedes": self.supersedes,
            "status": self.status,
        });
        if let Some(fields) = payload.as_object_mut() {
            fields.insert("face".into(), face);
        }
        payload
    }
}

/// The message that aggregates a change to the regional platform (Art. 7).
pub(super) fn platform_message(
    event: &str,
    license_id: &LicenseId,
    version: u16,
    issuer: &OrgCode,
) -> OutboxMessage {
    OutboxMessage {
        id: uuid::Uuid::now_v7(),
        topic: PLATFORM_LICENSE_TOPIC.into(),
        payload: json!({
            "event": event,
            "license_id": license_id,
            "version": version,
            "type_code": license_id.type_code(),
            "issuer": issuer,
        }),
    }
}

impl Library {
    /// The `status` member of a schema-2 payload for `index`.
    pub(super) fn status_entry(&self, index: i64) -> Value {
        crate::status_list::status_entry(
            &self.status_lists_url(crate::status_list::StatusPurpose::Message),
            index,
        )
    }

    /// Sign a statement with `issuer`'s active key. Returns the canonical
    /// text that was signed, the DER signature, the key's id, and `face` back.
    pub(super) async fn sign(
        &self,
        issuer: &Org,
        statement: &Statement<'_>,
        face: Value,
    ) -> Result<(String, Vec<u8>, uuid::Uuid, Value)> {
        let key = self.signer_for(issuer).await?;
        let mut payload = statement.payload(face);
        let text = zhengzhao_crypto::canonical_json_value(&payload)
            .map_err(|e| Error::Internal(e.to_string()))?;
        // ~0.1 ms of CPU: signed in place on the runtime's worker threads (one
        // per core), which is where requests already run in parallel; a
        // hand-off to the blocking pool costs more than it saves.
        let sig = key
            .pair
            .sign(text.as_bytes())
            .map_err(|e| Error::Internal(e.to_string()))?;
        let face = payload
            .as_object_mut()
            .and_then(|fields| fields.remove("face"))
            .unwrap_or(Value::Null);
        Ok((text, sig, key.id, face))
    }
}
