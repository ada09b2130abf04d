//! Rate limits per client address on the public endpoints (verification):
//! a GCRA bucket per IP (`governor`), answered with 429 and `Retry-After`.
//! Callers with a token are limited the same way: the limit protects the
//! service, not the data. Behind a trusted proxy the address is the one it
//! forwarded (`tls::resolve_client`).

use crate::http::tls::client_ip;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use zhengzhao_core::Error;

/// Requests per second per address, and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicRateLimit {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for PublicRateLimit {
    fn default() -> Self {
        Self {
            per_second: 50,
            burst: 100,
        }
    }
}

pub struct PublicLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    seen: AtomicU64,
}

impl PublicLimiter {
    /// `n` requests a minute per address, all at once at most (the
    /// objection tracking page); `None` when `n` is 0.
    pub fn per_minute(n: u32) -> Option<Arc<Self>> {
        let n = NonZeroU32::new(n)?;
        Some(Arc::new(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)),
            clock: DefaultClock::default(),
            seen: AtomicU64::new(0),
        }))
    }

    /// `None` when the limit is off (a rate of 0).
    pub fn new(limit: PublicRateLimit) -> Option<Arc<Self>> {
        let rate = NonZeroU32::new(limit.per_second)?;
        let burst = NonZeroU32::new(limit.burst.max(limit.per_second)).unwrap_or(rate);
        Some(Arc::new(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            seen: AtomicU64::new(0),
        }))
    }
}

pub async fn limit_public(
    State(limiter): State<Option<Arc<PublicLimiter>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = limiter else {
        return next.run(request).await;
    };
    // Behind a trusted proxy, the address it forwarded.
    let ip = client_ip(request.extensions());
    if let Some(ip) = ip {
        // Forget idle addresses now and then, so the table stays small.
        if limiter.seen.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            limiter.limiter.retain_recent();
        }
        if let Err(not_until) = limiter.limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(limiter.clock.now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return crate::error::ApiError(Error::TooManyRequests(secs.max(1))).into_response();
        }
    }
    next.run(request).await
}
