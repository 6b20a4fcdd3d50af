//! Degrade, never drop: acknowledgements, store-and-forward, exactly-once
//! delivery, the breaker, brownout.

use kefu_core::overload::BreakerState;
use kefu_core::session::{Role, Source};
use kefu_edge::KvBucket;
use serde_json::json;

use crate::support::*;

/// The tenant config is in the edge's store, as it is once any visitor of
/// the tenant has written.
async fn warmed() -> Harness {
    let h = Harness::new();
    h.ask("v-0", None, "How do I get a refund?", "m-0").await;
    h
}

/// The regional service is back and the breaker's rest is over.
fn recover(h: &Harness) {
    h.fake.set_mode(Mode::Up);
    h.clock.advance(31_000);
}

fn received(h: &Harness, visitor: &str, cmid: &str) -> usize {
    let st = h.fake.state();
    st.reported
        .iter()
        .filter(|t| t.visitor.as_str() == visitor && t.client_msg_id == cmid)
        .count()
}

#[tokio::test]
async fn an_outage_is_acknowledged_and_the_messages_are_delivered_exactly_once() {
    let h = warmed().await;
    h.fake.set_mode(Mode::Down);
    let zh = h.ask("v-1", None, "我的订单什么时候发货？", "m-1").await;
    assert_eq!(zh["source"], "ack");
    assert_eq!(zh["answer"], "我们已收到您的消息，客服会在这里回复您。");
    let conv = zh["conversation_id"].as_str().unwrap().to_owned();
    let en = h.ask("v-2", None, "When will my order ship?", "m-1").await;
    assert_eq!(
        en["answer"],
        "We received your message; an agent will reply here."
    );
    assert_eq!(h.platform().keys(KvBucket::Outbox).len(), 2);
    assert!(h.fake.state().reported.is_empty());

    recover(&h);
    // Any later request that reaches the regional service delivers first.
    h.ask("v-3", None, "Is the shop open on Sunday?", "m-1")
        .await;
    assert_eq!(
        (received(&h, "v-1", "m-1"), received(&h, "v-2", "m-1")),
        (1, 1)
    );
    assert!(h.platform().keys(KvBucket::Outbox).is_empty());
    {
        let st = h.fake.state();
        let s = &st.sessions[&kefu_core::ConversationId::new(conv.clone()).unwrap()];
        let texts: Vec<_> = s
            .turns()
            .iter()
            .map(|t| (t.role, t.source, t.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                (Role::Visitor, None, "我的订单什么时候发货？"),
                (
                    Role::Bot,
                    Some(Source::Ack),
                    "我们已收到您的消息，客服会在这里回复您。"
                ),
            ]
        );
    }
    // Nothing is sent twice.
    h.ask("v-4", None, "Is the shop open on Monday?", "m-1")
        .await;
    assert_eq!(h.fake.state().reported.len(), 2);
    // The visitor carries on in the same conversation, now at the regional.
    let next = h.ask("v-1", Some(&conv), "还有别的问题", "m-2").await;
    assert_eq!(
        (next["conversation_id"].as_str(), next["seq"].as_u64()),
        (Some(conv.as_str()), Some(4))
    );
}

#[tokio::test]
async fn a_lost_delivery_answer_is_resent_and_recorded_once() {
    let h = warmed().await;
    h.fake.set_mode(Mode::Down);
    let v = h.ask("v-1", None, "我的订单什么时候发货？", "m-1").await;
    let conv = kefu_core::ConversationId::new(v["conversation_id"].as_str().unwrap()).unwrap();
    recover(&h);
    h.fake.state().lose_next_report_answer = true;
    // The report is applied but its answer is lost: the entry stays, and
    // this visitor is acknowledged too.
    let w = h
        .ask("v-2", None, "Is the shop open on Sunday?", "m-1")
        .await;
    assert_eq!(w["source"], "ack");
    assert_eq!(h.platform().keys(KvBucket::Outbox).len(), 2);
    recover(&h);
    h.ask("v-3", None, "Is the shop open on Monday?", "m-1")
        .await;
    assert!(h.platform().keys(KvBucket::Outbox).is_empty());
    assert_eq!(received(&h, "v-1", "m-1"), 2, "sent twice...");
    let st = h.fake.state();
    let recorded = st.sessions[&conv]
        .turns()
        .iter()
        .filter(|t| t.client_msg_id.as_deref() == Some("m-1"))
        .count();
    assert_eq!(recorded, 1, "...recorded once");
    assert_eq!(st.sessions[&conv].turns().len(), 2);
}

#[tokio::test]
async fn a_turn_the_regional_service_refuses_for_good_is_set_aside_not_blocking() {
    let h = warmed().await;
    h.fake.set_mode(Mode::Down);
    h.ask("v-1", None, "我的订单什么时候发货？", "m-bad").await;
    h.ask("v-2", None, "When will my order ship?", "m-1").await;
    recover(&h);
    h.fake.state().refuse_cmid = Some("m-bad".to_owned());
    let v = h
        .ask("v-3", None, "Is the shop open on Sunday?", "m-1")
        .await;
    assert_eq!(v["source"], "fallback", "the queue did not block the turn");
    assert_eq!(
        (received(&h, "v-1", "m-bad"), received(&h, "v-2", "m-1")),
        (0, 1)
    );
    let keys = h.platform().keys(KvBucket::Outbox);
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].starts_with("d/") && keys[0].ends_with("-m-bad"),
        "{keys:?}"
    );
    // Dead letters are not sent again.
    let reports = h.fake.state().reports;
    h.ask("v-4", None, "Is the shop open on Monday?", "m-1")
        .await;
    assert_eq!(h.fake.state().reports, reports);
}

#[tokio::test]
async fn a_slow_regional_service_is_acknowledged_at_the_deadline() {
    let h = warmed().await;
    h.fake.set_mode(Mode::Slow(2_000));
    let started = std::time::Instant::now();
    let v = h
        .ask("v-1", None, "Is the shop open on Sunday?", "m-1")
        .await;
    assert_eq!(v["source"], "ack");
    assert!(started.elapsed() < std::time::Duration::from_millis(1_500));
    assert_eq!(h.platform().keys(KvBucket::Outbox).len(), 1);
}

#[tokio::test]
async fn an_open_breaker_spares_the_regional_service_until_its_rest_is_over() {
    let h = warmed().await;
    h.fake.set_mode(Mode::Broken);
    for n in 1..=2 {
        let v = h
            .ask(
                &format!("v-{n}"),
                None,
                "Is the shop open on Sunday?",
                "m-1",
            )
            .await;
        assert_eq!(v["source"], "ack");
    }
    assert_eq!(h.edge.breaker_state(), BreakerState::Open);
    let calls = h.fake.state().calls.len();
    h.fake.set_mode(Mode::Up);
    let v = h
        .ask("v-9", None, "Is the shop open on Sunday?", "m-1")
        .await;
    assert_eq!(v["source"], "ack");
    assert_eq!(h.fake.state().calls.len(), calls, "no call while open");
    let health = h
        .send(kefu_edge::EdgeRequest::new(
            kefu_edge::Method::Get,
            "/healthz",
        ))
        .await;
    assert_eq!(json_of(&health)["breaker"], "open");
    // Cached answers are still served meanwhile.
    assert_eq!(
        h.ask("v-10", None, "How do I get a refund?", "m-1").await["source"],
        "cache"
    );
    h.clock.advance(31_000);
    assert_eq!(
        h.ask("v-11", None, "Is the shop open on Monday?", "m-1")
            .await["source"],
        "fallback"
    );
    assert_eq!(
        h.platform().keys(KvBucket::Outbox).len(),
        0,
        "acks and the hit delivered"
    );
}

#[tokio::test]
async fn at_minimal_brownout_misses_are_acknowledged_and_hits_served() {
    let h = warmed().await;
    h.fake.state().brownout = 3;
    // This answer carries the level.
    assert_eq!(
        h.ask("v-1", None, "Is the shop open on Sunday?", "m-1")
            .await["source"],
        "fallback"
    );
    let turns = h.fake.turn_count();
    assert_eq!(
        h.ask("v-2", None, "Is the shop open on Monday?", "m-1")
            .await["source"],
        "ack"
    );
    assert_eq!(
        h.ask("v-3", None, "How do I get a refund?", "m-1").await["source"],
        "cache"
    );
    assert_eq!(h.fake.turn_count(), turns);
    // The level goes stale without fresh reports; then turns are forwarded.
    h.fake.state().brownout = 0;
    h.clock.advance(31_000);
    assert_eq!(
        h.ask("v-4", None, "Is the shop open on Monday?", "m-1")
            .await["source"],
        "fallback"
    );
}

#[tokio::test]
async fn a_conversation_that_cannot_be_fetched_continues_in_a_new_one() {
    let h = warmed().await;
    let v = h
        .ask("v-1", None, "Is the shop open on Sunday?", "m-1")
        .await;
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    h.platform().clear(KvBucket::Sessions);
    h.fake.set_mode(Mode::Down);
    let w = h.ask("v-1", Some(&conv), "还在吗？", "m-2").await;
    assert_eq!(w["source"], "ack");
    assert_ne!(w["conversation_id"].as_str(), Some(conv.as_str()));
    assert_eq!(h.platform().keys(KvBucket::Outbox).len(), 1);
}

#[tokio::test]
async fn without_a_tenant_config_an_outage_is_503_and_garbage_is_502() {
    let h = Harness::new();
    h.fake.set_mode(Mode::Down);
    let body = json!({"widget_key": WIDGET_KEY, "visitor_id": "v-1", "message": "hello"});
    let r = h.send(chat_request(&body)).await;
    assert_eq!(r.status, 503);
    assert!(r.header("retry-after").is_some());
    assert_eq!(error_code(&json_of(&r)), "unavailable");
    let h = Harness::new();
    h.fake.set_mode(Mode::Garbage);
    let (status, v) = h.chat(body).await;
    assert_eq!((status, error_code(&v)), (502, "bad_upstream"));
}

/// Where the store is memory (plain `wasmtime serve`, in-process), nothing
/// is promised that could vanish with it: an outage gets 503 with
/// Retry-After, not an acknowledgement, and a cache hit that cannot be
/// recorded is not given either. The widget's retry (same message id) is
/// answered once the regional service is back, and recorded once.
#[tokio::test]
async fn with_a_memory_store_an_outage_is_a_503_and_the_retry_is_answered_once() {
    let h = Harness::memory_only();
    let first = h.ask("v-0", None, "How do I get a refund?", "m-0").await;
    assert_eq!(first["cacheable"], true, "{first}");
    h.fake.set_mode(Mode::Down);
    for (visitor, message) in [
        ("v-1", "When will my order ship?"),
        ("v-2", "How do I get a refund?"),
    ] {
        let r = h
            .send(chat_request(&json!({
                "widget_key": WIDGET_KEY, "visitor_id": visitor, "message": message, "client_msg_id": "m-1",
            })))
            .await;
        assert_eq!(r.status, 503, "{message}: {}", json_of(&r));
        assert_eq!(error_code(&json_of(&r)), "unavailable");
        assert!(r.header("retry-after").is_some(), "{message}");
    }
    assert!(h.platform().keys(KvBucket::Outbox).is_empty());
    // The refused turns left no session behind that a retry could take for
    // an answered one: only v-0's conversation (and its first-message key).
    let sessions = h.platform().keys(KvBucket::Sessions);
    assert!(
        sessions
            .iter()
            .all(|k| !k.contains("v-1") && !k.contains("v-2")),
        "{sessions:?}"
    );
    assert_eq!(
        sessions.iter().filter(|k| !k.contains(' ')).count(),
        1,
        "{sessions:?}"
    );

    recover(&h);
    let shipped = h.ask("v-1", None, "When will my order ship?", "m-1").await;
    assert_ne!(shipped["source"], "ack", "{shipped}");
    let hit = h.ask("v-2", None, "How do I get a refund?", "m-1").await;
    assert_eq!(hit["source"], "cache", "{hit}");
    assert_eq!(received(&h, "v-2", "m-1"), 1);
    // Asked again (a retry whose answer was lost): the same turn, not a
    // second record.
    let again = h
        .ask(
            "v-2",
            hit["conversation_id"].as_str(),
            "How do I get a refund?",
            "m-1",
        )
        .await;
    assert_eq!(again["seq"], hit["seq"]);
    assert_eq!(received(&h, "v-2", "m-1"), 1);
}
