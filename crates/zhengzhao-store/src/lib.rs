//! The storage boundary of the library.
//!
//! [`Store`] is implemented once per database backend (`zhengzhao-store-sqlite`,
//! `zhengzhao-store-postgres`); both must pass [`conformance`]. Every method that
//! changes state takes a [`ChangeLog`]: the audit event and outbox messages are
//! written in the same transaction as the change, or nothing is written.

mod aggregates;
mod audit_tree;
mod error;
mod holder_sessions;
mod incidents;
mod licenses;
mod objections;
mod outbox;
mod records;
pub mod rules;
mod scenarios;
mod staff;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use aggregates::*;
pub use audit_tree::*;
pub use error::StoreError;
pub use holder_sessions::*;
pub use incidents::*;
pub use licenses::*;
pub use objections::*;
pub use outbox::*;
pub use records::*;
pub use scenarios::*;
pub use staff::*;

use async_trait::async_trait;

pub type StoreResult<T> = Result<T, StoreError>;

/// The storage traits, for callers of `dyn Store` methods.
pub mod prelude {
    pub use crate::{
        AuditStore, CatalogStore, ConsentStore, HolderSessionStore, KeyStore, LicenseStore,
        ObjectionStore, OrgStore, OutboxStore, ScenarioStore, StaffStore, Store, TokenStore,
        UsageListStore,
    };
}

/// Everything the library keeps, as one handle: the storage of each
/// aggregate is its own trait (a new feature adds a trait, not fifty lines
/// to one), and `Store` is all of them plus what concerns the database as a
/// whole. Callers hold `Arc<dyn Store>`, whose methods include every
/// aggregate's; generic code over `S: Store` brings the aggregate traits
/// into scope with `use zhengzhao_store::prelude::*`.
#[async_trait]
pub trait Store:
    OrgStore
    + CatalogStore
    + TokenStore
    + StaffStore
    + KeyStore
    + LicenseStore
    + AuditStore
    + ScenarioStore
    + ConsentStore
    + UsageListStore
    + HolderSessionStore
    + OutboxStore
    + IncidentStore
    + ObjectionStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`, for logs and metrics.
    fn backend(&self) -> &'static str;

    /// Succeeds once the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    /// Connection-pool gauges for `/metrics`.
    fn pool_status(&self) -> PoolStatus;

    /// Whether first-start seeding has happened.
    async fn is_seeded(&self) -> StoreResult<bool>;

    /// First start: the org tree, the default catalog and the first admin
    /// token, in one transaction. Fails with `Conflict` if already seeded.
    async fn seed(&self, seed: &Seed, log: &ChangeLog) -> StoreResult<()>;

    /// Write a consistent copy of the whole library to `to` while serving
    /// (SQLite). Backends with their own tools (PostgreSQL: `pg_dump`) say so
    /// with `Backend`.
    async fn backup_to(&self, to: &std::path::Path) -> StoreResult<()>;
}
