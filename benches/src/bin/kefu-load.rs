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
    }
}
