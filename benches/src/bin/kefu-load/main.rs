//! `kefu-load`: the load kit for the regional service.
//!
//! It starts the real `kefu-regional` binary on a fresh data dir, drives it
//! over loopback HTTP and prints what a capacity planner needs:
//!
//! - `appends`: durable, acknowledged message appends per second and the
//!   commit latency (p50/p99) at several numbers of concurrent conversations,
//!   plus the p50 of an encrypted transcript read;
//! - `recovery`: with N conversations stored, the time from process start to
//!   the first answered request on an existing conversation (the seed post's
//!   "session recovery time");
//! - `concurrency`: N visitors at once, each on its own connection, chatting
//!   through the in-process edge's public API (`POST /v1/chat`): requests,
//!   answers, 429s and every other outcome (errors), with latency. The goal
//!   is no error other than 429.
//!
//! - `tenants`: many tenants on one instance, each with the shop knowledge
//!   base, chat turns spread over all of them, against one tenant: memory,
//!   turns/s and latency (the seed post's "500 tenants per instance");
//! - `scans`: with N conversations stored, the append latency while
//!   visitors are erased one after another and while retention sweeps run,
//!   against appends alone (ratios of p50/p99), and how long each takes.
//!
//! ```sh
//! cargo build --release -p kefu-regional -p kefu-benches
//! target/release/kefu-load appends --concurrency 1,8,64 --seconds 10
//! target/release/kefu-load recovery --conversations 10000,100000
//! target/release/kefu-load concurrency --connections 200,1000 --turns 5
//! target/release/kefu-load scans --conversations 100000
//! target/release/kefu-load tenants --tenants 1,500
//! ```

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

mod concurrency;
mod edge;
mod storage;
mod tenants;

use edge::*;
use storage::*;

const OPERATOR: &str = "load-kit-operator-token-0123456789";
const MASTER_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

#[derive(Parser)]
#[command(about = "Load kit for kefu-regional")]
struct Cli {
    /// The kefu-regional binary (default: next to this one).
    #[arg(long, global = true)]
    bin: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Acknowledged appends/s and commit latency at each concurrency.
    Appends {
        #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// N visitors at once through the in-process edge: error rate and latency.
    Concurrency {
        #[arg(long, value_delimiter = ',', default_value = "200,1000")]
        connections: Vec<usize>,
        /// Turns per visitor (alternating a cached FAQ question and a new one).
        #[arg(long, default_value_t = 5)]
        turns: usize,
    },
    /// The edge's cache-hit path against an empty component built the same
    /// way, both under `wasmtime serve` (and, with `--wrangler`, the Worker
    /// against an empty Worker under `wrangler dev`): requests/s, p50, p99.
    EdgeBench {
        /// `wasmtime` 48 (default .kefu/bin/wasmtime).
        #[arg(long, default_value = ".kefu/bin/wasmtime")]
        wasmtime: PathBuf,
        /// The edge component (`wasmtime-serve` build).
        #[arg(long, default_value = "target/edge/kefu-edge-wasmtime.wasm")]
        edge: PathBuf,
        /// The empty component.
        #[arg(long, default_value = "target/edge/kefu-edge-empty.wasm")]
        empty: PathBuf,
        /// `wrangler` for the Worker comparison (skipped when absent).
        #[arg(long)]
        wrangler: Option<PathBuf>,
        /// The Worker (worker-build's `index.js`, its wasm next to it).
        #[arg(long, default_value = "edge/workers/build/index.js")]
        worker: PathBuf,
        /// Concurrent connections.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Seconds per measurement (two rounds each, interleaved).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// `wasmtime serve --max-instance-reuse-count` for both components
        /// (default: wasmtime's own, 128 requests per instance).
        #[arg(long)]
        reuse: Option<u64>,
    },
    /// Chat appends while the service scans every conversation: erasing
    /// visitors one after another, and retention sweeps (every second),
    /// against appends with neither, on N stored conversations.
    Scans {
        #[arg(long, default_value_t = 100_000)]
        conversations: usize,
        /// Concurrent appenders.
        #[arg(long, default_value_t = 8)]
        writers: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Many tenants on one instance, each with the shop knowledge base:
    /// chat turns spread over all of them, against one tenant.
    Tenants {
        #[arg(long, value_delimiter = ',', default_value = "1,500")]
        tenants: Vec<usize>,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// An embedding model directory (hybrid retrieval; default: none,
        /// lexical only). Publishing then embeds every tenant's KB.
        #[arg(long)]
        embedder: Option<PathBuf>,
    },
    /// Process start to the first answered request, with N stored conversations.
    Recovery {
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        conversations: Vec<usize>,
        /// Messages stored per conversation.
        #[arg(long, default_value_t = 2)]
        messages: usize,
    },
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start(bin: &Path, data: &Path) -> Result<Server> {
    start_with(bin, data, &[("KEFU_PUBLIC_LISTEN", "off".to_owned())])
}

fn start_with(bin: &Path, data: &Path, env: &[(&str, String)]) -> Result<Server> {
    start_configured(bin, data, env, "")
}

/// As [`start_with`], with `extra` appended to the config file.
fn start_configured(
    bin: &Path,
    data: &Path,
    env: &[(&str, String)],
    extra: &str,
) -> Result<Server> {
    let port = free_port()?;
    // One tenant is the whole load here: lift its per-minute cap so the
    // figures measure storage, not the rate limiter.
    let config = data.with_extension("toml");
    std::fs::write(
        &config,
        format!("[limits]\ntenant_requests_per_minute = 4000000000\n{extra}"),
    )?;
    let child = Command::new(bin)
        .arg("serve")
        .env("KEFU_LISTEN", format!("127.0.0.1:{port}"))
        .env("KEFU_DATA_DIR", data)
        .env("KEFU_CONFIG", &config)
        .env("KEFU_OPERATOR_TOKEN", OPERATOR)
        .env("KEFU_MASTER_KEY", MASTER_KEY)
        .env("KEFU_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok(Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

/// The service with the in-process edge on its public listener, ready;
/// returns it and the edge's URL. Every visitor of the load kit comes from
/// 127.0.0.1, so the per-address and per-tenant limits are lifted and the
/// per-visitor one (20 a minute) that a real visitor meets is kept.
async fn start_public(http: &reqwest::Client, bin: &Path, data: &Path) -> Result<(Server, String)> {
    start_public_with(http, bin, data, &[]).await
}

/// As [`start_public`], with `env` added.
async fn start_public_with(
    http: &reqwest::Client,
    bin: &Path,
    data: &Path,
    env: &[(&str, String)],
) -> Result<(Server, String)> {
    let public = free_port()?;
    let limits = json!({
        "visitor": {"max": 20, "window_ms": 60000},
        "ip": {"max": 4000000000u32, "window_ms": 60000},
        "tenant": {"max": 4000000000u32, "window_ms": 60000},
        "new_conversation_per_ip": {"max": 4000000000u32, "window_ms": 60000},
    });
    let mut all = vec![
        ("KEFU_PUBLIC_LISTEN", format!("127.0.0.1:{public}")),
        ("KEFU_PUBLIC_LIMITS_JSON", limits.to_string()),
    ];
    all.extend(env.iter().cloned());
    let server = start_with(bin, data, &all)?;
    until_ok(http, &format!("{}/readyz", server.base), None).await?;
    let edge = format!("http://127.0.0.1:{public}");
    until_ok(http, &format!("{edge}/healthz"), None).await?;
    Ok((server, edge))
}

/// Polls `url` until it answers 2xx; returns when it did.
async fn until_ok(http: &reqwest::Client, url: &str, bearer: Option<&str>) -> Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut req = http.get(url);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Ok(r) = req.send().await
            && r.status().is_success()
        {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer within 600 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn post(http: &reqwest::Client, url: String, bearer: &str, body: &Value) -> Result<Value> {
    let r = http
        .post(&url)
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {url}: {status} {v}");
    }
    Ok(v)
}

async fn tenant(http: &reqwest::Client, base: &str) -> Result<String> {
    let v = post(
        http,
        format!("{base}/admin/v1/tenants"),
        OPERATOR,
        &json!({"id": "load-shop", "name": "Load Test Shop"}),
    )
    .await?;
    Ok(v["api_key"].as_str().context("api_key")?.to_owned())
}

async fn conversation(http: &reqwest::Client, base: &str, key: &str) -> Result<String> {
    let v = post(
        http,
        format!("{base}/v1/conversations"),
        key,
        &json!({"visitor_id": "v-load"}),
    )
    .await?;
    Ok(v["id"].as_str().context("id")?.to_owned())
}

fn message(i: u64) -> Value {
    json!({"role": "visitor", "text": format!("第{i}条：我的订单什么时候发货？when will my order ship?"), "client_msg_id": format!("m{i}")})
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let bin = match cli.bin {
        Some(b) => b,
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("kefu-regional"),
    };
    match cli.cmd {
        Cmd::Appends {
            concurrency,
            seconds,
        } => appends(&bin, &concurrency, seconds).await,
        Cmd::Recovery {
            conversations,
            messages,
        } => recovery(&bin, &conversations, messages).await,
        Cmd::Scans {
            conversations,
            writers,
            seconds,
        } => scans(&bin, conversations, writers, seconds).await,
        Cmd::Tenants {
            tenants,
            connections,
            seconds,
            embedder,
        } => tenants::tenants(&bin, &tenants, connections, seconds, embedder.as_deref()).await,
        Cmd::Concurrency { connections, turns } => {
            concurrency::concurrency(&bin, &connections, turns).await
        }
        Cmd::EdgeBench {
            wasmtime,
            edge,
            empty,
            wrangler,
            worker,
            connections,
            seconds,
            reuse,
        } => {
            edge_bench(
                &bin,
                &wasmtime,
                &edge,
                &empty,
                wrangler.as_deref().map(|w| (w, worker.as_path())),
                connections,
                seconds,
                reuse,
            )
            .await
        }
    }
}
