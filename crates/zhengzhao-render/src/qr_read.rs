//! Reading a QR code from a picture (a phone's photo of a license or of a
//! holder's presentation code, or a screenshot): PNG or JPEG, decoded with
//! limits (a small file must not unpack into gigabytes: at most
//! `MAX_DIMENSION` a side and `MAX_DECODE_BYTES` in all), scaled down with
//! `thumbnail` (integer area sampling, no float copy of the picture) to at
//! most `MAX_SIDE` pixels on its long side (a QR code needs far fewer, and
//! the search's cost grows with the pixels), then searched with `rqrr`.
//! The caller bounds how many run at once.

use image::{ImageReader, Limits};
use std::io::Cursor;

/// Why no text came out of a picture.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QrReadError {
    #[error("the file is not a PNG or JPEG picture we can read / 不是可识别的PNG或JPEG图片")]
    NotAPicture,
    #[error("no QR code was found in the picture / 图片中未找到二维码")]
    NoCode,
}

/// The longest side searched, in pixels.
const MAX_SIDE: u32 = 1600;
/// The largest picture decoded: a phone's 12–48 megapixel photo fits.
const MAX_DIMENSION: u32 = 8_192;
/// What the decoder may hold at once (an 8000 × 5000 RGB picture is 120 MB).
const MAX_DECODE_BYTES: u64 = 128 * 1024 * 1024;

/// The text of the first QR code found in `picture`.
pub fn read_qr(picture: &[u8]) -> Result<String, QrReadError> {
    let mut reader = ImageReader::new(Cursor::new(picture))
        .with_guessed_format()
        .map_err(|_| QrReadError::NotAPicture)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|_| QrReadError::NotAPicture)?;
    let small = if decoded.width().max(decoded.height()) > MAX_SIDE {
        decoded.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        decoded
    };
    let grey = small.to_luma8();
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| grey.as_raw()[y * w + x]);
    prepared
        .detect_grids()
        .iter()
        .find_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .ok_or(QrReadError::NoCode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_qr_png_draws() {
        let url = "https://zhengzhao.example/verify/1.2.156.3005.2.11100000MB0143028R001.X";
        let png = crate::qr_png(url, 4).unwrap();
        assert_eq!(read_qr(&png).as_deref(), Ok(url));
    }

    #[test]
    fn refuses_what_is_no_picture_or_has_no_code() {
        assert_eq!(read_qr(b"%PDF-1.4"), Err(QrReadError::NotAPicture));
        let blank = crate::qr_png("x", 1).unwrap();
        // A picture, but cut to its white border: no code in it.
        let mut img = image::load_from_memory(&blank).unwrap().to_luma8();
        for p in img.pixels_mut() {
            p.0 = [255];
        }
        let mut out = Vec::new();
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(read_qr(&out), Err(QrReadError::NoCode));
    }
}
