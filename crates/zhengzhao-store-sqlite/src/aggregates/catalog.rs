//! The issuance catalog: license types and their versions.

use crate::{SqliteStore, catalog, journal};
use async_trait::async_trait;
use zhengzhao_domain::catalog::{LicenseTypeSpec, LicenseTypeVersion};
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_store::*;

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn create_license_type(
        &self,
        spec: &LicenseTypeSpec,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        let (spec, log) = (spec.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let v = catalog::create(tx, &spec, at)?;
            journal::append(tx, &log)?;
            Ok(v)
        })
        .await
    }

    async fn update_license_type(
        &self,
        spec: &LicenseTypeSpec,
        expected_current: u32,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<LicenseTypeVersion> {
        let (spec, log) = (spec.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let v = catalog::next_version(tx, &spec, expected_current, at)?;
            journal::append(tx, &log)?;
            Ok(v)
        })
        .await
    }

    async fn current_license_types(&self) -> StoreResult<Vec<LicenseTypeVersion>> {
        self.read(catalog::current_all).await
    }

    async fn license_type(
        &self,
        code: &LicenseTypeCode,
        version: Option<u32>,
    ) -> StoreResult<Option<LicenseTypeVersion>> {
        let code = code.clone();
        self.read(move |c| catalog::one(c, &code, version)).await
    }

    async fn license_type_versions(
        &self,
        code: &LicenseTypeCode,
    ) -> StoreResult<Vec<LicenseTypeVersion>> {
        let code = code.clone();
        self.read(move |c| catalog::versions(c, &code)).await
    }
}
