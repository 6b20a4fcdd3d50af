//! Overload protection: a circuit breaker for upstream calls and brownout
//! levels that switch optional work off under load.
//!
//! - [`CircuitBreaker`] is the closed / open / half-open state machine of
//!   Nygard's *Release It!* as [Fowler][fowler] summarises it, with the
//!   failure-rate and slow-call-rate trip rules, minimum call count, rolling
//!   time window and limited half-open probes of
//!   [Resilience4j's CircuitBreaker][r4j]. Unreported probes expire, so a lost
//!   permit cannot wedge it half-open.
//! - [`BrownoutLevel`] and [`BrownoutController`] follow the brownout idea of
//!   Klein et al., ["Brownout: Building More Robust Cloud Applications"][brownout]
//!   (ICSE 2014): under overload, switch off optional computation — here the
//!   semantic cache, long answers, then LLM generation — rather than fail
//!   requests. The controller raises the level at once and lowers it one
//!   step at a time after the signals have stayed low for a hold time.
//!
//! Both are pure state machines: every call takes `now_ms`, nothing reads a
//! clock, and a clock that goes backwards is treated as standing still.
//!
//! [fowler]: https://martinfowler.com/bliki/CircuitBreaker.html
//! [r4j]: https://resilience4j.readme.io/docs/circuitbreaker
//! [brownout]: http://lup.lub.lu.se/search/record/4249333

mod breaker;
mod brownout;

pub use breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, MAX_BUCKETS, MAX_HALF_OPEN_PERMITS, Outcome,
    Permit, Rejected,
};
pub use brownout::{
    BrownoutConfig, BrownoutController, BrownoutLevel, Features, LevelThresholds, Signals, features,
};
