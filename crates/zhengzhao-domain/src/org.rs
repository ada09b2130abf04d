//! The org tree of Art. 5: region → league/city → banner/county, plus the two
//! county-level cities (Manzhouli, Erenhot) that answer to the region directly,
//! and administrative-approval bureaus beside the market-regulation authorities.

use crate::codes::division::DivisionLevel;
use crate::codes::{CodeError, CreditCode, DivisionCode};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// The region the library serves.
pub const REGION_CODE: &str = "150000";

/// County-level cities whose market-regulation authorities the region
/// addresses beside the leagues (the seed letter's 抬头): their org answers to
/// the region directly, not to the league their division lies in.
pub const DIRECT_TO_REGION: [&str; 2] = ["150781", "152501"];

/// An org's code: the six-digit division code for the market-regulation
/// authority of a division (`150781`), or the division code and a suffix for
/// another body in that division, such as an approval bureau (`150102-SP`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
pub struct OrgCode(String);

impl OrgCode {
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let (division, suffix) = match input.split_once('-') {
            Some((d, s)) => (d, Some(s)),
            None => (input, None),
        };
        DivisionCode::parse(division)?;
        if let Some(s) = suffix {
            let ok = (1..=10).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if !ok {
                return Err(CodeError::Shape(
                    "org code suffix must be 1-10 characters of A-Z or 0-9",
                ));
            }
        }
        Ok(Self(input.to_owned()))
    }

    /// The region itself (`150000`).
    pub fn region() -> Self {
        Self(REGION_CODE.to_owned())
    }

    pub fn division(&self) -> &str {
        &self.0[..6]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrgCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What kind of body an org is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrgKind {
    /// 市场监督管理局
    MarketRegulation,
    /// 行政审批局: issues market-regulation permits where approval is centralised.
    ApprovalBureau,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::MarketRegulation => "market_regulation",
            OrgKind::ApprovalBureau => "approval_bureau",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "market_regulation" => Some(Self::MarketRegulation),
            "approval_bureau" => Some(Self::ApprovalBureau),
            _ => None,
        }
    }
}

/// An org's place in the tree of Art. 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrgLevel {
    Region,
    League,
    Banner,
}

impl OrgLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgLevel::Region => "region",
            OrgLevel::League => "league",
            OrgLevel::Banner => "banner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "region" => Some(Self::Region),
            "league" => Some(Self::League),
            "banner" => Some(Self::Banner),
            _ => None,
        }
    }
    pub fn label_zh(self) -> &'static str {
        match self {
            OrgLevel::Region => "自治区级",
            OrgLevel::League => "盟市级",
            OrgLevel::Banner => "旗县级",
        }
    }
}

/// One org of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Org {
    pub code: OrgCode,
    pub name: String,
    pub kind: OrgKind,
    pub level: OrgLevel,
    pub parent: Option<OrgCode>,
    pub credit_code: CreditCode,
    /// True while the credit code is a generated placeholder that an admin
    /// has yet to replace with the org's real one.
    pub credit_code_placeholder: bool,
}

/// A division as listed in the GB/T 2260 data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    pub code: DivisionCode,
    pub name: String,
    pub parent: Option<DivisionCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("division data line {line}: {reason}")]
pub struct DivisionDataError {
    pub line: usize,
    pub reason: String,
}

/// Parse the `code<TAB>name<TAB>parent_code` file; `#` starts a comment line.
pub fn parse_divisions(tsv: &str) -> Result<Vec<Division>, DivisionDataError> {
    let mut out = Vec::new();
    for (i, raw) in tsv.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |reason: String| DivisionDataError {
            line: i + 1,
            reason,
        };
        let mut cols = line.split('\t');
        let code = cols.next().unwrap_or_default();
        let name = cols.next().unwrap_or_default().trim();
        let parent = cols.next().unwrap_or_default().trim();
        let code = DivisionCode::parse(code).map_err(|e| err(e.to_string()))?;
        if name.is_empty() {
            return Err(err("missing name".into()));
        }
        let parent = if parent.is_empty() {
            None
        } else {
            Some(DivisionCode::parse(parent).map_err(|e| err(e.to_string()))?)
        };
        out.push(Division {
            code,
            name: name.to_owned(),
            parent,
        });
    }
    Ok(out)
}

/// A placeholder credit code for a government body in `division`: department 1
/// (机构编制), category 1 (机关), the division, an org code `MB` + `P` + the last
/// five division digits with its GB 11714 check, and the GB 32100 check.
/// Deterministic, so every fresh library gets the same placeholders.
pub fn placeholder_credit_code(division: &DivisionCode, salt: u8) -> Result<CreditCode, CodeError> {
    let org_body = format!(
        "MB{}{}",
        char::from(b'P' + salt % 8),
        &division.as_str()[1..]
    );
    let inner = gb11714_check(&org_body);
    CreditCode::with_check_character(&format!("11{}{org_body}{inner}", division.as_str()))
}

/// GB 11714 organisation-code check character over 8 characters.
fn gb11714_check(body: &str) -> char {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(36).unwrap_or(0) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        v => char::from_digit(v, 10).unwrap_or('0'),
    }
}

/// The market-regulation authorities the library is seeded with: one per
/// division, named after it, placed per Art. 5 and [`DIRECT_TO_REGION`].
pub fn seed_orgs(divisions: &[Division]) -> Result<Vec<Org>, CodeError> {
    let mut orgs = Vec::with_capacity(divisions.len());
    for d in divisions {
        let direct = DIRECT_TO_REGION.contains(&d.code.as_str());
        let level = match (d.code.level(), direct) {
            (DivisionLevel::Province, _) => OrgLevel::Region,
            (DivisionLevel::Prefecture, _) | (DivisionLevel::County, true) => OrgLevel::League,
            (DivisionLevel::County, false) => OrgLevel::Banner,
        };
        let parent = if direct {
            Some(OrgCode::parse(REGION_CODE)?)
        } else {
            d.parent
                .as_ref()
                .map(|p| OrgCode::parse(p.as_str()))
                .transpose()?
        };
        let name = format!("{}市场监督管理局", d.name);
        orgs.push(Org {
            code: OrgCode::parse(d.code.as_str())?,
            name,
            kind: OrgKind::MarketRegulation,
            level,
            parent,
            credit_code: placeholder_credit_code(&d.code, 0)?,
            credit_code_placeholder: true,
        });
    }
    Ok(orgs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# code\tname\tparent_code\n150000\t内蒙古自治区\t\n150700\t呼伦贝尔市\t150000\n150702\t海拉尔区\t150700\n150781\t满洲里市\t150700\n";

    #[test]
    fn manzhouli_answers_to_the_region() {
        let divisions = parse_divisions(SAMPLE).unwrap();
        let orgs = seed_orgs(&divisions).unwrap();
        let by = |c: &str| orgs.iter().find(|o| o.code.as_str() == c).unwrap();
        assert_eq!(by("150000").level, OrgLevel::Region);
        assert_eq!(by("150000").parent, None);
        assert_eq!(by("150700").parent.as_ref().unwrap().as_str(), "150000");
        assert_eq!(by("150702").parent.as_ref().unwrap().as_str(), "150700");
        assert_eq!(by("150702").level, OrgLevel::Banner);
        assert_eq!(by("150781").parent.as_ref().unwrap().as_str(), "150000");
        assert_eq!(by("150781").level, OrgLevel::League);
        assert_eq!(by("150781").name, "满洲里市市场监督管理局");
    }

    #[test]
    fn placeholders_are_valid_and_distinct() {
        let divisions = parse_divisions(SAMPLE).unwrap();
        let orgs = seed_orgs(&divisions).unwrap();
        let mut codes: Vec<_> = orgs.iter().map(|o| o.credit_code.clone()).collect();
        for (org, c) in orgs.iter().zip(&codes) {
            assert!(CreditCode::parse(c.as_str()).is_ok());
            assert_eq!(c.division(), org.code.division());
        }
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), orgs.len());
    }

    #[test]
    fn bad_data_lines_are_named() {
        let err = parse_divisions("150000\t内蒙古\t\n15010\tx\t150000\n").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn org_codes() {
        assert!(OrgCode::parse("150102-SP").is_ok());
        assert!(OrgCode::parse("150102").is_ok());
        assert!(OrgCode::parse("150102-sp").is_err());
        assert!(OrgCode::parse("150102-").is_err());
        assert!(OrgCode::parse("15010").is_err());
    }
}
