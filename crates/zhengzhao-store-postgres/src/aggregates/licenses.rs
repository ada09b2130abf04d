//! Licenses, their versions and status indexes, presentations, and their
//! channel deliveries (from the outbox relay's rows).

use crate::row::RowExt;
use crate::{PgStore, backend, licenses};
use async_trait::async_trait;
use zhengzhao_domain::codes::LicenseTypeCode;
use zhengzhao_domain::license_id::LicenseId;
use zhengzhao_store::*;

/// Rows of (text, text, count), as the dashboard's counts read them.
fn counts_of(rows: &[tokio_postgres::Row]) -> StoreResult<Vec<(String, String, i64)>> {
    let corrupt = |e: tokio_postgres::Error| StoreError::Corrupt(format!("count row: {e}"));
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0).map_err(corrupt)?,
                r.try_get(1).map_err(corrupt)?,
                r.try_get(2).map_err(corrupt)?,
            ))
        })
        .collect()
}

#[async_trait]
impl LicenseStore for PgStore {
    async fn license_status_summary(&self) -> StoreResult<(i64, Vec<i64>)> {
        let c = self.client().await?;
        let max: i64 = c
            .query_one("SELECT COALESCE(MAX(id), 0)::BIGINT FROM licenses", &[])
            .await
            .map_err(backend)?
            .col(0, "license count")?;
        let revoked = c
            .query(
                "SELECT id FROM licenses WHERE revoked_at IS NOT NULL ORDER BY id",
                &[],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|r| r.col(0, "license"))
            .collect::<StoreResult<_>>()?;
        Ok((max, revoked))
    }

    async fn reserve_status_indexes(&self, count: u32) -> StoreResult<i64> {
        rules::check_reserve_count(count)?;
        let c = self.client().await?;
        c.query_one(
            "UPDATE status_index_counter SET next_index = next_index + $1 WHERE id = 1
             RETURNING next_index - $1",
            &[&i64::from(count)],
        )
        .await
        .map_err(backend)?
        .col(0, "status index")
    }

    async fn version_status_summary(&self) -> StoreResult<VersionStatusSummary> {
        let c = self.client().await?;
        let next_index: i64 = c
            .query_one(
                "SELECT next_index FROM status_index_counter WHERE id = 1",
                &[],
            )
            .await
            .map_err(backend)?
            .col(0, "status index")?;
        // Only the licenses of the partial index `licenses_not_plain`.
        let rows = c
            .query(
                "SELECT v.status_index, l.revoked_at IS NOT NULL
                 FROM licenses l JOIN license_versions v ON v.license_id = l.id
                 WHERE (l.revoked_at IS NOT NULL OR l.current_version > 1)
                   AND (l.revoked_at IS NOT NULL OR v.version < l.current_version)
                 ORDER BY v.status_index",
                &[],
            )
            .await
            .map_err(backend)?;
        let rows = rows
            .iter()
            .map(|r| Ok((r.col(0, "status index")?, r.col(1, "revoked")?)))
            .collect::<StoreResult<Vec<(i64, bool)>>>()?;
        Ok(VersionStatusSummary::from_rows(next_index, rows))
    }

    async fn use_presentation(
        &self,
        jti: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO presentation_uses (jti, used_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&jti, &at],
                )
                .await
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict(format!("presentation {jti} was used")));
            }
        })
    }

    async fn issue_license(
        &self,
        license: &NewLicense,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        journaled!(self, log, |tx| { licenses::issue(&tx, license).await? })
    }

    async fn add_license_version(
        &self,
        key: i64,
        expected_current: u16,
        version: &LicenseVersionRecord,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        journaled!(self, log, |tx| {
            licenses::add_version(&tx, key, expected_current, version).await?
        })
    }

    async fn revoke_license(
        &self,
        key: i64,
        expected_current: u16,
        revocation: &Revocation,
        log: &ChangeLog,
    ) -> StoreResult<LicenseRecord> {
        journaled!(self, log, |tx| {
            licenses::revoke(&tx, key, expected_current, revocation).await?
        })
    }

    async fn license_by_identifier(&self, id: &LicenseId) -> StoreResult<Option<LicenseRecord>> {
        licenses::by_identifier(&self.client().await?, id).await
    }

    async fn license_by_source(
        &self,
        system: &str,
        record_id: &str,
    ) -> StoreResult<Option<LicenseRecord>> {
        licenses::by_source(&self.client().await?, system, record_id).await
    }

    async fn licenses_of_holders(
        &self,
        holder_ids: &[String],
        type_codes: &[LicenseTypeCode],
    ) -> StoreResult<Vec<LicenseRecord>> {
        let types: Vec<&str> = type_codes.iter().map(|t| t.as_str()).collect();
        licenses::of_holders(&self.client().await?, holder_ids, &types).await
    }

    async fn source_records(
        &self,
        system: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<SourceRecord>> {
        licenses::source_records(&self.client().await?, system, after, limit).await
    }

    async fn licenses(
        &self,
        filter: &LicenseFilter,
        before_key: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<LicenseRecord>> {
        licenses::page(&self.client().await?, filter, before_key, limit).await
    }

    async fn count_licenses_issued(
        &self,
        issuer_within: &zhengzhao_domain::org::OrgCode,
        since: jiff::Timestamp,
    ) -> StoreResult<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FROM licenses l
                 WHERE l.issuer_id IN (SELECT cl.descendant_id FROM org_closure cl JOIN orgs a ON a.id = cl.ancestor_id WHERE a.code = $1)
                   AND l.created_at >= $2",
                &[&issuer_within.as_str(), &since],
            )
            .await
            .map_err(crate::backend)?;
        row.try_get(0)
            .map_err(|e| StoreError::Corrupt(format!("count: {e}")))
    }

    async fn add_verification_counts(&self, counts: &[(String, String, i64)]) -> StoreResult<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let (days, kinds, ns): (Vec<&str>, Vec<&str>, Vec<i64>) = counts.iter().fold(
            (Vec::new(), Vec::new(), Vec::new()),
            |(mut d, mut k, mut n), (day, kind, count)| {
                d.push(day.as_str());
                k.push(kind.as_str());
                n.push(*count);
                (d, k, n)
            },
        );
        self.client()
            .await?
            .execute(
                "INSERT INTO verification_counts (day, kind, count)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                 ON CONFLICT (day, kind) DO UPDATE SET count = verification_counts.count + excluded.count",
                &[&days, &kinds, &ns],
            )
            .await
            .map_err(crate::backend)?;
        Ok(())
    }

    async fn verification_counts(&self, since: &str) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT day, kind, count FROM verification_counts WHERE day >= $1 ORDER BY day, kind",
                &[&since],
            )
            .await
            .map_err(crate::backend)?;
        counts_of(&rows)
    }

    async fn issuance_by_month(
        &self,
        org: &zhengzhao_domain::org::OrgCode,
        since: jiff::Timestamp,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT to_char(l.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') AS month, a.code, count(*)
                 FROM licenses l
                 JOIN org_closure cl ON cl.descendant_id = l.issuer_id
                 JOIN orgs a ON a.id = cl.ancestor_id
                 WHERE (a.parent_id = (SELECT id FROM orgs WHERE code = $1) OR (a.code = $1 AND cl.depth = 0))
                   AND l.created_at >= $2
                 GROUP BY month, a.code ORDER BY month, a.code",
                &[&org.as_str(), &since],
            )
            .await
            .map_err(crate::backend)?;
        counts_of(&rows)
    }

    async fn deliveries_of_licenses(&self, keys: &[i64]) -> StoreResult<Vec<DeliveryRecord>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        crate::outbox::channel_deliveries(&self.client().await?, keys).await
    }

    async fn deliveries_of(&self, key: i64) -> StoreResult<Vec<DeliveryRecord>> {
        crate::outbox::channel_deliveries(&self.client().await?, &[key]).await
    }
}
