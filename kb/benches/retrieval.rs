//! Retrieval at 100,000 chunks: index build and load time, query latency
//! p50/p99 per mode with exact (brute-force) vector search as the baseline
//! measured in the same run, and instant-distance's recall@10 against exact.
//!
//! `cargo bench -p kefu-kb --bench retrieval` (`KEFU_BENCH_CHUNKS=N` to change
//! the size). The corpus is synthetic: 100k FAQ-sized chunks drawn from an
//! English + Chinese vocabulary over 1,000 topics, and 384-dimension vectors
//! (multilingual-e5-small's size) clustered by topic — a stand-in embedder,
//! so the figures are about the index, not a model. Embedding speed is
//! `--bench embed`.

use std::time::Instant;

use kefu_kb::{Chunk, EmbedKind, Embedder, KbIndex, SearchMode, SearchOptions, faq_chunk};

const DIM: usize = 384;
const TOPICS: usize = 1000;

/// A deterministic xorshift generator (no dependency, same corpus each run).
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

const EN: &[&str] = &[
    "refund",
    "order",
    "shipping",
    "delivery",
    "password",
    "account",
    "invoice",
    "warranty",
    "return",
    "payment",
    "coupon",
    "member",
    "address",
    "courier",
    "parcel",
    "repair",
    "battery",
    "lamp",
    "charger",
    "size",
    "exchange",
    "discount",
    "points",
    "gift",
    "wrap",
    "tracking",
    "customs",
    "international",
    "express",
    "damage",
    "screen",
    "login",
    "verify",
    "phone",
    "email",
    "cancel",
    "receipt",
    "price",
    "stock",
    "restock",
    "colour",
    "material",
    "cotton",
    "kettle",
    "filter",
];
const ZH: &[&str] = &[
    "退款",
    "订单",
    "配送",
    "快递",
    "密码",
    "账户",
    "发票",
    "保修",
    "退货",
    "支付",
    "优惠券",
    "会员",
    "地址",
    "包裹",
    "维修",
    "电池",
    "台灯",
    "充电器",
    "尺码",
    "换货",
    "折扣",
    "积分",
    "礼品",
    "物流",
    "海关",
    "损坏",
    "屏幕",
    "登录",
    "验证",
    "手机",
    "邮箱",
    "取消",
    "收据",
    "价格",
    "库存",
    "颜色",
];

/// Topic `t`'s words: a fixed handful per topic, so a query about a topic
/// shares words with its chunks.
fn topic_words(t: usize) -> Vec<&'static str> {
    (0..4)
        .map(|i| {
            let k = t * 7 + i * 13;
            if i % 2 == 0 {
                EN[k % EN.len()]
            } else {
                ZH[k % ZH.len()]
            }
        })
        .collect()
}

fn text(rng: &mut Rng, t: usize, words: usize) -> String {
    let tw = topic_words(t);
    let mut out = vec![format!("t{t}")];
    for i in 0..words {
        let w = if i % 3 == 0 {
            tw[(rng.next() as usize) % tw.len()]
        } else if rng.next().is_multiple_of(2) {
            EN[(rng.next() as usize) % EN.len()]
        } else {
            ZH[(rng.next() as usize) % ZH.len()]
        };
        out.push(w.to_owned());
    }
    out.join(" ")
}

/// Topic centroids plus per-text noise, unit length: clustered like real
/// embeddings. The topic is the text's first word (`t123`).
#[derive(Debug)]
struct Topical {
    centroids: Vec<Vec<f32>>,
}

impl Topical {
    fn new() -> Topical {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let centroids = (0..TOPICS)
            .map(|_| (0..DIM).map(|_| rng.unit()).collect())
            .collect();
        Topical { centroids }
    }
}

impl Embedder for Topical {
    fn model_id(&self) -> &str {
        "synthetic-topical-384"
    }
    fn dim(&self) -> usize {
        DIM
    }
    fn embed(&self, texts: &[&str], _: EmbedKind) -> kefu_kb::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let topic: usize = t
                    .split_whitespace()
                    .next()
                    .and_then(|w| w.strip_prefix('t'))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut h = Rng(t.bytes().fold(0xcbf2_9ce4_8422_2325u64, |a, b| {
                    (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                }) | 1);
                let mut v: Vec<f32> = self.centroids[topic % TOPICS]
                    .iter()
                    .map(|c| c + 0.6 * h.unit())
                    .collect();
                kefu_kb::normalize(&mut v);
                v
            })
            .collect())
    }
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and would time a debug build: run small then.
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("KEFU_BENCH_CHUNKS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full { 100_000 } else { 2_000 });
    let queries = if full { 1_000 } else { 50 };
    let mut rng = Rng(42);
    let chunks: Vec<Chunk> = (0..n)
        .map(|i| {
            let t = i % TOPICS;
            faq_chunk(
                &format!("faq-{i}"),
                &text(&mut rng, t, 8),
                &text(&mut rng, t, 40),
                &[],
            )
        })
        .collect();
    let embedder = Topical::new();

    let started = Instant::now();
    let mut stage = ("", Instant::now());
    let index = KbIndex::build(chunks, Some(&embedder), &mut |p| {
        if p.stage != stage.0 {
            if !stage.0.is_empty() {
                eprintln!("  {} {:.1} s", stage.0, stage.1.elapsed().as_secs_f64());
            }
            stage = (p.stage, Instant::now());
        }
    })
    .expect("build");
    let build_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let bytes = index.to_bytes().expect("to_bytes");
    let save_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let loaded = KbIndex::from_bytes(&bytes).expect("from_bytes");
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    assert_eq!(loaded.chunks().len(), n);

    let qs: Vec<(String, Vec<f32>)> = (0..queries)
        .map(|i| {
            let t = (i * 37) % TOPICS;
            let q = text(&mut rng, t, 6);
            let v = embedder
                .embed(&[q.as_str()], EmbedKind::Query)
                .unwrap()
                .remove(0);
            (q, v)
        })
        .collect();
    let vectors = loaded.vectors().expect("vectors");
    let mut recall = 0usize;
    let mut exact_ms = Vec::new();
    let mut hnsw_ms = Vec::new();
    for (_, v) in &qs {
        let t = Instant::now();
        let exact = vectors.exact(v, 10).unwrap();
        exact_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let approx = vectors.search(v, 10).unwrap();
        hnsw_ms.push(t.elapsed().as_secs_f64() * 1e3);
        recall += approx
            .iter()
            .filter(|(i, _)| exact.iter().any(|(j, _)| j == i))
            .count();
    }
    println!(
        "retrieval bench: {n} chunks, {queries} queries, dim {DIM} ({})",
        if full {
            "release"
        } else {
            "smoke run: use `cargo bench`"
        }
    );
    println!(
        "index build {build_s:.1} s (BM25 + vectors + HNSW), serialized {:.1} MB, to_bytes {save_ms:.0} ms, load {load_ms:.0} ms",
        bytes.len() as f64 / 1e6
    );
    println!(
        "recall@10 HNSW vs exact: {:.3}",
        recall as f64 / (10 * qs.len()) as f64
    );
    println!("| search | p50 ms | p99 ms |");
    println!("|---|---|---|");
    println!(
        "| exact vector (baseline) | {:.3} | {:.3} |",
        pct(exact_ms.clone(), 0.5),
        pct(exact_ms, 0.99)
    );
    println!(
        "| HNSW vector | {:.3} | {:.3} |",
        pct(hnsw_ms.clone(), 0.5),
        pct(hnsw_ms, 0.99)
    );
    for mode in [SearchMode::Lexical, SearchMode::Vector, SearchMode::Hybrid] {
        let opts = SearchOptions {
            mode,
            k: 5,
            ..Default::default()
        };
        let ms: Vec<f64> = qs
            .iter()
            .map(|(q, v)| {
                let t = Instant::now();
                let hits = loaded.search(q, Some(v), &opts);
                std::hint::black_box(hits);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        println!(
            "| KbIndex::search {mode:?} (k=5) | {:.3} | {:.3} |",
            pct(ms.clone(), 0.5),
            pct(ms, 0.99)
        );
    }
}
