//! SIGHUP on the real binary: the configuration file is read again and the
//! model backends switch without a restart (same process, same data); a
//! file that does not load is reported and the running backends kept. The
//! switch itself (answers in flight finish on the old backend) is
//! `stream::switching_model_backends_keeps_the_answer_in_flight_and_moves_new_turns`;
//! SIGHUP goes through the same `llm_admin::switch`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kefu_fake_openai::{FakeOpenAi, Script};
use redb::ReadableDatabase;

use crate::common::{MASTER_KEY, OPERATOR};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One backend; its model name is what `/admin/v1/llm` shows.
fn toml_for(url: &str, model: &str) -> String {
    format!("[[llm.backends]]\nurl = \"{url}\"\nmodel = \"{model}\"\n")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn get(port: u16, path: &str) -> Option<(u16, serde_json::Value)> {
    let url = format!("http://127.0.0.1:{port}{path}");
    tokio::task::spawn_blocking(move || {
        let r = reqwest::blocking::Client::new()
            .get(url)
            .bearer_auth(OPERATOR)
            .send()
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.json().unwrap_or_default()))
    })
    .await
    .unwrap()
}

fn hup(child: &Child) {
    let ok = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP failed");
}

/// Polls the backends in service until `pred` holds (or 10 s pass).
async fn backends_until(port: u16, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..200 {
        if let Some((200, v)) = get(port, "/admin/v1/llm").await {
            last = v["backends"].to_string();
            if pred(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_model_backends_without_a_restart() {
    let a = FakeOpenAi::start(Script::default()).await.unwrap();
    let b = FakeOpenAi::start(Script::default()).await.unwrap();
    let (a_model, b_model) = ("model-a".to_owned(), "model-b".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("kefu.toml");
    std::fs::write(&cfg, toml_for(&a.base_url(), &a_model)).unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kefu-regional"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEFU_CONFIG", &cfg)
        .env("KEFU_DATA_DIR", dir.path().join("data"))
        .env("KEFU_MASTER_KEY", MASTER_KEY)
        .env("KEFU_OPERATOR_TOKEN", OPERATOR)
        .env("KEFU_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEFU_PUBLIC_LISTEN", "off")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let child = Killed(child);
    let pid = child.0.id();
    let before = backends_until(port, |b| b.contains(&a_model)).await;
    assert!(before.contains(&a_model), "A in service at start: {before}");

    // The operator edits the file and sends SIGHUP.
    std::fs::write(&cfg, toml_for(&b.base_url(), &b_model)).unwrap();
    hup(&child.0);
    let after = backends_until(port, |b| b.contains(&b_model)).await;
    assert!(
        after.contains(&b_model) && !after.contains(&a_model),
        "B replaces A after SIGHUP: {after}"
    );
    assert_eq!(child.0.id(), pid);
    assert!(
        get(port, "/readyz").await.is_some_and(|(s, _)| s == 200),
        "the same process still serves"
    );

    // A file that does not load: reported, and B stays.
    std::fs::write(&cfg, "[[llm.backends]]\nurl = 12\n").unwrap();
    hup(&child.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = backends_until(port, |b| b.contains(&b_model)).await;
    assert!(kept.contains(&b_model), "{kept}");
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(
        log.contains("the configuration does not load; keeping the running one"),
        "{log}"
    );
    assert!(log.contains("configuration reloaded"), "{log}");

    // Stopped, the same data holds the switch in the service audit chain.
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let mut child = child;
    for _ in 0..100 {
        if child.0.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = kefu_regional::server::App::open(std::sync::Arc::new(crate::common::config_for(
        &dir,
        &toml_for(&b.base_url(), &b_model),
        &[],
    )))
    .await
    .unwrap();
    let txn = app.storage().store().db().begin_read().unwrap();
    let reloads: Vec<String> = kefu_regional::audit::entries(&txn, "_service", 0, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == "llm.reload")
        .map(|e| e.entry.actor)
        .collect();
    assert_eq!(reloads, ["operator"], "one audited reload");
}
