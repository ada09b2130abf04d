//! Personal data at rest and on output (Art. 22: protection of personal
//! privacy).
//!
//! **At rest.** Face fields the catalog marks `personal` are sealed before a
//! version is stored: each value becomes `zzenc:v1:<key id>:<base64>`, the
//! SM4-GCM encryption of its JSON text under a data key, with the license
//! identifier and field name as associated data (so a sealed value cannot be
//! moved to another license or field). The same sealed values replace the
//! plain ones in the stored payload text. Reading opens them again and
//! re-canonicalises the payload, which gives back, byte for byte, the text
//! that was signed (RFC 8785 output is a fixed point of parse + canonicalise).
//! A natural person's name and resident id as holder are sealed the same
//! way; the holder id column keeps a blind index (HMAC-SM3 under a key
//! derived from the master key) so the holder filter still works.
//! Someone with the database and not the master key sees no personal field.
//!
//! **Keys.** Data keys live in the `data_keys` table, wrapped under the
//! master key. The newest seals new data; older ones stay to open what they
//! sealed. `zhengzhao keys rotate-data-key` starts a new one.
//!
//! **On output.** Only the issuing org's clerks and objection handlers see
//! personal fields in full; other readers get them masked, and may not fetch
//! the signed document or PDF of a version that has them (a masked document
//! could not verify, and an unmasked one would disclose).

use super::{Actor, Library};
use crate::Principal;
use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zhengzhao_crypto::keywrap::MasterKey;
use zhengzhao_domain::catalog::LicenseTypeVersion;
use zhengzhao_domain::face::{is_reserved, reserved_error};
use zhengzhao_domain::role::Role;
use zhengzhao_store::{ChangeLog, DataKeyRecord, LicenseRecord, LicenseVersionRecord};

pub const SEALED_PREFIX: &str = "zzenc:v1:";
/// A resident id's blind index, stored in its place.
pub const HOLDER_INDEX_PREFIX: &str = "zzidx:v1:";
/// What is shown in place of a sealed value that does not open.
pub const UNREADABLE_VALUE: &str = "[unreadable 无法读取]";
/// How long a process trusts its copy of the key list (another process,
/// e.g. the CLI, may have rotated).
const KEYRING_TTL: Duration = Duration::from_secs(60);

/// The unwrapped data keys, oldest first.
pub(crate) struct DataKeyring {
    keys: Vec<(uuid::Uuid, MasterKey)>,
    loaded: Instant,
}

impl DataKeyring {
    fn active(&self) -> Option<&(uuid::Uuid, MasterKey)> {
        self.keys.last()
    }

    fn get(&self, id: uuid::Uuid) -> Option<&MasterKey> {
        self.keys.iter().find(|(k, _)| *k == id).map(|(_, key)| key)
    }
}

pub(crate) fn wrap_aad(id: uuid::Uuid) -> Vec<u8> {
    format!("data-key:{id}").into_bytes()
}

fn field_aad(license_id: &str, field: &str) -> Vec<u8> {
    format!("face:{license_id}/{field}").into_bytes()
}

fn holder_aad(license_id: &str, part: &str) -> Vec<u8> {
    format!("holder:{license_id}/{part}").into_bytes()
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

/// Whether any string in `v` takes the reserved sealed form (no allocation:
/// this runs on every issue and update).
fn has_reserved(v: &Value) -> bool {
    match v {
        Value::String(s) => is_reserved(s),
        Value::Array(items) => items.iter().any(has_reserved),
        Value::Object(map) => map.values().any(has_reserved),
        _ => false,
    }
}

/// Paths (`face/a/0`) of the strings in `v` that take the reserved sealed form.
pub fn find_reserved(v: &Value, path: &str, out: &mut Vec<String>) {
    // Paths are built only when there is something to name.
    if !has_reserved(v) {
        return;
    }
    match v {
        Value::String(s) if is_reserved(s) => out.push(path.to_owned()),
        Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                find_reserved(x, &format!("{path}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, x) in map {
                find_reserved(x, &format!("{path}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// The names of a catalog version's personal fields.
pub fn personal_fields(t: &LicenseTypeVersion) -> Vec<&str> {
    t.spec
        .draft()
        .face_fields
        .iter()
        .filter(|f| f.personal)
        .map(|f| f.name.as_str())
        .collect()
}

/// Mask a personal value for display: keep about a quarter at each end.
pub fn mask_value(v: &Value) -> Value {
    let Some(s) = v.as_str() else {
        return if v.is_null() {
            Value::Null
        } else {
            json!("***")
        };
    };
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n <= 1 {
        return json!("*");
    }
    let keep = (n / 4).max(1);
    let (head, tail) = if n <= 3 { (1, 0) } else { (keep, keep) };
    let masked: String = chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect();
    json!(masked)
}

/// [`mask_value`] of a text, as text.
pub fn mask_text(s: &str) -> String {
    mask_value(&json!(s))
        .as_str()
        .map(str::to_owned)
        .unwrap_or_default()
}

/// A page of licenses, opened, and the ones that could not be.
#[derive(Debug, Default)]
pub struct OpenedPage {
    /// The licenses that opened, in list order.
    pub licenses: Vec<LicenseRecord>,
    /// Identifiers (of the version that failed) of the licenses left out
    /// because their stored data cannot be read.
    pub unreadable: Vec<String>,
    /// The cursor after this page (its last license, readable or not).
    pub next_before: Option<i64>,
    /// The store gave as many licenses as asked: there may be more.
    pub full: bool,
}

impl Library {
    /// The data keys, loaded (and, with `need_active`, created) on demand.
    pub(crate) async fn data_keyring(&self, need_active: bool) -> Result<Arc<DataKeyring>> {
        let mut slot = self.data_keys.lock().await;
        if let Some(ring) = slot.as_ref()
            && ring.loaded.elapsed() < KEYRING_TTL
            && (!need_active || ring.active().is_some())
        {
            return Ok(ring.clone());
        }
        let master = self.master_key()?;
        let mut records = self.store.data_keys().await?;
        if records.is_empty() && need_active {
            records.push(self.new_data_key(&Actor::system()).await?);
        }
        let keys = records
            .iter()
            .map(|r| {
                let raw = master
                    .decrypt(&wrap_aad(r.id), &r.wrapped_key)
                    .map_err(internal)?;
                let bytes: [u8; 16] = raw
                    .try_into()
                    .map_err(|_| internal(format!("data key {} has the wrong length", r.id)))?;
                Ok((r.id, MasterKey::from_bytes(bytes)))
            })
            .collect::<Result<Vec<_>>>()?;
        let ring = Arc::new(DataKeyring {
            keys,
            loaded: Instant::now(),
        });
        *slot = Some(ring.clone());
        Ok(ring)
    }

    async fn new_data_key(&self, actor: &Actor) -> Result<DataKeyRecord> {
        let key = MasterKey::generate().map_err(internal)?;
        let id = uuid::Uuid::now_v7();
        let wrapped = self
            .master_key()?
            .encrypt(&wrap_aad(id), &key.to_bytes())
            .map_err(internal)?;
        let rec = DataKeyRecord {
            id,
            wrapped_key: wrapped,
            created_at: self.now(),
        };
        let log = ChangeLog::audit_only(self.audit_event(
            actor,
            "data_key.create",
            format!("data_key:{id}"),
            json!({"fingerprint": key.fingerprint()}),
        ));
        self.store.add_data_key(&rec, &log).await?;
        Ok(rec)
    }

    /// Start a new data key: new personal data is sealed with it from now on
    /// (other processes pick it up within a minute).
    pub async fn rotate_data_key(&self, actor: &Actor) -> Result<uuid::Uuid> {
        let rec = self.new_data_key(actor).await?;
        *self.data_keys.lock().await = None;
        Ok(rec.id)
    }

    /// Seal the personal fields of a version about to be stored: the face
    /// fields the catalog marks personal, and a natural person's name and
    /// resident id as holder (whose id column then holds a blind index, so
    /// the holder filter still finds it).
    pub(crate) async fn seal_version(
        &self,
        t: &LicenseTypeVersion,
        mut v: LicenseVersionRecord,
    ) -> Result<LicenseVersionRecord> {
        // The sealed form is reserved in every field: a value that looked
        // sealed would be "opened" on every read, and fail. The use cases
        // refuse it while validating; this is the last line before storage.
        let mut reserved = Vec::new();
        find_reserved(&v.face, "face", &mut reserved);
        for (part, value) in [("holder/name", &v.holder.name), ("holder/id", &v.holder.id)] {
            if is_reserved(value) {
                reserved.push(part.to_owned());
            }
        }
        if !reserved.is_empty() {
            return Err(Error::Validation(
                reserved.into_iter().map(reserved_error).collect(),
            ));
        }
        let personal = personal_fields(t);
        let person = v.holder.id_type == "resident_id";
        if personal.is_empty() && !person {
            return Ok(v);
        }
        let ring = self.data_keyring(true).await?;
        let (key_id, key) = ring.active().ok_or_else(|| internal("no data key"))?;
        let seal = |value: &Value, aad: &[u8]| -> Result<Value> {
            let text = serde_json::to_vec(value).map_err(internal)?;
            let blob = key.encrypt(aad, &text).map_err(internal)?;
            Ok(Value::String(format!(
                "{SEALED_PREFIX}{key_id}:{}",
                B64.encode(blob)
            )))
        };
        let mut payload: Value = serde_json::from_str(&v.payload).map_err(internal)?;
        let id = v.license_id.to_string();
        for name in personal {
            let Some(value) = v.face.get(name).filter(|x| !x.is_null()) else {
                continue;
            };
            let sealed = seal(value, &field_aad(&id, name))?;
            if let Some(slot) = v.face.get_mut(name) {
                *slot = sealed.clone();
            }
            if let Some(slot) = payload.get_mut("face").and_then(|f| f.get_mut(name)) {
                *slot = sealed;
            }
        }
        if person {
            for part in ["name", "id"] {
                if let Some(slot) = payload.get_mut("holder").and_then(|h| h.get_mut(part)) {
                    *slot = seal(slot, &holder_aad(&id, part))?;
                }
            }
            v.holder.name = payload["holder"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            v.holder.id = self.holder_index(&v.holder.id)?;
        }
        v.payload = zhengzhao_crypto::canonical_json_value(&payload).map_err(internal)?;
        Ok(v)
    }

    /// The blind index stored (and searched) in place of a resident id:
    /// HMAC-SM3 under a key derived from the master key, so equal ids match
    /// and nobody without the master key can test a guess.
    pub fn holder_index(&self, resident_id: &str) -> Result<String> {
        use hmac::{KeyInit, Mac};
        let master = self.master_key()?;
        let key = zhengzhao_crypto::sm3(
            &[b"zhengzhao holder index v1".as_slice(), &master.to_bytes()].concat(),
        );
        let mut mac = hmac::Hmac::<sm3::Sm3>::new_from_slice(&key).map_err(internal)?;
        mac.update(resident_id.trim().to_ascii_uppercase().as_bytes());
        Ok(format!(
            "{HOLDER_INDEX_PREFIX}{}",
            hex::encode(mac.finalize().into_bytes())
        ))
    }

    /// Seal a value under the active data key, bound to `aad` (where it is
    /// kept): e.g. an objection's applicant and statement.
    pub(crate) async fn seal_json(&self, aad: &[u8], value: &Value) -> Result<String> {
        let ring = self.data_keyring(true).await?;
        let (key_id, key) = ring.active().ok_or_else(|| internal("no data key"))?;
        let text = serde_json::to_vec(value).map_err(internal)?;
        let blob = key.encrypt(aad, &text).map_err(internal)?;
        Ok(format!("{SEALED_PREFIX}{key_id}:{}", B64.encode(blob)))
    }

    /// Open what [`Self::seal_json`] sealed under the same `aad`.
    pub(crate) async fn open_json(&self, aad: &[u8], sealed: &str) -> Result<Value> {
        let unreadable = |why: &str| internal(format!("a sealed value does not open: {why}"));
        let (key_id, b64) = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|r| r.split_once(':'))
            .ok_or_else(|| unreadable("malformed"))?;
        let key_id = uuid::Uuid::parse_str(key_id).map_err(|_| unreadable("malformed key id"))?;
        let mut ring = self.data_keyring(false).await?;
        if ring.get(key_id).is_none() {
            *self.data_keys.lock().await = None;
            ring = self.data_keyring(false).await?;
        }
        let key = ring
            .get(key_id)
            .ok_or_else(|| unreadable("unknown data key"))?;
        let blob = B64.decode(b64).map_err(|_| unreadable("not base64"))?;
        let text = key
            .decrypt(aad, &blob)
            .map_err(|e| unreadable(&e.to_string()))?;
        serde_json::from_slice(&text).map_err(|e| unreadable(&e.to_string()))
    }

    /// Open a stored version's sealed values: face, holder and payload as
    /// signed. A value that does not open (its data key is unknown, or it
    /// does not decrypt under the key and place it names) is
    /// [`Error::Unreadable`], naming the license: that license alone.
    pub(crate) async fn open_version(&self, v: &mut LicenseVersionRecord) -> Result<()> {
        self.open_sealed(v, false).await
    }

    /// Like [`Self::open_version`], but a value that does not open is
    /// replaced by [`UNREADABLE_VALUE`] (for showing what can still be
    /// shown, e.g. the answer to revoking such a license). The payload
    /// then stays as stored.
    pub(crate) async fn open_version_lossy(&self, v: &mut LicenseVersionRecord) -> Result<()> {
        self.open_sealed(v, true).await
    }

    async fn open_sealed(&self, v: &mut LicenseVersionRecord, lossy: bool) -> Result<()> {
        if !v.payload.contains(SEALED_PREFIX) {
            return Ok(());
        }
        let id = v.license_id.to_string();
        let unreadable = |reason: String| Error::Unreadable {
            license: id.clone(),
            reason,
        };
        let mut payload: Value = match serde_json::from_str(&v.payload) {
            Ok(p) => p,
            // Shown as stored: nothing in it opens.
            Err(_) if lossy => return Ok(()),
            Err(e) => return Err(unreadable(format!("the stored payload is not JSON: {e}"))),
        };
        let mut ring = self.data_keyring(false).await?;
        let mut sealed: Vec<(&mut Value, Vec<u8>)> = Vec::new();
        let (face, holder) = match payload.as_object_mut() {
            Some(p) => {
                let mut face = None;
                let mut holder = None;
                for (k, val) in p.iter_mut() {
                    match k.as_str() {
                        "face" => face = Some(val),
                        "holder" => holder = Some(val),
                        _ => {}
                    }
                }
                (face, holder)
            }
            None => (None, None),
        };
        if let Some(f) = face.and_then(Value::as_object_mut) {
            for (name, value) in f.iter_mut() {
                let aad = field_aad(&id, name);
                sealed.push((value, aad));
            }
        }
        if let Some(h) = holder.and_then(Value::as_object_mut) {
            for (part, value) in h.iter_mut() {
                let aad = holder_aad(&id, part);
                sealed.push((value, aad));
            }
        }
        let mut damaged = false;
        for (value, aad) in sealed {
            let Some(rest) = value.as_str().and_then(|s| s.strip_prefix(SEALED_PREFIX)) else {
                continue;
            };
            let Some((key_id, b64)) = rest.split_once(':') else {
                if lossy {
                    *value = json!(UNREADABLE_VALUE);
                    damaged = true;
                    continue;
                }
                return Err(unreadable("a sealed value is malformed".into()));
            };
            let key_id = uuid::Uuid::parse_str(key_id).ok();
            if key_id.is_some_and(|k| ring.get(k).is_none()) {
                // Made by another process since we loaded: look again.
                *self.data_keys.lock().await = None;
                ring = self.data_keyring(false).await?;
            }
            let opened = match key_id.and_then(|k| ring.get(k).map(|key| (k, key))) {
                None => Err(format!(
                    "a sealed value names data key {}, which is unknown",
                    key_id
                        .map(|k| k.to_string())
                        .unwrap_or_else(|| "(malformed)".into())
                )),
                Some((k, key)) => B64
                    .decode(b64)
                    .map_err(|e| e.to_string())
                    .and_then(|blob| key.decrypt(&aad, &blob).map_err(|e| e.to_string()))
                    .and_then(|text| {
                        serde_json::from_slice::<Value>(&text).map_err(|e| e.to_string())
                    })
                    .map_err(|e| format!("a sealed value does not open under data key {k}: {e}")),
            };
            match opened {
                Ok(plain) => *value = plain,
                Err(_) if lossy => {
                    *value = json!(UNREADABLE_VALUE);
                    damaged = true;
                }
                Err(reason) => return Err(unreadable(reason)),
            }
        }
        if !damaged {
            v.payload = zhengzhao_crypto::canonical_json_value(&payload).map_err(internal)?;
        }
        v.face = payload.get("face").cloned().unwrap_or(Value::Null);
        if let Some(h) = payload.get("holder") {
            if let Some(name) = h.get("name").and_then(Value::as_str) {
                v.holder.name = name.to_owned();
            }
            if let Some(hid) = h.get("id").and_then(Value::as_str) {
                v.holder.id = hid.to_owned();
            }
        }
        Ok(())
    }

    pub(crate) async fn open_license(&self, mut l: LicenseRecord) -> Result<LicenseRecord> {
        for v in &mut l.versions {
            self.open_version(v).await?;
        }
        Ok(l)
    }

    /// [`Self::open_license`], showing what does not open as [`UNREADABLE_VALUE`].
    pub(crate) async fn open_license_lossy(&self, mut l: LicenseRecord) -> Result<LicenseRecord> {
        for v in &mut l.versions {
            self.open_version_lossy(v).await?;
        }
        Ok(l)
    }

    /// A page of the license list, opened; a license that cannot be read is
    /// logged and left out (see [`Self::open_page`] to learn which).
    pub async fn licenses_page(
        &self,
        filter: &zhengzhao_store::LicenseFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LicenseRecord>> {
        Ok(self.open_page(filter, before, limit).await?.licenses)
    }

    /// A page of the license list, opened. One license whose stored data
    /// cannot be read never breaks the page: it is logged, named in
    /// `unreadable` and left out, and the page goes on.
    pub async fn open_page(
        &self,
        filter: &zhengzhao_store::LicenseFilter,
        before: Option<i64>,
        limit: u32,
    ) -> Result<OpenedPage> {
        let page = self.store.licenses(filter, before, limit).await?;
        let mut out = OpenedPage {
            full: page.len() >= limit as usize,
            next_before: page.last().map(|l| l.key),
            licenses: Vec::with_capacity(page.len()),
            unreadable: Vec::new(),
        };
        for l in page {
            match self.open_license(l).await {
                Ok(l) => out.licenses.push(l),
                Err(Error::Unreadable { license, reason }) => {
                    tracing::error!(license = %license, reason = %reason, "a license's stored data cannot be read: left out");
                    out.unreadable.push(license);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Record a read (Art. 21: every use of a license is on the record):
    /// who read which license, how, and whether personal fields were shown
    /// in full. Written before the answer is sent.
    pub async fn record_read(
        &self,
        caller: &Principal,
        action: &str,
        target: String,
        detail: Value,
    ) -> Result<()> {
        let log =
            ChangeLog::audit_only(self.audit_event(&Actor::from(caller), action, target, detail));
        self.store.record_event(&log).await?;
        Ok(())
    }

    /// A version handed out whole (signed document, PDF, credential): the
    /// caller may read the license and see its personal fields, and the read
    /// is recorded as `action` before anything is answered. Returns the
    /// license and the index of the version `raw_id` names.
    pub async fn disclose_version(
        &self,
        caller: &Principal,
        raw_id: &str,
        action: &str,
    ) -> Result<(LicenseRecord, usize)> {
        let (rec, asked) = self.find_license(raw_id).await?;
        self.require_reader(caller, &rec).await?;
        let index = rec
            .versions
            .iter()
            .position(|v| v.license_id == asked)
            .ok_or_else(|| Error::NotFound(format!("license {asked}")))?;
        self.require_full_disclosure(caller, &rec, &rec.versions[index])
            .await?;
        self.record_read(
            caller,
            action,
            format!("license:{asked}"),
            Self::read_detail(caller, &rec),
        )
        .await?;
        Ok((rec, index))
    }

    /// What a read event says besides who and which: whether personal
    /// fields were shown in full.
    pub fn read_detail(caller: &Principal, rec: &LicenseRecord) -> Value {
        json!({"personal_data": if Self::sees_personal_data(caller, rec) { "full" } else { "masked" }})
    }

    /// Does the caller see personal fields of `l` in full?
    pub fn sees_personal_data(caller: &Principal, l: &LicenseRecord) -> bool {
        (caller.has(Role::IssuerClerk) && caller.org == l.issuer)
            || caller.has(Role::ObjectionHandler)
    }

    /// Mask the personal fields of `face` (of a version of type `t`), and
    /// any other field whose value equals a personal one (an individual
    /// business's name that is its operator's name).
    pub fn mask_face(t: &LicenseTypeVersion, face: &mut Value) {
        let values = personal_values(t, face);
        let personal = personal_fields(t);
        if let Some(map) = face.as_object_mut() {
            for (name, v) in map.iter_mut() {
                let equal = v
                    .as_str()
                    .is_some_and(|s| values.iter().any(|p| p == s.trim()));
                if personal.contains(&name.as_str()) || equal {
                    *v = mask_value(v);
                }
            }
        }
    }

    /// Refuse the signed document, PDF or credential of a version that holds
    /// personal data (a natural person as holder, or a personal face field)
    /// to a caller who may only see it masked: a masked document could not
    /// verify, and an unmasked one would disclose.
    pub async fn require_full_disclosure(
        &self,
        caller: &Principal,
        l: &LicenseRecord,
        v: &LicenseVersionRecord,
    ) -> Result<()> {
        if Self::sees_personal_data(caller, l) {
            return Ok(());
        }
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        if holds_personal_data(t.as_deref(), v) {
            return Err(Error::Forbidden(
                "this license holds personal data: only the issuing org's clerks and objection handlers may have the full document".into(),
            ));
        }
        Ok(())
    }
}

/// Does version `v` (of catalog version `t`) hold personal data: a natural
/// person as holder (name and resident id), or a face field the catalog
/// marks personal? An unknown catalog version counts as personal.
pub fn holds_personal_data(t: Option<&LicenseTypeVersion>, v: &LicenseVersionRecord) -> bool {
    v.holder.id_type == "resident_id" || t.is_none_or(|t| !personal_fields(t).is_empty())
}

/// The values of `face`'s personal fields, trimmed, non-empty.
fn personal_values(t: &LicenseTypeVersion, face: &Value) -> Vec<String> {
    personal_fields(t)
        .into_iter()
        .filter_map(|name| face.get(name).and_then(Value::as_str))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The holder's name for a reader who sees personal data masked (and for
/// the public): a natural person's name masked, and an organisation's name
/// masked too when it equals a personal face value (an individual business,
/// 个体工商户, named after its operator).
pub fn masked_holder_name(t: Option<&LicenseTypeVersion>, v: &LicenseVersionRecord) -> String {
    let name = v.holder.name.trim();
    let personal = v.holder.id_type == "resident_id"
        || t.is_some_and(|t| personal_values(t, &v.face).iter().any(|p| p == name));
    if personal {
        mask_text(&v.holder.name)
    } else {
        v.holder.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_the_ends_only() {
        assert_eq!(mask_value(&json!("张三")), json!("张*"));
        assert_eq!(mask_value(&json!("王小明")), json!("王**"));
        assert_eq!(
            mask_value(&json!("150102199003071234")),
            json!("1501**********1234")
        );
        assert_eq!(mask_value(&json!("13800138000")), json!("13*******00"));
        assert_eq!(mask_value(&json!(42)), json!("***"));
        assert_eq!(mask_value(&Value::Null), Value::Null);
    }
}
