//! Identity codes that holders, orgs and license types are named by.
//!
//! Each type here can only be made by parsing, and its error names exactly what
//! is wrong ("check character should be X") so that a clerk can fix the input.

pub(crate) mod division;
mod license_type_code;
mod resident_id;
mod uscc;

pub use division::DivisionCode;
pub use license_type_code::LicenseTypeCode;
pub use resident_id::ResidentId;
pub use uscc::CreditCode;

use thiserror::Error;

/// Why a code was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodeError {
    #[error("must be {expected} characters long, got {actual}")]
    Length { expected: usize, actual: usize },
    #[error("character {position} ('{found}') is not allowed here: {allowed}")]
    Character {
        position: usize,
        found: char,
        allowed: &'static str,
    },
    #[error("check character should be {expected}, got {found}")]
    CheckCharacter { expected: char, found: char },
    /// GB 32100: the first two characters (registering department and
    /// organisation category) are not a pair any department assigns.
    #[error(
        "registering department {department} assigns no organisation category {category}; its categories are {}",
        listed(.allowed, ", ")
    )]
    Category {
        department: char,
        category: char,
        allowed: &'static str,
    },
    #[error("birth date {0} is not a valid calendar date")]
    BirthDate(String),
    #[error("birth date {0} is in the future")]
    BirthDateInFuture(String),
    #[error("{0}")]
    Shape(&'static str),
}

impl CodeError {
    /// Stable machine-readable code for API problem details.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Length { .. } => "length",
            Self::Character { .. } => "character",
            Self::CheckCharacter { .. } => "check_character",
            Self::Category { .. } => "category",
            Self::BirthDate(_) => "birth_date",
            Self::BirthDateInFuture(_) => "birth_date_future",
            Self::Shape(_) => "shape",
        }
    }

    /// The same message in Chinese.
    pub fn zh(&self) -> String {
        match self {
            Self::Length { expected, actual } => format!("长度应为{expected}位，实际为{actual}位"),
            Self::Character {
                position, found, ..
            } => format!("第{position}位字符“{found}”不合法"),
            Self::CheckCharacter { expected, found } => {
                format!("校验位应为{expected}，实际为{found}")
            }
            Self::Category {
                department,
                category,
                allowed,
            } => format!(
                "登记管理部门代码{department}下没有机构类别代码{category}，该部门的机构类别代码为{}",
                listed(allowed, "、")
            ),
            Self::BirthDate(d) => format!("出生日期{d}不是有效日期"),
            Self::BirthDateInFuture(d) => format!("出生日期{d}晚于当前日期"),
            Self::Shape(_) => "格式不正确".to_owned(),
        }
    }

    /// As a field error for the given input field.
    pub fn at(&self, field: impl Into<String>) -> crate::FieldError {
        crate::FieldError::new(field, self.code(), self.to_string(), self.zh())
    }
}

/// The characters of `chars` joined by `separator` ("1, 2, 3").
fn listed(chars: &str, separator: &str) -> String {
    let items: Vec<String> = chars.chars().map(String::from).collect();
    items.join(separator)
}

/// Length check shared by the fixed-length codes; counts characters, not bytes,
/// so that a multi-byte character gets a length error rather than a panic.
fn check_length(input: &str, expected: usize) -> Result<(), CodeError> {
    let actual = input.chars().count();
    if actual == expected {
        Ok(())
    } else {
        Err(CodeError::Length { expected, actual })
    }
}
