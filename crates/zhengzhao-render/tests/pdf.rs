//! Renders real PDFs and reads them back with poppler (`pdftotext`, `pdfinfo`,
//! `pdftoppm`; Debian package poppler-utils, required) and, if installed,
//! `zbarimg` (zbar-tools, optional) for the QR code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use zhengzhao_render::{Layout, LicenseRenderer, LicenseView, PdfRenderer, RenderError};

#[path = "../src/testdata.rs"]
mod testdata;
use testdata::{ID, business_license};

fn render(view: &LicenseView, name: &str) -> (Vec<u8>, PathBuf) {
    let renderer: &dyn LicenseRenderer = &PdfRenderer;
    let pdf = renderer.render(view).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("zhengzhao-render-{name}.pdf"));
    std::fs::write(&path, &pdf).unwrap();
    (pdf, path)
}

/// Runs a poppler tool; a missing tool fails the test with what to install.
fn poppler(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run `{tool}` ({e}): these tests need poppler-utils (Debian: apt-get install poppler-utils)")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `mode` is `-layout` (as on paper) or `-raw` (drawing order: one column
/// after the other, which keeps a value wrapped in a column together).
fn text_of(path: &Path, mode: &str) -> String {
    poppler(
        "pdftotext",
        &[mode, "-enc", "UTF-8", path.to_str().unwrap(), "-"],
    )
}

fn info(path: &Path, key: &str) -> String {
    let out = poppler("pdfinfo", &["-enc", "UTF-8", path.to_str().unwrap()]);
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in:\n{out}"));
    line[key.len() + 1..].trim().to_owned()
}

fn strip(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn business_license_reads_back_on_one_small_page() {
    let view = business_license(250, Layout::A4Portrait);
    let (pdf, path) = render(&view, "portrait");
    let text = text_of(&path, "-layout");
    let flat = strip(&text);
    assert!(
        flat.contains("营业执照") && text.contains("（电子证照）"),
        "title:\n{text}"
    );
    for (label, _) in &view.fields {
        assert!(
            text.contains(label.as_str()),
            "label {label} missing:\n{text}"
        );
    }
    for value in [
        "91150102MA0N4JXK2X",
        "呼和浩特市青城数智科技有限公司",
        "有限责任公司（自然人投资或控股）",
        "2024年01月15日至长期",
        "乌日娜",
    ] {
        assert!(text.contains(value), "value {value} missing:\n{text}");
    }
    assert!(
        flat.contains(&strip(&view.fields[8].1)),
        "经营范围 (wrapped) missing:\n{text}"
    );
    for row in [
        "证照编号",
        "150102000123456",
        "持证主体",
        "有效期限",
        "2026年11月29日至长期",
        "扫码核验",
    ] {
        assert!(text.contains(row), "{row} missing:\n{text}");
    }
    assert!(flat.contains(ID), "license id missing:\n{text}");
    assert!(
        text.contains("发证单位：呼和浩特市新城区市场监督管理局"),
        "issuer missing:\n{text}"
    );
    assert!(
        text.contains("发证日期：2026年11月29日"),
        "issue date missing:\n{text}"
    );
    assert!(
        text.contains("本证照已由发证单位使用SM2数字证书电子签名"),
        "signature line missing:\n{text}"
    );

    assert_eq!(info(&path, "Pages"), "1");
    assert!(info(&path, "Page size").starts_with("595.28 x 841.89"));
    assert_eq!(info(&path, "Title"), format!("营业执照 {ID}"));
    assert!(pdf.len() < 80 * 1024, "{} bytes", pdf.len());
}

#[test]
fn long_business_scope_continues_on_more_pages_and_loses_nothing() {
    let view = business_license(4000, Layout::A4Portrait);
    let (_, path) = render(&view, "long");
    let pages: usize = info(&path, "Pages").parse().unwrap();
    assert!(pages >= 2, "{pages} pages");
    let text = strip(&text_of(&path, "-layout"));
    let scope = &view.fields[8].1;
    assert_eq!(scope.chars().count(), 4000);
    // In order (page furniture and "经营范围（续）" may come between)...
    let mut rest = text.chars();
    for (i, c) in strip(scope).chars().enumerate() {
        assert!(
            rest.any(|t| t == c),
            "character {i} ({c}) of 经营范围 did not come back in order"
        );
    }
    // ...and every row after it, and the furniture of every page.
    for later in [
        "登记机关",
        "呼和浩特市新城区市场监督管理局",
        "持证主体",
        "有效期限",
    ] {
        assert!(text.contains(later), "{later} missing");
    }
    assert_eq!(text.matches("营业执照（续页）").count(), pages - 1);
    for p in 1..=pages {
        assert!(
            text.contains(&format!("第{p}页共{pages}页")),
            "page number {p}"
        );
    }
    assert!(
        text.matches(ID).count() >= pages,
        "license id at the foot of every page"
    );
}

#[test]
fn landscape_renders_one_landscape_page() {
    let view = business_license(250, Layout::A4Landscape);
    let (pdf, path) = render(&view, "landscape");
    assert_eq!(info(&path, "Pages"), "1");
    assert!(info(&path, "Page size").starts_with("841.89 x 595.28"));
    let text = text_of(&path, "-layout");
    for (label, _) in &view.fields {
        assert!(
            text.contains(label.as_str()),
            "label {label} missing:\n{text}"
        );
    }
    // Two columns side by side: compare values in drawing order.
    let text = text_of(&path, "-raw");
    let flat = strip(&text);
    let scope = strip(&view.fields[8].1);
    let mut rest = flat.chars();
    assert!(
        scope.chars().all(|c| rest.any(|t| t == c)),
        "经营范围 not all back:\n{text}"
    );
    for s in [
        "营业执照",
        "91150102MA0N4JXK2X",
        "呼和浩特市青城数智科技有限公司",
        ID,
        "本证照已由发证单位使用SM2数字证书电子签名",
    ] {
        assert!(flat.contains(s), "{s} missing:\n{text}");
    }
    assert!(pdf.len() < 80 * 1024);
}

#[test]
fn characters_the_font_lacks_are_an_error_naming_them() {
    let mut view = business_license(250, Layout::A4Portrait);
    view.fields[1].1 = "呼和浩特市\u{20000}科技有限公司".to_owned();
    view.holder_name = "私用\u{10FFFD}区".to_owned();
    match PdfRenderer.render(&view) {
        Err(RenderError::MissingGlyphs(chars)) => assert_eq!(chars, "\u{20000}\u{10FFFD}"),
        other => panic!("expected MissingGlyphs, got {other:?}"),
    }
    let err = PdfRenderer.render(&view).unwrap_err().to_string();
    assert!(err.contains("U+20000") && err.contains("U+10FFFD"), "{err}");
}

#[test]
fn same_view_same_bytes() {
    let view = business_license(250, Layout::A4Portrait);
    assert_eq!(
        PdfRenderer.render(&view).unwrap(),
        PdfRenderer.render(&view).unwrap()
    );
}

#[test]
fn odd_views_render_too() {
    for layout in [Layout::A4Portrait, Layout::A4Landscape] {
        let mut view = business_license(0, layout);
        view.title = String::new();
        view.fields.push((String::new(), "没有标签".to_owned()));
        view.fields
            .push(("只有空白".to_owned(), " \r\n\t ".to_owned()));
        view.fields
            .extend((1..=60).map(|i| (format!("字段{i}"), "值".repeat(i))));
        view.license_number = None;
        view.verify_url = format!(
            "https://zhengzhao.amr.nmg.gov.cn/verify/{}",
            "x".repeat(600)
        );
        let (_, path) = render(&view, &format!("odd-{layout:?}"));
        assert!(info(&path, "Pages").parse::<usize>().unwrap() >= 2);
        let text = strip(&text_of(&path, "-raw"));
        assert!(
            text.contains("没有标签") && text.contains(&"值".repeat(60)),
            "{layout:?}"
        );
    }
}

/// Optional: only where zbarimg (zbar-tools) is installed.
#[test]
fn qr_code_decodes_to_the_verify_url() {
    if Command::new("zbarimg").arg("--version").output().is_err() {
        eprintln!("zbarimg not installed (Debian: zbar-tools); QR decoding not checked");
        return;
    }
    let view = business_license(250, Layout::A4Portrait);
    let (_, path) = render(&view, "qr");
    let png = path.with_extension("");
    poppler(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "100",
            "-singlefile",
            path.to_str().unwrap(),
            png.to_str().unwrap(),
        ],
    );
    let out = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(png.with_extension("png"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "zbarimg found no code: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        view.verify_url
    );
}
