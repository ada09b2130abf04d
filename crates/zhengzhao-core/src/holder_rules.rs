//! Data that cannot be true is refused (issue and update of licenses): a face
//! that names another holder than the license's, and a second current
//! license of a type that allows one per holder (营业执照: one per credit
//! code). Kept apart from the signing code in `licenses.rs`, which only
//! calls in here.
//!
//! "Current" means not revoked, whatever the validity dates: an expired or
//! not yet valid license still blocks a second one. The store's unique index
//! cannot read a clock, and it need not: a business license's renewal or
//! change is a new version of the same license (update), and a license that
//! ended is revoked (注销) before another is issued.

use super::Library;
use crate::Error;
use crate::Principal;
use serde_json::Value;
use zhengzhao_domain::FieldError;
use zhengzhao_domain::catalog::{LicenseTypeVersion, PublicAttribute};
use zhengzhao_domain::face::holder_mismatches;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::Holder;

/// The face fields that repeat the holder (`same_as_holder` in the catalog)
/// must hold the holder's name and id: errors at `face/<field>`. `face` is
/// the checked face (`Value::Null` when it failed its own checks: then there
/// is nothing to compare).
pub(crate) fn check_face_is_the_holders(
    t: &LicenseTypeVersion,
    face: &Value,
    holder: &Holder,
    errors: &mut Vec<FieldError>,
) {
    if let Some(face) = face.as_object() {
        errors.extend(holder_mismatches(
            t.spec.draft(),
            face,
            &holder.name,
            &holder.id,
        ));
    }
}

impl Library {
    /// The 409 for an issue refused because `holder` already has a current
    /// license (`existing`, issued by `issuer`) of a type that allows one.
    ///
    /// It names that license only to a caller who may learn of it:
    /// - staff of its issuer or of an org above it, who may read it anyway;
    /// - anyone else only when the type is public and the holder an
    ///   organisation: the identifier then leads to no more than the public
    ///   check shows, and a business's registration is public (enterprise
    ///   credit publicity).
    ///
    /// Otherwise (a conditional or not public type, or a natural person) the
    /// answer says only that another org issued one. Which licenses a person
    /// holds is their personal data, and a business's not public licenses
    /// may be its trade secrets (Art. 22); an identifier would also open the
    /// public check to the caller.
    pub(crate) async fn current_license_conflict(
        &self,
        caller: &Principal,
        t: &LicenseTypeVersion,
        holder: &Holder,
        existing: &LicenseId,
        issuer: &OrgCode,
    ) -> Error {
        let within = match self.store.org_within(issuer, &caller.org).await {
            Ok(within) => within,
            Err(e) => return e.into(),
        };
        let d = t.spec.draft();
        let public = d.public_attribute == PublicAttribute::Public && holder.id_type == "uscc";
        let name = &d.name;
        if within || public {
            let by = if issuer == &caller.org {
                String::new()
            } else {
                format!(", issued by org {issuer}, which alone can revoke or update it")
            };
            Error::CurrentLicenseExists {
                existing: Some(existing.to_string()),
                detail: format!(
                    "{name} allows one current license per holder, and this holder's is {existing}{by}; \
                     revoke it before issuing another, or issue a change as a new version of it \
                     (POST /api/v1/licenses/{existing}/versions)"
                ),
            }
        } else {
            Error::CurrentLicenseExists {
                existing: None,
                detail: format!(
                    "{name} allows one current license per holder, and this holder has one issued by \
                     another org; it is not named here, as the type is not public or the holder is a \
                     natural person. The issuing org can revoke or update it"
                ),
            }
        }
    }
}
