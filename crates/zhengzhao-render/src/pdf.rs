//! Writes laid-out pages as PDF with krilla. The font is subset on write
//! (CIDFontType2 with a ToUnicode map, so text can be searched and copied).

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::text::TextDirection;

use crate::RenderError;
use crate::font::Face;
use crate::page::{FRAME_INNER, FRAME_OUTER, Ink, Page, QrPlacement, RED};
use crate::qr::QUIET;

fn geometry() -> RenderError {
    RenderError::Pdf("invalid page geometry".to_owned())
}

fn color(ink: Ink) -> rgb::Color {
    match ink {
        Ink::Black => rgb::Color::new(0, 0, 0),
        Ink::Red => rgb::Color::new(RED.0, RED.1, RED.2),
    }
}

fn fill(ink: Ink) -> Fill {
    Fill {
        paint: color(ink).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// Grey of the watermark, and how faint.
const WATERMARK_GREY: u8 = 0x80;
const WATERMARK_OPACITY: f32 = 0.22;
const WATERMARK_SIZE: f32 = 13.0;

/// `lines` tiled across the page at 30°, faint, under everything else.
fn draw_watermark(s: &mut Surface, face: &Face, lines: &[String], w: f32, h: f32) {
    if lines.is_empty() {
        return;
    }
    s.set_stroke(None);
    s.set_fill(Some(Fill {
        paint: rgb::Color::new(WATERMARK_GREY, WATERMARK_GREY, WATERMARK_GREY).into(),
        opacity: NormalizedF32::new(WATERMARK_OPACITY).unwrap_or(NormalizedF32::ONE),
        rule: FillRule::NonZero,
    }));
    let block = WATERMARK_SIZE * 1.5 * lines.len() as f32 + 40.0;
    let mut y = 60.0;
    while y < h + block {
        let mut x = -40.0;
        while x < w {
            s.push_transform(&Transform::from_rotate_at(-30.0, x, y));
            for (i, line) in lines.iter().enumerate() {
                let at = Point::from_xy(x, y + i as f32 * WATERMARK_SIZE * 1.5);
                s.draw_text(
                    at,
                    face.pdf.clone(),
                    WATERMARK_SIZE,
                    line,
                    false,
                    TextDirection::Auto,
                );
            }
            s.pop();
            x += 260.0;
        }
        y += block;
    }
}

/// Renders `pages` into one PDF whose document title is `title`.
pub(crate) fn write(
    face: &Face,
    pages: &[Page],
    title: String,
    attachment: Option<&str>,
    watermark: &[String],
) -> Result<Vec<u8>, RenderError> {
    let mut doc = Document::new();
    if let Some(text) = attachment {
        doc.embed_file(krilla::embed::EmbeddedFile {
            path: "license-document.json".to_owned(),
            mime_type: krilla::embed::MimeType::new("application/json"),
            description: Some("电子证照签名文件 (SM2-signed document)".to_owned()),
            association_kind: krilla::embed::AssociationKind::Data,
            data: text.as_bytes().to_vec().into(),
            modification_date: None,
            // Uncompressed: the check finds it in the file's bytes.
            compress: Some(false),
            location: None,
        })
        .ok_or_else(|| RenderError::Pdf("the signed document could not be embedded".into()))?;
    }
    doc.set_metadata(
        Metadata::new()
            .title(title)
            .language("zh-CN".to_owned())
            .creator(format!("zhengzhao-render {}", env!("CARGO_PKG_VERSION"))),
    );
    for p in pages {
        let mut page =
            doc.start_page_with(PageSettings::from_wh(p.width, p.height).ok_or_else(geometry)?);
        let mut s = page.surface();
        draw_frame(&mut s, p.width, p.height)?;
        draw_watermark(&mut s, face, watermark, p.width, p.height);
        for run in p.runs.iter().filter(|r| !r.text.is_empty()) {
            s.set_fill(Some(fill(run.ink)));
            let outline = Stroke {
                paint: color(run.ink).into(),
                width: 0.03 * run.size,
                ..Default::default()
            };
            s.set_stroke(run.bold.then_some(outline));
            let at = Point::from_xy(run.x, run.y);
            s.draw_text(
                at,
                face.pdf.clone(),
                run.size,
                &run.text,
                false,
                TextDirection::Auto,
            );
        }
        s.set_stroke(None);
        if let Some(qr) = &p.qr {
            draw_qr(&mut s, qr)?;
        }
        s.finish();
        page.finish();
    }
    doc.finish().map_err(|e| RenderError::Pdf(e.to_string()))
}

/// The red double frame: a thick outer and a thin inner rectangle.
fn draw_frame(s: &mut Surface, w: f32, h: f32) -> Result<(), RenderError> {
    s.set_fill(None);
    for (inset, width) in [(FRAME_OUTER, 2.5), (FRAME_INNER, 0.8)] {
        let mut pb = PathBuilder::new();
        pb.push_rect(
            Rect::from_xywh(inset, inset, w - 2.0 * inset, h - 2.0 * inset).ok_or_else(geometry)?,
        );
        s.set_stroke(Some(Stroke {
            paint: color(Ink::Red).into(),
            width,
            ..Default::default()
        }));
        s.draw_path(&pb.finish().ok_or_else(geometry)?);
    }
    s.set_stroke(None);
    Ok(())
}

/// The QR code as one filled path of run rectangles.
fn draw_qr(s: &mut Surface, qr: &QrPlacement) -> Result<(), RenderError> {
    let m = qr.side / (qr.modules.width + 2 * QUIET) as f32;
    let mut pb = PathBuilder::new();
    for &(row, col, len) in &qr.modules.runs {
        let (x, y) = (
            qr.x + (col + QUIET) as f32 * m,
            qr.y + (row + QUIET) as f32 * m,
        );
        pb.push_rect(Rect::from_xywh(x, y, len as f32 * m, m).ok_or_else(geometry)?);
    }
    s.set_fill(Some(fill(Ink::Black)));
    if let Some(path) = pb.finish() {
        s.draw_path(&path);
    }
    Ok(())
}
