use super::*;
use crate::Layout;
use crate::font::face;
use crate::furniture::{SIGNATURE_NOTE, page_number};
use crate::page::{FRAME_INNER, Run};
use crate::testdata::{ID, business_license};

/// Ink box of a run: glyphs reach about 0.9 em above and 0.15 em below the baseline.
fn bbox(face: &Face, r: &Run) -> [f32; 4] {
    [
        r.x,
        r.y - 0.9 * r.size,
        r.x + face.width(&r.text, r.size),
        r.y + 0.15 * r.size,
    ]
}

fn overlaps(a: [f32; 4], b: [f32; 4]) -> bool {
    const EPS: f32 = 0.01;
    a[0] < b[2] - EPS && b[0] < a[2] - EPS && a[1] < b[3] - EPS && b[1] < a[3] - EPS
}

fn assert_clean(face: &Face, pages: &[Page], what: &str) {
    for (n, page) in pages.iter().enumerate() {
        let mut boxes: Vec<([f32; 4], &str)> = page
            .runs
            .iter()
            .map(|r| (bbox(face, r), r.text.as_str()))
            .collect();
        if let Some(q) = &page.qr {
            boxes.push(([q.x, q.y, q.x + q.side, q.y + q.side], "<QR>"));
        }
        let (lo, hi_x, hi_y) = (
            FRAME_INNER,
            page.width - FRAME_INNER,
            page.height - FRAME_INNER,
        );
        for (i, (a, ta)) in boxes.iter().enumerate() {
            assert!(
                a[0] > lo && a[1] > lo && a[2] < hi_x && a[3] < hi_y,
                "{what} p{n}: {ta:?} {a:?} leaves the frame"
            );
            for (b, tb) in &boxes[i + 1..] {
                assert!(
                    !overlaps(*a, *b),
                    "{what} p{n}: {ta:?} {a:?} overlaps {tb:?} {b:?}"
                );
            }
        }
    }
}

fn strip(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `needle` occurs in `hay` in order (other text may come between), and no
/// character of it is missing.
fn assert_conserved(pages: &[Page], needle: &str) {
    let hay: String = pages
        .iter()
        .flat_map(|p| p.runs.iter())
        .map(|r| strip(&r.text))
        .collect();
    let mut it = hay.chars();
    for (i, c) in strip(needle).chars().enumerate() {
        assert!(
            it.any(|h| h == c),
            "character {i} {c:?} of {needle:.20}… not placed in order"
        );
    }
}

fn row_size(pages: &[Page]) -> f32 {
    pages
        .iter()
        .flat_map(|p| &p.runs)
        .find(|r| r.text == "名称")
        .map_or(0.0, |r| r.size)
}

fn variants() -> Vec<(String, LicenseView)> {
    let mut out = Vec::new();
    for layout in [Layout::A4Portrait, Layout::A4Landscape] {
        for len in [0, 250, 900, 1600, 4000] {
            let v = business_license(len, layout);
            out.push((format!("{layout:?} scope {len}"), v.clone()));
            let mut odd = v;
            odd.title = "内蒙古自治区食品生产许可证（副本）电子版特别长的证照名称用来测试标题换行"
                .to_owned();
            odd.fields.push((
                "一个特别特别长而且需要换行显示的字段标签名称".to_owned(),
                "值\n第二行\n\n第四行".to_owned(),
            ));
            odd.issuer_name = "内蒙古自治区呼和浩特市新城区市场监督管理局行政审批服务科".repeat(2);
            odd.license_number = None;
            odd.notices = vec![
                "已注销（注销日期：2026年12月05日）".to_owned(),
                "测试证书：签名证书由本地测试CA签发，不具法律效力".repeat(3),
            ];
            out.push((format!("{layout:?} scope {len}, odd"), odd));
        }
    }
    out
}

#[test]
fn nothing_overlaps_leaves_the_frame_or_goes_missing() {
    let face = face().unwrap();
    for (what, v) in variants() {
        let pages = compose(face, &v).unwrap();
        assert_clean(face, &pages, &what);
        for (label, value) in &v.fields {
            assert_conserved(&pages, label);
            assert_conserved(&pages, value);
        }
        for text in [
            &v.holder_name,
            &v.validity,
            &v.issuer_name,
            &v.issue_date,
            &v.license_id,
        ] {
            assert_conserved(&pages, text);
        }
        assert_conserved(&pages, SIGNATURE_NOTE);
        for n in &v.notices {
            assert_conserved(&pages, n);
        }
    }
}

/// Notices are on every page, in red, above the rows.
#[test]
fn notices_head_every_page() {
    let face = face().unwrap();
    let mut v = business_license(4000, Layout::A4Portrait);
    v.notices = vec!["已被新版本替代（替代日期：2026年12月05日，现行为第2版）".to_owned()];
    let pages = compose(face, &v).unwrap();
    assert!(pages.len() > 1);
    for (n, page) in pages.iter().enumerate() {
        let notice = page
            .runs
            .iter()
            .find(|r| r.text.starts_with("已被新版本替代"))
            .unwrap_or_else(|| panic!("page {n} has no notice"));
        assert!(notice.ink == crate::page::Ink::Red && notice.bold);
        let first_row = page
            .runs
            .iter()
            .filter(|r| r.size <= 12.0 && r.ink == crate::page::Ink::Black)
            .map(|r| r.y)
            .fold(f32::MAX, f32::min);
        assert!(
            notice.y < first_row,
            "page {n}: the notice is above the rows"
        );
    }
}

#[test]
fn a_typical_license_is_one_page_in_both_layouts() {
    let face = face().unwrap();
    for layout in [Layout::A4Portrait, Layout::A4Landscape] {
        let pages = compose(face, &business_license(250, layout)).unwrap();
        assert_eq!(pages.len(), 1, "{layout:?}");
        assert!(pages[0].qr.is_some());
        assert!(
            !pages[0].runs.iter().any(|r| r.text.starts_with("第1页")),
            "no footer on a single page"
        );
    }
}

#[test]
fn rows_shrink_to_10pt_before_a_page_is_added() {
    let face = face().unwrap();
    let mut last = (1, 12.0);
    let mut shrunk_on_one_page = false;
    for len in (100..=2000).step_by(50) {
        let pages = compose(face, &business_license(len, Layout::A4Portrait)).unwrap();
        let now = (pages.len(), row_size(&pages));
        assert!(
            now.0 >= last.0 && now.1 <= last.1,
            "scope {len}: {now:?} after {last:?}"
        );
        if now.0 > 1 {
            assert_eq!(
                now.1, 10.0,
                "scope {len}: pages added before shrinking to 10 pt"
            );
        }
        shrunk_on_one_page |= now.0 == 1 && now.1 < 12.0;
        last = now;
    }
    assert!(
        shrunk_on_one_page && last.0 > 1,
        "the range covers both cases"
    );
}

#[test]
fn continuation_pages_have_their_title_and_every_page_a_footer() {
    let face = face().unwrap();
    for layout in [Layout::A4Portrait, Layout::A4Landscape] {
        let pages = compose(face, &business_license(4000, layout)).unwrap();
        let n = pages.len();
        assert!(n >= 2, "{layout:?}: {n} pages");
        for (i, p) in pages.iter().enumerate() {
            let text: String = p.runs.iter().map(|r| r.text.as_str()).collect();
            assert!(
                text.contains(&page_number(i + 1, n)),
                "{layout:?} page {}",
                i + 1
            );
            assert!(
                strip(&text).contains(&format!("{ID_LABEL}：{ID}")),
                "{layout:?} page {}: id at the foot",
                i + 1
            );
            let title: String = p
                .runs
                .iter()
                .filter(|r| r.bold)
                .map(|r| r.text.as_str())
                .collect();
            assert_eq!(
                title,
                if i == 0 {
                    "营业执照"
                } else {
                    "营业执照（续页）"
                }
            );
            assert_eq!(p.qr.is_some(), i == 0);
        }
    }
}

#[test]
fn landscape_uses_balanced_columns_when_they_fit() {
    let face = face().unwrap();
    let mut short = business_license(40, Layout::A4Landscape);
    short.fields.truncate(5);
    for (what, v) in [
        ("short", short),
        ("typical", business_license(250, Layout::A4Landscape)),
    ] {
        let pages = compose(face, &v).unwrap();
        assert_eq!(pages.len(), 1, "{what}");
        let (page, qr_top) = (&pages[0], pages[0].qr.as_ref().unwrap().y);
        let rows: Vec<&Run> = page
            .runs
            .iter()
            .filter(|r| !r.bold && r.y > 130.0 && r.y < qr_top)
            .collect();
        let bottom = |right: bool| {
            let col = rows.iter().filter(|r| (r.x > page.width / 2.0) == right);
            col.map(|r| r.y).fold(0.0, f32::max)
        };
        let (left, right) = (bottom(false), bottom(true));
        assert!(
            left > 0.0 && right > 0.0,
            "{what}: both columns used ({left}, {right})"
        );
        assert!(
            (left - right).abs() < 60.0,
            "{what}: columns end at {left} and {right}"
        );
    }
}

#[test]
fn hostile_views_still_lay_out_cleanly() {
    let face = face().unwrap();
    for layout in [Layout::A4Portrait, Layout::A4Landscape] {
        let mut v = business_license(300, layout);
        v.fields
            .extend((1..=60).map(|i| (format!("附加字段{i}"), format!("值{i}"))));
        v.fields.push(("长串".to_owned(), "A".repeat(3000)));
        v.fields.push(("空".to_owned(), "\r\n\t\n".to_owned()));
        v.fields.push((String::new(), "没有标签的值".to_owned()));
        v.fields.push((
            "带空格".to_owned(),
            "Room 1201, Tower B, Ordos Building, 88 Hailar East Street, Xincheng District, Hohhot "
                .repeat(8),
        ));
        v.holder_name = "持证主体名称".repeat(40);
        v.title = String::new();
        v.verify_url = format!(
            "https://zhengzhao.amr.nmg.gov.cn/verify/{}",
            "x".repeat(600)
        );
        let pages = compose(face, &v).unwrap();
        assert!(pages.len() >= 3, "{layout:?}: {} pages", pages.len());
        assert_clean(face, &pages, &format!("{layout:?} hostile"));
        for (label, value) in &v.fields {
            assert_conserved(&pages, label);
            assert_conserved(&pages, value);
        }
        assert_conserved(&pages, &v.holder_name);
    }
}
