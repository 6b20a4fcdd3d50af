//! The Spin component (kefu-edge-spin, `wasmtime-serve` build) under a real
//! `wasmtime serve` 48, in front of a real `kefu-regional serve`.
//!
//! Each test builds what it needs with cargo (a no-op when fresh): the
//! component for `wasm32-wasip2` and the `kefu-regional` binary. wasmtime
//! comes from `scripts/setup.sh` (`.kefu/bin/wasmtime`) or `KEFU_WASMTIME`;
//! its absence is a failure, not a skip. Every server binds 127.0.0.1 on a
//! free port, readiness is polled, and only the child processes a test
//! started are killed (on drop).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

const OPERATOR: &str = "operator-token-for-edge-tests-0123";
const MASTER_KEY: &str = "8f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5";
const EDGE_KEY: &str = "edge-key-for-edge-tests-0123456789";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cargo(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(args)
        .current_dir(root())
        .status()
        .expect("run cargo");
    assert!(st.success(), "cargo {args:?} failed");
}

/// The component, built with `--features wasmtime-serve` and copied aside
/// (the Spin build shares its cargo output path).
fn component() -> &'static Path {
    static WASM: OnceLock<(TempDir, PathBuf)> = OnceLock::new();
    &WASM
        .get_or_init(|| {
            cargo(&[
                "build",
                "-p",
                "kefu-edge-spin",
                "--target",
                "wasm32-wasip2",
                "--profile",
                "wasm-release",
                "--features",
                "wasmtime-serve",
            ]);
            let built = root().join("target/wasm32-wasip2/wasm-release/kefu_edge_spin.wasm");
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join("kefu-edge-wasmtime.wasm");
            std::fs::copy(&built, &copy).expect("copy the component");
            (dir, copy)
        })
        .1
}

fn regional_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        cargo(&["build", "-p", "kefu-regional", "--bin", "kefu-regional"]);
        root().join("target/debug/kefu-regional")
    })
}

fn wasmtime_bin() -> PathBuf {
    let p = std::env::var_os("KEFU_WASMTIME")
        .map_or_else(|| root().join(".kefu/bin/wasmtime"), PathBuf::from);
    let v = Command::new(&p).arg("--version").output();
    let v = v.unwrap_or_else(|e| panic!("{} ({e}): run scripts/setup.sh", p.display()));
    let v = String::from_utf8_lossy(&v.stdout).into_owned();
    assert!(v.starts_with("wasmtime 48."), "need wasmtime 48.x, got {v}");
    p
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Status, lower-case headers, body.
type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 exchange (`Connection: close`); answers status, lower-case
/// headers and the de-chunked body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok((status, headers, body))
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let len_hex = String::from_utf8_lossy(&b[..eol]);
        let len = usize::from_str_radix(len_hex.split(';').next().unwrap().trim(), 16).unwrap();
        if len == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + len]);
        b = &b[eol + 2 + len + 2..];
    }
    out
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Polls `GET path` until 200 (`/readyz` for the regional: `/healthz`
/// answers before its storage is open).
fn wait_ready(port: u16, path: &str, what: &str, child: &mut Child) {
    let start = Instant::now();
    loop {
        if let Ok((200, _, _)) = http(port, "GET", path, &[], b"") {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited: {st}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{what} not ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `kefu-regional serve` over a data dir that outlives restarts.
struct Regional {
    data: TempDir,
    port: u16,
    proc: Option<Proc>,
}

impl Regional {
    fn start() -> Regional {
        let mut r = Regional {
            data: tempfile::tempdir().unwrap(),
            port: free_port(),
            proc: None,
        };
        r.resume();
        r
    }

    fn resume(&mut self) {
        let mut child = Command::new(regional_bin())
            .arg("serve")
            .env("KEFU_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("KEFU_DATA_DIR", self.data.path())
            .env("KEFU_OPERATOR_TOKEN", OPERATOR)
            .env("KEFU_MASTER_KEY", MASTER_KEY)
            .env("KEFU_EDGE_KEY", EDGE_KEY)
            // The edge under test is the wasm component, not the in-process one.
            .env("KEFU_PUBLIC_LISTEN", "off")
            .stdout(Stdio::null())
            .spawn()
            .expect("start kefu-regional");
        wait_ready(self.port, "/readyz", "kefu-regional", &mut child);
        self.proc = Some(Proc(child));
    }

    fn stop(&mut self) {
        self.proc = None;
    }

    fn call(&self, method: &str, path: &str, bearer: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {bearer}");
        let mut h = vec![("authorization", auth.as_str())];
        let b = body.map(|v| v.to_string()).unwrap_or_default();
        if !b.is_empty() {
            h.push(("content-type", "application/json"));
        }
        let (s, _, body) = http(self.port, method, path, &h, b.as_bytes()).unwrap();
        (s, json_of(&body))
    }

    /// Creates a tenant; returns (api key, widget key).
    fn tenant(&self, id: &str) -> (String, String) {
        let (s, v) = self.call(
            "POST",
            "/admin/v1/tenants",
            OPERATOR,
            Some(json!({"id": id, "name": format!("Tenant {id}")})),
        );
        assert_eq!(s, 201, "{v}");
        (
            v["api_key"].as_str().unwrap().into(),
            v["widget_key"].as_str().unwrap().into(),
        )
    }
}

/// The component under `wasmtime serve`, pointed at `regional_port`.
struct EdgeServer {
    port: u16,
    _proc: Proc,
}

impl EdgeServer {
    fn start(regional_port: u16) -> EdgeServer {
        let port = free_port();
        let url = format!("SPIN_VARIABLE_REGIONAL_URL=http://127.0.0.1:{regional_port}");
        let secret = format!("SPIN_VARIABLE_REGIONAL_SECRET={EDGE_KEY}");
        let mut child = Command::new(wasmtime_bin())
            .args(["serve", "--addr", &format!("127.0.0.1:{port}"), "-S", "cli"])
            .args(["--env", &url, "--env", &secret])
            .arg(component())
            .stdout(Stdio::null())
            .spawn()
            .expect("start wasmtime serve");
        wait_ready(port, "/healthz", "wasmtime serve", &mut child);
        EdgeServer {
            port,
            _proc: Proc(child),
        }
    }

    fn get(&self, path: &str) -> Reply {
        http(self.port, "GET", path, &[], b"").unwrap()
    }

    fn chat(&self, body: Value) -> (u16, Vec<(String, String)>, Value) {
        let b = body.to_string();
        let h = [("content-type", "application/json")];
        let (s, headers, body) = http(self.port, "POST", "/v1/chat", &h, b.as_bytes()).unwrap();
        (s, headers, json_of(&body))
    }
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn ask(edge: &EdgeServer, widget_key: &str, visitor: &str, msg: &str, cmid: &str) -> Value {
    let (s, _, v) = edge.chat(json!({
        "widget_key": widget_key, "visitor_id": visitor, "message": msg, "client_msg_id": cmid,
    }));
    assert_eq!(s, 200, "{v}");
    v
}

#[test]
fn health_widget_and_an_unknown_widget_key() {
    let regional = Regional::start();
    let edge = EdgeServer::start(regional.port);

    let (s, _, b) = edge.get("/healthz");
    assert_eq!((s, json_of(&b)["status"].clone()), (200, json!("ok")));

    let (s, h, b) = edge.get("/widget.js");
    assert_eq!(s, 200);
    assert!(header(&h, "content-type").unwrap().contains("javascript"));
    assert!(String::from_utf8_lossy(&b).contains("kefu"), "widget body");

    // The regional service does not know the key: a JSON 401 the widget can branch on.
    let (s, _, v) =
        edge.chat(json!({"widget_key": "wk-nobody", "visitor_id": "v-1", "message": "hi"}));
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("unknown_widget_key")),
        "{v}"
    );

    // Malformed input never reaches the regional service.
    let (s, _, b) = http(
        edge.port,
        "POST",
        "/v1/chat",
        &[("content-type", "application/json")],
        b"{",
    )
    .unwrap();
    assert_eq!(s, 400, "{}", String::from_utf8_lossy(&b));
}

#[test]
fn a_chat_turn_is_answered_by_the_regional_service() {
    let regional = Regional::start();
    let (api_key, widget_key) = regional.tenant("acme");
    let edge = EdgeServer::start(regional.port);

    let v = ask(&edge, &widget_key, "v-1", "How do I get a refund?", "m-1");
    assert_eq!(v["source"], "fallback", "{v}");
    assert_eq!(v["seq"], 2, "{v}");
    let conv = v["conversation_id"].as_str().unwrap();
    assert!(!v["answer"].as_str().unwrap().is_empty());

    // The regional service recorded the question and its answer.
    let (s, t) = regional.call("GET", &format!("/v1/conversations/{conv}"), &api_key, None);
    assert_eq!(s, 200, "{t}");
    let texts: Vec<_> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts.first(), Some(&json!("How do I get a refund?")));
    assert_eq!(texts.len(), 2);
}

#[test]
fn a_visitor_over_the_limit_gets_429_with_retry_after() {
    let regional = Regional::start();
    let (_, widget_key) = regional.tenant("acme");
    let edge = EdgeServer::start(regional.port);

    // kefu-core's default: 20 turns per visitor per minute.
    for i in 0..20 {
        ask(
            &edge,
            &widget_key,
            "v-busy",
            &format!("question {i}"),
            &format!("m-{i}"),
        );
    }
    let (s, h, v) = edge.chat(json!({
        "widget_key": widget_key, "visitor_id": "v-busy", "message": "one more", "client_msg_id": "m-20",
    }));
    assert_eq!(s, 429, "{v}");
    assert!(header(&h, "retry-after").is_some_and(|r| r.parse::<u64>().is_ok_and(|n| n > 0)));
    // Another visitor is not held back.
    ask(&edge, &widget_key, "v-calm", "hello", "m-1");
}

#[test]
fn an_outage_is_acknowledged_and_the_turn_delivered_once_when_the_region_is_back() {
    let mut regional = Regional::start();
    let (api_key, widget_key) = regional.tenant("acme");
    let edge = EdgeServer::start(regional.port);
    // The instance learns the tenant's config while the region is up.
    ask(&edge, &widget_key, "v-0", "hello", "m-0");

    regional.stop();
    let v = ask(&edge, &widget_key, "v-1", "When will my order ship?", "m-1");
    assert_eq!(v["source"], "ack", "{v}");
    assert_eq!(
        v["answer"],
        "We received your message; an agent will reply here."
    );
    let conv = v["conversation_id"].as_str().unwrap().to_owned();

    regional.resume();
    // The next request that reaches the region delivers the outbox first.
    ask(
        &edge,
        &widget_key,
        "v-2",
        "Is the shop open on Sunday?",
        "m-1",
    );
    ask(
        &edge,
        &widget_key,
        "v-3",
        "Is the shop open on Monday?",
        "m-1",
    );

    let (s, t) = regional.call("GET", &format!("/v1/conversations/{conv}"), &api_key, None);
    assert_eq!(
        s, 200,
        "the acknowledged turn never reached the region: {t}"
    );
    let msgs = t["messages"].as_array().unwrap();
    let texts: Vec<_> = msgs
        .iter()
        .map(|m| m["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        texts,
        [
            "When will my order ship?",
            "We received your message; an agent will reply here."
        ],
        "delivered exactly once"
    );
    assert_eq!(msgs[0]["client_msg_id"], "m-1");
}
