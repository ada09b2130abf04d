use thiserror::Error;

/// Storage failures, shaped for the caller's decision rather than the backend's detail.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The thing addressed does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A uniqueness rule would be broken; nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The holder already has a current (not revoked) license of a type
    /// that allows one per holder; nothing was written. Names that license
    /// (its current version) and its issuer.
    #[error("the holder already has current license {license_id} (issued by org {issuer})")]
    CurrentLicenseExists {
        license_id: zhengzhao_domain::license_id::LicenseId,
        issuer: zhengzhao_domain::org::OrgCode,
    },
    /// The stored data breaks an invariant (a row that no longer parses).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Backend(String),
}
