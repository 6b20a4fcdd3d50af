//! The [`CircuitBreaker`] state machine.

use alloc::vec;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The most buckets a rolling window may have.
pub const MAX_BUCKETS: u16 = 600;

/// The most probes a half-open breaker may have in flight.
pub const MAX_HALF_OPEN_PERMITS: u32 = 1_000;

/// How a [`CircuitBreaker`] trips and recovers.
///
/// Build it from TOML/JSON (unknown fields are refused) or by hand; either
/// way [`CircuitBreaker::new`] validates it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Trip when at least this share of the calls in the window failed, in
    /// `(0, 1]`.
    pub failure_rate_threshold: f64,
    /// A successful call taking at least this long counts as slow.
    pub slow_call_ms: u64,
    /// Trip when at least this share of the calls in the window were slow,
    /// in `(0, 1]`.
    pub slow_call_rate_threshold: f64,
    /// Never trip on fewer calls than this in the window (at least 1).
    pub minimum_calls: u32,
    /// Length of the rolling window the rates are measured over.
    pub window_ms: u64,
    /// The window is made of this many equal buckets (`1..=MAX_BUCKETS`, and
    /// dividing `window_ms`); a bucket ages out as a whole.
    pub buckets: u16,
    /// How long the breaker stays open before letting probes through.
    pub open_ms: u64,
    /// The most probes in flight at once while half-open
    /// (`1..=MAX_HALF_OPEN_PERMITS`).
    pub half_open_permits: u32,
    /// Successful probes needed to close again (at least 1).
    pub close_after_successes: u32,
    /// A probe not reported within this time counts as failed.
    pub probe_timeout_ms: u64,
}

impl Default for BreakerConfig {
    /// Tuned for an LLM upstream: trip at 50% failures or 80% of calls over
    /// 10 s, measured over a minute in 5 s buckets once 20 calls are seen;
    /// rest 30 s, then up to 3 probes, closing after 3 successes.
    fn default() -> Self {
        BreakerConfig {
            failure_rate_threshold: 0.5,
            slow_call_ms: 10_000,
            slow_call_rate_threshold: 0.8,
            minimum_calls: 20,
            window_ms: 60_000,
            buckets: 12,
            open_ms: 30_000,
            half_open_permits: 3,
            close_after_successes: 3,
            probe_timeout_ms: 30_000,
        }
    }
}

impl BreakerConfig {
    /// Checks every field's domain.
    pub fn validate(&self) -> Result<()> {
        let rate_ok = |r: f64| r > 0.0 && r <= 1.0;
        if !rate_ok(self.failure_rate_threshold) {
            return Err(Error::Invalid("failure_rate_threshold must be in (0, 1]"));
        }
        if !rate_ok(self.slow_call_rate_threshold) {
            return Err(Error::Invalid("slow_call_rate_threshold must be in (0, 1]"));
        }
        if self.slow_call_ms == 0 {
            return Err(Error::Invalid("slow_call_ms must be non-zero"));
        }
        if self.minimum_calls == 0 {
            return Err(Error::Invalid("minimum_calls must be non-zero"));
        }
        if self.buckets == 0 || self.buckets > MAX_BUCKETS {
            return Err(Error::Invalid("buckets must be in 1..=600"));
        }
        if self.window_ms == 0 || !self.window_ms.is_multiple_of(u64::from(self.buckets)) {
            return Err(Error::Invalid(
                "window_ms must be a non-zero multiple of buckets",
            ));
        }
        if self.open_ms == 0 || self.probe_timeout_ms == 0 {
            return Err(Error::Invalid(
                "open_ms and probe_timeout_ms must be non-zero",
            ));
        }
        if self.half_open_permits == 0 || self.half_open_permits > MAX_HALF_OPEN_PERMITS {
            return Err(Error::Invalid("half_open_permits must be in 1..=1000"));
        }
        if self.close_after_successes == 0 {
            return Err(Error::Invalid("close_after_successes must be non-zero"));
        }
        Ok(())
    }
}

/// The state a breaker is in, as callers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through and are measured.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// A few probe calls go through to test the upstream.
    HalfOpen,
}

/// How a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded, taking `latency_ms`.
    Success {
        /// How long the call took.
        latency_ms: u64,
    },
    /// It failed (error, timeout, refused connection, bad response).
    Failure,
}

/// Leave to make one call. Hand it back to [`CircuitBreaker::record`].
///
/// Permits are tied to the state they were issued in: reports on a permit
/// from before the last state change are ignored, so a slow call from before
/// a trip cannot count as a probe.
#[must_use = "report the call's outcome with CircuitBreaker::record"]
#[derive(Debug)]
pub struct Permit {
    generation: u32,
    probe_slot: Option<u32>,
}

/// The breaker refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// When open, the time left until probes are let through. When
    /// half-open with every probe slot taken, the time until the oldest
    /// probe expires; a slot may free up sooner if a probe reports.
    pub retry_after_ms: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bucket {
    /// `now / bucket_ms` of the calls counted here.
    epoch: u64,
    calls: u32,
    failures: u32,
    slow: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open { until_ms: u64 },
    HalfOpen { successes: u32 },
}

/// A circuit breaker over a rolling window of time buckets.
///
/// Closed, it counts calls, failures and slow calls per bucket and trips
/// open when, over the last `window_ms`, at least `minimum_calls` were seen
/// and the failure or slow-call share reaches its threshold. Open, it
/// refuses everything for `open_ms`. Half-open, it lets up to
/// `half_open_permits` probes be in flight; `close_after_successes`
/// successful probes close it with a fresh window, and one failed, slow or
/// expired probe opens it again.
///
/// Time only moves forward: a `now_ms` older than the newest one seen is
/// taken as that newest one, so a clock stepping back never shortens a
/// cool-down nor drops counts.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    bucket_ms: u64,
    buckets: Vec<Bucket>,
    /// Deadline of each probe slot in flight (half-open only).
    probes: Vec<Option<u64>>,
    phase: Phase,
    /// Bumped on every state change; permits of older generations are stale.
    generation: u32,
    latest_ms: u64,
}

impl CircuitBreaker {
    /// A closed breaker with an empty window.
    pub fn new(config: BreakerConfig) -> Result<Self> {
        config.validate()?;
        let slots = usize::try_from(config.half_open_permits)
            .map_err(|_| Error::Invalid("half_open_permits too large"))?;
        Ok(CircuitBreaker {
            bucket_ms: config.window_ms / u64::from(config.buckets),
            buckets: vec![Bucket::default(); usize::from(config.buckets)],
            probes: vec![None; slots],
            config,
            phase: Phase::Closed,
            generation: 0,
            latest_ms: 0,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The state at `now_ms`, with due timed transitions (cool-down over,
    /// probe expired) taken into account; does not change the breaker.
    pub fn state(&self, now_ms: u64) -> BreakerState {
        let now = now_ms.max(self.latest_ms);
        match self.phase {
            Phase::Closed => BreakerState::Closed,
            Phase::Open { until_ms } if now < until_ms => BreakerState::Open,
            Phase::Open { .. } => BreakerState::HalfOpen,
            Phase::HalfOpen { .. } => match self.expired_probe(now) {
                Some(deadline) if now < deadline.saturating_add(self.config.open_ms) => {
                    BreakerState::Open
                }
                _ => BreakerState::HalfOpen,
            },
        }
    }

    /// Asks to make one call at `now_ms`.
    pub fn try_acquire(&mut self, now_ms: u64) -> core::result::Result<Permit, Rejected> {
        let now = self.advance(now_ms);
        match self.phase {
            Phase::Closed => Ok(Permit {
                generation: self.generation,
                probe_slot: None,
            }),
            Phase::Open { until_ms } => Err(Rejected {
                retry_after_ms: until_ms.saturating_sub(now_ms).max(1),
            }),
            Phase::HalfOpen { .. } => {
                let deadline = now.saturating_add(self.config.probe_timeout_ms);
                let free = self.probes.iter().position(Option::is_none);
                match free.and_then(|i| Some((i, u32::try_from(i).ok()?))) {
                    Some((i, slot)) => {
                        if let Some(p) = self.probes.get_mut(i) {
                            *p = Some(deadline);
                        }
                        Ok(Permit {
                            generation: self.generation,
                            probe_slot: Some(slot),
                        })
                    }
                    None => {
                        let oldest = self
                            .probes
                            .iter()
                            .flatten()
                            .min()
                            .copied()
                            .unwrap_or(deadline);
                        Err(Rejected {
                            retry_after_ms: oldest.saturating_sub(now_ms).max(1),
                        })
                    }
                }
            }
        }
    }

    /// Reports how the call made under `permit` went.
    pub fn record(&mut self, now_ms: u64, permit: Permit, outcome: Outcome) {
        let now = self.advance(now_ms);
        if permit.generation != self.generation {
            return;
        }
        let slow = matches!(outcome, Outcome::Success { latency_ms } if latency_ms >= self.config.slow_call_ms);
        let failed = matches!(outcome, Outcome::Failure);
        match (self.phase, permit.probe_slot) {
            (Phase::Closed, None) => {
                self.count(now, failed, slow);
                if self.should_trip(now) {
                    self.open(now);
                }
            }
            (Phase::HalfOpen { successes }, Some(slot)) => {
                let Some(p) = usize::try_from(slot)
                    .ok()
                    .and_then(|i| self.probes.get_mut(i))
                else {
                    return;
                };
                if p.take().is_none() {
                    return;
                }
                if failed || slow {
                    self.open(now);
                } else if successes.saturating_add(1) >= self.config.close_after_successes {
                    self.close();
                } else {
                    self.phase = Phase::HalfOpen {
                        successes: successes + 1,
                    };
                }
            }
            // A permit of this generation always matches the phase.
            _ => {}
        }
    }

    /// Moves the clock to `max(now_ms, latest)` and takes any due timed
    /// transitions; returns the effective now.
    fn advance(&mut self, now_ms: u64) -> u64 {
        let now = now_ms.max(self.latest_ms);
        self.latest_ms = now;
        if let Phase::HalfOpen { .. } = self.phase
            && let Some(deadline) = self.expired_probe(now)
        {
            // The probe timed out at its deadline: reopen from then.
            self.open(deadline);
        }
        if let Phase::Open { until_ms } = self.phase
            && now >= until_ms
        {
            self.half_open();
        }
        now
    }

    /// The earliest probe deadline at or before `now`, if any.
    fn expired_probe(&self, now: u64) -> Option<u64> {
        self.probes
            .iter()
            .flatten()
            .copied()
            .filter(|&d| d <= now)
            .min()
    }

    fn count(&mut self, now: u64, failed: bool, slow: bool) {
        let epoch = now / self.bucket_ms;
        let n = self.buckets.len() as u64;
        let Some(b) = usize::try_from(epoch % n)
            .ok()
            .and_then(|i| self.buckets.get_mut(i))
        else {
            return;
        };
        if b.epoch != epoch {
            *b = Bucket {
                epoch,
                ..Bucket::default()
            };
        }
        b.calls = b.calls.saturating_add(1);
        b.failures = b.failures.saturating_add(u32::from(failed));
        b.slow = b.slow.saturating_add(u32::from(slow));
    }

    fn should_trip(&self, now: u64) -> bool {
        let epoch = now / self.bucket_ms;
        let n = self.buckets.len() as u64;
        let (mut calls, mut failures, mut slow) = (0u64, 0u64, 0u64);
        for b in &self.buckets {
            if epoch.checked_sub(b.epoch).is_some_and(|age| age < n) {
                calls += u64::from(b.calls);
                failures += u64::from(b.failures);
                slow += u64::from(b.slow);
            }
        }
        if calls < u64::from(self.config.minimum_calls) {
            return false;
        }
        let total = calls as f64;
        failures as f64 >= self.config.failure_rate_threshold * total
            || slow as f64 >= self.config.slow_call_rate_threshold * total
    }

    fn open(&mut self, from_ms: u64) {
        self.set_phase(Phase::Open {
            until_ms: from_ms.saturating_add(self.config.open_ms),
        });
    }

    fn half_open(&mut self) {
        self.set_phase(Phase::HalfOpen { successes: 0 });
    }

    fn close(&mut self) {
        self.buckets.fill(Bucket::default());
        self.set_phase(Phase::Closed);
    }

    fn set_phase(&mut self, phase: Phase) {
        self.probes.fill(None);
        self.phase = phase;
        self.generation = self.generation.wrapping_add(1);
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
