//! The license library's HTTP frontend: routes, extractors, the mapping of
//! core errors to problem documents, rate limits, TLS, metrics, OpenAPI and
//! the pages. Every use case lives in `zhengzhao-core`; a handler turns a
//! request into a `Principal` and a call on the `Library`, and its answer
//! into a response. No module here touches the store.
//!
//! [`Application::build`] is the one way to make a running library: `main`
//! calls it with the configured address, the tests with port 0 and a fresh
//! database.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod oidc;
pub mod signed_request;
pub mod state;
pub mod webhook;

pub use app::{Application, open_store};
pub use config::ServerConfig;
