//! The license PDF is signed over the whole file (issue 11 §5): poppler's
//! `pdfsig` sees the signature and that it covers the whole document,
//! OpenSSL's `cms -verify` checks the CMS over the signed bytes, `pdftotext`
//! reads 已注销 / 已被新版本替代 / 测试证书 where they apply, and the document
//! check reports a changed file (a flipped byte, another license's page
//! around a genuine attachment, a file signed by someone else, an appended
//! incremental update) as not valid with a `pdf_signature` problem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::time::SystemTime;
use zhengzhao_crypto::{cert, cms, sm2sig::KeyPair};
use zhengzhao_domain::role::Role;

async fn spawn(backend: Backend) -> Option<TestApp> {
    // A license PDF is larger than the default 64 KiB body limit.
    TestApp::spawn_with(backend, |c| c.max_body_bytes = 4 * 1024 * 1024).await
}

async fn pdf_of(app: &TestApp, token: &str, id: &str) -> Vec<u8> {
    let r = app
        .get_as(&format!("/api/v1/licenses/{id}/pdf"), token)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap().to_vec()
}

async fn check(app: &TestApp, pdf: Vec<u8>) -> Value {
    let r = app
        .client
        .post(app.url("/api/v1/verify/document"))
        .header("content-type", "application/pdf")
        .body(pdf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

fn run(cmd: &mut Command, what: &str) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{what} must be installed (./scripts/test installs it): {e}"))
}

fn pdftotext(dir: &Path, pdf: &[u8]) -> String {
    let file = dir.join("text.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = run(
        Command::new("pdftotext").arg(&file).arg("-"),
        "pdftotext (poppler-utils)",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Text runs may be split; compare without white space.
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect()
}

fn pdfsig(dir: &Path, pdf: &[u8]) -> String {
    let file = dir.join("sig.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = run(Command::new("pdfsig").arg(&file), "pdfsig (poppler-utils)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The last `/ByteRange [a b c d]` in the file, read here independently.
fn byte_range(pdf: &[u8]) -> [usize; 4] {
    let text = String::from_utf8_lossy(pdf);
    let at = text.rfind("/ByteRange").unwrap();
    let open = at + text[at..].find('[').unwrap();
    let close = open + text[open..].find(']').unwrap();
    let n: Vec<usize> = text[open + 1..close]
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    n.try_into().unwrap()
}

/// The signed bytes and the DER CMS (the hex of `/Contents` without its
/// zero padding: the length is read from the DER header).
fn signed_bytes_and_cms(pdf: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let [zero, a, b, c] = byte_range(pdf);
    assert_eq!(zero, 0);
    assert_eq!(b + c, pdf.len(), "the range reaches the end of the file");
    assert_eq!(
        (pdf[a], pdf[b - 1]),
        (b'<', b'>'),
        "only /Contents is left out"
    );
    let signed = [&pdf[..a], &pdf[b..]].concat();
    let hex = std::str::from_utf8(&pdf[a + 1..b - 1]).unwrap();
    let raw = hex::decode(hex).unwrap();
    assert_eq!(
        (raw[0], raw[1]),
        (0x30, 0x82),
        "a DER SEQUENCE with a two-byte length"
    );
    let len = 4 + usize::from(raw[2]) * 256 + usize::from(raw[3]);
    (signed, raw[..len].to_vec())
}

/// One DER TLV at `at`: (tag, start of value, end of value).
fn tlv(der: &[u8], at: usize) -> (u8, usize, usize) {
    let (tag, first) = (der[at], der[at + 1]);
    if first < 0x80 {
        return (tag, at + 2, at + 2 + usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    let len = der[at + 2..at + 2 + n]
        .iter()
        .fold(0usize, |l, b| l * 256 + usize::from(*b));
    (tag, at + 2 + n, at + 2 + n + len)
}

/// The TLVs inside the value `start..end`: (tag, start of TLV, end).
fn children(der: &[u8], start: usize, end: usize) -> Vec<(u8, usize, usize)> {
    let mut out = Vec::new();
    let mut at = start;
    while at < end {
        let (tag, _, next) = tlv(der, at);
        out.push((tag, at, next));
        at = next;
    }
    out
}

/// From a CMS SignedData with one signer: the signed attributes as the
/// SET OF the signature covers (RFC 5652 §5.4: the [0] tag becomes 0x31)
/// and the signature value. Read here with a DER walk of its own.
fn signed_attributes_and_signature(cms: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (_, ci, ci_end) = tlv(cms, 0); // ContentInfo
    let explicit = children(cms, ci, ci_end)[1]; // [0] EXPLICIT
    let (_, sd, sd_end) = tlv(cms, tlv(cms, explicit.1).1); // SignedData
    let signer_infos = *children(cms, sd, sd_end).last().unwrap();
    let (_, sis, sis_end) = tlv(cms, signer_infos.1);
    let (_, si, si_end) = tlv(cms, children(cms, sis, sis_end)[0].1);
    let parts = children(cms, si, si_end);
    let attrs = parts.iter().find(|p| p.0 == 0xa0).unwrap();
    let mut set = cms[attrs.1..attrs.2].to_vec();
    set[0] = 0x31;
    let (tag, sig, sig_end) = tlv(cms, parts.last().unwrap().1);
    assert_eq!(tag, 0x04, "the signature is an OCTET STRING");
    (set, cms[sig..sig_end].to_vec())
}

/// OpenSSL's checks of the detached CMS over `signed`, with the signer
/// certificate `signer_pem` and the root `ca_pem`:
/// 1. `openssl cms -verify -no_attr_verify`: the structure, and that the
///    message digest is SM3 of exactly these bytes (`-noverify`: the chain
///    is step 3). OpenSSL 3.0's `cms -verify` checks an SM2 signer-info
///    signature with an empty distinguishing id and takes no option to set
///    one, so the signature is step 2;
/// 2. `openssl pkeyutl -verify` with `distid:1234567812345678`: the SM2
///    signature over the signed attributes, under the signer's key;
/// 3. `openssl verify -vfyopt distid:…`: the signer's certificate chains
///    to the root.
///
/// Also that the CMS carries the signer's certificate. `Err` names the step.
fn openssl_cms_checks(
    dir: &Path,
    der: &[u8],
    signed: &[u8],
    signer_pem: &str,
    ca_pem: &str,
) -> Result<(), String> {
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let (cms, content, signer, ca) = (
        file("cms.der", der),
        file("content.bin", signed),
        file("signer.pem", signer_pem.as_bytes()),
        file("ca.pem", ca_pem.as_bytes()),
    );
    let certs = dir.join("certs.pem");
    let failed = |step: &str, out: Output| {
        format!(
            "{step}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let out = run(
        Command::new("openssl")
            .args([
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-noverify",
                "-no_attr_verify",
            ])
            .arg("-in")
            .arg(&cms)
            .arg("-content")
            .arg(&content)
            .arg("-certsout")
            .arg(&certs)
            .args(["-out", "/dev/null"]),
        "openssl",
    );
    if !out.status.success() {
        return Err(failed("openssl cms -verify", out));
    }
    let carried = std::fs::read_to_string(&certs).unwrap();
    let strip = |pem: &str| pem.split_whitespace().collect::<String>();
    assert!(
        strip(&carried).contains(&strip(signer_pem)),
        "the signer's certificate rides along"
    );

    let (attrs, signature) = signed_attributes_and_signature(der);
    let (attrs, signature) = (file("attrs.der", &attrs), file("sig.der", &signature));
    let public = dir.join("public.pem");
    let out = run(
        Command::new("openssl")
            .args(["x509", "-pubkey", "-noout", "-in"])
            .arg(&signer)
            .arg("-out")
            .arg(&public),
        "openssl",
    );
    assert!(out.status.success());
    let out = run(
        Command::new("openssl")
            .args(["pkeyutl", "-verify", "-rawin", "-digest", "sm3"])
            .args(["-pkeyopt", "distid:1234567812345678", "-pubin", "-inkey"])
            .arg(&public)
            .arg("-in")
            .arg(&attrs)
            .arg("-sigfile")
            .arg(&signature),
        "openssl",
    );
    if !out.status.success() {
        return Err(failed("openssl pkeyutl -verify", out));
    }
    let out = run(
        Command::new("openssl")
            .args(["verify", "-vfyopt", "distid:1234567812345678", "-CAfile"])
            .arg(&ca)
            .arg(&signer),
        "openssl",
    );
    if !out.status.success() {
        return Err(failed("openssl verify", out));
    }
    Ok(())
}

fn flip_byte_in(pdf: &[u8], within: &[u8]) -> Vec<u8> {
    let at = pdf.windows(within.len()).position(|w| w == within).unwrap();
    let mut changed = pdf.to_vec();
    changed[at + 1] ^= 0x01;
    changed
}

fn pdf_problem(c: &Value) -> String {
    let p = c["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["part"] == "pdf_signature")
        .unwrap_or_else(|| panic!("no pdf_signature problem: {c}"));
    assert!(p["message_zh"].as_str().is_some_and(|m| !m.is_empty()));
    p["message"].as_str().unwrap().to_owned()
}

async fn signed_pdf(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let a = app.issue(&clerk, &license_request("PDF-A")).await["license_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.issue(&clerk, &license_request("PDF-B")).await["license_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pdf = pdf_of(&app, &clerk, &a).await;

    // The document check: genuine, current, and the file signature verified.
    let c = check(&app, pdf.clone()).await;
    assert_eq!(
        (
            &c["valid"],
            &c["pdf_signature_valid"],
            &c["library_record"],
            &c["verdict"]
        ),
        (
            &json!(true),
            &json!(true),
            &json!("current"),
            &json!("genuine_current")
        ),
        "{c}"
    );

    // poppler sees one signature of the standard kind over the whole file.
    // (poppler 22's NSS knows no SM3: it says "Unrecognized Hash ID" and
    // "Signature Validation: Unknown Validation Failure", and cannot tell
    // a changed file either; the CMS itself is checked with OpenSSL below.)
    let says = pdfsig(dir.path(), &pdf);
    assert!(says.contains("Signature #1"), "{says}");
    assert!(says.contains("adbe.pkcs7.detached"), "{says}");
    assert!(says.contains("Total document signed"), "{says}");

    // OpenSSL verifies the CMS over exactly the signed byte ranges, and the
    // signer's certificate chains to the library's root.
    let certs: Value = app.get("/api/v1/certificates").await.json().await.unwrap();
    let root = certs["roots"][0]["certificate"].as_str().unwrap();
    let signer = certs["issuers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["org"] == "150102" && c["retired_at"].is_null())
        .unwrap()["certificate"]
        .as_str()
        .unwrap();
    let (signed, der) = signed_bytes_and_cms(&pdf);
    openssl_cms_checks(dir.path(), &der, &signed, signer, root).unwrap();
    let mut other = signed.clone();
    other[10] ^= 1;
    let refused = openssl_cms_checks(dir.path(), &der, &other, signer, root).unwrap_err();
    assert!(
        refused.starts_with("openssl cms -verify"),
        "OpenSSL refuses other bytes: {refused}"
    );

    // Signed under the local test CA: the face says so; the license is in
    // force, so no state notice.
    let text = pdftotext(dir.path(), &pdf);
    assert!(text.contains("测试证书"), "{text}");
    assert!(text.contains("本证照已由发证单位使用SM2数字证书电子签名"));
    assert!(!text.contains("已注销") && !text.contains("已被新版本替代"));

    // One byte flipped in the signed range (the PDF's creator line).
    let c = check(&app, flip_byte_in(&pdf, b"zhengzhao-render")).await;
    assert_eq!(
        (&c["valid"], &c["pdf_signature_valid"], &c["verdict"]),
        (&json!(false), &json!(false), &json!("altered")),
        "{c}"
    );
    assert!(
        pdf_problem(&c).contains("changed after it was signed"),
        "{c}"
    );

    // Another license's page with A's genuine signed document swapped in:
    // the embedded document alone is still genuine and current, but the
    // file is not the one the library signed.
    let pdf_b = pdf_of(&app, &clerk, &b).await;
    let embedded = |p: &[u8]| {
        let marker = b"{\"zhengzhao_signed_document\":";
        let start = p.windows(marker.len()).position(|w| w == marker).unwrap();
        let mut values = serde_json::Deserializer::from_slice(&p[start..]).into_iter::<Value>();
        values.next().unwrap().unwrap();
        start..start + values.byte_offset()
    };
    let (in_a, in_b) = (embedded(&pdf), embedded(&pdf_b));
    let swapped = [&pdf_b[..in_b.start], &pdf[in_a.clone()], &pdf_b[in_b.end..]].concat();
    let c = check(&app, swapped).await;
    assert_eq!(c["license_id"], a.as_str());
    assert_eq!(
        c["library_record"], "current",
        "the attachment is genuine: {c}"
    );
    assert_eq!(
        (&c["valid"], &c["pdf_signature_valid"], &c["verdict"]),
        (&json!(false), &json!(false), &json!("altered")),
        "{c}"
    );
    pdf_problem(&c);

    // The same page and attachment, signed as a PDF by a key and certificate
    // that merely carry the issuer's name: not this library's signature.
    let forged = forge(&app, &pdf[in_a]).await;
    assert!(pdfsig(dir.path(), &forged).contains("Total document signed"));
    let c = check(&app, forged).await;
    assert_eq!(
        (&c["valid"], &c["pdf_signature_valid"], &c["verdict"]),
        (&json!(false), &json!(false), &json!("altered")),
        "{c}"
    );
    assert!(
        pdf_problem(&c).contains("not made with this library's key"),
        "{c}"
    );

    // An incremental update appended after signing (a new title): poppler
    // says the signature no longer covers the document; so does the check.
    let mut updated = lopdf::IncrementalDocument::create_from(
        pdf.clone(),
        lopdf::Document::load_mem(&pdf).unwrap(),
    );
    let info = updated
        .get_prev_documents()
        .trailer
        .get(b"Info")
        .unwrap()
        .as_reference()
        .unwrap();
    updated.opt_clone_object_to_new_document(info).unwrap();
    updated
        .new_document
        .get_object_mut(info)
        .unwrap()
        .as_dict_mut()
        .unwrap()
        .set("Title", lopdf::Object::string_literal("营业执照 (changed)"));
    let mut appended = Vec::new();
    updated.save_to(&mut appended).unwrap();
    let says = pdfsig(dir.path(), &appended);
    assert!(says.contains("Not total document signed"), "{says}");
    let c = check(&app, appended).await;
    assert_eq!(
        (&c["valid"], &c["pdf_signature_valid"], &c["verdict"]),
        (&json!(false), &json!(false), &json!("altered")),
        "{c}"
    );
    assert!(
        pdf_problem(&c).contains("does not cover the whole file"),
        "{c}"
    );

    // A JSON document has no file signature: the field is absent.
    let doc: Value = app
        .get_as(&format!("/api/v1/licenses/{a}/document"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .send_json(Method::POST, "/api/v1/verify/document", None, &doc)
        .await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["valid"], true);
    assert!(c.get("pdf_signature_valid").is_none(), "{c}");

    // Superseded: B's first version, after an update, says so with the date.
    let b2 = app.update_domicile(&clerk, &b, "某某路100号").await;
    let today = app.library.today();
    let date = format!(
        "{}年{:02}月{:02}日",
        today.year(),
        today.month(),
        today.day()
    );
    let text = pdftotext(dir.path(), &pdf_of(&app, &clerk, &b).await);
    assert!(
        text.contains(&format!("已被新版本替代（替代日期：{date}")),
        "{text}"
    );
    let text = pdftotext(dir.path(), &pdf_of(&app, &clerk, &b2).await);
    assert!(
        !text.contains("已被新版本替代"),
        "the current version: {text}"
    );

    // Revoked: every version says 已注销 with the date, and still verifies
    // as a file (its status is the check's `status`).
    let r = app
        .send_json(
            Method::POST,
            &format!("/api/v1/licenses/{a}/revoke"),
            Some(&clerk),
            &json!({"reason": "注销"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let revoked = pdf_of(&app, &clerk, &a).await;
    let text = pdftotext(dir.path(), &revoked);
    assert!(
        text.contains(&format!("已注销（注销日期：{date}）")),
        "{text}"
    );
    let c = check(&app, revoked).await;
    assert_eq!(
        (&c["pdf_signature_valid"], &c["status"], &c["verdict"]),
        (&json!(true), &json!("revoked"), &json!("genuine_revoked")),
        "{c}"
    );
}

#[tokio::test]
async fn signed_pdf_sqlite() {
    signed_pdf(spawn(Backend::Sqlite).await.unwrap()).await;
}

#[tokio::test]
async fn signed_pdf_postgres() {
    let Some(app) = spawn(Backend::Postgres).await else {
        eprintln!("skipped: the PostgreSQL half is skipped on purpose");
        return;
    };
    signed_pdf(app).await;
}

/// A PDF of `attachment` (a genuine embedded document) signed, as a PDF,
/// by a self-made key whose certificate names the issuer.
async fn forge(app: &TestApp, attachment: &[u8]) -> Vec<u8> {
    use zhengzhao_render::LicenseRenderer;
    let now = SystemTime::now();
    let ca_key = KeyPair::generate().unwrap();
    let ca = cert::make_ca(&ca_key, "CN=Some CA,O=Some CA,C=CN", now, 1).unwrap();
    let key = KeyPair::generate().unwrap();
    let issuer = app
        .library
        .store
        .org(&zhengzhao_domain::org::OrgCode::parse("150102").unwrap())
        .await
        .unwrap()
        .unwrap();
    let subject = cert::subject_name(
        &issuer.name,
        &issuer.name,
        Some(issuer.credit_code.as_str()),
    );
    let c = cert::issue(&ca_key, &ca, &subject, &key.public_key(), now, 1).unwrap();
    let view = zhengzhao_render::LicenseView {
        title: "营业执照".into(),
        fields: vec![("名称".into(), "呼和浩特市青城科技有限公司".into())],
        license_id: "x".into(),
        license_number: None,
        holder_name: "呼和浩特市青城科技有限公司".into(),
        issuer_name: issuer.name.clone(),
        issue_date: "2026年01月01日".into(),
        validity: "2026年01月01日至长期".into(),
        verify_url: "https://example.invalid/verify".into(),
        layout: zhengzhao_render::Layout::A4Portrait,
        attachment: Some(String::from_utf8(attachment.to_vec()).unwrap()),
        notices: Vec::new(),
        watermark: Vec::new(),
    };
    let pdf = zhengzhao_render::PdfRenderer.render(&view).unwrap();
    let prepared = zhengzhao_render::prepare_signature(
        pdf,
        &zhengzhao_render::SignatureFieldInfo {
            field_name: "sig".into(),
            signer: issuer.name.clone(),
            reason: "x".into(),
            time: "D:20260101000000+08'00'".into(),
        },
    )
    .unwrap();
    let der = cms::sign_detached(&key, &c, &[ca], &prepared.signed_parts(), now).unwrap();
    prepared.finish(&der).unwrap()
}

/// With the issuer's key imported from another CA (not the local test CA),
/// a license issued under it prints no 测试证书; its file still verifies.
async fn no_test_notice_without_the_test_ca(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let ca_key = KeyPair::generate().unwrap();
    let ca = cert::make_ca(&ca_key, "CN=SM2 CA,O=Some CA,C=CN", now, 5).unwrap();
    let org = app
        .library
        .store
        .org(&zhengzhao_domain::org::OrgCode::parse("150102").unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = KeyPair::generate().unwrap();
    let subject = cert::subject_name(&org.name, &org.name, Some(org.credit_code.as_str()));
    let org_cert = cert::issue(&ca_key, &ca, &subject, &key.public_key(), now, 2).unwrap();
    let key_pem = {
        use pkcs8_pem::to_pem;
        to_pem(&key.to_pkcs8_der().unwrap())
    };
    app.library
        .import_key(
            &zhengzhao_core::Actor::cli(),
            &org,
            &cert::to_pem(&org_cert).unwrap(),
            &key_pem,
        )
        .await
        .unwrap();
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let id = app.issue(&clerk, &license_request("PDF-REAL")).await["license_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pdf = pdf_of(&app, &clerk, &id).await;
    let text = pdftotext(dir.path(), &pdf);
    assert!(!text.contains("测试证书"), "{text}");
    let c = check(&app, pdf.clone()).await;
    assert_eq!(
        (&c["valid"], &c["pdf_signature_valid"]),
        (&json!(true), &json!(true)),
        "{c}"
    );
    // OpenSSL checks it too, and the chain to the imported key's CA (which
    // the library does not hold, so it does not ride along).
    let (signed, der) = signed_bytes_and_cms(&pdf);
    let (signer, ca) = (cert::to_pem(&org_cert).unwrap(), cert::to_pem(&ca).unwrap());
    openssl_cms_checks(dir.path(), &der, &signed, &signer, &ca).unwrap();
}

#[tokio::test]
async fn no_test_notice_without_the_test_ca_sqlite() {
    no_test_notice_without_the_test_ca(spawn(Backend::Sqlite).await.unwrap()).await;
}

#[tokio::test]
async fn no_test_notice_without_the_test_ca_postgres() {
    let Some(app) = spawn(Backend::Postgres).await else {
        eprintln!("skipped: the PostgreSQL half is skipped on purpose");
        return;
    };
    no_test_notice_without_the_test_ca(app).await;
}

/// PKCS#8 DER as PEM, as `keys import` reads it.
mod pkcs8_pem {
    pub fn to_pem(der: &[u8]) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }
}
