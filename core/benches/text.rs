//! Text-path benchmarks: PII scanning throughput, question normalisation,
//! cache-key construction and an AnswerCache hit at 10k entries.
use std::hint::black_box;
use std::num::NonZeroUsize;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kefu_core::cache::{AnswerCache, CacheKey, normalize_question};
use kefu_core::pii;
use kefu_core::{KbVersion, Locale, TenantId};

/// About 1 KiB of mixed Chinese/English support chat with a few pieces of
/// personal data and plenty of digits that are not (orders, amounts, dates).
fn mixed_kb() -> String {
    let para = "您好，我的订单号是20241123000012345678，昨天下单的，金额¥1,299.00，还没发货。\
        Hi, I paid with card 6222 0212 3456 7890 128 on 2024-11-23 10:30:00, please check. \
        我的手机号是138-0013-8000，邮箱 zhang.san@example.com，身份证11010519491231002X。\
        Tracking SF1234567890123 shows nothing; can you help me? 谢谢！";
    let mut s = String::new();
    while s.len() < 1024 {
        s.push_str(para);
    }
    s
}

/// The same size of ordinary text without personal data or long numbers.
fn clean_kb() -> String {
    let para = "请问退款一般多久到账？我在七天前申请了退货，快递已经签收了。\
        How long does a refund usually take after the return has been received? ";
    let mut s = String::new();
    while s.len() < 1024 {
        s.push_str(para);
    }
    s
}

fn pii_scan(c: &mut Criterion) {
    let mixed = mixed_kb();
    let clean = clean_kb();
    let mut g = c.benchmark_group("pii");
    g.throughput(Throughput::Bytes(mixed.len() as u64));
    g.bench_function("find/mixed_1k", |b| b.iter(|| pii::find(black_box(&mixed))));
    g.bench_function("redact/mixed_1k", |b| {
        b.iter(|| pii::redact(black_box(&mixed)))
    });
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("contains/clean_1k", |b| {
        b.iter(|| pii::contains_pii(black_box(&clean)))
    });
    g.finish();
}

fn normalize(c: &mut Criterion) {
    let mut g = c.benchmark_group("normalize_question");
    for (name, q) in [
        ("zh", "你好，请问我的订单什么时候可以发货呀？谢谢！"),
        ("en", "Hi there, how do I reset my password please? Thanks!"),
        ("full_width", "ＨＯＷ　ｄｏ　Ｉ　ｇｅｔ　ａ　ｒｅｆｕｎｄ？"),
    ] {
        g.bench_function(name, |b| b.iter(|| normalize_question(black_box(q))));
    }
    g.finish();
}

fn cache(c: &mut Criterion) {
    let tenant = TenantId::new("acme").expect("valid tenant");
    let mut cache = AnswerCache::new(NonZeroUsize::new(10_000).expect("non-zero"));
    for i in 0..10_000u32 {
        let key = CacheKey::new(&tenant, KbVersion(3), Locale::Zh, &format!("问题{i}怎么办"));
        cache.insert(key, format!("答案{i}"), 0, 3_600_000);
    }
    let q = "问题4242怎么办？";
    let key = CacheKey::new(&tenant, KbVersion(3), Locale::Zh, q);
    assert!(
        cache.get(&key, 1).is_some(),
        "the benchmark must measure a hit"
    );
    let mut g = c.benchmark_group("answer_cache");
    g.bench_function("key_new", |b| {
        b.iter(|| CacheKey::new(&tenant, KbVersion(3), Locale::Zh, black_box(q)))
    });
    g.bench_function("get_hit_10k", |b| {
        b.iter(|| cache.get(black_box(&key), 1).is_some())
    });
    g.finish();
}

criterion_group!(benches, pii_scan, normalize, cache);
criterion_main!(benches);
