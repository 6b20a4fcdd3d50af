//! Crash test: the real binary is killed with SIGKILL at a random moment
//! while clients append; after each restart every acknowledged message is
//! there and decrypts, the database opens cleanly and the audit chains verify.
//!
//! 20 trials by default; `KEFU_CRASH_TRIALS=200 cargo test -p kefu-regional
//! --test it crash` runs 200.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{MASTER_KEY, OPERATOR};

async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: &str,
    body: &str,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).await.ok()?;
    let status = out.split(' ').nth(1)?.parse().ok()?;
    Some((status, out.split_once("\r\n\r\n")?.1.to_owned()))
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(data: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kefu-regional"))
        .arg("serve")
        .env_clear()
        .env("KEFU_DATA_DIR", data)
        .env("KEFU_MASTER_KEY", MASTER_KEY)
        .env("KEFU_OPERATOR_TOKEN", OPERATOR)
        .env("KEFU_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEFU_PUBLIC_LISTEN", "127.0.0.1:0")
        .env("KEFU_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(addr: SocketAddr, child: &mut Child) {
    for _ in 0..500 {
        if let Some((200, _)) = http(addr, "GET", "/readyz", "-", "").await {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the service exited while starting (database did not open)"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the service never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_message_survives_sigkill() {
    let trials: usize = std::env::var("KEFU_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_kefu-regional"))
        .args(["tenant", "create", "--id", "acme", "--name", "Acme"])
        .env_clear()
        .env("KEFU_DATA_DIR", &data)
        .env("KEFU_MASTER_KEY", MASTER_KEY)
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_owned();

    // (conversation, seq) -> text, for every append the service acknowledged.
    let acked: Arc<Mutex<BTreeMap<(String, u64), String>>> = Arc::default();
    let mut convs: Vec<String> = Vec::new();
    for trial in 0..trials {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = start(&data, port);
        wait_ready(addr, &mut child).await;

        // Everything acknowledged so far is there and decrypts.
        for c in &convs {
            // Page through the whole conversation (1000 per page).
            let mut stored: BTreeMap<u64, String> = BTreeMap::new();
            loop {
                let since = stored.keys().next_back().copied().unwrap_or(0);
                let path = format!("/v1/conversations/{c}/messages?since={since}&limit=1000");
                let (st, body) = http(addr, "GET", &path, &key, "").await.unwrap();
                assert_eq!(st, 200, "trial {trial}: {body}");
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let page = v["messages"].as_array().unwrap();
                if page.is_empty() {
                    break;
                }
                for m in page {
                    stored.insert(
                        m["seq"].as_u64().unwrap(),
                        m["text"].as_str().unwrap().to_owned(),
                    );
                }
            }
            for ((ac, seq), text) in acked.lock().unwrap().iter() {
                if ac == c {
                    assert_eq!(
                        stored.get(seq),
                        Some(text),
                        "trial {trial}: acknowledged {c}#{seq} lost after SIGKILL"
                    );
                }
            }
        }
        if convs.is_empty() {
            for _ in 0..4 {
                let (st, body) = http(addr, "POST", "/v1/conversations", &key, "{}")
                    .await
                    .unwrap();
                assert_eq!(st, 201);
                convs.push(
                    serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }

        // Load from several clients, then SIGKILL at a random moment.
        let mut clients = Vec::new();
        for (ci, c) in convs.iter().enumerate() {
            let (c, key, acked) = (c.clone(), key.clone(), acked.clone());
            clients.push(tokio::spawn(async move {
                for i in 0.. {
                    let text = format!("trial {trial} client {ci} message {i} 第{i}条");
                    let body = format!(r#"{{"role":"visitor","text":"{text}"}}"#);
                    match http(
                        addr,
                        "POST",
                        &format!("/v1/conversations/{c}/messages"),
                        &key,
                        &body,
                    )
                    .await
                    {
                        Some((201, resp)) => {
                            let seq =
                                serde_json::from_str::<serde_json::Value>(&resp).unwrap()["seq"]
                                    .as_u64()
                                    .unwrap();
                            acked.lock().unwrap().insert((c.clone(), seq), text);
                        }
                        _ => return, // the service is gone
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(20 + random_u64() % 300)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        for c in clients {
            c.await.unwrap();
        }
    }
    let n = acked.lock().unwrap().len();
    assert!(n > trials, "too little was acknowledged to prove anything");
    eprintln!("crash test: {trials} SIGKILLs, {n} acknowledged appends, none lost");

    // After the last kill: the audit chains verify and the data is all there offline too.
    let out = Command::new(env!("CARGO_BIN_EXE_kefu-regional"))
        .args(["audit", "verify"])
        .env_clear()
        .env("KEFU_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let store = kefu_regional::store::Store::open(
        &data,
        Some(kefu_regional::crypto::Key::from_hex(MASTER_KEY).unwrap()),
    )
    .unwrap();
    let txn = store.read().unwrap();
    for ((c, seq), text) in acked.lock().unwrap().iter() {
        let (_, turns) = kefu_regional::store::conversations::messages_since(
            &txn,
            store.master().unwrap(),
            "acme",
            c,
            seq - 1,
            1,
        )
        .unwrap();
        assert_eq!(turns.first().map(|t| t.text.as_str()), Some(text.as_str()));
    }
}
