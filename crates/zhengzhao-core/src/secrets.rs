//! Every secret the library hands out (API tokens, HMAC keys, session ids,
//! CSRF tokens) is made here from the OS's randomness, and compared here in
//! constant time.
//!
//! A token is `zzt_` and 64 hex digits (256 random bits), stored as its SM3
//! hash only. The prefix lets secret scanners recognise a leaked token.

use crate::Error;
use sm3::{Digest, Sm3};

pub const TOKEN_PREFIX: &str = "zzt_";

/// `bytes` random bytes from the OS, in hex. Fails only if the OS has no
/// randomness to give.
pub fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// A fresh token secret (256 bits).
pub fn generate_token() -> Result<String, Error> {
    Ok(format!("{TOKEN_PREFIX}{}", random_hex(32)?))
}

/// Whether `token` has the shape of a token at all (checked before any lookup).
pub fn looks_like_token(token: &str) -> bool {
    token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64
}

/// What is stored and looked up: SM3 of the whole token text.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sm3::digest(token.as_bytes()).to_vec()
}

pub fn same_secret(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), 68);
        assert!(looks_like_token(&a));
        assert_eq!(token_hash(&a).len(), 32);
        assert_ne!(token_hash(&a), token_hash(&b));
        // SM3("abc") from GB/T 32905 appendix A.
        assert_eq!(
            hex::encode(token_hash("abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }
}
