use proptest::prelude::*;

use super::*;

fn cfg(max: usize, overlap: usize) -> ChunkConfig {
    ChunkConfig {
        max_chars: max,
        overlap_chars: overlap,
    }
}

#[test]
fn headings_start_new_chunks_and_name_them() {
    let doc = "# 退货政策\n\n收到商品七天内可以无理由退货。\n\n## Refunds\n\nRefunds go back to the original payment method.";
    let c = chunk_document(
        "doc-returns",
        "Returns",
        doc,
        Some("https://x/r"),
        &cfg(600, 80),
    );
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].title, "Returns › 退货政策");
    assert!(c[0].text.contains("七天"));
    assert_eq!(c[1].title, "Returns › Refunds");
    assert_eq!(c[1].id, "doc-returns#1");
    assert_eq!(c[1].url.as_deref(), Some("https://x/r"));
}

#[test]
fn code_blocks_stay_whole_even_when_long() {
    let code = format!("```\n{}\n```", "ORDER-2024-000001\n".repeat(20));
    let doc = format!("Order numbers look like this:\n\n{code}\n\nThat is all.");
    let c = chunk_document("d", "T", &doc, None, &cfg(100, 20));
    let holders: Vec<_> = c.iter().filter(|c| c.text.contains("```")).collect();
    assert_eq!(holders.len(), 1, "{c:#?}");
    assert!(holders[0].text.contains(code.trim()));
}

#[test]
fn faq_is_one_chunk() {
    let c = faq_chunk("faq-1", " Q? ", " A. ", &["alt".into()]);
    assert_eq!(
        (c.id.as_str(), c.title.as_str(), c.text.as_str()),
        ("faq-1#0", "Q?", "A.")
    );
    assert_eq!(c.kind, EntryKind::Faq);
}

#[test]
fn decimal_points_and_domains_do_not_end_sentences() {
    assert_eq!(
        sentences("Fee is 3.5 yuan. See shop.example now."),
        vec!["Fee is 3.5 yuan.", " See shop.example now."]
    );
}

const ZH: &[&str] = &[
    "我们支持七天无理由退货。",
    "退款会在三到五个工作日内原路退回！",
    "请问您的订单号是多少？",
    "海外订单需要缴纳关税；",
    "会员积分可以抵扣现金。",
    "客服工作时间为每天九点到二十一点。",
];

proptest! {
    /// Every source sentence lands whole in some chunk, and every chunk is
    /// made of whole source sentences: nothing is cut inside a sentence.
    #[test]
    fn chinese_sentences_are_never_split(
        picks in prop::collection::vec((0usize..ZH.len(), 1usize..4), 1..40),
        max in 20usize..200,
        overlap in 0usize..60,
    ) {
        let mut doc = String::new();
        for (i, reps) in &picks {
            for _ in 0..*reps { doc.push_str(ZH[*i]); }
            doc.push_str("\n\n");
        }
        let chunks = chunk_document("d", "T", &doc, None, &cfg(max, overlap));
        for c in &chunks {
            for s in sentences(&c.text) {
                let s = s.trim();
                prop_assert!(ZH.contains(&s), "fragment {s:?} in {:?}", c.text);
            }
            // Bounded: over the limit only when a single sentence is longer.
            let longest = ZH.iter().map(|s| s.chars().count()).max().unwrap_or(0);
            prop_assert!(c.text.chars().count() <= max.max(50).max(longest) + 1, "{:?}", c.text);
        }
        let joined: String = chunks.iter().map(|c| c.text.as_str()).collect();
        for (i, _) in &picks {
            prop_assert!(joined.contains(ZH[*i]));
        }
    }

    /// Arbitrary input never panics and never produces empty chunks.
    #[test]
    fn any_text_chunks_without_panic(text in ".{0,800}", max in 0usize..300, overlap in 0usize..300) {
        for c in chunk_document("d", "T", &text, None, &cfg(max, overlap)) {
            prop_assert!(!c.text.trim().is_empty());
        }
    }
}
