//! Routing benchmarks: `decide` per visitor message, Chinese and English,
//! short and long, calm and angry; plus the fixture as a whole.
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kefu_core::routing::{History, RoutingConfig, decide, signals};

const ZH: &[&str] = &[
    "我忘记密码了怎么办",
    "转人工",
    "什么垃圾服务，太差了，气死我了！！！",
    "不好意思，这个问题我已经问了三遍了，还是没解决，能不能帮我看一下订单到底什么时候能到",
];
const EN: &[&str] = &[
    "how do I get a refund",
    "talk to a human",
    "worst service ever, absolutely terrible, I'm so angry!!!",
    "Sorry, but this is the third time I'm asking and it's still not resolved, can you please check when my order will arrive",
];

fn bench(c: &mut Criterion) {
    let cfg = RoutingConfig {
        tenant_keywords: vec!["挂失".into(), "fraud".into()],
        ..Default::default()
    };
    let history = History {
        frustration: 30,
        fallbacks_in_row: 1,
        turns_with_ai: 4,
        ..Default::default()
    };
    let mut g = c.benchmark_group("routing/decide");
    for (lang, msgs) in [("zh", ZH), ("en", EN)] {
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_function(format!("{lang} x{} messages", msgs.len()), |b| {
            b.iter(|| {
                for m in msgs {
                    black_box(decide(black_box(m), &history, &cfg, true));
                }
            })
        });
    }
    let long = ZH[2].repeat(40);
    g.throughput(Throughput::Elements(1));
    g.bench_function("zh rant (~700 chars)", |b| {
        b.iter(|| black_box(decide(black_box(&long), &history, &cfg, true)))
    });
    g.finish();

    c.bench_function("routing/signals en", |b| {
        b.iter(|| black_box(signals(black_box(EN[3]), &cfg)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
