//! An `https://` model server behind a private CA: trusted with `ca_pem`,
//! refused without it (the handshake verifies the certificate). The server
//! is the fake upstream behind a TLS terminator with a certificate made by
//! the `openssl` command for this run.

use futures_util::StreamExt;
use kefu_fake_openai::tls::{front, self_signed};
use kefu_fake_openai::{FakeOpenAi, Script};
use kefu_llm::{ChatMessage, ChatRole, GenerateRequest, LlmBackend, OpenAiBackend, OpenAiConfig};

fn req() -> GenerateRequest {
    GenerateRequest {
        tenant: "t1".into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "hello over tls".into(),
        }],
        max_tokens: 16,
        temperature: 0.0,
        deadline: None,
    }
}

#[tokio::test]
async fn an_https_server_behind_a_private_ca_is_trusted_only_with_that_ca() {
    let fake = FakeOpenAi::start(Script {
        reply: Some("secured answer".into()),
        ..Script::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let plain = fake.base_url();
    let upstream = plain.trim_start_matches("http://").to_owned();
    let url = front(&cert, &key, upstream).await;

    let mut trusted = OpenAiConfig::new(url.clone(), "m");
    trusted.ca_pem = Some(cert.clone());
    let b = OpenAiBackend::new(trusted).unwrap();
    let pieces: Vec<_> = b.generate(req()).await.unwrap().collect().await;
    let text: String = pieces.into_iter().map(Result::unwrap).collect();
    assert_eq!(text, "secured answer");
    assert_eq!(fake.requests(), 1);

    // Without the CA the certificate does not verify: no request reaches it.
    let b = OpenAiBackend::new(OpenAiConfig::new(url, "m")).unwrap();
    let refused = match b.generate(req()).await {
        Err(e) => Some(e),
        Ok(s) => s
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .find_map(Result::err),
    };
    assert!(refused.is_some(), "an unknown CA was trusted");
    assert_eq!(fake.requests(), 1);

    // Not a certificate at all: a clear error when the backend is built.
    let mut bad = OpenAiConfig::new("https://127.0.0.1:1", "m");
    bad.ca_pem = Some(b"not a certificate".to_vec());
    let e = OpenAiBackend::new(bad).unwrap_err();
    assert!(e.to_string().contains("CA certificates"), "{e}");
}
