//! The gateway and the OpenAI-compatible client against the fake upstream
//! (kefu-fake-openai): streaming, fallback, timeouts, breakers and the
//! retry budget. Counts, not clocks, are asserted.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kefu_core::overload::{BreakerConfig, BreakerState};
use kefu_fake_openai::{FakeOpenAi, Script};
use kefu_llm::{
    ChatMessage, ChatRole, Gateway, GatewayConfig, GenerateRequest, LlmBackend, LlmError,
    OpenAiBackend, OpenAiConfig,
};

fn req(tenant: &str, q: &str) -> GenerateRequest {
    GenerateRequest {
        tenant: tenant.into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: q.into(),
        }],
        max_tokens: 64,
        temperature: 0.0,
        deadline: None,
    }
}

fn backend(fake: &FakeOpenAi, model: &str) -> Arc<dyn LlmBackend> {
    let mut c = OpenAiConfig::new(fake.base_url(), model);
    c.first_token_timeout = Duration::from_millis(500);
    c.idle_timeout = Duration::from_millis(500);
    Arc::new(OpenAiBackend::new(c).unwrap())
}

async fn collect(s: kefu_llm::TokenStream) -> (Vec<String>, Option<LlmError>) {
    let items: Vec<_> = s.collect().await;
    let err = items.iter().find_map(|i| i.clone().err());
    (items.into_iter().filter_map(Result::ok).collect(), err)
}

#[tokio::test]
async fn tokens_stream_in_order_from_an_openai_compatible_server() {
    let fake = FakeOpenAi::start(Script {
        reply: Some("退款会在 3-5 个工作日内原路退回 [1].".into()),
        token_gap: Duration::from_millis(2),
        ..Script::default()
    })
    .await
    .unwrap();
    let gw = Gateway::new(vec![backend(&fake, "fake")], GatewayConfig::default()).unwrap();
    let (pieces, err) = collect(gw.generate(req("t1", "退款多久")).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert!(pieces.len() > 5, "streamed in pieces: {pieces:?}");
    assert_eq!(pieces.concat(), "退款会在 3-5 个工作日内原路退回 [1].");
}

#[tokio::test]
async fn an_error_or_a_stall_before_the_first_token_falls_back_to_the_next_backend() {
    let fake = FakeOpenAi::start(Script {
        reply: None,
        ..Script::default()
    })
    .await
    .unwrap();
    for broken in ["fail-503", "stall-0"] {
        let gw = Gateway::new(
            vec![backend(&fake, broken), backend(&fake, "echo")],
            GatewayConfig {
                retry_reserve: 5.0,
                ..Default::default()
            },
        )
        .unwrap();
        let (pieces, err) = collect(gw.generate(req("t1", "hello there")).await.unwrap()).await;
        assert!(err.is_none(), "{broken}: {err:?}");
        assert_eq!(pieces.concat(), "hello there", "{broken}");
        assert_eq!(gw.stats().attempts, 2, "{broken}");
    }
}

#[tokio::test]
async fn a_stall_after_the_first_token_ends_the_stream_with_a_timeout() {
    let fake = FakeOpenAi::start(Script {
        reply: Some("one two three four".into()),
        ..Script::default()
    })
    .await
    .unwrap();
    let gw = Gateway::new(
        vec![backend(&fake, "stall-2"), backend(&fake, "fake")],
        GatewayConfig::default(),
    )
    .unwrap();
    let (pieces, err) = collect(gw.generate(req("t1", "q")).await.unwrap()).await;
    assert_eq!(
        pieces.concat(),
        "one two ",
        "the visitor keeps what arrived"
    );
    assert_eq!(err, Some(LlmError::Timeout));
    assert_eq!(gw.stats().attempts, 1, "no retry once text was streamed");
}

#[tokio::test]
async fn under_total_failure_the_retry_budget_keeps_attempts_near_one_per_turn() {
    let fake = FakeOpenAi::start(Script::default()).await.unwrap();
    let gw = Gateway::new(
        vec![backend(&fake, "fail-500"), backend(&fake, "fail-502")],
        GatewayConfig::default(),
    )
    .unwrap();
    let turns = 200;
    for i in 0..turns {
        assert!(gw.generate(req(&format!("t{}", i % 7), "q")).await.is_err());
    }
    let upstream = fake.requests();
    let ratio = upstream as f64 / turns as f64;
    assert!(
        ratio <= 1.1,
        "{upstream} upstream attempts for {turns} turns ({ratio:.3})"
    );
    assert!(upstream >= 20, "the backends were tried at all: {upstream}");
}

#[tokio::test]
async fn a_failing_backend_trips_its_breaker_and_is_probed_again_after_the_cool_down() {
    let fake = FakeOpenAi::start(Script::default()).await.unwrap();
    let breaker = BreakerConfig {
        minimum_calls: 4,
        window_ms: 10_000,
        buckets: 10,
        open_ms: 300,
        half_open_permits: 1,
        close_after_successes: 1,
        ..BreakerConfig::default()
    };
    let gw = Gateway::new(
        vec![backend(&fake, "fail-500")],
        GatewayConfig {
            breaker,
            ..Default::default()
        },
    )
    .unwrap();
    for _ in 0..4 {
        assert!(matches!(
            gw.generate(req("t", "q")).await,
            Err(LlmError::Upstream { status: 500 })
        ));
    }
    assert_eq!(gw.stats().backends[0].breaker, BreakerState::Open);
    let before = fake.requests();
    for _ in 0..10 {
        assert!(matches!(
            gw.generate(req("t", "q")).await,
            Err(LlmError::CircuitOpen)
        ));
    }
    assert_eq!(
        fake.requests(),
        before,
        "an open breaker sends nothing upstream"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let _ = gw.generate(req("t", "q")).await;
    assert_eq!(fake.requests(), before + 1, "one probe after the cool-down");
}

#[tokio::test]
async fn with_no_backend_the_gateway_says_so() {
    let gw = Gateway::new(vec![], GatewayConfig::default()).unwrap();
    assert!(!gw.is_configured());
    assert!(matches!(
        gw.generate(req("t", "q")).await,
        Err(LlmError::NotConfigured)
    ));
}

#[tokio::test]
async fn the_request_deadline_ends_a_slow_stream_with_a_timeout() {
    // 50 tokens 20 ms apart take a second; the deadline allows 150 ms.
    let fake = FakeOpenAi::start(Script {
        total_tokens: Some(50),
        token_gap: Duration::from_millis(20),
        ..Script::default()
    })
    .await
    .unwrap();
    let gw = Gateway::new(vec![backend(&fake, "fake")], GatewayConfig::default()).unwrap();
    let mut r = req("t", "q");
    r.deadline = Some(std::time::Instant::now() + Duration::from_millis(150));
    let (pieces, err) = collect(gw.generate(r).await.unwrap()).await;
    assert_eq!(err, Some(LlmError::Timeout));
    assert!(!pieces.is_empty() && pieces.len() < 50, "{}", pieces.len());
}

#[tokio::test]
async fn per_request_headers_script_the_fake() {
    let fake = FakeOpenAi::start(Script::default()).await.unwrap();
    let mut c = OpenAiConfig::new(fake.base_url(), "fake");
    c.extra_headers = vec![("x-fake-status".into(), "429".into())];
    let limited = OpenAiBackend::new(c).unwrap();
    assert!(matches!(
        limited.generate(req("t", "q")).await,
        Err(LlmError::Upstream { status: 429 })
    ));
    let mut c = OpenAiConfig::new(fake.base_url(), "fake");
    c.extra_headers = vec![("x-fake-tokens".into(), "7".into())];
    let seven = OpenAiBackend::new(c).unwrap();
    let (pieces, err) = collect(seven.generate(req("t", "q")).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(pieces.len(), 7);
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn a_live_stream_holds_its_slot_and_dropping_it_frees_the_slot() {
    let fake = FakeOpenAi::start(Script {
        total_tokens: Some(1000),
        token_gap: Duration::from_millis(5),
        ..Script::default()
    })
    .await
    .unwrap();
    let gw = Gateway::new(vec![backend(&fake, "fake")], GatewayConfig::default()).unwrap();
    let mut s = gw.generate(req("t", "q")).await.unwrap();
    assert!(s.next().await.is_some());
    let st = gw.stats();
    assert_eq!((st.scheduler.in_flight, st.backends[0].in_flight), (1, 1));
    drop(s);
    let st = gw.stats();
    assert_eq!((st.scheduler.in_flight, st.backends[0].in_flight), (0, 0));
    assert!(st.scheduler.wait_p99_ms >= st.scheduler.wait_p50_ms);
}

#[tokio::test]
async fn a_backend_at_its_cap_is_passed_over_and_all_full_is_overloaded() {
    // Slow streams, so the first generation is still running when the next
    // ones ask.
    let slow = Script {
        reply: Some("one two three four five six".into()),
        token_gap: Duration::from_millis(150),
        ..Script::default()
    };
    let a = FakeOpenAi::start(slow.clone()).await.unwrap();
    let b = FakeOpenAi::start(slow).await.unwrap();
    let gw = Gateway::new(
        vec![backend(&a, "a"), backend(&b, "b")],
        GatewayConfig {
            capacity: 8,
            per_tenant: 8,
            per_backend: 1,
            ..GatewayConfig::default()
        },
    )
    .unwrap();
    let first = gw.generate(req("t", "q1")).await.unwrap();
    let second = gw.generate(req("t", "q2")).await.unwrap();
    // A was busy: the second went to B, without spending a retry.
    assert_eq!((a.requests(), b.requests()), (1, 1));
    let third = gw.generate(req("t", "q3")).await.err();
    assert_eq!(
        third,
        Some(LlmError::Overloaded),
        "every backend at its cap"
    );
    assert_eq!((a.requests(), b.requests()), (1, 1), "no upstream call");
    let stats = gw.stats();
    assert_eq!(stats.attempts, 2);
    assert!(stats.backends.iter().all(|s| s.in_flight == 1), "{stats:?}");
    // A stream done frees its backend.
    let (toks, err) = collect(first).await;
    assert!(err.is_none() && !toks.is_empty());
    let fourth = gw.generate(req("t", "q4")).await.unwrap();
    assert_eq!((a.requests(), b.requests()), (2, 1));
    drop((second, fourth));
}
