//! Compression on long conversations built from the bilingual shop fixture
//! (`fixtures/shop/`: its FAQs are the passages, its paraphrased questions
//! and the FAQ answers the turns). Checks the token reduction and that the
//! passage answering the final question survives.

use kefu_llm::compress::{compress, estimate_tokens};
use kefu_llm::prompt::{Passage, system_prompt};
use kefu_llm::{ChatMessage, ChatRole};
use serde_json::Value;

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/shop")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Shop {
    faqs: Vec<(String, String, String)>,
    questions: Vec<(String, String)>,
}

fn shop() -> Shop {
    let kb: Value = serde_json::from_str(&fixture("kb.json")).unwrap();
    let faqs = kb["faqs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_owned();
            (s("id"), s("question"), s("answer"))
        })
        .collect();
    let questions = fixture("questions.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|q| {
            let first = q["expect"].as_array()?.first()?.as_str()?.to_owned();
            Some((q["q"].as_str()?.to_owned(), first))
        })
        .collect();
    Shop { faqs, questions }
}

#[test]
fn long_conversations_shrink_and_the_answering_passage_survives() {
    let shop = shop();
    let answer_of = |id: &str| shop.faqs.iter().find(|f| f.0 == id).map(|f| f.2.clone());
    let mut ratios = Vec::new();
    // Ten conversations of 40 turns, each starting at another question.
    for c in 0..10 {
        let turns: Vec<&(String, String)> = shop
            .questions
            .iter()
            .cycle()
            .skip(c * 17)
            .take(41)
            .collect();
        let (final_q, final_id) = turns[40];
        let mut history = Vec::new();
        for (q, id) in &turns[..40] {
            history.push(ChatMessage {
                role: ChatRole::User,
                content: q.clone(),
            });
            history.push(ChatMessage {
                role: ChatRole::Assistant,
                content: answer_of(id).unwrap_or_default(),
            });
        }
        // Retrieval's top passages: the answering one ranked third, among
        // repeats and neighbours.
        let mut passages: Vec<Passage> = shop
            .faqs
            .iter()
            .skip(c * 3)
            .take(4)
            .map(|f| Passage {
                id: f.0.clone(),
                title: f.1.clone(),
                text: f.2.clone(),
            })
            .collect();
        let right = shop.faqs.iter().find(|f| &f.0 == final_id).unwrap();
        let right = Passage {
            id: right.0.clone(),
            title: right.1.clone(),
            text: right.2.clone(),
        };
        passages.insert(2, right.clone());
        passages.push(passages[0].clone());
        let sys = system_prompt(false);
        let out = compress(&sys, &history, &passages, 1200);
        assert!(
            out.tokens_after <= 1200,
            "conversation {c}: {}",
            out.tokens_after
        );
        assert!(
            out.passages
                .iter()
                .any(|p| p.id == right.id && p.text == right.text),
            "conversation {c}: the passage answering {final_q:?} was lost"
        );
        assert_eq!(
            out.passages
                .iter()
                .filter(|p| p.id == passages[0].id)
                .count(),
            1
        );
        // The latest exchange is kept word for word.
        assert_eq!(out.history.last(), history.last());
        let sent: usize = estimate_tokens(&sys)
            + out
                .history
                .iter()
                .map(|m| estimate_tokens(&m.content))
                .sum::<usize>();
        assert!(sent > 0);
        ratios.push(out.tokens_after as f64 / out.tokens_before as f64);
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    eprintln!(
        "compression: tokens after / before = {mean:.2} (mean of {})",
        ratios.len()
    );
    assert!(
        mean < 0.5,
        "long conversations should at least halve: {mean:.2}"
    );
}
