//! Tests of brownout levels and the scripted behaviour of
//! [`BrownoutController`] under [`BrownoutConfig::default`] (Shed at 50
//! queued / 2 s p99 wait / 5% errors, Degraded at 200 / 8 s / 20%, Minimal
//! at 1000 / 30 s / 50%, 30 s hold).

use std::format;

use super::*;

use BrownoutLevel::{Degraded, Minimal, Normal, Shed};

fn queue(depth: u32) -> Signals {
    Signals {
        queue_depth: depth,
        ..Signals::default()
    }
}

fn run(script: &[(u64, Signals, BrownoutLevel)]) -> BrownoutController {
    let mut c = BrownoutController::new(BrownoutConfig::default()).unwrap();
    for (row, (t, s, want)) in script.iter().enumerate() {
        assert_eq!(c.update(*t, s), *want, "row {row} at t={t}: {s:?}");
        assert_eq!(c.level(), *want);
    }
    c
}

#[test]
fn wire_values_round_trip_and_nothing_above_3_decodes() {
    for v in 0..=u8::MAX {
        match BrownoutLevel::from_u8(v) {
            Some(level) => assert_eq!(level.as_u8(), v),
            None => assert!(v > 3, "{v} should decode"),
        }
    }
    assert_eq!(Minimal.as_u8(), 3);
    assert_eq!(serde_json::to_string(&Degraded).unwrap(), "2");
    assert_eq!(serde_json::from_str::<BrownoutLevel>("1").unwrap(), Shed);
    assert!(serde_json::from_str::<BrownoutLevel>("4").is_err());
    assert_eq!(format!("{Shed}"), "shed");
}

#[test]
fn features_per_level_match_their_definitions() {
    // Normal: all on. Shed: semantic cache and long answers off.
    // Degraded: no LLM generation (curated + extractive from the KB).
    // Minimal: exact cache and curated answers only.
    let on = |f: Features| {
        [
            f.exact_cache,
            f.curated_answers,
            f.kb_retrieval,
            f.llm_generation,
            f.semantic_cache,
            f.long_answers,
        ]
    };
    assert_eq!(on(features(Normal)), [true; 6]);
    assert_eq!(on(features(Shed)), [true, true, true, true, false, false]);
    assert_eq!(
        on(features(Degraded)),
        [true, true, true, false, false, false]
    );
    assert_eq!(
        on(features(Minimal)),
        [true, true, false, false, false, false]
    );
    for pair in BrownoutLevel::ALL.windows(2) {
        assert!(pair[1].features().is_subset_of(&pair[0].features()));
        assert!(!pair[0].features().is_subset_of(&pair[1].features()));
    }
}

#[test]
fn up_at_once_down_one_step_per_hold() {
    run(&[
        (0, queue(0), Normal),
        (1_000, queue(60), Shed),
        (2_000, queue(1_500), Minimal), // straight up two levels
        (3_000, queue(0), Minimal),     // calm from 3_000
        (32_999, queue(0), Minimal),
        (33_000, queue(0), Degraded), // 30 s calm: one step; calm again from 33_000
        (40_000, queue(250), Degraded), // a Degraded-level sample: the wait restarts
        (50_000, queue(0), Degraded), // calm from 50_000
        (60_000, queue(60), Degraded), // Shed-level is still below Degraded: calm goes on
        (80_000, queue(0), Shed),
        (109_999, queue(0), Shed),
        (110_000, queue(0), Normal),
        (200_000, queue(0), Normal),
    ]);
}

#[test]
fn a_signal_hovering_at_a_threshold_does_not_flap() {
    // Two minutes of queue depth crossing the Shed threshold every 5 s.
    let mut c = BrownoutController::new(BrownoutConfig::default()).unwrap();
    for i in 0..24u64 {
        let depth = if i % 2 == 0 { 55 } else { 45 };
        assert_eq!(c.update(i * 5_000, &queue(depth)), Shed, "sample {i}");
    }
    // Then it stays low: down after the hold.
    assert_eq!(c.update(125_000, &queue(45)), Shed);
    assert_eq!(c.update(150_000, &queue(45)), Normal);
}

#[test]
fn each_signal_raises_the_level() {
    let cfg = BrownoutConfig::default();
    let wait = |ms| Signals {
        p99_queue_wait_ms: ms,
        ..Signals::default()
    };
    let errors = |r| Signals {
        error_rate: r,
        ..Signals::default()
    };
    let breaker = Signals {
        breaker_open: true,
        ..Signals::default()
    };
    let rows = [
        (queue(49), Normal),
        (queue(50), Shed),
        (queue(200), Degraded),
        (queue(1_000), Minimal),
        (wait(1_999), Normal),
        (wait(2_000), Shed),
        (wait(8_000), Degraded),
        (wait(30_000), Minimal),
        (errors(0.049), Normal),
        (errors(0.05), Shed),
        (errors(0.5), Minimal),
        (errors(f64::NAN), Normal),
        (breaker, Degraded),
        (
            Signals {
                breaker_open: true,
                ..queue(2_000)
            },
            Minimal,
        ),
    ];
    for (s, want) in rows {
        assert_eq!(cfg.level_for(&s), want, "{s:?}");
    }
}

#[test]
fn clock_going_backwards_does_not_shorten_the_hold() {
    run(&[
        (10_000, queue(2_000), Minimal),
        (20_000, queue(0), Minimal), // calm from 20_000
        (5_000, queue(0), Minimal),  // back in time: taken as 20_000
        (0, queue(0), Minimal),
        (49_999, queue(0), Minimal),
        (50_000, queue(0), Degraded),
        (1, queue(0), Degraded),
    ]);
}

#[test]
fn invalid_configs_are_refused() {
    assert!(BrownoutConfig::default().validate().is_ok());
    let mut c = BrownoutConfig::default();
    c.degraded.queue_depth = 10; // below Shed's 50
    assert!(BrownoutController::new(c).is_err());
    let mut c = BrownoutConfig::default();
    c.minimal.error_rate = 1.5;
    assert!(c.validate().is_err());
    let mut c = BrownoutConfig::default();
    c.shed.p99_queue_wait_ms = 0;
    assert!(c.validate().is_err());
    let parsed: BrownoutConfig =
        serde_json::from_str(r#"{"hold_ms": 5000, "breaker_open_level": 3}"#).unwrap();
    assert_eq!(
        (parsed.hold_ms, parsed.breaker_open_level),
        (5_000, Minimal)
    );
    assert!(serde_json::from_str::<BrownoutConfig>(r#"{"hold": 5000}"#).is_err());
}
