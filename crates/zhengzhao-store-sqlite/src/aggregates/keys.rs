//! Signing keys (with their revocations) and the data keys that seal personal fields.

use crate::{SqliteStore, backend, journal, keys, ts, uuid_of};
use async_trait::async_trait;
use zhengzhao_domain::org::OrgCode;
use zhengzhao_store::*;

#[async_trait]
impl KeyStore for SqliteStore {
    async fn add_data_key(&self, key: &DataKeyRecord, log: &ChangeLog) -> StoreResult<()> {
        let (key, log) = (key.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO data_keys (id, wrapped_key, created_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    key.id.to_string(),
                    key.wrapped_key,
                    key.created_at.to_string()
                ],
            )
            .map_err(backend)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn data_keys(&self) -> StoreResult<Vec<DataKeyRecord>> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, wrapped_key, created_at FROM data_keys ORDER BY created_at, id",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| <(String, Vec<u8>, String)>::try_from(r))
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            rows.into_iter()
                .map(|(id, wrapped_key, at)| {
                    Ok(DataKeyRecord {
                        id: uuid_of(&id)?,
                        wrapped_key,
                        created_at: ts(&at)?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn add_signing_key(
        &self,
        key: &SigningKeyRecord,
        retire_active: bool,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (key, log) = (key.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            keys::add(tx, &key, retire_active)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn active_signing_key(
        &self,
        org: Option<&OrgCode>,
        purpose: KeyPurpose,
    ) -> StoreResult<Option<SigningKeyRecord>> {
        let org = org.cloned();
        self.read(move |c| keys::active(c, org.as_ref(), purpose))
            .await
    }

    async fn signing_key(&self, id: uuid::Uuid) -> StoreResult<Option<SigningKeyRecord>> {
        self.read(move |c| keys::by_id(c, id)).await
    }

    async fn revoke_signing_key(
        &self,
        revocation: &KeyRevocation,
        log: &ChangeLog,
    ) -> StoreResult<()> {
        let (r, log) = (revocation.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            keys::revoke(tx, &r)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn key_revocations(&self) -> StoreResult<Vec<KeyRevocation>> {
        self.read(keys::revocations).await
    }

    async fn signing_keys(&self, org: Option<&OrgCode>) -> StoreResult<Vec<SigningKeyRecord>> {
        let org = org.cloned();
        self.read(move |c| keys::of_org(c, org.as_ref())).await
    }
}
