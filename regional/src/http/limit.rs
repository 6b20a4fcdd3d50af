//! Fixed-window request counters for 429 answers: per tenant (requests per
//! minute) and per source address (failed authentications per minute).
//!
//! A fixed one-minute window is coarse but bounded in memory and enough to
//! stop a flood or a key-guessing run; the edge does the fine-grained
//! sliding-window limiting with kefu-core's `ratelimit`.

use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_MS: u64 = 60_000;
/// Beyond this many tracked keys, windows that have ended are dropped.
const MAX_KEYS: usize = 100_000;

/// Counters keyed by tenant or address.
#[derive(Debug, Default)]
pub struct Limiter {
    windows: Mutex<HashMap<String, (u64, u32)>>,
}

impl Limiter {
    /// Counts one event for `key` at `now_ms`; `Err(retry_after_secs)` once
    /// more than `limit` happened in the current window.
    pub fn hit(&self, key: &str, limit: u32, now_ms: u64) -> Result<(), u64> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let start = now_ms - now_ms % WINDOW_MS;
        if w.len() >= MAX_KEYS {
            w.retain(|_, (s, _)| *s == start);
        }
        let e = w.entry(key.to_owned()).or_insert((start, 0));
        if e.0 != start {
            *e = (start, 0);
        }
        e.1 = e.1.saturating_add(1);
        if e.1 > limit {
            return Err((start + WINDOW_MS - now_ms).div_ceil(1000).max(1));
        }
        Ok(())
    }

    /// Whether `key` is already over `limit` in the current window (without counting).
    pub fn over(&self, key: &str, limit: u32, now_ms: u64) -> Option<u64> {
        let w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let start = now_ms - now_ms % WINDOW_MS;
        match w.get(key) {
            Some((s, n)) if *s == start && *n >= limit => {
                Some((start + WINDOW_MS - now_ms).div_ceil(1000).max(1))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_a_window_and_resets_after() {
        let l = Limiter::default();
        let t0 = 120_000;
        assert!(l.hit("a", 2, t0).is_ok());
        assert!(l.hit("a", 2, t0 + 1).is_ok());
        assert_eq!(l.hit("a", 2, t0 + 30_000), Err(30));
        assert!(l.hit("b", 2, t0).is_ok(), "keys are independent");
        assert!(
            l.hit("a", 2, t0 + WINDOW_MS).is_ok(),
            "a new window starts fresh"
        );
    }
}
