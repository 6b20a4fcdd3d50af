//! Brownout levels, the features each allows, and the controller that picks
//! the level from load signals.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How much optional work kefu does. Higher levels switch more off; the
/// wire carries the level as one byte ([`as_u8`](Self::as_u8)).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
#[repr(u8)]
pub enum BrownoutLevel {
    /// Everything on.
    #[default]
    Normal = 0,
    /// No semantic cache lookups and no long answers.
    Shed = 1,
    /// No LLM generation: curated answers and extractive answers from the
    /// knowledge base only.
    Degraded = 2,
    /// Exact cache hits and curated answers; everything else is
    /// acknowledged and stored to be answered later.
    Minimal = 3,
}

impl BrownoutLevel {
    /// Every level, lowest first.
    pub const ALL: [BrownoutLevel; 4] = [
        BrownoutLevel::Normal,
        BrownoutLevel::Shed,
        BrownoutLevel::Degraded,
        BrownoutLevel::Minimal,
    ];

    /// The level with wire value `v`, if there is one.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(BrownoutLevel::Normal),
            1 => Some(BrownoutLevel::Shed),
            2 => Some(BrownoutLevel::Degraded),
            3 => Some(BrownoutLevel::Minimal),
            _ => None,
        }
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// What this level allows.
    pub const fn features(self) -> Features {
        features(self)
    }

    /// One level lower (Normal stays Normal).
    const fn step_down(self) -> Self {
        match self {
            BrownoutLevel::Normal | BrownoutLevel::Shed => BrownoutLevel::Normal,
            BrownoutLevel::Degraded => BrownoutLevel::Shed,
            BrownoutLevel::Minimal => BrownoutLevel::Degraded,
        }
    }
}

impl TryFrom<u8> for BrownoutLevel {
    type Error = Error;
    fn try_from(v: u8) -> Result<Self> {
        Self::from_u8(v).ok_or(Error::Invalid("brownout level above 3"))
    }
}

impl From<BrownoutLevel> for u8 {
    fn from(level: BrownoutLevel) -> u8 {
        level.as_u8()
    }
}

impl fmt::Display for BrownoutLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrownoutLevel::Normal => "normal",
            BrownoutLevel::Shed => "shed",
            BrownoutLevel::Degraded => "degraded",
            BrownoutLevel::Minimal => "minimal",
        })
    }
}

/// The pieces of answering work a level allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Features {
    /// Look answers up by exact (normalised) question.
    pub exact_cache: bool,
    /// Serve tenant-curated answers (FAQ entries, canned replies).
    pub curated_answers: bool,
    /// Retrieve knowledge-base chunks (for extractive answers or LLM context).
    pub kb_retrieval: bool,
    /// Generate answers with the LLM.
    pub llm_generation: bool,
    /// Look answers up by embedding similarity (costs an embedding per question).
    pub semantic_cache: bool,
    /// Allow long generated answers (otherwise the generation budget is short).
    pub long_answers: bool,
}

impl Features {
    /// True if every feature on in `self` is also on in `other`.
    pub const fn is_subset_of(&self, other: &Features) -> bool {
        (!self.exact_cache || other.exact_cache)
            && (!self.curated_answers || other.curated_answers)
            && (!self.kb_retrieval || other.kb_retrieval)
            && (!self.llm_generation || other.llm_generation)
            && (!self.semantic_cache || other.semantic_cache)
            && (!self.long_answers || other.long_answers)
    }
}

/// What `level` allows. Each level allows a subset of the one below.
pub const fn features(level: BrownoutLevel) -> Features {
    let l = level as u8;
    Features {
        exact_cache: true,
        curated_answers: true,
        kb_retrieval: l <= BrownoutLevel::Degraded as u8,
        llm_generation: l <= BrownoutLevel::Shed as u8,
        semantic_cache: l == BrownoutLevel::Normal as u8,
        long_answers: l == BrownoutLevel::Normal as u8,
    }
}

/// Signal values at or above which a level is entered. Any one signal
/// reaching its threshold is enough.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelThresholds {
    /// Requests waiting for a worker.
    pub queue_depth: u32,
    /// 99th percentile of the time requests waited in the queue, ms.
    pub p99_queue_wait_ms: u64,
    /// Share of upstream calls failing, in `(0, 1]`.
    pub error_rate: f64,
}

impl LevelThresholds {
    fn reached_by(&self, s: &Signals) -> bool {
        s.queue_depth >= self.queue_depth
            || s.p99_queue_wait_ms >= self.p99_queue_wait_ms
            || s.error_rate >= self.error_rate
    }
}

/// How [`BrownoutController`] maps signals to levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrownoutConfig {
    /// Enter [`BrownoutLevel::Shed`] at these.
    pub shed: LevelThresholds,
    /// Enter [`BrownoutLevel::Degraded`] at these.
    pub degraded: LevelThresholds,
    /// Enter [`BrownoutLevel::Minimal`] at these.
    pub minimal: LevelThresholds,
    /// The least level while the LLM circuit breaker is open.
    pub breaker_open_level: BrownoutLevel,
    /// Signals must stay below the current level this long before the level
    /// drops one step (and as long again for each further step).
    pub hold_ms: u64,
}

impl Default for BrownoutConfig {
    /// Shed at 50 queued / 2 s p99 wait / 5% errors; Degraded at 200 / 8 s /
    /// 20%; Minimal at 1000 / 30 s / 50%; Degraded while the LLM breaker is
    /// open; 30 s hold.
    fn default() -> Self {
        BrownoutConfig {
            shed: LevelThresholds {
                queue_depth: 50,
                p99_queue_wait_ms: 2_000,
                error_rate: 0.05,
            },
            degraded: LevelThresholds {
                queue_depth: 200,
                p99_queue_wait_ms: 8_000,
                error_rate: 0.2,
            },
            minimal: LevelThresholds {
                queue_depth: 1_000,
                p99_queue_wait_ms: 30_000,
                error_rate: 0.5,
            },
            breaker_open_level: BrownoutLevel::Degraded,
            hold_ms: 30_000,
        }
    }
}

impl BrownoutConfig {
    /// Checks thresholds are non-zero, error rates in `(0, 1]`, and each
    /// level's thresholds no lower than the level below's.
    pub fn validate(&self) -> Result<()> {
        let levels = [self.shed, self.degraded, self.minimal];
        for t in &levels {
            if t.queue_depth == 0 || t.p99_queue_wait_ms == 0 {
                return Err(Error::Invalid("brownout thresholds must be non-zero"));
            }
            if !(t.error_rate > 0.0 && t.error_rate <= 1.0) {
                return Err(Error::Invalid(
                    "brownout error_rate threshold must be in (0, 1]",
                ));
            }
        }
        for pair in levels.windows(2) {
            if let [lo, hi] = pair
                && (hi.queue_depth < lo.queue_depth
                    || hi.p99_queue_wait_ms < lo.p99_queue_wait_ms
                    || hi.error_rate < lo.error_rate)
            {
                return Err(Error::Invalid(
                    "brownout thresholds must not fall as levels rise",
                ));
            }
        }
        Ok(())
    }

    /// The level the signals call for right now, without hysteresis.
    pub fn level_for(&self, s: &Signals) -> BrownoutLevel {
        let by_load = if self.minimal.reached_by(s) {
            BrownoutLevel::Minimal
        } else if self.degraded.reached_by(s) {
            BrownoutLevel::Degraded
        } else if self.shed.reached_by(s) {
            BrownoutLevel::Shed
        } else {
            BrownoutLevel::Normal
        };
        if s.breaker_open {
            by_load.max(self.breaker_open_level)
        } else {
            by_load
        }
    }
}

/// One sample of the load signals.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// Requests waiting for a worker.
    pub queue_depth: u32,
    /// 99th percentile queue wait over the sampling interval, ms.
    pub p99_queue_wait_ms: u64,
    /// Whether the LLM circuit breaker is open.
    pub breaker_open: bool,
    /// Share of upstream calls failing over the sampling interval, in
    /// `[0, 1]`. NaN reaches no threshold.
    pub error_rate: f64,
}

/// Picks the brownout level from successive [`Signals`] samples.
///
/// Up fast: a sample calling for a higher level raises the level to it at
/// once. Down slowly: the level drops one step only after every sample for
/// `hold_ms` has called for a lower level, then holds again before the next
/// step; a sample at or above the current level restarts the wait. Signals
/// hovering around a threshold therefore keep the higher level instead of
/// flapping. A clock that steps back is taken as standing still.
#[derive(Debug, Clone)]
pub struct BrownoutController {
    config: BrownoutConfig,
    level: BrownoutLevel,
    /// Since when every sample has called for a lower level.
    calm_since_ms: Option<u64>,
    latest_ms: u64,
}

impl BrownoutController {
    /// A controller at [`BrownoutLevel::Normal`].
    pub fn new(config: BrownoutConfig) -> Result<Self> {
        config.validate()?;
        Ok(BrownoutController {
            config,
            level: BrownoutLevel::Normal,
            calm_since_ms: None,
            latest_ms: 0,
        })
    }

    /// The current level.
    pub fn level(&self) -> BrownoutLevel {
        self.level
    }

    /// Feeds one sample taken at `now_ms`; returns the new level.
    pub fn update(&mut self, now_ms: u64, signals: &Signals) -> BrownoutLevel {
        let now = now_ms.max(self.latest_ms);
        self.latest_ms = now;
        let target = self.config.level_for(signals);
        if target >= self.level {
            self.level = target;
            self.calm_since_ms = None;
            return self.level;
        }
        let since = *self.calm_since_ms.get_or_insert(now);
        if now - since >= self.config.hold_ms {
            self.level = self.level.step_down();
            self.calm_since_ms = (target < self.level).then_some(now);
        }
        self.level
    }
}

#[cfg(test)]
#[path = "brownout_tests.rs"]
mod tests;
