//! Page furniture, everything but the rows: title, subtitle and notices, the bottom
//! block (QR code, issuer, issue date, signature note), the continuation
//! header and the footer; and the room they leave for rows.

use crate::flow::{Frame, Placed};
use crate::font::Face;
use crate::page::{FRAME_INNER, Ink, Page, QrPlacement, Run};
use crate::wrap::wrap;
use crate::{Layout, RenderError, qr};

pub(crate) const SUBTITLE: &str = "（电子证照）";
pub(crate) const QR_CAPTION: &str = "扫码核验";
pub(crate) const SIGNATURE_NOTE: &str = "本证照已由发证单位使用SM2数字证书电子签名";
pub(crate) const CONTINUED: &str = "（续页）";
pub(crate) const ID_LABEL: &str = "证照标识";

const FOOTER_SIZE: f32 = 7.0;
/// Notices (已注销, 测试证书 …) on page 1 and on continuation pages.
const NOTICE_SIZE: f32 = 15.0;
const CONT_NOTICE_SIZE: f32 = 12.0;
/// Text keeps this distance from the paper edge (the inner frame is at 30).
const MARGIN: f32 = 58.0;
const COLUMN_GAP: f32 = 28.0;
/// Top of the title box, on every page.
const HEAD_TOP: f32 = FRAME_INNER + 24.0;

/// The paper and its proportions.
pub(crate) struct Sheet {
    w: f32,
    h: f32,
    title_size: f32,
    subtitle_size: f32,
    qr_side: f32,
    /// Column counts to try, preferred first.
    pub(crate) columns: &'static [usize],
}

impl Sheet {
    pub(crate) fn of(layout: Layout) -> Self {
        let (w, h) = (595.28, 841.89);
        match layout {
            Layout::A4Portrait => Sheet {
                w,
                h,
                title_size: 36.0,
                subtitle_size: 13.0,
                qr_side: 112.0,
                columns: &[1],
            },
            Layout::A4Landscape => Sheet {
                w: h,
                h: w,
                title_size: 32.0,
                subtitle_size: 12.0,
                qr_side: 100.0,
                columns: &[2, 1],
            },
        }
    }

    fn content_w(&self) -> f32 {
        self.w - 2.0 * MARGIN
    }

    /// Width of each of `cols` columns.
    pub(crate) fn col_w(&self, cols: usize) -> f32 {
        let n = cols.max(1) as f32;
        (self.content_w() - (n - 1.0) * COLUMN_GAP) / n
    }

    /// `cols` columns side by side between `top` and `bottom`.
    pub(crate) fn frames(&self, cols: usize, top: f32, bottom: f32) -> Vec<Frame> {
        let w = self.col_w(cols);
        (0..cols.max(1))
            .map(|i| Frame {
                x: MARGIN + i as f32 * (w + COLUMN_GAP),
                top,
                bottom,
            })
            .collect()
    }
}

/// The page a frame is on, when page 1 and each continuation page have `cols`.
pub(crate) fn page_of(frame: usize, cols: usize) -> usize {
    frame / cols.max(1)
}

pub(crate) fn page_number(page: usize, pages: usize) -> String {
    format!("第{page}页 共{pages}页")
}

/// The furniture of one document.
pub(crate) struct Furniture {
    pub(crate) sheet: Sheet,
    /// Page 1: title, subtitle and bottom block.
    head: Vec<Run>,
    qr: QrPlacement,
    /// Continuation pages: "{title}（续页）".
    cont_head: Vec<Run>,
    footer: Footer,
    /// Rows on page 1 go between these…
    pub(crate) first: (f32, f32),
    /// …and on continuation pages between these.
    pub(crate) cont: (f32, f32),
}

impl Furniture {
    /// `title`, `id`, `issuer`, `date` and `notices` already cleaned for display.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        face: &Face,
        layout: Layout,
        title: &str,
        id: &str,
        issuer: &str,
        date: &str,
        url: &str,
        notices: &[String],
    ) -> Result<Self, RenderError> {
        let sheet = Sheet::of(layout);
        let footer = Footer::new(face, &sheet, id);
        let content_bottom = footer.top - 8.0;
        let (mut head, y) = title_runs(face, &sheet, title, sheet.title_size);
        let sub = sheet.subtitle_size;
        let x = (sheet.w - face.width(SUBTITLE, sub)) / 2.0;
        head.push(Run::new(x, y + 4.0 + 0.92 * sub, sub, SUBTITLE, Ink::Black));
        let (lines, y) = notice_runs(face, &sheet, notices, y + 4.0 + 1.2 * sub, NOTICE_SIZE);
        head.extend(lines);
        let rows_top = y + 14.0;
        let issued = [format!("发证单位：{issuer}"), format!("发证日期：{date}")];
        let (block, qr, block_top) =
            bottom_block(face, &sheet, &issued, qr::encode(url)?, content_bottom);
        head.extend(block);
        let (mut cont_head, y) = title_runs(face, &sheet, &format!("{title}{CONTINUED}"), 20.0);
        let (lines, y) = notice_runs(face, &sheet, notices, y, CONT_NOTICE_SIZE);
        cont_head.extend(lines);
        let (first, cont) = ((rows_top, block_top - 16.0), (y + 14.0, content_bottom));
        Ok(Furniture {
            sheet,
            head,
            qr,
            cont_head,
            footer,
            first,
            cont,
        })
    }

    /// Puts placed rows onto `pages` pages with their furniture (footers only
    /// if there is more than one page).
    pub(crate) fn pages(self, face: &Face, placed: Placed, pages: usize, cols: usize) -> Vec<Page> {
        let (w, h) = (self.sheet.w, self.sheet.h);
        let mut out = vec![Page {
            width: w,
            height: h,
            runs: self.head,
            qr: Some(self.qr),
        }];
        out.extend((1..pages).map(|_| Page {
            width: w,
            height: h,
            runs: self.cont_head.clone(),
            qr: None,
        }));
        for (frame, run) in placed {
            if let Some(page) = out.get_mut(page_of(frame, cols)) {
                page.runs.push(run);
            }
        }
        if pages > 1 {
            for (i, page) in out.iter_mut().enumerate() {
                page.runs
                    .extend(self.footer.runs(face, &self.sheet, i + 1, pages));
            }
        }
        out
    }
}

/// Centred title, letter-spaced when short as on a printed certificate;
/// wrapped at 60 % size if it would otherwise shrink further. Returns the
/// runs and the y just below them.
fn title_runs(face: &Face, sheet: &Sheet, text: &str, max_size: f32) -> (Vec<Run>, f32) {
    let n = text.chars().count();
    let spacing = match n {
        0..=4 => 0.6,
        5..=6 => 0.3,
        7..=8 => 0.12,
        _ => 0.0,
    };
    let em_w = face.width(text, 1.0) + spacing * n.saturating_sub(1) as f32;
    let size = if em_w > 0.0 {
        max_size.min(sheet.content_w() / em_w)
    } else {
        max_size
    };
    let bold = |x: f32, y: f32, size: f32, text: &str| Run {
        bold: true,
        ..Run::new(x, y, size, text, Ink::Black)
    };
    let mut runs = Vec::new();
    if size >= 0.6 * max_size && !text.contains('\n') {
        let (mut x, y) = ((sheet.w - em_w * size) / 2.0, HEAD_TOP + 0.92 * size);
        for c in text.chars() {
            runs.push(bold(x, y, size, &c.to_string()));
            x += (face.advance_em(c) + spacing) * size;
        }
        return (runs, HEAD_TOP + 1.2 * size);
    }
    let size = 0.6 * max_size;
    let lines = wrap(text, sheet.content_w(), |c| face.advance_em(c) * size);
    for (i, line) in lines.iter().enumerate() {
        let x = (sheet.w - face.width(line, size)) / 2.0;
        runs.push(bold(
            x,
            HEAD_TOP + (i as f32 * 1.3 + 0.92) * size,
            size,
            line,
        ));
    }
    (runs, HEAD_TOP + (lines.len() as f32 * 1.3 - 0.1) * size)
}

/// Notices, centred in bold red under `top`, wrapped to the content width.
/// Returns the runs and the y just below them.
fn notice_runs(
    face: &Face,
    sheet: &Sheet,
    notices: &[String],
    top: f32,
    size: f32,
) -> (Vec<Run>, f32) {
    let mut runs = Vec::new();
    let mut y = top;
    for notice in notices {
        for line in wrap(notice, sheet.content_w(), |c| face.advance_em(c) * size) {
            let x = (sheet.w - face.width(&line, size)) / 2.0;
            y += 0.4 * size;
            runs.push(Run {
                bold: true,
                ..Run::new(x, y + 0.92 * size, size, &line, Ink::Red)
            });
            y += 1.2 * size;
        }
    }
    (runs, y)
}

/// QR code (left) and issuer, date and signature note (right, flush with the
/// right margin), bottom edge at `bottom`. Returns runs, the QR, and the top.
fn bottom_block(
    face: &Face,
    sheet: &Sheet,
    issued: &[String; 2],
    modules: qr::QrModules,
    bottom: f32,
) -> (Vec<Run>, QrPlacement, f32) {
    let side = sheet.qr_side;
    let text_max = sheet.content_w() - side - 24.0;
    let parts = [
        (&issued[0], 12.0, Ink::Black, 0.0),
        (&issued[1], 12.0, Ink::Black, 0.0),
    ];
    let note = SIGNATURE_NOTE.to_owned();
    let mut lines = Vec::new();
    for (text, size, ink, gap) in parts.into_iter().chain([(&note, 10.5, Ink::Red, 8.0)]) {
        let wrapped = wrap(text, text_max, |c| face.advance_em(c) * size);
        for (i, l) in wrapped.into_iter().enumerate() {
            lines.push((l, size, ink, if i == 0 { gap } else { 0.0 }));
        }
    }
    let text_w = lines
        .iter()
        .map(|(l, s, ..)| face.width(l, *s))
        .fold(0.0, f32::max);
    let text_h: f32 = lines.iter().map(|(_, s, _, gap)| gap + s * 1.6).sum();
    let height = (side + 16.0).max(text_h);
    let top = bottom - height;
    let x = MARGIN + sheet.content_w() - text_w;
    let mut y = top + (height - text_h) / 2.0;
    let mut runs = Vec::new();
    for (l, size, ink, gap) in &lines {
        y += gap;
        runs.push(Run::new(x, y + size * 1.1, *size, l, *ink));
        y += size * 1.6;
    }
    let cap_x = MARGIN + (side - face.width(QR_CAPTION, 9.0)) / 2.0;
    runs.push(Run::new(
        cap_x,
        top + side + 12.0,
        9.0,
        QR_CAPTION,
        Ink::Black,
    ));
    (
        runs,
        QrPlacement {
            x: MARGIN,
            y: top,
            side,
            modules,
        },
        top,
    )
}

/// The license id and page number at the foot of every page (when there is
/// more than one). The room is kept free on every page, so page 1 looks the
/// same either way.
struct Footer {
    lines: Vec<String>,
    top: f32,
    last_baseline: f32,
}

impl Footer {
    const LEAD: f32 = 1.35 * FOOTER_SIZE;

    fn new(face: &Face, sheet: &Sheet, id: &str) -> Self {
        let page_no_w = face.width(&page_number(999, 999), FOOTER_SIZE);
        let text = format!("{ID_LABEL}：{id}");
        let lines = wrap(&text, sheet.content_w() - page_no_w - 12.0, |c| {
            face.advance_em(c) * FOOTER_SIZE
        });
        let last_baseline = sheet.h - FRAME_INNER - 10.0;
        let top = last_baseline - (lines.len() as f32 - 1.0) * Self::LEAD - FOOTER_SIZE - 2.0;
        Footer {
            lines,
            top,
            last_baseline,
        }
    }

    fn runs(&self, face: &Face, sheet: &Sheet, page: usize, pages: usize) -> Vec<Run> {
        let n = self.lines.len() as f32;
        let mut runs: Vec<Run> = (self.lines.iter().enumerate())
            .map(|(i, l)| {
                let y = self.last_baseline - (n - 1.0 - i as f32) * Self::LEAD;
                Run::new(MARGIN, y, FOOTER_SIZE, l, Ink::Black)
            })
            .collect();
        let no = page_number(page, pages);
        let x = sheet.w - MARGIN - face.width(&no, FOOTER_SIZE);
        runs.push(Run::new(
            x,
            self.last_baseline,
            FOOTER_SIZE,
            &no,
            Ink::Black,
        ));
        runs
    }
}
