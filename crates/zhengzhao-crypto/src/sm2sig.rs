//! SM2-with-SM3 signing keys and DER signatures.

use crate::{CryptoError, DISTID};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use signature::{Signer, Verifier};
use sm2::SecretKey;
use sm2::dsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use sm2::elliptic_curve::Generate;

/// An SM2 key pair for signing. Its secret never leaves the process
/// unencrypted: it is stored only through [`crate::keywrap`].
pub struct KeyPair {
    key: SigningKey,
}

impl KeyPair {
    pub fn generate() -> Result<Self, CryptoError> {
        let secret = SecretKey::generate();
        Self::from_secret(&secret)
    }

    fn from_secret(secret: &SecretKey) -> Result<Self, CryptoError> {
        SigningKey::new(DISTID, secret)
            .map(|key| Self { key })
            .map_err(|e| CryptoError::Key(e.to_string()))
    }

    /// From PKCS#8 DER (as kept, encrypted, at rest).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, CryptoError> {
        let secret = SecretKey::from_pkcs8_der(der).map_err(|e| CryptoError::Key(e.to_string()))?;
        Self::from_secret(&secret)
    }

    /// From a PKCS#8 PEM file (`keys import`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CryptoError> {
        let secret = SecretKey::from_pkcs8_pem(pem).map_err(|e| CryptoError::Key(e.to_string()))?;
        Self::from_secret(&secret)
    }

    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, CryptoError> {
        let secret = SecretKey::from(self.key.as_nonzero_scalar());
        secret
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .map_err(|e| CryptoError::Key(e.to_string()))
    }

    /// SM2-with-SM3 over `payload`, DER `SEQUENCE { r, s }`.
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig: Signature = self
            .key
            .try_sign(payload)
            .map_err(|e| CryptoError::Signature(e.to_string()))?;
        Ok(sig.to_der().to_vec())
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.key.verifying_key().clone(),
        }
    }
}

/// An SM2 public key bound to [`DISTID`].
#[derive(Clone)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CryptoError> {
        VerifyingKey::from_sec1_bytes(DISTID, bytes)
            .map(|key| Self { key })
            .map_err(|e| CryptoError::Key(e.to_string()))
    }

    /// Uncompressed SEC1 point (65 bytes).
    pub fn to_sec1(&self) -> Vec<u8> {
        self.key.to_sec1_bytes().to_vec()
    }

    /// SubjectPublicKeyInfo PEM, what `openssl pkeyutl -pubin -inkey` reads.
    pub fn to_pem(&self) -> Result<String, CryptoError> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| CryptoError::Key(e.to_string()))
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Check a DER signature over `payload`.
    pub fn verify(&self, payload: &[u8], der_signature: &[u8]) -> Result<(), CryptoError> {
        let der = DerSignature::from_bytes(der_signature)
            .map_err(|e| CryptoError::Signature(e.to_string()))?;
        let sig = Signature::try_from(der).map_err(|e| CryptoError::Signature(e.to_string()))?;
        self.key
            .verify(payload, &sig)
            .map_err(|_| CryptoError::Signature("signature does not verify".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let k = KeyPair::generate().unwrap();
        let sig = k.sign(b"{\"a\":1}").unwrap();
        assert_eq!(sig[0], 0x30, "DER SEQUENCE");
        let pk = k.public_key();
        pk.verify(b"{\"a\":1}", &sig).unwrap();
        assert!(pk.verify(b"{\"a\":2}", &sig).is_err());
        let again = PublicKey::from_sec1(&pk.to_sec1()).unwrap();
        again.verify(b"{\"a\":1}", &sig).unwrap();
        let restored = KeyPair::from_pkcs8_der(&k.to_pkcs8_der().unwrap()).unwrap();
        assert_eq!(restored.public_key().to_sec1(), pk.to_sec1());
        assert!(
            pk.to_pem()
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----")
        );
    }
}
