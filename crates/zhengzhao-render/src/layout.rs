//! Page composition: which rows, at what size, in how many columns.
//!
//! The rows are the catalog fields, then 证照编号 (if any), 持证主体,
//! 有效期限 and the small 证照标识 line. The row size steps down from 12 pt to
//! 10 pt until every row fits on page 1 above the bottom block; if none does,
//! rows continue at 10 pt on pages titled "{title}（续页）", and every page
//! then carries the license id and page number at its foot.

use crate::flow::{self, Placed, Row, RowGeometry};
use crate::font::Face;
use crate::furniture::{Furniture, ID_LABEL, page_of};
use crate::page::Page;
use crate::{LicenseView, RenderError};

/// Row font sizes tried in turn before a continuation page is added.
const ROW_SIZES: [f32; 5] = [12.0, 11.5, 11.0, 10.5, 10.0];
/// Extra space between rows, in em of the row size.
const ROW_GAP: f32 = 0.45;
const ID_SIZE: f32 = 9.0;
/// The label column takes at most this share of a column; longer labels wrap.
const LABEL_SHARE: f32 = 0.34;

/// `\r\n` and `\r` become `\n`, tabs spaces; trailing blank lines go.
fn clean(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\t', " ")
        .trim_end()
        .to_owned()
}

/// Lays out `view` on one or more pages.
pub(crate) fn compose(face: &Face, view: &LicenseView) -> Result<Vec<Page>, RenderError> {
    let id = clean(&view.license_id);
    let (title, issuer, date) = (
        clean(&view.title),
        clean(&view.issuer_name),
        clean(&view.issue_date),
    );
    let furniture = Furniture::new(
        face,
        view.layout,
        &title,
        &id,
        &issuer,
        &date,
        &view.verify_url,
        &view.notices.iter().map(|n| clean(n)).collect::<Vec<_>>(),
    )?;
    let sheet = &furniture.sheet;

    let mut items: Vec<(String, String)> = view
        .fields
        .iter()
        .map(|(l, v)| (clean(l), clean(v)))
        .collect();
    if let Some(no) = &view.license_number {
        items.push(("证照编号".to_owned(), clean(no)));
    }
    items.push(("持证主体".to_owned(), clean(&view.holder_name)));
    items.push(("有效期限".to_owned(), clean(&view.validity)));
    let rows_for = |size: f32, cols: usize| {
        let col_w = sheet.col_w(cols);
        let widest = items
            .iter()
            .map(|(l, _)| face.width(l, size))
            .fold(0.0, f32::max);
        let label_w = widest.min(col_w * LABEL_SHARE);
        let g = RowGeometry {
            label_w,
            value_dx: label_w + size,
            col_w,
        };
        let mut rows: Vec<Row> = items
            .iter()
            .map(|(l, v)| Row::new(face, (l, v), size, g, size * ROW_GAP))
            .collect();
        rows.push(Row::new(face, (ID_LABEL, &id), ID_SIZE, g, size));
        rows
    };

    // One page, if any size and column count allows it.
    let ((top, bottom), (cont_top, cont_bottom)) = (furniture.first, furniture.cont);
    for size in ROW_SIZES {
        for &cols in sheet.columns {
            let rows = rows_for(size, cols);
            let first = sheet.frames(cols, top, bottom);
            if let Some(placed) = flow::pour(&rows, &first, &[]) {
                let placed = if cols > 1 {
                    balance(&rows, first, placed)
                } else {
                    placed
                };
                return Ok(furniture.pages(face, placed, 1, cols));
            }
        }
    }

    // Continuation pages at the smallest size, with the column count that needs fewest.
    let mut best: Option<(usize, usize, Placed)> = None;
    for &cols in sheet.columns {
        let rows = rows_for(ROW_SIZES[ROW_SIZES.len() - 1], cols);
        let (first, repeat) = (
            sheet.frames(cols, top, bottom),
            sheet.frames(cols, cont_top, cont_bottom),
        );
        let too_long = || RenderError::Pdf("the license content is too long to lay out".to_owned());
        let placed = flow::pour(&rows, &first, &repeat).ok_or_else(too_long)?;
        let pages = placed
            .iter()
            .map(|(i, _)| page_of(*i, cols))
            .max()
            .unwrap_or(0)
            + 1;
        if best.as_ref().is_none_or(|(p, ..)| pages < *p) {
            best = Some((pages, cols, placed));
        }
    }
    let (pages, cols, placed) =
        best.ok_or_else(|| RenderError::Pdf("no column layout".to_owned()))?;
    Ok(furniture.pages(face, placed, pages, cols))
}

/// Balances columns whose rows all fit: the lowest common column bottom at
/// which everything still fits on the page.
fn balance(rows: &[Row], mut first: Vec<flow::Frame>, mut placed: Placed) -> Placed {
    let Some(col) = first.first().copied() else {
        return placed;
    };
    let (mut lo, mut hi) = (col.top, col.bottom);
    for _ in 0..16 {
        let mid = (lo + hi) / 2.0;
        first.iter_mut().for_each(|f| f.bottom = mid);
        match flow::pour(rows, &first, &[]) {
            Some(p) => (placed, hi) = (p, mid),
            None => lo = mid,
        }
    }
    placed
}

#[cfg(test)]
mod tests;
