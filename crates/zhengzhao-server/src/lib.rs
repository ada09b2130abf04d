//! The license library's service layer and HTTP API.
//!
//! [`Application::build`] is the one way to make a running library: `main`
//! calls it with the configured address, the tests with port 0 and a fresh
//! database.

pub mod app;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod error;
pub mod http;
pub mod service;
pub mod signed_request;
pub mod state;

pub use app::{Application, open_store};
pub use config::ServerConfig;
