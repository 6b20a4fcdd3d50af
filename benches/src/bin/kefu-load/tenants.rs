//! `tenants`: one regional instance serving many tenants at once (the seed
//! post's "500 tenants per instance"): each tenant with its own copy of the
//! bilingual shop knowledge base (80 FAQs + 7 documents, lexical
//! retrieval), chat turns spread over all of them through the in-process
//! edge, against the same run with one tenant.

use super::*;

const KB: &str = include_str!("../../../../fixtures/shop/kb.json");
const QUESTIONS: &str = include_str!("../../../../fixtures/shop/questions.jsonl");

/// A small deterministic generator (xorshift64*): the same run asks the
/// same questions of the same tenants.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Resident memory of `pid`, MiB (Linux).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(crate) async fn tenants(
    bin: &Path,
    levels: &[usize],
    connections: usize,
    seconds: u64,
    embedder: Option<&Path>,
) -> Result<()> {
    let kb: Value = serde_json::from_str(KB)?;
    let questions: Vec<String> = QUESTIONS
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|q| q["expect"].as_array().is_some_and(|e| !e.is_empty()))
        .filter_map(|q| q["q"].as_str().map(str::to_owned))
        .collect();
    let questions = Arc::new(questions);
    let http = reqwest::Client::new();
    println!(
        "{connections} connections, {seconds} s per level, a new visitor per turn, answerable shop questions, {} retrieval\n",
        if embedder.is_some() {
            "hybrid"
        } else {
            "lexical"
        }
    );
    println!(
        "| tenants | setup | RSS after setup | RSS after load | turns/s | p50 | p99 | errors | sources (faq / kb / cache / other) | turns/s vs 1st row | p99 vs 1st row |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut first: Option<(f64, Duration)> = None;
    for &n in levels {
        let dir = tempfile::tempdir()?;
        let env: Vec<(&str, String)> = embedder
            .map(|e| ("KEFU_EMBEDDER", e.display().to_string()))
            .into_iter()
            .collect();
        let (server, edge) = start_public_with(&http, bin, &dir.path().join("data"), &env).await?;
        let base = server.base.clone();
        let started = Instant::now();
        let mut widget_keys = Vec::new();
        for i in 0..n {
            let t = post(
                &http,
                format!("{base}/admin/v1/tenants"),
                OPERATOR,
                &json!({"id": format!("shop-{i}"), "name": format!("Shop {i}")}),
            )
            .await?;
            let key = t["api_key"].as_str().context("api_key")?.to_owned();
            widget_keys.push(t["widget_key"].as_str().context("widget_key")?.to_owned());
            post(&http, format!("{base}/v1/kb/faqs"), &key, &kb["faqs"]).await?;
            post(
                &http,
                format!("{base}/v1/kb/documents"),
                &key,
                &kb["documents"],
            )
            .await?;
            post(&http, format!("{base}/v1/kb/publish"), &key, &json!({})).await?;
            if (i + 1) % 100 == 0 {
                eprintln!("  {} tenants set up", i + 1);
            }
        }
        let setup = started.elapsed();
        let pid = server.child.id();
        let rss_setup = rss_mib(pid);
        let widget_keys = Arc::new(widget_keys);
        let stop = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for c in 0..connections {
            let (edge, wks, qs) = (edge.clone(), widget_keys.clone(), questions.clone());
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()?;
            tasks.push(tokio::spawn(async move {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1));
                let mut out: Vec<(Duration, Result<String, String>)> = Vec::new();
                let mut k = 0;
                while Instant::now() < stop {
                    k += 1;
                    let wk = &wks[rng.below(wks.len())];
                    let q = &qs[rng.below(qs.len())];
                    let body = json!({"widget_key": wk, "visitor_id": format!("v-{c}-{k}"),
                        "message": q, "client_msg_id": "m1"});
                    let t0 = Instant::now();
                    let r = client
                        .post(format!("{edge}/v1/chat"))
                        .json(&body)
                        .send()
                        .await;
                    let res = match r {
                        Ok(r) if r.status().is_success() => {
                            let j: Value = r.json().await.unwrap_or(Value::Null);
                            Ok(j["source"].as_str().unwrap_or("?").to_owned())
                        }
                        Ok(r) => Err(r.status().to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    out.push((t0.elapsed(), res));
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await?);
        }
        let rss_load = rss_mib(pid);
        let mut lat: Vec<Duration> = all.iter().map(|(d, _)| *d).collect();
        lat.sort();
        let errors: Vec<&String> = all.iter().filter_map(|(_, r)| r.as_ref().err()).collect();
        let share = |s: &str| {
            all.iter().filter(|(_, r)| r.as_deref() == Ok(s)).count() as f64 * 100.0
                / all.len().max(1) as f64
        };
        let (faq, kbp, cache) = (share("faq"), share("kb"), share("cache"));
        let other =
            100.0 - faq - kbp - cache - errors.len() as f64 * 100.0 / all.len().max(1) as f64;
        let rate = all.len() as f64 / seconds as f64;
        let p99 = pct(&lat, 0.99);
        let (r0, p0) = *first.get_or_insert((rate, p99));
        println!(
            "| {n} | {:.1} s | {rss_setup:.0} MiB | {rss_load:.0} MiB | {rate:.0} | {} | {} | {} | {faq:.0}% / {kbp:.0}% / {cache:.0}% / {other:.0}% | {:.2}x | {:.2}x |",
            setup.as_secs_f64(),
            ms(pct(&lat, 0.5)),
            ms(p99),
            errors.len(),
            rate / r0,
            p99.as_secs_f64() / p0.as_secs_f64().max(1e-9),
        );
        let mut kinds: Vec<&String> = errors.clone();
        kinds.sort();
        kinds.dedup();
        for e in kinds.iter().take(5) {
            eprintln!("  error at {n} tenants: {e}");
        }
    }
    Ok(())
}
