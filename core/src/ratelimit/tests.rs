//! Scripted and property tests of [`SlidingWindow`] and [`check_all`].
//!
//! Expected values in the tables are worked out by hand from the formula in
//! the module docs; each table says how.

use std::format;
use std::vec::Vec;

use proptest::prelude::*;

use super::*;

/// A window start on the one-minute grid (1_700_000_040_000 = 60_000 × 28_333_334).
const T0: u64 = 1_700_000_040_000;

fn allow(remaining: u32) -> Decision {
    Decision::Allow { remaining }
}

fn deny(retry_after_ms: u64) -> Decision {
    Decision::Deny { retry_after_ms }
}

/// Runs `(t, expected)` rows through one window, one `check` per row.
fn run(sw: &mut SlidingWindow, limit: Limit, rows: &[(u64, Decision)]) {
    for (i, &(t, want)) in rows.iter().enumerate() {
        assert_eq!(
            sw.check(t, limit),
            want,
            "row {i} at t0{:+}",
            t as i128 - T0 as i128
        );
    }
}

fn fill(sw: &mut SlidingWindow, t: u64, limit: Limit, n: u32) {
    for _ in 0..n {
        assert!(sw.check(t, limit).is_allowed());
    }
}

#[test]
fn limit_rejects_zero() {
    assert!(Limit::new(0, 1_000).is_err());
    assert!(Limit::new(1, 0).is_err());
    assert!(Limit::per_minute(0).is_err());
    assert_eq!(Limit::per_second(5).unwrap().window_ms(), 1_000);
}

#[test]
fn full_window_then_the_edges() {
    // 20/min, all 20 spent at T0. In the next window the estimate is
    // 20 × (60_000 − e)/60_000 + 1 <= 20 iff e >= 3_000, so the first
    // admission is at T0 + 63_000.
    let limit = Limit::per_minute(20).unwrap();
    let mut sw = SlidingWindow::new();
    let first: Vec<_> = (0..20).map(|i| (T0, allow(19 - i))).collect();
    run(&mut sw, limit, &first);
    run(
        &mut sw,
        limit,
        &[
            (T0, deny(63_000)),
            (T0 + 59_999, deny(3_001)), // one ms before the edge: still window 0
            (T0 + 60_000, deny(3_000)), // exactly at the edge: prev weighs 1
            (T0 + 62_999, deny(1)),
            (T0 + 63_000, allow(0)), // 20 × 57/60 + 1 = 20
            // Now curr = 1: 20 × (60_000 − e)/60_000 + 2 <= 20 iff e >= 6_000.
            (T0 + 63_000, deny(3_000)),
            (T0 + 65_999, deny(1)),
            (T0 + 66_000, allow(0)),
            // One ms before the next edge prev still weighs 1/60_000:
            // 20/60_000 + 3 leaves 16.99.. → 16 more.
            (T0 + 119_999, allow(16)),
            // At the edge the 3 requests of window 1 weigh fully: 3 + 1 → 16.
            (T0 + 120_000, allow(16)),
        ],
    );
}

#[test]
fn burst_in_the_last_millisecond_of_a_window() {
    // 10/s, all 10 at the window's last ms (T0 + 999). In the next window
    // 10 × (1_000 − e)/1_000 + 1 <= 10 iff e >= 100: the scheme assumes the
    // burst was spread evenly and admits again at T0 + 1_100, where an
    // exact log would wait until T0 + 1_999.
    let limit = Limit::per_second(10).unwrap();
    let mut sw = SlidingWindow::new();
    fill(&mut sw, T0 + 999, limit, 10);
    run(
        &mut sw,
        limit,
        &[
            (T0 + 999, deny(101)),
            (T0 + 1_000, deny(100)),
            (T0 + 1_099, deny(1)),
            (T0 + 1_100, allow(0)),
        ],
    );
}

#[test]
fn remaining_counts_exactly_the_further_admissions() {
    let limit = Limit::per_minute(60).unwrap();
    let mut sw = SlidingWindow::new();
    fill(&mut sw, T0 + 10_000, limit, 45);
    // Next window, 15 s in: 45 × 45/60 = 33.75 carried over.
    let Decision::Allow { remaining } = sw.check(T0 + 75_000, limit) else {
        panic!("expected an admission");
    };
    assert_eq!(remaining, 25); // 60 − 33.75 − 1 = 25.25
    fill(&mut sw, T0 + 75_000, limit, remaining);
    assert!(!sw.check(T0 + 75_000, limit).is_allowed());
}

#[test]
fn a_long_gap_resets_cleanly_onto_the_grid() {
    let limit = Limit::per_minute(20).unwrap();
    let mut sw = SlidingWindow::new();
    fill(&mut sw, T0 + 5, limit, 20);
    // Exactly two windows later the window holding the burst is out of reach.
    assert_eq!(sw.check(T0 + 120_000, limit), allow(19));
    assert_eq!(
        (sw.window_start_ms(), sw.prev(), sw.curr()),
        (T0 + 120_000, 0, 1)
    );
    // Ten days later (a whole number of windows plus 1_234 ms).
    let later = T0 + 10 * 86_400_000 + 1_234;
    assert_eq!(sw.check(later, limit), allow(19));
    assert_eq!(
        (sw.window_start_ms(), sw.prev(), sw.curr()),
        (later - 1_234, 0, 1)
    );
    // A fresh state lands on the epoch-aligned grid.
    let mut fresh = SlidingWindow::default();
    assert!(fresh.check(T0 + 59_999, limit).is_allowed());
    assert_eq!(fresh.window_start_ms(), T0);
}

#[test]
fn clock_going_backwards_admits_no_burst() {
    let limit = Limit::per_minute(20).unwrap();
    let mut sw = SlidingWindow::new();
    fill(&mut sw, T0 - 30_000, limit, 20); // window [T0 − 60 s, T0)
    // 45 s into the next window, 20 × 15/60 = 5 carried: 15 fit.
    fill(&mut sw, T0 + 45_000, limit, 15);
    assert!(!sw.check(T0 + 45_000, limit).is_allowed());
    let before = sw;
    // Back within the window (prev weighs more), back before the window,
    // back to the epoch: all refused, nothing reset, nothing counted.
    for t in [T0 + 10_000, T0, T0 - 1, T0 - 50_000, 0] {
        let d = sw.check(t, limit);
        let Decision::Deny { retry_after_ms } = d else {
            panic!("admitted at {t} after the clock went back: {d:?}");
        };
        assert!(sw.peek(t + retry_after_ms, limit).is_allowed());
        assert_eq!(sw, before);
    }
    // Time resumes: at T0 + 48_000, 20 × 12/60 + 15 = 19 < 20 → one more.
    assert_eq!(sw.check(T0 + 48_000, limit), allow(0));
}

#[test]
fn extreme_values_do_not_panic() {
    let huge = Limit::new(u32::MAX, u64::MAX).unwrap();
    let tiny = Limit::new(1, 1).unwrap();
    let states = [
        SlidingWindow::new(),
        SlidingWindow::from_parts(u64::MAX, u32::MAX, u32::MAX),
        SlidingWindow::from_parts(u64::MAX - 1, 0, u32::MAX),
    ];
    for s in states {
        for limit in [huge, tiny] {
            for now in [0, 1, u64::MAX - 1, u64::MAX] {
                let mut sw = s;
                if let Decision::Deny { retry_after_ms } = sw.check(now, limit) {
                    assert!(retry_after_ms >= 1);
                }
            }
        }
    }
}

#[test]
fn state_serialises_small_and_round_trips() {
    let limit = Limit::per_minute(20).unwrap();
    let mut sw = SlidingWindow::new();
    fill(&mut sw, T0 + 1, limit, 3);
    let json = serde_json::to_string(&sw).unwrap();
    assert_eq!(json, format!("[{T0},0,3]"));
    let packed = rmp_serde::to_vec(&sw).unwrap();
    assert!(packed.len() <= 16, "{} bytes", packed.len());
    assert_eq!(rmp_serde::from_slice::<SlidingWindow>(&packed).unwrap(), sw);
    let limit_json = serde_json::to_string(&limit).unwrap();
    assert_eq!(serde_json::from_str::<Limit>(&limit_json).unwrap(), limit);
}

#[test]
fn check_all_is_all_or_nothing_and_names_the_tightest() {
    let visitor = Limit::per_minute(20).unwrap();
    let ip = Limit::per_minute(3).unwrap();
    let tenant = Limit::per_minute(6_000).unwrap();
    let (mut v, mut i, mut t) = (
        SlidingWindow::new(),
        SlidingWindow::new(),
        SlidingWindow::new(),
    );
    for n in 0..3u32 {
        let d = check_all(
            &mut [
                (LimitKind::Visitor, &mut v, visitor),
                (LimitKind::Ip, &mut i, ip),
                (LimitKind::Tenant, &mut t, tenant),
            ],
            T0 + u64::from(n),
        );
        assert_eq!(
            d,
            MultiDecision::Allow {
                remaining: 2 - n,
                tightest: Some(LimitKind::Ip)
            }
        );
    }
    let before = (v, i, t);
    let d = check_all(
        &mut [
            (LimitKind::Visitor, &mut v, visitor),
            (LimitKind::Ip, &mut i, ip),
            (LimitKind::Tenant, &mut t, tenant),
        ],
        T0 + 10,
    );
    // IP: 3 × (60_000 − e)/60_000 + 1 <= 3 iff e >= 20_000 into the next window.
    assert_eq!(
        d,
        MultiDecision::Deny {
            kind: LimitKind::Ip,
            retry_after_ms: 80_000 - 10
        }
    );
    assert_eq!(
        (v, i, t),
        before,
        "a refused request must not count anywhere"
    );
    assert_eq!(
        check_all(&mut [], T0),
        MultiDecision::Allow {
            remaining: u32::MAX,
            tightest: None
        }
    );
}

/// A history: (gap, steps back) pairs; a step back moves the clock back.
fn history() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec(
        (
            0u64..30_000,
            prop_oneof![9 => Just(0u64), 1 => 0u64..40_000],
        ),
        0..120,
    )
}

fn limit_strategy() -> impl Strategy<Value = Limit> {
    (
        1u32..40,
        prop_oneof![Just(1u64), 1u64..50, 1_000u64..120_000],
    )
        .prop_map(|(m, w)| Limit::new(m, w).unwrap())
}

proptest! {
    #[test]
    fn retry_after_is_the_exact_earliest_admission(limit in limit_strategy(), h in history(), probe in 0u64..200_000) {
        let mut sw = SlidingWindow::new();
        let mut t = T0;
        for (gap, back) in h {
            t = (t + gap).saturating_sub(back);
            let before = sw;
            let d = sw.check(t, limit);
            prop_assert_eq!(before.peek(t, limit), d, "peek and check disagree");
            if d.is_allowed() {
                prop_assert!(sw.curr() >= 1);
            } else {
                prop_assert_eq!(sw, before);
            }
        }
        let now = t + probe;
        if let Decision::Deny { retry_after_ms } = sw.peek(now, limit) {
            prop_assert!(retry_after_ms >= 1);
            prop_assert!(sw.peek(now + retry_after_ms, limit).is_allowed());
            prop_assert!(!sw.peek(now + retry_after_ms - 1, limit).is_allowed());
        }
    }

    #[test]
    fn remaining_is_exact(limit in limit_strategy(), h in history()) {
        let mut sw = SlidingWindow::new();
        let mut t = T0;
        for (gap, back) in h {
            t = (t + gap).saturating_sub(back);
            if let Decision::Allow { remaining } = sw.check(t, limit) {
                let mut copy = sw;
                for _ in 0..remaining {
                    prop_assert!(copy.check(t, limit).is_allowed());
                }
                prop_assert!(!copy.check(t, limit).is_allowed());
            }
        }
    }

    #[test]
    fn check_all_retry_after_is_exact_for_the_set(
        limits in prop::array::uniform3(limit_strategy()),
        gaps in prop::collection::vec(0u64..5_000, 0..150),
        probe in 0u64..100_000,
    ) {
        let kinds = [LimitKind::Visitor, LimitKind::Ip, LimitKind::Tenant];
        let mut s = [SlidingWindow::new(); 3];
        let mut t = T0;
        for gap in gaps {
            t += gap;
            let before = s;
            let [a, b, c] = &mut s;
            let d = check_all(&mut [(kinds[0], a, limits[0]), (kinds[1], b, limits[1]), (kinds[2], c, limits[2])], t);
            if !d.is_allowed() {
                prop_assert_eq!(s, before);
            }
        }
        let now = t + probe;
        let at = |s: [SlidingWindow; 3], when: u64| {
            let [mut a, mut b, mut c] = s;
            check_all(&mut [(kinds[0], &mut a, limits[0]), (kinds[1], &mut b, limits[1]), (kinds[2], &mut c, limits[2])], when)
        };
        if let MultiDecision::Deny { kind, retry_after_ms } = at(s, now) {
            let i = kinds.iter().position(|&k| k == kind).unwrap();
            prop_assert_eq!(s[i].peek(now, limits[i]), Decision::Deny { retry_after_ms });
            prop_assert!(at(s, now + retry_after_ms).is_allowed());
            prop_assert!(!at(s, now + retry_after_ms - 1).is_allowed());
        }
    }

    #[test]
    fn any_stored_state_is_safe(start: u64, prev: u32, curr: u32, now: u64, m in 1u32..=u32::MAX, w in 1u64..=u64::MAX) {
        let mut sw = SlidingWindow::from_parts(start, prev, curr);
        let limit = Limit::new(m, w).unwrap();
        let before = sw;
        match sw.check(now, limit) {
            Decision::Allow { remaining } => {
                prop_assert!(remaining < m);
                prop_assert!(sw.window_start_ms() >= before.window_start_ms());
            }
            Decision::Deny { retry_after_ms } => {
                prop_assert!(retry_after_ms >= 1);
                prop_assert_eq!(sw, before);
            }
        }
    }
}
