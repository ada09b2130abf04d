//! Prometheus metrics: requests by route and status, latency by route, the
//! database pool, and the background check of the audit log. Served as
//! OpenMetrics text at `/metrics`.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Instant;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboxLabels {
    destination: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabels {
    destination: String,
}

/// The outbox relay's backlog per destination, read at each scrape.
#[derive(Default)]
struct OutboxGauges {
    /// Rows by state (pending, in_flight, rejected, parked).
    rows: Family<OutboxLabels, Gauge>,
    /// Seconds since the oldest undelivered message was written (0: none).
    oldest_age: Family<DestinationLabels, Gauge>,
}

/// Password hashing and refused logins (`service::login_limits`), read
/// from the library when `/metrics` is rendered.
struct LoginMetrics {
    hash_slots: Gauge,
    hash_running: Gauge,
    hash_peak: Gauge,
    refused: Family<RefusalLabels, Counter>,
    /// Serialises bringing the counters up to the library's totals.
    sync: std::sync::Mutex<()>,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    pool_size: Gauge,
    pool_available: Gauge,
    audit: AuditGauges,
    login: LoginMetrics,
    outbox: OutboxGauges,
    /// Backlog items past their due day (Art. 9).
    backlog_overdue: Gauge,
    /// Objections past the due day of the step they wait for (Art. 19).
    objections_overdue: Gauge,
}

/// The background check of the audit log (`Library::sweep_audit`).
#[derive(Default)]
struct AuditGauges {
    ok: Gauge,
    first_bad_seq: Gauge,
    checked: Gauge,
    passes: Gauge,
}

impl AuditGauges {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "audit_integrity_ok",
            "1 while every audit entry checked in the background matches the tree and its signed checkpoints; 0 once one does not",
            self.ok.clone(),
        );
        registry.register(
            "audit_integrity_first_bad_seq",
            "The seq of the first audit entry found not to match (0: none, or no single entry to blame)",
            self.first_bad_seq.clone(),
        );
        registry.register(
            "audit_sweep_checked_entries",
            "Audit entries hashed again by the background check since the start",
            self.checked.clone(),
        );
        registry.register(
            "audit_sweep_passes",
            "Completed background passes over the whole audit log since the start",
            self.passes.clone(),
        );
    }

    fn set(&self, found: &zhengzhao_core::audit_log::AuditIntegrity) {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.ok.set(i64::from(found.problem.is_none()));
        self.first_bad_seq
            .set(found.problem.as_ref().and_then(|p| p.seq).unwrap_or(0));
        self.checked.set(int(found.entries_checked));
        self.passes.set(int(found.passes));
    }
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~8 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

impl Metrics {
    pub fn new(backend: &'static str) -> Self {
        let mut registry = Registry::with_prefix("zhengzhao");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let pool_size = Gauge::default();
        let pool_available = Gauge::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        let db = registry.sub_registry_with_label(("backend".into(), backend.into()));
        db.register(
            "db_pool_size",
            "Database connections in the pool",
            pool_size.clone(),
        );
        db.register(
            "db_pool_available",
            "Database connections free to use",
            pool_available.clone(),
        );
        let audit = AuditGauges::default();
        audit.register(&mut registry);
        let login = LoginMetrics {
            hash_slots: Gauge::default(),
            hash_running: Gauge::default(),
            hash_peak: Gauge::default(),
            refused: Family::default(),
            sync: std::sync::Mutex::new(()),
        };
        registry.register(
            "password_hash_slots",
            "Password hashes (argon2id) allowed at once",
            login.hash_slots.clone(),
        );
        registry.register(
            "password_hash_running",
            "Password hashes running now",
            login.hash_running.clone(),
        );
        registry.register(
            "password_hash_peak",
            "The most password hashes that ran at once since start",
            login.hash_peak.clone(),
        );
        registry.register(
            "login_refused",
            "Logins refused before any check: by the per-address or per-username limit, or busy hashing",
            login.refused.clone(),
        );
        let outbox = OutboxGauges::default();
        registry.register(
            "outbox_messages",
            "Outbox relay rows not yet delivered, by destination and state",
            outbox.rows.clone(),
        );
        registry.register(
            "outbox_oldest_undelivered_age_seconds",
            "Age of the oldest message a destination has not yet received",
            outbox.oldest_age.clone(),
        );
        let backlog_overdue = Gauge::default();
        registry.register(
            "backlog_overdue_items",
            "Emergency backlog items not done after their due day (Art. 9)",
            backlog_overdue.clone(),
        );
        let objections_overdue = Gauge::default();
        registry.register(
            "objections_overdue",
            "Objections past the due day of the step they wait for (Art. 19)",
            objections_overdue.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            pool_size,
            pool_available,
            audit,
            login,
            outbox,
            backlog_overdue,
            objections_overdue,
        }
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// Route-layer middleware: the route label is the matched pattern
/// (`/api/v1/catalog/{code}`), never the raw path, so cardinality stays bounded.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    state.metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// `GET /metrics`
pub async fn render(State(state): State<AppState>) -> Response {
    let pool = state.library.pool_status();
    let m = &state.metrics;
    m.pool_size
        .set(i64::try_from(pool.size).unwrap_or(i64::MAX));
    m.pool_available
        .set(i64::try_from(pool.available).unwrap_or(i64::MAX));
    m.audit.set(&state.library.audit_integrity());
    let stats = state.library.login_stats();
    let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    m.login.hash_slots.set(gauge(stats.hash_slots));
    m.login.hash_running.set(gauge(stats.hash_running));
    m.login.hash_peak.set(gauge(stats.hash_peak));
    if let Ok(_sync) = m.login.sync.lock() {
        for (reason, total) in [
            ("address", stats.refused_address),
            ("username", stats.refused_username),
            ("busy", stats.refused_busy),
        ] {
            let counter = m.login.refused.get_or_create(&RefusalLabels { reason });
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }
    match state.library.outbox_summary().await {
        Ok(summary) => {
            let now = state.library.now();
            for d in summary {
                for (label, n) in [
                    ("pending", d.pending),
                    ("in_flight", d.in_flight),
                    ("rejected", d.rejected),
                    ("parked", d.parked),
                ] {
                    m.outbox
                        .rows
                        .get_or_create(&OutboxLabels {
                            destination: d.destination.clone(),
                            state: label,
                        })
                        .set(i64::try_from(n).unwrap_or(i64::MAX));
                }
                let age = d
                    .oldest_undelivered_at
                    .map_or(0, |t| now.duration_since(t).as_secs().max(0));
                m.outbox
                    .oldest_age
                    .get_or_create(&DestinationLabels {
                        destination: d.destination,
                    })
                    .set(age);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the outbox backlog for metrics"),
    }
    match state.library.open_backlog().await {
        Ok(open) => {
            let overdue = open.iter().filter(|(_, i)| i.state == "overdue").count();
            m.backlog_overdue
                .set(i64::try_from(overdue).unwrap_or(i64::MAX));
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the emergency backlog for metrics"),
    }
    match state.library.overdue_objections().await {
        Ok(n) => {
            m.objections_overdue
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the objections for metrics"),
    }
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &m.registry) {
        return crate::error::ApiError(zhengzhao_core::Error::Internal(format!(
            "metrics encoding: {e}"
        )))
        .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
