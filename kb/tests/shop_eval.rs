//! Retrieval quality on the bilingual shop fixture (`fixtures/shop/`):
//! hit@1 and hit@3 by entry id, the share of unanswerable questions the
//! judgement refuses, and the share of answerable ones it wrongly refuses.
//!
//! Questions alternate between a development half (even lines, used to
//! tune [`AnswerPolicy`]) and a held-out half (odd lines); both are
//! reported, and the floors below are asserted on the held-out half so a
//! change that only fits the tuning questions shows.

use std::path::PathBuf;

use kefu_kb::{
    AnswerPolicy, Chunk, ChunkConfig, Judgement, KbIndex, SearchMode, SearchOptions,
    chunk_document, faq_chunk, judge,
};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/shop")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The fixture's entries as chunks.
pub fn shop_chunks() -> Vec<Chunk> {
    let kb: Value = serde_json::from_str(&fixture("kb.json")).unwrap();
    let mut out = Vec::new();
    for f in kb["faqs"].as_array().unwrap() {
        let alts: Vec<String> = f["alternates"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        out.push(faq_chunk(
            f["id"].as_str().unwrap(),
            f["question"].as_str().unwrap(),
            f["answer"].as_str().unwrap(),
            &alts,
        ));
    }
    for d in kb["documents"].as_array().unwrap() {
        out.extend(chunk_document(
            d["id"].as_str().unwrap(),
            d["title"].as_str().unwrap(),
            d["text"].as_str().unwrap(),
            d["url"].as_str(),
            &ChunkConfig::default(),
        ));
    }
    out
}

struct Q {
    q: String,
    expect: Vec<String>,
}

fn questions() -> Vec<Q> {
    fixture("questions.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Q {
                q: v["q"].as_str().unwrap().to_owned(),
                expect: v["expect"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_owned())
                    .collect(),
            }
        })
        .collect()
}

#[derive(Debug, Default)]
struct Score {
    answerable: usize,
    hit1: usize,
    hit3: usize,
    false_refusals: usize,
    unanswerable: usize,
    refused: usize,
}

impl Score {
    fn hit1(&self) -> f64 {
        self.hit1 as f64 / self.answerable.max(1) as f64
    }
    fn hit3(&self) -> f64 {
        self.hit3 as f64 / self.answerable.max(1) as f64
    }
    fn refusal(&self) -> f64 {
        self.refused as f64 / self.unanswerable.max(1) as f64
    }
    fn false_refusal(&self) -> f64 {
        self.false_refusals as f64 / self.answerable.max(1) as f64
    }
}

fn score(idx: &KbIndex, qs: &[&Q], mode: SearchMode) -> Score {
    score_with(idx, qs, mode, &|_| None)
}

fn score_with(
    idx: &KbIndex,
    qs: &[&Q],
    mode: SearchMode,
    qvec: &dyn Fn(&str) -> Option<Vec<f32>>,
) -> Score {
    let opts = SearchOptions {
        mode,
        k: 5,
        ..Default::default()
    };
    let policy = AnswerPolicy::default();
    let mut s = Score::default();
    for q in qs {
        let v = qvec(&q.q);
        let hits = idx.search(&q.q, v.as_deref(), &opts);
        let j = judge(idx, &q.q, &hits, &policy);
        let refused = j == Judgement::NothingRelevant;
        if q.expect.is_empty() {
            s.unanswerable += 1;
            s.refused += usize::from(refused);
            continue;
        }
        s.answerable += 1;
        s.false_refusals += usize::from(refused);
        let entry = |h: &kefu_kb::Hit| idx.chunks()[h.chunk].entry_id.clone();
        if hits.first().is_some_and(|h| q.expect.contains(&entry(h))) {
            s.hit1 += 1;
        }
        if hits.iter().take(3).any(|h| q.expect.contains(&entry(h))) {
            s.hit3 += 1;
        }
    }
    s
}

#[test]
fn lexical_retrieval_and_refusals_on_the_shop_fixture() {
    let chunks = shop_chunks();
    assert!(chunks.len() >= 80, "fixture has {} chunks", chunks.len());
    let idx = KbIndex::build(chunks, None, &mut |_| {}).unwrap();
    let all = questions();
    assert!(all.iter().filter(|q| q.expect.is_empty()).count() >= 20);
    assert!(all.iter().filter(|q| !q.expect.is_empty()).count() >= 200);
    let dev: Vec<&Q> = all.iter().step_by(2).collect();
    let held: Vec<&Q> = all.iter().skip(1).step_by(2).collect();
    for (name, qs) in [("dev", &dev), ("held-out", &held)] {
        let s = score(&idx, qs, SearchMode::Lexical);
        println!(
            "lexical {name}: hit@1 {:.3} hit@3 {:.3} (n={}), refusals {:.3} (n={}), false refusals {:.3}",
            s.hit1(),
            s.hit3(),
            s.answerable,
            s.refusal(),
            s.unanswerable,
            s.false_refusal()
        );
    }
    let s = score(&idx, &held, SearchMode::Lexical);
    // Floors for the lexical-only mode (no embedding model): a regression
    // guard set below the measured figures in BENCHMARKS.md.
    assert!(s.hit3() >= 0.85, "held-out lexical hit@3 {:.3}", s.hit3());
    assert!(
        s.refusal() >= 0.7,
        "held-out refusal rate {:.3}",
        s.refusal()
    );
    assert!(
        s.false_refusal() <= 0.3,
        "held-out false refusals {:.3}",
        s.false_refusal()
    );
}

#[test]
fn twins_answer_in_the_question_language() {
    let idx = KbIndex::build(shop_chunks(), None, &mut |_| {}).unwrap();
    for (q, want) in [
        ("退款多久能到账", "faq-refund-time-zh"),
        ("when will my refund arrive?", "faq-refund-time-en"),
    ] {
        let hits = idx.search(q, None, &SearchOptions::default());
        let got = match judge(&idx, q, &hits, &AnswerPolicy::default()) {
            Judgement::Faq { hit } => idx.chunks()[hit.chunk].entry_id.clone(),
            Judgement::Passages { hits } => idx.chunks()[hits[0].chunk].entry_id.clone(),
            j => format!("{j:?}"),
        };
        let top: Vec<_> = hits
            .iter()
            .map(|h| {
                (
                    idx.chunks()[h.chunk].entry_id.clone(),
                    kefu_kb::coverage(&idx, q, h.chunk),
                )
            })
            .collect();
        assert_eq!(got, want, "{q}: {top:?}");
    }
}

/// The shop fixture with multilingual-e5-small (Q4) from
/// `scripts/fetch-models.sh`: lexical, vector and hybrid retrieval on the
/// same index, on the tuning (dev) and held-out halves. Prints the table
/// BENCHMARKS.md records; asserts the hybrid mode does not fall below what
/// was measured (a regression guard, not the goal, which the
/// figures say whether it meets).
#[test]
fn hybrid_retrieval_with_e5_on_the_shop_fixture() {
    use kefu_kb::{BertEmbedder, EmbedKind, Embedder};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.kefu/models/e5-small-q4");
    let need = |f: &str| {
        let p = dir.join(f);
        assert!(
            p.is_file(),
            "{} is missing: run scripts/fetch-models.sh (scripts/setup.sh does)",
            p.display()
        );
        p
    };
    let e5 = BertEmbedder::load_e5_q4(need("e5-small-q4.bin"), need("tokenizer.json")).unwrap();
    let idx = KbIndex::build(shop_chunks(), Some(&e5), &mut |_| {}).unwrap();
    let all = questions();
    let vecs: std::collections::HashMap<String, Vec<f32>> = all
        .iter()
        .map(|q| {
            let v = e5
                .embed(&[q.q.as_str()], EmbedKind::Query)
                .unwrap()
                .pop()
                .unwrap();
            (q.q.clone(), v)
        })
        .collect();
    let qvec = |q: &str| vecs.get(q).cloned();
    let dev: Vec<&Q> = all.iter().step_by(2).collect();
    let held: Vec<&Q> = all.iter().skip(1).step_by(2).collect();
    println!("| mode | half | hit@1 | hit@3 | refusals | false refusals |");
    let mut hybrid_held = None;
    for mode in [SearchMode::Lexical, SearchMode::Vector, SearchMode::Hybrid] {
        for (name, qs) in [("dev", &dev), ("held-out", &held)] {
            let s = score_with(&idx, qs, mode, &qvec);
            println!(
                "| {mode:?} | {name} | {:.3} | {:.3} | {:.3} (n={}) | {:.3} (n={}) |",
                s.hit1(),
                s.hit3(),
                s.refusal(),
                s.unanswerable,
                s.false_refusal(),
                s.answerable
            );
            if mode == SearchMode::Hybrid && name == "held-out" {
                hybrid_held = Some(s);
            }
        }
    }
    let s = hybrid_held.unwrap();
    // Floors just under the figures measured on 2026-11-24 (BENCHMARKS.md):
    // hit@3 meets the 0.9; refusals (0.69) do not meet its 0.9.
    assert!(s.hit3() >= 0.9, "held-out hybrid hit@3 {:.3}", s.hit3());
    assert!(
        s.refusal() >= 0.65,
        "held-out hybrid refusals {:.3}",
        s.refusal()
    );
    assert!(
        s.false_refusal() <= 0.2,
        "held-out hybrid false refusals {:.3}",
        s.false_refusal()
    );
}
