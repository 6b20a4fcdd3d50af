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
use serde_json::json;

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
        // Parallel tests each start a `wrangler dev`: each needs its own
        // inspector port too, or two starting at once both take the default
        // 9229 and one exits with "Address already in use". Ports picked
        // here can still be taken by another process before wrangler binds
        // them, so an early exit is retried with fresh ports.
        for attempt in 1..=3 {
            match spawn(&config, dir.path()) {
                Ok((port, proc)) => {
                    return RunningEdge {
                        port,
                        proc: Some(proc),
                        state: Some(dir),
                    };
                }
                Err(st) if attempt < 3 => {
                    eprintln!("wrangler dev exited at start ({st}); retrying")
                }
                Err(st) => panic!("wrangler dev exited: {st}"),
            }
        }
        unreachable!()
    }
}

/// Starts `wrangler dev` on fresh ports and waits for `/healthz`; the exit
/// status if it stops before it is ready.
fn spawn(
    config: &std::path::Path,
    dir: &std::path::Path,
) -> Result<(u16, Proc), std::process::ExitStatus> {
    let port = free_port();
    let inspector = free_port();
    let path = format!(
        "{}:{}",
        tools().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = Command::new(tools().join("wrangler"))
        .args(["dev", "--config"])
        .arg(config)
        .args([
            "--ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--inspector-port",
            &inspector.to_string(),
            "--persist-to",
        ])
        .arg(dir.join("state"))
        .args([
            "--log-level",
            "error",
            "--show-interactive-dev-session=false",
            // GET /__scheduled runs the cron trigger.
            "--test-scheduled",
        ])
        .env("PATH", path)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("XDG_CONFIG_HOME", dir.join("config"))
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
            return Err(st);
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "wrangler dev not ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((port, proc))
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

/// A quiet edge: a cache hit waits in the Worker's outbox (batched, and no
/// later request comes to deliver it) until the cron trigger runs, which
/// delivers it to the regional store once.
#[test]
fn the_cron_trigger_delivers_a_quiet_edge_outbox() {
    let regional = Wrangler.regional();
    let (api_key, widget_key) = edge_suite::refund_shop(&regional);
    let edge = Wrangler.start(&regional);
    let chat = |visitor: &str, msg: &str| {
        let b = json!({"widget_key": widget_key, "visitor_id": visitor, "message": msg, "client_msg_id": "m-1"});
        let (s, _, body) = http(
            edge.port,
            "POST",
            "/v1/chat",
            &[("content-type", "application/json")],
            b.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(s, 200);
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()
    };
    assert_eq!(chat("v-1", "How do I get a refund?")["source"], "faq");
    let hit = chat("v-2", "how do i get a refund");
    assert_eq!(hit["source"], "cache", "{hit}");
    let conv = hit["conversation_id"].as_str().unwrap().to_owned();
    let stored = || regional.call("GET", &format!("/v1/conversations/{conv}"), &api_key, None);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        stored().0,
        404,
        "the hit waits in the outbox: no request came to deliver it"
    );
    let (s, _, _) = http(edge.port, "GET", "/__scheduled?cron=*+*+*+*+*", &[], b"").unwrap();
    assert_eq!(s, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (s, t) = stored();
        if s == 200 {
            let msgs = t["messages"].as_array().unwrap();
            assert_eq!(msgs.len(), 2, "reported once: {t}");
            assert_eq!(msgs[1]["source"], "cache");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cron run did not deliver the hit"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
