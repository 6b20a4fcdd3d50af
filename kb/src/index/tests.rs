use super::*;
use crate::faq_chunk;

fn chunks() -> Vec<Chunk> {
    vec![
        faq_chunk(
            "faq-pw",
            "忘记密码怎么办",
            "在登录页点击“忘记密码”，用手机验证码重置。",
            &[],
        ),
        faq_chunk(
            "faq-refund",
            "How do I get a refund?",
            "Refunds go back to the original payment method within 5 business days.",
            &[],
        ),
        faq_chunk("faq-ship", "配送需要多久", "大陆地区一般 2-4 天送达。", &[]),
    ]
}

#[test]
fn lexical_search_finds_and_round_trips_through_bytes() {
    let idx = KbIndex::build(chunks(), None, &mut |_| {}).unwrap();
    let hits = idx.search("我忘了密码", None, &SearchOptions::default());
    assert_eq!(idx.chunks()[hits[0].chunk].entry_id, "faq-pw");
    let back = KbIndex::from_bytes(&idx.to_bytes().unwrap()).unwrap();
    assert_eq!(
        back.search("refund please", None, &SearchOptions::default())[0].chunk,
        1
    );
    assert!(back.embedder_model().is_none());
    assert!(KbIndex::from_bytes(b"nonsense").is_err());
    assert!(KbIndex::from_bytes(b"KBI1\xc1").is_err());
}

#[derive(Debug)]
struct Axis;
/// A toy embedder for fusion arithmetic only: one axis per known topic.
impl Embedder for Axis {
    fn model_id(&self) -> &str {
        "axis"
    }
    fn dim(&self) -> usize {
        3
    }
    fn embed(&self, texts: &[&str], _: EmbedKind) -> Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                if t.contains("密码") || t.contains("password") {
                    vec![1.0, 0.0, 0.0]
                } else if t.contains("efund") || t.contains("退款") {
                    vec![0.0, 1.0, 0.0]
                } else {
                    vec![0.0, 0.0, 1.0]
                }
            })
            .collect())
    }
}

#[test]
fn hybrid_fuses_both_rankings_and_modes_select_them() {
    let idx = KbIndex::build(chunks(), Some(&Axis), &mut |_| {}).unwrap();
    assert_eq!(idx.embedder_model(), Some("axis"));
    // "退款" has no lexical match in the English FAQ; the vector finds it.
    let q = Axis.embed(&["退款"], EmbedKind::Query).unwrap().remove(0);
    let vec_only = SearchOptions {
        mode: SearchMode::Vector,
        ..Default::default()
    };
    assert_eq!(idx.search("退款", Some(&q), &vec_only)[0].chunk, 1);
    let lex_only = SearchOptions {
        mode: SearchMode::Lexical,
        ..Default::default()
    };
    assert!(
        idx.search("退款", Some(&q), &lex_only)
            .iter()
            .all(|h| h.chunk != 1)
    );
    let hy = idx.search("退款", Some(&q), &SearchOptions::default());
    assert_eq!(hy[0].chunk, 1);
    assert!(hy[0].vector.is_some());
    // A chunk ranked by both beats one ranked by either alone.
    let q = Axis
        .embed(&["password"], EmbedKind::Query)
        .unwrap()
        .remove(0);
    let hy = idx.search("忘记密码", Some(&q), &SearchOptions::default());
    assert_eq!(hy[0].chunk, 0);
    assert!(hy[0].lexical.is_some() && hy[0].vector.is_some());
}
