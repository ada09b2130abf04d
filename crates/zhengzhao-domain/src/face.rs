//! The face data (照面信息) of a license, checked against its license type.
//!
//! Pure: whether a referenced org exists, or a resident's birth date lies in
//! the future, needs the store or the clock and is the caller's to check.

use crate::FieldError;
use crate::catalog::{FaceField, FieldType, HolderPart, HolderType, LicenseTypeDraft};
use crate::codes::{CodeError, CreditCode, ResidentId};
use crate::org::OrgCode;
use jiff::civil::Date;
use serde_json::Value;
use std::fmt::Display;

/// A license's face: field name to normalised value.
pub type Face = serde_json::Map<String, serde_json::Value>;

const EARLIEST_DATE: Date = jiff::civil::date(1900, 1, 1);
const LATEST_DATE: Date = jiff::civil::date(2199, 12, 31);
/// 15 integer digits of yuan plus 2 decimals still fit an i64 of fen.
const MAX_MONEY_DIGITS: usize = 15;
const MAX_IMAGE_REFERENCE: usize = 500;

/// The start of a sealed value as the library stores personal data
/// (`zzenc:v1:<key id>:<base64>`): reserved, so no value from outside may
/// begin with it (a stored value that looked sealed would be "opened" on
/// every read, and fail).
pub const RESERVED_PREFIX: &str = "zzenc:";

/// Does `text` take the reserved sealed form (after leading spaces, which
/// the library trims from names and text)?
pub fn is_reserved(text: &str) -> bool {
    text.trim_start().starts_with(RESERVED_PREFIX)
}

/// The error for a value in the reserved sealed form, at `field`.
pub fn reserved_error(field: impl Into<String>) -> FieldError {
    FieldError::new(
        field,
        "reserved",
        format!("values may not start with '{RESERVED_PREFIX}' (reserved for sealed data)"),
        format!("字段值不能以“{RESERVED_PREFIX}”开头（为加密存储保留）"),
    )
}

/// Validate `face` (must be a JSON object) against the type's face fields and
/// return the normalised face: only known fields, absent optional fields
/// omitted, every value a string. Reports every problem at once, at
/// `face/<name>` (or `face` when `face` is not an object).
pub fn validate_face(spec: &LicenseTypeDraft, face: &Value) -> Result<Face, Vec<FieldError>> {
    let Some(input) = face.as_object() else {
        return Err(vec![FieldError::new(
            "face",
            "type",
            "face must be a JSON object of field name to value",
            "照面信息应为以字段名为键的JSON对象",
        )]);
    };
    let mut errors = Vec::new();
    for key in input.keys() {
        if !spec.face_fields.iter().any(|f| &f.name == key) {
            let name = &spec.name;
            let en = format!("field '{key}' is not a face field of license type {name}");
            let zh = format!("“{key}”不是证照类型“{name}”的照面信息项");
            errors.push(FieldError::new(
                format!("face/{key}"),
                "unknown_field",
                en,
                zh,
            ));
        }
    }
    let mut normalised = Face::new();
    for field in &spec.face_fields {
        let at = At { field };
        // null and blank strings mean "not given", so that a form's empty
        // input and an omitted key are treated alike.
        let given = input
            .get(&field.name)
            .filter(|v| !v.is_null() && !v.as_str().is_some_and(|s| s.trim().is_empty()));
        match given {
            None if field.required => errors.push(at.fail("required", "is required", "为必填项")),
            None => {}
            Some(value) => match check_value(&at, value) {
                Ok(v) if is_reserved(&v) => errors.push(reserved_error(at.path())),
                Ok(v) => {
                    normalised.insert(field.name.clone(), Value::String(v));
                }
                Err(e) => errors.push(e),
            },
        }
    }
    if errors.is_empty() {
        Ok(normalised)
    } else {
        Err(errors)
    }
}

/// Where a field's error goes, and how its messages name the field.
struct At<'a> {
    field: &'a FaceField,
}

impl At<'_> {
    /// The field's JSON pointer, made only when an error needs it (validation
    /// runs on every issuance, and almost always passes).
    fn path(&self) -> String {
        format!("face/{}", self.field.name)
    }

    /// An error whose messages begin with the field's name (English) or label (Chinese).
    fn fail(&self, code: &'static str, en: impl Display, zh: impl Display) -> FieldError {
        let (name, label) = (&self.field.name, &self.field.label);
        FieldError::new(
            self.path(),
            code,
            format!("{name} {en}"),
            format!("{label}{zh}"),
        )
    }
}

/// One field's value, normalised; at most one error per field, the first found.
fn check_value(at: &At, value: &Value) -> Result<String, FieldError> {
    let field = at.field;
    if field.field_type == FieldType::Money {
        return money(at, value);
    }
    let Some(raw) = value.as_str() else {
        return Err(at.fail("type", "must be a string", "应为字符串"));
    };
    let text = match field.field_type {
        FieldType::Text => raw.trim().to_owned(),
        // Browsers submit textarea line breaks as \r\n; store one form only.
        FieldType::LongText => raw.replace("\r\n", "\n").trim().to_owned(),
        // Codes, dates and references are compared exactly: trimming them
        // would silently change what the clerk typed.
        _ => raw.to_owned(),
    };
    let newline_ok = field.field_type == FieldType::LongText;
    let is_text = matches!(field.field_type, FieldType::Text | FieldType::LongText);
    if is_text
        && text
            .chars()
            .any(|c| c.is_control() && !(newline_ok && c == '\n'))
    {
        let en = if newline_ok {
            "other than line breaks"
        } else {
            "or line breaks"
        };
        let en = format!("must not contain control characters {en}");
        return Err(at.fail("control", en, "不能包含控制字符"));
    }
    let length = text.chars().count();
    if let Some(max) = field.max_length
        && length > max as usize
    {
        let en = format!("must be at most {max} characters, got {length}");
        return Err(at.fail(
            "too_long",
            en,
            format!("不能超过{max}个字符，实际为{length}个"),
        ));
    }
    match field.field_type {
        FieldType::Text | FieldType::LongText => Ok(text),
        FieldType::Date => date(at, text),
        FieldType::Enum if field.values.contains(&text) => Ok(text),
        FieldType::Enum => Err(at.fail(
            "enum",
            format!("must be one of: {}", field.values.join(", ")),
            format!("应为以下值之一：{}", field.values.join("、")),
        )),
        FieldType::IdentityCode => identity_code(&text).map_err(|e| e.at(at.path())),
        FieldType::OrgReference => match OrgCode::parse(&text) {
            Ok(code) => Ok(code.as_str().to_owned()),
            Err(e) => Err(e.at(at.path())),
        },
        FieldType::ImageReference => image_reference(at, text),
        // Already returned above; kept total rather than unreachable!().
        FieldType::Money => money(at, value),
    }
}

fn date(at: &At, text: String) -> Result<String, FieldError> {
    // jiff also reads other ISO 8601 forms (20240201, a time after the date);
    // only YYYY-MM-DD is accepted, so the normalised value is the input itself.
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    let Some(day) = shaped.then(|| text.parse::<Date>().ok()).flatten() else {
        let en = format!("must be a real date written YYYY-MM-DD, got '{text}'");
        return Err(at.fail("date", en, "应为YYYY-MM-DD格式的有效日期"));
    };
    if !(EARLIEST_DATE..=LATEST_DATE).contains(&day) {
        let en = format!("must be between {EARLIEST_DATE} and {LATEST_DATE}");
        let zh = format!("应在{EARLIEST_DATE}至{LATEST_DATE}之间");
        return Err(at.fail("date_range", en, zh));
    }
    Ok(text)
}

/// An amount of yuan, normalised to a string with exactly two decimals.
fn money(at: &At, value: &Value) -> Result<String, FieldError> {
    let fail = |en: &str, zh: &str| at.fail("money", en, zh);
    let amount = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        Value::Number(n) if n.is_i64() => return Err(fail("must not be negative", "不能为负数")),
        // serde_json has already rounded 0.1 or 1.000000000000000001 to the
        // nearest f64, so the amount the sender meant is lost: ask for a string.
        Value::Number(_) => {
            return Err(fail(
                "must be sent as a string such as \"1000000.50\": a JSON number with a fraction is not exact",
                "应以字符串形式提交，如“1000000.50”",
            ));
        }
        _ => {
            let en = "must be a string amount such as \"1000000.50\"";
            return Err(at.fail("type", en, "应为金额字符串，如“1000000.50”"));
        }
    };
    let (whole, fraction) = amount.split_once('.').unwrap_or((&amount, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if amount.starts_with('-') {
        return Err(fail("must not be negative", "不能为负数"));
    }
    let dangling_point = fraction.is_empty() && amount.contains('.');
    if whole.is_empty() || !digits(whole) || !digits(fraction) || dangling_point {
        return Err(fail(
            "must be digits with an optional '.' and decimals, e.g. 1000000.50 (no sign, exponent or separators)",
            "应为数字金额，如1000000.50，不含符号、指数或千分位分隔符",
        ));
    }
    if fraction.len() > 2 {
        return Err(fail(
            "may have at most 2 decimal places",
            "最多保留两位小数",
        ));
    }
    if whole.len() > MAX_MONEY_DIGITS {
        let en = format!("may have at most {MAX_MONEY_DIGITS} digits before the decimal point");
        return Err(fail(&en, &format!("整数部分不能超过{MAX_MONEY_DIGITS}位")));
    }
    // One spelling per amount, so that stored faces compare equal.
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        w => w,
    };
    Ok(format!("{whole}.{fraction:0<2}"))
}

/// A credit code or a resident ID; when neither parses, the error of the one
/// the input looks like: letters (other than a resident ID's final X) mean a
/// credit code was meant.
fn identity_code(text: &str) -> Result<String, CodeError> {
    let uscc = match CreditCode::parse(text) {
        Ok(code) => return Ok(code.as_str().to_owned()),
        Err(e) => e,
    };
    let resident = match ResidentId::parse(text) {
        Ok(id) => return Ok(id.as_str().to_owned()),
        Err(e) => e,
    };
    let body = text.strip_suffix(['X', 'x']).unwrap_or(text);
    Err(if body.chars().any(char::is_alphabetic) {
        uscc
    } else {
        resident
    })
}

/// An opaque reference (attachment id or URL); only its shape is checked.
fn image_reference(at: &At, text: String) -> Result<String, FieldError> {
    let bad_char = text.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad_char || text.chars().count() > MAX_IMAGE_REFERENCE {
        let en = format!(
            "must be a reference of 1-{MAX_IMAGE_REFERENCE} characters without spaces or control characters"
        );
        let zh = format!("应为1至{MAX_IMAGE_REFERENCE}个字符且不含空白或控制字符的图像引用");
        return Err(at.fail("image_reference", en, zh));
    }
    Ok(text)
}

/// The face fields that repeat the holder (`same_as_holder`) but hold
/// something else: one error per field, at `face/<name>`. `face` is the
/// normalised face of [`validate_face`]; `holder_name` and `holder_id` are
/// the holder's as checked (trimmed name, normalised id). A field left out
/// is not compared (an optional name field, e.g. of an individual business
/// without a trade name); values are compared exactly, so a name differing
/// only in full- or half-width brackets differs.
pub fn holder_mismatches(
    spec: &LicenseTypeDraft,
    face: &Face,
    holder_name: &str,
    holder_id: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for field in &spec.face_fields {
        let (Some(part), Some(value)) = (
            field.same_as_holder,
            face.get(&field.name).and_then(Value::as_str),
        ) else {
            continue;
        };
        let (holder, en, zh) = match part {
            HolderPart::Name => (holder_name, "name", "持证主体名称"),
            HolderPart::Id => (holder_id, "id", "持证主体代码"),
        };
        if value != holder {
            let at = At { field };
            errors.push(at.fail(
                "holder_mismatch",
                format!("must be the same as the holder's {en}"),
                format!("应与{zh}一致"),
            ));
        }
    }
    errors
}

/// The holder id type a holder type uses: natural_person -> "resident_id", others -> "uscc".
pub fn holder_id_type(holder: HolderType) -> &'static str {
    match holder {
        HolderType::NaturalPerson => "resident_id",
        HolderType::LegalPerson
        | HolderType::UnincorporatedOrg
        | HolderType::IndividualBusiness => "uscc",
    }
}

/// Whether a holder identified by `id_type` ("uscc" | "resident_id") can be
/// one of the type's holder types; error (field "holder/id_type") if none fits.
pub fn holder_fits(spec: &LicenseTypeDraft, id_type: &str) -> Result<(), FieldError> {
    const PATH: &str = "holder/id_type";
    if !matches!(id_type, "uscc" | "resident_id") {
        let en = format!("unknown holder id type '{id_type}'; expected uscc or resident_id");
        let zh = format!("未知的持证主体证件类型“{id_type}”，应为uscc或resident_id");
        return Err(FieldError::new(PATH, "unknown_id_type", en, zh));
    }
    let holders = &spec.holder_types;
    if holders.iter().any(|h| holder_id_type(*h) == id_type) {
        return Ok(());
    }
    let labels: Vec<&str> = holders.iter().map(|h| h.label_zh()).collect();
    let (name, en_list, zh_list) = (&spec.name, labels.join(", "), labels.join("、"));
    let en = format!("license type {name} is held by {en_list}, none identified by {id_type}");
    let zh = format!("证照类型“{name}”的持证主体为{zh_list}，不能以该证件类型持证");
    Err(FieldError::new(PATH, "holder_type", en, zh))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::LicenseTypeSpec;
    use proptest::prelude::*;
    use serde_json::json;

    /// A type with one field of every field type.
    fn spec_json() -> Value {
        json!({
            "code": "11100000000013338W032",
            "name": "测试证照",
            "defining_authority": {"name": "住房和城乡建设部", "credit_code": "11100000000013338W"},
            "issuing_levels": ["league"],
            "holder_types": ["legal_person", "individual_business"],
            "aggregation_start": "2024-02-01",
            "public_attribute": "public",
            "standard_level": "national",
            "template": "a4-portrait",
            "face_fields": [
                {"name": "number", "label": "编号", "type": "text", "required": true, "max_length": 30},
                {"name": "scope", "label": "经营范围", "type": "long_text", "max_length": 200},
                {"name": "issued_on", "label": "发证日期", "type": "date", "required": true},
                {"name": "capital", "label": "注册资本", "type": "money"},
                {"name": "kind", "label": "类型", "type": "enum", "values": ["甲", "乙"], "max_length": 4},
                {"name": "holder", "label": "证件号码", "type": "identity_code", "required": true, "max_length": 18},
                {"name": "issuer", "label": "发证机关", "type": "org_reference"},
                {"name": "photo", "label": "照片", "type": "image_reference"}
            ]
        })
    }

    fn spec() -> LicenseTypeDraft {
        serde_json::from_value(spec_json()).unwrap()
    }

    fn valid_face() -> Value {
        json!({
            "number": "  NO-001 ",
            "scope": "一、餐饮\r\n二、零售\r\n",
            "issued_on": "2024-02-29",
            "capital": "1000000",
            "kind": "甲",
            "holder": "11010519491231002x",
            "issuer": "150102-SP",
            "photo": "att:0190c3e1-7f"
        })
    }

    fn with(field: &str, value: Value) -> Result<Face, Vec<FieldError>> {
        let mut face = valid_face();
        face[field] = value;
        validate_face(&spec(), &face)
    }

    fn paths_and_codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
    }

    #[test]
    fn fields_that_repeat_the_holder_must_be_the_holders() {
        let mut spec = spec();
        spec.face_fields[0].same_as_holder = Some(HolderPart::Name);
        spec.face_fields[5].same_as_holder = Some(HolderPart::Id);
        let face = validate_face(&spec, &valid_face()).unwrap();
        // Compared after normalising: the trimmed number, the upper-case X.
        assert!(holder_mismatches(&spec, &face, "NO-001", "11010519491231002X").is_empty());
        let errors = holder_mismatches(&spec, &face, "NO-002", "440524188001010014");
        assert_eq!(
            paths_and_codes(&errors),
            [
                ("face/number", "holder_mismatch"),
                ("face/holder", "holder_mismatch")
            ]
        );
        assert_eq!(
            errors[0].message,
            "number must be the same as the holder's name"
        );
        assert_eq!(errors[0].message_zh, "编号应与持证主体名称一致");
        assert_eq!(
            errors[1].message,
            "holder must be the same as the holder's id"
        );
        assert_eq!(errors[1].message_zh, "证件号码应与持证主体代码一致");
        // A field left out is not compared; full- and half-width brackets differ.
        let mut partial = face.clone();
        partial.remove("number");
        assert!(holder_mismatches(&spec, &partial, "anyone", "11010519491231002X").is_empty());
        partial.insert("number".into(), json!("某（甲）"));
        assert_eq!(
            holder_mismatches(&spec, &partial, "某(甲)", "11010519491231002X").len(),
            1
        );
    }

    /// A credit code with letters in its body and a wrong check character,
    /// and the check character it should have.
    fn wrong_credit_code() -> (String, char) {
        let body = "91150102MA0000000";
        let expected = CreditCode::check_character_for(&body.chars().collect::<Vec<_>>());
        let wrong = if expected == '0' { '1' } else { '0' };
        (format!("{body}{wrong}"), expected)
    }

    #[test]
    fn the_sealed_form_is_refused_in_every_field_that_could_hold_it() {
        for (field, value) in [
            ("number", " zzenc:v1:k:AAAA"),
            ("scope", "zzenc:v1:x"),
            ("photo", "zzenc:v1:x"),
        ] {
            let errors = with(field, json!(value)).unwrap_err();
            assert_eq!(
                paths_and_codes(&errors),
                [(format!("face/{field}").as_str(), "reserved")]
            );
        }
        // Inside a value it is only text.
        assert!(with("scope", json!("说明：zzenc:v1:x")).is_ok());
        assert!(is_reserved("  zzenc:v2:") && !is_reserved("zzen"));
    }

    #[test]
    fn a_valid_face_is_normalised() {
        LicenseTypeSpec::parse(spec()).unwrap();
        let face = validate_face(&spec(), &valid_face()).unwrap();
        let expected = json!({
            "number": "NO-001",
            "scope": "一、餐饮\n二、零售",
            "issued_on": "2024-02-29",
            "capital": "1000000.00",
            "kind": "甲",
            "holder": "11010519491231002X",
            "issuer": "150102-SP",
            "photo": "att:0190c3e1-7f"
        });
        assert_eq!(Value::Object(face), expected);
        // Lengths count characters, not UTF-8 bytes.
        assert!(with("number", json!("证".repeat(30))).is_ok());
        assert_eq!(
            with("holder", json!("11100000000013338W")).unwrap()["holder"],
            "11100000000013338W"
        );
    }

    #[test]
    fn every_rule_reports_its_code_at_its_path() {
        let bad_uscc = wrong_credit_code().0;
        // field -> code -> values that must each, alone, fail with that code.
        let cases = json!({
            "number": {"type": [5, true, ["a"]], "control": ["a\u{7}b", "a\nb"], "too_long": ["证".repeat(31)]},
            "scope": {"control": ["a\tb", "a\rb"], "too_long": ["a".repeat(201)]},
            "issued_on": {
                "date": ["2023-02-29", "2024-2-1", "20240201", "2024-02-01T00:00"],
                "date_range": ["1899-12-31", "2200-01-01"],
                "type": [20240201]
            },
            "capital": {
                "money": [1000000.5, 1e6, -5, "-5", "+5", "1e6", "1,000", " 100", "1.", ".5", "1.234",
                          "1234567890123456", 12345678901234567_u64],
                "type": [true, {}]
            },
            "kind": {"enum": ["丙", "甲 "], "too_long": ["甲甲甲甲甲"]},
            "holder": {
                "check_character": ["110105194912310021", bad_uscc],
                "length": ["1101051949", "91150102MA00"],
                "too_long": ["110105194912310021X"]
            },
            "issuer": {"length": ["15010"], "shape": ["150102-sp"]},
            "photo": {"image_reference": ["att: 1", "att:\u{0}", "a".repeat(501)]}
        });
        let mut checked = 0;
        for (field, by_code) in cases.as_object().unwrap() {
            for (code, values) in by_code.as_object().unwrap() {
                for value in values.as_array().unwrap() {
                    let errors = with(field, value.clone()).unwrap_err();
                    let path = format!("face/{field}");
                    let expected = [(path.as_str(), code.as_str())];
                    assert_eq!(paths_and_codes(&errors), expected, "{value}");
                    assert!(!errors[0].message.is_empty() && !errors[0].message_zh.is_empty());
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 44);
    }

    #[test]
    fn identity_errors_follow_what_the_input_looks_like() {
        // Digits only: a resident ID was meant.
        let e = with("holder", json!("110105194912310021")).unwrap_err();
        assert!(e[0].message.contains("should be X"), "{}", e[0].message);
        // Letters: a credit code was meant.
        let (code, expected) = wrong_credit_code();
        let e = with("holder", json!(code)).unwrap_err();
        let message = &e[0].message;
        assert!(
            message.contains(&format!("should be {expected}")),
            "{message}"
        );
    }

    #[test]
    fn money_forms_normalise() {
        for (given, expected) in [
            (json!(1000000), "1000000.00"),
            (json!(0), "0.00"),
            (json!("1000000.5"), "1000000.50"),
            (json!("1000000.50"), "1000000.50"),
            (json!("007"), "7.00"),
            (json!("0.05"), "0.05"),
            (json!("000"), "0.00"),
        ] {
            assert_eq!(
                with("capital", given.clone()).unwrap()["capital"],
                expected,
                "{given}"
            );
        }
        let e = with("capital", json!(0.5)).unwrap_err();
        assert!(e[0].message.contains("string"), "{}", e[0].message);
    }

    #[test]
    fn several_errors_are_reported_together() {
        let mut face = valid_face();
        face["number"] = json!(1);
        face["issued_on"] = json!("2024-13-01");
        face["capital"] = json!("1.001");
        face["extra"] = json!("x");
        let errors = validate_face(&spec(), &face).unwrap_err();
        let mut got = paths_and_codes(&errors);
        got.sort();
        let expected = [
            ("face/capital", "money"),
            ("face/extra", "unknown_field"),
            ("face/issued_on", "date"),
            ("face/number", "type"),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let errors = with("colour", json!("red")).unwrap_err();
        assert_eq!(paths_and_codes(&errors), [("face/colour", "unknown_field")]);
        assert!(
            errors[0].message.contains("测试证照"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn missing_required_fields_are_refused() {
        let mut face = valid_face();
        let obj = face.as_object_mut().unwrap();
        obj.remove("number");
        obj.insert("issued_on".into(), Value::Null);
        obj.insert("holder".into(), json!("  "));
        let errors = validate_face(&spec(), &face).unwrap_err();
        let expected = [
            ("face/number", "required"),
            ("face/issued_on", "required"),
            ("face/holder", "required"),
        ];
        assert_eq!(paths_and_codes(&errors), expected);
    }

    #[test]
    fn null_or_blank_optional_fields_are_omitted() {
        let mut face = valid_face();
        face["scope"] = Value::Null;
        face["capital"] = json!("");
        face.as_object_mut().unwrap().remove("photo");
        let ok = validate_face(&spec(), &face).unwrap();
        let kept: Vec<&str> = ok.keys().map(String::as_str).collect();
        assert_eq!(kept, ["holder", "issued_on", "issuer", "kind", "number"]);
    }

    #[test]
    fn a_face_that_is_not_an_object_is_refused() {
        for face in [json!([]), json!("x"), Value::Null] {
            let errors = validate_face(&spec(), &face).unwrap_err();
            assert_eq!(paths_and_codes(&errors), [("face", "type")]);
        }
    }

    #[test]
    fn holders_fit_only_the_types_holder_types() {
        assert_eq!(holder_id_type(HolderType::NaturalPerson), "resident_id");
        assert_eq!(holder_id_type(HolderType::LegalPerson), "uscc");
        assert_eq!(holder_id_type(HolderType::UnincorporatedOrg), "uscc");
        assert_eq!(holder_id_type(HolderType::IndividualBusiness), "uscc");
        let businesses = spec();
        assert!(holder_fits(&businesses, "uscc").is_ok());
        let e = holder_fits(&businesses, "resident_id").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("holder/id_type", "holder_type")
        );
        let e = holder_fits(&businesses, "passport").unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("holder/id_type", "unknown_id_type")
        );
        let mut v = spec_json();
        v["holder_types"] = json!(["natural_person"]);
        let people: LicenseTypeDraft = serde_json::from_value(v).unwrap();
        assert!(holder_fits(&people, "resident_id").is_ok());
        assert!(holder_fits(&people, "uscc").is_err());
    }

    /// A type whose only field is an optional money field.
    fn money_spec() -> LicenseTypeDraft {
        let mut v = spec_json();
        v["face_fields"] = json!([{"name": "capital", "label": "注册资本", "type": "money"}]);
        serde_json::from_value(v).unwrap()
    }

    /// The amount in fen, to compare amounts however they are written.
    fn fen(amount: &str) -> u128 {
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        format!("{whole}{fraction:0<2}").parse().unwrap()
    }

    proptest! {
        #[test]
        fn money_strings_normalise_to_a_fixed_point(amount in "[0-9]{1,15}(\\.[0-9]{1,2})?") {
            let spec = money_spec();
            let once = validate_face(&spec, &json!({"capital": amount})).unwrap();
            let twice = validate_face(&spec, &Value::Object(once.clone())).unwrap();
            prop_assert_eq!(&once, &twice);
            let normalised = once["capital"].as_str().unwrap();
            prop_assert_eq!(fen(normalised), fen(&amount));
            prop_assert_eq!(normalised.split_once('.').unwrap().1.len(), 2);
        }

        #[test]
        fn three_decimals_are_refused(amount in "[0-9]{1,15}\\.[0-9]{3}") {
            let errors = validate_face(&money_spec(), &json!({"capital": amount})).unwrap_err();
            prop_assert_eq!(paths_and_codes(&errors), [("face/capital", "money")]);
        }
    }
}
