//! Rate limits: refusals are 429 with Retry-After and cost no regional call.

use kefu_core::Limit;
use kefu_edge::{EdgeRequest, KvBucket, Method};
use serde_json::json;

use crate::support::*;

fn body(visitor: &str, conv: Option<&str>, n: u32) -> serde_json::Value {
    let mut b = json!({
        "widget_key": WIDGET_KEY, "visitor_id": visitor,
        "message": format!("question number {n} about delivery times"), "client_msg_id": format!("m-{n}"),
    });
    if let Some(c) = conv {
        b["conversation_id"] = json!(c);
    }
    b
}

#[tokio::test]
async fn the_visitor_limit_refuses_with_retry_after_and_no_regional_call() {
    let h = Harness::with(
        |_| {},
        |st| {
            st.tenants.get_mut(WIDGET_KEY).unwrap().limits.visitor =
                Some(Limit::per_minute(3).unwrap());
        },
    );
    let v = h.ask("v-1", None, "question number 0", "m-0").await;
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    for n in 1..3 {
        let (status, _) = h.chat(body("v-1", Some(&conv), n)).await;
        assert_eq!(status, 200);
    }
    let turns = h.fake.turn_count();
    let r = h.send(chat_request(&body("v-1", Some(&conv), 3))).await;
    assert_eq!(r.status, 429);
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    assert_eq!(error_code(&json_of(&r)), "rate_limited");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some(ORIGIN),
        "the widget can read the 429"
    );
    assert_eq!(
        h.fake.turn_count(),
        turns,
        "a refusal costs no regional call"
    );
    // Another visitor is not affected.
    assert_eq!(h.chat(body("v-2", None, 9)).await.0, 200);
    // After Retry-After the visitor may write again.
    h.clock.advance(secs * 1000);
    assert_eq!(h.chat(body("v-1", Some(&conv), 4)).await.0, 200);
}

#[tokio::test]
async fn new_conversations_per_ip_are_limited_separately() {
    let h = Harness::with(
        |c| c.limits.new_conversation_per_ip = Limit::per_minute(2).unwrap(),
        |_| {},
    );
    let a = h.ask("v-1", None, "first", "m-1").await;
    h.ask("v-2", None, "second", "m-1").await;
    let (status, v) = h.chat(body("v-3", None, 1)).await;
    assert_eq!(status, 429);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new_conversation_per_ip")
    );
    // Continuing an open conversation from the same IP is fine.
    let conv = a["conversation_id"].as_str().unwrap();
    assert_eq!(h.chat(body("v-1", Some(conv), 2)).await.0, 200);
    // From another IP a new conversation opens.
    let req = chat_request(&body("v-3", None, 1));
    let req = EdgeRequest {
        client_ip: Some("198.51.100.1".into()),
        ..req
    };
    assert_eq!(h.send(req).await.status, 200);
}

#[tokio::test]
async fn the_ip_limit_counts_every_visitor_behind_one_address() {
    let h = Harness::with(|c| c.limits.ip = Limit::per_minute(3).unwrap(), |_| {});
    for n in 0..3 {
        assert_eq!(h.chat(body(&format!("v-{n}"), None, n)).await.0, 200);
    }
    let (status, v) = h.chat(body("v-9", None, 9)).await;
    assert_eq!(status, 429);
    assert!(v["error"]["message"].as_str().unwrap().contains("ip"));
    // The refusal counted nothing: the visitor window was not written.
    assert!(
        !h.platform()
            .keys(KvBucket::Limits)
            .iter()
            .any(|k| k.contains("v-9"))
    );
    let _ = Method::Get;
}

/// Forty turns at once from one visitor, on two threads: exactly the
/// limit's worth pass, because the platform checks and counts in one
/// step (`Platform::check_limits`) rather than read, check, write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_turns_never_pass_more_than_the_limit() {
    let h = Harness::with(
        |c| c.limits.new_conversation_per_ip = Limit::per_minute(1000).unwrap(),
        |st| {
            st.tenants.get_mut(WIDGET_KEY).unwrap().limits.visitor =
                Some(Limit::per_minute(5).unwrap());
        },
    );
    let turns: Vec<_> = (0..40)
        .map(|n| {
            let h = h.clone();
            tokio::spawn(async move { h.chat(body("v-burst", None, n)).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in turns {
        statuses.push(t.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, refused), (5, 35), "{statuses:?}");
    assert_eq!(
        h.fake.turn_count(),
        5,
        "only admitted turns reach the regional"
    );
}
