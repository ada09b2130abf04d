//! A QR code as a standalone image, for screens (亮证): SVG (one path of
//! dark runs) and PNG (1-bit grayscale). Both keep a 4-module quiet zone,
//! as ISO/IEC 18004 asks, since a screen has no blank paper around it.

use crate::RenderError;
use crate::qr::encode;

const QUIET: usize = 4;

/// An SVG of the QR code of `data`, `px` pixels wide.
pub fn qr_svg(data: &str, px: u32) -> Result<String, RenderError> {
    let q = encode(data)?;
    let side = q.width + 2 * QUIET;
    let mut path = String::new();
    for &(row, col, len) in &q.runs {
        path.push_str(&format!(
            "M{} {}h{}v1h-{}z",
            col + QUIET,
            row + QUIET,
            len,
            len
        ));
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{px}\" height=\"{px}\" viewBox=\"0 0 {side} {side}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

/// A PNG of the QR code of `data`, `scale` pixels per module.
pub fn qr_png(data: &str, scale: usize) -> Result<Vec<u8>, RenderError> {
    let q = encode(data)?;
    let scale = scale.clamp(1, 32);
    let side = (q.width + 2 * QUIET) * scale;
    // 8-bit grayscale: white everywhere, then the dark runs.
    let mut pixels = vec![255u8; side * side];
    for &(row, col, len) in &q.runs {
        for dy in 0..scale {
            let y = (row + QUIET) * scale + dy;
            let start = y * side + (col + QUIET) * scale;
            if let Some(span) = pixels.get_mut(start..start + len * scale) {
                span.fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let size = u32::try_from(side).map_err(|e| RenderError::Qr(e.to_string()))?;
    let mut enc = png::Encoder::new(&mut out, size, size);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc
        .write_header()
        .map_err(|e| RenderError::Qr(e.to_string()))?;
    w.write_image_data(&pixels)
        .map_err(|e| RenderError::Qr(e.to_string()))?;
    w.finish().map_err(|e| RenderError::Qr(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_made() {
        let png = qr_png("https://zz.example/verify/p/abc", 4).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = qr_svg("https://zz.example/verify/p/abc", 240).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }
}
