//! The verification QR code as vector geometry: horizontal runs of dark
//! modules, so a code is one path of a few hundred rectangles.

use qrcode::{Color, EcLevel, QrCode};

use crate::RenderError;

/// Light modules kept on every side, inside the drawn square (ISO/IEC 18004
/// asks for 4; 2 suffice in practice and the layout keeps blank paper around).
pub(crate) const QUIET: usize = 2;

/// A QR code ready to draw: `width` modules per side (without quiet zone),
/// dark runs as (row, first column, length).
#[derive(Debug, Clone)]
pub(crate) struct QrModules {
    pub(crate) width: usize,
    pub(crate) runs: Vec<(usize, usize, usize)>,
}

/// Encodes `data` (byte mode, error correction M: 15 % of the code may be
/// damaged and still scan).
pub(crate) fn encode(data: &str) -> Result<QrModules, RenderError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| RenderError::Qr(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    let mut runs = Vec::new();
    for (row, line) in colors.chunks(width.max(1)).enumerate() {
        let mut col = 0;
        while col < line.len() {
            if line[col] == Color::Dark {
                let start = col;
                while col < line.len() && line[col] == Color::Dark {
                    col += 1;
                }
                runs.push((row, start, col - start));
            } else {
                col += 1;
            }
        }
    }
    Ok(QrModules { width, runs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let data = "https://zz.example/verify/1.2.156.3005.2.11100000MB0143028R001";
        let q = encode(data).unwrap();
        let code = QrCode::with_error_correction_level(data, EcLevel::M).unwrap();
        let dark = code
            .to_colors()
            .iter()
            .filter(|c| **c == Color::Dark)
            .count();
        assert_eq!(q.runs.iter().map(|r| r.2).sum::<usize>(), dark);
        assert!(
            q.runs
                .iter()
                .all(|&(r, c, n)| r < q.width && c + n <= q.width && n > 0)
        );
    }

    #[test]
    fn too_much_data_is_an_error() {
        let long = "x".repeat(5000);
        assert!(matches!(encode(&long), Err(RenderError::Qr(_))));
    }
}
