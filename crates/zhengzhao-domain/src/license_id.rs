//! GB/T 36904 license identifier (电子证照标识):
//! `1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>`.
//!
//! The check character is ISO/IEC 7064 MOD 37,36 (GB/T 17710) over the type
//! code, issuer code, serial and version joined without dots.

use crate::codes::{CodeError, CreditCode, LicenseTypeCode};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// The fixed root OID of every electronic license identifier.
pub const ROOT: &str = "1.2.156.3005.2";
/// Longest serial accepted. The standard sets none; seen in practice: up to 32.
pub const MAX_SERIAL: usize = 40;

const SYMBOLS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn value(c: char) -> Option<u32> {
    c.to_digit(36)
        .filter(|_| c.is_ascii_digit() || c.is_ascii_uppercase())
}

/// ISO/IEC 7064 MOD 37,36 check character for `body` (characters `0-9A-Z`).
pub fn check_character(body: &str) -> Option<char> {
    let mut p: u32 = 36;
    for c in body.chars() {
        let mut s = (p + value(c)?) % 36;
        if s == 0 {
            s = 36;
        }
        p = (s * 2) % 37;
    }
    let v = (37 - p) % 36;
    Some(char::from(SYMBOLS[v as usize]))
}

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseIdError {
    #[error("identifier must start with the root {ROOT}")]
    Root,
    #[error(
        "identifier must have 5 segments after the root (type code, issuer code, serial, version, check), found {0}"
    )]
    Segments(usize),
    #[error("type code: {0}")]
    TypeCode(CodeError),
    #[error("issuer code: {0}")]
    IssuerCode(CodeError),
    #[error("serial must be 1-{MAX_SERIAL} characters of 0-9 and A-Z")]
    Serial,
    #[error("version must be three digits from 001")]
    Version,
    #[error("check character should be {expected}, got {found}")]
    Check { expected: char, found: String },
}

impl LicenseIdError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Segments(_) => "segments",
            Self::TypeCode(_) => "type_code",
            Self::IssuerCode(_) => "issuer_code",
            Self::Serial => "serial",
            Self::Version => "version",
            Self::Check { .. } => "check_character",
        }
    }

    pub fn zh(&self) -> String {
        match self {
            Self::Root => format!("电子证照标识应以根代码{ROOT}开头"),
            Self::Segments(n) => format!(
                "根代码后应有5段（类型代码、颁发机构代码、流水号、版本号、校验位），实际为{n}段"
            ),
            Self::TypeCode(e) => format!("证照类型代码：{}", e.zh()),
            Self::IssuerCode(e) => format!("证照颁发机构代码：{}", e.zh()),
            Self::Serial => format!("流水号应为1至{MAX_SERIAL}位数字或大写字母"),
            Self::Version => "版本号应为从001起的三位数字".to_owned(),
            Self::Check { expected, found } => format!("校验位应为{expected}，实际为{found}"),
        }
    }

    pub fn at(&self, field: impl Into<String>) -> crate::FieldError {
        crate::FieldError::new(field, self.code(), self.to_string(), self.zh())
    }
}

/// A well-formed license identifier with a correct check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
#[serde(transparent)]
pub struct LicenseId(String);

impl LicenseId {
    /// Compose an identifier from its parts, computing the check character.
    pub fn new(
        type_code: &LicenseTypeCode,
        issuer: &CreditCode,
        serial: &str,
        version: u16,
    ) -> Result<Self, LicenseIdError> {
        check_serial(serial)?;
        if !(1..=999).contains(&version) {
            return Err(LicenseIdError::Version);
        }
        let version = format!("{version:03}");
        let body = format!("{type_code}{issuer}{serial}{version}");
        let check = check_character(&body).ok_or(LicenseIdError::Serial)?;
        Ok(Self(format!(
            "{ROOT}.{type_code}.{issuer}.{serial}.{version}.{check}"
        )))
    }

    pub fn parse(input: &str) -> Result<Self, LicenseIdError> {
        let rest = input
            .strip_prefix(ROOT)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or(LicenseIdError::Root)?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version, check] = parts[..] else {
            return Err(LicenseIdError::Segments(parts.len()));
        };
        let type_code = LicenseTypeCode::parse(type_code).map_err(LicenseIdError::TypeCode)?;
        let issuer = CreditCode::parse(issuer).map_err(LicenseIdError::IssuerCode)?;
        check_serial(serial)?;
        let version_ok =
            version.len() == 3 && version.bytes().all(|b| b.is_ascii_digit()) && version != "000";
        if !version_ok {
            return Err(LicenseIdError::Version);
        }
        let body = format!("{type_code}{issuer}{serial}{version}");
        let expected = check_character(&body).ok_or(LicenseIdError::Serial)?;
        if check.len() != 1 || !check.starts_with(expected) {
            return Err(LicenseIdError::Check {
                expected,
                found: check.to_owned(),
            });
        }
        Ok(Self(input.to_owned()))
    }

    fn segments(&self) -> Vec<&str> {
        self.0[ROOT.len() + 1..].split('.').collect()
    }

    pub fn type_code(&self) -> &str {
        self.segments()[0]
    }
    pub fn issuer_code(&self) -> &str {
        self.segments()[1]
    }
    pub fn serial(&self) -> &str {
        self.segments()[2]
    }
    pub fn version(&self) -> u16 {
        self.segments()[3].parse().unwrap_or(0)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_serial(serial: &str) -> Result<(), LicenseIdError> {
    let ok = !serial.is_empty()
        && serial.len() <= MAX_SERIAL
        && serial
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    if ok {
        Ok(())
    } else {
        Err(LicenseIdError::Serial)
    }
}

impl fmt::Display for LicenseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LicenseId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Identifiers from public sources whose check characters the textbook
    /// algorithm reproduces (shared/standards.md §1.1).
    const SAMPLES: &[&str] = &[
        "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F",
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U",
        "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.002.S",
        "1.2.156.3005.2.11100000000013338W087.11370800MB28559184.37080001202411010001.001.3",
    ];

    #[test]
    fn published_samples_check() {
        for s in SAMPLES {
            let id = LicenseId::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.as_str(), *s);
        }
    }

    #[test]
    fn check_characters_of_samples_with_nonstandard_segments() {
        // Zhejiang's and Hefei's (a division code as issuer) identifiers:
        // the check character algorithm reproduces theirs too.
        assert_eq!(
            check_character("11100000000013338W00911330105002500287C2025052201002"),
            Some('0')
        );
        assert_eq!(
            check_character("11100000MB03271699022340100000000016001"),
            Some('9')
        );
    }

    #[test]
    fn compose_matches_parse() {
        let t = LicenseTypeCode::parse("11100000000013338W011").unwrap();
        let i = CreditCode::parse("11430000006122244L").unwrap();
        let id = LicenseId::new(&t, &i, "20230000403", 2).unwrap();
        assert_eq!(id.as_str(), SAMPLES[2]);
        assert_eq!(id.version(), 2);
        assert_eq!(id.serial(), "20230000403");
        assert_eq!(id.issuer_code(), "11430000006122244L");
        assert_eq!(id.type_code(), "11100000000013338W011");
    }

    #[test]
    fn precise_reasons() {
        let good = SAMPLES[1];
        assert_eq!(
            LicenseId::parse(&good.replace("1.2.156.3005.2.", "1.2.156.3005.3.")),
            Err(LicenseIdError::Root)
        );
        assert_eq!(
            LicenseId::parse(&good.replace(".001.U", ".001")),
            Err(LicenseIdError::Segments(4))
        );
        assert_eq!(
            LicenseId::parse(&good.replace(".001.U", ".01.U")),
            Err(LicenseIdError::Version)
        );
        assert_eq!(
            LicenseId::parse(&good.replace(".001.U", ".000.U")),
            Err(LicenseIdError::Version)
        );
        assert_eq!(
            LicenseId::parse(&good.replace("20230000403", "2023_0403")),
            Err(LicenseIdError::Serial)
        );
        assert_eq!(
            LicenseId::parse(&good.replace("20230000403", "2023a0403")),
            Err(LicenseIdError::Serial)
        );
        assert_eq!(
            LicenseId::parse(&good.replace(".001.U", ".001.V")),
            Err(LicenseIdError::Check {
                expected: 'U',
                found: "V".into()
            })
        );
        assert!(matches!(
            LicenseId::parse(&good.replace("11430000006122244L", "11430000006122244A")),
            Err(LicenseIdError::IssuerCode(CodeError::CheckCharacter { .. }))
        ));
        assert!(matches!(
            LicenseId::parse(&good.replace("W011", "W01X")),
            Err(LicenseIdError::TypeCode(_))
        ));
        let e = LicenseId::parse(&good.replace(".001.U", ".001.V")).unwrap_err();
        assert_eq!(e.zh(), "校验位应为U，实际为V");
    }

    proptest! {
        /// MOD 37,36 catches every single-character substitution in the body.
        #[test]
        fn single_changes_in_serial_or_version_are_caught(serial in "[0-9A-Z]{4,20}", version in 1u16..999, pos in 0usize..20, r in "[0-9A-Z]") {
            let t = LicenseTypeCode::parse("11100000000013338W011").unwrap();
            let i = CreditCode::parse("11430000006122244L").unwrap();
            let id = LicenseId::new(&t, &i, &serial, version).unwrap();
            let mut s: Vec<char> = serial.chars().collect();
            let pos = pos % s.len();
            let r = r.chars().next().unwrap();
            prop_assume!(s[pos] != r);
            s[pos] = r;
            let changed: String = s.into_iter().collect();
            let forged = id.as_str().replace(&format!(".{serial}."), &format!(".{changed}."));
            prop_assert!(LicenseId::parse(&forged).is_err(), "{} accepted", forged);
        }
    }
}
