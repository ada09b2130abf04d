//! What the layout hands to a writer: positioned text and one QR code per
//! first page. Coordinates are PDF points, origin top-left, y downwards.

use crate::qr::QrModules;

/// Red of the frame and the signature line (印章红).
pub(crate) const RED: (u8, u8, u8) = (0xB0, 0x1E, 0x23);
/// Outer (thick) and inner (thin) frame, inset from the paper edge.
pub(crate) const FRAME_OUTER: f32 = 24.0;
pub(crate) const FRAME_INNER: f32 = 30.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ink {
    Black,
    Red,
}

/// One line of text; `y` is its baseline.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) size: f32,
    pub(crate) text: String,
    pub(crate) ink: Ink,
    /// Drawn with a thin outline in the fill colour (the face has no bold).
    pub(crate) bold: bool,
}

impl Run {
    pub(crate) fn new(x: f32, y: f32, size: f32, text: &str, ink: Ink) -> Self {
        Run {
            x,
            y,
            size,
            text: text.to_owned(),
            ink,
            bold: false,
        }
    }
}

/// A QR code occupying the square `side` × `side` at (`x`, `y`), quiet zone included.
#[derive(Debug, Clone)]
pub(crate) struct QrPlacement {
    pub(crate) x: f32,
    pub(crate) y: f32,
    pub(crate) side: f32,
    pub(crate) modules: QrModules,
}

#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) width: f32,
    pub(crate) height: f32,
    pub(crate) runs: Vec<Run>,
    pub(crate) qr: Option<QrPlacement>,
}
