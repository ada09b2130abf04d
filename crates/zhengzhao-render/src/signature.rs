//! PDF signatures over the whole file (ISO 32000-1 §12.8), in two halves:
//!
//! - [`prepare_signature`] appends an incremental update (§7.5.6, written
//!   with `lopdf`) to a finished PDF: a signature dictionary (`/Type /Sig`,
//!   `/Filter /Adobe.PPKLite`, `/SubFilter /adbe.pkcs7.detached`) with room
//!   for the CMS in `/Contents`, an invisible signature field on page 1
//!   that points to it, and the catalog's `/AcroForm` (`/SigFlags 3`). Its
//!   `/ByteRange` is `[0 a b c]`: every byte of the file except the
//!   `<…>` of `/Contents`. The caller signs [`PreparedPdf::signed_parts`]
//!   and puts the CMS in with [`PreparedPdf::finish`]; nothing moves, so
//!   the file is final.
//! - [`find_signature`] finds, in a posted file, a signature whose byte
//!   range covers the whole file. It needs no PDF parser: whatever the
//!   range leaves out is one hex string, so if the CMS in it verifies over
//!   the rest, the file is byte for byte what the signer produced. Bytes
//!   appended after signing (an incremental update with other content, a
//!   second signature) leave the range short of the end: not covered.
//!
//! The crate knows nothing of keys: CMS is the caller's.

use crate::RenderError;
use lopdf::{Dictionary, IncrementalDocument, Object, StringFormat, dictionary};
use std::ops::Range;

/// Bytes reserved for the DER CMS (the hex string holds twice as many
/// digits). A CMS with an SM2 signer certificate and its CA is about 2 KB.
pub const SIGNATURE_ROOM: usize = 8 * 1024;
/// Written in each of the three `/ByteRange` places until the real values
/// (of at most ten digits) are known; they are padded with spaces.
const PLACEHOLDER: i64 = 9_999_999_999;

/// What the signature dictionary says besides the signature itself.
#[derive(Debug, Clone)]
pub struct SignatureFieldInfo {
    /// The field's name (`/T`), ASCII.
    pub field_name: String,
    /// `/Name`: the signer, as people read it.
    pub signer: String,
    /// `/Reason`.
    pub reason: String,
    /// `/M`, a PDF date string, e.g. `D:20261205103600+08'00'`.
    pub time: String,
}

/// A PDF with an unsigned signature dictionary appended, ready for its CMS.
#[derive(Debug, Clone)]
pub struct PreparedPdf {
    bytes: Vec<u8>,
    /// The `<…>` of `/Contents`, delimiters included: what is not signed.
    gap: Range<usize>,
}

fn pdf_err(e: impl std::fmt::Display) -> RenderError {
    RenderError::Pdf(format!("signature field: {e}"))
}

/// Appends the signature field and dictionary to `pdf` (a file this crate
/// wrote). See the module documentation.
pub fn prepare_signature(
    pdf: Vec<u8>,
    info: &SignatureFieldInfo,
) -> Result<PreparedPdf, RenderError> {
    let prev = lopdf::Document::load_mem(&pdf).map_err(pdf_err)?;
    let root = prev
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(pdf_err)?;
    let page = *prev
        .get_pages()
        .values()
        .next()
        .ok_or_else(|| pdf_err("the document has no page"))?;
    let original_len = pdf.len();
    let mut inc = IncrementalDocument::create_from(pdf, prev);
    inc.opt_clone_object_to_new_document(root)
        .map_err(pdf_err)?;
    inc.opt_clone_object_to_new_document(page)
        .map_err(pdf_err)?;
    let annots = match inc
        .new_document
        .get_object(page)
        .and_then(Object::as_dict)
        .and_then(|d| d.get(b"Annots"))
    {
        Ok(Object::Reference(r)) => Some(*r),
        _ => None,
    };
    if let Some(r) = annots {
        inc.opt_clone_object_to_new_document(r).map_err(pdf_err)?;
    }

    let doc = &mut inc.new_document;
    let sig = doc.add_object(dictionary! {
        "Type" => "Sig",
        "Filter" => "Adobe.PPKLite",
        "SubFilter" => "adbe.pkcs7.detached",
        "ByteRange" => vec![0.into(), PLACEHOLDER.into(), PLACEHOLDER.into(), PLACEHOLDER.into()],
        "Contents" => Object::String(vec![0; SIGNATURE_ROOM], StringFormat::Hexadecimal),
        "Name" => lopdf::text_string(&info.signer),
        "Reason" => lopdf::text_string(&info.reason),
        "M" => Object::string_literal(info.time.as_bytes()),
    });
    // Invisible (zero rectangle), printed and locked: the signature is
    // shown by readers' signature panels, not on the page.
    let widget = doc.add_object(dictionary! {
        "Type" => "Annot",
        "Subtype" => "Widget",
        "FT" => "Sig",
        "T" => Object::string_literal(info.field_name.as_bytes()),
        "V" => sig,
        "P" => page,
        "Rect" => vec![0.into(), 0.into(), 0.into(), 0.into()],
        "F" => 132,
    });
    match annots {
        Some(r) => doc
            .get_object_mut(r)
            .and_then(Object::as_array_mut)
            .map_err(pdf_err)?
            .push(widget.into()),
        None => {
            let page_dict = doc
                .get_object_mut(page)
                .and_then(Object::as_dict_mut)
                .map_err(pdf_err)?;
            match page_dict.get_mut(b"Annots") {
                Ok(Object::Array(a)) => a.push(widget.into()),
                _ => page_dict.set("Annots", vec![widget.into()]),
            }
        }
    }
    let acro_form: Dictionary = dictionary! {
        "Fields" => vec![widget.into()],
        // SignaturesExist | AppendOnly: readers keep later changes incremental.
        "SigFlags" => 3,
    };
    doc.get_object_mut(root)
        .and_then(Object::as_dict_mut)
        .map_err(pdf_err)?
        .set("AcroForm", acro_form);

    let mut bytes = Vec::new();
    inc.save_to(&mut bytes).map_err(pdf_err)?;
    fill_byte_range(bytes, original_len)
}

/// Finds the placeholders in the appended update and writes the byte range.
fn fill_byte_range(mut bytes: Vec<u8>, from: usize) -> Result<PreparedPdf, RenderError> {
    let update = bytes
        .get(from..)
        .ok_or_else(|| pdf_err("the update is missing"))?;
    let zeros = vec![b'0'; 2 * SIGNATURE_ROOM];
    let digits = find_once(update, &zeros)
        .ok_or_else(|| pdf_err("the /Contents placeholder is not in the update once"))?;
    if digits == 0 || update.get(digits - 1) != Some(&b'<') {
        return Err(pdf_err("the /Contents placeholder is not a hex string"));
    }
    let gap = from + digits - 1..from + digits + zeros.len() + 1;
    if bytes.get(gap.end - 1) != Some(&b'>') {
        return Err(pdf_err("the /Contents placeholder is not a hex string"));
    }
    let placeholder = format!("{PLACEHOLDER} {PLACEHOLDER} {PLACEHOLDER}");
    let at = find_once(&bytes[from..], placeholder.as_bytes())
        .ok_or_else(|| pdf_err("the /ByteRange placeholder is not in the update once"))?
        + from;
    let actual = format!("{} {} {}", gap.start, gap.end, bytes.len() - gap.end);
    if actual.len() > placeholder.len() {
        return Err(pdf_err("the file is too large for its byte range"));
    }
    // Same length, so no offset in the update moves.
    let padded = format!("{actual:<width$}", width = placeholder.len());
    bytes[at..at + placeholder.len()].copy_from_slice(padded.as_bytes());
    Ok(PreparedPdf { bytes, gap })
}

fn find_once(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut hits = haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    match (hits.next(), hits.next()) {
        (Some(i), None) => Some(i),
        _ => None,
    }
}

impl PreparedPdf {
    /// The two signed byte ranges, in order: everything but `/Contents`.
    pub fn signed_parts(&self) -> [&[u8]; 2] {
        [&self.bytes[..self.gap.start], &self.bytes[self.gap.end..]]
    }

    /// The signed file: `cms` (DER) written into `/Contents`, zero-padded.
    pub fn finish(mut self, cms: &[u8]) -> Result<Vec<u8>, RenderError> {
        if cms.len() > SIGNATURE_ROOM {
            return Err(pdf_err(format!(
                "the signature takes {} bytes, {SIGNATURE_ROOM} are reserved",
                cms.len()
            )));
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digits = &mut self.bytes[self.gap.start + 1..self.gap.end - 1];
        for (i, b) in cms.iter().enumerate() {
            digits[2 * i] = HEX[usize::from(b >> 4)];
            digits[2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        Ok(self.bytes)
    }
}

/// A signature whose byte range covers the whole file but its own value.
#[derive(Debug, Clone)]
pub struct WholeFileSignature<'a> {
    /// The signed bytes, in order.
    pub signed: [&'a [u8]; 2],
    /// The bytes of `/Contents` (the CMS, usually zero-padded).
    pub contents: Vec<u8>,
}

/// Why [`find_signature`] found none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureLookupError {
    /// No `/ByteRange` at all.
    #[error("the PDF is not signed")]
    NotSigned,
    /// Byte ranges exist, but none covers the whole file: bytes were
    /// added or moved after signing, or the range was edited.
    #[error("no signature in the PDF covers the whole file")]
    NotWholeFile,
}

/// PDF white space (ISO 32000-1 Table 1).
fn is_space(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// `[n n n n]` at the start of `s` (after white space).
fn byte_range_at(s: &[u8]) -> Option<[usize; 4]> {
    let mut i = s.iter().position(|b| !is_space(*b))?;
    if s.get(i) != Some(&b'[') {
        return None;
    }
    i += 1;
    let mut out = [0usize; 4];
    for slot in &mut out {
        while s.get(i).is_some_and(|b| is_space(*b)) {
            i += 1;
        }
        let start = i;
        while s.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = std::str::from_utf8(s.get(start..i)?).ok()?;
        if digits.is_empty() || digits.len() > 12 {
            return None;
        }
        *slot = digits.parse().ok()?;
    }
    while s.get(i).is_some_and(|b| is_space(*b)) {
        i += 1;
    }
    (s.get(i) == Some(&b']')).then_some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The signature covering all of `pdf` except its own `<…>` value, if
/// there is one. The last such `/ByteRange` in the file is taken.
pub fn find_signature(pdf: &[u8]) -> Result<WholeFileSignature<'_>, SignatureLookupError> {
    const KEY: &[u8] = b"/ByteRange";
    let mut seen = false;
    let starts = pdf
        .windows(KEY.len())
        .enumerate()
        .filter(|(_, w)| *w == KEY)
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    for at in starts.into_iter().rev() {
        seen = true;
        let Some([zero, a, b, c]) = byte_range_at(&pdf[at + KEY.len()..]) else {
            continue;
        };
        let whole = zero == 0 && a < b && b.checked_add(c) == Some(pdf.len());
        if !whole || b - a < 2 || pdf[a] != b'<' || pdf[b - 1] != b'>' {
            continue;
        }
        let digits = &pdf[a + 1..b - 1];
        if !digits.len().is_multiple_of(2) {
            continue;
        }
        let contents: Option<Vec<u8>> = digits
            .chunks_exact(2)
            .map(|p| Some(hex_value(p[0])? << 4 | hex_value(p[1])?))
            .collect();
        if let Some(contents) = contents {
            return Ok(WholeFileSignature {
                signed: [&pdf[..a], &pdf[b..]],
                contents,
            });
        }
    }
    Err(match seen {
        true => SignatureLookupError::NotWholeFile,
        false => SignatureLookupError::NotSigned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::business_license;
    use crate::{Layout, LicenseRenderer, PdfRenderer};

    fn info() -> SignatureFieldInfo {
        SignatureFieldInfo {
            field_name: "zhengzhao-signature".into(),
            signer: "呼和浩特市新城区市场监督管理局".into(),
            reason: "电子证照".into(),
            time: "D:20261205103600+08'00'".into(),
        }
    }

    #[test]
    fn prepared_file_is_found_whole_and_keeps_its_offsets() {
        let pdf = PdfRenderer
            .render(&business_license(200, Layout::A4Portrait))
            .unwrap();
        let original = pdf.clone();
        let prepared = prepare_signature(pdf, &info()).unwrap();
        let parts = prepared.signed_parts().map(<[u8]>::to_vec);
        assert!(parts[0].starts_with(&original), "an incremental update");
        let signed = prepared.finish(&[0x30, 0x03, 0x02, 0x01, 0x07]).unwrap();
        let found = find_signature(&signed).unwrap();
        assert_eq!(found.signed.map(<[u8]>::to_vec), parts);
        assert_eq!(&found.contents[..5], &[0x30, 0x03, 0x02, 0x01, 0x07]);
        assert_eq!(found.contents.len(), SIGNATURE_ROOM);
        // lopdf reads the result back, with the field and its dictionary.
        let doc = lopdf::Document::load_mem(&signed).unwrap();
        let root = doc.catalog().unwrap();
        let form = root.get(b"AcroForm").unwrap().as_dict().unwrap();
        let field = form.get(b"Fields").unwrap().as_array().unwrap()[0]
            .as_reference()
            .unwrap();
        let field = doc.get_dictionary(field).unwrap();
        assert_eq!(field.get(b"FT").unwrap().as_name().unwrap(), b"Sig");

        // Anything appended: no longer whole.
        let mut appended = signed.clone();
        appended.extend_from_slice(b"\n% more\n");
        assert_eq!(
            find_signature(&appended).unwrap_err(),
            SignatureLookupError::NotWholeFile
        );
        assert_eq!(
            find_signature(&original).unwrap_err(),
            SignatureLookupError::NotSigned
        );
    }

    #[test]
    fn a_signature_too_large_is_refused() {
        let pdf = PdfRenderer
            .render(&business_license(10, Layout::A4Portrait))
            .unwrap();
        let prepared = prepare_signature(pdf, &info()).unwrap();
        assert!(prepared.finish(&vec![1; SIGNATURE_ROOM + 1]).is_err());
    }

    #[test]
    fn byte_ranges_parse_with_pdf_white_space() {
        assert_eq!(byte_range_at(b" [0 10\n20  5 ]"), Some([0, 10, 20, 5]));
        assert_eq!(byte_range_at(b"[0 10 20]"), None);
        assert_eq!(byte_range_at(b"[0 -1 20 5]"), None);
        assert_eq!(byte_range_at(b"(0 1 2 3)"), None);
    }
}
