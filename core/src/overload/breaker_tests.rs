//! Scripted tests of [`CircuitBreaker`]: tables of `(t, event, state after)`.
//!
//! Expected states follow from the rules in the type's docs and the config
//! of each test; comments give the arithmetic.

use std::format;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

use BreakerState::{Closed, HalfOpen, Open};

const OK: Outcome = Outcome::Success { latency_ms: 10 };
const FAIL: Outcome = Outcome::Failure;

/// Trips at 50% failures or 50% slow (>= 1 s) calls once 4 calls are in a
/// 10 s window of 10 buckets; open 5 s; 2 probes, 2 successes close; a
/// probe expires after 3 s.
fn config() -> BreakerConfig {
    BreakerConfig {
        failure_rate_threshold: 0.5,
        slow_call_ms: 1_000,
        slow_call_rate_threshold: 0.5,
        minimum_calls: 4,
        window_ms: 10_000,
        buckets: 10,
        open_ms: 5_000,
        half_open_permits: 2,
        close_after_successes: 2,
        probe_timeout_ms: 3_000,
    }
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    /// Acquire (must be granted) and report at once.
    Call(Outcome),
    /// Acquire must be refused with this `retry_after_ms`.
    Refused(u64),
    /// Acquire must be granted; keep the permit in this slot.
    Take(usize),
    /// Report the permit kept in this slot.
    Report(usize, Outcome),
    /// Only look at the state.
    Look,
}
use Ev::*;

fn run(cfg: BreakerConfig, script: &[(u64, Ev, BreakerState)]) -> CircuitBreaker {
    let mut b = CircuitBreaker::new(cfg).unwrap();
    let mut kept: Vec<Option<Permit>> = (0..8).map(|_| None).collect();
    for (row, &(t, ev, want)) in script.iter().enumerate() {
        let at = format!("row {row} (t={t}, {ev:?})");
        match ev {
            Call(o) => {
                let p = b
                    .try_acquire(t)
                    .unwrap_or_else(|r| panic!("{at}: refused {r:?}"));
                b.record(t, p, o);
            }
            Refused(retry_after_ms) => {
                assert_eq!(
                    b.try_acquire(t).err(),
                    Some(Rejected { retry_after_ms }),
                    "{at}"
                );
            }
            Take(i) => {
                kept[i] = Some(
                    b.try_acquire(t)
                        .unwrap_or_else(|r| panic!("{at}: refused {r:?}")),
                )
            }
            Report(i, o) => b.record(
                t,
                kept[i].take().expect("script reports an unkept permit"),
                o,
            ),
            Look => {}
        }
        assert_eq!(b.state(t), want, "{at}");
    }
    b
}

#[test]
fn trips_on_failure_rate() {
    // 2 failures of 4 calls = 50% >= 0.5, and 4 >= minimum_calls.
    run(
        config(),
        &[
            (0, Call(OK), Closed),
            (100, Call(FAIL), Closed),
            (200, Call(OK), Closed),
            (300, Call(FAIL), Open),
            (300, Refused(5_000), Open),
            (5_299, Refused(1), Open),
            (5_300, Look, HalfOpen),
        ],
    );
}

#[test]
fn stays_closed_below_the_failure_rate() {
    // 2 of 5 = 40% < 50%.
    run(
        config(),
        &[
            (0, Call(OK), Closed),
            (1, Call(FAIL), Closed),
            (2, Call(OK), Closed),
            (3, Call(OK), Closed),
            (4, Call(FAIL), Closed),
            (5, Call(OK), Closed),
        ],
    );
}

#[test]
fn trips_on_slow_calls() {
    // All succeed; 999 ms is not slow, 1_000 ms is. 2 slow of 4 = 50%.
    let slow = Outcome::Success { latency_ms: 1_000 };
    let almost = Outcome::Success { latency_ms: 999 };
    run(
        config(),
        &[
            (0, Call(almost), Closed),
            (1, Call(slow), Closed),
            (2, Call(almost), Closed),
            (3, Call(slow), Open),
        ],
    );
}

#[test]
fn does_not_trip_below_minimum_calls() {
    // Three failures are 100%, but only 3 < 4 calls; the 4th call, a
    // success, makes 3 of 4 = 75% and trips.
    run(
        config(),
        &[
            (0, Call(FAIL), Closed),
            (1, Call(FAIL), Closed),
            (2, Call(FAIL), Closed),
            (3, Call(OK), Open),
        ],
    );
}

/// Trips at t = 3 (open until 5_003).
const TRIP: [(u64, Ev, BreakerState); 4] = [
    (0, Call(FAIL), Closed),
    (1, Call(FAIL), Closed),
    (2, Call(FAIL), Closed),
    (3, Call(FAIL), Open),
];

fn tripped_then(rest: &[(u64, Ev, BreakerState)]) -> CircuitBreaker {
    let script: Vec<_> = TRIP.iter().chain(rest).copied().collect();
    run(config(), &script)
}

#[test]
fn cools_down_to_half_open() {
    tripped_then(&[
        (5_002, Refused(1), Open),
        (5_003, Look, HalfOpen),
        (5_003, Take(0), HalfOpen),
    ]);
}

#[test]
fn probe_successes_close_with_a_fresh_window() {
    tripped_then(&[
        (5_003, Take(0), HalfOpen),
        (5_004, Take(1), HalfOpen),
        (5_100, Report(0, OK), HalfOpen), // 1 of 2 successes
        (5_200, Report(1, OK), Closed),
        // The four failures before the trip are forgotten: 1 failure of 1.
        (5_300, Call(FAIL), Closed),
    ]);
}

#[test]
fn a_failed_or_slow_probe_reopens() {
    tripped_then(&[
        (5_003, Take(0), HalfOpen),
        (5_010, Report(0, FAIL), Open),
        (5_010, Refused(5_000), Open),
        (10_010, Take(1), HalfOpen),
        (
            10_020,
            Report(1, Outcome::Success { latency_ms: 1_000 }),
            Open,
        ),
    ]);
}

#[test]
fn only_the_permitted_probes_are_admitted() {
    // Two slots; the third is refused until the oldest probe would expire
    // (5_003 + 3_000 − 5_005 = 2_998 ms). A report frees a slot.
    tripped_then(&[
        (5_003, Take(0), HalfOpen),
        (5_004, Take(1), HalfOpen),
        (5_005, Refused(2_998), HalfOpen),
        (5_100, Report(0, OK), HalfOpen),
        (5_101, Take(2), HalfOpen),
        (5_102, Refused(2_902), HalfOpen),
    ]);
}

#[test]
fn an_unreported_probe_expires_and_cannot_wedge_the_breaker() {
    // The probe taken at 5_003 expires at 8_003: the breaker reopens from
    // then until 13_003, and half-opens again after.
    tripped_then(&[
        (5_003, Take(0), HalfOpen),
        (5_004, Take(1), HalfOpen),
        (8_002, Refused(1), HalfOpen),
        (8_003, Look, Open),
        (9_000, Refused(4_003), Open),
        (13_003, Take(2), HalfOpen),
        // Late reports of the lost probes are stale and change nothing.
        (13_004, Report(0, OK), HalfOpen),
        (13_005, Report(1, FAIL), HalfOpen),
        (13_006, Take(3), HalfOpen),
        (13_007, Refused(2_996), HalfOpen),
        (13_008, Report(2, OK), HalfOpen),
        (13_009, Report(3, OK), Closed),
    ]);
}

#[test]
fn a_call_from_before_the_trip_is_not_a_probe() {
    let script = [
        (0, Take(5), Closed),
        (0, Call(FAIL), Closed),
        (1, Call(FAIL), Closed),
        (2, Call(FAIL), Closed),
        (3, Call(FAIL), Open),
        (5_003, Take(0), HalfOpen),
        // The old call fails late: ignored, still half-open.
        (5_004, Report(5, FAIL), HalfOpen),
        (5_005, Report(0, OK), HalfOpen),
    ];
    run(config(), &script);
}

#[test]
fn old_buckets_age_out() {
    // Window 10 s in 1 s buckets. Three failures in bucket 0 (t < 1_000)
    // are counted until bucket 10 begins at t = 10_000.
    run(
        config(),
        &[
            (0, Call(FAIL), Closed),
            (500, Call(FAIL), Closed),
            (999, Call(FAIL), Closed),
            (10_000, Call(FAIL), Closed), // bucket 0 gone: 1 call
            (10_001, Call(OK), Closed),
            (10_002, Call(OK), Closed),
            (10_003, Call(OK), Closed), // 1 of 4 = 25%
        ],
    );
    run(
        config(),
        &[
            (0, Call(FAIL), Closed),
            (500, Call(FAIL), Closed),
            (999, Call(FAIL), Closed),
            (9_999, Call(FAIL), Open), // bucket 9: bucket 0 still in: 4 of 4
        ],
    );
}

#[test]
fn clock_going_backwards_neither_shortens_the_cool_down_nor_panics() {
    tripped_then(&[
        // Open until 5_003. The clock jumps back to 0: still open, and the
        // wait is counted on the caller's clock.
        (0, Refused(5_003), Open),
        (4_000, Refused(1_003), Open),
        (5_003, Take(0), HalfOpen),
        // Back again while half-open: the probe is reported "before" it was
        // taken; it still counts, as at the newest time seen.
        (100, Report(0, OK), HalfOpen),
        (50, Take(1), HalfOpen),
        (60, Report(1, OK), Closed),
        (0, Call(FAIL), Closed),
    ]);
}

#[test]
fn invalid_configs_are_refused() {
    let bad: [fn(&mut BreakerConfig); 12] = [
        |c| c.failure_rate_threshold = 0.0,
        |c| c.failure_rate_threshold = 1.01,
        |c| c.failure_rate_threshold = f64::NAN,
        |c| c.slow_call_rate_threshold = 0.0,
        |c| c.slow_call_ms = 0,
        |c| c.minimum_calls = 0,
        |c| c.buckets = 0,
        |c| c.window_ms = 10_001, // not a multiple of 10 buckets
        |c| c.open_ms = 0,
        |c| c.half_open_permits = 0,
        |c| c.half_open_permits = MAX_HALF_OPEN_PERMITS + 1,
        |c| c.close_after_successes = 0,
    ];
    assert!(CircuitBreaker::new(config()).is_ok());
    assert!(CircuitBreaker::new(BreakerConfig::default()).is_ok());
    for (i, spoil) in bad.iter().enumerate() {
        let mut c = config();
        spoil(&mut c);
        assert!(CircuitBreaker::new(c).is_err(), "case {i} accepted");
    }
    let c: BreakerConfig = serde_json::from_str(r#"{"open_ms": 1000}"#).unwrap();
    assert_eq!(c.open_ms, 1_000);
    assert_eq!(c.buckets, BreakerConfig::default().buckets);
    assert!(serde_json::from_str::<BreakerConfig>(r#"{"open_msec": 1000}"#).is_err());
}

proptest! {
    /// Whatever happens, `state` agrees with what `try_acquire` does, and
    /// no more probes than permitted are ever in flight.
    #[test]
    fn state_agrees_with_acquire(ops in prop::collection::vec((0u64..3_000, 0u8..6, any::<bool>()), 1..300)) {
        let mut b = CircuitBreaker::new(config()).unwrap();
        let mut held: Vec<Permit> = Vec::new();
        let mut t = 0u64;
        for (gap, op, flag) in ops {
            // One step in eight goes back in time.
            t = if op == 5 && flag { t.saturating_sub(gap) } else { t + gap };
            let before = b.state(t);
            match b.try_acquire(t) {
                Ok(p) => {
                    prop_assert_ne!(before, Open);
                    held.push(p);
                }
                Err(_) => prop_assert_ne!(before, Closed),
            }
            if b.state(t) == HalfOpen {
                prop_assert!(b.probes.iter().flatten().count() <= 2);
            }
            if op < 3 && !held.is_empty() {
                let p = held.remove(0);
                let o = match op { 0 => FAIL, 1 => OK, _ => Outcome::Success { latency_ms: 1_000 } };
                b.record(t, p, o);
            }
        }
    }
}
