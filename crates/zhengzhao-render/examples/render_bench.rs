//! Time PDF rendering: `cargo run --release -p zhengzhao-render --example render_bench [OUT_DIR]`.
//! With OUT_DIR, also writes portrait, landscape and a long (4,000-character 经营范围) sample.

use std::time::Instant;

use zhengzhao_render::{Layout, LicenseRenderer, LicenseView, PdfRenderer};

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
        if let Some(dir) = std::env::args().nth(1) {
            let path = std::path::Path::new(&dir).join(format!("{name}.pdf"));
            std::fs::write(&path, renderer.render(&v)?)?;
        }
    }
    Ok(())
}
