//! The queue: timeouts and left messages, business hours, automatic
//! assignment.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::handoff::say;
use crate::inproc::{harness, widget_key};

#[tokio::test]
async fn a_visitor_nobody_takes_in_time_is_asked_to_leave_a_message_and_agents_see_it() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    put_settings(&h, &key, json!({"queue_timeout_secs": 1})).await;
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );
    let q = say(&public, &wk, None, "I want to talk to a human", "t1").await;
    let conv = q["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(q["handoff"], true);
    // The service's queue sweeper runs every second.
    let storage = h.app.as_ref().unwrap().storage().clone();
    let mut asked = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let _ = storage.sweep_queue().await.unwrap();
        let t = transcript(&h, &key, &conv).await;
        let last = t.last().unwrap();
        if last["text"]
            .as_str()
            .unwrap()
            .contains("leave your phone or e-mail")
        {
            // The widget shows its contact + message form under this one.
            assert_eq!(last["source"], "leave_message", "{last:?}");
            asked = true;
            break;
        }
    }
    assert!(asked, "the visitor was not asked to leave a message");
    let left = say(
        &public,
        &wk,
        Some(&conv),
        "Please call me on 13800138000 about my refund",
        "t2",
    )
    .await;
    assert!(
        left["answer"]
            .as_str()
            .unwrap()
            .contains("your message is recorded"),
        "{left:?}"
    );
    let alice = login(&h, "acme", "alice").await;
    let queue = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(
        queue.body["waiting"].as_array().unwrap().len(),
        0,
        "{:?}",
        queue.body
    );
    let item = &queue.body["left_messages"][0];
    assert_eq!(item["conversation_id"], conv.as_str());
    assert_eq!(
        item["handoff"]["left_messages"].as_array().unwrap().len(),
        1
    );
    // An agent can still pick it up and answer.
    let acc = on_conv(&h, &alice, &conv, "/accept").await;
    assert_eq!(acc.status, StatusCode::OK);
}

#[tokio::test]
async fn outside_business_hours_a_handoff_becomes_leave_a_message() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    // Open one minute a week, never now (unless it is Monday 00:00 UTC+14).
    put_settings(&h, &key, json!({"business_hours": {"utc_offset_minutes": 840, "days": [1], "open": "00:00", "close": "00:01"}})).await;
    let bad = h
        .call(Method::PUT, "/v1/handoff/settings", Some(&key), Some(json!({"business_hours": {"utc_offset_minutes": 0, "days": [9], "open": "09:00", "close": "18:00"}})))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("days")
    );
    let q = say(&public, &wk, None, "转人工", "b1").await;
    assert!(
        q["answer"].as_str().unwrap().contains("留下您的联系方式"),
        "{q:?}"
    );
}

#[tokio::test]
async fn automatic_assignment_gives_the_least_busy_online_agent_within_their_limit() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    put_settings(&h, &key, json!({"assignment": "least_busy"})).await;
    agent(&h, &key, "alice", "Alice", json!({"max_concurrent": 1})).await;
    agent(&h, &key, "bob", "Bob", json!({"max_concurrent": 1})).await;
    agent(&h, &key, "carol", "Carol", json!({"max_concurrent": 5})).await;
    let mut convs = Vec::new();
    for i in 0..3 {
        let q = say(&public, &wk, None, "人工客服", &format!("aa{i}")).await;
        convs.push(q["conversation_id"].as_str().unwrap().to_owned());
    }
    let storage = h.app.as_ref().unwrap().storage().clone();
    let console = std::sync::Arc::new(kefu_regional::console::Console::default());
    // Nobody online: nothing assigned.
    assert_eq!(
        kefu_regional::console::assign_waiting(&storage, &console)
            .await
            .unwrap(),
        0
    );
    let _a = console.present("acme", "alice");
    let _b = console.present("acme", "bob");
    assert_eq!(
        kefu_regional::console::assign_waiting(&storage, &console)
            .await
            .unwrap(),
        2
    );
    // Both are at their limit of one: the third waits.
    let alice = login(&h, "acme", "alice").await;
    let q = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(q.body["mine"].as_array().unwrap().len(), 1, "{:?}", q.body);
    assert_eq!(q.body["waiting"].as_array().unwrap().len(), 1);
    let _c = console.present("acme", "carol");
    assert_eq!(
        kefu_regional::console::assign_waiting(&storage, &console)
            .await
            .unwrap(),
        1
    );
    for c in &convs {
        let t = transcript(&h, &key, c).await;
        assert!(
            t.iter()
                .any(|m| m["role"] == "system" && m["text"].as_str().unwrap().contains("已接入"))
        );
    }
}

#[tokio::test]
async fn a_left_message_without_a_phone_or_email_gets_asked_for_one() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    put_settings(&h, &key, json!({"queue_timeout_secs": 1})).await;
    let q = say(&public, &wk, None, "转人工", "o1").await;
    let conv = q["conversation_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let storage = h.app.as_ref().unwrap().storage().clone();
    // The service's own queue task may have timed it out first (on a busy
    // machine): either way it is timed out once, as the answers show.
    assert!(storage.sweep_queue().await.unwrap() <= 1);
    let a = say(&public, &wk, Some(&conv), "退款一直没到账", "o2").await;
    assert!(
        a["answer"].as_str().unwrap().contains("手机号或邮箱"),
        "{a:?}"
    );
    let b = say(
        &public,
        &wk,
        Some(&conv),
        "我的邮箱是 lin@example.com",
        "o3",
    )
    .await;
    assert!(
        b["answer"].as_str().unwrap().contains("尽快联系您"),
        "{b:?}"
    );
}
