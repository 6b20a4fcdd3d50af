//! [`Limit`], [`SlidingWindow`] and the single-key [`Decision`].

use core::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// "At most `max` requests in any `window_ms` milliseconds."
///
/// Both parts are non-zero; [`Limit::new`] and deserialisation check that,
/// so a `Limit` in hand is always usable.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Limit {
    max: u32,
    window_ms: u64,
}

impl Limit {
    /// A limit of `max` requests per `window_ms`; both must be non-zero.
    pub fn new(max: u32, window_ms: u64) -> Result<Self> {
        if max == 0 {
            return Err(Error::Invalid("rate limit max must be non-zero"));
        }
        if window_ms == 0 {
            return Err(Error::Invalid("rate limit window must be non-zero"));
        }
        Ok(Self { max, window_ms })
    }

    /// `max` requests per second.
    pub fn per_second(max: u32) -> Result<Self> {
        Self::new(max, 1_000)
    }

    /// `max` requests per minute.
    pub fn per_minute(max: u32) -> Result<Self> {
        Self::new(max, 60_000)
    }

    /// For compile-time constants the caller has checked are non-zero.
    pub(crate) const fn from_nonzero(max: u32, window_ms: u64) -> Self {
        Self { max, window_ms }
    }

    /// The most requests admitted per window.
    pub const fn max(&self) -> u32 {
        self.max
    }

    /// The window length in milliseconds.
    pub const fn window_ms(&self) -> u64 {
        self.window_ms
    }
}

impl fmt::Debug for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Limit({}/{}ms)", self.max, self.window_ms)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            max: u32,
            window_ms: u64,
        }
        let raw = Raw::deserialize(d)?;
        Limit::new(raw.max, raw.window_ms).map_err(D::Error::custom)
    }
}

/// What a rate check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted. `remaining` more requests would be admitted at this same
    /// instant (the basis of an `X-RateLimit-Remaining` header).
    Allow {
        /// Further requests admissible right now.
        remaining: u32,
    },
    /// Refused, and nothing was counted.
    Deny {
        /// The exact wait, at least 1 ms, after which a request would be
        /// admitted if no other request is admitted in between.
        retry_after_ms: u64,
    },
}

impl Decision {
    /// True for [`Decision::Allow`].
    pub const fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow { .. })
    }
}

/// The counter state of one key: the start of the current fixed window and
/// the admitted-request counts of it and of the window before.
///
/// `SlidingWindow::default()` is the state of a key never seen. Windows lie
/// on the grid `window_start + k × window_ms`, which for a fresh state is
/// aligned to multiples of `window_ms` since the epoch.
///
/// It serialises as the three-element sequence `[window_start_ms, prev,
/// curr]` so a KV value stays a few bytes. Any deserialised values are safe
/// to use: no input makes `check` panic.
///
/// **Clock going backwards.** A `now_ms` earlier than `window_start_ms` is
/// treated as `window_start_ms`. Counts are never reset by a backwards step,
/// and the estimate at an earlier instant of the same window is never lower
/// (the previous window weighs more), so a clock that jumps back admits no
/// burst; it can only be stricter until real time catches up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SlidingWindow {
    window_start_ms: u64,
    prev: u32,
    curr: u32,
}

impl SlidingWindow {
    /// The state of a key never seen.
    pub const fn new() -> Self {
        Self {
            window_start_ms: 0,
            prev: 0,
            curr: 0,
        }
    }

    /// A state from its parts, e.g. as read from a store in another format.
    /// Any values are safe to use.
    pub const fn from_parts(window_start_ms: u64, prev: u32, curr: u32) -> Self {
        Self {
            window_start_ms,
            prev,
            curr,
        }
    }

    /// Start of the current fixed window, in ms.
    pub const fn window_start_ms(&self) -> u64 {
        self.window_start_ms
    }

    /// Requests admitted in the previous window.
    pub const fn prev(&self) -> u32 {
        self.prev
    }

    /// Requests admitted so far in the current window.
    pub const fn curr(&self) -> u32 {
        self.curr
    }

    /// Counts one request at `now_ms` against `limit` if it fits.
    ///
    /// On [`Decision::Deny`] the state is left exactly as it was (a denied
    /// request counts for nothing, and the caller need not write it back).
    pub fn check(&mut self, now_ms: u64, limit: Limit) -> Decision {
        let (rolled, elapsed) = self.rolled(now_ms, limit.window_ms);
        let decision = rolled.decide(now_ms, elapsed, limit);
        if decision.is_allowed() {
            *self = SlidingWindow {
                curr: rolled.curr.saturating_add(1),
                ..rolled
            };
        }
        decision
    }

    /// Exactly what [`check`](Self::check) would return at `now_ms`, without
    /// counting anything.
    pub fn peek(&self, now_ms: u64, limit: Limit) -> Decision {
        let (rolled, elapsed) = self.rolled(now_ms, limit.window_ms);
        rolled.decide(now_ms, elapsed, limit)
    }

    /// The state moved forward to the window holding `now_ms` (clamped to no
    /// earlier than `window_start_ms`), and the time elapsed in that window.
    fn rolled(&self, now_ms: u64, window_ms: u64) -> (SlidingWindow, u64) {
        let now = now_ms.max(self.window_start_ms);
        let elapsed = now - self.window_start_ms;
        if elapsed < window_ms {
            return (*self, elapsed);
        }
        let into_next = elapsed - window_ms;
        if into_next < window_ms {
            let next = SlidingWindow {
                window_start_ms: self.window_start_ms + window_ms,
                prev: self.curr,
                curr: 0,
            };
            return (next, into_next);
        }
        // Two or more windows on: both counts are out of reach. `k ×
        // window_ms <= elapsed`, so the start cannot overflow.
        let k = elapsed / window_ms;
        let skipped = k * window_ms;
        let fresh = SlidingWindow {
            window_start_ms: self.window_start_ms + skipped,
            prev: 0,
            curr: 0,
        };
        (fresh, elapsed - skipped)
    }

    /// The decision for a state already rolled to the window holding the
    /// effective time `window_start_ms + elapsed`.
    ///
    /// All sums are scaled by `window_ms` and kept in `u128`, so any counts
    /// and any window length are exact and cannot overflow.
    fn decide(&self, now_ms: u64, elapsed: u64, limit: Limit) -> Decision {
        let w = u128::from(limit.window_ms);
        let budget = u128::from(limit.max) * w;
        let weighted =
            u128::from(self.prev) * (w - u128::from(elapsed)) + u128::from(self.curr) * w + w;
        if weighted <= budget {
            let spare = budget - weighted;
            let remaining = match (u64::try_from(spare), u64::try_from(w)) {
                // The common case; a 64-bit division is much cheaper.
                (Ok(s), Ok(w64)) => s / w64,
                _ => u64::try_from(spare / w).unwrap_or(u64::MAX),
            };
            Decision::Allow {
                remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            }
        } else {
            let at = self.earliest_admit(limit);
            Decision::Deny {
                retry_after_ms: at.saturating_sub(now_ms).max(1),
            }
        }
    }

    /// The earliest instant at which one request would be admitted, given
    /// that the request at the current instant is not and nothing else is
    /// admitted meanwhile. The estimate never rises with time, so this
    /// instant and every later one admit.
    ///
    /// Solves `prev × (w − e) + (curr + 1) × w <= max × w` for the smallest
    /// whole `e`, first in the current window, then in the next (where
    /// `prev` becomes `curr`, and `curr` 0), else the one after (all clear).
    fn earliest_admit(&self, limit: Limit) -> u64 {
        let w = limit.window_ms;
        let max = u128::from(limit.max);
        let start = self.window_start_ms;
        // This window: needs `prev × (w − e) <= (max − curr − 1) × w`.
        if let Some(e) = first_fit(self.prev, max.checked_sub(u128::from(self.curr) + 1), w) {
            return start.saturating_add(e);
        }
        // The next window: needs `curr × (w − e) <= (max − 1) × w`.
        let next = start.saturating_add(w);
        if let Some(e) = first_fit(self.curr, max.checked_sub(1), w) {
            return next.saturating_add(e);
        }
        next.saturating_add(w)
    }
}

/// The smallest `e` in `0..w` with `weight × (w − e) <= spare × w`, if any.
fn first_fit(weight: u32, spare: Option<u128>, w: u64) -> Option<u64> {
    let spare = spare?;
    if weight == 0 {
        return Some(0);
    }
    // `w − e <= floor(spare × w / weight)` for whole numbers.
    let reach = spare * u128::from(w) / u128::from(weight);
    let e = u128::from(w).saturating_sub(reach);
    // `e < w` always fits u64.
    if e < u128::from(w) {
        u64::try_from(e).ok()
    } else {
        None
    }
}

impl Serialize for SlidingWindow {
    fn serialize<S: Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        (self.window_start_ms, self.prev, self.curr).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SlidingWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let (window_start_ms, prev, curr) = <(u64, u32, u32)>::deserialize(d)?;
        Ok(Self {
            window_start_ms,
            prev,
            curr,
        })
    }
}
