//! C2SP signed notes (c2sp.org/signed-note): a text ending in a newline, a
//! blank line, then one signature line per key,
//! `— <key name> <base64(key ID ‖ signature)>` (an em dash, U+2014).
//!
//! Written here rather than taken from the `signed_note` crate, which would
//! bring a second generation of ed25519-dalek, sha2 and base64 into the
//! build for what is a few lines of formatting. Tests outside Rust (Python
//! `cryptography`) check what this makes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

/// Signature type of Ed25519 lines (c2sp.org/signed-note §Signature types).
pub const ED25519: u8 = 0x01;
/// Signature type of algorithms without an assigned byte; the spec
/// recommends following it with a longer identifier.
pub const UNASSIGNED: u8 = 0xff;

const DASH: &str = "\u{2014} ";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signed note: {0}")]
pub struct NoteError(pub String);

fn bad(message: impl Into<String>) -> NoteError {
    NoteError(message.into())
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub key_name: String,
    pub key_id: [u8; 4],
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line as it stands in the note, newline included.
    pub fn line(&self) -> String {
        let mut bytes = self.key_id.to_vec();
        bytes.extend_from_slice(&self.signature);
        format!("{DASH}{} {}\n", self.key_name, B64.encode(bytes))
    }
}

/// The key ID the spec recommends: the first four bytes of
/// SHA-256(key name ‖ 0x0A ‖ signature type ‖ public key), where
/// `signature_type` is the type byte (and, for [`UNASSIGNED`], the identifier
/// that follows it).
pub fn key_id(key_name: &str, signature_type: &[u8], public_key: &[u8]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(key_name.as_bytes())
        .chain_update([b'\n'])
        .chain_update(signature_type)
        .chain_update(public_key)
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A key name is non-empty and has no Unicode space and no plus.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// The verifier key of an Ed25519 key, as note verifiers take it:
/// `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`.
pub fn ed25519_vkey(key_name: &str, public_key: &[u8; 32]) -> String {
    let id = key_id(key_name, &[ED25519], public_key);
    let mut typed = vec![ED25519];
    typed.extend_from_slice(public_key);
    format!("{key_name}+{}+{}", hex_of(&id), B64.encode(typed))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Text allowed in a note: UTF-8 (a `str`), no control character but newline.
fn check_chars(s: &str) -> Result<(), NoteError> {
    if s.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad("a control character other than newline"));
    }
    Ok(())
}

/// `text`, a blank line and the signature lines.
pub fn sign_text(text: &str, signatures: &[NoteSignature]) -> Result<String, NoteError> {
    if !text.ends_with('\n') {
        return Err(bad("the text does not end in a newline"));
    }
    check_chars(text)?;
    if signatures.is_empty() {
        return Err(bad("no signature"));
    }
    let mut note = format!("{text}\n");
    for s in signatures {
        if !valid_key_name(&s.key_name) {
            return Err(bad(format!("key name {:?}", s.key_name)));
        }
        note.push_str(&s.line());
    }
    Ok(note)
}

/// Split a signed note into its text (the final newline included) and its
/// signature lines, as note verifiers do: the text ends at the last blank
/// line. Refuses anything not in the format; checks no signature.
pub fn parse(note: &str) -> Result<(&str, Vec<NoteSignature>), NoteError> {
    check_chars(note)?;
    let split = note.rfind("\n\n").ok_or_else(|| bad("no blank line"))?;
    let (text, lines) = (&note[..split + 1], &note[split + 2..]);
    if lines.is_empty() || !lines.ends_with('\n') {
        return Err(bad("the signature lines do not end in a newline"));
    }
    let mut signatures = Vec::new();
    for line in lines[..lines.len() - 1].split('\n') {
        let rest = line
            .strip_prefix(DASH)
            .ok_or_else(|| bad("a signature line does not begin with an em dash and a space"))?;
        let (name, sig) = rest
            .split_once(' ')
            .ok_or_else(|| bad("a signature line has no signature"))?;
        if !valid_key_name(name) {
            return Err(bad(format!("key name {name:?}")));
        }
        let bytes = B64
            .decode(sig)
            .map_err(|_| bad("a signature is not base64"))?;
        let (id, signature) = bytes
            .split_first_chunk::<4>()
            .filter(|(_, s)| !s.is_empty())
            .ok_or_else(|| bad("a signature is shorter than its key ID"))?;
        signatures.push(NoteSignature {
            key_name: name.to_owned(),
            key_id: *id,
            signature: signature.to_vec(),
        });
    }
    Ok((text, signatures))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ed25519::{VcKey, verify};

    /// The example note of Go's golang.org/x/mod/sumdb/note (its package
    /// documentation and tests), with its published verifier key.
    #[test]
    fn the_specs_example_verifies() {
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let note = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n\
                    \n\
                    \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        let (name, rest) = vkey.split_once('+').unwrap();
        let (id, key) = rest.split_once('+').unwrap();
        let key = B64.decode(key).unwrap();
        assert_eq!(key[0], ED25519);
        let public: [u8; 32] = key[1..].try_into().unwrap();
        assert_eq!(hex_of(&key_id(name, &[ED25519], &public)), id);
        assert_eq!(ed25519_vkey(name, &public), vkey);
        let (text, sigs) = parse(note).unwrap();
        assert!(text.ends_with("problem is.\n"));
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].key_name, name);
        assert_eq!(hex_of(&sigs[0].key_id), id);
        assert!(verify(&public, text.as_bytes(), &sigs[0].signature));
        assert!(!verify(&public, b"something else\n", &sigs[0].signature));
        assert_eq!(sign_text(text, &sigs).unwrap(), note);
    }

    #[test]
    fn made_notes_parse_back() {
        let key = VcKey::from_seed(&[7; 32]);
        let text = "example.com/log\n3\nAAAA\n";
        let sig = NoteSignature {
            key_name: "example.com/log".into(),
            key_id: key_id("example.com/log", &[ED25519], &key.public_key()),
            signature: key.sign(text.as_bytes()).to_vec(),
        };
        let note = sign_text(text, std::slice::from_ref(&sig)).unwrap();
        assert_eq!(parse(&note).unwrap(), (text, vec![sig.clone()]));
        for broken in [
            text.to_owned(),
            note.replace('\u{2014}', "-"),
            note.trim_end().to_owned(),
            note.replace("example.com/log ", "example com/log "),
            format!("{text}\n\u{2014} k AAAA\n"),
            note.replace('3', "\t3"),
        ] {
            assert!(parse(&broken).is_err(), "{broken:?}");
        }
        assert!(sign_text("no newline", std::slice::from_ref(&sig)).is_err());
        let mut spaced = sig;
        spaced.key_name = "a b".into();
        assert!(sign_text(text, &[spaced]).is_err());
    }
}
