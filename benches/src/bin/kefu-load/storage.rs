//! `appends`, `recovery` and `scans`: durable appends per second with their
//! commit latency, the time to the first answer after a restart, and
//! appends while whole-tenant scans run.

use super::*;

pub(crate) async fn appends(bin: &Path, levels: &[usize], seconds: u64) -> Result<()> {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let server = start(bin, &dir.path().join("data"))?;
    until_ok(&http, &format!("{}/readyz", server.base), None).await?;
    let key = Arc::new(tenant(&http, &server.base).await?);
    println!("| concurrent conversations | acknowledged appends/s | p50 commit | p99 commit |");
    println!("|---|---|---|---|");
    for &n in levels {
        let all = append_for(&http, &server.base, &key, n, seconds).await?;
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

pub(crate) async fn recovery(bin: &Path, sizes: &[usize], per_conv: usize) -> Result<()> {
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

pub(crate) fn dir_size(p: &Path) -> u64 {
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

/// Appends from `writers` concurrent conversations for `seconds`; the
/// sorted commit latencies.
async fn append_for(
    http: &reqwest::Client,
    base: &str,
    key: &Arc<String>,
    writers: usize,
    seconds: u64,
) -> Result<Vec<Duration>> {
    let stop = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let conv = conversation(http, base, key).await?;
        let (http, base, key) = (http.clone(), base.to_owned(), key.clone());
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
    Ok(all)
}

fn append_row(what: &str, lat: &[Duration], base: Option<&[Duration]>, seconds: u64) {
    let ratio = |p: f64| match base {
        Some(b) => format!(
            "{:.2}x",
            pct(lat, p).as_secs_f64() / pct(b, p).as_secs_f64().max(1e-9)
        ),
        None => "-".to_owned(),
    };
    println!(
        "| {what} | {:.0} | {} | {} | {} | {} | {} | {} |",
        lat.len() as f64 / seconds as f64,
        ms(pct(lat, 0.50)),
        ms(pct(lat, 0.99)),
        ms(pct(lat, 1.0)),
        ratio(0.50),
        ratio(0.99),
        ratio(1.0),
    );
}

pub(crate) async fn scans(bin: &Path, n: usize, writers: usize, seconds: u64) -> Result<()> {
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let key = {
        let server = start(bin, &data)?;
        until_ok(&http, &format!("{}/readyz", server.base), None).await?;
        let key = Arc::new(tenant(&http, &server.base).await?);
        let started = Instant::now();
        let mut tasks = Vec::new();
        let seeders = 64;
        for w in 0..seeders {
            let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                for i in (w..n).step_by(seeders) {
                    let v = post(
                        &http,
                        format!("{base}/v1/conversations"),
                        &key,
                        &json!({"visitor_id": format!("visitor-{i}")}),
                    )
                    .await?;
                    let conv = v["id"].as_str().context("id")?.to_owned();
                    post(
                        &http,
                        format!("{base}/v1/conversations/{conv}/messages"),
                        &key,
                        &message(1),
                    )
                    .await?;
                }
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        eprintln!(
            "seeded {n} conversations in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        key
    };
    println!("{n} stored conversations, {writers} concurrent appenders, {seconds} s per phase\n");
    // The appenders wait while the writer is held (a closed loop), so a
    // stall shows in max more than in p99.
    println!("| phase | appends/s | p50 | p99 | max | p50 / alone | p99 / alone | max / alone |");
    println!("|---|---|---|---|---|---|---|---|");
    // Alone, then with erasures back to back, on the same process.
    let server = start(bin, &data)?;
    until_ok(&http, &format!("{}/readyz", server.base), None).await?;
    let alone = append_for(&http, &server.base, &key, writers, seconds).await?;
    append_row("appends alone", &alone, None, seconds);
    let erasing = {
        let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
        tokio::spawn(async move {
            let stop = Instant::now() + Duration::from_secs(seconds);
            let mut took = Vec::new();
            let mut i = 0;
            while Instant::now() < stop {
                let t = Instant::now();
                let r = http
                    .delete(format!("{base}/v1/visitors/visitor-{i}"))
                    .bearer_auth(key.as_str())
                    .send()
                    .await?;
                if !r.status().is_success() {
                    bail!("erasure: {}", r.status());
                }
                took.push(t.elapsed());
                i += 1;
            }
            took.sort();
            anyhow::Ok(took)
        })
    };
    let with_erasure = append_for(&http, &server.base, &key, writers, seconds).await?;
    let took = erasing.await??;
    append_row(
        "appends while erasing",
        &with_erasure,
        Some(&alone),
        seconds,
    );
    drop(server);
    // Retention sweeps every second (nothing is old enough to purge: each
    // sweep reads every conversation's metadata and removes none).
    let server = start_configured(
        bin,
        &data,
        &[("KEFU_PUBLIC_LISTEN", "off".to_owned())],
        "[retention]\nsweep_interval_secs = 1\n",
    )?;
    until_ok(&http, &format!("{}/readyz", server.base), None).await?;
    let with_sweeps = append_for(&http, &server.base, &key, writers, seconds).await?;
    append_row(
        "appends with a sweep every second",
        &with_sweeps,
        Some(&alone),
        seconds,
    );
    // An online backup of the whole store, while appends go on.
    let appending = {
        let (http, base, key) = (http.clone(), server.base.clone(), key.clone());
        tokio::spawn(async move { append_for(&http, &base, &key, writers, seconds).await })
    };
    let t = Instant::now();
    let b = post(
        &http,
        format!("{}/admin/v1/backups", server.base),
        OPERATOR,
        &json!({}),
    )
    .await?;
    let took_backup = t.elapsed();
    let during = appending.await??;
    append_row(
        "appends while a backup is written",
        &during,
        Some(&alone),
        seconds,
    );
    println!(
        "\nerasures: {} in {seconds} s, each p50 {} / p99 {}",
        took.len(),
        ms(pct(&took, 0.5)),
        ms(pct(&took, 0.99))
    );
    println!(
        "backup: {} rows in {} tables, {:.0} MiB, in {} (the service's own count: {} ms)",
        b["rows"],
        b["tables"],
        b["bytes"].as_f64().unwrap_or(0.0) / (1024.0 * 1024.0),
        ms(took_backup),
        b["ms"]
    );
    Ok(())
}
