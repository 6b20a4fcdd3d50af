//! The Cloudflare Worker (kefu-edge-workers, built by worker-build) under
//! `wrangler dev` (workerd with a local Workers KV), in front of a real
//! `kefu-regional serve`: the edge end-to-end set
//! ([`kefu_tests::edge_suite`]).
//!
//! `scripts/setup.sh` installs the toolchain (worker-build, wasm-bindgen-cli,
//! wrangler and the Node 22 it needs); its absence is a failure, not a skip.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kefu_tests::edge_suite::{self, EdgeRuntime, RunningEdge};
use kefu_tests::live::{EDGE_KEY, Proc, Regional, free_port, http, root};

/// The newest modification time under `dir` (recursively).
fn newest(dir: &std::path::Path) -> std::time::SystemTime {
    let mut t = std::time::UNIX_EPOCH;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let m = if e.path().is_dir() {
            newest(&e.path())
        } else {
            e.metadata().and_then(|m| m.modified()).unwrap_or(t)
        };
        t = t.max(m);
    }
    t
}

/// The Worker's entry module, rebuilt once per test process when any edge
/// source is newer than the build (worker-build's wasm-opt pass is slow).
fn worker() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let wasm = root().join("edge/workers/build/index_bg.wasm");
        let built = wasm.metadata().and_then(|m| m.modified()).ok();
        let sources = ["core/src", "edge/src", "edge/workers/src", "edge/widget"]
            .iter()
            .map(|d| newest(&root().join(d)))
            .max()
            .unwrap_or(std::time::UNIX_EPOCH);
        if built.is_some_and(|b| b >= sources) {
            return root().join("edge/workers/build/index.js");
        }
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
                 [[kv_namespaces]]\nbinding = \"KEFU_KV\"\nid = \"kefu-edge-test\"\n\
                 [[durable_objects.bindings]]\nname = \"KEFU_LIMITER\"\nclass_name = \"Limiter\"\n\
                 [[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"Limiter\"]\n",
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
            .process_group(0)
            .spawn()
            .expect("start wrangler dev");
        // wrangler runs workerd (and a second node) as children: stop the group.
        let mut proc = Proc::group(child);
        let start = Instant::now();
        loop {
            if let Ok((200, _, _)) = http(port, "GET", "/healthz", &[], b"") {
                break;
            }
            if let Ok(Some(st)) = proc.child.try_wait() {
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
fn limit_under_concurrency() {
    edge_suite::limit_under_concurrency(&Wrangler);
}

#[test]
fn streamed_turn() {
    edge_suite::streamed_turn(&Wrangler);
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
