//! Interop export: a license as a W3C Verifiable Credential 2.0 with an
//! `eddsa-jcs-2022` proof, verified by independent implementations, not by
//! this project's code: Python `cryptography` (JCS and base58 written in the
//! test script), and Digital Bazaar's reference verifier
//! (`tools/vc-verifier`, installed by `./scripts/test` from its lockfile),
//! which also dereferences the key, the controller document and the status
//! list credentials from the running library and expands everything in
//! JSON-LD safe mode. An altered credential fails; a revoked one fails on
//! its status.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

use crate::common::*;
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
    let statuses = vc["credentialStatus"].as_array().unwrap();
    assert_eq!(statuses.len(), 2);
    for (entry, purpose) in statuses.iter().zip(["revocation", "suspension"]) {
        assert_eq!(entry["type"], "BitstringStatusListEntry");
        assert_eq!(entry["statusPurpose"], purpose);
    }
    assert!(
        vc.get("relatedResource").is_none(),
        "VC 2.0 requires a digest with relatedResource"
    );
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

/// The reference verifier's checker, installed by `./scripts/test`.
fn reference_verifier() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/vc-verifier");
    assert!(
        dir.join("node_modules/@digitalbazaar/vc").is_dir(),
        "the npm reference verifier is not installed: run ./scripts/test, or `npm ci` in tools/vc-verifier"
    );
    dir.join("verify.js")
}

struct Verdict {
    code: i32,
    report: Value,
    stderr: String,
}

/// Runs `tools/vc-verifier` on `vc` against the library at `app` (off the
/// test's runtime thread, which also serves the verifier's requests).
async fn node_verifies(app: &TestApp, vc: &Value) -> Verdict {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vc.json");
    std::fs::write(&file, serde_json::to_vec(vc).unwrap()).unwrap();
    let mut command = std::process::Command::new("node");
    command
        .arg(reference_verifier())
        .arg("--library")
        .arg(app.url(""))
        .arg(&file);
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node (20 or later) must be installed: ./scripts/test installs it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    Verdict {
        code: out.status.code().unwrap_or(-1),
        report: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stderr: format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)),
    }
}

async fn reference_verifier_accepts_current_refuses_superseded_and_revoked(app: TestApp) {
    let clerk = app.token("150102", Role::IssuerClerk).await;
    let issued = app.issue(&clerk, &license_request("VC-REF-1")).await;
    let id = issued["license_id"].as_str().unwrap();
    let vc: Value = app
        .get_as(&format!("/api/v1/licenses/{id}/vc"), &clerk)
        .await
        .json()
        .await
        .unwrap();

    // The context the library serves is the one verifiers bundle.
    let r = app.get("/ns/license/v1").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/ld+json");
    let bundled: Value = serde_json::from_str(include_str!(
        "../../../zhengzhao-core/contexts/license-v1.jsonld"
    ))
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), bundled);
    assert_eq!(vc["@context"][1], app.url("/ns/license/v1"));

    let verdict = node_verifies(&app, &vc).await;
    assert_eq!(
        verdict.code, 0,
        "the reference verifier refuses: {}",
        verdict.stderr
    );
    let report = &verdict.report;
    assert_eq!(report["verified"], true);
    let purposes: Vec<_> = report["status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["statusPurpose"].as_str().unwrap().to_owned(),
                s["set"].clone(),
            )
        })
        .collect();
    assert_eq!(
        purposes,
        [
            ("revocation".to_owned(), json!(false)),
            ("suspension".to_owned(), json!(false))
        ]
    );
    // Safe-mode expansion covered the credential and everything fetched:
    // the key, the controller document and both status list credentials.
    let expanded = report["expanded"].as_array().unwrap();
    let controller = app.url("/api/v1/orgs/150102/controller");
    for url in [
        "credential".to_owned(),
        app.url("/api/v1/orgs/150102/vc-key"),
        controller.clone(),
        app.url("/api/v1/orgs/150102/status-lists/revocation/credential"),
        app.url("/api/v1/orgs/150102/status-lists/suspension/credential"),
    ] {
        assert!(
            expanded.contains(&json!(url)),
            "{url} not expanded: {report}"
        );
    }

    // Altered claims: the proof fails.
    let mut altered = vc.clone();
    altered["credentialSubject"]["face"]["domicile"] = json!("别处");
    let verdict = node_verifies(&app, &altered).await;
    assert_eq!(verdict.code, 1, "an altered credential: {}", verdict.stderr);
    // A term the vocabulary does not define: JSON-LD safe mode refuses it
    // (the proof is checked over JSON, so only expansion can notice).
    let mut undefined = vc.clone();
    undefined["credentialSubject"]["nickname"] = json!("x");
    let verdict = node_verifies(&app, &undefined).await;
    assert_eq!(verdict.code, 1, "an undefined term: {}", verdict.stderr);
    let errors = verdict.report["errors"].to_string();
    assert!(
        errors.contains("safe mode refuses credential") && errors.contains("nickname"),
        "{errors}"
    );

    // Superseded: after an update the first version's credential fails on
    // its revocation bit; the new version's has an index of its own and passes.
    let new_id = app.update_domicile(&clerk, id, "新址").await;
    let verdict = node_verifies(&app, &vc).await;
    assert_eq!(
        verdict.code, 2,
        "a superseded credential: {}",
        verdict.stderr
    );
    let current: Value = app
        .get_as(&format!("/api/v1/licenses/{new_id}/vc"), &clerk)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(
        current["credentialStatus"][0]["statusListIndex"],
        vc["credentialStatus"][0]["statusListIndex"]
    );
    let verdict = node_verifies(&app, &current).await;
    assert_eq!(verdict.code, 0, "the current version: {}", verdict.stderr);

    // Revoked: the current credential now fails on its revocation bit.
    let r = app
        .send_json(
            reqwest::Method::POST,
            &format!("/api/v1/licenses/{id}/revoke"),
            Some(&clerk),
            &json!({"reason": "注销"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let verdict = node_verifies(&app, &current).await;
    assert_eq!(verdict.code, 2, "a revoked credential: {}", verdict.stderr);
    let revoked: Vec<_> = verdict.report["status"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["set"] == true)
        .map(|s| s["statusPurpose"].clone())
        .collect();
    assert_eq!(revoked, [json!("revocation")]);
}
both_backends!(
    reference_verifier,
    reference_verifier_accepts_current_refuses_superseded_and_revoked
);

/// The region's copy of a status list is a credential of its own: the
/// reference verifier checks its proof (by the region's key, through the
/// region's controller document), and refuses it with its window stretched.
async fn status_list_credential_verifies(app: TestApp) {
    let list: Value = app
        .get("/api/v1/status-lists/revocation/credential")
        .await
        .json()
        .await
        .unwrap();
    let verdict = node_verifies(&app, &list).await;
    assert_eq!(verdict.code, 0, "the region's list: {}", verdict.stderr);
    assert!(
        verdict.report["expanded"]
            .as_array()
            .unwrap()
            .contains(&json!(app.url("/api/v1/orgs/150000/controller")))
    );
    let mut forged = list.clone();
    forged["validUntil"] = json!("2999-01-01T00:00:00Z");
    let verdict = node_verifies(&app, &forged).await;
    assert_eq!(
        verdict.code, 1,
        "a list with a longer window: {}",
        verdict.stderr
    );
}
both_backends!(status_list_credential, status_list_credential_verifies);

/// What verifiers dereference is public (a bad token is still refused, as
/// everywhere); unknown orgs and purposes are clear 404s.
async fn verifier_documents_are_public(app: TestApp) {
    for path in [
        "/ns/license/v1",
        "/api/v1/orgs/150102/controller",
        "/api/v1/orgs/150102/vc-key",
        "/api/v1/orgs/150102/status-lists/revocation/credential",
        "/api/v1/orgs/150102/status-lists/suspension/credential",
        "/api/v1/orgs/150102/status-lists/message/credential",
        "/api/v1/status-lists/revocation/credential",
        "/api/v1/status-lists/message/credential",
    ] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK, "{path}");
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    let controller: Value = app
        .get("/api/v1/orgs/150102/controller")
        .await
        .json()
        .await
        .unwrap();
    let key_id = app.url("/api/v1/orgs/150102/vc-key");
    assert_eq!(controller["id"], app.url("/api/v1/orgs/150102/controller"));
    assert_eq!(controller["assertionMethod"], json!([key_id]));
    assert_eq!(controller["verificationMethod"][0]["id"], key_id);

    let list: Value = app
        .get("/api/v1/status-lists/revocation/credential")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["type"],
        json!(["VerifiableCredential", "BitstringStatusListCredential"])
    );
    assert_eq!(list["issuer"], app.url("/api/v1/orgs/150000/controller"));
    assert_eq!(list["credentialSubject"]["statusPurpose"], "revocation");
    assert!(list["validFrom"].as_str().unwrap() < list["validUntil"].as_str().unwrap());
    assert_eq!(list["proof"]["cryptosuite"], "eddsa-jcs-2022");

    for path in [
        "/api/v1/orgs/150102/status-lists/expiry/credential",
        "/api/v1/status-lists/expiry/credential",
        "/api/v1/orgs/159999/controller",
        "/api/v1/orgs/159999/status-lists/revocation/credential",
    ] {
        let p = expect_problem(app.get(path).await, StatusCode::NOT_FOUND).await;
        assert!(p["title_zh"].is_string(), "{path}: {p}");
    }
    expect_problem(
        app.get("/api/v1/orgs/not-a-code/controller").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}
both_backends!(verifier_documents, verifier_documents_are_public);
