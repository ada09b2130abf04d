//! What a relying party may see of a license: exactly the face fields its
//! scenario grants for the license's type, or the subset it asks for. A
//! request for a type or field outside the grant is refused whole
//! (`Error::NotGranted`, naming it), never silently trimmed: a relying
//! party always knows it received everything it asked for.
//!
//! (Staff reads mask personal fields in `privacy`; the public check shows
//! only what a license's public attribute allows, in `verify`.)

use crate::{Error, Result};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::scenario::{CheckedGrant, grant_for};

/// The fields to disclose of a license of `type_code` to a scenario with
/// `grants`, given the fields asked for (`None`: all that are granted).
pub fn granted_fields(
    grants: &[CheckedGrant],
    type_code: &LicenseTypeCode,
    asked: Option<&[String]>,
) -> Result<Vec<String>> {
    let Some(granted) = grant_for(grants, type_code) else {
        return Err(Error::NotGranted(format!(
            "license type {type_code} is not granted to this scenario / 本场景未获准使用证照类型{type_code}"
        )));
    };
    match asked {
        None => Ok(granted.to_vec()),
        Some([]) => Err(Error::field(
            "fields",
            "empty",
            "fields, when given, names at least one field",
            "指定字段时至少列出一个",
        )),
        Some(asked) => {
            if let Some(outside) = asked.iter().find(|f| !granted.contains(f)) {
                return Err(Error::NotGranted(format!(
                    "field {outside} of license type {type_code} is not granted to this scenario / 本场景未获准使用字段{outside}"
                )));
            }
            let mut fields: Vec<String> = Vec::with_capacity(asked.len());
            for f in asked {
                if !fields.contains(f) {
                    fields.push(f.clone());
                }
            }
            Ok(fields)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_grant_and_all_of_what_was_asked() {
        let t1 = LicenseTypeCode::parse("11100000MB0143028R001").unwrap();
        let t2 = LicenseTypeCode::parse("11100000MB0143028R002").unwrap();
        let grants = vec![CheckedGrant {
            type_code: t1.clone(),
            fields: vec!["name".into(), "credit_code".into()],
        }];
        assert_eq!(
            granted_fields(&grants, &t1, None).unwrap(),
            ["name", "credit_code"]
        );
        let asked = ["credit_code".to_owned()];
        assert_eq!(
            granted_fields(&grants, &t1, Some(&asked)).unwrap(),
            ["credit_code"]
        );
        let outside = ["credit_code".to_owned(), "domicile".to_owned()];
        match granted_fields(&grants, &t1, Some(&outside)) {
            Err(Error::NotGranted(m)) => assert!(m.contains("domicile"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            granted_fields(&grants, &t2, None),
            Err(Error::NotGranted(_))
        ));
    }
}
