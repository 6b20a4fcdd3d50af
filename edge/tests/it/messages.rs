//! Catching up with `since`, and the long poll that brings agent messages.

use std::time::Duration;

use crate::support::*;

async fn conversation_of_three_turns(h: &Harness) -> String {
    let v = h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    h.ask("v-1", Some(&conv), "运费怎么算？", "m-2").await;
    h.ask("v-1", Some(&conv), "Thanks, bye", "m-3").await;
    conv
}

fn seqs(v: &serde_json::Value) -> Vec<u64> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn since_returns_exactly_the_missing_messages() {
    let h = Harness::new();
    let conv = conversation_of_three_turns(&h).await;
    let (status, v) = h.messages(&conv, "v-1", Some(2)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(seqs(&v), [3, 4, 5, 6]);
    let m = &v["messages"];
    assert_eq!(
        (m[0]["role"].as_str(), m[0]["text"].as_str()),
        (Some("visitor"), Some("运费怎么算？"))
    );
    assert_eq!(
        (m[1]["role"].as_str(), m[1]["source"].as_str()),
        (Some("bot"), Some("faq"))
    );
    assert_eq!(m[1]["citations"][0]["id"], "shipping");
    assert_eq!(v["degraded"], false);
    let (_, all) = h.messages(&conv, "v-1", None).await;
    assert_eq!(seqs(&all), [1, 2, 3, 4, 5, 6]);
    assert_eq!(all["truncated"], false);
}

#[tokio::test]
async fn a_waiting_poll_returns_the_agent_message_when_it_arrives() {
    let h = Harness::new();
    let conv = conversation_of_three_turns(&h).await;
    let (h2, c) = (h.clone(), conv.clone());
    let poll = tokio::spawn(async move { h2.messages(&c, "v-1", Some(6)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!poll.is_finished(), "nothing new yet: the poll waits");
    let seq = h.fake.agent_says(&conv, "您好，我是客服小王，我来帮您。");
    let (status, v) = tokio::time::timeout(Duration::from_secs(2), poll)
        .await
        .expect("the poll returns once the message is there")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(seqs(&v), [seq]);
    assert_eq!(v["messages"][0]["role"], "agent");
    assert_eq!(v["messages"][0]["text"], "您好，我是客服小王，我来帮您。");
    assert_eq!(v["handoff"], true);
    // The edge's copy now has it too: with the regional service down, the
    // same catch-up still shows it (degraded).
    h.fake.set_mode(Mode::Down);
    let (status, v) = h.messages(&conv, "v-1", Some(6)).await;
    assert_eq!(status, 200);
    assert_eq!(seqs(&v), [seq]);
    assert_eq!(v["degraded"], true);
    assert_eq!(v["retry_ms"], 5000);
}

#[tokio::test]
async fn a_poll_with_nothing_new_ends_empty_after_the_wait() {
    let h = Harness::with(|c| c.poll_wait_ms = 300, |_| {});
    let conv = conversation_of_three_turns(&h).await;
    let (status, v) = h.messages(&conv, "v-1", Some(6)).await;
    assert_eq!(status, 200);
    assert!(seqs(&v).is_empty());
    assert_eq!(v["degraded"], false);
}

#[tokio::test]
async fn other_visitors_and_unknown_conversations_get_404() {
    let h = Harness::new();
    let conv = conversation_of_three_turns(&h).await;
    assert_eq!(h.messages(&conv, "v-2", Some(0)).await.0, 404);
    assert_eq!(h.messages("r-404", "v-1", Some(0)).await.0, 404);
}

/// A conversation the tenant config lists as erased: the edge's copy goes
/// as soon as the edge has that config (nobody needs to ask about it), a
/// catch-up for it is 410, and a message in it starts a new conversation.
#[tokio::test]
async fn a_conversation_the_config_lists_as_erased_is_dropped_here() {
    use kefu_edge::KvBucket;
    let h = Harness::new();
    let v = h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    assert!(h.platform().keys(KvBucket::Sessions).contains(&conv));
    {
        let mut st = h.fake.state();
        let t = st.tenants.get_mut(WIDGET_KEY).unwrap();
        t.erased = vec![kefu_core::ConversationId::new(conv.clone()).unwrap()];
    }
    // The next config the edge fetches names it.
    h.clock.advance(61_000);
    h.ask("v-2", None, "Is the shop open on Sunday?", "m-1")
        .await;
    assert!(
        !h.platform().keys(KvBucket::Sessions).contains(&conv),
        "the copy is still here"
    );
    let (status, body) = h.messages(&conv, "v-1", Some(0)).await;
    assert_eq!(status, 410, "{body}");
    let n = h.ask("v-1", Some(&conv), "and my refund?", "m-2").await;
    assert_ne!(n["conversation_id"].as_str().unwrap(), conv, "{n}");
}
