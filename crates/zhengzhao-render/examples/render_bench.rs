//! Time PDF rendering: `cargo run --release -p zhengzhao-render --example render_bench [OUT_DIR]`.
//! With OUT_DIR, also writes portrait, landscape and a long (4,000-character 经营范围) sample.
//! Also times what the server's file signature adds to each PDF (the
//! incremental update, SM3 of the file, the SM2 CMS), as `pdf_signature.rs` does it.

use std::time::{Instant, SystemTime};

use zhengzhao_crypto::{cert, cms, sm2sig::KeyPair};
use zhengzhao_render::{
    Layout, LicenseRenderer, LicenseView, PdfRenderer, SignatureFieldInfo, prepare_signature,
};

/// A key, its certificate and its CA, as the local test CA makes them.
fn signer() -> Result<(KeyPair, cert::Certificate, cert::Certificate), Box<dyn std::error::Error>> {
    let now = SystemTime::now();
    let ca_key = KeyPair::generate()?;
    let ca = cert::make_ca(&ca_key, "CN=bench CA,O=zhengzhao,C=CN", now, 1)?;
    let key = KeyPair::generate()?;
    let subject = cert::subject_name(
        "呼和浩特市新城区市场监督管理局",
        "呼和浩特市新城区市场监督管理局",
        None,
    );
    let c = cert::issue(&ca_key, &ca, &subject, &key.public_key(), now, 1)?;
    Ok((key, c, ca))
}

fn sign(
    pdf: Vec<u8>,
    key: &KeyPair,
    c: &cert::Certificate,
    ca: &cert::Certificate,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let info = SignatureFieldInfo {
        field_name: "zhengzhao-issuer-signature".into(),
        signer: "呼和浩特市新城区市场监督管理局".into(),
        reason: "发证单位对电子证照文件的电子签名".into(),
        time: "D:20261205103600+08'00'".into(),
    };
    let prepared = prepare_signature(pdf, &info)?;
    let der = cms::sign_detached(
        key,
        c,
        std::slice::from_ref(ca),
        &prepared.signed_parts(),
        SystemTime::now(),
    )?;
    Ok(prepared.finish(&der)?)
}

/// The sample 营业执照 the unit tests use.
#[path = "../src/testdata.rs"]
mod testdata;
use testdata::business_license as view;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let renderer: &dyn LicenseRenderer = &PdfRenderer;
    let v = view(250, Layout::A4Portrait);
    let t = Instant::now();
    let first = renderer.render(&v)?; // also parses the font
    println!(
        "first render (parses the font): {:.1} ms, {} bytes",
        t.elapsed().as_secs_f64() * 1e3,
        first.len()
    );

    let (key, c, ca) = signer()?;
    for (name, v) in [
        ("portrait", v),
        ("landscape", view(250, Layout::A4Landscape)),
        ("long", view(4000, Layout::A4Portrait)),
    ] {
        let n = 100;
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            bytes = renderer.render(&v)?.len();
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(n);
        println!("{name:>9}: {ms:.2} ms per render ({n} renders), {bytes} bytes");
        let pdf = renderer.render(&v)?;
        let t = Instant::now();
        let mut signed = 0;
        for _ in 0..n {
            signed = sign(pdf.clone(), &key, &c, &ca)?.len();
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(n);
        println!("{name:>9}: signing adds {ms:.2} ms per file, {signed} bytes signed");
        if let Some(dir) = std::env::args().nth(1) {
            let path = std::path::Path::new(&dir).join(format!("{name}.pdf"));
            std::fs::write(&path, renderer.render(&v)?)?;
        }
    }
    Ok(())
}
