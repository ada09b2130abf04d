//! Signing keys (with their revocations) and the data keys that seal personal fields.

use crate::row::RowExt;
use crate::{PgStore, backend, classify, keys};
use async_trait::async_trait;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::*;

#[async_trait]
impl KeyStore for PgStore {
    async fn add_data_key(&self, key: &DataKeyRecord, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            tx.execute(
                "INSERT INTO data_keys (id, wrapped_key, created_at) VALUES ($1, $2, $3)",
                &[&key.id, &key.wrapped_key, &key.created_at],
            )
            .await
            .map_err(classify)?;
        })
    }

    async fn data_keys(&self) -> StoreResult<Vec<DataKeyRecord>> {
        self.client()
            .await?
            .query(
                "SELECT id, wrapped_key, created_at FROM data_keys ORDER BY created_at, id",
                &[],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                Ok(DataKeyRecord {
                    id: r.col(0, "data key")?,
                    wrapped_key: r.col(1, "data key")?,
                    created_at: r.col(2, "data key")?,
                })
            })
            .collect()
    }

    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_active: bool,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            keys::add(&tx, key, retire_active).await?;
        })
    }

    async fn active_signing_key(
        &self,
        org: Option<&OrgCode>,
        purpose: KeyPurpose,
    ) -> StoreResult<Option<SigningKeyRecord>> {
        keys::active(&self.client().await?, org, purpose).await
    }

    async fn signing_key(&self, id: uuid::Uuid) -> StoreResult<Option<SigningKeyRecord>> {
        keys::by_id(&self.client().await?, id).await
    }

    async fn revoke_signing_key(
        &self,
        revocation: &KeyRevocation,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            keys::revoke(&tx, revocation).await?;
        })
    }

    async fn key_revocations(&self) -> StoreResult<Vec<KeyRevocation>> {
        keys::revocations(&self.client().await?).await
    }

    async fn signing_keys(&self, org: Option<&OrgCode>) -> StoreResult<Vec<SigningKeyRecord>> {
        keys::of_org(&self.client().await?, org).await
    }
}
