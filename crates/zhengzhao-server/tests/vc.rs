//! Interop export: a license as a W3C Verifiable Credential 2.0 with an
//! `eddsa-jcs-2022` proof, verified by an independent implementation
//! (Python `cryptography`, with JCS and base58 written in the test script),
//! not by this project's code; an altered credential fails that check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use zhengzhao_domain::role::Role;

/// eddsa-jcs-2022 verification, from the W3C spec, in plain Python.
const VERIFY_PY: &str = r#"
import hashlib, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
def b58decode(s):
    n = 0
    for c in s:
        n = n * 58 + ALPHABET.index(c)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    pad = len(s) - len(s.lstrip("1"))
    return b"\x00" * pad + raw

def jcs(v):  # RFC 8785 for values without floats
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

vc = json.load(open(sys.argv[1]))
key = json.load(open(sys.argv[2]))
proof = dict(vc.pop("proof"))
assert proof["cryptosuite"] == "eddsa-jcs-2022", proof
assert proof["verificationMethod"] == key["id"], (proof["verificationMethod"], key["id"])
value = proof.pop("proofValue")
assert value.startswith("z")
signature = b58decode(value[1:])
pub = b58decode(key["publicKeyMultibase"][1:])
assert pub[:2] == b"\xed\x01"
data = hashlib.sha256(jcs(proof)).digest() + hashlib.sha256(jcs(vc)).digest()
Ed25519PublicKey.from_public_bytes(pub[2:]).verify(signature, data)
print("verified")
"#;

fn python_verifies(vc: &Value, key: &Value) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (script, vc_file, key_file) = (
        dir.path().join("v.py"),
        dir.path().join("vc.json"),
        dir.path().join("key.json"),
    );
    std::fs::write(&script, VERIFY_PY).unwrap();
    std::fs::write(&vc_file, serde_json::to_vec(vc).unwrap()).unwrap();
    std::fs::write(&key_file, serde_json::to_vec(key).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&vc_file)
        .arg(&key_file)
        .output()
        .expect(
            "python3 with the cryptography package must be installed: ./scripts/test installs it",
        );
    String::from_utf8_lossy(&out.stdout).trim() == "verified"
}

async fn verifiable_credential(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("VC-1")).await;
    let id = issued["license_id"].as_str().unwrap();
    let r = app
        .get_as(&format!("/api/v1/licenses/{id}/vc"), &clerk)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/vc+ld+json");
    let vc: Value = r.json().await.unwrap();
    assert_eq!(
        vc["type"],
        json!(["VerifiableCredential", "ElectronicLicenseCredential"])
    );
    assert_eq!(vc["credentialSubject"]["licenseId"], id);
    assert_eq!(vc["credentialStatus"]["type"], "BitstringStatusListEntry");
    let method = vc["proof"]["verificationMethod"].as_str().unwrap();
    let key_path = method
        .split_once("/api/")
        .map(|(_, p)| format!("/api/{p}"))
        .unwrap();
    let key: Value = app.get(&key_path).await.json().await.unwrap();
    assert_eq!(key["type"], "Multikey");

    assert!(
        python_verifies(&vc, &key),
        "an independent eddsa-jcs-2022 check fails"
    );
    let mut altered = vc.clone();
    altered["credentialSubject"]["face"]["domicile"] = json!("别处");
    assert!(
        !python_verifies(&altered, &key),
        "an altered credential still verifies"
    );

    // The same access as the document: another org's clerk is refused.
    let other = app.token("150103", Role::IssuerClerk).await;
    expect_problem(
        app.get_as(&format!("/api/v1/licenses/{id}/vc"), &other)
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_problem(
        app.get(&format!("/api/v1/licenses/{id}/vc")).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}
both_backends!(vc, verifiable_credential);
