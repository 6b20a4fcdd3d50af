//! Gateway overhead and fairness, measured against the fake upstream in
//! one run (`cargo bench -p kefu-llm --bench gateway`).
//!
//! 1. Overhead: time to first token through `Gateway` (scheduler, breaker,
//!    budget) minus the same `OpenAiBackend` called directly, at 500 and
//!    2,000 requests/s, open loop (requests start on schedule whether or
//!    not earlier ones finished).
//! 2. Fairness: with 4 generation slots (at most 2 per tenant, the default
//!    half) and an upstream that takes 40 ms per
//!    answer, light tenants' p99 time to first token while one tenant sends
//!    ten times their traffic, against the same light load alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kefu_fake_openai::{FakeOpenAi, Script};
use kefu_llm::{
    ChatMessage, ChatRole, Gateway, GatewayConfig, GenerateRequest, LlmBackend, OpenAiBackend,
    OpenAiConfig,
};

fn req(tenant: &str) -> GenerateRequest {
    GenerateRequest {
        tenant: tenant.into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "q".into(),
        }],
        max_tokens: 8,
        temperature: 0.0,
        deadline: None,
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// Open-loop run at `rps` for `secs`: first-token latencies in ms.
async fn run(
    rps: u32,
    secs: u64,
    f: Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>,
) -> Vec<f64> {
    let n = rps as u64 * secs;
    let gap = Duration::from_secs_f64(1.0 / f64::from(rps));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = start + gap * i as u32;
        tokio::time::sleep_until(at.into()).await;
        let f = f.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            f().await;
            t.elapsed().as_secs_f64() * 1000.0
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap_or(f64::NAN));
    }
    out
}

async fn first_token(s: kefu_llm::TokenStream) {
    let mut s = s;
    let _ = s.next().await;
}

#[tokio::main]
async fn main() {
    let fake = FakeOpenAi::start(Script {
        reply: Some("ok ok".into()),
        ..Script::default()
    })
    .await
    .unwrap();
    let backend: Arc<dyn LlmBackend> =
        Arc::new(OpenAiBackend::new(OpenAiConfig::new(fake.base_url(), "fake")).unwrap());
    let gw = Gateway::new(
        vec![backend.clone()],
        GatewayConfig {
            capacity: 4096,
            per_tenant: 4096,
            ..Default::default()
        },
    )
    .unwrap();
    println!("== gateway overhead (time to first token, ms)");
    for rps in [500u32, 2000] {
        // Interleave direct and gateway runs, twice, to even out drift.
        let (mut d_all, mut g_all) = (Vec::new(), Vec::new());
        for _ in 0..2 {
            let b = backend.clone();
            d_all.extend(
                run(
                    rps,
                    2,
                    Arc::new(move || {
                        let b = b.clone();
                        Box::pin(async move {
                            if let Ok(s) = b.generate(req("t")).await {
                                first_token(s).await
                            }
                        })
                    }),
                )
                .await,
            );
            let g = gw.clone();
            g_all.extend(
                run(
                    rps,
                    2,
                    Arc::new(move || {
                        let g = g.clone();
                        Box::pin(async move {
                            if let Ok(s) = g.generate(req("t")).await {
                                first_token(s).await
                            }
                        })
                    }),
                )
                .await,
            );
        }
        let (d50, d99, g50, g99) = (
            pct(&mut d_all, 0.5),
            pct(&mut d_all, 0.99),
            pct(&mut g_all, 0.5),
            pct(&mut g_all, 0.99),
        );
        println!(
            "{rps:>5} req/s  direct p50 {d50:.3} p99 {d99:.3}  gateway p50 {g50:.3} p99 {g99:.3}  added p50 {:+.3} p99 {:+.3}",
            g50 - d50,
            g99 - d99
        );
    }

    println!(
        "== fairness: light tenants' p99 time to first token (ms), 4 slots (2 per tenant at most), 40 ms upstream"
    );
    let slow = FakeOpenAi::start(Script {
        reply: Some("ok".into()),
        ttft: Duration::from_millis(40),
        ..Script::default()
    })
    .await
    .unwrap();
    let sb: Arc<dyn LlmBackend> =
        Arc::new(OpenAiBackend::new(OpenAiConfig::new(slow.base_url(), "fake")).unwrap());
    let light = |gw: Gateway| -> Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync> {
        let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
        Arc::new(move || {
            let (g, n) = (gw.clone(), n.clone());
            Box::pin(async move {
                let t = if n.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 0 { "b" } else { "c" };
                if let Ok(s) = g.generate(req(t)).await { first_token(s).await }
            })
        })
    };
    // Light load: 40 req/s over two tenants (40% of 4 slots x 25/s).
    let gw1 = Gateway::new(
        vec![sb.clone()],
        GatewayConfig {
            capacity: 4,
            per_tenant: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let mut alone = run(40, 5, light(gw1)).await;
    let gw2 = Gateway::new(
        vec![sb.clone()],
        GatewayConfig {
            capacity: 4,
            per_tenant: 2,
            ..Default::default()
        },
    )
    .unwrap();
    let flood_gw = gw2.clone();
    let flood = tokio::spawn(async move {
        // Tenant a: ten times the light tenants' combined rate, far over capacity.
        run(
            400,
            5,
            Arc::new(move || {
                let g = flood_gw.clone();
                Box::pin(async move {
                    if let Ok(s) = g.generate(req("a")).await {
                        first_token(s).await
                    }
                })
            }),
        )
        .await
    });
    let mut loaded = run(40, 5, light(gw2)).await;
    let mut a = flood.await.unwrap();
    let (p_alone, p_loaded) = (pct(&mut alone, 0.99), pct(&mut loaded, 0.99));
    println!(
        "light alone p99 {p_alone:.1}  light under a 10x flood p99 {p_loaded:.1}  ratio {:.2}  (flooder p99 {:.1})",
        p_loaded / p_alone,
        pct(&mut a, 0.99)
    );
}
