//! The one embedded face and the two things asked of it: advance widths and
//! coverage. Parsed once per process.

use std::sync::LazyLock;

use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, GlyphId, MetadataProvider};

use crate::RenderError;

/// WenQuanYi Micro Hei 0.2.0-beta (Apache-2.0), see `fonts/wqy-microhei.COPYRIGHT`.
static FONT_DATA: &[u8] = include_bytes!("../fonts/wqy-microhei.ttc");
/// Face 0 of the collection is the proportional "WenQuanYi Micro Hei"
/// (face 1 is the monospaced variant).
const FACE_INDEX: u32 = 0;

pub(crate) struct Face {
    /// The face as krilla embeds it (subset on write).
    pub(crate) pdf: krilla::text::Font,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

static FACE: LazyLock<Option<Face>> = LazyLock::new(|| {
    let font = FontRef::from_index(FONT_DATA, FACE_INDEX).ok()?;
    let units_per_em = f32::from(
        font.metrics(Size::unscaled(), LocationRef::default())
            .units_per_em,
    );
    Some(Face {
        pdf: krilla::text::Font::new(FONT_DATA.into(), FACE_INDEX)?,
        charmap: font.charmap(),
        metrics: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
        units_per_em: if units_per_em > 0.0 {
            units_per_em
        } else {
            1000.0
        },
    })
});

/// The embedded face. Fails only if the compiled-in font were corrupt.
pub(crate) fn face() -> Result<&'static Face, RenderError> {
    FACE.as_ref()
        .ok_or_else(|| RenderError::Pdf("the embedded font could not be parsed".to_owned()))
}

impl Face {
    /// Whether `c` can be drawn: mapped to a real glyph, and not a control
    /// character (those would print as nothing).
    pub(crate) fn covers(&self, c: char) -> bool {
        !c.is_control() && self.charmap.map(c).is_some_and(|g| g != GlyphId::NOTDEF)
    }

    /// Advance of `c` in em (1.0 = the font size). Unmapped characters count
    /// as 0; coverage is checked before layout, so that never reaches a page.
    pub(crate) fn advance_em(&self, c: char) -> f32 {
        self.charmap
            .map(c)
            .and_then(|g| self.metrics.advance_width(g))
            .map_or(0.0, |w| w / self.units_per_em)
    }

    /// Width of `text` at `size` pt (no kerning: CJK needs none, and the
    /// simple-text path of krilla does not kern either).
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.advance_em(c)).sum::<f32>() * size
    }
}

/// Characters of `texts` the face cannot draw, each once, in order of first
/// appearance. Line breaks and tabs are layout, not glyphs (the layout turns
/// `\r` into a break and `\t` into a space), so they are skipped.
pub(crate) fn missing<'a>(face: &Face, texts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for c in texts.into_iter().flat_map(str::chars) {
        if !matches!(c, '\n' | '\r' | '\t') && !face.covers(c) && !out.contains(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_parses_and_measures() {
        let f = face().unwrap();
        assert!(
            (f.advance_em('营') - 1.0).abs() < 0.01,
            "CJK is one em wide"
        );
        let w = f.advance_em('a');
        assert!(w > 0.2 && w < 0.8, "'a' is {w} em");
        assert!((f.width("营业执照", 10.0) - 40.0).abs() < 0.5);
    }

    #[test]
    fn coverage() {
        let f = face().unwrap();
        assert!(f.covers('营') && f.covers('，') && f.covers(' ') && f.covers('（'));
        assert!(!f.covers('\u{10FFFD}'));
        assert!(!f.covers('\u{20000}'));
        assert!(!f.covers('䶮'), "CJK Extension A is not covered");
        assert!(!f.covers('\u{7}'));
        assert_eq!(
            missing(f, ["营\n业", "a\u{20000}b\u{20000}", "\u{10FFFD}"]),
            "\u{20000}\u{10FFFD}"
        );
    }
}
