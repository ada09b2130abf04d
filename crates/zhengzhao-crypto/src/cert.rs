//! X.509 certificates with the SM2 OIDs (GM/T 0015 shape): signature
//! algorithm SM3withSM2 (1.2.156.10197.1.501, no parameters), public key
//! id-ecPublicKey on curve SM2 (1.2.156.10197.1.301), signatures DER
//! `SEQUENCE { r, s }` made with distinguishing id [`crate::DISTID`].
//!
//! OpenSSL 3.0 checks SM2 certificate signatures with an empty id unless
//! told otherwise: `openssl verify -vfyopt distid:1234567812345678 …`.

use crate::sm2sig::{KeyPair, PublicKey};
use crate::{CryptoError, DISTID};
use der::pem::LineEnding;
use der::{Decode, DecodePem, Encode, EncodePem};
use signature::Signer;
use sm2::dsa::{DerSignature, Signature, VerifyingKey};
use spki::{SignatureBitStringEncoding, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use std::str::FromStr;
use std::time::{Duration, SystemTime};
pub use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints, CrlNumber, CrlReason,
    KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

fn cert_err(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Certificate(e.to_string())
}

/// CA (keyCertSign, cRLSign) or end entity (digitalSignature, nonRepudiation).
struct Profile {
    subject: Name,
    issuer: Option<Name>,
    ca: bool,
    /// Where the issuer's CRL is published (end-entity certificates).
    crl_url: Option<String>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, subject: &Name) -> Name {
        self.issuer.clone().unwrap_or_else(|| subject.clone())
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut ext = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let aki = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let bc = BasicConstraints {
            ca: self.ca,
            path_len_constraint: if self.ca { Some(0) } else { None },
        };
        ext.push(bc.to_extension(tbs.subject(), &ext)?);
        let usage = if self.ca {
            KeyUsages::KeyCertSign | KeyUsages::CRLSign
        } else {
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation
        };
        ext.push(KeyUsage(usage).to_extension(tbs.subject(), &ext)?);
        ext.push(ski.to_extension(tbs.subject(), &ext)?);
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(aki.0),
            ..Default::default()
        };
        ext.push(aki.to_extension(tbs.subject(), &ext)?);
        if let Some(url) = &self.crl_url {
            let uri = der::asn1::Ia5String::new(url)?;
            let points = CrlDistributionPoints(vec![DistributionPoint {
                distribution_point: Some(DistributionPointName::FullName(vec![
                    GeneralName::UniformResourceIdentifier(uri),
                ])),
                reasons: None,
                crl_issuer: None,
            }]);
            ext.push(points.to_extension(tbs.subject(), &ext)?);
        }
        Ok(ext)
    }
}

fn random_serial() -> Result<SerialNumber, CryptoError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| CryptoError::Random(e.to_string()))?;
    b[0] = (b[0] & 0x7f) | 0x01; // positive, no leading zero byte
    SerialNumber::new(&b).map_err(cert_err)
}

/// Validity from five minutes ago (clock skew between machines) for `years`.
fn validity(now: SystemTime, years: u32) -> Result<Validity, CryptoError> {
    let start = now - Duration::from_secs(300);
    let end = now + Duration::from_secs(u64::from(years) * 365 * 24 * 3600);
    Ok(Validity::new(
        Time::try_from(start).map_err(cert_err)?,
        Time::try_from(end).map_err(cert_err)?,
    ))
}

/// The x509 builder would embed a raw r‖s signature; X.509 wants DER, so we
/// sign the TBS bytes ourselves and assemble.
fn build_signed(
    mut builder: CertificateBuilder<Profile>,
    issuer: &KeyPair,
) -> Result<Certificate, CryptoError> {
    let key = issuer.signing_key();
    let tbs = builder.finalize(key).map_err(cert_err)?;
    let sig: Signature = key.try_sign(&tbs).map_err(cert_err)?;
    let bits = sig.to_der().to_bitstring().map_err(cert_err)?;
    builder.assemble(bits, key).map_err(cert_err)
}

/// Subject fields of a certificate, as an RFC 4514 string builder (values are escaped).
pub fn subject_name(common_name: &str, organization: &str, serial_number: Option<&str>) -> String {
    fn esc(v: &str) -> String {
        let mut out = String::new();
        for (i, c) in v.chars().enumerate() {
            if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
                || (i == 0 && matches!(c, '#' | ' '))
            {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }
    let mut s = format!("CN={}", esc(common_name));
    if let Some(sn) = serial_number {
        s.push_str(&format!(",serialNumber={}", esc(sn)));
    }
    s.push_str(&format!(",O={},C=CN", esc(organization)));
    s
}

/// A self-signed CA certificate for `key`.
pub fn make_ca(
    key: &KeyPair,
    subject: &str,
    now: SystemTime,
    years: u32,
) -> Result<Certificate, CryptoError> {
    let spki =
        SubjectPublicKeyInfoOwned::from_key(key.signing_key().verifying_key()).map_err(cert_err)?;
    let profile = Profile {
        subject: Name::from_str(subject).map_err(cert_err)?,
        issuer: None,
        ca: true,
        crl_url: None,
    };
    let b = CertificateBuilder::new(profile, random_serial()?, validity(now, years)?, spki)
        .map_err(cert_err)?;
    build_signed(b, key)
}

/// An end-entity signing certificate for `subject_key`, signed by the CA.
pub fn issue(
    ca_key: &KeyPair,
    ca_cert: &Certificate,
    subject: &str,
    subject_key: &PublicKey,
    now: SystemTime,
    years: u32,
) -> Result<Certificate, CryptoError> {
    issue_with_crl(ca_key, ca_cert, subject, subject_key, now, years, None)
}

/// As [`issue`], naming `crl_url` as the CRL distribution point.
pub fn issue_with_crl(
    ca_key: &KeyPair,
    ca_cert: &Certificate,
    subject: &str,
    subject_key: &PublicKey,
    now: SystemTime,
    years: u32,
    crl_url: Option<&str>,
) -> Result<Certificate, CryptoError> {
    let spki =
        SubjectPublicKeyInfoOwned::from_key(subject_key.verifying_key()).map_err(cert_err)?;
    let profile = Profile {
        subject: Name::from_str(subject).map_err(cert_err)?,
        issuer: Some(ca_cert.tbs_certificate().subject().clone()),
        ca: false,
        crl_url: crl_url.map(str::to_owned),
    };
    let b = CertificateBuilder::new(profile, random_serial()?, validity(now, years)?, spki)
        .map_err(cert_err)?;
    build_signed(b, ca_key)
}

pub fn to_pem(cert: &Certificate) -> Result<String, CryptoError> {
    cert.to_pem(LineEnding::LF).map_err(cert_err)
}

pub fn from_pem(pem: &str) -> Result<Certificate, CryptoError> {
    Certificate::from_pem(pem.as_bytes()).map_err(cert_err)
}

/// The certificate's subject public key, bound to [`DISTID`].
pub fn public_key(cert: &Certificate) -> Result<PublicKey, CryptoError> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    PublicKey::from_sec1(spki.subject_public_key.raw_bytes())
}

/// Whether `cert` carries a valid signature by `issuer_cert`'s key.
pub fn check_issued_by(cert: &Certificate, issuer_cert: &Certificate) -> Result<(), CryptoError> {
    let spki = issuer_cert.tbs_certificate().subject_public_key_info();
    let vk = VerifyingKey::from_sec1_bytes(DISTID, spki.subject_public_key.raw_bytes())
        .map_err(cert_err)?;
    let tbs = cert.tbs_certificate().to_der().map_err(cert_err)?;
    let sig = DerSignature::from_bytes(cert.signature().raw_bytes()).map_err(cert_err)?;
    let sig = Signature::try_from(sig).map_err(cert_err)?;
    signature::Verifier::verify(&vk, &tbs, &sig)
        .map_err(|_| CryptoError::Certificate("not signed by the given issuer".into()))
}

/// (not before, not after) as Unix seconds.
pub fn validity_secs(cert: &Certificate) -> (u64, u64) {
    let v = cert.tbs_certificate().validity();
    (
        v.not_before.to_unix_duration().as_secs(),
        v.not_after.to_unix_duration().as_secs(),
    )
}

/// A certificate on a CRL: its serial, since when, and why.
pub struct RevokedEntry {
    pub serial: SerialNumber,
    pub revoked_at: SystemTime,
    /// RFC 5280 reason name (`key_compromise`, ...); unknown names are `unspecified`.
    pub reason: String,
}

fn crl_reason(name: &str) -> CrlReason {
    match name {
        "key_compromise" => CrlReason::KeyCompromise,
        "ca_compromise" => CrlReason::CaCompromise,
        "affiliation_changed" => CrlReason::AffiliationChanged,
        "superseded" => CrlReason::Superseded,
        "cessation_of_operation" => CrlReason::CessationOfOperation,
        _ => CrlReason::Unspecified,
    }
}

/// The serial number of `cert` (for its CRL entry).
pub fn serial(cert: &Certificate) -> SerialNumber {
    cert.tbs_certificate().serial_number().clone()
}

/// An RFC 5280 v2 CRL of `ca_cert`, signed by `ca_key` (SM3withSM2, DER
/// signature), valid from `this_update` to `next_update`, numbered
/// `number` (must grow with each CRL), with the authority key identifier.
/// Returns DER.
pub fn make_crl(
    ca_key: &KeyPair,
    ca_cert: &Certificate,
    revoked: &[RevokedEntry],
    this_update: SystemTime,
    next_update: SystemTime,
    number: u64,
) -> Result<Vec<u8>, CryptoError> {
    let issuer = ca_cert.tbs_certificate().subject().clone();
    let algorithm = ca_cert.signature_algorithm().clone();
    let mut entries = Vec::with_capacity(revoked.len());
    for r in revoked {
        let reason = crl_reason(&r.reason)
            .to_extension(&issuer, &[])
            .map_err(cert_err)?;
        entries.push(RevokedCert {
            serial_number: r.serial.clone(),
            revocation_date: Time::try_from(r.revoked_at).map_err(cert_err)?,
            crl_entry_extensions: Some(vec![reason]),
        });
    }
    let spki_der = ca_cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(cert_err)?;
    let spki = SubjectPublicKeyInfoRef::try_from(spki_der.as_slice()).map_err(cert_err)?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(SubjectKeyIdentifier::try_from(spki).map_err(cert_err)?.0),
        ..Default::default()
    };
    let number = CrlNumber(der::asn1::Uint::new(&number.to_be_bytes()).map_err(cert_err)?);
    let extensions = vec![
        aki.to_extension(&issuer, &[]).map_err(cert_err)?,
        number.to_extension(&issuer, &[]).map_err(cert_err)?,
    ];
    let tbs = TbsCertList {
        version: x509_cert::Version::V2,
        signature: algorithm.clone(),
        issuer,
        this_update: Time::try_from(this_update).map_err(cert_err)?,
        next_update: Some(Time::try_from(next_update).map_err(cert_err)?),
        revoked_certificates: (!entries.is_empty()).then_some(entries),
        crl_extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der().map_err(cert_err)?;
    let sig: Signature = ca_key.signing_key().try_sign(&tbs_der).map_err(cert_err)?;
    let list = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm,
        signature: sig.to_der().to_bitstring().map_err(cert_err)?,
    };
    list.to_der().map_err(cert_err)
}

/// Parse DER (for certificates received as bytes).
pub fn from_der(der: &[u8]) -> Result<Certificate, CryptoError> {
    Certificate::from_der(der).map_err(cert_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_issues_an_org_certificate_that_checks() {
        let now = SystemTime::now();
        let ca_key = KeyPair::generate().unwrap();
        let ca = make_ca(
            &ca_key,
            &subject_name("zhengzhao 测试CA（TEST CA）", "zhengzhao", None),
            now,
            10,
        )
        .unwrap();
        let org_key = KeyPair::generate().unwrap();
        let subject = subject_name(
            "呼和浩特市市场监督管理局",
            "呼和浩特市市场监督管理局",
            Some("11150100MBP5010036"),
        );
        let cert = issue(&ca_key, &ca, &subject, &org_key.public_key(), now, 5).unwrap();
        check_issued_by(&cert, &ca).unwrap();
        check_issued_by(&ca, &ca).unwrap();
        let other = KeyPair::generate().unwrap();
        let other_ca = make_ca(&other, "CN=other,O=x,C=CN", now, 1).unwrap();
        assert!(check_issued_by(&cert, &other_ca).is_err());
        let pem = to_pem(&cert).unwrap();
        let back = from_pem(&pem).unwrap();
        assert_eq!(
            public_key(&back).unwrap().to_sec1(),
            org_key.public_key().to_sec1()
        );
        let (nb, na) = validity_secs(&back);
        assert!(na > nb + 4 * 365 * 24 * 3600);
        // A payload signed by the org key verifies under the certificate's key.
        let sig = org_key.sign(b"payload").unwrap();
        public_key(&back).unwrap().verify(b"payload", &sig).unwrap();
    }

    #[test]
    fn subject_values_are_escaped() {
        assert_eq!(
            subject_name("a,b", "o=1", Some("X")),
            "CN=a\\,b,serialNumber=X,O=o\\=1,C=CN"
        );
    }
}
