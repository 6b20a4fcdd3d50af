//! Embedding throughput of the in-process models, one sentence at a time
//! (a visitor's query) and in batches of 32 (a publish), on the shop
//! fixture's questions.
//!
//! `cargo bench -p kefu-kb --bench embed`; the models come from
//! `scripts/fetch-models.sh` (the bench stops with a clear message without
//! them).

use std::path::{Path, PathBuf};
use std::time::Instant;

use kefu_kb::{BertEmbedder, EmbedKind, Embedder};

fn need(p: PathBuf) -> PathBuf {
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-models.sh",
        p.display()
    );
    p
}

fn sentences() -> Vec<String> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/shop/questions.jsonl");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["q"].as_str().map(str::to_owned))
        .collect()
}

fn rate(e: &dyn Embedder, texts: &[&str], batch: usize) -> f64 {
    let started = Instant::now();
    for chunk in texts.chunks(batch) {
        std::hint::black_box(e.embed(chunk, EmbedKind::Passage).expect("embed"));
    }
    texts.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let all = sentences();
    let n = if full { all.len() } else { 16 };
    let texts: Vec<&str> = all.iter().take(n).map(String::as_str).collect();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.kefu/models");
    let e5 = BertEmbedder::load_e5_q4(
        need(models.join("e5-small-q4/e5-small-q4.bin")),
        need(models.join("e5-small-q4/tokenizer.json")),
    )
    .expect("e5-small-q4");
    let minilm = BertEmbedder::load_dir(need(models.join("all-minilm-l6-v2"))).expect("MiniLM");
    println!(
        "embedding throughput, {n} fixture questions ({})",
        if full {
            "release"
        } else {
            "smoke run: use `cargo bench`"
        }
    );
    println!("| model | one at a time (sentences/s) | batches of 32 (sentences/s) |");
    println!("|---|---|---|");
    for (name, e) in [
        ("multilingual-e5-small Q4", &e5 as &dyn Embedder),
        ("all-MiniLM-L6-v2 (f32)", &minilm),
    ] {
        // Warm up once (allocations, caches), then measure.
        rate(e, &texts[..texts.len().min(8)], 8);
        println!(
            "| {name} | {:.0} | {:.0} |",
            rate(e, &texts, 1),
            rate(e, &texts, 32)
        );
    }
}
