//! Document check (issue 5 §3): anyone posts a signed document the library
//! produced (`GET /api/v1/licenses/{id}/document`) and learns whether it is
//! genuine and, if it is, whether it matches the library's record (current
//! or an older version).
//!
//! "Genuine" means: the signature verifies under one of *this library's*
//! keys for the issuer the payload names. A valid signature under some other
//! key (the certificate sent along is only a hint) is "not issued by this
//! library", not valid.
//!
//! Until the signature verifies, the answer says nothing about what the
//! library stores: no comparison with the record, no status, no field that
//! differs. (Otherwise anyone could guess a masked name or a resident id
//! field by field, with made-up signatures.) A genuine document's payload
//! is compared with the stored version; a difference then means the stored
//! row was changed, and is named.

use super::Library;
use crate::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zhengzhao_crypto::cert;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::OrgCode;

/// A signed document, as `GET /api/v1/licenses/{id}/document` gives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DocumentCheckRequest {
    /// The canonical JSON text that was signed.
    pub payload: String,
    /// Base64 of the DER SM2 signature.
    pub signature: String,
    /// The signer's certificate (PEM); optional, only a hint.
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub license_id: Option<String>,
    #[serde(default)]
    pub version: Option<u16>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentProblem {
    /// `signature`, `certificate`, `payload`, `pdf_signature` (a PDF's
    /// own signature), or a path in the payload (`payload/face/domicile`).
    pub part: String,
    pub message: String,
    pub message_zh: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentCheck {
    /// One word for what was found:
    /// `genuine_current` (signed by this library and the license's current
    /// version, not revoked; `status` still says if it has expired),
    /// `genuine_superseded` (genuine, but an update replaced this version),
    /// `genuine_revoked` (genuine, but the license is revoked),
    /// `altered` (the signature does not verify over this content: changed
    /// or forged), `not_issued_here` (signed under a key this library does
    /// not hold, or the library has no record of the license), or
    /// `genuine_status_unknown` (genuine, but the library's record cannot be
    /// read now; ask again later).
    #[schema(example = "genuine_current")]
    pub verdict: &'static str,
    /// Signed by this library and in force: the current version, not
    /// revoked, within its validity period (`verdict` and `status` say more).
    pub valid: bool,
    /// The signature verifies under this library's key for the issuer the
    /// payload names (says nothing about status).
    pub signature_valid: bool,
    pub issued_by_this_library: bool,
    /// The payload's declared schema: `zhengzhao.license/2` has its status
    /// entry inside the signature; `zhengzhao.license/1` (older documents)
    /// does not, so an offline check of its status relies on the library's
    /// lists by license key.
    pub schema: Option<String>,
    /// Whether the document's status-list entry is covered by its signature.
    pub status_signed: bool,
    pub license_id: Option<String>,
    pub version: Option<u16>,
    /// Compared only when the signature verified: `current`,
    /// `older_version`, `differs` (the library holds other content under
    /// this identifier), `unknown` (no such license) or `unreadable` (the
    /// library's record cannot be read now). `not_compared` when the
    /// signature did not verify.
    pub library_record: &'static str,
    /// The license's status in the library now, when the signature verified
    /// and the license is known.
    pub status: Option<&'static str>,
    /// For a posted PDF: whether the file's own signature covers the whole
    /// file and verifies under this library's key for the issuer (see
    /// `pdf_signature.rs`; when false, `valid` is false and a
    /// `pdf_signature` problem says why). Absent for a JSON document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf_signature_valid: Option<bool>,
    pub problems: Vec<DocumentProblem>,
    /// `copy` for an annotated copy (加注件); absent for a license's own
    /// document or file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// For a genuine copy: for whom, for what, until when, and whether it
    /// has expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy: Option<crate::copies::CopyInfo>,
}

fn problem(part: &str, en: &str, zh: &str) -> DocumentProblem {
    DocumentProblem {
        part: part.to_owned(),
        message: en.to_owned(),
        message_zh: zh.to_owned(),
    }
}

/// Paths (`payload/...`) where two JSON values differ, up to `limit`.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit || a == b {
        return;
    }
    match (a.as_object(), b.as_object()) {
        (Some(x), Some(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let (va, vb) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                differences(va, vb, &format!("{path}/{k}"), out, limit);
            }
        }
        _ => out.push(path.to_owned()),
    }
}

impl Library {
    /// The first of `org`'s keys, active or retired, under which `verifies`
    /// holds: whether this library made a signature (a document's, a PDF
    /// file's), never judged by a certificate sent along.
    pub(crate) async fn key_of_org_that_verifies(
        &self,
        org: &OrgCode,
        verifies: impl Fn(&zhengzhao_crypto::sm2sig::PublicKey) -> bool,
    ) -> Result<Option<uuid::Uuid>> {
        for k in self.store.signing_keys(Some(org)).await? {
            if let Some(pk) = self.public_key(k.id).await?
                && verifies(&pk)
            {
                return Ok(Some(k.id));
            }
        }
        Ok(None)
    }

    pub async fn check_document(&self, doc: &DocumentCheckRequest) -> Result<DocumentCheck> {
        self.count_checks(crate::check_counts::CheckWay::Document, 1);
        let mut problems = Vec::new();
        let signature = B64.decode(doc.signature.trim()).ok();
        if signature.is_none() {
            problems.push(problem("signature", "not base64", "签名不是Base64编码"));
        }
        let parsed: Option<Value> = serde_json::from_str(&doc.payload).ok();
        if parsed.is_none() {
            problems.push(problem("payload", "not JSON", "签名内容不是JSON"));
        }
        let id = parsed
            .as_ref()
            .and_then(|p| p.get("license_id"))
            .and_then(Value::as_str)
            .and_then(|s| LicenseId::parse(s).ok());
        let issuer = parsed
            .as_ref()
            .and_then(|p| p.pointer("/issuer/code"))
            .and_then(Value::as_str)
            .and_then(|s| OrgCode::parse(s).ok());
        if parsed.is_some() && (id.is_none() || issuer.is_none()) {
            problems.push(problem(
                "payload",
                "no license identifier or issuer in the payload",
                "签名内容中没有证照标识或发证机构",
            ));
        }

        // Verify under this library's keys for the issuer the payload names,
        // never under the certificate sent along. Nothing stored is opened
        // or compared before this succeeds.
        // The key of this library whose signature it is.
        let signer = match (&signature, &issuer) {
            (Some(sig), Some(org)) => {
                self.key_of_org_that_verifies(org, |pk| {
                    pk.verify(doc.payload.as_bytes(), sig).is_ok()
                })
                .await?
            }
            _ => None,
        };
        let mut issued_here = signer.is_some();
        // The signature verifies, but only under the certificate sent along.
        let mut not_ours = false;
        // A revoked (compromised) key's signature counts only for what the
        // library itself stored, signed before the revocation; nothing else
        // is compared (whoever holds the key could probe the record).
        let mut revoked_key = false;
        if let (Some(k), Some(id)) = (signer, &id)
            && let Some(revoked) = self.key_revoked_at(k).await?
        {
            // Opened: stored payloads have personal fields sealed.
            let stored = match self.store.license_by_identifier(id).await? {
                Some(l) => self
                    .open_license(l)
                    .await
                    .ok()
                    .and_then(|l| l.versions.into_iter().find(|v| &v.license_id == id)),
                None => None,
            };
            let before = stored.is_some_and(|v| {
                v.key_id == k && v.issued_at < revoked && v.payload == doc.payload
            });
            if !before {
                issued_here = false;
                revoked_key = true;
                problems.push(problem(
                    "certificate",
                    &format!("signed with a key revoked at {revoked}; this library did not sign this document before then: not genuine"),
                    &format!("签名密钥已于{revoked}吊销，本库在此之前未签发此文件：不是真实有效的电子证照"),
                ));
            }
        }
        if !issued_here && !revoked_key && signature.is_some() && issuer.is_some() {
            let under_given = doc
                .certificate
                .as_deref()
                .and_then(|pem| cert::from_pem(pem).ok())
                .and_then(|c| cert::public_key(&c).ok())
                .zip(signature.as_ref())
                .is_some_and(|(pk, sig)| pk.verify(doc.payload.as_bytes(), sig).is_ok());
            not_ours = under_given;
            if under_given {
                problems.push(problem(
                    "certificate",
                    "the signature verifies only under a key this library does not hold: not issued by this library",
                    "签名只能用非本库的密钥验证：不是本库签发的电子证照",
                ));
            } else {
                problems.push(problem(
                    "signature",
                    "the signature does not verify over this payload",
                    "签名与签名内容不符",
                ));
            }
        }

        let mut library_record = "not_compared";
        let mut status = None;
        if let (true, Some(id)) = (issued_here, &id) {
            library_record = "unknown";
            let record = match self.store.license_by_identifier(id).await? {
                Some(l) => match self.open_license(l).await {
                    Ok(l) => Some(l),
                    Err(Error::Unreadable { license, reason }) => {
                        tracing::error!(license = %license, reason = %reason, "a license's stored data cannot be read");
                        library_record = "unreadable";
                        None
                    }
                    Err(e) => return Err(e),
                },
                None => None,
            };
            if let Some(l) = &record
                && let Some(v) = l.versions.iter().find(|v| &v.license_id == id)
            {
                status = Some(super::licenses::status_of(l, v, self.today()));
                library_record = if v.payload != doc.payload {
                    // Genuine, yet not what is stored: the stored row was changed.
                    let theirs = parsed.clone().unwrap_or(Value::Null);
                    let ours: Value = serde_json::from_str(&v.payload).unwrap_or(Value::Null);
                    let mut paths = Vec::new();
                    differences(&ours, &theirs, "payload", &mut paths, 20);
                    for p in paths {
                        problems.push(problem(
                            &p,
                            "differs from the library's record",
                            "与电子证照库记录不一致",
                        ));
                    }
                    "differs"
                } else if l.current().is_some_and(|c| c.version == v.version) {
                    "current"
                } else {
                    "older_version"
                };
            }
        }
        let verdict = match (issued_here, library_record, status) {
            (false, _, _) if not_ours || revoked_key => "not_issued_here",
            (false, _, _) => "altered",
            (true, "unknown", _) => "not_issued_here",
            (true, "unreadable", _) => "genuine_status_unknown",
            (true, _, Some("revoked")) => "genuine_revoked",
            (true, _, Some("superseded")) => "genuine_superseded",
            (true, _, _) => "genuine_current",
        };
        let schema = parsed.as_ref().map(|p| {
            p.get("schema")
                .and_then(Value::as_str)
                .unwrap_or(super::licenses::SCHEMA_1)
                .to_owned()
        });
        let status_signed = issued_here
            && parsed
                .as_ref()
                .is_some_and(|p| p.pointer("/status/statusListIndex").is_some());
        Ok(DocumentCheck {
            verdict,
            valid: issued_here && library_record == "current" && status == Some("valid"),
            signature_valid: issued_here,
            issued_by_this_library: issued_here,
            schema,
            status_signed,
            license_id: id.map(|i| i.to_string()),
            version: parsed
                .as_ref()
                .and_then(|p| p.get("version"))
                .and_then(Value::as_u64)
                .and_then(|v| u16::try_from(v).ok()),
            library_record,
            status,
            pdf_signature_valid: None,
            problems,
            kind: None,
            copy: None,
        })
    }
}

/// A body that is not a document at all is a 422, not a check.
pub fn parse_request(v: Value) -> Result<DocumentCheckRequest> {
    serde_json::from_value(v).map_err(|e| {
        Error::field(
            "document",
            "shape",
            format!("expected a signed document with payload and signature: {e}"),
            "应为含payload与signature的签名文件",
        )
    })
}

/// The key the library's PDFs wrap their embedded signed document in
/// (`{"zhengzhao_signed_document": {...}}`, the whole embedded file).
pub const PDF_DOCUMENT_KEY: &str = "zhengzhao_signed_document";

/// The signed document embedded in a PDF this library produced (an
/// uncompressed embedded file), if there is one. The file's own signature
/// is checked by `Library::check_pdf` (`pdf_signature.rs`).
pub fn from_pdf(bytes: &[u8]) -> Result<DocumentCheckRequest> {
    if !bytes.starts_with(b"%PDF-") {
        return Err(Error::field(
            "document",
            "not_pdf",
            "not a PDF file",
            "不是PDF文件",
        ));
    }
    let marker = format!("{{\"{PDF_DOCUMENT_KEY}\":");
    let start = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .ok_or_else(|| {
            Error::field(
                "document",
                "no_signed_document",
                "this PDF holds no signed document of this library",
                "此PDF中没有本库的电子证照签名文件",
            )
        })?;
    let mut values = serde_json::Deserializer::from_slice(&bytes[start..]).into_iter::<Value>();
    let wrapper = values
        .next()
        .and_then(Result::ok)
        .and_then(|mut v| v.get_mut(PDF_DOCUMENT_KEY).map(Value::take))
        .ok_or_else(|| {
            Error::field(
                "document",
                "damaged",
                "the signed document inside this PDF is damaged",
                "PDF中的签名文件已损坏",
            )
        })?;
    parse_request(wrapper)
}
