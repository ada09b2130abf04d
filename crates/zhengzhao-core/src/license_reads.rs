//! What staff read of a license (Art. 17: every read is recorded): one
//! license, its history, its signed document, its printable file and its
//! Verifiable Credential, and the list of the licenses in the caller's org
//! subtree. Frontends (the API, the console) show these; the rules, the
//! masking and the read events are here.

use crate::licenses::LicenseView;
use crate::policy::{self, Action};
use crate::{Error, Library, Principal, Result};
use base64::Engine;
use serde::Serialize;
use utoipa::ToSchema;
use zhengzhao_domain::codes::{LicenseTypeCode, ResidentId};
use zhengzhao_store::{DeliveryRecord, LicenseFilter, LicenseRecord, LicenseVersionRecord};

/// Every version of a license and every delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    /// Every version, oldest first, each as the API shows it.
    pub versions: Vec<LicenseView>,
    #[schema(value_type = Vec<Object>)]
    pub deliveries: Vec<DeliveryRecord>,
}

/// The signed document of the version the identifier names.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedDocument {
    pub license_id: String,
    pub version: u16,
    /// The RFC 8785 canonical JSON text that was signed, byte for byte.
    pub payload: String,
    /// Base64 of the DER SM2-with-SM3 signature (distinguishing id 1234567812345678).
    pub signature: String,
    /// The signer's X.509 certificate, PEM.
    pub certificate: String,
    /// `zhengzhao.license/2` (the status entry is signed into the payload)
    /// or `zhengzhao.license/1` (older: status only from the lists below).
    pub schema: String,
    /// This version's bit in the one-bit revocation list at
    /// `status_list_url` (set: no longer in force). Schema 2: the version's
    /// own index in `/api/v1/status-lists/revocation` (the payload's signed
    /// `status` names its 2-bit entry in `/api/v1/status-lists/message`);
    /// schema 1: the license's key in `/api/v1/status-list`.
    pub status_list_index: i64,
    pub status_list_url: String,
}

/// A search of the licenses in the caller's org subtree, as asked.
#[derive(Debug, Clone, Default)]
pub struct LicenseSearch {
    /// Holder's unified social credit code or resident id.
    pub holder: Option<String>,
    /// License type code.
    pub type_code: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1-100 (default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LicensePage {
    pub items: Vec<LicenseView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Licenses of this page left out because their stored data cannot be
    /// read now (the operator is told); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// A license as a printable file, signed over the whole file.
#[derive(Debug)]
pub struct LicenseFile {
    pub bytes: Vec<u8>,
    pub media_type: &'static str,
    pub file_name: String,
}

impl Library {
    /// A license by any version's identifier, as the caller may see it.
    pub async fn read_license(&self, caller: &Principal, raw_id: &str) -> Result<LicenseView> {
        let (rec, asked) = self.find_license(raw_id).await?;
        self.require_reader(caller, &rec).await?;
        let view = self.license_view(caller, &rec, &asked).await?;
        self.record_read(
            caller,
            "license.read",
            format!("license:{asked}"),
            Library::read_detail(caller, &rec),
        )
        .await?;
        Ok(view)
    }

    /// Every version of a license and every delivery.
    pub async fn license_history(&self, caller: &Principal, raw_id: &str) -> Result<History> {
        let (rec, _) = self.find_license(raw_id).await?;
        self.require_reader(caller, &rec).await?;
        let mut versions = Vec::with_capacity(rec.versions.len());
        for v in &rec.versions {
            versions.push(self.license_view(caller, &rec, &v.license_id).await?);
        }
        let deliveries = self.store.deliveries_of(rec.key).await?;
        let asked = rec
            .versions
            .first()
            .map(|v| v.license_id.to_string())
            .unwrap_or_default();
        self.record_read(
            caller,
            "license.read_history",
            format!("license:{asked}"),
            Library::read_detail(caller, &rec),
        )
        .await?;
        Ok(History {
            versions,
            deliveries,
        })
    }

    /// The signed document of the version `raw_id` names.
    pub async fn license_document(
        &self,
        caller: &Principal,
        raw_id: &str,
    ) -> Result<SignedDocument> {
        let (rec, at) = self
            .disclose_version(caller, raw_id, "license.read_document")
            .await?;
        let v = &rec.versions[at];
        self.signed_document(&rec, v)
            .await?
            .ok_or_else(|| Error::Internal(format!("signing key {} missing", v.key_id)))
    }

    /// The signed document of `v`, if its signing key is on record.
    async fn signed_document(
        &self,
        rec: &LicenseRecord,
        v: &LicenseVersionRecord,
    ) -> Result<Option<SignedDocument>> {
        let schema = crate::licenses::payload_schema(&v.payload);
        let (status_list_index, status_list_url) = if schema == crate::licenses::SCHEMA_1 {
            (rec.key, self.status_list_url())
        } else {
            (
                v.status_index,
                self.status_lists_url(crate::status_list::StatusPurpose::Revocation),
            )
        };
        Ok(self
            .store
            .signing_key(v.key_id)
            .await?
            .map(|key| SignedDocument {
                license_id: v.license_id.to_string(),
                version: v.version,
                payload: v.payload.clone(),
                signature: base64::engine::general_purpose::STANDARD.encode(&v.signature),
                certificate: key.certificate_pem,
                schema,
                status_list_index,
                status_list_url,
            }))
    }

    /// Licenses issued within the caller's org subtree, newest first.
    pub async fn list_licenses(
        &self,
        caller: &Principal,
        q: &LicenseSearch,
    ) -> Result<LicensePage> {
        policy::require(caller, Action::ReadLicenses)?;
        let limit = q.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(Error::field(
                "limit",
                "range",
                "limit must be 1-100",
                "每页条数应为1至100",
            ));
        }
        let type_code = q
            .type_code
            .as_deref()
            .map(|t| LicenseTypeCode::parse(t).map_err(|e| Error::Validation(vec![e.at("type")])))
            .transpose()?;
        let before = q
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    Error::field(
                        "cursor",
                        "cursor",
                        "not a cursor from this API",
                        "分页游标无效",
                    )
                })
            })
            .transpose()?;
        let filter = LicenseFilter {
            // A natural person's resident id is stored as its blind index.
            holder_id: match q.holder.as_deref().map(|h| h.trim().to_uppercase()) {
                Some(h) if ResidentId::parse(&h).is_ok() => Some(self.holder_index(&h)?),
                other => other,
            },
            type_code,
            issuer_within: Some(caller.org.clone()),
        };
        // A license that cannot be read is named and left out; the page goes on.
        let opened = self.open_page(&filter, before, limit).await?;
        let next_cursor = opened
            .full
            .then(|| opened.next_before.map(|k| k.to_string()))
            .flatten();
        let page = opened.licenses;
        // Deliveries of the whole page in one query (not one per license).
        let items = self.current_views(caller, &page).await?;
        // One event per page, naming every license shown.
        let shown: Vec<String> = items.iter().map(|v| v.license_id.to_string()).collect();
        self.record_read(
            caller,
            "license.list",
            format!("org:{}", caller.org),
            // The holder filter may be a resident id: only its masked form is kept.
            serde_json::json!({
                "licenses": shown,
                "unreadable": opened.unreadable,
                "holder": filter.holder_id.as_deref().map(crate::privacy::mask_text),
                "type": filter.type_code,
            }),
        )
        .await?;
        Ok(LicensePage {
            items,
            next_cursor,
            unreadable: opened.unreadable,
        })
    }

    /// The license as a printable file with a QR code linking to its public
    /// check, signed by the issuer over the whole file (SM2 in CMS); a
    /// revoked or superseded version says so on its face.
    pub async fn license_file(&self, caller: &Principal, raw_id: &str) -> Result<LicenseFile> {
        let (rec, at) = self
            .disclose_version(caller, raw_id, "license.read_pdf")
            .await?;
        self.render_license_file(caller, &rec, at).await
    }

    /// The license file for its holder (signed in, or through a channel):
    /// a license of another holder is not found. The read is audited.
    pub async fn holder_license_file(
        &self,
        caller: &Principal,
        raw_id: &str,
    ) -> Result<LicenseFile> {
        let holder = crate::policy::require_holder(caller)?;
        let (rec, asked) = self.find_license(raw_id).await?;
        let at = rec
            .versions
            .iter()
            .position(|v| v.license_id == asked && v.holder.id == holder.key)
            .ok_or_else(|| Error::NotFound(format!("license {asked}")))?;
        self.record_read(
            caller,
            "license.read_pdf",
            format!("license:{asked}"),
            serde_json::json!({"personal_data": "full", "reader": "holder"}),
        )
        .await?;
        self.render_license_file(caller, &rec, at).await
    }

    async fn render_license_file(
        &self,
        caller: &Principal,
        rec: &zhengzhao_store::LicenseRecord,
        at: usize,
    ) -> Result<LicenseFile> {
        let v = &rec.versions[at];
        let view = self.license_view(caller, rec, &v.license_id).await?;
        let mut print = self.print_view(&view).await?;
        // The signed document rides inside the PDF, so the file itself can be
        // checked (`POST /api/v1/verify/document` with the PDF).
        if let Some(doc) = self.signed_document(rec, v).await? {
            print.attachment = Some(
                serde_json::json!({ crate::document_check::PDF_DOCUMENT_KEY: doc }).to_string(),
            );
        }
        // The file itself is signed by the issuer (what its face says); the
        // signature is a PDF one, so no other format is served unsigned.
        let renderer = self.renderer();
        if renderer.media_type() != "application/pdf" {
            return Err(Error::Internal(format!(
                "no file signature for {}",
                renderer.media_type()
            )));
        }
        let signer = self.pdf_signer(&rec.issuer, v.key_id).await?;
        if signer.test_certificate {
            print
                .notices
                .push(crate::pdf_signature::TEST_CERTIFICATE_NOTICE.to_owned());
        }
        let (media_type, extension) = (renderer.media_type(), renderer.file_extension());
        let bytes = tokio::task::spawn_blocking(move || {
            let pdf = renderer.render(&print).map_err(|e| match e {
                zhengzhao_render::RenderError::MissingGlyphs(chars) => Error::Conflict(format!(
                    "the license contains characters the embedded font cannot print: {chars}"
                )),
                other => Error::Internal(other.to_string()),
            })?;
            signer.sign(pdf)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??;
        Ok(LicenseFile {
            bytes,
            media_type,
            file_name: format!("license-{}.{extension}", view.version),
        })
    }

    /// The license as a W3C Verifiable Credential. Same access as the
    /// document: it carries the face data.
    pub async fn license_credential(
        &self,
        caller: &Principal,
        raw_id: &str,
    ) -> Result<serde_json::Value> {
        let (rec, at) = self
            .disclose_version(caller, raw_id, "license.read_vc")
            .await?;
        self.license_vc(&rec, &rec.versions[at]).await
    }
}
