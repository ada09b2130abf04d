//! The issuance catalog: license types and their versions.

use crate::{PgStore, catalog};
use async_trait::async_trait;
use zhengzhao_domain::catalog::{LicenseTypeSpec, LicenseTypeVersion};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_store::*;

#[async_trait]
impl CatalogStore for PgStore {
    async fn create_license_type(
        &self,
        spec: &LicenseTypeSpec,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        journaled!(self, log, |tx| { catalog::create(&tx, spec, at).await? })
    }

    async fn update_license_type(
        &self,
        spec: &LicenseTypeSpec,
        expected_current: u32,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        journaled!(self, log, |tx| {
            catalog::next_version(&tx, spec, expected_current, at).await?
        })
    }

    async fn current_license_types(&self) -> StoreResult<Vec<LicenseTypeVersion>> {
        catalog::current_all(&self.client().await?).await
    }

    async fn license_type(
        &self,
        code: &LicenseTypeCode,
        version: Option<u32>,
    ) -> StoreResult<Option<LicenseTypeVersion>> {
        catalog::one(&self.client().await?, code, version).await
    }

    async fn license_type_versions(
        &self,
        code: &LicenseTypeCode,
    ) -> StoreResult<Vec<LicenseTypeVersion>> {
        catalog::versions(&self.client().await?, code).await
    }
}
