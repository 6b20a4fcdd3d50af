//! Cost of one rate-limit decision: a single `SlidingWindow::check` on the
//! admit, refuse and window-roll paths, and `check_all` over the four keyed
//! limits an edge request goes through. Goal: one `check` <= 100 ns.
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kefu_core::ratelimit::{Limit, LimitKind, LimitPolicy, SlidingWindow, check_all};

/// A window start on the one-minute grid.
const T0: u64 = 1_700_000_040_000;

fn filled(limit: Limit, n: u32, at: u64) -> SlidingWindow {
    let mut sw = SlidingWindow::new();
    for _ in 0..n {
        sw.check(at, limit);
    }
    sw
}

fn bench_check(c: &mut Criterion) {
    let limit = Limit::per_minute(20).unwrap();
    let mut g = c.benchmark_group("ratelimit/check");
    let half = filled(limit, 10, T0 + 1_000);
    g.bench_function("allow", |b| {
        b.iter(|| {
            let mut s = black_box(half);
            s.check(black_box(T0 + 30_000), black_box(limit))
        })
    });
    let full = filled(limit, 20, T0 + 1_000);
    g.bench_function("deny", |b| {
        b.iter(|| {
            let mut s = black_box(full);
            s.check(black_box(T0 + 30_000), black_box(limit))
        })
    });
    g.bench_function("roll_to_next_window", |b| {
        b.iter(|| {
            let mut s = black_box(half);
            s.check(black_box(T0 + 90_000), black_box(limit))
        })
    });
    g.finish();
}

fn bench_check_all(c: &mut Criterion) {
    let p = LimitPolicy::default();
    let states = [
        filled(p.visitor, 5, T0 + 1_000),
        filled(p.ip, 20, T0 + 1_000),
        filled(p.tenant, 3_000, T0 + 1_000),
        filled(p.new_conversation_per_ip, 2, T0 + 1_000),
    ];
    c.bench_function("ratelimit/check_all/4_limits", |b| {
        b.iter(|| {
            let [mut v, mut i, mut t, mut n] = black_box(states);
            check_all(
                &mut [
                    (LimitKind::Visitor, &mut v, p.visitor),
                    (LimitKind::Ip, &mut i, p.ip),
                    (LimitKind::Tenant, &mut t, p.tenant),
                    (
                        LimitKind::NewConversationPerIp,
                        &mut n,
                        p.new_conversation_per_ip,
                    ),
                ],
                black_box(T0 + 30_000),
            )
        })
    });
}

criterion_group!(benches, bench_check, bench_check_all);
criterion_main!(benches);
