//! Staff credentials: the password policy, argon2id password hashes and
//! TOTP one-time codes (RFC 6238). Pure functions, no storage.
//!
//! TOTP is the RFC's few lines over the `hmac` and `sha1` crates (the ones
//! already in the build) rather than a TOTP crate that would pull in a second,
//! older RustCrypto digest stack.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, KeyInit, Mac};
use zhengzhao_domain::FieldError;

/// Minimum password length (等保 level 3 asks for complexity; length is the
/// part that matters most).
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 128;

/// TOTP: 30-second steps, 6 digits, SHA-1 (what every authenticator app speaks).
pub const TOTP_STEP_SECS: i64 = 30;
const TOTP_DIGITS: u32 = 6;
/// Codes one step either side of now are accepted, for clock drift.
const TOTP_SKEW_STEPS: i64 = 1;

fn policy_error(en: &str, zh: &str) -> FieldError {
    FieldError::new("password", "password_policy", en, zh)
}

/// The password policy: 12 to 128 characters, at least three of lower case,
/// upper case, caseless letters (汉字), digits and symbols, and not
/// containing the username.
pub fn check_password_policy(password: &str, username: &str) -> Result<(), FieldError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(policy_error(
            "password must be at least 12 characters",
            "密码长度不能少于12个字符",
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(policy_error(
            "password must be at most 128 characters",
            "密码长度不能超过128个字符",
        ));
    }
    // Letters without case (汉字, Mongolian script) count as a class of their own.
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password
            .chars()
            .any(|c| c.is_alphabetic() && !c.is_lowercase() && !c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|&&b| b).count() < 3 {
        return Err(policy_error(
            "password must mix at least three of: lower case, upper case, digits, symbols",
            "密码须包含小写字母、大写字母、数字、符号中的至少三类",
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(policy_error(
            "password must not contain the username",
            "密码不能包含用户名",
        ));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (the crate's default).
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// An argon2id PHC string for the password, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("password hashing failed: {e}"))
}

/// Does the password match the stored PHC string? A malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A fresh 160-bit TOTP secret (RFC 4226 recommends 160 bits).
pub fn generate_totp_secret() -> Result<Vec<u8>, String> {
    let mut bytes = vec![0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes)
}

/// The secret as authenticator apps take it: RFC 4648 base32 without padding.
pub fn totp_secret_base32(secret: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(secret)
}

/// The inverse of [`totp_secret_base32`] (for clients and tests).
pub fn totp_secret_from_base32(text: &str) -> Option<Vec<u8>> {
    data_encoding::BASE32_NOPAD
        .decode(text.trim().as_bytes())
        .ok()
}

/// The `otpauth://` URI an authenticator app scans (Key Uri Format).
pub fn totp_uri(secret: &[u8], username: &str) -> String {
    let label: String = form_label(&format!("zhengzhao:{username}"));
    format!(
        "otpauth://totp/{label}?secret={}&issuer=zhengzhao&algorithm=SHA1&digits=6&period=30",
        totp_secret_base32(secret)
    )
}

fn form_label(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The HOTP value (RFC 4226) of `secret` at `counter`, as `digits` digits.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> Option<u32> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).ok()?;
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h.last()? & 0x0f);
    let word = h.get(offset..offset + 4)?;
    let bin = u32::from_be_bytes([word[0] & 0x7f, word[1], word[2], word[3]]);
    Some(bin % 10u32.pow(digits))
}

/// The time step that `unix_secs` falls in.
pub fn totp_step(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(TOTP_STEP_SECS)
}

/// The 6-digit code for a time step.
pub fn totp_code(secret: &[u8], step: i64) -> Option<String> {
    let counter = u64::try_from(step).ok()?;
    hotp(secret, counter, TOTP_DIGITS).map(|v| format!("{v:06}"))
}

/// The step a submitted code matches, within the drift window around
/// `unix_secs`, and later than `last_step` (a code is accepted once only).
pub fn verify_totp(secret: &[u8], code: &str, unix_secs: i64, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = totp_step(unix_secs);
    (now - TOTP_SKEW_STEPS..=now + TOTP_SKEW_STEPS)
        .filter(|&s| s > last_step)
        .find(|&s| {
            totp_code(secret, s).is_some_and(|c| {
                subtle::ConstantTimeEq::ct_eq(c.as_bytes(), code.as_bytes()).into()
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last 6 are ours).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, want8) in [
            (59i64, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            let v = hotp(secret, u64::try_from(totp_step(t)).unwrap(), 8).unwrap();
            assert_eq!(format!("{v:08}"), want8, "t={t}");
            assert_eq!(totp_code(secret, totp_step(t)).unwrap(), &want8[2..]);
        }
    }

    #[test]
    fn totp_window_and_replay() {
        let secret = b"12345678901234567890";
        let t = 1111111111;
        let step = totp_step(t);
        let code = totp_code(secret, step).unwrap();
        assert_eq!(verify_totp(secret, &code, t, 0), Some(step));
        // One step of drift either way is accepted, two are not.
        assert_eq!(verify_totp(secret, &code, t + 30, 0), Some(step));
        assert_eq!(verify_totp(secret, &code, t - 30, 0), Some(step));
        assert_eq!(verify_totp(secret, &code, t + 60, 0), None);
        // A code already used (its step is not after the last accepted) fails.
        assert_eq!(verify_totp(secret, &code, t, step), None);
        assert_eq!(verify_totp(secret, "12345", t, 0), None);
        assert_eq!(verify_totp(secret, "abcdef", t, 0), None);
    }

    #[test]
    fn base32_and_uri() {
        // RFC 4648 test vector.
        assert_eq!(totp_secret_base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(totp_secret_from_base32("MZXW6YTBOI").unwrap(), b"foobar");
        let uri = totp_uri(b"foobar", "wang li");
        assert!(uri.starts_with("otpauth://totp/zhengzhao:wang%20li?secret=MZXW6YTBOI&"));
    }

    #[test]
    fn password_policy() {
        assert!(check_password_policy("Short1!", "u").is_err());
        assert!(check_password_policy("alllowercaseletters", "u").is_err());
        assert!(check_password_policy("lowerUPPERonly", "u").is_err());
        assert!(check_password_policy("Zhang-San-2026", "zhangsan").is_ok());
        assert!(check_password_policy("xxZhangSan-2026", "zhangsan").is_err());
        assert!(check_password_policy("草原上的牧民们2026!", "u").is_ok());
        assert!(check_password_policy("草原上的牧民们在放牧羊群", "u").is_err());
        assert!(check_password_policy(&"Aa1!".repeat(40), "u").is_err());
    }

    #[test]
    fn argon2id_hashes_verify() {
        let h = hash_password("Correct-Horse-9").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("Correct-Horse-9", &h));
        assert!(!verify_password("Correct-Horse-8", &h));
        assert!(!verify_password("Correct-Horse-9", "not a hash"));
        assert_ne!(h, hash_password("Correct-Horse-9").unwrap(), "salted");
    }
}
