//! The Cloudflare Worker (kefu-edge-workers, built by worker-build) under
//! `wrangler dev` (workerd with a local Workers KV), in front of a real
//! `kefu-regional serve`: the edge end-to-end set
//! ([`kefu_tests::edge_suite`]).
//!
//! `scripts/setup.sh` installs the toolchain (worker-build, wasm-bindgen-cli,
//! wrangler and the Node 22 it needs); its absence is a failure, not a skip.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kefu_tests::edge_suite::{self, EdgeRuntime, RunningEdge};
use kefu_tests::live::{EDGE_KEY, Proc, Regional, free_port, http, root};

/// The Worker's entry module, built once per test process.
fn worker() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let st = Command::new(root().join("scripts/build-workers.sh"))
            .current_dir(root())
            .status()
            .expect("run scripts/build-workers.sh");
        assert!(st.success(), "scripts/build-workers.sh failed");
        root().join("edge/workers/build/index.js")
    })
}

fn tools() -> PathBuf {
    root().join("edge/workers/tools/node_modules/.bin")
}

/// `wrangler dev` on the built Worker, its config and local KV in a temp dir.
struct Wrangler;

impl EdgeRuntime for Wrangler {
    fn start(&self, regional: &Regional) -> RunningEdge {
        let main = worker();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("wrangler.toml");
        std::fs::write(
            &config,
            format!(
                "name = \"kefu-edge-test\"\nmain = {main:?}\ncompatibility_date = \"2026-11-01\"\n\
                 [vars]\nregional_url = \"http://127.0.0.1:{}\"\nregional_secret = {EDGE_KEY:?}\n\
                 [[kv_namespaces]]\nbinding = \"KEFU_KV\"\nid = \"kefu-edge-test\"\n",
                regional.port
            ),
        )
        .unwrap();
        let port = free_port();
        let path = format!(
            "{}:{}",
            tools().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = Command::new(tools().join("wrangler"))
            .args(["dev", "--config"])
            .arg(&config)
            .args([
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--persist-to",
            ])
            .arg(dir.path().join("state"))
            .args([
                "--log-level",
                "error",
                "--show-interactive-dev-session=false",
            ])
            .env("PATH", path)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start wrangler dev");
        let mut proc = Proc(child);
        let start = Instant::now();
        loop {
            if let Ok((200, _, _)) = http(port, "GET", "/healthz", &[], b"") {
                break;
            }
            if let Ok(Some(st)) = proc.0.try_wait() {
                panic!("wrangler dev exited: {st}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "wrangler dev not ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        RunningEdge {
            port,
            proc: Some(proc),
            state: Some(dir),
        }
    }
}

#[test]
fn health() {
    edge_suite::health(&Wrangler);
}

#[test]
fn chat_turn() {
    edge_suite::chat_turn(&Wrangler);
}

#[test]
fn cache_hit() {
    edge_suite::cache_hit(&Wrangler);
}

#[test]
fn limit() {
    edge_suite::limit(&Wrangler);
}

#[test]
fn replay() {
    edge_suite::replay(&Wrangler);
}

#[test]
fn bad_signature() {
    edge_suite::bad_signature(&Wrangler);
}

#[test]
fn outage() {
    edge_suite::outage(&Wrangler);
}
