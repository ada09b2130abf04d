//! What a reader may see of a license version: one function, [`disclose`],
//! for every read path — staff, relying party, holder, the public — so a
//! rule about what is shown lives in one place.
//!
//! - **Holder**: everything; it is the holder's own data.
//! - **Staff** within scope: everything, but personal fields, a natural
//!   person's name and resident id, and any value equal to a personal one
//!   masked, unless the reader sees personal data in full (the issuing
//!   org's clerks, objection handlers: `Library::sees_personal_data`).
//! - **Relying party**: exactly the face fields its scenario grants for the
//!   license's type, or the subset it asks for; personal fields only when
//!   granted by name. A request for a type or field outside the grant is
//!   refused whole (`Error::NotGranted`, naming it), never silently
//!   trimmed. A natural person's name is shown masked.
//! - **Presented**: whoever scans a holder's presentation code (亮证) sees
//!   exactly the face fields chosen when it was made.
//! - **Public**: no face fields; the holder's name (masked when personal).

use crate::privacy::{mask_text, mask_value, masked_holder_name};
use crate::{Error, Library, Result};
use serde_json::{Map, Value};
use zhengzhao_domain::catalog::LicenseTypeVersion;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::scenario::{CheckedGrant, grant_for};
use zhengzhao_store::LicenseVersionRecord;

/// Who reads, as far as disclosure goes.
#[derive(Debug, Clone, Copy)]
pub enum Reader<'a> {
    /// The holder itself (signed in, or through a channel).
    Holder,
    /// Staff allowed to read the license; `personal_in_full` for those who
    /// see personal data unmasked.
    Staff { personal_in_full: bool },
    /// A scenario's credential: its grants, and the fields it asked for
    /// (`None`: all granted).
    RelyingParty {
        grants: &'a [CheckedGrant],
        asked: Option<&'a [String]>,
    },
    /// Whoever scans a presentation code: the fields chosen for it.
    Presented { fields: &'a [String] },
    /// Anyone, through the public check.
    Public,
}

/// What one reader sees of one version.
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosed {
    /// The face fields shown (only these), each in full or masked.
    pub face: Map<String, Value>,
    pub holder_name: String,
    /// The holder's id as shown; `None` when not shown at all.
    pub holder_id: Option<String>,
    /// Whether personal data was shown in full (for the read's audit event).
    pub personal_data_in_full: bool,
}

/// What `reader` sees of version `v` of a license of type `type_code`
/// (catalog version `t`; `None` if unknown, when every face value counts
/// as personal).
pub fn disclose(
    reader: Reader<'_>,
    type_code: &LicenseTypeCode,
    t: Option<&LicenseTypeVersion>,
    v: &LicenseVersionRecord,
) -> Result<Disclosed> {
    // Borrowed: most readers take a few fields or none, and the public
    // check, the busiest reader, takes none.
    let face = v.face.as_object();
    let pick = |names: &mut dyn Iterator<Item = &String>| -> Map<String, Value> {
        names
            .map(|f| {
                let value = face.and_then(|m| m.get(f)).cloned().unwrap_or(Value::Null);
                (f.clone(), value)
            })
            .collect()
    };
    let natural = v.holder.id_type == "resident_id";
    let masked_id = || {
        if natural {
            mask_text(&v.holder.id)
        } else {
            v.holder.id.clone()
        }
    };
    Ok(match reader {
        Reader::Holder
        | Reader::Staff {
            personal_in_full: true,
        } => Disclosed {
            face: face.cloned().unwrap_or_default(),
            holder_name: v.holder.name.clone(),
            holder_id: Some(v.holder.id.clone()),
            personal_data_in_full: true,
        },
        Reader::Staff {
            personal_in_full: false,
        } => {
            let mut face = Value::Object(face.cloned().unwrap_or_default());
            match t {
                Some(t) => Library::mask_face(t, &mut face),
                None => {
                    if let Some(m) = face.as_object_mut() {
                        m.values_mut().for_each(|x| *x = mask_value(x));
                    }
                }
            }
            Disclosed {
                face: match face {
                    Value::Object(m) => m,
                    _ => Map::new(),
                },
                holder_name: masked_holder_name(t, v),
                holder_id: Some(masked_id()),
                personal_data_in_full: false,
            }
        }
        Reader::RelyingParty { grants, asked } => {
            let fields = granted_fields(grants, type_code, asked)?;
            Disclosed {
                face: pick(&mut fields.iter()),
                holder_name: if natural {
                    masked_holder_name(t, v)
                } else {
                    v.holder.name.clone()
                },
                holder_id: Some(v.holder.id.clone()),
                personal_data_in_full: false,
            }
        }
        Reader::Presented { fields } => Disclosed {
            face: pick(&mut fields.iter()),
            holder_name: masked_holder_name(t, v),
            holder_id: None,
            personal_data_in_full: false,
        },
        Reader::Public => Disclosed {
            face: Map::new(),
            holder_name: masked_holder_name(t, v),
            holder_id: None,
            personal_data_in_full: false,
        },
    })
}

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
    use serde_json::json;

    /// An individual business (营业执照（个体工商户）: `operator` is personal)
    /// named after its operator, held by a natural person.
    fn individual_business() -> (LicenseTypeCode, LicenseTypeVersion, LicenseVersionRecord) {
        let spec = crate::seed::default_catalog()
            .unwrap()
            .into_iter()
            .find(|t| t.code().as_str() == "11100000MB0143028R002")
            .unwrap();
        let code = spec.code().clone();
        let t = LicenseTypeVersion {
            spec,
            version: 1,
            created_at: jiff::Timestamp::UNIX_EPOCH,
        };
        let issuer = zhengzhao_domain::codes::CreditCode::parse("91150102MA0N4JXK2C").unwrap();
        let v = LicenseVersionRecord {
            license_id: zhengzhao_domain::license_id::LicenseId::new(&code, &issuer, "000001", 1)
                .unwrap(),
            version: 1,
            type_version: 1,
            holder: zhengzhao_store::Holder {
                name: "王小明".into(),
                id_type: "resident_id".into(),
                id: "150102199003071234".into(),
            },
            face: json!({"name": "王小明", "operator": "王小明", "business_scope": "烧烤"}),
            license_number: None,
            valid_from: jiff::civil::date(2026, 1, 1),
            valid_until: None,
            issued_at: jiff::Timestamp::UNIX_EPOCH,
            payload: String::new(),
            signature: Vec::new(),
            key_id: uuid::Uuid::nil(),
            reason: None,
            status_index: 0,
        };
        (code, t, v)
    }

    #[test]
    fn each_reader_sees_what_it_may() {
        let (code, t, v) = individual_business();
        let full = disclose(Reader::Holder, &code, Some(&t), &v).unwrap();
        assert_eq!(Value::Object(full.face.clone()), v.face);
        assert_eq!(full.holder_id.as_deref(), Some("150102199003071234"));
        let clerk = Reader::Staff {
            personal_in_full: true,
        };
        assert_eq!(disclose(clerk, &code, Some(&t), &v).unwrap(), full);

        // Other staff: the personal field, the name equal to it, and the
        // person's name and id masked; the rest as it is.
        let staff = Reader::Staff {
            personal_in_full: false,
        };
        let masked = disclose(staff, &code, Some(&t), &v).unwrap();
        assert_eq!(masked.face["operator"], "王**");
        assert_eq!(masked.face["name"], "王**");
        assert_eq!(masked.face["business_scope"], "烧烤");
        assert_eq!(masked.holder_name, "王**");
        assert_eq!(masked.holder_id.as_deref(), Some("1501**********1234"));
        // Without the catalog version, every value counts as personal.
        let unknown = disclose(staff, &code, None, &v).unwrap();
        assert_eq!(unknown.face["business_scope"], "烧*");

        // A relying party: the granted fields only, a personal one in full
        // because it was granted by name; asking beyond is refused whole.
        let grants = vec![CheckedGrant {
            type_code: code.clone(),
            fields: vec!["operator".into(), "business_scope".into()],
        }];
        let rp = Reader::RelyingParty {
            grants: &grants,
            asked: None,
        };
        let shown = disclose(rp, &code, Some(&t), &v).unwrap();
        assert_eq!(
            Value::Object(shown.face),
            json!({"operator": "王小明", "business_scope": "烧烤"})
        );
        assert_eq!(shown.holder_name, "王**");
        let wide = ["name".to_owned()];
        let rp = Reader::RelyingParty {
            grants: &grants,
            asked: Some(&wide),
        };
        assert!(matches!(
            disclose(rp, &code, Some(&t), &v),
            Err(Error::NotGranted(_))
        ));

        // A presentation: the chosen fields; the public: none at all.
        let chosen = ["business_scope".to_owned()];
        let presented =
            disclose(Reader::Presented { fields: &chosen }, &code, Some(&t), &v).unwrap();
        assert_eq!(
            Value::Object(presented.face),
            json!({"business_scope": "烧烤"})
        );
        assert_eq!(presented.holder_id, None);
        let public = disclose(Reader::Public, &code, Some(&t), &v).unwrap();
        assert!(public.face.is_empty());
        assert_eq!(public.holder_name, "王**");
        assert_eq!(public.holder_id, None);
    }

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
