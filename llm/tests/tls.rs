//! An `https://` model server behind a private CA: trusted with `ca_pem`,
//! refused without it (the handshake verifies the certificate). The server
//! is the fake upstream behind a TLS terminator with a certificate made by
//! the `openssl` command for this run.

use std::path::Path;
use std::process::Command;

use futures_util::StreamExt;
use kefu_fake_openai::{FakeOpenAi, Script};
use kefu_llm::{ChatMessage, ChatRole, GenerateRequest, LlmBackend, OpenAiBackend, OpenAiConfig};
use tokio::net::{TcpListener, TcpStream};

/// A self-signed certificate for 127.0.0.1 (it is its own CA): (cert, key).
fn certificate(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=kefu test CA"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("the openssl command (Debian's openssl package)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (std::fs::read(cert).unwrap(), std::fs::read(key).unwrap())
}

/// Terminates TLS on a local port and forwards each connection to `to`.
async fn tls_front(cert: &[u8], key: &[u8], to: String) -> String {
    let id = tokio_native_tls::native_tls::Identity::from_pkcs8(cert, key).unwrap();
    let acceptor = tokio_native_tls::TlsAcceptor::from(
        tokio_native_tls::native_tls::TlsAcceptor::new(id).unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, to) = (acceptor.clone(), to.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = TcpStream::connect(&to).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

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
    let (cert, key) = certificate(dir.path());
    let plain = fake.base_url();
    let upstream = plain.trim_start_matches("http://").to_owned();
    let url = tls_front(&cert, &key, upstream).await;

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
