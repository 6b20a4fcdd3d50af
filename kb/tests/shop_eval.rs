//! Retrieval quality on the bilingual shop fixture (`fixtures/shop/`):
//! hit@1 and hit@3 by entry id, the share of unanswerable questions the
//! judgement refuses, and the share of answerable ones it wrongly refuses.
//!
//! Questions alternate between a development half (even lines, used to
//! tune [`AnswerPolicy`]) and a held-out half (odd lines); both are
//! reported, and the floors below are asserted on the held-out half so a
//! change that only fits the tuning questions shows.

use std::path::PathBuf;

use kefu_kb::{AnswerPolicy, Judgement, KbIndex, SearchMode, SearchOptions, judge};
use serde_json::Value;

#[path = "../../fixtures/shop/shop.rs"]
mod shop;
use shop::{Q, questions};

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
    let chunks = shop::chunks();
    assert!(chunks.len() >= 80, "fixture has {} chunks", chunks.len());
    let idx = KbIndex::build(chunks, None, &mut |_| {}).unwrap();
    let all = questions();
    assert!(all.iter().filter(|q| q.expect.is_empty()).count() >= 20);
    assert!(all.iter().filter(|q| !q.expect.is_empty()).count() >= 200);
    let (dev, held) = shop::split(&all);
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
    // guard set below the measured figures in BENCHMARKS.md (refusals 0.686
    // since session 4's near-domain unanswerables, 0.72 before them).
    assert!(s.hit3() >= 0.85, "held-out lexical hit@3 {:.3}", s.hit3());
    assert!(
        s.refusal() >= 0.65,
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
    let idx = KbIndex::build(shop::chunks(), None, &mut |_| {}).unwrap();
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

/// A model from `scripts/fetch-models.sh`; a missing file fails the test
/// with the command that provides it.
fn model_file(dir: &str, f: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.kefu/models")
        .join(dir)
        .join(f);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/fetch-models.sh (scripts/setup.sh does)",
        p.display()
    );
    p
}

/// Query embeddings for every question, computed once.
fn embed_questions(
    e: &dyn kefu_kb::Embedder,
    qs: &[Q],
) -> std::collections::HashMap<String, Vec<f32>> {
    qs.iter()
        .map(|q| {
            let v = e
                .embed(&[q.q.as_str()], kefu_kb::EmbedKind::Query)
                .unwrap()
                .pop()
                .unwrap();
            (q.q.clone(), v)
        })
        .collect()
}

/// Prints one markdown row per language (and all) for `mode` on `qs`;
/// returns the score over all of `qs`.
fn table_rows(
    idx: &KbIndex,
    label: &str,
    qs: &[&Q],
    mode: SearchMode,
    qvec: &dyn Fn(&str) -> Option<Vec<f32>>,
    langs: &[&str],
) -> Score {
    for lang in langs {
        let sub: Vec<&Q> = qs.iter().copied().filter(|q| q.lang == *lang).collect();
        let s = score_with(idx, &sub, mode, qvec);
        println!(
            "| {label} | {lang} | {:.3} | {:.3} | {:.3} ({}/{}) | {:.3} ({}/{}) |",
            s.hit1(),
            s.hit3(),
            s.refusal(),
            s.refused,
            s.unanswerable,
            s.false_refusal(),
            s.false_refusals,
            s.answerable
        );
    }
    let s = score_with(idx, qs, mode, qvec);
    println!(
        "| {label} | **all** | {:.3} | {:.3} | {:.3} ({}/{}) | {:.3} ({}/{}) |",
        s.hit1(),
        s.hit3(),
        s.refusal(),
        s.refused,
        s.unanswerable,
        s.false_refusal(),
        s.false_refusals,
        s.answerable
    );
    s
}

/// Writes each question's signals as JSON lines to `$KEFU_SHOP_SIGNALS`,
/// when set, for tuning `AnswerPolicy` and the fusion weights offline on
/// the dev half: both rankings to depth 20; coverage, cosine and the query
/// tokens it contains per ranked chunk; the query's distinct tokens with
/// document frequency and IDF (for out-of-vocabulary signals); and the
/// query's cosine against every chunk (for per-query normalisation).
fn dump_signals(idx: &KbIndex, all: &[Q], qvec: &dyn Fn(&str) -> Option<Vec<f32>>) {
    let Ok(path) = std::env::var("KEFU_SHOP_SIGNALS") else {
        return;
    };
    let mut out = String::new();
    for (i, q) in all.iter().enumerate() {
        let v = qvec(&q.q);
        let one = |mode| {
            let o = SearchOptions {
                mode,
                k: 20,
                ..Default::default()
            };
            idx.search(&q.q, v.as_deref(), &o)
                .iter()
                .map(|h| h.chunk)
                .collect::<Vec<_>>()
        };
        let (lex, vec) = (one(SearchMode::Lexical), one(SearchMode::Vector));
        let mut toks = kefu_kb::tokenize(&q.q);
        toks.sort();
        toks.dedup();
        let mut chunks: Vec<usize> = lex.iter().chain(&vec).copied().collect();
        chunks.sort_unstable();
        chunks.dedup();
        let info: Vec<Value> = chunks
            .iter()
            .map(|&c| {
                let ch = &idx.chunks()[c];
                let cos = match (&v, idx.vector(c)) {
                    (Some(q), Some(r)) => kefu_kb::vector::dot(q, r),
                    _ => 0.0,
                };
                let has: Vec<usize> = (0..toks.len())
                    .filter(|&t| idx.lexical().contains(c, &toks[t]))
                    .collect();
                serde_json::json!({
                    "chunk": c, "entry": ch.entry_id, "faq": ch.kind == kefu_kb::EntryKind::Faq,
                    "zh": kefu_core::Locale::detect(&ch.text) == kefu_core::Locale::Zh,
                    "cov": kefu_kb::coverage(idx, &q.q, c), "cos": cos, "has": has,
                })
            })
            .collect();
        // The query's distinct tokens with their document frequency and
        // IDF, and its cosine against every chunk (the score distribution).
        let tok_info: Vec<Value> = toks
            .iter()
            .map(|t| serde_json::json!([t, idx.lexical().df(t), idx.lexical().idf(t)]))
            .collect();
        let all_cos: Vec<f32> = match &v {
            Some(q) => (0..idx.chunks().len())
                .filter_map(|c| idx.vector(c).map(|r| kefu_kb::vector::dot(q, r)))
                .collect(),
            None => Vec::new(),
        };
        let row = serde_json::json!({
            "i": i, "q": q.q, "lang": q.lang, "expect": q.expect,
            "qzh": kefu_core::Locale::detect(&q.q) == kefu_core::Locale::Zh,
            "lex": lex, "vec": vec, "chunks": info, "toks": tok_info, "all_cos": all_cos,
        });
        out.push_str(&row.to_string());
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
    println!("signals written to {path}");
}

/// The quality goal, on the held-out half with the thresholds
/// kefu ships ([`AnswerPolicy::default`], [`SearchOptions::default`]):
/// hybrid hit@3 >= 0.9 and >= 90 % of unanswerable questions refused. A
/// judge that refuses everything would meet the second, so answerable
/// questions wrongly refused are capped too (kefu's own bar: 0.2).
const GOAL_HIT3: f64 = 0.9;
const GOAL_REFUSALS: f64 = 0.9;
const MAX_FALSE_REFUSALS: f64 = 0.2;

/// The shop fixture with multilingual-e5-small (Q4) from
/// `scripts/fetch-models.sh`: lexical, vector and hybrid retrieval on the
/// same index, per language, on the tuning (dev) and held-out halves.
/// Prints the table BENCHMARKS.md records and whether the hybrid mode meets
/// the goal on the held-out half (today: hit@3 yes, refusals no).
/// Asserts the goal's hit@3 and false-refusal bar, and a refusal floor just
/// under the measured 0.743 (a regression guard: the goal's 0.9 needs a
/// better relevance signal than a threshold or the ranking signals tried
/// in session 4 — see BENCHMARKS.md).
#[test]
fn hybrid_retrieval_with_e5_on_the_shop_fixture() {
    let e5 = kefu_kb::BertEmbedder::load_e5_q4(
        model_file("e5-small-q4", "e5-small-q4.bin"),
        model_file("e5-small-q4", "tokenizer.json"),
    )
    .expect("load multilingual-e5-small Q4");
    let idx = KbIndex::build(shop::chunks(), Some(&e5), &mut |_| {}).unwrap();
    let all = questions();
    let vecs = embed_questions(&e5, &all);
    let qvec = |q: &str| vecs.get(q).cloned();
    dump_signals(&idx, &all, &qvec);
    let (dev, held) = shop::split(&all);
    println!("| mode | language | hit@1 | hit@3 | refusals | false refusals |");
    println!("|---|---|---|---|---|---|");
    let mut hybrid = None;
    for mode in [SearchMode::Lexical, SearchMode::Vector, SearchMode::Hybrid] {
        table_rows(&idx, &format!("{mode:?} dev"), &dev, mode, &qvec, &[]);
        let s = table_rows(
            &idx,
            &format!("{mode:?} held-out"),
            &held,
            mode,
            &qvec,
            &["zh", "en", "mixed"],
        );
        if mode == SearchMode::Hybrid {
            hybrid = Some(s);
        }
    }
    let s = hybrid.unwrap();
    let mut missed = Vec::new();
    if s.hit3() < GOAL_HIT3 {
        missed.push(format!("hit@3 {:.3} < {GOAL_HIT3}", s.hit3()));
    }
    if s.refusal() < GOAL_REFUSALS {
        missed.push(format!(
            "refusals {:.3} ({}/{}) < {GOAL_REFUSALS}",
            s.refusal(),
            s.refused,
            s.unanswerable
        ));
    }
    if s.false_refusal() > MAX_FALSE_REFUSALS {
        missed.push(format!(
            "false refusals {:.3} ({}/{}) > {MAX_FALSE_REFUSALS}",
            s.false_refusal(),
            s.false_refusals,
            s.answerable
        ));
    }
    if missed.is_empty() {
        println!("held-out hybrid retrieval meets the issue's quality goal");
    } else {
        println!(
            "held-out hybrid retrieval misses the issue's quality goal: {}",
            missed.join("; ")
        );
    }
    assert!(
        s.hit3() >= GOAL_HIT3,
        "held-out hybrid hit@3 {:.3}",
        s.hit3()
    );
    assert!(
        s.false_refusal() <= MAX_FALSE_REFUSALS,
        "held-out hybrid false refusals {:.3}",
        s.false_refusal()
    );
    assert!(
        s.refusal() >= REFUSAL_FLOOR,
        "held-out hybrid refusals {:.3} fell below {REFUSAL_FLOOR}",
        s.refusal()
    );
}

/// The refusal rate measured on 2026-12-03 (0.743, 26 of 35 held-out
/// unanswerables; 0.76 of 25 before 10 more were added) less a margin.
const REFUSAL_FLOOR: f64 = 0.7;

/// all-MiniLM-L6-v2 on the English questions (its training data is
/// English: Chinese text falls apart into sub-word pieces it has no sense
/// of, so the Chinese rows, printed for contrast, are near chance). Its
/// cosine band differs from e5's, so the refusal columns only reflect the
/// lexical coverage signal. Asserts MiniLM's vector ranking finds English
/// answers (held-out hit@3 >= 0.8) and does much worse on Chinese.
#[test]
fn minilm_retrieval_on_the_english_questions() {
    let m = kefu_kb::BertEmbedder::load_dir(
        model_file("all-minilm-l6-v2", "model.safetensors")
            .parent()
            .unwrap(),
    )
    .expect("load all-MiniLM-L6-v2");
    let idx = KbIndex::build(shop::chunks(), Some(&m), &mut |_| {}).unwrap();
    let all = questions();
    let vecs = embed_questions(&m, &all);
    let qvec = |q: &str| vecs.get(q).cloned();
    let (_, held) = shop::split(&all);
    let lang = |l: &str| -> Vec<&Q> { held.iter().copied().filter(|q| q.lang == l).collect() };
    let (en, zh) = (lang("en"), lang("zh"));
    println!("| MiniLM mode | language | hit@1 | hit@3 | refusals | false refusals |");
    println!("|---|---|---|---|---|---|");
    for mode in [SearchMode::Lexical, SearchMode::Vector, SearchMode::Hybrid] {
        table_rows(
            &idx,
            &format!("{mode:?} held-out"),
            &en,
            mode,
            &qvec,
            &["en"],
        );
    }
    let en_v = score_with(&idx, &en, SearchMode::Vector, &qvec);
    let zh_v = score_with(&idx, &zh, SearchMode::Vector, &qvec);
    println!(
        "| Vector held-out | zh (for contrast) | {:.3} | {:.3} | | |",
        zh_v.hit1(),
        zh_v.hit3()
    );
    assert!(
        en_v.hit3() >= 0.8,
        "MiniLM English hit@3 {:.3}",
        en_v.hit3()
    );
    assert!(
        zh_v.hit3() + 0.2 < en_v.hit3(),
        "MiniLM was expected to be poor on Chinese: zh {:.3} vs en {:.3}",
        zh_v.hit3(),
        en_v.hit3()
    );
}

/// The smallest cosine at which the regional service's similar-question
/// cache may reuse an answer with multilingual-e5-small (Q4):
/// `kefu_kb::SIMILAR_MIN_COSINE_E5` must be at least the lowest bar at
/// which no two tuning questions of different intent in the same language
/// meet, and must reuse no wrong answer on the held-out half (the figure
/// that matters); the table also shows how often a paraphrase would hit.
///
/// The simulation: questions arrive in fixture order, each answered one is
/// cached; a question hits when its nearest earlier question of its own
/// language is at least the threshold, and the hit is wrong when that
/// question's intent (its expected FAQ entries) differs, or when either is
/// unanswerable and they are not the same text.
#[test]
fn similar_question_threshold_on_the_shop_fixture() {
    use kefu_core::Locale;
    let e5 = kefu_kb::BertEmbedder::load_e5_q4(
        model_file("e5-small-q4", "e5-small-q4.bin"),
        model_file("e5-small-q4", "tokenizer.json"),
    )
    .expect("load multilingual-e5-small Q4");
    let all = questions();
    let vecs = embed_questions(&e5, &all);
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    let same_intent =
        |a: &Q, b: &Q| !a.expect.is_empty() && a.expect.iter().any(|e| b.expect.contains(e));
    // (hits, wrong hits, questions) replaying `qs` in order at threshold `t`.
    let replay = |qs: &[&Q], t: f32| {
        let (mut hits, mut wrong) = (0usize, 0usize);
        for (i, q) in qs.iter().enumerate() {
            let lq = Locale::detect(&q.q);
            let v = &vecs[&q.q];
            let best = qs[..i]
                .iter()
                .filter(|p| Locale::detect(&p.q) == lq)
                .map(|p| (cos(v, &vecs[&p.q]), *p))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((c, p)) = best
                && c >= t
            {
                hits += 1;
                wrong += usize::from(!same_intent(q, p));
            }
        }
        (hits, wrong, qs.len())
    };
    let (dev, held) = shop::split(&all);
    let mut pick = None;
    println!("| threshold | tuning hits | tuning wrong | held-out hits | held-out wrong |");
    println!("|---|---|---|---|---|");
    for step in 0..=20 {
        let t = 0.90 + 0.005 * step as f32;
        let (dh, dw, dn) = replay(&dev, t);
        let (hh, hw, hn) = replay(&held, t);
        println!("| {t:.3} | {dh}/{dn} | {dw} | {hh}/{hn} | {hw} |");
        if dw == 0 && pick.is_none() {
            pick = Some((t, hh, hw, hn));
        }
    }
    let (t, hh, hw, hn) = pick.expect("some threshold has no wrong tuning hit");
    println!(
        "picked on the tuning half: {t:.3}; held out: {hh}/{hn} questions reuse an answer, {hw} of them wrongly"
    );
    assert!(
        f64::from(t) <= f64::from(kefu_kb::SIMILAR_MIN_COSINE_E5) + 1e-6,
        "the shipped similar-question threshold {} is below the tuned {t:.3}",
        kefu_kb::SIMILAR_MIN_COSINE_E5
    );
    let (_, wrong, _) = replay(&held, kefu_kb::SIMILAR_MIN_COSINE_E5);
    assert_eq!(
        wrong, 0,
        "held out, the shipped threshold reuses a wrong answer"
    );
}
