//! `edge-bench`: the edge's cache-hit path against an empty component under
//! `wasmtime serve`, and the Worker against an empty Worker under
//! `wrangler dev`.

use super::*;

pub(crate) const EDGE_KEY: &str = "load-kit-edge-key-0123456789abcdef";

/// High limits for a benchmark that sends one tenant's traffic from one
/// address; the per-visitor limit still applies (each request is a new visitor).
pub(crate) fn bench_limits() -> Value {
    json!({
        "visitor": {"max": 20, "window_ms": 60000},
        "ip": {"max": 4000000000u32, "window_ms": 60000},
        "tenant": {"max": 4000000000u32, "window_ms": 60000},
        "new_conversation_per_ip": {"max": 4000000000u32, "window_ms": 60000},
    })
}

/// A child process (group) stopped on drop.
pub(crate) struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) fn spawn_group(cmd: &mut Command) -> Result<Group> {
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
pub(crate) enum Visitors {
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
pub(crate) const RETURNING_TURNS: u64 = 15;

/// Drives `make(i)` requests from `n` connections for `secs`; returns
/// (requests/s, p50, p99, answers that were not `expect`).
pub(crate) async fn drive(
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
pub(crate) async fn wait_http(url: &str) -> Result<()> {
    let http = reqwest::Client::new();
    tokio::time::timeout(Duration::from_secs(90), until_ok(&http, url, None))
        .await
        .with_context(|| format!("{url} did not answer within 90 s"))?
        .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn edge_bench(
    bin: &Path,
    wasmtime: &Path,
    edge: &Path,
    empty: &Path,
    wrangler: Option<(&Path, &Path)>,
    n: usize,
    secs: u64,
    reuse: Option<u64>,
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
    let env = vec![
        format!("SPIN_VARIABLE_REGIONAL_URL={}", server.base),
        format!("SPIN_VARIABLE_REGIONAL_SECRET={EDGE_KEY}"),
        format!("SPIN_VARIABLE_LIMITS_JSON={limits}"),
    ];
    let _edge = serve(pe, edge, &env)?;
    let _empty = serve(px, empty, &[])?;
    let edge_url = format!("http://127.0.0.1:{pe}");
    let empty_url = format!("http://127.0.0.1:{px}");
    wait_http(&format!("{edge_url}/healthz")).await?;
    wait_http(&format!("{empty_url}/")).await?;
    let per_instance = reuse.map_or("wasmtime's default".to_owned(), |r| r.to_string());
    println!(
        "## wasmtime serve: {n} connections, {secs} s x 2 rounds each, interleaved; requests per instance: {per_instance}\n"
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

pub(crate) async fn compare(
    chat: &str,
    empty: &str,
    wk: &str,
    q: &str,
    n: usize,
    secs: u64,
) -> Result<()> {
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
