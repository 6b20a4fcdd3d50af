//! `concurrency`: N visitors at once through the in-process edge.

use super::*;

/// What one chat request came to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answered,
    Limited,
    Failed,
}

pub(crate) async fn concurrency(bin: &Path, levels: &[usize], turns: usize) -> Result<()> {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let (server, edge) = start_public(&http, bin, &dir.path().join("data")).await?;
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
