//! Accuracy of the two-window estimate against an exact sliding log.
//!
//! The traces are synthetic and deterministic: a xorshift64 generator
//! (Marsaglia 2003, shifts 13/7/17) drives a phase model of a visitor or a
//! tenant: quiet stretches, steady use near the limit, overload at 3× and
//! floods at 20× the limit, with clusters of simultaneous requests. Phases
//! last from a quarter to three and a quarter windows, so the traffic is far
//! from the even spread the estimate assumes.

use std::collections::VecDeque;
use std::println;
use std::vec::Vec;

use super::{Limit, SlidingWindow};

/// Marsaglia's xorshift64; any non-zero seed.
struct XorShift64(u64);

impl XorShift64 {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Arrival times (ms, non-decreasing) of `n` bursty requests for `limit`.
fn bursty_trace(seed: u64, limit: Limit, n: usize) -> Vec<u64> {
    let (m, w) = (u64::from(limit.max()), limit.window_ms());
    let mut rng = XorShift64(seed);
    let mut t = 1_700_000_000_000u64;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // Mean gap between arrivals, as a multiple of the limit's pace w/m.
        let mean_gap = match rng.below(100) {
            0..40 => 4 * w / m,    // quiet: a quarter of the limit
            40..70 => w / m,       // steady: right at the limit
            70..90 => w / (3 * m), // overload: 3×
            _ => w / (20 * m),     // flood: 20×
        };
        let phase_end = t + w / 4 + rng.below(3 * w);
        while t < phase_end && out.len() < n {
            t += rng.below(2 * mean_gap + 1);
            let cluster = if rng.below(10) == 0 {
                1 + rng.below(8)
            } else {
                1
            };
            for _ in 0..cluster {
                out.push(t);
            }
        }
    }
    out.truncate(n);
    out
}

/// The exact limiter: admit iff fewer than `max` admitted in `(t − w, t]`.
fn exact_log_admitted(trace: &[u64], limit: Limit) -> u64 {
    let mut log: VecDeque<u64> = VecDeque::new();
    let mut admitted = 0;
    for &t in trace {
        while log.front().is_some_and(|&f| f + limit.window_ms() <= t) {
            log.pop_front();
        }
        if log.len() < limit.max() as usize {
            log.push_back(t);
            admitted += 1;
        }
    }
    admitted
}

fn sliding_window_admitted(trace: &[u64], limit: Limit) -> u64 {
    let mut sw = SlidingWindow::new();
    trace
        .iter()
        .filter(|&&t| sw.check(t, limit).is_allowed())
        .count() as u64
}

#[test]
fn admitted_count_is_within_five_percent_of_an_exact_sliding_log() {
    let cases = [
        (0x9E37_79B9_7F4A_7C15, Limit::per_minute(20).unwrap()),
        (0xD1B5_4A32_D192_ED03, Limit::per_minute(60).unwrap()),
        (0x2545_F491_4F6C_DD1D, Limit::per_minute(6_000).unwrap()),
        (0x0BAD_5EED_0BAD_5EED, Limit::per_second(10).unwrap()),
    ];
    for (seed, limit) in cases {
        let trace = bursty_trace(seed, limit, 200_000);
        let exact = exact_log_admitted(&trace, limit);
        let approx = sliding_window_admitted(&trace, limit);
        let deviation = (approx as f64 - exact as f64) / exact as f64;
        println!(
            "{limit:?}: {} requests, exact log admitted {exact}, sliding window admitted {approx}, \
             deviation {:+.3}%",
            trace.len(),
            deviation * 100.0
        );
        // The trace must actually exercise the limit in both directions.
        assert!(
            exact < trace.len() as u64 * 9 / 10,
            "trace too light to test"
        );
        assert!(exact > trace.len() as u64 / 10, "trace too heavy to test");
        assert!(deviation.abs() <= 0.05, "{limit:?}: deviation {deviation}");
    }
}
