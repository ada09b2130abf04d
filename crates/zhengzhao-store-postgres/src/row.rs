//! Reading columns without panicking.
//!
//! `Row::get` panics when a column's type does not match or its index is out
//! of range; a row comes from outside, so every read goes through
//! [`RowExt::col`] instead, which turns such a mismatch into
//! [`StoreError::Corrupt`].

use tokio_postgres::Row;
use tokio_postgres::types::FromSql;
use zhengzhao_store::{StoreError, StoreResult};

pub(crate) trait RowExt {
    /// Column `idx` of a `what` row (`"org"`, `"token"`, ...), as a `T`.
    fn col<'a, T: FromSql<'a>>(&'a self, idx: usize, what: &str) -> StoreResult<T>;
}

impl RowExt for Row {
    fn col<'a, T: FromSql<'a>>(&'a self, idx: usize, what: &str) -> StoreResult<T> {
        self.try_get(idx)
            .map_err(|e| StoreError::Corrupt(format!("{what} row: {e}")))
    }
}
