//! API tokens, and the nonces of requests signed with them.

use crate::{PgStore, backend, tokens};
use async_trait::async_trait;
use zhengzhao_store::*;

#[async_trait]
impl TokenStore for PgStore {
    async fn create_token(&self, token: &NewToken, log: &ChangeLog) -> StoreResult<()> {
        journaled!(self, log, |tx| {
            tokens::insert(&tx, token).await?;
        })
    }

    async fn token_by_hash(&self, hash: &[u8]) -> StoreResult<Option<TokenRecord>> {
        tokens::by_hash(&self.client().await?, hash).await
    }

    async fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        tokens::all(&self.client().await?).await
    }

    async fn revoke_token(
        &self,
        id: uuid::Uuid,
        at: jiff::Timestamp,
        log: &ChangeLog,
    ) -> StoreResult<TokenRecord> {
        journaled!(self, log, |tx| { tokens::revoke(&tx, id, at).await? })
    }

    async fn use_request_nonce(
        &self,
        token: uuid::Uuid,
        nonce: &str,
        expires_at: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> StoreResult<()> {
        // Inserted, or an expired entry taken over: one row. A live entry
        // (committed by any node, or waited for if in flight): none.
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO request_nonces (token_id, nonce, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (token_id, nonce) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE request_nonces.expires_at <= $4",
                &[&token, &nonce, &expires_at, &now],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::Conflict("nonce already used".into()));
        }
        Ok(())
    }

    async fn purge_request_nonces(&self, now: jiff::Timestamp) -> StoreResult<u64> {
        self.client()
            .await?
            .execute("DELETE FROM request_nonces WHERE expires_at <= $1", &[&now])
            .await
            .map_err(backend)
    }
}
