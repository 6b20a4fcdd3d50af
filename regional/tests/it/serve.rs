//! The service on a real socket: ready only once storage is open, and a
//! graceful shutdown that keeps every acknowledged write.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{OPERATOR, config_for};

async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(a) = auth {
        req.push_str(&format!("Authorization: Bearer {a}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_then_shuts_down_gracefully_keeping_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(config_for(
        &dir,
        "[limits]\nfailed_auth_per_minute = 1000\n",
        &[],
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kefu_regional::server::serve(
        config.clone(),
        listener,
        async move {
            let _ = stop_rx.await;
        },
    ));

    // Liveness at once; readiness once storage is open.
    assert_eq!(http(addr, "GET", "/healthz", None, None).await.0, 200);
    let mut ready = false;
    for _ in 0..200 {
        if http(addr, "GET", "/readyz", None, None).await.0 == 200 {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(ready, "never became ready");

    let (st, body) = http(
        addr,
        "POST",
        "/admin/v1/tenants",
        Some(OPERATOR),
        Some(r#"{"id":"acme","name":"Acme"}"#),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let key = json(&body)["api_key"].as_str().unwrap().to_owned();
    let (_, body) = http(addr, "POST", "/v1/conversations", Some(&key), Some("{}")).await;
    let conv = json(&body)["id"].as_str().unwrap().to_owned();
    let mut acked = 0;
    for i in 0..20 {
        let msg = format!(r#"{{"role":"visitor","text":"message {i}"}}"#);
        let (st, _) = http(
            addr,
            "POST",
            &format!("/v1/conversations/{conv}/messages"),
            Some(&key),
            Some(&msg),
        )
        .await;
        if st == 201 {
            acked += 1;
        }
    }
    assert_eq!(acked, 20);

    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );

    // Everything acknowledged is there after a fresh open.
    let store =
        kefu_regional::store::Store::open(&config.data_dir, config.master_key.clone()).unwrap();
    let (meta, turns) = kefu_regional::store::conversations::messages_since(
        &store.read().unwrap(),
        store.master().unwrap(),
        "acme",
        &conv,
        0,
        100,
    )
    .unwrap();
    assert_eq!(turns.len(), 20);
    assert_eq!(meta.next_seq, 21);
}

/// `kefu-regional kb import --publish` (the real binary) against a served
/// instance: the shop fixture (JSON) and a CSV of FAQs are uploaded, the
/// new version is published through a job, and the report is printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kb_cli_imports_files_and_publishes_through_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let config = Arc::new(config_for(&dir, "", &[]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kefu_regional::server::serve(config, listener, async move {
        let _ = stop_rx.await;
    }));
    for _ in 0..500 {
        if http(addr, "GET", "/readyz", None, None).await.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (st, body) = http(
        addr,
        "POST",
        "/admin/v1/tenants",
        Some(OPERATOR),
        Some(r#"{"id":"acme","name":"Acme"}"#),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let key_file = dir.path().join("tenant.key");
    std::fs::write(&key_file, json(&body)["api_key"].as_str().unwrap()).unwrap();
    let csv = dir.path().join("extra.csv");
    std::fs::write(
        &csv,
        "id,question,answer\ngift-wrap,Do you gift-wrap?,\"Yes, for 5 yuan.\"\n",
    )
    .unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let run = |args: Vec<String>| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kefu-regional"))
            .args(args)
            .env_remove("KEFU_CONFIG")
            .output()
            .unwrap()
    };
    let url = format!("http://{addr}");
    let out = tokio::task::spawn_blocking({
        let (url, key_file, csv) = (url.clone(), key_file.clone(), csv.clone());
        let shop = root.join("fixtures/shop/kb.json");
        move || {
            run(vec![
                "kb".into(),
                "import".into(),
                "--publish".into(),
                "--url".into(),
                url,
                "--key-file".into(),
                key_file.display().to_string(),
                shop.display().to_string(),
                csv.display().to_string(),
            ])
        }
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report = json(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["published"]["kb_version"], 1, "{report}");
    assert_eq!(report["published"]["entries"], 80 + 7 + 1, "{report}");
    assert!(stderr.contains("published version 1"), "{stderr}");

    // A bad file: a clear message and a failing exit code, nothing uploaded.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "question,reply\nq,a\n").unwrap();
    let out = tokio::task::spawn_blocking(move || {
        run(vec![
            "kb".into(),
            "import".into(),
            "--url".into(),
            url,
            "--key-file".into(),
            key_file.display().to_string(),
            bad.display().to_string(),
        ])
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown column `reply`"), "{stderr}");
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
