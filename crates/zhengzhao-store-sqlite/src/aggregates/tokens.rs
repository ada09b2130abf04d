//! API tokens, and the nonces of requests signed with them.

use crate::{SqliteStore, backend, journal, tokens};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl TokenStore for SqliteStore {
    async fn create_token(&self, token: &NewToken, log: &ChangeLog) -> StoreResult<()> {
        let (token, log) = (token.clone(), journal::PreparedLog::new(log));
        self.write(move |tx| {
            tokens::insert(tx, &token)?;
            journal::append(tx, &log)
        })
        .await
    }

    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
        // On every authenticated request: one unique-index lookup, run on
        // the caller's thread (a blocking-pool hand-off costs more).
        self.inner
            .readers
            .run_point(|c| tokens::by_hash(c, hash))
            .await
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        self.read(tokens::all).await
    }

    async fn revoke_token(
        &self,
        id: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<TokenRecord> {
        let log = journal::PreparedLog::new(log);
        self.write(move |tx| {
            let t = tokens::revoke(tx, id, at)?;
            journal::append(tx, &log)?;
            Ok(t)
        })
        .await
    }

    async fn use_request_nonce(
        &self,
        token: uuid::Uuid,
        nonce: &str,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> StoreResult<()> {
        let (token, nonce) = (token.to_string(), nonce.to_owned());
        let (expires, now) = (expires_at.as_second(), now.as_second());
        self.write(move |tx| {
            // Inserted, or an expired entry taken over: one row changed.
            // A live entry: none.
            let n = tx
                .execute(
                    "INSERT INTO request_nonces (token_id, nonce, expires_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (token_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
                     WHERE request_nonces.expires_at <= ?4",
                    rusqlite::params![token, nonce, expires, now],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::Conflict("nonce already used".into()));
            }
            Ok(())
        })
        .await
    }

    async fn purge_request_nonces(&self, now: jiff::Timestamp) -> StoreResult<u64> {
        let now = now.as_second();
        self.write(move |tx| {
            let n = tx
                .execute("DELETE FROM request_nonces WHERE expires_at <= ?1", [now])
                .map_err(backend)?;
            Ok(n as u64)
        })
        .await
    }
}
