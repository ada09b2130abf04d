//! The license PDF's own signature (issue 11 §5). The face says
//! "本证照已由发证单位使用SM2数字证书电子签名"; this makes it true and checks it.
//!
//! Signing: every PDF the library serves is signed, when it is made, by the
//! issuer's active SM2 key as a standard PDF signature (`zhengzhao-render`
//! `signature.rs`: a `/Sig` dictionary whose `/ByteRange` is the whole file
//! but the signature value) holding a detached CMS SignedData with SM3 and
//! SM2 and the issuer's certificate and its CA (`zhengzhao-crypto`
//! `cms.rs`). A PDF whose signing certificate, or the embedded document's,
//! comes from the local test CA says [`TEST_CERTIFICATE_NOTICE`] on its face.
//!
//! Checking (`POST /api/v1/verify/document` with a PDF): the embedded signed
//! document is checked as before, and the file signature must cover the
//! whole file and verify under one of *this library's* keys for the issuer
//! the embedded document names (the certificate inside is only a hint, as
//! for documents). Otherwise the answer is not valid, `pdf_signature_valid`
//! is false and a `pdf_signature` problem says why: one changed byte, an
//! appended update or another license's page around a genuine attachment
//! all end here.

use super::Library;
use super::document_check::{DocumentCheck, DocumentProblem, from_pdf};
use super::keys::LoadedKey;
use crate::{Error, Result};
use serde_json::Value;
use std::sync::Arc;
use std::time::SystemTime;
use zhengzhao_crypto::cert::{self, Certificate};
use zhengzhao_crypto::cms::{self, DetachedSignature};
use zhengzhao_domain::org::OrgCode;
use zhengzhao_render::{
    SignatureFieldInfo, SignatureLookupError, find_signature, prepare_signature,
};
use zhengzhao_store::KeySource;

/// Printed on a PDF signed under the local test CA (or whose embedded
/// document was): such a file has no legal force.
pub const TEST_CERTIFICATE_NOTICE: &str = "测试证书：签名证书由本地测试CA签发，不具法律效力";

/// The problem part a failed file signature is reported under.
pub const PDF_SIGNATURE_PART: &str = "pdf_signature";

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("signing the PDF: {e}"))
}

/// One PDF's signer: the issuer's key and certificate chain, and what the
/// signature dictionary says. Made before rendering, so the face can say
/// whether the certificate is a test one; [`PdfSigner::sign`] is blocking
/// work (it reads and appends to the file and hashes all of it).
pub struct PdfSigner {
    key: Arc<LoadedKey>,
    certificate: Certificate,
    chain: Vec<Certificate>,
    info: SignatureFieldInfo,
    time: SystemTime,
    /// The signing certificate or the embedded document's comes from the
    /// local test CA.
    pub test_certificate: bool,
}

impl PdfSigner {
    /// `pdf` (as `zhengzhao-render` wrote it) with its signature appended.
    pub fn sign(&self, pdf: Vec<u8>) -> Result<Vec<u8>> {
        let prepared = prepare_signature(pdf, &self.info).map_err(internal)?;
        let der = cms::sign_detached(
            &self.key.pair,
            &self.certificate,
            &self.chain,
            &prepared.signed_parts(),
            self.time,
        )
        .map_err(internal)?;
        prepared.finish(&der).map_err(internal)
    }
}

/// Why a file signature did not verify (English, Chinese).
fn failure(en: &str, zh: &str) -> DocumentProblem {
    DocumentProblem {
        part: PDF_SIGNATURE_PART.to_owned(),
        message: en.to_owned(),
        message_zh: zh.to_owned(),
    }
}

/// The parts of a posted file that are checked without the store: the
/// signature covering the whole file, parsed, and whether its digest is
/// that of the signed bytes.
fn examine(pdf: &[u8]) -> Result<DetachedSignature, DocumentProblem> {
    let found = find_signature(pdf).map_err(|e| match e {
        SignatureLookupError::NotSigned => failure(
            "the PDF file carries no signature of its own: it is not a file this library produced, or it was rebuilt",
            "此PDF文件没有文件签名：不是本库生成的文件，或已被重新生成",
        ),
        SignatureLookupError::NotWholeFile => failure(
            "the PDF file's signature does not cover the whole file: content was added or changed after signing",
            "PDF文件签名未覆盖整个文件：签名后文件被追加或修改",
        ),
    })?;
    let signature = DetachedSignature::from_der(&found.contents).map_err(|_| {
        failure(
            "the PDF file's signature is damaged or not in this library's form",
            "PDF文件签名已损坏或格式不符",
        )
    })?;
    if !signature.covers(&found.signed) {
        return Err(failure(
            "the PDF file was changed after it was signed",
            "PDF文件在签名后被修改",
        ));
    }
    Ok(signature)
}

impl Library {
    /// The signer of a PDF of a version of a license issued by `issuer`
    /// and signed (the embedded document) with key `document_key`.
    pub async fn pdf_signer(
        &self,
        issuer: &OrgCode,
        document_key: uuid::Uuid,
    ) -> Result<PdfSigner> {
        let org = self
            .store
            .org(issuer)
            .await?
            .ok_or_else(|| Error::Internal(format!("issuer {issuer} missing")))?;
        let key = self.signer_for(&org).await?;
        let certificate = cert::from_pem(&key.certificate_pem).map_err(internal)?;
        // The chain, as far as the library holds it: the CA that issued
        // the certificate (the local CA, or an imported key's CA if known).
        let chain = self
            .store
            .signing_keys(None)
            .await?
            .iter()
            .filter_map(|k| cert::from_pem(&k.certificate_pem).ok())
            .filter(|ca| cert::check_issued_by(&certificate, ca).is_ok())
            .collect();
        let document_test = self
            .store
            .signing_key(document_key)
            .await?
            .is_some_and(|k| k.source == KeySource::LocalCa);
        let now = self.now();
        Ok(PdfSigner {
            test_certificate: key.source == KeySource::LocalCa || document_test,
            key,
            certificate,
            chain,
            info: SignatureFieldInfo {
                field_name: "zhengzhao-issuer-signature".to_owned(),
                signer: org.name.clone(),
                reason: "发证单位对电子证照文件的电子签名".to_owned(),
                time: now
                    .to_zoned(super::china_tz())
                    .strftime("D:%Y%m%d%H%M%S+08'00'")
                    .to_string(),
            },
            time: SystemTime::from(now),
        })
    }

    /// The document check of a PDF: the embedded document as
    /// [`Library::check_document`] judges it, and the file's own signature.
    /// A file whose signature does not verify is not valid.
    pub async fn check_pdf(&self, pdf: Vec<u8>) -> Result<DocumentCheck> {
        // An annotated copy carries its own signed document, not a license's.
        if let Some(check) = self.check_copy(&pdf).await? {
            self.count_checks(crate::check_counts::CheckWay::Document, 1);
            return Ok(check);
        }
        let doc = from_pdf(&pdf)?;
        let mut check = self.check_document(&doc).await?;
        // Hashing the whole file is CPU work: off the async threads.
        let examined = tokio::task::spawn_blocking(move || examine(&pdf))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let issuer = serde_json::from_str::<Value>(&doc.payload)
            .ok()
            .and_then(|p| p.pointer("/issuer/code")?.as_str().map(str::to_owned))
            .and_then(|c| OrgCode::parse(&c).ok());
        let outcome = match (examined, issuer) {
            (Err(problem), _) => Err(problem),
            (Ok(_), None) => Err(failure(
                "the PDF file's signature cannot be checked: the embedded document names no issuer",
                "无法验证PDF文件签名：内嵌签名文件中没有发证机构",
            )),
            (Ok(signature), Some(org)) => {
                let made_by = self
                    .key_of_org_that_verifies(&org, |pk| signature.verify(pk).is_ok())
                    .await?;
                match made_by {
                    // A file's signing time is whatever its signer wrote, so
                    // a revoked key's file counts at no time; the library
                    // signs each download afresh with the active key.
                    Some(k) if self.key_revoked_at(k).await?.is_some() => Err(failure(
                        "the PDF file was signed with a key that has since been revoked; download it again",
                        "PDF文件的签名密钥已被吊销，请重新下载",
                    )),
                    Some(_) => Ok(()),
                    None => Err(failure(
                        "the PDF file's signature was not made with this library's key for the issuer",
                        "PDF文件签名不是由本库为发证机构保管的密钥所签",
                    )),
                }
            }
        };
        check.pdf_signature_valid = Some(outcome.is_ok());
        if let Err(problem) = outcome {
            check.valid = false;
            check.verdict = "altered";
            check.problems.push(problem);
        }
        Ok(check)
    }
}
