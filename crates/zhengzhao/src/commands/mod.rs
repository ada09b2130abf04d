//! One module per command of the binary; `main.rs` parses and dispatches.

pub(crate) mod audit;
pub(crate) mod backup;
pub(crate) mod import;
pub(crate) mod incidents;
pub(crate) mod keys;
pub(crate) mod outbox;
pub(crate) mod reconcile;
pub(crate) mod serve;
pub(crate) mod token;
pub(crate) mod user;
