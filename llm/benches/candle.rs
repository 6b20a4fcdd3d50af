//! Candle generation speed for SmolLM2-135M-Instruct (Q4_1 GGUF) on this
//! machine: prompt tokens/s (time to first token) and generated tokens/s,
//! greedy, one generation at a time. Needs `scripts/fetch-models.sh`.
//!
//! `cargo bench -p kefu-llm --bench candle` (set `KEFU_GGUF` to another
//! file, e.g. `.kefu/models/qwen2.5-0.5b/qwen2.5-0.5b-instruct-q4_k_m.gguf`).

use std::path::PathBuf;
use std::time::Instant;

use futures_util::StreamExt;
use kefu_llm::{CandleGguf, CandleOptions, ChatMessage, ChatRole, GenerateRequest, LlmBackend};

fn main() {
    let path = std::env::var("KEFU_GGUF")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.kefu/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    let t = Instant::now();
    let m = CandleGguf::load(&path, CandleOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/fetch-models.sh)", path.display()));
    println!(
        "load: {:.2} s ({})",
        t.elapsed().as_secs_f64(),
        path.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let question = "Explain in detail how a customer can return a product bought online, \
                    step by step, including refunds and shipping labels.";
    let prompt_tokens = m
        .tokenizer()
        .encode(&m.chat_text(&[ChatMessage {
            role: ChatRole::User,
            content: question.into(),
        }]))
        .unwrap()
        .len();
    let (mut ttft, mut gen_tps) = (Vec::new(), Vec::new());
    for round in 0..4 {
        let req = GenerateRequest {
            tenant: "bench".into(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: question.into(),
            }],
            max_tokens: 96,
            temperature: 0.0,
            deadline: None,
        };
        let (first, total, pieces) = rt.block_on(async {
            let t = Instant::now();
            let mut s = m.generate(req).await.unwrap();
            let mut first = None;
            let mut text = String::new();
            while let Some(p) = s.next().await {
                first.get_or_insert_with(|| t.elapsed());
                text.push_str(&p.unwrap());
            }
            (
                first.unwrap(),
                t.elapsed(),
                m.tokenizer().encode(&text).unwrap().len(),
            )
        });
        let gen_s = (total - first).as_secs_f64();
        if round > 0 {
            // Round 0 warms caches and allocators.
            ttft.push(first.as_secs_f64());
            gen_tps.push((pieces.saturating_sub(1)) as f64 / gen_s);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "prompt: {prompt_tokens} tokens, time to first token {:.0} ms ({:.0} prompt tok/s)",
        mean(&ttft) * 1000.0,
        prompt_tokens as f64 / mean(&ttft)
    );
    println!(
        "generation: {:.1} tok/s (mean of {} runs)",
        mean(&gen_tps),
        gen_tps.len()
    );
}
