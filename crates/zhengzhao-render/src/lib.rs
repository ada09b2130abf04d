//! Printable license documents: a [`LicenseView`] in, file bytes out.
//!
//! Callers hold a `&dyn LicenseRenderer`; [`PdfRenderer`] is the one
//! implementation today, and an OFD (GB/T 36905) renderer can be added beside
//! it without touching them. Rendering is pure: no I/O, no clock, and the same
//! view always gives the same bytes. [`prepare_signature`] and
//! [`find_signature`] add and find PDF signatures over the whole file (the
//! CMS inside is the caller's: this crate holds no keys).
//!
//! # Page
//! A red double frame; the title, large and centred, over "（电子证照）" and
//! the notices, if any (bold red, e.g. 已注销 with its date); the
//! label/value rows in catalog order, then 证照编号 (if any), 持证主体 and
//! 有效期限, and the 证照标识 line; at the bottom a vector QR code of
//! `verify_url` captioned "扫码核验", and to its right the issuer, the issue
//! date and the signature note. Chinese text wraps at any character with
//! simple kinsoku (no line starts with closing punctuation), ASCII words stay
//! whole, and `'\n'` in a value starts a new line. If the rows do not fit
//! above the bottom block, the row size steps down from 12 pt to 10 pt; if
//! they still do not fit, they continue on pages titled "{title}（续页）", and
//! every page then shows the license id and page number at its foot. Text is
//! never clipped, overlapped or dropped. Landscape pages put the rows in two
//! balanced columns, or one if that needs fewer pages.
//!
//! A character the font cannot draw is an error ([`RenderError::MissingGlyphs`]),
//! never an empty box.
//!
//! # Font
//! One face is embedded (`include_bytes!`) and subset into each PDF:
//! **WenQuanYi Micro Hei** (文泉驿微米黑) 0.2.0-beta, face 0 of
//! `fonts/wqy-microhei.ttc`, © 2008–2009 The WenQuanYi Project Board of
//! Trustees, Qianqian Fang, mozbug; based on Droid Sans Fallback © 2006–2008
//! Google. Licensed "Apache-2.0 or GPL-3+ with font exception"; this crate
//! uses it under **Apache-2.0**. The full notice is `fonts/wqy-microhei.COPYRIGHT`
//! (taken from Debian's fonts-wqy-microhei). It covers the CJK Unified
//! Ideographs block (20,932 of 20,992 code points), but only 2 of Extension
//! A's 6,592 and nothing beyond: a rare character in a name (䶮 U+4DAE, 𠀀
//! U+20000) is a [`RenderError::MissingGlyphs`].

mod flow;
mod font;
mod furniture;
mod layout;
mod page;
mod pdf;
mod qr;
mod qr_image;
mod qr_read;
mod signature;
pub use qr_image::{qr_png, qr_svg};
pub use qr_read::{QrReadError, read_qr};
pub use signature::{
    PreparedPdf, SIGNATURE_ROOM, SignatureFieldInfo, SignatureLookupError, WholeFileSignature,
    find_signature, prepare_signature,
};
#[cfg(test)]
mod testdata;
mod wrap;

/// Everything a license page shows, already formatted for display.
#[derive(Debug, Clone)]
pub struct LicenseView {
    /// License type name, e.g. "营业执照".
    pub title: String,
    /// (Chinese label, value) in catalog order. Values may be long (经营范围
    /// runs to a few thousand characters) and may contain `'\n'`.
    pub fields: Vec<(String, String)>,
    /// GB/T 36904 identifier, about 95 ASCII characters.
    pub license_id: String,
    /// The printed 证照编号, if the type has one.
    pub license_number: Option<String>,
    pub holder_name: String,
    pub issuer_name: String,
    /// E.g. "2026年11月29日".
    pub issue_date: String,
    /// E.g. "2026年11月29日至2031年11月28日" or "2026年11月29日至长期".
    pub validity: String,
    /// Encoded in the QR code.
    pub verify_url: String,
    pub layout: Layout,
    /// Embedded as the file `license-document.json`, uncompressed: the
    /// signed document, so the PDF itself can be checked.
    pub attachment: Option<String>,
    /// Lines printed large, in red, under the subtitle of every page: what
    /// a reader of the paper must not miss (the license is revoked or
    /// superseded, the signing certificate is a test one). Usually empty.
    pub notices: Vec<String>,
    /// Lines tiled diagonally in light grey across every page, under the
    /// text (an annotated copy's 加注: who asked for it, for what, until
    /// when). Usually empty.
    pub watermark: Vec<String>,
}

/// Paper and orientation, chosen by a license type's template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 595.28 × 841.89 pt.
    A4Portrait,
    /// 841.89 × 595.28 pt.
    A4Landscape,
}

impl Layout {
    /// The layout of a template name: `"a4-portrait"` or `"a4-landscape"`.
    pub fn from_template(name: &str) -> Option<Self> {
        match name {
            "a4-portrait" => Some(Layout::A4Portrait),
            "a4-landscape" => Some(Layout::A4Landscape),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The characters (each once) that the embedded font cannot draw.
    #[error("the font has no glyph for {} (字体缺少这些字符的字形)", describe(.0))]
    MissingGlyphs(String),
    #[error("PDF generation failed: {0}")]
    Pdf(String),
    #[error("QR code generation failed: {0}")]
    Qr(String),
}

/// `U+20000 '𠀀', U+0007` — printable characters are shown too.
fn describe(chars: &str) -> String {
    let one = |c: char| match c.is_control() {
        true => format!("U+{:04X}", u32::from(c)),
        false => format!("U+{:04X} '{c}'", u32::from(c)),
    };
    chars.chars().map(one).collect::<Vec<_>>().join(", ")
}

/// One output format. PDF now; an OFD (GB/T 36905) renderer can be added
/// beside it without touching callers, which hold a `&dyn LicenseRenderer`.
pub trait LicenseRenderer: Send + Sync {
    /// E.g. `"application/pdf"`.
    fn media_type(&self) -> &'static str;
    /// Without the dot, e.g. `"pdf"`.
    fn file_extension(&self) -> &'static str;
    fn render(&self, view: &LicenseView) -> Result<Vec<u8>, RenderError>;
}

/// PDF 1.7 with the font subset embedded. Cheap to construct; the font is
/// parsed once per process, on first use.
#[derive(Debug, Clone, Copy, Default)]
pub struct PdfRenderer;

impl LicenseRenderer for PdfRenderer {
    fn media_type(&self) -> &'static str {
        "application/pdf"
    }

    fn file_extension(&self) -> &'static str {
        "pdf"
    }

    fn render(&self, view: &LicenseView) -> Result<Vec<u8>, RenderError> {
        let face = font::face()?;
        // In reading order, so that the error lists characters as they appear.
        let rest = [
            &view.holder_name,
            &view.validity,
            &view.license_id,
            &view.issuer_name,
            &view.issue_date,
        ];
        let texts = std::iter::once(view.title.as_str())
            .chain(view.notices.iter().map(String::as_str))
            .chain(view.watermark.iter().map(String::as_str))
            .chain(
                view.fields
                    .iter()
                    .flat_map(|(l, v)| [l.as_str(), v.as_str()]),
            )
            .chain(view.license_number.as_deref())
            .chain(rest.map(String::as_str));
        let missing = font::missing(face, texts);
        if !missing.is_empty() {
            return Err(RenderError::MissingGlyphs(missing));
        }
        let pages = layout::compose(face, view)?;
        pdf::write(
            face,
            &pages,
            format!("{} {}", view.title, view.license_id),
            view.attachment.as_deref(),
            &view.watermark,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(
            Layout::from_template("a4-portrait"),
            Some(Layout::A4Portrait)
        );
        assert_eq!(
            Layout::from_template("a4-landscape"),
            Some(Layout::A4Landscape)
        );
        assert_eq!(Layout::from_template("A4"), None);
    }

    #[test]
    fn fixed_texts_have_glyphs() {
        let face = font::face().unwrap();
        let fixed = [
            furniture::SUBTITLE,
            furniture::QR_CAPTION,
            furniture::SIGNATURE_NOTE,
            furniture::CONTINUED,
            furniture::ID_LABEL,
        ];
        let more = "证照编号持证主体有效期限发证单位：发证日期：（续）第0123456789页 共";
        assert_eq!(font::missing(face, fixed.into_iter().chain([more])), "");
    }

    #[test]
    fn error_names_the_characters() {
        let e = RenderError::MissingGlyphs("\u{20000}\u{7}".to_owned());
        assert_eq!(
            e.to_string(),
            "the font has no glyph for U+20000 '\u{20000}', U+0007 (字体缺少这些字符的字形)"
        );
    }

    #[test]
    fn renderer_is_object_safe_and_shareable() {
        fn shareable<T: Send + Sync + 'static>(_: &T) {}
        let r: &dyn LicenseRenderer = &PdfRenderer;
        shareable(&PdfRenderer);
        assert_eq!(
            (r.media_type(), r.file_extension()),
            ("application/pdf", "pdf")
        );
    }
}
