//! `appends` and `recovery`: durable appends per second with their commit
//! latency, and the time to the first answer after a restart.

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
