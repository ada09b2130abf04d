//! Limits on logins, so that a flood of them neither exhausts the machine
//! nor fills the audit log:
//!
//! - Attempts per client address and per username (GCRA buckets,
//!   `governor`), checked before the account is even looked up: an attempt
//!   refused here checks nothing, counts nothing towards the lockout and
//!   writes no audit event (it is counted in `/metrics`).
//! - Password hashing (argon2id: 19 MiB and tens of milliseconds each) runs
//!   in at most `hash_concurrency` blocking threads at once. A login that
//!   finds every slot taken may wait in a short queue; beyond it, it is
//!   answered 503 with `Retry-After` at once. Hashing for authenticated
//!   callers (a security admin creating or resetting an account, a user
//!   changing a password) waits its turn instead.

use crate::{Error, Result};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::{Semaphore, TryAcquireError};

/// Attempts per minute, and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRate {
    /// 0 turns this limit off.
    pub per_minute: u32,
    pub burst: u32,
}

impl LoginRate {
    pub const OFF: Self = Self {
        per_minute: 0,
        burst: 0,
    };
}

/// The limits on logins (part of the `SessionPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Per client address (an office behind one NAT shares it).
    pub per_address: LoginRate,
    /// Per username, whether or not the account exists.
    pub per_username: LoginRate,
    /// Password hashes computed at once (default: the number of cores).
    pub hash_concurrency: usize,
    /// Logins that may wait for a hashing slot; more are answered 503.
    pub hash_queue: usize,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self {
            per_address: LoginRate {
                per_minute: 30,
                burst: 30,
            },
            per_username: LoginRate {
                per_minute: 10,
                burst: 10,
            },
            hash_concurrency: cores,
            hash_queue: cores * 2,
        }
    }
}

/// Whether a hashing request may wait in the short queue only, or as long
/// as it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    /// A login (anyone may send one): the short queue, else 503 at once.
    Short,
    /// An authenticated caller's: waits its turn.
    Wait,
}

/// Counters for `/metrics` and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginStats {
    /// The bound on password hashes at once.
    pub hash_slots: usize,
    /// Hashes running now.
    pub hash_running: usize,
    /// The most hashes that ever ran at once since start.
    pub hash_peak: usize,
    /// Logins refused at once because every slot and the queue were taken.
    pub refused_busy: u64,
    /// Logins refused by the per-address limit.
    pub refused_address: u64,
    /// Logins refused by the per-username limit.
    pub refused_username: u64,
}

struct Limiter {
    buckets: DefaultKeyedRateLimiter<String>,
    refused: AtomicU64,
}

impl Limiter {
    fn new(rate: LoginRate) -> Option<Self> {
        let per_minute = NonZeroU32::new(rate.per_minute)?;
        let burst = NonZeroU32::new(rate.burst.max(rate.per_minute)).unwrap_or(per_minute);
        Some(Self {
            buckets: RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            refused: AtomicU64::new(0),
        })
    }
}

/// The login limits in force, shared by every clone of the `Library`.
pub(crate) struct LoginGuard {
    by_address: Option<Limiter>,
    by_username: Option<Limiter>,
    clock: DefaultClock,
    checks: AtomicU64,
    hashing: Arc<HashGate>,
}

impl Default for LoginGuard {
    fn default() -> Self {
        Self::new(LoginLimits::default())
    }
}

impl LoginGuard {
    pub(crate) fn new(limits: LoginLimits) -> Self {
        Self {
            by_address: Limiter::new(limits.per_address),
            by_username: Limiter::new(limits.per_username),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
            hashing: Arc::new(HashGate::new(limits.hash_concurrency, limits.hash_queue)),
        }
    }

    fn check(&self, limiter: Option<&Limiter>, key: &str) -> Result<()> {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        // Forget idle keys now and then, so the tables stay small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            if let Some(l) = &self.by_address {
                l.buckets.retain_recent();
            }
            if let Some(l) = &self.by_username {
                l.buckets.retain_recent();
            }
        }
        match limiter.buckets.check_key(&key.to_owned()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                limiter.refused.fetch_add(1, Ordering::Relaxed);
                let wait = not_until.wait_time_from(self.clock.now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(Error::TooManyRequests(secs.max(1)))
            }
        }
    }

    /// One more attempt from this address (an unknown address shares one bucket).
    pub(crate) fn check_address(&self, addr: Option<&str>) -> Result<()> {
        self.check(self.by_address.as_ref(), addr.unwrap_or("unknown"))
    }

    /// One more attempt for this (well-formed, so short) username.
    pub(crate) fn check_username(&self, username: &str) -> Result<()> {
        self.check(self.by_username.as_ref(), username)
    }

    pub(crate) fn hashing(&self) -> &Arc<HashGate> {
        &self.hashing
    }

    pub(crate) fn stats(&self) -> LoginStats {
        let refused =
            |l: &Option<Limiter>| l.as_ref().map_or(0, |l| l.refused.load(Ordering::Relaxed));
        LoginStats {
            hash_slots: self.hashing.slots,
            hash_running: self.hashing.running.load(Ordering::SeqCst),
            hash_peak: self.hashing.peak.load(Ordering::SeqCst),
            refused_busy: self.hashing.refused.load(Ordering::Relaxed),
            refused_address: refused(&self.by_address),
            refused_username: refused(&self.by_username),
        }
    }
}

/// At most `slots` password hashes at once, each on a blocking thread that
/// holds its slot until the hash is done (even if the request that asked
/// for it has gone away).
pub(crate) struct HashGate {
    semaphore: Arc<Semaphore>,
    slots: usize,
    max_waiting: usize,
    waiting: AtomicUsize,
    running: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicU64,
}

/// Takes one off a counter when dropped (a waiter served or gone).
struct Decrement<'a>(&'a AtomicUsize);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running hash: counted from start to end, even if it panics.
struct Running(Arc<HashGate>);

impl Running {
    fn start(gate: Arc<HashGate>) -> Self {
        let now = gate.running.fetch_add(1, Ordering::SeqCst) + 1;
        gate.peak.fetch_max(now, Ordering::SeqCst);
        Self(gate)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashGate {
    fn new(slots: usize, max_waiting: usize) -> Self {
        let slots = slots.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            semaphore: Arc::new(Semaphore::new(slots)),
            slots,
            max_waiting,
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Run `work` (a password hash or check) on a blocking thread once a
    /// slot is free. With `Queue::Short`, when every slot is taken and the
    /// queue is full: `Error::Busy` at once.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, queue: Queue, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let closed = |_| Error::Internal("password hashing has stopped".into());
        let permit = match self.semaphore.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => {
                return Err(Error::Internal("password hashing has stopped".into()));
            }
            Err(TryAcquireError::NoPermits) => match queue {
                Queue::Wait => self
                    .semaphore
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(closed)?,
                Queue::Short => {
                    let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
                    let _served = Decrement(&self.waiting);
                    if ahead >= self.max_waiting {
                        self.refused.fetch_add(1, Ordering::Relaxed);
                        return Err(Error::Busy(1));
                    }
                    self.semaphore
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(closed)?
                }
            },
        };
        let gate = self.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            let _running = Running::start(gate);
            work()
        })
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_gate_bounds_work_and_refuses_beyond_the_queue() {
        let gate = Arc::new(HashGate::new(2, 3));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(std::sync::Mutex::new(hold));
        // Two run and block until released; three wait; the rest are refused.
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (gate, hold) = (gate.clone(), hold.clone());
            tasks.push(tokio::spawn(async move {
                gate.run(Queue::Short, move || {
                    let _ = hold.lock().map(|h| h.recv());
                })
                .await
            }));
        }
        while gate.waiting.load(Ordering::SeqCst) < 3 || gate.running.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        let refused = gate.run(Queue::Short, || ()).await;
        assert!(matches!(refused, Err(Error::Busy(1))), "{refused:?}");
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert!(gate.peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(gate.running.load(Ordering::SeqCst), 0);
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
        assert_eq!(gate.refused.load(Ordering::SeqCst), 1);
    }
}
