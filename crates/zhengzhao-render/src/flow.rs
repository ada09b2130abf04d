//! Flowing label/value rows through a chain of column frames.
//!
//! A row that does not fit in what is left of a frame moves to the next one;
//! a row of four lines or more may instead split between lines, and the part
//! that continues is labelled "{label}（续）". Nothing is ever clipped: a frame
//! only receives the lines that fit inside it.

use crate::font::Face;
use crate::page::{Ink, Run};
use crate::wrap::wrap;

/// Line height as a multiple of the font size.
pub(crate) const LEADING: f32 = 1.5;
/// Distance from the top of a line box to the baseline, in em.
pub(crate) const BASELINE: f32 = 1.08;
/// Frames the flow may use before it gives up (about 2,500 pages).
const MAX_FRAMES: usize = 5_000;

/// A column that rows are poured into, top to bottom (its width is the
/// `col_w` the rows were wrapped for).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Frame {
    pub(crate) x: f32,
    pub(crate) top: f32,
    pub(crate) bottom: f32,
}

/// Runs with the index of the frame each landed in.
pub(crate) type Placed = Vec<(usize, Run)>;

/// Where a row's two columns go inside a frame of width `col_w`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowGeometry {
    pub(crate) label_w: f32,
    pub(crate) value_dx: f32,
    pub(crate) col_w: f32,
}

/// One row, wrapped for a column width.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    label: Vec<String>,
    continued_label: Vec<String>,
    value: Vec<String>,
    size: f32,
    gap_before: f32,
    value_dx: f32,
}

impl Row {
    /// Wraps `label` into the label column and `value` into the value column.
    pub(crate) fn new(
        face: &Face,
        (label, value): (&str, &str),
        size: f32,
        g: RowGeometry,
        gap_before: f32,
    ) -> Self {
        let adv = |c: char| face.advance_em(c) * size;
        Row {
            label: wrap(label, g.label_w, adv),
            continued_label: wrap(&format!("{label}（续）"), g.label_w, adv),
            value: wrap(value, g.col_w - g.value_dx, adv),
            size,
            gap_before,
            value_dx: g.value_dx,
        }
    }

    fn leading(&self) -> f32 {
        self.size * LEADING
    }
}

/// Pours `rows` into `first` and then, as often as needed, `repeat` (the
/// frames of one continuation page). Returns each run with the index of the
/// frame it landed in; frames are numbered `first` then `repeat`, `repeat`, …
/// `None` if the frames run out (only possible with no `repeat`, frames too
/// short for one line, or absurdly long content).
pub(crate) fn pour(rows: &[Row], first: &[Frame], repeat: &[Frame]) -> Option<Placed> {
    let frame_at = |i: usize| match first.get(i) {
        Some(f) => Some(*f),
        None if repeat.is_empty() => None,
        None => repeat.get((i - first.len()) % repeat.len()).copied(),
    };
    let mut out = Vec::new();
    let mut idx = 0;
    let mut frame = frame_at(0)?;
    let mut y = frame.top;
    let mut empty = true;
    for row in rows {
        let lead = row.leading();
        let mut label: &[String] = &row.label;
        let mut value: &[String] = &row.value;
        loop {
            let n = label.len().max(value.len()).max(1);
            let top = if empty { y } else { y + row.gap_before };
            let avail = ((frame.bottom - top) / lead + 1e-4).floor().max(0.0) as usize;
            let take = if n <= avail {
                n
            } else if avail == 0 || (!empty && (n < 4 || avail < 2 || avail < label.len())) {
                idx += 1;
                if idx >= MAX_FRAMES {
                    return None;
                }
                frame = frame_at(idx)?;
                (y, empty) = (frame.top, true);
                continue;
            } else if n - avail == 1 && avail > 2 && avail > label.len() {
                avail - 1 // leave two lines, not one, for the next frame
            } else {
                avail
            };
            for i in 0..take {
                let base = top + i as f32 * lead + row.size * BASELINE;
                let mut put = |dx: f32, text: &String| {
                    out.push((
                        idx,
                        Run::new(frame.x + dx, base, row.size, text, Ink::Black),
                    ));
                };
                if let Some(l) = label.get(i) {
                    put(0.0, l);
                }
                if let Some(v) = value.get(i) {
                    put(row.value_dx, v);
                }
            }
            (y, empty) = (top + take as f32 * lead, false);
            if take >= n {
                break;
            }
            value = value.get(take..).unwrap_or_default();
            label = match label.get(take..) {
                Some(rest) if !rest.is_empty() => rest,
                _ => &row.continued_label,
            };
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::font::face;

    fn frame(top: f32, bottom: f32) -> Frame {
        Frame {
            x: 50.0,
            top,
            bottom,
        }
    }

    fn row(label: &str, value: &str) -> Row {
        let g = RowGeometry {
            label_w: 80.0,
            value_dx: 90.0,
            col_w: 300.0,
        };
        Row::new(face().unwrap(), (label, value), 10.0, g, 4.0)
    }

    #[test]
    fn short_rows_move_whole_long_rows_split() {
        let rows = [row("名称", "某某公司"), row("经营范围", &"技".repeat(2300))];
        // 15 pt lines, 21 characters each: the first frame holds 6 lines.
        let out = pour(&rows, &[frame(0.0, 90.0)], &[frame(0.0, 1000.0)]).unwrap();
        let in_first: Vec<_> = out
            .iter()
            .filter(|(i, _)| *i == 0)
            .map(|(_, r)| &r.text)
            .collect();
        assert_eq!(in_first[0], "名称");
        assert!(
            in_first.contains(&&"经营范围".to_owned()),
            "long row split: {in_first:?}"
        );
        assert!(
            out.iter()
                .any(|(i, r)| *i == 1 && r.text == "经营范围（续）")
        );
        let value: String = out
            .iter()
            .filter(|(_, r)| r.text.starts_with('技'))
            .map(|(_, r)| r.text.as_str())
            .collect();
        assert_eq!(value.chars().count(), 2300);
        assert!(out.iter().all(|(_, r)| r.y <= 1000.0));
    }

    #[test]
    fn short_row_is_not_split() {
        let rows = [row("甲", "一"), row("乙", &"二".repeat(21 * 3))];
        let out = pour(&rows, &[frame(0.0, 40.0)], &[frame(0.0, 1000.0)]).unwrap();
        assert!(
            out.iter()
                .filter(|(_, r)| r.text.starts_with('二'))
                .all(|(i, _)| *i == 1)
        );
        assert!(!out.iter().any(|(_, r)| r.text.contains('续')));
    }

    #[test]
    fn too_small_frames_are_an_error_not_a_hang() {
        let rows = [row("甲", "一")];
        assert!(pour(&rows, &[frame(0.0, 5.0)], &[frame(0.0, 5.0)]).is_none());
        assert!(pour(&rows, &[frame(0.0, 5.0)], &[]).is_none());
    }
}
