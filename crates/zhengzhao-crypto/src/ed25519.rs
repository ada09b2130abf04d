//! Ed25519 for W3C Verifiable Credentials (`eddsa-jcs-2022`) and for the
//! audit log's checkpoints (C2SP signed notes, see [`crate::note`]), beside
//! the SM2 signatures: interoperability with wallets and verifiers that speak
//! no SM2. Keys are derived, not stored: 32 bytes from a caller-supplied seed
//! (the library derives it from the master key and a label).

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};

/// The multicodec prefix of an Ed25519 public key (0xed, varint 0x01).
const ED25519_PUB_MULTICODEC: [u8; 2] = [0xed, 0x01];

pub struct VcKey(SigningKey);

impl VcKey {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// `publicKeyMultibase` of a Multikey: `z` + base58btc(0xed01 ‖ key).
    pub fn public_key_multibase(&self) -> String {
        let mut bytes = ED25519_PUB_MULTICODEC.to_vec();
        bytes.extend_from_slice(&self.public_key());
        format!("z{}", bs58::encode(bytes).into_string())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

/// Does `signature` (64 bytes) verify `message` under `public_key`? Strict
/// RFC 8032 checking: no small-order keys, no malleable signatures.
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let (Ok(key), Ok(sig)) = (
        ed25519_dalek::VerifyingKey::from_bytes(public_key),
        ed25519_dalek::Signature::from_slice(signature),
    ) else {
        return false;
    };
    key.verify_strict(message, &sig).is_ok()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Multibase base58btc (`z…`), as Data Integrity `proofValue`s are written.
pub fn multibase_base58btc(bytes: &[u8]) -> String {
    format!("z{}", bs58::encode(bytes).into_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1, test 1: the empty message.
    #[test]
    fn rfc8032_test_vector_1() {
        let seed: [u8; 32] =
            hex_literal("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let key = VcKey::from_seed(&seed);
        assert_eq!(
            key.public_key().to_vec(),
            hex_literal::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .to_vec()
        );
        let sig = key.sign(b"");
        assert_eq!(
            sig.to_vec(),
            hex_literal::<64>("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b").to_vec()
        );
        assert!(key.public_key_multibase().starts_with("z6Mk"));
    }

    fn hex_literal<const N: usize>(s: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
