//! Relying parties and their scenarios (Art. 14–16): one scenario is one
//! intended use by one relying party, with the exact license types and face
//! fields it may receive. An application is parsed into a [`ScenarioSpec`]
//! (every rule checked, every failure named); its state moves only by
//! [`ScenarioState::decide`].

use crate::FieldError;
use crate::codes::{CreditCode, LicenseTypeCode};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Who the relying party is (Art. 14: government units; Art. 15–16: banks,
/// schools, hospitals… and internet platforms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RelyingPartyKind {
    Government,
    Social,
    Platform,
}

/// Why the scenario reads licenses: a department's usage list (Art. 11–13)
/// or another government duty, both by law and without the holder's
/// consent; or a social use, only with the holder's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ScenarioKind {
    UsageList,
    GovernmentOther,
    Social,
}

impl ScenarioKind {
    /// Whether a read needs the holder's live consent.
    pub fn needs_consent(self) -> bool {
        self == ScenarioKind::Social
    }
}

/// Where a scenario stands. `expired` is not stored: an approved or
/// suspended scenario past its `valid_until` is expired ([`ScenarioState::at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ScenarioState {
    Submitted,
    Approved,
    Rejected,
    Suspended,
    Revoked,
    Expired,
}

/// What the region's scenario approver decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Decision {
    Approve,
    Reject,
    Suspend,
    Resume,
    Revoke,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}
text_enum!(RelyingPartyKind { Government => "government", Social => "social", Platform => "platform" });
text_enum!(ScenarioKind { UsageList => "usage_list", GovernmentOther => "government_other", Social => "social" });
text_enum!(ScenarioState {
    Submitted => "submitted", Approved => "approved", Rejected => "rejected",
    Suspended => "suspended", Revoked => "revoked", Expired => "expired",
});
text_enum!(Decision {
    Approve => "approve", Reject => "reject", Suspend => "suspend",
    Resume => "resume", Revoke => "revoke",
});

/// Why a decision cannot be taken in the scenario's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {} scenario cannot be given '{}'", .state.as_str(), .decision.as_str())]
pub struct NotNow {
    pub state: ScenarioState,
    pub decision: Decision,
}

impl ScenarioState {
    /// The state as of `today`: approved or suspended past `valid_until`
    /// is expired.
    pub fn at(self, valid_until: Date, today: Date) -> Self {
        match self {
            Self::Approved | Self::Suspended if today > valid_until => Self::Expired,
            s => s,
        }
    }

    /// The state `decision` leads to: submitted → approved | rejected;
    /// approved ⇄ suspended; approved or suspended → revoked. Nothing leaves
    /// rejected, revoked or expired.
    pub fn decide(self, decision: Decision) -> Result<Self, NotNow> {
        use Decision::*;
        use ScenarioState::*;
        match (self, decision) {
            (Submitted, Approve) => Ok(Approved),
            (Submitted, Reject) => Ok(Rejected),
            (Approved, Suspend) => Ok(Suspended),
            (Suspended, Resume) => Ok(Approved),
            (Approved | Suspended, Revoke) => Ok(Revoked),
            (state, decision) => Err(NotNow { state, decision }),
        }
    }
}

/// One license type a scenario may read, and exactly which face fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    pub type_code: String,
    pub fields: Vec<String>,
}

/// The contact person of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    pub phone: String,
}

/// The relying party as the application names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RelyingPartyInput {
    pub name: String,
    /// Unified social credit code (GB 32100).
    pub credit_code: String,
    pub kind: RelyingPartyKind,
}

/// A scenario application as sent (`POST /api/v1/scenarios`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScenarioApplication {
    pub relying_party: RelyingPartyInput,
    pub kind: ScenarioKind,
    pub name: String,
    pub purpose: String,
    /// The law or rule the use rests on (required for government scenarios).
    #[serde(default)]
    pub legal_basis: String,
    pub grants: Vec<Grant>,
    pub expected_daily_volume: u32,
    /// `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub valid_from: Date,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub valid_until: Date,
    pub contact: Contact,
}

/// The relying party, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelyingParty {
    pub name: String,
    pub credit_code: CreditCode,
    pub kind: RelyingPartyKind,
}

/// A checked grant: a type code that parses, fields named once each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckedGrant {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub type_code: LicenseTypeCode,
    pub fields: Vec<String>,
}

/// An application that keeps every rule that needs no catalog (the
/// grants' fields are checked against the catalog by the use case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSpec {
    pub relying_party: RelyingParty,
    pub kind: ScenarioKind,
    pub name: String,
    pub purpose: String,
    pub legal_basis: String,
    pub grants: Vec<CheckedGrant>,
    pub expected_daily_volume: u32,
    pub valid_from: Date,
    pub valid_until: Date,
    pub contact: Contact,
}

/// At most this long for a social scenario (as the EU wallet's relying-party
/// registrations): 12 months, counted from `valid_from`.
pub const SOCIAL_MONTHS: i8 = 12;
/// The most a scenario may expect to read a day (a whole province's
/// business licenses are a few million).
pub const MAX_DAILY_VOLUME: u32 = 10_000_000;

fn text(field: &str, value: &str, max_chars: usize, errors: &mut Vec<FieldError>) {
    let n = value.trim().chars().count();
    if n == 0 || n > max_chars {
        errors.push(FieldError::new(
            field,
            "text",
            format!("{field} must be 1 to {max_chars} characters"),
            format!("{field}应为1至{max_chars}个字符"),
        ));
    }
}

impl ScenarioSpec {
    /// Check an application; every broken rule is listed.
    pub fn parse(a: ScenarioApplication) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        text(
            "relying_party/name",
            &a.relying_party.name,
            200,
            &mut errors,
        );
        let credit_code = CreditCode::parse(a.relying_party.credit_code.trim())
            .map_err(|e| errors.push(e.at("relying_party/credit_code")))
            .ok();
        text("name", &a.name, 100, &mut errors);
        text("purpose", &a.purpose, 500, &mut errors);
        let government = a.kind != ScenarioKind::Social;
        if government || !a.legal_basis.trim().is_empty() {
            text("legal_basis", &a.legal_basis, 500, &mut errors);
        }
        if government && a.relying_party.kind != RelyingPartyKind::Government {
            errors.push(FieldError::new(
                "kind",
                "kind_mismatch",
                "only a government relying party reads by legal duty (usage_list, government_other)",
                "只有政府部门可申请依法履职类场景（usage_list、government_other）",
            ));
        }
        text("contact/name", &a.contact.name, 50, &mut errors);
        let phone_ok = (5..=20).contains(&a.contact.phone.len())
            && a.contact
                .phone
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+' || b == b' ');
        if !phone_ok {
            errors.push(FieldError::new(
                "contact/phone",
                "phone",
                "contact/phone must be 5 to 20 digits (and - + spaces)",
                "联系电话应为5至20位数字",
            ));
        }
        if !(1..=MAX_DAILY_VOLUME).contains(&a.expected_daily_volume) {
            errors.push(FieldError::new(
                "expected_daily_volume",
                "range",
                format!("expected_daily_volume must be 1 to {MAX_DAILY_VOLUME}"),
                format!("预计日调用量应为1至{MAX_DAILY_VOLUME}"),
            ));
        }
        if a.valid_until < a.valid_from {
            errors.push(FieldError::new(
                "valid_until",
                "before_valid_from",
                "valid_until must not be before valid_from",
                "有效期截止日不能早于起始日",
            ));
        } else if a.kind == ScenarioKind::Social {
            let limit = a
                .valid_from
                .checked_add(jiff::Span::new().months(SOCIAL_MONTHS))
                .ok()
                .and_then(|d| d.yesterday().ok());
            if limit.is_none_or(|last| a.valid_until > last) {
                errors.push(FieldError::new(
                    "valid_until",
                    "too_long",
                    "a social scenario is granted for at most 12 months",
                    "社会化场景的有效期最长12个月",
                ));
            }
        }
        let mut grants = Vec::new();
        if a.grants.is_empty() {
            errors.push(FieldError::new(
                "grants",
                "empty",
                "grants must name at least one license type",
                "至少申请一种证照类型",
            ));
        }
        for (i, g) in a.grants.iter().enumerate() {
            let at = format!("grants/{i}");
            let code = LicenseTypeCode::parse(g.type_code.trim())
                .map_err(|e| errors.push(e.at(format!("{at}/type_code"))))
                .ok();
            if grants
                .iter()
                .any(|c: &CheckedGrant| Some(&c.type_code) == code.as_ref())
            {
                errors.push(FieldError::new(
                    format!("{at}/type_code"),
                    "duplicate",
                    "each license type is granted once",
                    "每种证照类型只能申请一次",
                ));
            }
            if g.fields.is_empty() {
                errors.push(FieldError::new(
                    format!("{at}/fields"),
                    "empty",
                    "a grant names at least one face field",
                    "至少申请一个照面字段",
                ));
            }
            let mut fields: Vec<String> = Vec::new();
            for (j, f) in g.fields.iter().enumerate() {
                if fields.contains(f) {
                    errors.push(FieldError::new(
                        format!("{at}/fields/{j}"),
                        "duplicate",
                        format!("field {f} is named twice"),
                        format!("字段{f}重复"),
                    ));
                }
                fields.push(f.clone());
            }
            if let Some(type_code) = code {
                grants.push(CheckedGrant { type_code, fields });
            }
        }
        match (credit_code, errors.is_empty()) {
            (Some(credit_code), true) => Ok(Self {
                relying_party: RelyingParty {
                    name: a.relying_party.name.trim().to_owned(),
                    credit_code,
                    kind: a.relying_party.kind,
                },
                kind: a.kind,
                name: a.name.trim().to_owned(),
                purpose: a.purpose.trim().to_owned(),
                legal_basis: a.legal_basis.trim().to_owned(),
                grants,
                expected_daily_volume: a.expected_daily_volume,
                valid_from: a.valid_from,
                valid_until: a.valid_until,
                contact: a.contact,
            }),
            _ => Err(errors),
        }
    }

    /// The fields granted for `type_code`, if the type is granted at all.
    pub fn granted_fields(&self, type_code: &LicenseTypeCode) -> Option<&[String]> {
        grant_for(&self.grants, type_code)
    }
}

/// The fields `grants` allow for `type_code`, if the type is granted.
pub fn grant_for<'a>(
    grants: &'a [CheckedGrant],
    type_code: &LicenseTypeCode,
) -> Option<&'a [String]> {
    grants
        .iter()
        .find(|g| &g.type_code == type_code)
        .map(|g| g.fields.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn application() -> ScenarioApplication {
        ScenarioApplication {
            relying_party: RelyingPartyInput {
                name: "某银行股份有限公司呼和浩特分行".into(),
                credit_code: "91150102MA0N4JXK2C".into(),
                kind: RelyingPartyKind::Social,
            },
            kind: ScenarioKind::Social,
            name: "对公开户".into(),
            purpose: "对公账户开户时核验营业执照".into(),
            legal_basis: String::new(),
            grants: vec![Grant {
                type_code: "11100000MB0143028R001".into(),
                fields: vec!["name".into(), "credit_code".into()],
            }],
            expected_daily_volume: 2000,
            valid_from: date(2026, 12, 1),
            valid_until: date(2027, 11, 30),
            contact: Contact {
                name: "张三".into(),
                phone: "0471-1234567".into(),
            },
        }
    }

    fn codes(r: Result<ScenarioSpec, Vec<FieldError>>) -> Vec<(String, &'static str)> {
        r.err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn a_good_application_parses() {
        let spec = ScenarioSpec::parse(application()).unwrap();
        let code = LicenseTypeCode::parse("11100000MB0143028R001").unwrap();
        assert_eq!(
            spec.granted_fields(&code),
            Some(&["name".to_owned(), "credit_code".to_owned()][..])
        );
    }

    #[test]
    fn social_scenarios_last_twelve_months_at_most() {
        let mut a = application();
        a.valid_until = date(2027, 12, 1);
        assert_eq!(
            codes(ScenarioSpec::parse(a)),
            [("valid_until".into(), "too_long")]
        );
    }

    #[test]
    fn every_broken_rule_is_named() {
        let mut a = application();
        a.relying_party.credit_code = "91150102MA0N4JXK2D".into();
        a.kind = ScenarioKind::UsageList;
        a.grants[0].fields.push("name".into());
        a.expected_daily_volume = 0;
        a.contact.phone = "call me".into();
        let got = codes(ScenarioSpec::parse(a));
        for want in [
            "relying_party/credit_code",
            "legal_basis",
            "kind",
            "grants/0/fields/2",
            "expected_daily_volume",
            "contact/phone",
        ] {
            assert!(got.iter().any(|(f, _)| f == want), "{want} in {got:?}");
        }
    }

    #[test]
    fn states_move_only_by_the_rules() {
        use Decision::*;
        use ScenarioState::*;
        assert_eq!(Submitted.decide(Approve), Ok(Approved));
        assert_eq!(Submitted.decide(Reject), Ok(Rejected));
        assert_eq!(Approved.decide(Suspend), Ok(Suspended));
        assert_eq!(Suspended.decide(Resume), Ok(Approved));
        assert_eq!(Suspended.decide(Revoke), Ok(Revoked));
        for (s, d) in [
            (Submitted, Suspend),
            (Rejected, Approve),
            (Revoked, Resume),
            (Approved, Approve),
            (Expired, Resume),
        ] {
            assert!(s.decide(d).is_err(), "{s:?} {d:?}");
        }
        let until = date(2027, 11, 30);
        assert_eq!(Approved.at(until, date(2027, 11, 30)), Approved);
        assert_eq!(Approved.at(until, date(2027, 12, 1)), Expired);
        assert_eq!(Revoked.at(until, date(2028, 1, 1)), Revoked);
    }
}
