//! GB 32100-2015 unified social credit code (统一社会信用代码).

use super::{CodeError, check_length};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// The 31 symbols of GB 32100, in value order (no I, O, S, V, Z).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights 3^(i-1) mod 31 for positions 1..=17.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// First character: the registering department. Later assignments beyond 1/5/9/Y exist.
const DEPARTMENTS: &str = "123456789ANY";

/// The organisation categories (second character) each registering department
/// (first character) assigns: a code whose pair is not here cannot have been
/// issued. Sources (shared/standards.md §2):
/// - 1 机构编制 (1 机关, 2 事业单位, 3 群团, 9 其他), 5 民政 (1 社会团体,
///   2 民办非企业单位, 3 基金会, 9 其他) and 9 工商/市场监管 (1 企业,
///   2 个体工商户, 3 农民专业合作社; no 9) are from the standard's table.
/// - The later departments follow the assignment tables published in several
///   public implementations (not the standard's own text): 2 外交 (1 外国常驻
///   新闻机构), 3 司法行政 (1 律师执业机构, 2 公证处, 3 基层法律服务所,
///   4 司法鉴定机构, 5 仲裁委员会, 6 商事调解组织), 4 文化 (1 外国在华文化
///   中心), 6 旅游 (1 外国、2 港澳台旅游部门常驻代表机构), 7 宗教 (1 宗教活动
///   场所, 2 宗教院校), 8 工会 (1 基层工会, 2 非法人工会组织), A 军队 (1),
///   N 农业 (1 组级, 2 村级, 3 乡镇级集体经济组织), Y 其他 (1 only); each of
///   2-8, A and N also has 9 其他. 民政 has also assigned 4 村民委员会 and
///   5 居民委员会 to the basic-level self-governing organisations.
///
/// Where sources differ, the pair is kept: refusing a real holder's code
/// stops its licenses, while accepting a pair nobody assigned only lets an
/// unlikely typo through that the check character would usually catch.
const CATEGORIES: [(char, &str); 12] = [
    ('1', "1239"),
    ('2', "19"),
    ('3', "1234569"),
    ('4', "19"),
    ('5', "123459"),
    ('6', "129"),
    ('7', "129"),
    ('8', "129"),
    ('9', "123"),
    ('A', "19"),
    ('N', "1239"),
    ('Y', "1"),
];

/// The categories registering department `department` assigns (empty if it is
/// not a department).
fn categories_of(department: char) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(d, _)| *d == department)
        .map_or("", |(_, c)| c)
}

/// A unified social credit code whose characters and check character are valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct CreditCode(String);

fn value_of(c: char) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&b| char::from(b) == c)
        .map(|p| p as u32)
}

impl CreditCode {
    pub const LENGTH: usize = 18;

    /// Parse and check a code. Lower-case input is not accepted: the standard
    /// writes upper case, and a silently changed code would not match later lookups.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        check_length(input, Self::LENGTH)?;
        let chars: Vec<char> = input.chars().collect();
        if !DEPARTMENTS.contains(chars[0]) {
            return Err(CodeError::Character {
                position: 1,
                found: chars[0],
                allowed: "registering department code 1-9, A, N or Y",
            });
        }
        for (i, c) in chars.iter().enumerate().skip(2).take(6) {
            if !c.is_ascii_digit() {
                return Err(CodeError::Character {
                    position: i + 1,
                    found: *c,
                    allowed: "a digit of the division code",
                });
            }
        }
        for (i, c) in chars.iter().enumerate() {
            if value_of(*c).is_none() {
                return Err(CodeError::Character {
                    position: i + 1,
                    found: *c,
                    allowed: "0-9 or an upper-case letter other than I, O, S, V, Z",
                });
            }
        }
        // After the alphabet checks (a stray letter is named as such) and
        // before the check character, which a pair nobody assigns can pass.
        let allowed = categories_of(chars[0]);
        if !allowed.contains(chars[1]) {
            return Err(CodeError::Category {
                department: chars[0],
                category: chars[1],
                allowed,
            });
        }
        let expected = Self::check_character_for(&chars[..17]);
        if chars[17] != expected {
            return Err(CodeError::CheckCharacter {
                expected,
                found: chars[17],
            });
        }
        Ok(Self(input.to_owned()))
    }

    /// The check character for the first 17 characters, which must already be
    /// in the alphabet. Used to make seed placeholders and by `parse`.
    pub fn check_character_for(first17: &[char]) -> char {
        let sum: u32 = first17
            .iter()
            .zip(WEIGHTS)
            .map(|(c, w)| value_of(*c).unwrap_or(0) * w)
            .sum();
        let v = (31 - sum % 31) % 31;
        char::from(ALPHABET[v as usize])
    }

    /// Complete a 17-character body with its check character. Returns an error
    /// if the body does not then form a valid code.
    pub fn with_check_character(first17: &str) -> Result<Self, CodeError> {
        let chars: Vec<char> = first17.chars().collect();
        check_length(first17, 17)?;
        let check = Self::check_character_for(&chars);
        Self::parse(&format!("{first17}{check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GB/T 2260 division code of the registering authority (positions 3–8).
    pub fn division(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CreditCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: &[&str] = &[
        "9135052155323005XL",
        "91370406L24894136J",
        "91610800064834709T",
        "91330100716105852F",
        "11100000000013338W",
        "11220000013544541J",
        "11430000006122244L",
        "11110000000021135M",
        "11100000MB0341032Y",
        "11370800MB28559184",
    ];

    #[test]
    fn standard_samples_are_valid() {
        for s in VALID {
            let code = CreditCode::parse(s).unwrap();
            assert_eq!(code.as_str(), *s);
        }
    }

    #[test]
    fn wrong_check_character_names_the_right_one() {
        let err = CreditCode::parse("9135052155323005XA").unwrap_err();
        assert_eq!(
            err,
            CodeError::CheckCharacter {
                expected: 'L',
                found: 'A'
            }
        );
        assert_eq!(err.to_string(), "check character should be L, got A");
        assert_eq!(err.zh(), "校验位应为L，实际为A");
    }

    #[test]
    fn shape_errors() {
        assert_eq!(
            CreditCode::parse("91350521553230").unwrap_err(),
            CodeError::Length {
                expected: 18,
                actual: 14
            }
        );
        assert!(matches!(
            CreditCode::parse("9135052155323005IL").unwrap_err(),
            CodeError::Character { position: 17, .. }
        ));
        assert!(matches!(
            CreditCode::parse("913A052155323005XL").unwrap_err(),
            CodeError::Character { position: 4, .. }
        ));
        // Lower case is refused rather than silently changed.
        assert!(CreditCode::parse("9135052155323005xl").is_err());
        // Multi-byte input of the right byte length is a length error, not a panic.
        assert!(CreditCode::parse("证照证照证照").is_err());
    }

    #[test]
    fn check_character_is_zero_when_sum_is_divisible_by_31() {
        // The case one public implementation gets wrong (it indexes past the table).
        let symbols = ALPHABET.iter().map(|b| char::from(*b));
        let body = symbols
            .map(|c| format!("9115000000000000{c}"))
            .find(|b| CreditCode::check_character_for(&b.chars().collect::<Vec<_>>()) == '0')
            .unwrap();
        assert!(CreditCode::parse(&format!("{body}0")).is_ok());
    }

    /// Every (department, category) pair some department assigns.
    fn defined_pairs() -> Vec<(char, char)> {
        CATEGORIES
            .iter()
            .flat_map(|(d, cs)| cs.chars().map(move |c| (*d, c)))
            .collect()
    }

    #[test]
    fn every_department_has_its_categories() {
        let listed: String = CATEGORIES.iter().map(|(d, _)| *d).collect();
        assert_eq!(listed, DEPARTMENTS);
        for (_, cs) in CATEGORIES {
            assert!(cs.chars().all(|c| value_of(c).is_some()));
        }
    }

    #[test]
    fn undefined_pair_is_refused_though_its_check_character_is_right() {
        // 95: market regulation assigns only 1 企业, 2 个体工商户, 3 农民专业合作社.
        let code =
            CreditCode::check_character_for(&"95150102MA0N4JXK2".chars().collect::<Vec<_>>());
        let err = CreditCode::parse(&format!("95150102MA0N4JXK2{code}")).unwrap_err();
        assert_eq!(
            err,
            CodeError::Category {
                department: '9',
                category: '5',
                allowed: "123"
            }
        );
        assert_eq!(err.code(), "category");
        assert_eq!(
            err.to_string(),
            "registering department 9 assigns no organisation category 5; its categories are 1, 2, 3"
        );
        assert_eq!(
            err.zh(),
            "登记管理部门代码9下没有机构类别代码5，该部门的机构类别代码为1、2、3"
        );
        // Y (其他) assigns only 1; 1 (机构编制) has 9 其他 but no 4.
        for body in [
            "Y2150102MA0N4JXK2",
            "14150102MA0N4JXK2",
            "99150102MA0N4JXK2",
        ] {
            let check = CreditCode::check_character_for(&body.chars().collect::<Vec<_>>());
            assert!(matches!(
                CreditCode::parse(&format!("{body}{check}")),
                Err(CodeError::Category { .. })
            ));
        }
        // The defined pairs of the same body parse.
        for body in [
            "91150102MA0N4JXK2",
            "19150102MA0N4JXK2",
            "Y1150102MA0N4JXK2",
            "54150102MA0N4JXK2",
        ] {
            assert!(CreditCode::with_check_character(body).is_ok(), "{body}");
        }
    }

    fn valid_code() -> impl Strategy<Value = String> {
        (
            prop::sample::select(defined_pairs()),
            "[0-9]{6}",
            prop::collection::vec(
                prop::sample::select(ALPHABET.iter().map(|b| char::from(*b)).collect::<Vec<_>>()),
                9,
            ),
        )
            .prop_map(|((d, k), div, body)| {
                let s: String = format!("{d}{k}{div}{}", body.into_iter().collect::<String>());
                CreditCode::with_check_character(&s).unwrap().0
            })
    }

    proptest! {
        #[test]
        fn generated_codes_parse(code in valid_code()) {
            prop_assert!(CreditCode::parse(&code).is_ok());
        }

        /// A code of any pair no department assigns is refused, whatever
        /// the rest and even with the right check character.
        #[test]
        fn undefined_pairs_are_refused(
            d in prop::sample::select(DEPARTMENTS.chars().collect::<Vec<_>>()),
            k in prop::sample::select(ALPHABET.iter().map(|b| char::from(*b)).collect::<Vec<_>>()),
            rest in "[0-9]{6}[0-9A-HJ-NPQRTUWXY]{9}",
        ) {
            prop_assume!(!defined_pairs().contains(&(d, k)));
            let body = format!("{d}{k}{rest}");
            let check = CreditCode::check_character_for(&body.chars().collect::<Vec<_>>());
            let refused = CreditCode::parse(&format!("{body}{check}"));
            prop_assert!(matches!(refused, Err(CodeError::Category { .. })), "{:?}", refused);
        }

        /// Every valid code with any one character changed is rejected: the
        /// mod-31 check catches every single substitution.
        #[test]
        fn any_single_change_is_rejected(code in valid_code(), pos in 0usize..18, replacement in "[0-9A-Z]") {
            let r = replacement.chars().next().unwrap();
            let mut chars: Vec<char> = code.chars().collect();
            prop_assume!(chars[pos] != r);
            chars[pos] = r;
            let changed: String = chars.into_iter().collect();
            prop_assert!(CreditCode::parse(&changed).is_err(), "{} accepted", changed);
        }
    }
}
