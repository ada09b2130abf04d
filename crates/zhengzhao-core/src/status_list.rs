//! Offline verification: signed status lists in the W3C Bitstring Status
//! List shape, which a verifier fetches and checks without telling the
//! library which license it checks.
//!
//! **Per version (issue 11).** Every license version has its own status
//! index, reserved before it is signed and signed into its payload (document
//! schema `zhengzhao.license/2`, member `status`). Three lists share that
//! index (`/api/v1/status-lists/{purpose}`):
//! - `message`, 2 bits an entry: 0 valid, 1 superseded (an update replaced
//!   the version), 2 revoked, 3 under objection — what the SM2 document
//!   names;
//! - `revocation`, 1 bit: the version is no longer in force (revoked or
//!   superseded) — for W3C verifiers, which know revocation and suspension;
//! - `suspension`, 1 bit: under objection (reversible).
//!
//! Each list carries `validFrom` and `validUntil` inside what is signed: a
//! verifier refuses a list past `validUntil`, so a list saved before a
//! revocation cannot be replayed for longer than [`LIST_VALIDITY`].
//!
//! **Schema 1 documents** (before issue 11) name the license's key in the
//! older one-bit revocation list at `/api/v1/status-list`, still served.
//!
//! Entry `i` of `s` bits is bits `i*s .. i*s+s` counting from the most
//! significant bit of the first byte, as the W3C recommendation orders
//! them. A list has at least 131,072 entries, the recommendation's floor
//! for herd privacy.

use super::Library;
use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use utoipa::ToSchema;
use zhengzhao_domain::org::{OrgCode, REGION_CODE};

/// Entries in the smallest list.
pub const MIN_BITS: usize = 131_072;
/// A list is rebuilt at most this often, and at once after a change here.
const LIST_TTL: Duration = Duration::from_secs(60);
/// How long a list stays valid after it was built (its signed `validUntil`).
pub const LIST_VALIDITY: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
/// What verifiers are asked to wait at most before fetching again (ms, W3C `ttl`).
const LIST_TTL_HINT_MS: u64 = 300_000;
/// Status indexes reserved from the store at a time (a restart leaves the
/// unused rest of a block as a gap, which costs nothing but list length).
const INDEX_BLOCK: u32 = 256;

/// The 2-bit states of the `message` list.
pub const STATE_VALID: u8 = 0;
pub const STATE_SUPERSEDED: u8 = 1;
pub const STATE_REVOKED: u8 = 2;
/// Set by the objections workflow (Art. 19) while an objection is open.
pub const STATE_UNDER_OBJECTION: u8 = 3;

/// What a list says about its entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPurpose {
    Message,
    Revocation,
    Suspension,
}

impl StatusPurpose {
    pub const ALL: [StatusPurpose; 3] = [Self::Message, Self::Revocation, Self::Suspension];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Revocation => "revocation",
            Self::Suspension => "suspension",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Bits an entry takes.
    pub fn size(self) -> usize {
        match self {
            Self::Message => 2,
            Self::Revocation | Self::Suspension => 1,
        }
    }
}

/// The `status` member signed into a schema-2 document: a W3C
/// `BitstringStatusListEntry` of the `message` list.
pub fn status_entry(list_url: &str, index: i64) -> Value {
    json!({
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": index.to_string(),
        "statusSize": 2,
        "statusMessage": [
            {"status": "0x0", "message": "valid"},
            {"status": "0x1", "message": "superseded"},
            {"status": "0x2", "message": "revoked"},
            {"status": "0x3", "message": "under_objection"},
        ],
        "statusListCredential": list_url,
    })
}

/// A signed list: the credential, an SM2 signature by the region over its
/// RFC 8785 canonical form, and the certificate to check it with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusListView {
    #[schema(value_type = Object)]
    pub credential: Value,
    /// The RFC 8785 canonical text of `credential`, byte for byte what was
    /// signed: verify the signature over this, then read it.
    pub payload: String,
    /// Base64 of the DER SM2-with-SM3 signature over `payload`.
    pub signature: String,
    pub certificate: String,
}

/// The per-version lists as of one moment, encoded (gzip, multibase
/// base64url), with their validity window.
#[derive(Debug)]
pub struct StatusLists {
    pub valid_from: jiff::Timestamp,
    pub valid_until: jiff::Timestamp,
    pub message: String,
    pub revocation: String,
    pub suspension: String,
    signed: Vec<(StatusPurpose, Arc<StatusListView>)>,
}

impl StatusLists {
    pub fn encoded(&self, purpose: StatusPurpose) -> &str {
        match purpose {
            StatusPurpose::Message => &self.message,
            StatusPurpose::Revocation => &self.revocation,
            StatusPurpose::Suspension => &self.suspension,
        }
    }

    /// The SM2-signed form of one list.
    pub fn signed(&self, purpose: StatusPurpose) -> Result<Arc<StatusListView>> {
        self.signed
            .iter()
            .find(|(p, _)| *p == purpose)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| Error::Internal(format!("no {} list", purpose.as_str())))
    }
}

#[derive(Default)]
pub struct StatusListCache {
    /// The schema-1 list (by license key).
    list: Mutex<Option<(Instant, Arc<StatusListView>)>>,
    lists: Mutex<Option<(Instant, Arc<StatusLists>)>>,
    /// Reserved, not yet used status indexes: `next..end`.
    indexes: tokio::sync::Mutex<std::ops::Range<i64>>,
}

/// A list of `entries` entries of `size` bits, with `set` entries given
/// their values, gzip-compressed, multibase base64url.
pub fn encode_entries(entries: usize, size: usize, set: &[(i64, u8)]) -> Result<String> {
    let mut bytes = vec![0u8; (entries * size).div_ceil(8)];
    for &(i, value) in set {
        let Ok(i) = usize::try_from(i) else { continue };
        if i >= entries {
            continue;
        }
        for b in 0..size {
            // Bit b of the entry, most significant first.
            if value >> (size - 1 - b) & 1 == 1 {
                let bit = i * size + b;
                if let Some(byte) = bytes.get_mut(bit / 8) {
                    *byte |= 0x80 >> (bit % 8);
                }
            }
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let packed = gz.finish().map_err(|e| Error::Internal(e.to_string()))?;
    Ok(format!("u{}", URL_SAFE_NO_PAD.encode(packed)))
}

/// A `BitstringStatusListCredential` at `url` by `issuer`, without proof:
/// the body both signed forms share (SM2 over its canonical text here, an
/// eddsa-jcs-2022 proof in `vc.rs`), each writing the times its way.
pub fn list_credential(
    url: &str,
    issuer: &str,
    purpose: &str,
    encoded_list: &str,
    valid_from: String,
    valid_until: String,
) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialSubject": {
            "id": format!("{url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "ttl": LIST_TTL_HINT_MS,
            "encodedList": encoded_list,
        }
    })
}

/// The one-bit list with these bits set.
pub fn encode_bits(len: usize, set: &[i64]) -> Result<String> {
    let set: Vec<(i64, u8)> = set.iter().map(|&i| (i, 1)).collect();
    encode_entries(len, 1, &set)
}

/// Entries for `needed` indexes: a whole number of the minimum list.
fn list_len(needed: i64) -> usize {
    usize::try_from(needed)
        .unwrap_or(0)
        .div_ceil(MIN_BITS)
        .max(1)
        * MIN_BITS
}

impl Library {
    /// The schema-1 list (one bit per license key).
    pub fn status_list_url(&self) -> String {
        self.urls.status_list()
    }

    /// The SM2-signed per-version list of `purpose`.
    pub fn status_lists_url(&self, purpose: StatusPurpose) -> String {
        self.urls.status_lists(purpose.as_str())
    }

    /// The next status index for a new version.
    pub(crate) async fn next_status_index(&self) -> Result<i64> {
        let mut free = self.status_list.indexes.lock().await;
        if free.is_empty() {
            let first = self.store.reserve_status_indexes(INDEX_BLOCK).await?;
            *free = first..first + i64::from(INDEX_BLOCK);
        }
        let next = free.start;
        free.start += 1;
        Ok(next)
    }

    /// Forget the built lists (after a revocation or an update).
    pub(crate) fn status_list_changed(&self) {
        if let Ok(mut l) = self.status_list.list.lock() {
            *l = None;
        }
        if let Ok(mut l) = self.status_list.lists.lock() {
            *l = None;
        }
    }

    /// A credential of a status list, signed by the region with SM2.
    async fn sign_list(
        &self,
        url: &str,
        purpose: &str,
        encoded: String,
        valid_from: jiff::Timestamp,
        valid_until: jiff::Timestamp,
    ) -> Result<Arc<StatusListView>> {
        let region = OrgCode::parse(REGION_CODE).map_err(|e| Error::Internal(e.to_string()))?;
        // The region, named as in its credentials (its controller document).
        let credential = list_credential(
            url,
            &self.vc_controller_id(&region),
            purpose,
            &encoded,
            valid_from.to_string(),
            valid_until.to_string(),
        );
        let text = zhengzhao_crypto::canonical_json_value(&credential)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let (signature, certificate) = self.sign_as_region(text.as_bytes()).await?;
        Ok(Arc::new(StatusListView {
            credential,
            payload: text,
            signature,
            certificate,
        }))
    }

    /// The schema-1 list: one bit per license key, set when revoked.
    pub async fn status_list(&self) -> Result<Arc<StatusListView>> {
        if let Ok(l) = self.status_list.list.lock()
            && let Some((at, view)) = l.as_ref()
            && at.elapsed() < LIST_TTL
        {
            return Ok(view.clone());
        }
        let (max, revoked) = self.store.license_status_summary().await?;
        let encoded = encode_bits(list_len(max + 1), &revoked)?;
        let from = self.now();
        let view = self
            .sign_list(
                &self.status_list_url(),
                "revocation",
                encoded,
                from,
                from + LIST_VALIDITY,
            )
            .await?;
        if let Ok(mut l) = self.status_list.list.lock() {
            *l = Some((Instant::now(), view.clone()));
        }
        Ok(view)
    }

    /// The per-version lists, built from the store at most every minute
    /// and at once after a change.
    pub async fn status_lists(&self) -> Result<Arc<StatusLists>> {
        if let Ok(l) = self.status_list.lists.lock()
            && let Some((at, lists)) = l.as_ref()
            && at.elapsed() < LIST_TTL
        {
            return Ok(lists.clone());
        }
        let summary = self.store.version_status_summary().await?;
        let entries = list_len(summary.next_index);
        let mut states: Vec<(i64, u8)> = summary
            .superseded
            .iter()
            .map(|&i| (i, STATE_SUPERSEDED))
            .chain(summary.revoked.iter().map(|&i| (i, STATE_REVOKED)))
            .collect();
        // Under objection (Art. 19): a current version in force only; a
        // superseded or revoked one says that instead.
        let flagged = self.store.flagged_status_indexes().await?;
        let mut taken: std::collections::HashSet<i64> = states.iter().map(|&(i, _)| i).collect();
        states.sort_unstable();
        let not_in_force: Vec<i64> = states.iter().map(|&(i, _)| i).collect();
        for &i in &flagged {
            if taken.insert(i) {
                states.push((i, STATE_UNDER_OBJECTION));
            }
        }
        states.sort_unstable();
        let valid_from = self.now();
        let valid_until = valid_from + LIST_VALIDITY;
        let message = encode_entries(entries, 2, &states)?;
        let revocation = encode_bits(entries, &not_in_force)?;
        let suspension = encode_bits(entries, &flagged)?;
        let mut signed = Vec::with_capacity(3);
        for (purpose, encoded) in [
            (StatusPurpose::Message, &message),
            (StatusPurpose::Revocation, &revocation),
            (StatusPurpose::Suspension, &suspension),
        ] {
            let view = self
                .sign_list(
                    &self.status_lists_url(purpose),
                    purpose.as_str(),
                    encoded.clone(),
                    valid_from,
                    valid_until,
                )
                .await?;
            signed.push((purpose, view));
        }
        let lists = Arc::new(StatusLists {
            valid_from,
            valid_until,
            message,
            revocation,
            suspension,
            signed,
        });
        if let Ok(mut l) = self.status_list.lists.lock() {
            *l = Some((Instant::now(), lists.clone()));
        }
        Ok(lists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn bits_count_from_the_left_of_the_first_byte() {
        let text = encode_bits(MIN_BITS, &[0, 9, 131_071, 131_072, -1]).unwrap();
        let packed = URL_SAFE_NO_PAD
            .decode(text.strip_prefix('u').unwrap())
            .unwrap();
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len(), MIN_BITS / 8);
        assert_eq!(bytes[0], 0x80);
        assert_eq!(bytes[1], 0x40);
        assert_eq!(bytes[MIN_BITS / 8 - 1], 0x01);
        assert_eq!(bytes.iter().map(|b| b.count_ones()).sum::<u32>(), 3);
    }

    #[test]
    fn two_bit_entries_are_most_significant_bit_first() {
        let text =
            encode_entries(MIN_BITS, 2, &[(0, 1), (1, 2), (2, 3), (MIN_BITS as i64, 3)]).unwrap();
        let packed = URL_SAFE_NO_PAD
            .decode(text.strip_prefix('u').unwrap())
            .unwrap();
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut bytes)
            .unwrap();
        assert_eq!(bytes.len(), MIN_BITS * 2 / 8);
        // 01 10 11 00
        assert_eq!(bytes[0], 0b0110_1100);
        assert!(bytes[1..].iter().all(|&b| b == 0));
    }
}
