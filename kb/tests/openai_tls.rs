//! The OpenAI-compatible embeddings client against an `https://` server
//! behind a private CA (the fake behind a TLS terminator with a certificate
//! made by `openssl` for this run): embeds with the CA, refuses without it.

use kefu_fake_openai::tls::{front, self_signed};
use kefu_fake_openai::{FakeOpenAi, Script};
use kefu_kb::{EmbedKind, Embedder, OpenAiEmbedder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_embeddings_server_behind_a_private_ca_is_trusted_only_with_that_ca() {
    let fake = FakeOpenAi::start(Script::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let upstream = fake.base_url().trim_start_matches("http://").to_owned();
    let url = front(&cert, &key, upstream).await;

    // The client blocks: off the runtime's threads.
    let (u, c) = (url.clone(), cert.clone());
    let trusted = tokio::task::spawn_blocking(move || {
        let e = OpenAiEmbedder::new(&u, None, "m").with_ca_pem(&c).unwrap();
        e.embed(&["hello over tls"], EmbedKind::Query)
    })
    .await
    .unwrap()
    .expect("embedded over https with the private CA");
    assert_eq!(trusted.len(), 1);
    assert!(!trusted[0].is_empty());

    let u = url.clone();
    let refused = tokio::task::spawn_blocking(move || {
        OpenAiEmbedder::new(&u, None, "m").embed(&["hello over tls"], EmbedKind::Query)
    })
    .await
    .unwrap();
    // The same server, the same request: only the CA differs.
    assert!(refused.is_err(), "an unknown CA was trusted");

    // Not a certificate at all: a clear error when the client is built.
    let e = tokio::task::spawn_blocking(|| {
        OpenAiEmbedder::new("https://127.0.0.1:1", None, "m")
            .with_ca_pem(b"not a certificate")
            .unwrap_err()
            .to_string()
    })
    .await
    .unwrap();
    assert!(e.contains("CA certificates"), "{e}");
}
