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
//! ```sh
//! cargo build --release -p kefu-regional -p kefu-benches
//! target/release/kefu-load appends --concurrency 1,8,64 --seconds 10
//! target/release/kefu-load recovery --conversations 10000,100000
//! target/release/kefu-load concurrency --connections 200,1000 --turns 5
//! ```

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

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
        /// The edge component's `outbox_batch` (its own default when absent:
        /// 1 under plain wasmtime, each hit reported at once).
        #[arg(long)]
        outbox_batch: Option<u32>,
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
    let port = free_port()?;
    // One tenant is the whole load here: lift its per-minute cap so the
    // figures measure storage, not the rate limiter.
    let config = data.with_extension("toml");
    std::fs::write(
        &config,
        "[limits]\ntenant_requests_per_minute = 4000000000\n",
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

async fn appends(bin: &Path, levels: &[usize], seconds: u64) -> Result<()> {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let server = start(bin, &dir.path().join("data"))?;
    until_ok(&http, &format!("{}/readyz", server.base), None).await?;
    let key = Arc::new(tenant(&http, &server.base).await?);
    println!("| concurrent conversations | acknowledged appends/s | p50 commit | p99 commit |");
    println!("|---|---|---|---|");
    for &n in levels {
        let mut tasks = Vec::new();
        let stop = Instant::now() + Duration::from_secs(seconds);
        for _ in 0..n {
            let conv = conversation(&http, &server.base, &key).await?;
            let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut i = 0u64;
                while Instant::now() < stop {
                    i += 1;
                    let t = Instant::now();
                    post(
                        &http,
                        format!("{base}/v1/conversations/{conv}/messages"),
                        &key,
                        &message(i),
                    )
                    .await?;
                    lat.push(t.elapsed());
                }
                anyhow::Ok(lat)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        all.sort();
        println!(
            "| {n} | {:.0} | {} | {} |",
            all.len() as f64 / seconds as f64,
            ms(pct(&all, 0.50)),
            ms(pct(&all, 0.99))
        );
    }
    // Encrypted transcript reads: one conversation of 20 messages, read 2,000 times.
    let conv = conversation(&http, &server.base, &key).await?;
    for i in 1..=20 {
        post(
            &http,
            format!("{}/v1/conversations/{conv}/messages", server.base),
            &key,
            &message(i),
        )
        .await?;
    }
    let mut lat = Vec::new();
    for _ in 0..2000 {
        let t = Instant::now();
        let r = http
            .get(format!("{}/v1/conversations/{conv}", server.base))
            .bearer_auth(key.as_str())
            .send()
            .await?;
        let _ = r.bytes().await?;
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "\nencrypted transcript read (20 messages, decrypt + JSON, over loopback HTTP): p50 {}, p99 {}",
        ms(pct(&lat, 0.5)),
        ms(pct(&lat, 0.99))
    );
    Ok(())
}

async fn recovery(bin: &Path, sizes: &[usize], per_conv: usize) -> Result<()> {
    let http = reqwest::Client::new();
    println!(
        "| stored conversations | data dir | start → ready | start → first answered request |"
    );
    println!("|---|---|---|---|");
    for &n in sizes {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let (key, last) = {
            let server = start(bin, &data)?;
            until_ok(&http, &format!("{}/readyz", server.base), None).await?;
            let key = Arc::new(tenant(&http, &server.base).await?);
            // Seed with 64 concurrent writers so group commit shares fsyncs.
            let workers = 64;
            let mut tasks = Vec::new();
            let started = Instant::now();
            for w in 0..workers {
                let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
                let count = n / workers + usize::from(w < n % workers);
                tasks.push(tokio::spawn(async move {
                    let mut last = None;
                    for _ in 0..count {
                        let conv = conversation(&http, &base, &key).await?;
                        for i in 1..=per_conv as u64 {
                            post(
                                &http,
                                format!("{base}/v1/conversations/{conv}/messages"),
                                &key,
                                &message(i),
                            )
                            .await?;
                        }
                        last = Some(conv);
                    }
                    anyhow::Ok(last)
                }));
            }
            let mut last = None;
            for t in tasks {
                if let Some(c) = t.await?? {
                    last = Some(c);
                }
            }
            eprintln!(
                "seeded {n} conversations in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            (key, last.context("no conversation")?)
        }; // the server stops here (SIGTERM, graceful)
        let size = dir_size(&data);
        let t0 = Instant::now();
        let server = start(bin, &data)?;
        let ready = until_ok(&http, &format!("{}/readyz", server.base), None).await?;
        let answered = until_ok(
            &http,
            &format!("{}/v1/conversations/{last}/messages?since=0", server.base),
            Some(&key),
        )
        .await?;
        println!(
            "| {n} | {:.0} MiB | {} | {} |",
            size as f64 / (1024.0 * 1024.0),
            ms(ready - t0),
            ms(answered - t0)
        );
    }
    Ok(())
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

const EDGE_KEY: &str = "load-kit-edge-key-0123456789abcdef";

/// High limits for a benchmark that sends one tenant's traffic from one
/// address; the per-visitor limit still applies (each request is a new visitor).
fn bench_limits() -> Value {
    json!({
        "visitor": {"max": 20, "window_ms": 60000},
        "ip": {"max": 4000000000u32, "window_ms": 60000},
        "tenant": {"max": 4000000000u32, "window_ms": 60000},
        "new_conversation_per_ip": {"max": 4000000000u32, "window_ms": 60000},
    })
}

/// A child process (group) stopped on drop.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn spawn_group(cmd: &mut Command) -> Result<Group> {
    use std::os::unix::process::CommandExt;
    Ok(Group(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?,
    ))
}

/// Who sends the chat requests of a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visitors {
    /// Every request a new visitor: no session to look up; the hit opens
    /// one and queues the turn for the regional service.
    New,
    /// Returning visitors: each visitor opens a conversation with its first
    /// message, then asks again in it ([`RETURNING_TURNS`] in all, inside
    /// the per-visitor limit of 20 a minute): a session lookup on every
    /// measured request after the first.
    Returning,
}

/// Messages per returning visitor (the per-visitor limit is 20 a minute).
const RETURNING_TURNS: u64 = 15;

/// Drives `make(i)` requests from `n` connections for `secs`; returns
/// (requests/s, p50, p99, answers that were not `expect`).
async fn drive(
    url: &str,
    n: usize,
    secs: u64,
    body: Option<(&str, &str, Visitors)>,
    expect: Option<&str>,
) -> Result<(f64, Duration, Duration, usize)> {
    let stop = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..n {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()?;
        let url = url.to_owned();
        let body = body.map(|(wk, q, m)| (wk.to_owned(), q.to_owned(), m));
        let expect = expect.map(str::to_owned);
        let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut off = 0usize;
            let mut i = 0u64;
            let mut conv: Option<String> = None;
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            while Instant::now() < stop {
                i += 1;
                let t = Instant::now();
                let r = match &body {
                    Some((wk, q, m)) => {
                        let visitor = match m {
                            Visitors::New => format!("bench-{run}-{c}-{i}"),
                            Visitors::Returning => {
                                if (i - 1).is_multiple_of(RETURNING_TURNS) {
                                    conv = None;
                                }
                                format!("bench-{run}-{c}-r{}", (i - 1) / RETURNING_TURNS)
                            }
                        };
                        let mut b = json!({"widget_key": wk, "visitor_id": visitor,
                            "message": q, "client_msg_id": format!("b{run}-{c}-{i}")});
                        if let Some(id) = &conv {
                            b["conversation_id"] = json!(id);
                        }
                        client.post(&url).json(&b).send().await
                    }
                    None => client.get(&url).send().await,
                };
                match r {
                    Ok(r) if r.status().is_success() => {
                        let v: Value = r.json().await.unwrap_or(Value::Null);
                        if let Some(e) = &expect
                            && v["source"] != e.as_str()
                        {
                            off += 1;
                        }
                        if let Some((_, _, Visitors::Returning)) = &body {
                            conv = v["conversation_id"].as_str().map(str::to_owned);
                        }
                        lat.push(t.elapsed());
                    }
                    Ok(r) => {
                        off += 1;
                        *statuses.entry(r.status().as_u16()).or_insert(0usize) += 1;
                    }
                    Err(_) => {
                        off += 1;
                        *statuses.entry(0).or_insert(0) += 1;
                    }
                }
            }
            (lat, off, statuses)
        }));
    }
    let mut lat = Vec::new();
    let mut off = 0;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for t in tasks {
        let (l, o, s) = t.await?;
        lat.extend(l);
        off += o;
        for (k, v) in s {
            *statuses.entry(k).or_insert(0) += v;
        }
    }
    if !statuses.is_empty() {
        // Failed requests by status (0: no answer), for the notes.
        eprintln!("  {url}: failed requests by status {statuses:?}");
    }
    let wall = started.elapsed().as_secs_f64();
    lat.sort();
    Ok((
        lat.len() as f64 / wall,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        off,
    ))
}

/// Runs of [`drive`] so far: visitor ids never repeat across runs.
static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Polls `url` until it answers 2xx, for at most 90 s (a server that
/// failed to start must not hang the run).
async fn wait_http(url: &str) -> Result<()> {
    let http = reqwest::Client::new();
    tokio::time::timeout(Duration::from_secs(90), until_ok(&http, url, None))
        .await
        .with_context(|| format!("{url} did not answer within 90 s"))?
        .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
async fn edge_bench(
    bin: &Path,
    wasmtime: &Path,
    edge: &Path,
    empty: &Path,
    wrangler: Option<(&Path, &Path)>,
    n: usize,
    secs: u64,
    (reuse, outbox_batch): (Option<u64>, Option<u32>),
) -> Result<()> {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let server = start_with(
        bin,
        &dir.path().join("data"),
        &[
            ("KEFU_PUBLIC_LISTEN", "off".to_owned()),
            ("KEFU_EDGE_KEY", EDGE_KEY.to_owned()),
        ],
    )?;
    until_ok(&http, &format!("{}/readyz", server.base), None).await?;
    let key = tenant(&http, &server.base).await?;
    let q = "How do I get a refund?";
    let faq = json!([{"id": "faq-refund", "question": q,
        "answer": "Open My Orders, choose the order and tap Request refund."}]);
    post(&http, format!("{}/v1/kb/faqs", server.base), &key, &faq).await?;
    post(
        &http,
        format!("{}/v1/kb/publish", server.base),
        &key,
        &json!({}),
    )
    .await?;
    let wk = http
        .get(format!("{}/admin/v1/tenants/load-shop", server.base))
        .bearer_auth(OPERATOR)
        .send()
        .await?
        .json::<Value>()
        .await?["widget_key"]
        .as_str()
        .context("widget_key")?
        .to_owned();
    let limits = bench_limits().to_string();
    let (pe, px) = (free_port()?, free_port()?);
    let serve = |port: u16, wasm: &Path, env: &[String]| -> Result<Group> {
        let mut c = Command::new(wasmtime);
        c.args(["serve", "--addr", &format!("127.0.0.1:{port}"), "-S", "cli"]);
        if let Some(r) = reuse {
            c.args(["--max-instance-reuse-count", &r.to_string()]);
        }
        for e in env {
            c.args(["--env", e]);
        }
        spawn_group(c.arg(wasm))
    };
    let mut env = vec![
        format!("SPIN_VARIABLE_REGIONAL_URL={}", server.base),
        format!("SPIN_VARIABLE_REGIONAL_SECRET={EDGE_KEY}"),
        format!("SPIN_VARIABLE_LIMITS_JSON={limits}"),
    ];
    if let Some(b) = outbox_batch {
        env.push(format!("SPIN_VARIABLE_OUTBOX_BATCH={b}"));
    }
    let _edge = serve(pe, edge, &env)?;
    let _empty = serve(px, empty, &[])?;
    let edge_url = format!("http://127.0.0.1:{pe}");
    let empty_url = format!("http://127.0.0.1:{px}");
    wait_http(&format!("{edge_url}/healthz")).await?;
    wait_http(&format!("{empty_url}/")).await?;
    let per_instance = reuse.map_or("wasmtime's default".to_owned(), |r| r.to_string());
    let batch = outbox_batch.map_or("the component's default".to_owned(), |b| b.to_string());
    println!(
        "## wasmtime serve: {n} connections, {secs} s x 2 rounds each, interleaved; requests per instance: {per_instance}; outbox_batch: {batch}\n"
    );
    compare(
        &format!("{edge_url}/v1/chat"),
        &format!("{empty_url}/"),
        &wk,
        q,
        n,
        secs,
    )
    .await?;

    if let Some((wrangler, worker)) = wrangler {
        let worker = worker.canonicalize()?;
        let cfg_dir = tempfile::tempdir()?;
        let empty_js = cfg_dir.path().join("empty.mjs");
        std::fs::write(
            &empty_js,
            "export default { async fetch() { return new Response('{\"status\":\"ok\"}', { headers: { 'content-type': 'application/json' } }); } };\n",
        )?;
        let wcfg = |name: &str, main: &Path, vars: &str| -> Result<PathBuf> {
            let p = cfg_dir.path().join(format!("{name}.toml"));
            std::fs::write(
                &p,
                format!(
                    "name = \"{name}\"\nmain = {main:?}\ncompatibility_date = \"2026-11-01\"\n{vars}"
                ),
            )?;
            Ok(p)
        };
        let vars = format!(
            "[vars]\nregional_url = \"{}\"\nregional_secret = \"{EDGE_KEY}\"\nlimits_json = {:?}\n[[kv_namespaces]]\nbinding = \"KEFU_KV\"\nid = \"bench\"\n",
            server.base, limits
        );
        let (we, wx) = (free_port()?, free_port()?);
        let tools = wrangler.parent().context("wrangler dir")?;
        // Each `wrangler dev` needs its own inspector port: a second one on
        // the default port fails at start ("Address already in use"), which
        // is why this comparison never completed before.
        let dev = |cfg: PathBuf, port: u16| -> Result<Group> {
            let inspector = free_port()?;
            let path = format!(
                "{}:{}",
                tools.display(),
                std::env::var("PATH").unwrap_or_default()
            );
            spawn_group(
                Command::new(wrangler)
                    .args(["dev", "--config"])
                    .arg(cfg)
                    .args([
                        "--ip",
                        "127.0.0.1",
                        "--port",
                        &port.to_string(),
                        "--inspector-port",
                        &inspector.to_string(),
                        "--persist-to",
                    ])
                    .arg(cfg_dir.path().join(format!("state-{port}")))
                    .args([
                        "--log-level",
                        "error",
                        "--show-interactive-dev-session=false",
                    ])
                    .env("PATH", path)
                    .env("WRANGLER_SEND_METRICS", "false")
                    .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
                    .env("XDG_CONFIG_HOME", cfg_dir.path().join("config")),
            )
        };
        let _we = dev(wcfg("kefu-edge-bench", &worker, &vars)?, we)?;
        let _wx = dev(wcfg("kefu-empty-bench", &empty_js, "")?, wx)?;
        let (wu, xu) = (
            format!("http://127.0.0.1:{we}"),
            format!("http://127.0.0.1:{wx}"),
        );
        wait_http(&format!("{wu}/healthz")).await?;
        wait_http(&format!("{xu}/")).await?;
        println!("\n## wrangler dev (workerd): the Worker against an empty JS Worker\n");
        compare(&format!("{wu}/v1/chat"), &format!("{xu}/"), &wk, q, n, secs).await?;
    }
    Ok(())
}

async fn compare(chat: &str, empty: &str, wk: &str, q: &str, n: usize, secs: u64) -> Result<()> {
    // Warm: the first answer comes from the regional service and fills the cache.
    let http = reqwest::Client::new();
    for i in 0..3 {
        let b = json!({"widget_key": wk, "visitor_id": format!("warm-{i}"), "message": q, "client_msg_id": "w"});
        http.post(chat).json(&b).send().await?.error_for_status()?;
    }
    let (mut e, mut r, mut x) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..2 {
        x.push(drive(empty, n, secs, None, None).await?);
        e.push(drive(chat, n, secs, Some((wk, q, Visitors::New)), Some("cache")).await?);
        r.push(
            drive(
                chat,
                n,
                secs,
                Some((wk, q, Visitors::Returning)),
                Some("cache"),
            )
            .await?,
        );
    }
    let best = |v: &[(f64, Duration, Duration, usize)]| {
        v.iter()
            .copied()
            .fold((0.0, Duration::ZERO, Duration::ZERO, 0), |a, b| {
                if b.0 > a.0 { b } else { a }
            })
    };
    let (be, br, bx) = (best(&e), best(&r), best(&x));
    println!("| path | requests/s | p50 | p99 | not a cache hit |");
    println!("|---|---|---|---|---|");
    println!(
        "| empty component | {:.0} | {} | {} | - |",
        bx.0,
        ms(bx.1),
        ms(bx.2)
    );
    println!(
        "| edge cache hit, new visitor each request (limits + cache; opens a session) | {:.0} | {} | {} | {} |",
        be.0,
        ms(be.1),
        ms(be.2),
        be.3
    );
    println!(
        "| edge cache hit, returning visitor (session lookup + limits + cache) | {:.0} | {} | {} | {} |",
        br.0,
        ms(br.1),
        ms(br.2),
        br.3
    );
    println!(
        "\ncache-hit path / empty component (best of 2 rounds each): new visitors {:.2}x, returning visitors {:.2}x requests/s",
        be.0 / bx.0,
        br.0 / bx.0
    );
    Ok(())
}

/// What one chat request came to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answered,
    Limited,
    Failed,
}

async fn concurrency(bin: &Path, levels: &[usize], turns: usize) -> Result<()> {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let public = free_port()?;
    // Every visitor comes from 127.0.0.1: lift the per-address and
    // per-tenant limits so the run measures the service, and keep the
    // per-visitor one (20 a minute) that a real visitor meets.
    let limits = json!({
        "visitor": {"max": 20, "window_ms": 60000},
        "ip": {"max": 4000000000u32, "window_ms": 60000},
        "tenant": {"max": 4000000000u32, "window_ms": 60000},
        "new_conversation_per_ip": {"max": 4000000000u32, "window_ms": 60000},
    });
    let server = start_with(
        bin,
        &dir.path().join("data"),
        &[
            ("KEFU_PUBLIC_LISTEN", format!("127.0.0.1:{public}")),
            ("KEFU_PUBLIC_LIMITS_JSON", limits.to_string()),
        ],
    )?;
    until_ok(&http, &format!("{}/readyz", server.base), None).await?;
    let edge = format!("http://127.0.0.1:{public}");
    until_ok(&http, &format!("{edge}/healthz"), None).await?;
    let key = tenant(&http, &server.base).await?;
    let faq = json!([{"id": "faq-refund", "question": "How do I get a refund?",
        "answer": "Open My Orders, choose the order and tap Request refund."}]);
    post(&http, format!("{}/v1/kb/faqs", server.base), &key, &faq).await?;
    post(
        &http,
        format!("{}/v1/kb/publish", server.base),
        &key,
        &json!({}),
    )
    .await?;
    let wk = http
        .get(format!("{}/admin/v1/tenants/load-shop", server.base))
        .bearer_auth(OPERATOR)
        .send()
        .await?
        .json::<Value>()
        .await?["widget_key"]
        .as_str()
        .context("widget_key")?
        .to_owned();
    println!("| connections | requests | answered | 429 | other errors | requests/s | p50 | p99 |");
    println!("|---|---|---|---|---|---|---|---|");
    for &n in levels {
        // One connection per visitor: no pooling across visitors.
        let clients: Vec<reqwest::Client> = (0..n)
            .map(|_| reqwest::Client::builder().pool_max_idle_per_host(1).build())
            .collect::<Result<_, _>>()?;
        let gate = Arc::new(tokio::sync::Barrier::new(n));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for (v, client) in clients.into_iter().enumerate() {
            let (edge, wk, gate) = (edge.clone(), wk.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                gate.wait().await;
                let mut out = Vec::new();
                let mut errors = Vec::new();
                let mut conv: Option<String> = None;
                for t in 0..turns {
                    let msg = if t % 2 == 0 {
                        "How do I get a refund?".to_owned()
                    } else {
                        format!("visitor {v} question {t}: where is my parcel?")
                    };
                    let mut body = json!({"widget_key": wk, "visitor_id": format!("load-{n}-{v}"),
                        "message": msg, "client_msg_id": format!("m{t}")});
                    if let Some(c) = &conv {
                        body["conversation_id"] = json!(c);
                    }
                    let t0 = Instant::now();
                    let r = client
                        .post(format!("{edge}/v1/chat"))
                        .json(&body)
                        .send()
                        .await;
                    let outcome = match r {
                        Ok(r) if r.status().is_success() => {
                            let j: Value = r.json().await.unwrap_or(Value::Null);
                            if let Some(c) = j["conversation_id"].as_str() {
                                conv = Some(c.to_owned());
                                Outcome::Answered
                            } else {
                                errors.push(format!("200 without a conversation: {j}"));
                                Outcome::Failed
                            }
                        }
                        Ok(r) if r.status().as_u16() == 429 => Outcome::Limited,
                        Ok(r) => {
                            errors.push(format!("{}", r.status()));
                            Outcome::Failed
                        }
                        Err(e) => {
                            errors.push(e.to_string());
                            Outcome::Failed
                        }
                    };
                    out.push((outcome, t0.elapsed()));
                }
                (out, errors)
            }));
        }
        let mut all = Vec::new();
        let mut errors = Vec::new();
        for t in tasks {
            let (o, e) = t.await?;
            all.extend(o);
            errors.extend(e);
        }
        let wall = started.elapsed();
        let count = |k| all.iter().filter(|(o, _)| *o == k).count();
        let mut lat: Vec<Duration> = all.iter().map(|(_, d)| *d).collect();
        lat.sort();
        println!(
            "| {n} | {} | {} | {} | {} | {:.0} | {} | {} |",
            all.len(),
            count(Outcome::Answered),
            count(Outcome::Limited),
            count(Outcome::Failed),
            all.len() as f64 / wall.as_secs_f64(),
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
        );
        errors.sort();
        errors.dedup();
        for e in errors.iter().take(5) {
            eprintln!("  error at {n}: {e}");
        }
    }
    Ok(())
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
        Cmd::Concurrency { connections, turns } => concurrency(&bin, &connections, turns).await,
        Cmd::EdgeBench {
            wasmtime,
            edge,
            empty,
            wrangler,
            worker,
            connections,
            seconds,
            reuse,
            outbox_batch,
        } => {
            edge_bench(
                &bin,
                &wasmtime,
                &edge,
                &empty,
                wrangler.as_deref().map(|w| (w, worker.as_path())),
                connections,
                seconds,
                (reuse, outbox_batch),
            )
            .await
        }
    }
}
