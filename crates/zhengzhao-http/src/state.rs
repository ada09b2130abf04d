//! What every request handler shares.

use crate::config::ServerConfig;
use crate::http::metrics::Metrics;
use std::sync::Arc;
use zhengzhao_core::Library;

/// Cloned for every request (axum hands each extractor its own copy): one
/// reference count, not one per shared part (a profile of `/healthz` spent
/// 6 % of its CPU cloning and dropping the parts one by one).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub library: Library,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<Metrics>,
}
