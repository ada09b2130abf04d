//! First start: seed the org tree, the default catalog and the first admin token.

use super::{Actor, Library};
use crate::secrets::{generate_token, token_hash};
use crate::{Error, Result};
use serde::Deserialize;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use zhengzhao_domain::catalog::{LicenseTypeDraft, LicenseTypeSpec};
use zhengzhao_domain::org::{OrgCode, REGION_CODE, parse_divisions, seed_orgs};
use zhengzhao_domain::role::Role;
use zhengzhao_store::{ChangeLog, NewToken, Seed, StoreError};

/// GB/T 2260 divisions of Inner Mongolia (copied from the shared data set).
pub const DIVISIONS_TSV: &str = include_str!("../seed/gbt2260-150000.tsv");
/// The default issuance catalog.
pub const CATALOG_JSON: &str = include_str!("../seed/catalog.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedCatalog {
    /// Provenance notes for reviewers; not loaded.
    #[serde(default)]
    #[allow(dead_code)]
    notes: Vec<String>,
    license_types: Vec<LicenseTypeDraft>,
}

/// The default catalog, every entry checked by the same rules as the API's.
pub fn default_catalog() -> Result<Vec<LicenseTypeSpec>> {
    let seed: SeedCatalog = serde_json::from_str(CATALOG_JSON)
        .map_err(|e| Error::Internal(format!("seed catalog: {e}")))?;
    seed.license_types
        .into_iter()
        .map(|d| {
            let code = d.code.clone();
            LicenseTypeSpec::parse(d)
                .map_err(|e| Error::Internal(format!("seed catalog type {code}: {e:?}")))
        })
        .collect()
}

/// Write `secret` to `path` readable by the owner only, creating it new.
fn write_secret(path: &Path, secret: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

impl Library {
    /// Seed a fresh library. Returns the admin token file's path when this
    /// call seeded, `None` when the library was seeded already.
    pub async fn ensure_seeded(&self, data_dir: &Path) -> Result<Option<PathBuf>> {
        if self.store.is_seeded().await? {
            return Ok(None);
        }
        let divisions =
            parse_divisions(DIVISIONS_TSV).map_err(|e| Error::Internal(e.to_string()))?;
        let orgs = seed_orgs(&divisions).map_err(|e| Error::Internal(e.to_string()))?;
        let catalog = default_catalog()?;
        let region = OrgCode::parse(REGION_CODE).map_err(|e| Error::Internal(e.to_string()))?;
        let secret = generate_token()?;
        let at = self.now();
        let seed = Seed {
            orgs,
            catalog,
            admin_token: NewToken {
                id: uuid::Uuid::now_v7(),
                hash: token_hash(&secret),
                org: region,
                role: Role::RegionAdmin,
                label: "first-start admin".into(),
                created_at: at,
                signing_secret: None,
                scenario_id: None,
            },
            at,
        };
        let log = ChangeLog::audit_only(self.audit_event(
            &Actor::system(),
            "library.seed",
            "library".into(),
            json!({
                "orgs": seed.orgs.len(),
                "license_types": seed.catalog.len(),
                "admin_token": seed.admin_token.id,
            }),
        ));
        std::fs::create_dir_all(data_dir)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", data_dir.display())))?;
        // The secret goes to a temporary file first and becomes admin-token
        // only once the seed has committed, so a failed start leaves no token
        // that the database does not know.
        let path = data_dir.join("admin-token");
        let tmp = data_dir.join(format!("admin-token.{}.tmp", seed.admin_token.id));
        write_secret(&tmp, &secret)
            .map_err(|e| Error::Internal(format!("cannot write {}: {e}", tmp.display())))?;
        match self.store.seed(&seed, &log).await {
            Ok(()) => {
                std::fs::rename(&tmp, &path).map_err(|e| {
                    Error::Internal(format!("cannot write {}: {e}", path.display()))
                })?;
                Ok(Some(path))
            }
            Err(StoreError::Conflict(_)) => {
                // Another node seeded first.
                let _ = std::fs::remove_file(&tmp);
                Ok(None)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zhengzhao_domain::catalog::{PublicAttribute, StandardLevel};

    #[test]
    fn default_catalog_passes_the_catalog_rules() {
        let catalog = default_catalog().unwrap();
        assert!(catalog.len() >= 8, "{} types", catalog.len());
        let names: Vec<&str> = catalog.iter().map(|s| s.draft().name.as_str()).collect();
        for required in [
            "营业执照",
            "食品经营许可证",
            "食品生产许可证",
            "特种设备使用登记证",
            "检验检测机构资质认定证书",
            "计量标准考核证书",
            "食品小作坊登记证",
        ] {
            assert!(
                names.contains(&required),
                "{required} missing from {names:?}"
            );
        }
        assert!(
            names.iter().any(|n| n.contains("工业产品生产许可证")),
            "{names:?}"
        );
        assert!(
            catalog
                .iter()
                .any(|s| s.draft().standard_level == StandardLevel::Region)
        );
        assert!(
            catalog
                .iter()
                .any(|s| s.draft().public_attribute == PublicAttribute::NotPublic)
        );
        let mut codes: Vec<_> = catalog.iter().map(|s| s.code().clone()).collect();
        codes.dedup();
        assert_eq!(codes.len(), catalog.len());
    }

    #[test]
    fn division_data_gives_the_full_tree() {
        let divisions = parse_divisions(DIVISIONS_TSV).unwrap();
        let orgs = seed_orgs(&divisions).unwrap();
        // 1 region + 12 leagues/cities + 103 banners/counties/districts.
        assert_eq!(orgs.len(), 116);
        let direct: Vec<&str> = orgs
            .iter()
            .filter(|o| o.parent.as_ref().is_some_and(|p| p.as_str() == REGION_CODE))
            .map(|o| o.code.as_str())
            .collect();
        assert_eq!(direct.len(), 14, "{direct:?}");
        assert!(direct.contains(&"150781") && direct.contains(&"152501"));
    }
}
