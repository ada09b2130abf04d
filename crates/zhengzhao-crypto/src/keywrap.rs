//! SM4-GCM encryption of secrets at rest (private keys now, personal data
//! later) under a 128-bit master key. The blob is `nonce(12) ‖ ciphertext ‖
//! tag(16)`; the associated data binds a blob to what it belongs to (a key
//! id), so a blob moved to another row fails to decrypt.

use crate::CryptoError;
use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{AesGcm, KeyInit, Nonce};
use sm4::Sm4;
use std::fmt;

type Sm4Gcm = AesGcm<Sm4, U12>;

/// The master key. Debug never shows it.
#[derive(Clone)]
pub struct MasterKey([u8; 16]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(…)")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// From 32 hex digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let t = text.trim();
        if t.len() != 32 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CryptoError::Wrap(
                "master key must be 32 hex digits (128 bits)".into(),
            ));
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&t[2 * i..2 * i + 2], 16)
                .map_err(|e| CryptoError::Wrap(e.to_string()))?;
        }
        Ok(Self(out))
    }

    pub fn generate() -> Result<Self, CryptoError> {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| CryptoError::Random(e.to_string()))?;
        Ok(Self(b))
    }

    /// The raw key, for wrapping it under another key.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A short public fingerprint (SM3 prefix), to say which key wrapped what.
    pub fn fingerprint(&self) -> String {
        crate::sm3(&self.0)[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn cipher(&self) -> Result<Sm4Gcm, CryptoError> {
        Sm4Gcm::new_from_slice(&self.0).map_err(|e| CryptoError::Wrap(e.to_string()))
    }

    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut n = [0u8; 12];
        getrandom::fill(&mut n).map_err(|e| CryptoError::Random(e.to_string()))?;
        let ct = self
            .cipher()?
            .encrypt(
                &Nonce::<U12>::from(n),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Wrap("SM4-GCM encryption failed".into()))?;
        Ok([&n[..], &ct].concat())
    }

    pub fn decrypt(&self, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if blob.len() < 12 + 16 {
            return Err(CryptoError::Wrap("encrypted blob too short".into()));
        }
        let (n, ct) = blob.split_at(12);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(n);
        self.cipher()?
            .decrypt(&Nonce::<U12>::from(nonce), Payload { msg: ct, aad })
            .map_err(|_| {
                CryptoError::Wrap(
                    "SM4-GCM authentication failed: wrong master key or altered data".into(),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc8998_known_answer() {
        // RFC 8998 appendix A.1: SM4-GCM test vector.
        let key = MasterKey::from_hex("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let n: [u8; 12] = hex("00001234567800000000ABCD").try_into().unwrap();
        let ct = key
            .cipher()
            .unwrap()
            .encrypt(
                &Nonce::<U12>::from(n),
                Payload {
                    msg: &hex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"),
                    aad: &hex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"),
                },
            )
            .unwrap();
        assert_eq!(&ct[..16], &hex("17F399F08C67D5EE19D0DC9969C4BB7D")[..]);
        assert_eq!(
            &ct[ct.len() - 16..],
            &hex("83DE3541E4C2B58177E065A9BF7B62EC")[..]
        );
    }

    #[test]
    fn round_trip_binds_aad_and_key() {
        let k = MasterKey::generate().unwrap();
        let blob = k.encrypt(b"key-1", b"secret").unwrap();
        assert_eq!(k.decrypt(b"key-1", &blob).unwrap(), b"secret");
        assert!(k.decrypt(b"key-2", &blob).is_err());
        let other = MasterKey::generate().unwrap();
        assert!(other.decrypt(b"key-1", &blob).is_err());
        let mut flipped = blob.clone();
        flipped[15] ^= 1;
        assert!(k.decrypt(b"key-1", &flipped).is_err());
        assert_eq!(MasterKey::from_hex(&k.to_hex()).unwrap().0, k.0);
        assert!(MasterKey::from_hex("abc").is_err());
        assert!(!format!("{k:?}").contains(&k.to_hex()));
    }
}
