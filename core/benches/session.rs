//! Session record speed: kefu's bounded MessagePack codec against
//! `serde_json` on the same `Session` (10 turns of realistic Chinese and
//! English customer-service text, with citations).
//!
//! Rows are grouped by operation so the two formats sit side by side:
//! `session-decode/msgpack` is the full `Session::decode` (bounds, version
//! dispatch, serde decode, invariant checks); `session-decode/json` is a bare
//! `serde_json::from_slice`, which checks none of that. `scan-only` is the
//! bounds walk alone (what `codec::scan` costs a caller such as `wire`);
//! `messagepack-serde` is the no_std crate the codec first used, kept as the
//! baseline that justified replacing it.
//!
//! Before criterion runs, `cargo bench` prints the decode ratio json/msgpack
//! measured in interleaved batches (so machine load hits both sides alike).
//! `KEFU_COUNT=n` instead runs each decoder `n` times and exits, for
//! instruction counts that machine load does not move:
//! `KEFU_COUNT=1000 valgrind --tool=callgrind <bench binary>`, then
//! `callgrind_annotate --inclusive=yes callgrind.out.* | grep count_`.
//!
//! The bench links `simdutf8` with `std`, as the regional service does
//! (kefu-core's `std` feature), so UTF-8 validation picks AVX2 or SSE4.2 at
//! run time; a `no_std` build validates with `core::str::from_utf8`.
use criterion::{Criterion, Throughput, criterion_group};
use std::hint::black_box;
use std::time::{Duration, Instant};

use kefu_core::codec;
use kefu_core::session::{Citation, Role, SESSION_LIMITS, Session, Source, Turn};
use kefu_core::{ConversationId, KbVersion, TenantId, VisitorId};

const T0: u64 = 1_717_200_000_000;

fn realistic_session() -> Session {
    let mut s = Session::new(
        TenantId::new("acme-bank").unwrap(),
        ConversationId::new("c-20240601-0001").unwrap(),
        VisitorId::new("v-8f3a2c").unwrap(),
        T0,
    );
    let cite = |id: &str, title: &str| Citation {
        id: id.into(),
        title: title.into(),
        url: Some(format!("https://help.example.com/kb/{id}")),
        snippet: Some("信用卡账单日后第20天为到期还款日，逾期将产生利息。".into()),
    };
    let turns: [(Role, &str, Option<Source>); 10] = [
        (Role::Visitor, "你好，我的信用卡账单怎么查？", None),
        (
            Role::Bot,
            "您可以登录手机银行，在“信用卡”页面点击“账单查询”查看本期和历史账单。也可以关注官方微信公众号，回复“账单”获取。",
            Some(Source::Faq),
        ),
        (Role::Visitor, "还款日是哪天？我上个月好像逾期了", None),
        (
            Role::Bot,
            "到期还款日为账单日后第20天。如果逾期，会按日计收利息，并可能影响征信。建议您尽快全额还款，如有特殊情况可申请延期。",
            Some(Source::Llm),
        ),
        (
            Role::Visitor,
            "Can I set up automatic repayment from my debit card?",
            None,
        ),
        (
            Role::Bot,
            "Yes. In the mobile app go to Credit Card > Repayment > Auto-repay, choose your linked debit card and whether to repay the full or minimum amount. It takes effect from the next statement.",
            Some(Source::Kb),
        ),
        (Role::Visitor, "自动还款失败了会怎样", None),
        (
            Role::Bot,
            "若扣款时借记卡余额不足，自动还款将失败，系统会短信提醒您。请在到期还款日前手动补足还款，以免产生逾期记录。",
            Some(Source::Cache),
        ),
        (Role::Visitor, "我要投诉，昨天被多扣了一笔年费！！", None),
        (Role::System, "正在为您转接人工客服，请稍候。", None),
    ];
    for (i, (role, text, source)) in turns.into_iter().enumerate() {
        let mut t = Turn::new(role, text);
        if let Some(src) = source {
            t = t
                .with_source(src)
                .with_citations(vec![cite("kb-cc-101", "信用卡还款说明")]);
        } else {
            t = t.with_client_msg_id(format!("m-{i:04}"));
        }
        s.push_turn(t, T0 + 15_000 * i as u64).unwrap();
    }
    s.kb_version = KbVersion(42);
    s.set_escalation(640, T0 + 200_000);
    s
}

fn bench(c: &mut Criterion) {
    let s = realistic_session();
    let mp = s.encode().unwrap();
    let js = serde_json::to_vec(&s).unwrap();
    eprintln!(
        "session: {} bytes MessagePack, {} bytes JSON",
        mp.len(),
        js.len()
    );
    assert_eq!(Session::decode(&mp).unwrap(), s);
    assert_eq!(serde_json::from_slice::<Session>(&js).unwrap(), s);

    let mut g = c.benchmark_group("session-decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("msgpack", |b| {
        b.iter(|| Session::decode(black_box(&mp)).unwrap())
    });
    g.bench_function("json", |b| {
        b.iter(|| serde_json::from_slice::<Session>(black_box(&js)).unwrap())
    });
    g.bench_function("msgpack-scan-only", |b| {
        b.iter(|| codec::scan(black_box(&mp), &SESSION_LIMITS).unwrap())
    });
    g.bench_function("messagepack-serde", |b| {
        b.iter(|| messagepack_serde::from_slice::<Session>(black_box(&mp)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("session-encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("msgpack", |b| b.iter(|| black_box(&s).encode().unwrap()));
    g.bench_function("json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&s)).unwrap())
    });
    g.bench_function("messagepack-serde", |b| {
        b.iter(|| messagepack_serde::to_vec(black_box(&s)).unwrap())
    });
    g.finish();
}

/// Times `Session::decode` and `serde_json` in alternating batches for about
/// two seconds and prints the median of the per-batch time ratios.
fn print_decode_ratio(mp: &[u8], js: &[u8]) {
    const BATCH: usize = 200;
    let start = Instant::now();
    let mut ratios = Vec::new();
    while start.elapsed() < Duration::from_secs(2) {
        let t = Instant::now();
        count_msgpack(mp, BATCH);
        let m = t.elapsed();
        let t = Instant::now();
        count_json(js, BATCH);
        let j = t.elapsed();
        ratios.push(j.as_secs_f64() / m.as_secs_f64());
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let (lo, hi) = (ratios[ratios.len() / 4], ratios[ratios.len() * 3 / 4]);
    eprintln!(
        "session decode, serde_json time / kefu msgpack time: {median:.2}x \
         (median of {} interleaved batches of {BATCH}; quartiles {lo:.2}x..{hi:.2}x)",
        ratios.len()
    );
}

#[inline(never)]
fn count_msgpack(mp: &[u8], n: usize) {
    for _ in 0..n {
        black_box(Session::decode(black_box(mp)).unwrap());
    }
}

#[inline(never)]
fn count_json(js: &[u8], n: usize) {
    for _ in 0..n {
        black_box(serde_json::from_slice::<Session>(black_box(js)).unwrap());
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(n) = std::env::var("KEFU_COUNT") {
        let n: usize = n.parse().unwrap();
        let s = realistic_session();
        let mp = s.encode().unwrap();
        let js = serde_json::to_vec(&s).unwrap();
        count_msgpack(&mp, n);
        count_json(&js, n);
        return;
    }
    if std::env::args().any(|a| a == "--bench") {
        let s = realistic_session();
        print_decode_ratio(&s.encode().unwrap(), &serde_json::to_vec(&s).unwrap());
    }
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
