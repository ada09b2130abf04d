//! What a license looks like to a caller: the API view of a version (masked
//! by `privacy` unless the caller may see personal data), its status, its
//! issuer and its other versions.

use crate::Library;
use crate::Principal;
use crate::disclosure::{Reader, disclose};
use crate::{Error, Result};
use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use zhengzhao_domain::codes::{CreditCode, LicenseTypeCode};
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::{
    ChangeReason, DeliveryRecord, Holder, LicenseRecord, LicenseVersionRecord, Revocation,
};

/// The license as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LicenseView {
    /// The identifier the request named (any version's).
    #[schema(value_type = String)]
    pub license_id: LicenseId,
    /// The version that identifier names.
    pub version: u16,
    /// `valid`, `superseded` (an older version), `revoked`, `expired` or `not_yet_valid`.
    pub status: &'static str,
    #[schema(value_type = String)]
    pub current_license_id: LicenseId,
    pub current_version: u16,
    #[schema(value_type = String)]
    pub type_code: LicenseTypeCode,
    pub type_name: String,
    pub type_version: u32,
    pub license_number: Option<String>,
    pub issuer: IssuerView,
    #[schema(value_type = Object)]
    pub holder: Holder,
    #[schema(value_type = Object)]
    pub face: Value,
    #[schema(value_type = String, format = Date)]
    pub valid_from: Date,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<Date>,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: jiff::Timestamp,
    /// First successful delivery of this version to the holder (Art. 8).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<Object>)]
    pub revocation: Option<Revocation>,
    /// Under objection (Art. 19): an objection was accepted and is not
    /// decided yet.
    pub under_objection: bool,
    /// The fields the open objections concern (empty when none).
    pub objection_fields: Vec<String>,
    pub versions: Vec<VersionSummary>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuerView {
    #[schema(value_type = String)]
    pub code: OrgCode,
    pub name: String,
    #[schema(value_type = String)]
    pub credit_code: CreditCode,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VersionSummary {
    #[schema(value_type = String)]
    pub license_id: LicenseId,
    pub version: u16,
    pub status: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: jiff::Timestamp,
    /// Why an update issued this version (absent for the first).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub reason: Option<ChangeReason>,
}

/// The current version of `l`; every stored license has one.
pub(crate) fn current_version(l: &LicenseRecord) -> Result<&LicenseVersionRecord> {
    l.current()
        .ok_or_else(|| Error::Internal("license without versions".into()))
}

/// Status of version `v` of `l` today (China time).
pub fn status_of(l: &LicenseRecord, v: &LicenseVersionRecord, today: Date) -> &'static str {
    let current = l.current().map(|c| c.version);
    if l.revocation.is_some() {
        "revoked"
    } else if current != Some(v.version) {
        "superseded"
    } else if v.valid_until.is_some_and(|u| u < today) {
        "expired"
    } else if v.valid_from > today {
        "not_yet_valid"
    } else {
        "valid"
    }
}

impl Library {
    /// The API view of `l`'s current version, as `caller` may see it.
    pub async fn current_view(&self, caller: &Principal, l: &LicenseRecord) -> Result<LicenseView> {
        let current = current_version(l)?;
        self.license_view(caller, l, &current.license_id).await
    }

    /// The API view of `l` as named by `asked`; personal fields are masked
    /// unless the caller may see them (`privacy`).
    pub async fn license_view(
        &self,
        caller: &Principal,
        l: &LicenseRecord,
        asked: &LicenseId,
    ) -> Result<LicenseView> {
        let deliveries = self.store.deliveries_of(l.key).await?;
        self.license_view_with(caller, l, asked, &deliveries).await
    }

    /// The view of a license just issued: nothing delivered yet, so no
    /// delivery is read.
    pub async fn issued_view(&self, caller: &Principal, l: &LicenseRecord) -> Result<LicenseView> {
        let current = current_version(l)?;
        self.license_view_with(caller, l, &current.license_id, &[])
            .await
    }

    /// The current views of a page of licenses, with their deliveries read
    /// in one query.
    pub async fn current_views(
        &self,
        caller: &Principal,
        page: &[LicenseRecord],
    ) -> Result<Vec<LicenseView>> {
        let keys: Vec<i64> = page.iter().map(|l| l.key).collect();
        let deliveries = self.store.deliveries_of_licenses(&keys).await?;
        let mut views = Vec::with_capacity(page.len());
        for l in page {
            let current = current_version(l)?;
            views.push(
                self.license_view_with(caller, l, &current.license_id, &deliveries)
                    .await?,
            );
        }
        Ok(views)
    }

    /// The view of `asked` with nothing masked, for a file whose fields
    /// the grant already chose (an annotated copy keeps only those): never
    /// answered as it is.
    pub(crate) async fn license_view_for_copy(
        &self,
        l: &LicenseRecord,
        asked: &LicenseId,
        grants: &[zhengzhao_domain::scenario::CheckedGrant],
    ) -> Result<LicenseView> {
        let reader = Reader::RelyingParty {
            grants,
            asked: None,
        };
        self.license_view_as(reader, l, asked, &[]).await
    }

    /// [`Self::license_view`] with the deliveries already read (`deliveries`
    /// may hold other licenses' too: only this license's versions count).
    pub(super) async fn license_view_with(
        &self,
        caller: &Principal,
        l: &LicenseRecord,
        asked: &LicenseId,
        deliveries: &[DeliveryRecord],
    ) -> Result<LicenseView> {
        let reader = Reader::Staff {
            personal_in_full: Self::sees_personal_data(caller, l),
        };
        self.license_view_as(reader, l, asked, deliveries).await
    }

    /// The view of version `asked` of `l` as `reader` may see it.
    async fn license_view_as(
        &self,
        reader: Reader<'_>,
        l: &LicenseRecord,
        asked: &LicenseId,
        deliveries: &[DeliveryRecord],
    ) -> Result<LicenseView> {
        let today = self.today();
        let current = current_version(l)?;
        let v = l
            .versions
            .iter()
            .find(|v| &v.license_id == asked)
            .unwrap_or(current);
        let t = self
            .cached_license_type(&l.type_code, Some(v.type_version))
            .await?;
        let issuer = self
            .cached_org(&l.issuer)
            .await?
            .ok_or_else(|| Error::Internal("issuer vanished".into()))?;
        let delivered_at = deliveries
            .iter()
            .filter(|d| d.license_id == v.license_id)
            .filter_map(|d| d.delivered_at)
            .min();
        let shown = disclose(reader, &l.type_code, t.as_deref(), v)?;
        Ok(LicenseView {
            license_id: v.license_id.clone(),
            version: v.version,
            status: status_of(l, v, today),
            current_license_id: current.license_id.clone(),
            current_version: current.version,
            type_code: l.type_code.clone(),
            type_name: t
                .as_ref()
                .map(|t| t.spec.draft().name.clone())
                .unwrap_or_default(),
            type_version: v.type_version,
            license_number: v.license_number.clone(),
            issuer: IssuerView {
                code: issuer.code.clone(),
                name: issuer.name.clone(),
                credit_code: CreditCode::parse(v.license_id.issuer_code())
                    .unwrap_or_else(|_| issuer.credit_code.clone()),
            },
            holder: zhengzhao_store::Holder {
                name: shown.holder_name,
                id_type: v.holder.id_type.clone(),
                id: shown.holder_id.unwrap_or_default(),
            },
            face: Value::Object(shown.face),
            valid_from: v.valid_from,
            valid_until: v.valid_until,
            issued_at: v.issued_at,
            delivered_at,
            revocation: l.revocation.clone(),
            under_objection: l.objection_fields.is_some(),
            objection_fields: l.objection_fields.clone().unwrap_or_default(),
            versions: l
                .versions
                .iter()
                .map(|x| VersionSummary {
                    license_id: x.license_id.clone(),
                    version: x.version,
                    status: status_of(l, x, today),
                    issued_at: x.issued_at,
                    reason: x.reason.clone(),
                })
                .collect(),
        })
    }
}
