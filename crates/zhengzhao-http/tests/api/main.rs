//! The server's integration tests, in one binary: each test binary links the
//! whole server, and on two cores two dozen of them took longer to link than
//! to run. Add a module here, never a file beside `tests/api/` (kanidm's rule).
//! Every test starts the real server on port 0 with a fresh database
//! (`common::TestApp`); `both_backends!` runs one on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

#[macro_use]
mod common;

mod audit_log;
mod authorization;
mod authorization_reads;
mod authorization_staff;
mod backup;
mod batch;
mod batch_check;
mod catalog_api;
mod copies;
mod holder_rules;
mod holder_sign_in;
mod holders;
mod incidents;
mod licenses_api;
mod objections;
mod openapi;
mod operations;
mod orgs_api;
mod outbox;
mod pdf_signature;
mod permission_table;
mod presentation;
mod privacy;
mod scenarios;
mod schema_parity;
mod signed_requests;
mod staff;
mod tls;
mod usage_lists;
mod vc;
mod verify;
