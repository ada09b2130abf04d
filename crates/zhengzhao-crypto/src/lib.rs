//! The library's cryptography, in national algorithms:
//!
//! - [`canonical_json`]: RFC 8785 (JCS) bytes, the only input ever signed;
//! - [`sm2sig`]: SM2-with-SM3 signatures, DER-encoded, distinguishing id
//!   [`DISTID`] (GM/T 0009's default; RustCrypto `sm2` has none of its own);
//! - [`cert`]: X.509 certificates with the SM2 OIDs, and the local test CA;
//! - [`keywrap`]: SM4-GCM encryption of private keys at rest under a master key.
//!
//! Pure computation apart from drawing random numbers.

pub mod cert;
pub mod keywrap;
pub mod sm2sig;

use serde::Serialize;

/// GM/T 0009-2012 default SM2 distinguishing identifier, used for every
/// signature the library makes or checks.
pub const DISTID: &str = "1234567812345678";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("canonical JSON: {0}")]
    Canonical(String),
    #[error("key: {0}")]
    Key(String),
    #[error("signature: {0}")]
    Signature(String),
    #[error("certificate: {0}")]
    Certificate(String),
    #[error("key wrapping: {0}")]
    Wrap(String),
    #[error("randomness unavailable: {0}")]
    Random(String),
}

/// RFC 8785 canonical JSON text of `value`.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<String, CryptoError> {
    serde_jcs::to_string(value).map_err(|e| CryptoError::Canonical(e.to_string()))
}

/// SM3 digest.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    use sm3::Digest;
    sm3::Sm3::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jcs_orders_keys_and_escapes_minimally() {
        // RFC 8785 §3.2.2 / §3.2.3: keys sorted by UTF-16 code units, no whitespace,
        // non-ASCII characters written as themselves.
        let v = serde_json::json!({"b": 1, "a": {"z": true, "名称": "内蒙古", "y": null}, "\u{20ac}": "€", "\r": "x"});
        let c = canonical_json(&v).unwrap();
        assert_eq!(
            c,
            r#"{"\r":"x","a":{"y":null,"z":true,"名称":"内蒙古"},"b":1,"€":"€"}"#
        );
    }

    #[test]
    fn sm3_matches_the_standard_example() {
        // GB/T 32905-2016 appendix A.1
        let d = sm3(b"abc");
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }
}
