//! Live processes for the cross-runtime tests: a `kefu-regional serve`
//! over a temp data dir, HTTP/1.1 by hand, readiness polling, and child
//! processes killed on drop. Every server binds 127.0.0.1 on a free port.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

pub const OPERATOR: &str = "operator-token-for-edge-tests-0123";
pub const MASTER_KEY: &str = "8f1c2d3e4a5b6c7d8e9fa0b1c2d3e4f5";
pub const EDGE_KEY: &str = "edge-key-for-edge-tests-0123456789";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn cargo(args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args(args)
        .current_dir(root())
        .status()
        .expect("run cargo");
    assert!(st.success(), "cargo {args:?} failed");
}

pub fn regional_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        cargo(&["build", "-p", "kefu-regional", "--bin", "kefu-regional"]);
        root().join("target/debug/kefu-regional")
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Proc {
    /// The process.
    pub child: Child,
    /// Whether it leads its own process group (stopped as a group: a tool
    /// that starts helpers, such as wrangler starting workerd).
    group: bool,
}

impl Proc {
    /// A single process.
    pub fn new(child: Child) -> Proc {
        Proc {
            child,
            group: false,
        }
    }

    /// A process spawned with `process_group(0)`: dropping it stops the
    /// whole group.
    pub fn group(child: Child) -> Proc {
        Proc { child, group: true }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.group {
            let pgid = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", "--", &pgid]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Status, lower-case headers, body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 exchange (`Connection: close`); answers status, lower-case
/// headers and the de-chunked body.
pub fn http(
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

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
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

pub fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Polls `GET path` until 200 (`/readyz` for the regional: `/healthz`
/// answers before its storage is open).
pub fn wait_ready(port: u16, path: &str, what: &str, child: &mut Child) {
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
#[derive(Debug)]
pub struct Regional {
    /// The data dir (kept across [`Regional::stop`] / [`Regional::resume`]).
    pub data: TempDir,
    /// The API port.
    pub port: u16,
    /// The in-process edge's public port, when started with one.
    pub public_port: Option<u16>,
    /// Extra environment for the process (e.g. a model server).
    env: Vec<(String, String)>,
    proc: Option<Proc>,
}

impl Regional {
    /// A regional service with no public listener (a wasm edge fronts it).
    pub fn start() -> Regional {
        Regional::start_with(false, &[])
    }

    /// A regional service that also serves the public widget API through
    /// the in-process edge, on its own port.
    pub fn start_in_process() -> Regional {
        Regional::start_with(true, &[])
    }

    /// A regional service, with the in-process edge's public listener or
    /// not, and `env` added to its environment.
    pub fn start_with(in_process: bool, env: &[(&str, &str)]) -> Regional {
        let mut r = Regional {
            data: tempfile::tempdir().unwrap(),
            port: free_port(),
            public_port: in_process.then(free_port),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            proc: None,
        };
        r.resume();
        r
    }

    /// Starts (again) on the same data dir and ports.
    pub fn resume(&mut self) {
        let mut child = Command::new(regional_bin())
            .arg("serve")
            .env("KEFU_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("KEFU_DATA_DIR", self.data.path())
            .env("KEFU_OPERATOR_TOKEN", OPERATOR)
            .env("KEFU_MASTER_KEY", MASTER_KEY)
            .env("KEFU_EDGE_KEY", EDGE_KEY)
            // In-process edge on its own port, or none (a wasm edge fronts it).
            .env(
                "KEFU_PUBLIC_LISTEN",
                self.public_port
                    .map_or_else(|| "off".to_owned(), |p| format!("127.0.0.1:{p}")),
            )
            .env("KEFU_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .expect("start kefu-regional");
        wait_ready(self.port, "/readyz", "kefu-regional", &mut child);
        if let Some(p) = self.public_port {
            wait_ready(p, "/healthz", "the in-process edge", &mut child);
        }
        self.proc = Some(Proc::new(child));
    }

    /// Stops the process (SIGKILL); the data dir stays.
    pub fn stop(&mut self) {
        self.proc = None;
    }

    /// A JSON call to the API with a bearer token.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
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
    pub fn tenant(&self, id: &str) -> (String, String) {
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

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
