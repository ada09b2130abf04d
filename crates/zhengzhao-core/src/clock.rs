//! The library's one source of "now". Every use case reads the time from
//! the [`Clock`] its `Library` was built with: the system clock in a server,
//! an [`AdjustableClock`] in tests, which move time forward instead of
//! sleeping (session timeouts, presentation expiry, TOTP steps; the
//! working-day deadlines of objections will depend on it too).

use jiff::{SignedDuration, Timestamp};
use std::sync::Mutex;

pub trait Clock: Send + Sync + 'static {
    /// Now, to the microsecond: both backends store microseconds, so a time
    /// read back equals the time written.
    fn now(&self) -> Timestamp;
}

fn to_microseconds(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        to_microseconds(Timestamp::now())
    }
}

/// The system clock plus an offset that only grows: time still flows as in
/// a server, and a test jumps ahead with [`AdjustableClock::advance`].
#[derive(Debug, Default)]
pub struct AdjustableClock {
    offset: Mutex<SignedDuration>,
}

impl AdjustableClock {
    pub fn new() -> Self {
        Self::default()
    }

    /// Move this clock `by` into the future.
    pub fn advance(&self, by: std::time::Duration) {
        let by = SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX);
        if let Ok(mut offset) = self.offset.lock() {
            *offset = offset.saturating_add(by);
        }
    }
}

impl Clock for AdjustableClock {
    fn now(&self) -> Timestamp {
        let offset = self.offset.lock().map(|o| *o).unwrap_or_default();
        let now = Timestamp::now();
        to_microseconds(now.checked_add(offset).unwrap_or(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjustable_clock_jumps_ahead_and_keeps_running() {
        let clock = AdjustableClock::new();
        let before = SystemClock.now();
        clock.advance(std::time::Duration::from_secs(3600));
        let later = clock.now();
        assert!(later.duration_since(before) >= SignedDuration::from_secs(3600));
        assert!(later.duration_since(before) < SignedDuration::from_secs(3660));
        assert!(clock.now() >= later);
        assert_eq!(later.subsec_nanosecond() % 1000, 0);
    }
}
