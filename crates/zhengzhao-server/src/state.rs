//! What every request handler shares.

use crate::config::ServerConfig;
use crate::http::metrics::Metrics;
use crate::service::Library;
use std::sync::Arc;
use zhengzhao_render::LicenseRenderer;
use zhengzhao_store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub library: Library,
    pub config: Arc<ServerConfig>,
    pub metrics: Arc<Metrics>,
    /// The license file renderer (PDF; an OFD one can sit beside it).
    pub renderer: Arc<dyn LicenseRenderer>,
}
