//! Detached CMS SignedData (RFC 5652) with SM2 and SM3: the signature a
//! license PDF carries over its own bytes (GM/T 0010's algorithms in the
//! structure PDF readers expect for `/SubFilter /adbe.pkcs7.detached`).
//!
//! The structure is RustCrypto `cms`; only the signing is ours, because its
//! builder would put a raw `r‖s` in `signature` where SM2 in CMS wants the DER
//! `SEQUENCE { r, s }` (as in [`crate::cert`]).
//!
//! What is made, and the only shape [`DetachedSignature::from_der`] accepts:
//! - `SignedData` version 1, digest algorithm SM3 (1.2.156.10197.1.401),
//!   encapsulated content type id-data with no content (detached);
//! - the signer's certificate and the chain above it in `certificates`;
//! - one `SignerInfo`, version 1, identified by issuer and serial number,
//!   with signed attributes content-type (id-data), signing-time and
//!   message-digest (SM3 of the signed bytes), and signature algorithm
//!   SM2-with-SM3 (1.2.156.10197.1.501) over the DER of those attributes,
//!   distinguishing id [`crate::DISTID`].

use crate::CryptoError;
use crate::sm2sig::{KeyPair, PublicKey};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Reader, SliceReader};
use spki::AlgorithmIdentifierOwned;
use std::time::SystemTime;
use x509_cert::Certificate;
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::time::Time;

/// SM3 (GM/T 0006).
pub const OID_SM3: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.401");
/// SM2-with-SM3 signature (GM/T 0006).
pub const OID_SM2_WITH_SM3: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.501");
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");

fn cms_err(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Signature(format!("CMS: {e}"))
}

fn algorithm(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, CryptoError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(cms_err)?,
    })
}

/// SM3 over the parts, in order, as one message.
pub fn sm3_parts(parts: &[&[u8]]) -> [u8; 32] {
    use sm3::Digest;
    let mut h = sm3::Sm3::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A detached SignedData over `content` (the parts in order, as one
/// message) by `key`, whose certificate is `signer`; `chain` (the CA
/// certificates above it, if known) rides along for verifiers. DER.
pub fn sign_detached(
    key: &KeyPair,
    signer: &Certificate,
    chain: &[Certificate],
    content: &[&[u8]],
    signing_time: SystemTime,
) -> Result<Vec<u8>, CryptoError> {
    if crate::cert::public_key(signer)?.to_sec1() != key.public_key().to_sec1() {
        return Err(CryptoError::Key(
            "the signing key does not belong to the signer's certificate".into(),
        ));
    }
    let digest = sm3_parts(content);
    let time = Time::try_from(signing_time).map_err(cms_err)?;
    let signed_attrs: Attributes = SetOfVec::try_from(vec![
        attribute(
            ID_CONTENT_TYPE,
            Any::encode_from(&ID_DATA).map_err(cms_err)?,
        )?,
        attribute(ID_SIGNING_TIME, Any::encode_from(&time).map_err(cms_err)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(cms_err)?)
                .map_err(cms_err)?,
        )?,
    ])
    .map_err(cms_err)?;
    // RFC 5652 §5.4: the signature is over the DER of the attributes as a
    // SET OF (tag 0x31), not as the [0] IMPLICIT they are stored under.
    let signature = key.sign(&signed_attrs.to_der().map_err(cms_err)?)?;
    let tbs = signer.tbs_certificate();
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: algorithm(OID_SM3),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: algorithm(OID_SM2_WITH_SM3),
        signature: OctetString::new(signature).map_err(cms_err)?,
        unsigned_attrs: None,
    };
    let certificates = std::iter::once(signer)
        .chain(chain)
        .map(|c| CertificateChoices::Certificate(c.clone()))
        .collect::<Vec<_>>();
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![algorithm(OID_SM3)]).map_err(cms_err)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet::try_from(certificates).map_err(cms_err)?),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(cms_err)?,
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(cms_err)?,
    }
    .to_der()
    .map_err(cms_err)
}

/// A parsed detached signature of the shape [`sign_detached`] makes. Parsing
/// checks the shape; [`Self::covers`] and [`Self::verify`] check the content
/// and the signer.
#[derive(Debug, Clone)]
pub struct DetachedSignature {
    /// DER of the signed attributes as a SET OF: what the SM2 signature covers.
    signed_attrs_der: Vec<u8>,
    signature: Vec<u8>,
    message_digest: Vec<u8>,
    signing_time: Option<SystemTime>,
    signer: Option<Certificate>,
}

fn single_value(attrs: &Attributes, oid: ObjectIdentifier) -> Result<&Any, CryptoError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    match (found.next(), found.next()) {
        (Some(a), None) if a.values.len() == 1 => a
            .values
            .get(0)
            .ok_or_else(|| cms_err(format!("attribute {oid} has no value"))),
        (None, _) => Err(cms_err(format!("signed attribute {oid} missing"))),
        _ => Err(cms_err(format!("signed attribute {oid} is not single"))),
    }
}

impl DetachedSignature {
    /// Parse DER `ContentInfo`. Zero bytes after it are allowed (a PDF
    /// reserves more room for the signature than it takes), nothing else.
    pub fn from_der(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut reader = SliceReader::new(bytes).map_err(cms_err)?;
        let info = ContentInfo::decode(&mut reader).map_err(cms_err)?;
        let used = usize::try_from(reader.position()).map_err(cms_err)?;
        if bytes
            .get(used..)
            .is_some_and(|rest| rest.iter().any(|b| *b != 0))
        {
            return Err(cms_err("data after the signature"));
        }
        if info.content_type != ID_SIGNED_DATA {
            return Err(cms_err("not SignedData"));
        }
        let signed: SignedData = info.content.decode_as().map_err(cms_err)?;
        if signed.encap_content_info.econtent_type != ID_DATA
            || signed.encap_content_info.econtent.is_some()
        {
            return Err(cms_err("not a detached signature over data"));
        }
        let [si] = signed.signer_infos.0.as_slice() else {
            return Err(cms_err("not exactly one signer"));
        };
        if si.digest_alg.oid != OID_SM3 || si.signature_algorithm.oid != OID_SM2_WITH_SM3 {
            return Err(cms_err(format!(
                "algorithms {} / {}, expected SM3 / SM2-with-SM3",
                si.digest_alg.oid, si.signature_algorithm.oid
            )));
        }
        let attrs = si
            .signed_attrs
            .as_ref()
            .ok_or_else(|| cms_err("no signed attributes"))?;
        let content_type: ObjectIdentifier = single_value(attrs, ID_CONTENT_TYPE)?
            .decode_as()
            .map_err(cms_err)?;
        if content_type != ID_DATA {
            return Err(cms_err("signed content type is not data"));
        }
        let digest: OctetString = single_value(attrs, ID_MESSAGE_DIGEST)?
            .decode_as()
            .map_err(cms_err)?;
        let signing_time = match attrs.iter().any(|a| a.oid == ID_SIGNING_TIME) {
            true => Some(
                Time::from_der(
                    &single_value(attrs, ID_SIGNING_TIME)?
                        .to_der()
                        .map_err(cms_err)?,
                )
                .map_err(cms_err)?
                .to_system_time(),
            ),
            false => None,
        };
        let signer = match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => signed
                .certificates
                .iter()
                .flat_map(|set| set.0.iter())
                .find_map(|c| match c {
                    CertificateChoices::Certificate(c)
                        if c.tbs_certificate().issuer() == &isn.issuer
                            && c.tbs_certificate().serial_number() == &isn.serial_number =>
                    {
                        Some(c.clone())
                    }
                    _ => None,
                }),
            SignerIdentifier::SubjectKeyIdentifier(_) => None,
        };
        Ok(Self {
            signed_attrs_der: attrs.to_der().map_err(cms_err)?,
            signature: si.signature.as_bytes().to_vec(),
            message_digest: digest.as_bytes().to_vec(),
            signing_time,
            signer,
        })
    }

    /// Whether the signed message digest is SM3 of `content` (the parts in order).
    pub fn covers(&self, content: &[&[u8]]) -> bool {
        self.message_digest == sm3_parts(content)
    }

    /// Whether `key` made the signature over the signed attributes.
    pub fn verify(&self, key: &PublicKey) -> Result<(), CryptoError> {
        key.verify(&self.signed_attrs_der, &self.signature)
    }

    /// The signing-time attribute, as the signer claims it.
    pub fn signing_time(&self) -> Option<SystemTime> {
        self.signing_time
    }

    /// The certificate the signer info names, if the structure carries it.
    /// Only a hint: trust comes from the key [`Self::verify`] is given.
    pub fn signer_certificate(&self) -> Option<&Certificate> {
        self.signer.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert;

    fn signer() -> (KeyPair, Certificate, Certificate) {
        let now = SystemTime::now();
        let ca_key = KeyPair::generate().unwrap();
        let ca = cert::make_ca(&ca_key, "CN=test CA,O=zhengzhao,C=CN", now, 1).unwrap();
        let key = KeyPair::generate().unwrap();
        let c = cert::issue(
            &ca_key,
            &ca,
            &cert::subject_name("发证机构", "发证机构", None),
            &key.public_key(),
            now,
            1,
        )
        .unwrap();
        (key, c, ca)
    }

    #[test]
    fn round_trip_and_tamper() {
        let (key, c, ca) = signer();
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000);
        let der = sign_detached(&key, &c, std::slice::from_ref(&ca), &[b"ab", b"cd"], at).unwrap();
        let mut padded = der.clone();
        padded.extend([0u8; 100]);
        let s = DetachedSignature::from_der(&padded).unwrap();
        assert!(s.covers(&[b"abcd"]), "the parts are one message");
        assert!(!s.covers(&[b"abce"]));
        s.verify(&key.public_key()).unwrap();
        assert!(
            s.verify(&KeyPair::generate().unwrap().public_key())
                .is_err()
        );
        assert_eq!(s.signing_time(), Some(at));
        assert_eq!(s.signer_certificate(), Some(&c));

        // Anything but zero padding after it, or a changed attribute, fails.
        let mut trailing = der.clone();
        trailing.push(1);
        assert!(DetachedSignature::from_der(&trailing).is_err());
        let mut s2 = s.clone();
        s2.signed_attrs_der[20] ^= 1;
        assert!(s2.verify(&key.public_key()).is_err());
    }

    #[test]
    fn refuses_a_key_that_is_not_the_certificates() {
        let (_, c, _) = signer();
        let other = KeyPair::generate().unwrap();
        assert!(sign_detached(&other, &c, &[], &[b"x"], SystemTime::now()).is_err());
    }
}
