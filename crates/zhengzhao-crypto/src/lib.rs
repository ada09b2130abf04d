//! The library's cryptography, in national algorithms:
//!
//! - [`canonical_json`]: RFC 8785 (JCS) bytes, the only input ever signed;
//! - [`sm2sig`]: SM2-with-SM3 signatures, DER-encoded, distinguishing id
//!   [`DISTID`] (GM/T 0009's default; RustCrypto `sm2` has none of its own);
//! - [`cert`]: X.509 certificates with the SM2 OIDs, and the local test CA;
//! - [`cms`]: detached CMS SignedData with SM2/SM3 (a license PDF's signature);
//! - [`keywrap`]: SM4-GCM encryption of private keys at rest under a master key;
//! - [`merkle`]: the RFC 9162 tree with SM3; [`note`]: C2SP signed notes.
//!
//! Pure computation apart from drawing random numbers.

pub mod cert;
pub mod cms;
pub mod ed25519;
pub mod keywrap;
pub mod merkle;
pub mod note;
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

/// RFC 8785 canonical JSON text of a JSON value: the same bytes as
/// [`canonical_json`], faster for the values the library signs.
///
/// When every number is an integer a double holds exactly (|n| ≤ 2^53) and
/// no object key has a character at or above U+E000, RFC 8785's output is
/// exactly serde_json's compact output: serde_json's map is ordered by code
/// point, which for such keys is the UTF-16 order RFC 8785 asks for, and both
/// escape only `"`, `\` and control characters, the same way. Anything else
/// goes through serde_jcs. A property test holds the two equal.
pub fn canonical_json_value(value: &serde_json::Value) -> Result<String, CryptoError> {
    if plain(value) {
        serde_json::to_string(value).map_err(|e| CryptoError::Canonical(e.to_string()))
    } else {
        canonical_json(value)
    }
}

fn plain(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    const EXACT: u64 = 1 << 53;
    match v {
        Value::Null | Value::Bool(_) | Value::String(_) => true,
        Value::Number(n) => n
            .as_u64()
            .map(|u| u <= EXACT)
            .or_else(|| n.as_i64().map(|i| i.unsigned_abs() <= EXACT))
            .unwrap_or(false),
        Value::Array(items) => items.iter().all(plain),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| k.chars().all(|c| c < '\u{e000}') && plain(v)),
    }
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

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            (-1e6f64..1e6).prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
            "[a-z名称\\u{7f}\\u{2028}\\u{e000}-\\u{ffff}\\u{10000}-\\u{10ffff}\"\\\\\\n]{0,6}"
                .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    "[a-z_名€\\r\\u{e000}-\\u{ffff}\\u{10000}-\\u{10ffff}]{0,4}",
                    inner,
                    0..5
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn fast_canonical_json_equals_serde_jcs(v in json_value()) {
            proptest::prop_assert_eq!(canonical_json_value(&v).unwrap(), canonical_json(&v).unwrap());
        }
    }

    #[test]
    fn keys_beyond_the_bmp_sort_by_utf16_not_code_point() {
        // U+10000 is D800 DC00 in UTF-16, so it sorts before U+E000 there but after it by code point.
        let v = serde_json::json!({"\u{e000}": 1, "\u{10000}": 2});
        assert_eq!(
            canonical_json_value(&v).unwrap(),
            "{\"\u{10000}\":2,\"\u{e000}\":1}"
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
