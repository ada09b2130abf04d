//! Statements prepared once per connection.
//!
//! tokio-postgres prepares a statement given as text on every call (a round
//! trip to the server to parse and plan it, then another to run it).
//! Every query of this backend goes through [`Db`] instead, which takes the
//! statement from deadpool's per-connection cache (`prepare_cached`): the
//! first use on a connection prepares it, later uses only bind and run.
//! Both pooled connections and transactions are `Db`.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// A connection or transaction whose statements are prepared once.
#[async_trait]
pub(crate) trait Db: Sync {
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>;
    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>;
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error>;
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>;
    /// Run statements that take no parameters (locks, DDL), unprepared.
    async fn batch_execute(&self, sql: &str) -> Result<(), Error>;
}

#[async_trait]
impl<C: GenericClient> Db for C {
    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::query(self, &statement, params).await
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::query_one(self, &statement, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::query_opt(self, &statement, params).await
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let statement = self.prepare_cached(sql).await?;
        GenericClient::execute(self, &statement, params).await
    }

    async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        GenericClient::batch_execute(self, sql).await
    }
}
