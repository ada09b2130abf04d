//! Licenses, their versions and status indexes, presentations and deliveries.

use crate::{SqliteStore, backend, journal, licenses};
use async_trait::async_trait;
use std::sync::Arc;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_store::*;

#[async_trait]
impl LicenseStore for SqliteStore {
    async fn license_status_summary(&self) -> StoreResult<(i64, Vec<i64>)> {
        self.read(|c| {
            let max: i64 = c
                .query_row("SELECT COALESCE(MAX(id), 0) FROM licenses", [], |r| {
                    r.get(0)
                })
                .map_err(backend)?;
            let mut stmt = c
                .prepare_cached("SELECT id FROM licenses WHERE revoked_at IS NOT NULL ORDER BY id")
                .map_err(backend)?;
            let revoked = stmt
                .query_map([], |r| r.get(0))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<i64>>>()
                .map_err(backend)?;
            Ok((max, revoked))
        })
        .await
    }

    async fn reserve_status_indexes(&self, count: u32) -> StoreResult<i64> {
        rules::check_reserve_count(count)?;
        self.write(move |tx| {
            tx.prepare_cached(
                "UPDATE status_index_counter SET next_index = next_index + ?1 WHERE id = 1
                 RETURNING next_index - ?1",
            )
            .and_then(|mut s| s.query_row([i64::from(count)], |r| r.get(0)))
            .map_err(backend)
        })
        .await
    }

    async fn version_status_summary(&self) -> StoreResult<VersionStatusSummary> {
        self.read(|c| {
            let next_index: i64 = c
                .query_row(
                    "SELECT next_index FROM status_index_counter WHERE id = 1",
                    [],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            // Only the licenses of the partial index `licenses_not_plain`.
            let mut stmt = c
                .prepare_cached(
                    "SELECT v.status_index, l.revoked_at IS NOT NULL
                     FROM licenses l JOIN license_versions v ON v.license_id = l.id
                     WHERE (l.revoked_at IS NOT NULL OR l.current_version > 1)
                       AND (l.revoked_at IS NOT NULL OR v.version < l.current_version)
                     ORDER BY v.status_index",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, bool>(1)?)))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            Ok(VersionStatusSummary::from_rows(next_index, rows))
        })
        .await
    }

    async fn use_presentation(
        &self,
        jti: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            let n = tx
                .execute(
                    "INSERT INTO presentation_uses (jti, used_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                    rusqlite::params![jti.to_string(), at.to_string()],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("presentation {jti} was used")));
            }
            journal::append(tx, &log)
        })
        .await
    }

    async fn issue_license(
        &self,
        license: &NewLicense,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        let first = licenses::VersionRow::new(&license.first);
        let log = journal::PreparedLog::new(log);
        let license = Arc::new(license.clone());
        let written = license.clone();
        let key = self
            .write(move |tx| {
                let key = licenses::issue(tx, &written, &first)?;
                journal::append(tx, &log)?;
                Ok(key)
            })
            .await?;
        // The writer dropped its handle before answering, so this is no copy.
        let license = Arc::try_unwrap(license).unwrap_or_else(|shared| (*shared).clone());
        // Built from what was written rather than read back: the single
        // writer thread only inserts.
        Ok(LicenseRecord {
            key,
            created_at: license.first.issued_at,
            type_code: license.type_code,
            issuer: license.issuer,
            serial: license.serial,
            source_system: license.source_system,
            source_record_id: license.source_record_id,
            revocation: None,
            versions: vec![license.first],
            objection_fields: None,
        })
    }

    async fn add_license_version(
        &self,
        key: i64,
        expected_current: u16,
        version: &LicenseVersionRecord,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        let (version, log) = (version.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let rec = licenses::add_version(tx, key, expected_current, &version)?;
            journal::append(tx, &log)?;
            Ok(rec)
        })
        .await
    }

    async fn revoke_license(
        &self,
        key: i64,
        expected_current: u16,
        revocation: &Revocation,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        let (revocation, log) = (revocation.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            let rec = licenses::revoke(tx, key, expected_current, &revocation)?;
            journal::append(tx, &log)?;
            Ok(rec)
        })
        .await
    }

    async fn license_by_identifier(&self, id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
        self.inner
            .readers
            .run_point(|c| licenses::by_identifier(c, id))
            .await
    }

    async fn license_by_source(
        &self,
        system: &str,
        record_id: &str,
    ) -> StoreResult<Option<LicenseRecord>> {
        let (system, record_id) = (system.to_owned(), record_id.to_owned());
        self.read(move |c| licenses::by_source(c, &system, &record_id))
            .await
    }

    async fn licenses_of_holders(
        &self,
        holder_ids: &[String],
        type_codes: &[LicenseTypeCode],
    ) -> StoreResult<Vec<LicenseRecord>> {
        let holders =
            serde_json::to_string(holder_ids).map_err(|e| StoreError::Backend(e.to_string()))?;
        let types =
            serde_json::to_string(&type_codes.iter().map(|t| t.as_str()).collect::<Vec<_>>())
                .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.read(move |c| licenses::of_holders(c, &holders, &types))
            .await
    }

    async fn source_records(
        &self,
        system: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SourceRecord>> {
        let (system, after) = (system.to_owned(), after.map(str::to_owned));
        self.read(move |c| licenses::source_records(c, &system, after.as_deref(), limit))
            .await
    }

    async fn licenses(
        &self,
        filter: &LicenseFilter,
        before_key: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LicenseRecord>> {
        let filter = filter.clone();
        self.read(move |c| licenses::page(c, &filter, before_key, limit))
            .await
    }

    async fn count_licenses_issued(
        &self,
        issuer_within: &zhengzhao_domain::org::OrgCode,
        since: jiff::Timestamp,
    ) -> StoreResult<i64> {
        let (org, since) = (issuer_within.to_string(), since.to_string());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT count(*) FROM licenses l
                 WHERE l.issuer_id IN (SELECT cl.descendant_id FROM org_closure cl JOIN orgs a ON a.id = cl.ancestor_id WHERE a.code = ?1)
                   AND julianday(l.created_at) >= julianday(?2)",
            )
            .and_then(|mut s| s.query_row(rusqlite::params![org, since], |r| r.get(0)))
            .map_err(|e| StoreError::Backend(e.to_string()))
        })
        .await
    }

    async fn add_verification_counts(&self, counts: &[(String, String, i64)]) -> StoreResult<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let counts = counts.to_vec();
        self.write(move |c| {
            let mut s = c
                .prepare_cached(
                    "INSERT INTO verification_counts (day, kind, count) VALUES (?1, ?2, ?3)
                     ON CONFLICT (day, kind) DO UPDATE SET count = count + excluded.count",
                )
                .map_err(backend)?;
            for (day, kind, n) in &counts {
                s.execute(rusqlite::params![day, kind, n])
                    .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn verification_counts(&self, since: &str) -> StoreResult<Vec<(String, String, i64)>> {
        let since = since.to_owned();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT day, kind, count FROM verification_counts WHERE day >= ?1 ORDER BY day, kind",
            )
            .and_then(|mut s| {
                s.query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| StoreError::Backend(e.to_string()))
        })
        .await
    }

    async fn issuance_by_month(
        &self,
        org: &zhengzhao_domain::org::OrgCode,
        since: jiff::Timestamp,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        let (org, since) = (org.to_string(), since.to_string());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT strftime('%Y-%m', l.created_at, '+8 hours') AS month, a.code, count(*)
                 FROM licenses l
                 JOIN org_closure cl ON cl.descendant_id = l.issuer_id
                 JOIN orgs a ON a.id = cl.ancestor_id
                 WHERE (a.parent_id = (SELECT id FROM orgs WHERE code = ?1) OR (a.code = ?1 AND cl.depth = 0))
                   AND julianday(l.created_at) >= julianday(?2)
                 GROUP BY month, a.code ORDER BY month, a.code",
            )
            .and_then(|mut s| {
                s.query_map(rusqlite::params![org, since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| StoreError::Backend(e.to_string()))
        })
        .await
    }

    async fn deliveries_of_licenses(&self, keys: &[i64]) -> StoreResult<Vec<DeliveryRecord>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = serde_json::to_string(keys).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.read(move |c| crate::outbox::channel_deliveries(c, &keys))
            .await
    }

    async fn deliveries_of(&self, key: i64) -> StoreResult<Vec<DeliveryRecord>> {
        // Every license view reads these: an indexed lookup of a few rows, inline.
        self.inner
            .readers
            .run_point(move |c| crate::outbox::channel_deliveries(c, &format!("[{key}]")))
            .await
    }
}
