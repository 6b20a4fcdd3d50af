//! An `https://` front for the fake (feature `tls`), for tests of clients
//! behind a private CA: a self-signed certificate for 127.0.0.1 made by the
//! `openssl` command (Debian's openssl package), and a TLS terminator that
//! forwards each connection to the fake's plain port.

use std::path::Path;
use std::process::Command;

use tokio::net::{TcpListener, TcpStream};

/// A self-signed certificate for 127.0.0.1 (it is its own CA), written
/// under `dir`: (certificate PEM, PKCS#8 key PEM).
pub fn self_signed(dir: &Path) -> (Vec<u8>, Vec<u8>) {
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

/// Terminates TLS with `cert`/`key` on a local port and forwards each
/// connection to `to` (`host:port`); answers the `https://` base URL.
pub async fn front(cert: &[u8], key: &[u8], to: String) -> String {
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
