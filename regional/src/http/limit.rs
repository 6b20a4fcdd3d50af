//! Request counters for 429 answers: per tenant (requests per minute) and per
//! source address (failed authentications per minute), on kefu-core's
//! interpolated sliding window ([`kefu_core::ratelimit::SlidingWindow`]), the
//! same limiter the edge uses, so a burst at a minute boundary cannot pass
//! twice the limit.

use std::collections::HashMap;
use std::sync::Mutex;

use kefu_core::ratelimit::{Decision, Limit, SlidingWindow};

const WINDOW_MS: u64 = 60_000;
/// Beyond this many tracked keys, windows idle for two whole windows (which
/// no longer count for anything) are dropped.
const MAX_KEYS: usize = 100_000;

/// Sliding-window counters keyed by tenant or address.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, SlidingWindow>>,
}

fn per_minute(limit: u32) -> Limit {
    // Limits come from validated config (positive); 1 is the safe floor.
    Limit::new(limit.max(1), WINDOW_MS).unwrap_or_else(|_| unreachable_limit())
}

fn unreachable_limit() -> Limit {
    Limit::per_minute(1).expect("1 per minute is a valid limit")
}

fn retry_secs(retry_after_ms: u64) -> u64 {
    retry_after_ms.div_ceil(1000).max(1)
}

impl Limiter {
    /// Counts one event for `key` at `now_ms`; `Err(retry_after_secs)` when
    /// it would exceed `limit` per minute (a refused event is not counted).
    pub fn hit(&self, key: &str, limit: u32, now_ms: u64) -> Result<(), u64> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if w.len() >= MAX_KEYS {
            w.retain(|_, s| now_ms.saturating_sub(s.window_start_ms()) < 2 * WINDOW_MS);
        }
        match w
            .entry(key.to_owned())
            .or_default()
            .check(now_ms, per_minute(limit))
        {
            Decision::Allow { .. } => Ok(()),
            Decision::Deny { retry_after_ms } => Err(retry_secs(retry_after_ms)),
        }
    }

    /// Whether one more event for `key` would exceed `limit` (without counting).
    pub fn over(&self, key: &str, limit: u32, now_ms: u64) -> Option<u64> {
        let w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        match w.get(key)?.peek(now_ms, per_minute(limit)) {
            Decision::Allow { .. } => None,
            Decision::Deny { retry_after_ms } => Some(retry_secs(retry_after_ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_a_window_and_recovers_as_it_slides() {
        let l = Limiter::default();
        let t0 = 120_000;
        assert!(l.hit("a", 2, t0).is_ok());
        assert!(l.hit("a", 2, t0 + 1).is_ok());
        // Full. The interpolated window admits the next event once
        // prev × (1 − elapsed/window) + curr < 2: half-way through the next
        // window, 90 s after the window these two fell in began.
        assert_eq!(l.over("a", 2, t0 + 2), Some(90));
        assert!(l.hit("a", 2, t0 + 30_000).is_err());
        assert!(l.hit("b", 2, t0).is_ok(), "keys are independent");
        assert!(
            l.hit("a", 2, t0 + 2 * WINDOW_MS).is_ok(),
            "two windows later nothing counts"
        );
    }

    #[test]
    fn a_burst_at_the_minute_boundary_does_not_pass_twice_the_limit() {
        // A fixed window would admit 10 at 59.9 s and 10 more at 60.1 s.
        let l = Limiter::default();
        let admitted = (0..10)
            .map(|i| l.hit("k", 10, 59_900 + i))
            .chain((0..10).map(|i| l.hit("k", 10, 60_100 + i)))
            .filter(Result::is_ok)
            .count();
        assert_eq!(admitted, 10);
    }
}
