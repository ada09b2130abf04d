//! The `zhengzhao_store` aggregate traits for [`SqliteStore`](crate::SqliteStore), one file each;
//! the SQL they run is in the crate's modules of the same names.

mod audit;
mod catalog;
mod holder_sessions;
mod incidents;
mod keys;
mod licenses;
mod objections;
mod orgs;
mod outbox;
mod scenarios;
mod staff;
mod tokens;
