//! A license version as the platforms receive it: the GB/T 36903 metadata
//! under the national share-data field names, the face under `extend_info`.
//!
//! | field | from |
//! |---|---|
//! | `certificate_identifier` | the version's GB/T 36904 identifier |
//! | `certificate_source_id` | the first version's identifier (the license across its versions) |
//! | `certificate_number` | the number printed on the license (`license_number`), or the identifier |
//! | `certificate_name`, `certificate_type_code` | the catalog type's name and code |
//! | `certificate_holder_name`, `certificate_holder_code` | the holder |
//! | `certificate_holder_type_code`, `certificate_holder_type_name` | `001` 统一社会信用代码 or `111` 公民身份号码 (GB/T 36903 附录A) |
//! | `certificate_issuing_authority_name`, `certificate_issuing_authority_code` | the issuing org and its credit code |
//! | `certificate_area_code` | the issuing org's GB/T 2260 division |
//! | `certificate_issued_date` | the day the version was signed (China time) |
//! | `certificate_effective_date`, `certificate_expiring_date` | validity; `长期` when open-ended |
//! | `certificate_status` | `valid`, `expired`, `not_yet_valid`, `superseded` or `revoked` |
//! | `version` | the version number |
//! | `extend_info` | the face fields, by the catalog's names |

use crate::{Error, Library, Result};
use serde_json::{Value, json};
use zhengzhao_store::{LicenseRecord, LicenseVersionRecord};

/// GB/T 36903 附录A: the holder's id type code and name.
fn holder_type(id_type: &str) -> (&'static str, &'static str) {
    match id_type {
        "resident_id" => ("111", "公民身份号码"),
        _ => ("001", "统一社会信用代码"),
    }
}

impl Library {
    /// Version `v` of license `l` as a share-data record.
    pub(crate) async fn share_record(
        &self,
        l: &LicenseRecord,
        v: &LicenseVersionRecord,
    ) -> Result<Value> {
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        let issuer = self
            .cached_org(&l.issuer)
            .await?
            .ok_or_else(|| Error::Internal("issuer vanished".into()))?;
        let first = l
            .versions
            .first()
            .map_or_else(|| v.license_id.to_string(), |f| f.license_id.to_string());
        let (type_code, type_name) = holder_type(&v.holder.id_type);
        let issued = v.issued_at.to_zoned(crate::china_tz()).date();
        Ok(json!({
            "certificate_identifier": v.license_id,
            "certificate_source_id": first,
            "certificate_number": v.license_number.clone().unwrap_or_else(|| v.license_id.to_string()),
            "certificate_name": t.as_ref().map(|t| t.spec.draft().name.clone()),
            "certificate_type_code": l.type_code,
            "certificate_holder_name": v.holder.name,
            "certificate_holder_code": v.holder.id,
            "certificate_holder_type_code": type_code,
            "certificate_holder_type_name": type_name,
            "certificate_issuing_authority_name": issuer.name,
            "certificate_issuing_authority_code": v.license_id.issuer_code(),
            "certificate_area_code": issuer.code.division(),
            "certificate_issued_date": issued.to_string(),
            "certificate_effective_date": v.valid_from.to_string(),
            "certificate_expiring_date": v.valid_until.map_or_else(|| "长期".to_owned(), |d| d.to_string()),
            "certificate_status": crate::licenses::status_of(l, v, self.today()),
            "version": v.version,
            "extend_info": v.face,
        }))
    }
}
