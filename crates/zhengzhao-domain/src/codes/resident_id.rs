//! GB 11643-1999 citizen identity number (公民身份号码).

use super::{CodeError, check_length};
use jiff::civil::Date;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character by (weighted sum mod 11): ISO 7064 MOD 11-2.
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// A resident identity number with a valid birth date and check digit.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct ResidentId(String);

impl ResidentId {
    pub const LENGTH: usize = 18;

    /// Parse and check a number. A lower-case `x` check digit is normalised to `X`.
    /// The birth date must be a real calendar date from 1800 on; whether it lies
    /// in the future depends on today, see [`ResidentId::check_born_by`].
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        check_length(input, Self::LENGTH)?;
        let chars: Vec<char> = input.chars().collect();
        for (i, c) in chars.iter().take(17).enumerate() {
            if !c.is_ascii_digit() {
                return Err(CodeError::Character {
                    position: i + 1,
                    found: *c,
                    allowed: "a digit",
                });
            }
        }
        let last = chars[17].to_ascii_uppercase();
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(CodeError::Character {
                position: 18,
                found: chars[17],
                allowed: "a digit or X",
            });
        }
        let birth: String = chars[6..14].iter().collect();
        Self::birth_date_of(&birth)?;
        let expected = Self::check_character_for(&chars[..17]);
        if last != expected {
            return Err(CodeError::CheckCharacter {
                expected,
                found: chars[17],
            });
        }
        let mut normalised: String = chars[..17].iter().collect();
        normalised.push(last);
        Ok(Self(normalised))
    }

    fn birth_date_of(yyyymmdd: &str) -> Result<Date, CodeError> {
        let bad = || CodeError::BirthDate(yyyymmdd.to_owned());
        let year: i16 = yyyymmdd[0..4].parse().map_err(|_| bad())?;
        let month: i8 = yyyymmdd[4..6].parse().map_err(|_| bad())?;
        let day: i8 = yyyymmdd[6..8].parse().map_err(|_| bad())?;
        if year < 1800 {
            return Err(bad());
        }
        Date::new(year, month, day).map_err(|_| bad())
    }

    /// The check character for 17 digits.
    pub fn check_character_for(first17: &[char]) -> char {
        let sum: u32 = first17
            .iter()
            .zip(WEIGHTS)
            .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
            .sum();
        CHECK[(sum % 11) as usize]
    }

    /// Refuse a birth date after `today` (the caller's clock, in China time).
    pub fn check_born_by(&self, today: Date) -> Result<(), CodeError> {
        let birth = self.birth_date();
        if birth > today {
            Err(CodeError::BirthDateInFuture(self.0[6..14].to_owned()))
        } else {
            Ok(())
        }
    }

    pub fn birth_date(&self) -> Date {
        // Checked in `parse`; the fallback is unreachable but keeps this total.
        Self::birth_date_of(&self.0[6..14]).unwrap_or(Date::MIN)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with all but the first and last characters hidden, for pages
    /// and logs that must not show a person's number.
    pub fn masked(&self) -> String {
        format!("{}****************{}", &self.0[..1], &self.0[17..])
    }
}

/// Debug never prints the full number: it is personal data and Debug output
/// ends up in logs.
impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResidentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn standard_samples_are_valid() {
        for s in [
            "11010519491231002X",
            "440524188001010014",
            "53010219200508011X",
            "13043419840726291X",
        ] {
            assert_eq!(ResidentId::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn lower_case_x_is_normalised() {
        assert_eq!(
            ResidentId::parse("11010519491231002x").unwrap().as_str(),
            "11010519491231002X"
        );
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(
            ResidentId::parse("110105194912310021").unwrap_err(),
            CodeError::CheckCharacter {
                expected: 'X',
                found: '1'
            }
        );
        assert_eq!(
            ResidentId::parse("110105194902300020").unwrap_err(),
            CodeError::BirthDate("19490230".into())
        );
        assert!(matches!(
            ResidentId::parse("1101051949123100AX").unwrap_err(),
            CodeError::Character { position: 17, .. }
        ));
        assert!(matches!(
            ResidentId::parse("1101051949").unwrap_err(),
            CodeError::Length { .. }
        ));
    }

    #[test]
    fn future_birth_date_is_refused_against_today() {
        let body = "15010220990101001";
        let check = ResidentId::check_character_for(&body.chars().collect::<Vec<_>>());
        let id = ResidentId::parse(&format!("{body}{check}")).unwrap();
        let today = Date::new(2026, 11, 29).unwrap();
        assert_eq!(
            id.check_born_by(today).unwrap_err(),
            CodeError::BirthDateInFuture("20990101".into())
        );
        let old = ResidentId::parse("11010519491231002X").unwrap();
        assert!(old.check_born_by(today).is_ok());
    }

    #[test]
    fn debug_output_is_masked() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        let shown = format!("{id:?}");
        assert!(!shown.contains("19491231"), "{shown}");
    }

    fn valid_id() -> impl Strategy<Value = String> {
        ("15[0-9]{4}", 1900i16..2025, 1i8..=12, 1i8..=28, "[0-9]{3}").prop_map(
            |(area, y, m, d, seq)| {
                let body = format!("{area}{y:04}{m:02}{d:02}{seq}");
                let check = ResidentId::check_character_for(&body.chars().collect::<Vec<_>>());
                format!("{body}{check}")
            },
        )
    }

    proptest! {
        #[test]
        fn generated_ids_parse(id in valid_id()) {
            prop_assert!(ResidentId::parse(&id).is_ok());
        }

        /// MOD 11-2 catches every single-character substitution.
        #[test]
        fn any_single_change_is_rejected(id in valid_id(), pos in 0usize..18, replacement in "[0-9X]") {
            let r = replacement.chars().next().unwrap();
            let mut chars: Vec<char> = id.chars().collect();
            prop_assume!(chars[pos] != r);
            chars[pos] = r;
            let changed: String = chars.into_iter().collect();
            prop_assert!(ResidentId::parse(&changed).is_err(), "{} accepted", changed);
        }
    }
}
