//! GB/T 36904 license type code (证照类型代码): the defining authority's
//! unified social credit code followed by a three-digit sequence number.

use super::{CodeError, CreditCode, check_length};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct LicenseTypeCode(String);

impl LicenseTypeCode {
    pub const LENGTH: usize = 21;

    pub fn parse(input: &str) -> Result<Self, CodeError> {
        check_length(input, Self::LENGTH)?;
        // Length is in characters; the authority part must be ASCII to slice it.
        if !input.is_ascii() {
            return Err(CodeError::Shape("license type code must be ASCII"));
        }
        CreditCode::parse(&input[..18])?;
        if let Some((i, c)) = input[18..]
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_digit())
        {
            return Err(CodeError::Character {
                position: 19 + i,
                found: c,
                allowed: "a digit of the three-digit sequence number",
            });
        }
        Ok(Self(input.to_owned()))
    }

    /// The unified social credit code of the defining authority.
    pub fn defining_authority(&self) -> &str {
        &self.0[..18]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LicenseTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LicenseTypeCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_from_the_standard_notes() {
        let code = LicenseTypeCode::parse("11100000000013338W032").unwrap();
        assert_eq!(code.defining_authority(), "11100000000013338W");
        assert!(LicenseTypeCode::parse("11100000000013338W011").is_ok());
    }

    #[test]
    fn rejects_bad_parts() {
        assert!(matches!(
            LicenseTypeCode::parse("11100000000013338A032").unwrap_err(),
            CodeError::CheckCharacter { expected: 'W', .. }
        ));
        assert!(matches!(
            LicenseTypeCode::parse("11100000000013338W03A").unwrap_err(),
            CodeError::Character { position: 21, .. }
        ));
        assert!(matches!(
            LicenseTypeCode::parse("11100000000013338W03").unwrap_err(),
            CodeError::Length { .. }
        ));
    }
}
