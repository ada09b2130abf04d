//! The license library's core: every use case, who may do it, and the
//! identities that ask. It knows nothing of HTTP: the HTTP crate
//! (`zhengzhao-http`) and the command line (`zhengzhao`) are frontends that
//! turn their input into a [`Principal`] and a call on [`Library`], and map
//! [`Error`] to their own form (a problem document, an exit code).
//!
//! Each use case checks permission (`policy`), validates, and writes the
//! state with its audit event (and outbox messages) in one storage
//! transaction.

pub mod audit_log;
pub mod audit_search;
pub mod backup;
pub mod batch_check;
pub mod cache;
mod capability;
pub mod catalog;
pub mod certificates;
pub mod check_counts;
pub mod clock;
pub mod consent_requests;
pub mod console;
pub mod copies;
pub mod credentials;
pub mod crl;
pub mod disclosure;
pub mod document_check;
pub mod error;
pub mod holder_rules;
pub mod holder_sign_in;
pub mod holders;
pub mod import;
pub mod incidents;
pub mod keys;
pub mod library;
pub mod license_reads;
pub mod licenses;
pub mod login_limits;
pub mod objections;
pub mod orgs;
pub mod outbox;
pub mod pdf_signature;
pub mod policy;
pub mod presentation;
pub mod principal;
pub mod printing;
pub mod privacy;
pub mod reconcile;
pub mod scenarios;
pub mod secrets;
pub mod seed;
pub mod setup;
mod share_record;
pub mod shared;
pub mod signed_request;
pub mod staff;
pub mod status_list;
pub mod tokens;
pub mod urls;
pub mod usage_lists;
pub mod vc;
pub mod verify;

pub use error::{Error, ErrorKind, Result};
pub use library::{Actor, Library, china_tz};
pub use principal::{ActorId, HolderVia, Principal, SessionInfo};
