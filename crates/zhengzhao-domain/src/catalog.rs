//! The issuance catalog of Art. 6: license types and their face fields.
//!
//! A [`LicenseTypeDraft`] is what an admin submits; [`LicenseTypeSpec::parse`]
//! checks every rule and is the only way to get a spec that storage accepts.

use crate::FieldError;
use crate::codes::{CreditCode, LicenseTypeCode};
use crate::org::{OrgCode, OrgLevel};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Who may hold a license of a type (GB/T 36903 holder categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HolderType {
    /// 自然人, identified by a resident ID number.
    NaturalPerson,
    /// 法人, identified by a unified social credit code.
    LegalPerson,
    /// 非法人组织, identified by a unified social credit code.
    UnincorporatedOrg,
    /// 个体工商户, identified by a unified social credit code.
    IndividualBusiness,
}

impl HolderType {
    pub fn label_zh(self) -> &'static str {
        match self {
            HolderType::NaturalPerson => "自然人",
            HolderType::LegalPerson => "法人",
            HolderType::UnincorporatedOrg => "非法人组织",
            HolderType::IndividualBusiness => "个体工商户",
        }
    }
}

/// Whether the public may see that a type exists and query it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PublicAttribute {
    Public,
    Conditional,
    NotPublic,
}

impl PublicAttribute {
    pub fn label_zh(self) -> &'static str {
        match self {
            PublicAttribute::Public => "公开",
            PublicAttribute::Conditional => "依申请公开",
            PublicAttribute::NotPublic => "不公开",
        }
    }
}

/// Which level's standard defines a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StandardLevel {
    National,
    Region,
    League,
    Banner,
}

impl StandardLevel {
    pub fn label_zh(self) -> &'static str {
        match self {
            StandardLevel::National => "国家标准",
            StandardLevel::Region => "自治区标准",
            StandardLevel::League => "盟市标准",
            StandardLevel::Banner => "旗县标准",
        }
    }
}

/// The kind of value a face field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FieldType {
    Text,
    LongText,
    Date,
    Money,
    Enum,
    IdentityCode,
    OrgReference,
    ImageReference,
}

impl FieldType {
    /// Every type, in the order an editor offers them.
    pub const ALL: [FieldType; 8] = [
        FieldType::Text,
        FieldType::LongText,
        FieldType::Date,
        FieldType::Money,
        FieldType::Enum,
        FieldType::IdentityCode,
        FieldType::OrgReference,
        FieldType::ImageReference,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            FieldType::Text => "文本",
            FieldType::LongText => "长文本",
            FieldType::Date => "日期",
            FieldType::Money => "金额",
            FieldType::Enum => "枚举",
            FieldType::IdentityCode => "身份代码",
            FieldType::OrgReference => "机构引用",
            FieldType::ImageReference => "图像引用",
        }
    }

    /// The name in a catalog's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::LongText => "long_text",
            FieldType::Date => "date",
            FieldType::Money => "money",
            FieldType::Enum => "enum",
            FieldType::IdentityCode => "identity_code",
            FieldType::OrgReference => "org_reference",
            FieldType::ImageReference => "image_reference",
        }
    }

    /// Whether `max_length` applies to values of this type.
    fn has_length(self) -> bool {
        matches!(
            self,
            FieldType::Text | FieldType::LongText | FieldType::Enum | FieldType::IdentityCode
        )
    }
}

/// What of the holder a face field repeats (`same_as_holder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HolderPart {
    /// The holder's name (持证主体名称): a `text` field.
    Name,
    /// The holder's credit code or resident id (持证主体代码): an
    /// `identity_code` field.
    Id,
}

impl HolderPart {
    pub fn as_str(self) -> &'static str {
        match self {
            HolderPart::Name => "name",
            HolderPart::Id => "id",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            HolderPart::Name => "持证主体名称",
            HolderPart::Id => "持证主体代码",
        }
    }
}

/// One face field (照面信息项) of a license type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FaceField {
    /// Machine name, `snake_case`, unique within the type.
    pub name: String,
    /// The label printed on the license, in Chinese.
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// The allowed values of an `enum` field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Personal data of a natural person: encrypted at rest, masked on output.
    #[serde(default)]
    pub personal: bool,
    /// A trade secret or otherwise confidential: never shown publicly.
    #[serde(default)]
    pub confidential: bool,
    /// The field prints the holder's name or id: when given, its value must
    /// be the holder's, exactly (a face naming someone else cannot be true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as_holder: Option<HolderPart>,
}

/// The body that defines a license type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DefiningAuthority {
    pub name: String,
    pub credit_code: CreditCode,
    /// True when the credit code is a stand-in until the real one is entered.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub placeholder: bool,
}

/// A license type as submitted: shape-checked by serde, not yet rule-checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LicenseTypeDraft {
    pub code: LicenseTypeCode,
    pub name: String,
    pub defining_authority: DefiningAuthority,
    /// Org levels whose authorities may issue this type.
    #[serde(default)]
    pub issuing_levels: Vec<OrgLevel>,
    /// Particular orgs that may issue it, besides those of `issuing_levels`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuing_orgs: Vec<OrgCode>,
    pub holder_types: Vec<HolderType>,
    /// From this date on, licenses of the type are aggregated into the library.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub aggregation_start: Date,
    pub public_attribute: PublicAttribute,
    pub standard_level: StandardLevel,
    /// Which layout renders it (`a4-portrait`, `a4-landscape`).
    pub template: String,
    /// The face field that holds the printed license number (证照编号).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_number_field: Option<String>,
    /// Usual validity, as a hint for clerks (e.g. `5年`, `长期`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<String>,
    /// A holder may have only one current license of this type (营业执照:
    /// one per credit code). Current means not revoked, whatever its dates:
    /// a second issue is refused, naming the first, until that is revoked;
    /// a change goes into a new version of the first (update).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_current_license_per_holder: bool,
    pub face_fields: Vec<FaceField>,
}

/// Templates the renderer knows.
pub const TEMPLATES: [&str; 2] = ["a4-portrait", "a4-landscape"];

const MAX_FIELDS: usize = 100;
const MAX_TEXT_LENGTH: u32 = 20_000;

/// A license type that satisfies every catalog rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LicenseTypeSpec(LicenseTypeDraft);

impl LicenseTypeSpec {
    /// Check every rule, reporting all failures at once.
    pub fn parse(draft: LicenseTypeDraft) -> Result<Self, Vec<FieldError>> {
        let errors = rule_errors(&draft);
        if errors.is_empty() {
            Ok(Self(draft))
        } else {
            Err(errors)
        }
    }

    pub fn draft(&self) -> &LicenseTypeDraft {
        &self.0
    }

    pub fn code(&self) -> &LicenseTypeCode {
        &self.0.code
    }

    pub fn into_draft(self) -> LicenseTypeDraft {
        self.0
    }
}

fn err(
    field: impl Into<String>,
    code: &'static str,
    en: impl Into<String>,
    zh: impl Into<String>,
) -> FieldError {
    FieldError::new(field, code, en, zh)
}

fn is_snake_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 40
}

fn text_ok(s: &str, max: usize) -> bool {
    let n = s.trim().chars().count();
    n > 0 && n <= max && !s.chars().any(char::is_control)
}

fn rule_errors(d: &LicenseTypeDraft) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !text_ok(&d.name, 100) {
        errors.push(err(
            "name",
            "text",
            "name must be 1-100 characters without control characters",
            "证照名称应为1至100个字符",
        ));
    }
    if !text_ok(&d.defining_authority.name, 100) {
        errors.push(err(
            "defining_authority/name",
            "text",
            "defining authority name must be 1-100 characters",
            "证照定义机构名称应为1至100个字符",
        ));
    }
    if d.code.defining_authority() != d.defining_authority.credit_code.as_str() {
        errors.push(err(
            "code",
            "authority_mismatch",
            format!("the first 18 characters of the type code must be the defining authority's credit code {}", d.defining_authority.credit_code),
            format!("证照类型代码前18位应为证照定义机构的统一社会信用代码{}", d.defining_authority.credit_code),
        ));
    }
    if d.holder_types.is_empty() {
        errors.push(err(
            "holder_types",
            "empty",
            "at least one holder type is required",
            "至少需要一种持证主体类型",
        ));
    }
    if has_duplicates(&d.holder_types) {
        errors.push(err(
            "holder_types",
            "duplicate",
            "holder types must not repeat",
            "持证主体类型不能重复",
        ));
    }
    if d.issuing_levels.is_empty() && d.issuing_orgs.is_empty() {
        errors.push(err(
            "issuing_levels",
            "empty",
            "name the issuing levels or the issuing orgs",
            "应指定发证单位层级或发证单位",
        ));
    }
    if has_duplicates(&d.issuing_levels) {
        errors.push(err(
            "issuing_levels",
            "duplicate",
            "issuing levels must not repeat",
            "发证单位层级不能重复",
        ));
    }
    if !TEMPLATES.contains(&d.template.as_str()) {
        errors.push(err(
            "template",
            "unknown_template",
            format!(
                "unknown template '{}'; known: {}",
                d.template,
                TEMPLATES.join(", ")
            ),
            format!("未知的证照模板“{}”", d.template),
        ));
    }
    if let Some(v) = &d.validity
        && !text_ok(v, 40)
    {
        errors.push(err(
            "validity",
            "text",
            "validity hint must be 1-40 characters",
            "有效期限说明应为1至40个字符",
        ));
    }
    if d.face_fields.is_empty() || d.face_fields.len() > MAX_FIELDS {
        errors.push(err(
            "face_fields",
            "count",
            format!("a license type needs 1-{MAX_FIELDS} face fields"),
            format!("照面信息项应为1至{MAX_FIELDS}项"),
        ));
    }
    let mut names = HashSet::new();
    for (i, f) in d.face_fields.iter().enumerate() {
        let at = |k: &str| format!("face_fields/{i}/{k}");
        if !is_snake_name(&f.name) {
            errors.push(err(at("name"), "name", "field name must be snake_case ASCII of at most 40 characters, starting with a letter", "字段名应为以小写字母开头、不超过40位的小写字母、数字或下划线"));
        } else if !names.insert(f.name.as_str()) {
            errors.push(err(
                at("name"),
                "duplicate",
                format!("field name '{}' is used twice", f.name),
                format!("字段名“{}”重复", f.name),
            ));
        }
        if !text_ok(&f.label, 50) {
            errors.push(err(
                at("label"),
                "text",
                "label must be 1-50 characters",
                "字段标签应为1至50个字符",
            ));
        }
        match (f.field_type.has_length(), f.max_length) {
            (true, None) => errors.push(err(
                at("max_length"),
                "required",
                format!("a {} field needs max_length", f.field_type.label_zh()),
                "该类型字段需指定最大长度",
            )),
            (true, Some(n)) if n == 0 || n > MAX_TEXT_LENGTH => errors.push(err(
                at("max_length"),
                "range",
                format!("max_length must be 1-{MAX_TEXT_LENGTH}"),
                format!("最大长度应为1至{MAX_TEXT_LENGTH}"),
            )),
            (false, Some(_)) => errors.push(err(
                at("max_length"),
                "not_applicable",
                "max_length applies only to text, long_text, enum and identity_code fields",
                "该类型字段不适用最大长度",
            )),
            _ => {}
        }
        if f.field_type == FieldType::Enum {
            if f.values.is_empty() {
                errors.push(err(
                    at("values"),
                    "empty",
                    "an enum field needs its values",
                    "枚举字段需列出可选值",
                ));
            }
            if has_duplicates(&f.values) {
                errors.push(err(
                    at("values"),
                    "duplicate",
                    "enum values must not repeat",
                    "枚举值不能重复",
                ));
            }
            for (j, v) in f.values.iter().enumerate() {
                let too_long = f.max_length.is_some_and(|m| v.chars().count() > m as usize);
                if !text_ok(v, 200) || too_long {
                    errors.push(err(
                        format!("face_fields/{i}/values/{j}"),
                        "text",
                        "enum value must be non-empty and within max_length",
                        "枚举值不能为空且不能超过最大长度",
                    ));
                }
            }
        } else if !f.values.is_empty() {
            errors.push(err(
                at("values"),
                "not_applicable",
                "values apply only to enum fields",
                "只有枚举字段可以列出可选值",
            ));
        }
    }
    errors.extend(holder_field_errors(d));
    if let Some(n) = &d.license_number_field
        && !d.face_fields.iter().any(|f| &f.name == n)
    {
        errors.push(err(
            "license_number_field",
            "unknown_field",
            format!("'{n}' is not one of the face fields"),
            format!("“{n}”不是照面信息项"),
        ));
    }
    errors
}

/// The rules of `same_as_holder`: a name goes in a text field, an id in an
/// identity code field, each at most once; and where a natural person may
/// hold the type, the field is `personal` (it repeats personal data, which
/// is sealed at rest and masked on output like the holder's own).
fn holder_field_errors(d: &LicenseTypeDraft) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let natural_person = d.holder_types.contains(&HolderType::NaturalPerson);
    let mut seen = Vec::new();
    for (i, f) in d.face_fields.iter().enumerate() {
        let Some(part) = f.same_as_holder else {
            continue;
        };
        let at = format!("face_fields/{i}/same_as_holder");
        let wanted = match part {
            HolderPart::Name => FieldType::Text,
            HolderPart::Id => FieldType::IdentityCode,
        };
        if f.field_type != wanted {
            errors.push(err(
                at.clone(),
                "field_type",
                format!(
                    "a field with the holder's {} must be of type {}",
                    part.as_str(),
                    wanted.as_str()
                ),
                format!(
                    "与{}一致的字段应为{}类型",
                    part.label_zh(),
                    wanted.label_zh()
                ),
            ));
        }
        if seen.contains(&part) {
            errors.push(err(
                at.clone(),
                "duplicate",
                format!("only one field may hold the holder's {}", part.as_str()),
                format!("只能有一个字段与{}一致", part.label_zh()),
            ));
        }
        seen.push(part);
        if natural_person && !f.personal {
            errors.push(err(
                format!("face_fields/{i}/personal"),
                "personal_required",
                "a field with a natural person holder's name or id is personal data: mark it personal",
                "该字段含自然人持证主体的姓名或证件号码，属于个人信息，应标记为个人信息",
            ));
        }
    }
    errors
}

fn has_duplicates<T: PartialEq>(items: &[T]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items[..i].contains(a))
}

/// A version of a license type as the library keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseTypeVersion {
    pub spec: LicenseTypeSpec,
    /// 1 for the first definition, +1 for each change.
    pub version: u32,
    /// When this version was made, RFC 3339 UTC.
    pub created_at: jiff::Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_json() -> serde_json::Value {
        serde_json::json!({
            "code": "11100000000013338W032",
            "name": "测试证照",
            "defining_authority": {"name": "住房和城乡建设部", "credit_code": "11100000000013338W"},
            "issuing_levels": ["league", "banner"],
            "holder_types": ["legal_person"],
            "aggregation_start": "2024-02-01",
            "public_attribute": "public",
            "standard_level": "national",
            "template": "a4-portrait",
            "license_number_field": "number",
            "face_fields": [
                {"name": "number", "label": "编号", "type": "text", "required": true, "max_length": 30},
                {"name": "kind", "label": "类型", "type": "enum", "values": ["甲", "乙"], "required": true, "max_length": 4},
                {"name": "issued_on", "label": "发证日期", "type": "date", "required": true}
            ]
        })
    }

    fn draft(v: serde_json::Value) -> LicenseTypeDraft {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn sample_is_valid() {
        let spec = LicenseTypeSpec::parse(draft(sample_json())).unwrap();
        assert_eq!(spec.code().as_str(), "11100000000013338W032");
        assert_eq!(spec.draft().face_fields[1].field_type, FieldType::Enum);
    }

    #[test]
    fn unknown_field_type_and_unknown_keys_fail_in_serde() {
        let mut v = sample_json();
        v["face_fields"][0]["type"] = "colour".into();
        let e = serde_json::from_value::<LicenseTypeDraft>(v).unwrap_err();
        assert!(e.to_string().contains("unknown variant `colour`"), "{e}");
        let mut v = sample_json();
        v["extra"] = 1.into();
        assert!(serde_json::from_value::<LicenseTypeDraft>(v).is_err());
    }

    #[test]
    fn versions_stored_before_the_holder_keys_load_and_read_back_unchanged() {
        // sample_json has neither `same_as_holder` nor
        // `one_current_license_per_holder`, as every stored version before them.
        let spec = LicenseTypeSpec::parse(draft(sample_json())).unwrap();
        assert!(!spec.draft().one_current_license_per_holder);
        assert!(
            spec.draft()
                .face_fields
                .iter()
                .all(|f| f.same_as_holder.is_none())
        );
        let back = serde_json::to_value(&spec).unwrap();
        assert!(back.get("one_current_license_per_holder").is_none());
        assert!(back["face_fields"][0].get("same_as_holder").is_none());
    }

    #[test]
    fn holder_keys_are_read_and_checked() {
        let mut v = sample_json();
        v["one_current_license_per_holder"] = true.into();
        v["face_fields"][0] = serde_json::json!(
            {"name": "holder_code", "label": "统一社会信用代码", "type": "identity_code", "required": true, "max_length": 18, "same_as_holder": "id"}
        );
        v["face_fields"][1] = serde_json::json!(
            {"name": "holder_name", "label": "名称", "type": "text", "max_length": 200, "same_as_holder": "name"}
        );
        v["license_number_field"] = "holder_code".into();
        let spec = LicenseTypeSpec::parse(draft(v.clone())).unwrap();
        assert!(spec.draft().one_current_license_per_holder);
        assert_eq!(
            spec.draft().face_fields[0].same_as_holder,
            Some(HolderPart::Id)
        );
        let back = serde_json::to_value(&spec).unwrap();
        assert_eq!(back["one_current_license_per_holder"], true);
        assert_eq!(back["face_fields"][0]["same_as_holder"], "id");
        assert_eq!(back["face_fields"][1]["same_as_holder"], "name");

        // An unknown part is a serde error, like every unknown value.
        let mut bad = v.clone();
        bad["face_fields"][0]["same_as_holder"] = "address".into();
        assert!(serde_json::from_value::<LicenseTypeDraft>(bad).is_err());

        // Wrong field types, a second field for the same part, and a natural
        // person's name or id in a field not marked personal.
        let mut bad = v.clone();
        bad["face_fields"][1]["type"] = "long_text".into();
        bad["face_fields"][2] = serde_json::json!(
            {"name": "issued_on", "label": "发证日期", "type": "date", "required": true, "same_as_holder": "id"}
        );
        bad["holder_types"] = serde_json::json!(["natural_person"]);
        let errors = LicenseTypeSpec::parse(draft(bad)).unwrap_err();
        let found: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        for expected in [
            ("face_fields/1/same_as_holder", "field_type"),
            ("face_fields/2/same_as_holder", "field_type"),
            ("face_fields/2/same_as_holder", "duplicate"),
            ("face_fields/0/personal", "personal_required"),
            ("face_fields/1/personal", "personal_required"),
        ] {
            assert!(
                found.contains(&expected),
                "{expected:?} missing from {found:?}"
            );
        }
        let wrong_type = errors
            .iter()
            .find(|e| e.field == "face_fields/1/same_as_holder")
            .unwrap();
        assert_eq!(
            wrong_type.message,
            "a field with the holder's name must be of type text"
        );
        assert_eq!(
            wrong_type.message_zh,
            "与持证主体名称一致的字段应为文本类型"
        );
    }

    #[test]
    fn field_type_names_are_the_json_names() {
        for t in FieldType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }

    #[test]
    fn every_rule_failure_is_reported_with_its_field() {
        let mut v = sample_json();
        v["code"] = "11220000013544541J001".into();
        v["holder_types"] = serde_json::json!([]);
        v["template"] = "scroll".into();
        v["license_number_field"] = "nope".into();
        v["face_fields"][1]["values"] = serde_json::json!([]);
        v["face_fields"][2]["name"] = "number".into();
        v["face_fields"][2]["max_length"] = 10.into();
        let errors = LicenseTypeSpec::parse(draft(v)).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "code",
            "holder_types",
            "template",
            "license_number_field",
            "face_fields/1/values",
            "face_fields/2/name",
            "face_fields/2/max_length",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing from {fields:?}"
            );
        }
    }
}
