//! GB/T 2260 administrative division code (行政区划代码).

use super::{CodeError, check_length};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A six-digit division code. Whether the division exists is a question for
/// the org tree, not for the code's shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct DivisionCode(String);

/// The level a division code denotes, read from its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivisionLevel {
    Province,
    Prefecture,
    County,
}

impl DivisionCode {
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        check_length(input, 6)?;
        if let Some((i, c)) = input.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
            return Err(CodeError::Character {
                position: i + 1,
                found: c,
                allowed: "a digit",
            });
        }
        if &input[0..2] == "00" {
            return Err(CodeError::Shape(
                "province part of a division code cannot be 00",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn level(&self) -> DivisionLevel {
        if &self.0[2..] == "0000" {
            DivisionLevel::Province
        } else if &self.0[4..] == "00" {
            DivisionLevel::Prefecture
        } else {
            DivisionLevel::County
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DivisionCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_shape() {
        assert_eq!(
            DivisionCode::parse("150000").unwrap().level(),
            DivisionLevel::Province
        );
        assert_eq!(
            DivisionCode::parse("150700").unwrap().level(),
            DivisionLevel::Prefecture
        );
        assert_eq!(
            DivisionCode::parse("150781").unwrap().level(),
            DivisionLevel::County
        );
        assert!(DivisionCode::parse("15078").is_err());
        assert!(DivisionCode::parse("15078a").is_err());
        assert!(DivisionCode::parse("000000").is_err());
    }
}
