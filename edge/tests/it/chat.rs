//! Chat turns answered by the regional service.

use kefu_core::wire::paths;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn a_turn_is_answered_by_the_regional_service_over_signed_frames() {
    let h = Harness::new();
    let v = h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    assert_eq!(v["source"], "kb");
    assert_eq!(
        v["answer"],
        "Refunds within 7 days of delivery, from your orders page."
    );
    assert_eq!(v["citations"][0]["id"], "refund-policy");
    assert_eq!(
        v["citations"][0]["url"],
        "https://help.example.com/refund-policy"
    );
    assert_eq!(v["handoff"], false);
    assert_eq!(v["seq"], 2, "the question is 1, its answer 2");
    let conv = v["conversation_id"].as_str().unwrap().to_owned();
    {
        let st = h.fake.state();
        assert_eq!(st.bad_signatures, 0);
        assert_eq!(st.calls, vec![paths::TENANT_CONFIG, paths::TURN]);
        let t = &st.turns[0];
        assert_eq!(
            t.conversation, None,
            "a first turn lets the regional service open the conversation"
        );
        assert_eq!(
            (
                t.tenant.as_str(),
                t.visitor.as_str(),
                t.client_msg_id.as_str()
            ),
            ("acme", "v-1", "m-1")
        );
        assert_eq!(conv, "r-1");
    }
    // The conversation continues: same id, next seq, the edge says which
    // seq it has seen.
    let v = h
        .ask(
            "v-1",
            Some(&conv),
            "Can I talk about something else?",
            "m-2",
        )
        .await;
    assert_eq!(
        (v["conversation_id"].as_str(), v["seq"].as_u64()),
        (Some("r-1"), Some(4))
    );
    assert_eq!(v["source"], "fallback");
    let st = h.fake.state();
    assert_eq!(st.turns[1].conversation.as_ref().unwrap().as_str(), "r-1");
    assert_eq!(st.turns[1].edge_seq, Some(2));
    assert_eq!(
        st.calls.len(),
        3,
        "the tenant config came from the store the second time"
    );
}

#[tokio::test]
async fn a_retried_message_gets_the_same_answer_without_a_second_regional_turn() {
    let h = Harness::new();
    let first = h.ask("v-1", None, "Where is my parcel?", "m-1").await;
    let conv = first["conversation_id"].as_str().unwrap().to_owned();
    let second = h
        .ask("v-1", Some(&conv), "Where is my parcel?", "m-2")
        .await;
    assert_eq!(h.fake.turn_count(), 2);
    let retry = h
        .ask("v-1", Some(&conv), "Where is my parcel?", "m-2")
        .await;
    assert_eq!(retry, second);
    assert_eq!(h.fake.turn_count(), 2);
}

#[tokio::test]
async fn a_retried_first_message_does_not_open_a_second_conversation() {
    let h = Harness::new();
    let first = h.ask("v-1", None, "Where is my parcel?", "m-1").await;
    let retry = h.ask("v-1", None, "Where is my parcel?", "m-1").await;
    assert_eq!(retry, first);
    assert_eq!(h.fake.turn_count(), 1);
    // Also when the edge answered the first message itself (a cache hit).
    h.ask("v-2", None, "How do I get a refund?", "m-1").await;
    let hit = h.ask("v-3", None, "How do I get a refund?", "m-1").await;
    assert_eq!(hit["source"], "cache");
    assert_eq!(
        h.ask("v-3", None, "How do I get a refund?", "m-1").await,
        hit
    );
    assert_eq!(h.platform().keys(kefu_edge::KvBucket::Outbox).len(), 1);
    // A new client message id is a new message.
    let other = h.ask("v-1", None, "Where is my parcel?", "m-2").await;
    assert_ne!(other["conversation_id"], first["conversation_id"]);
}

#[tokio::test]
async fn event_stream_clients_get_meta_delta_done() {
    let h = Harness::new();
    let body =
        json!({"widget_key": WIDGET_KEY, "visitor_id": "v-1", "message": "How do I get a refund?"});
    let req = chat_request(&body).with_header("Accept", "text/event-stream");
    let r = h.send(req).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8(r.body).unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"meta"));
    assert_eq!(events.last(), Some(&"done"));
    assert!(events[1..events.len() - 1].iter().all(|e| *e == "delta"));
    // The deltas, joined, are the answer a JSON client gets.
    let joined: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .collect();
    assert_eq!(
        joined,
        "Refunds within 7 days of delivery, from your orders page."
    );
    assert!(text.contains(r#""source":"kb""#));
    assert!(text.contains("refund-policy"));
}

fn sse_events(r: &kefu_edge::EdgeResponse) -> Vec<(String, Value)> {
    let text = String::from_utf8(r.body.clone()).unwrap();
    text.split("\n\n")
        .filter(|b| !b.is_empty())
        .map(|b| {
            let name = b.lines().find_map(|l| l.strip_prefix("event: ")).unwrap();
            let data = b.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            (name.to_owned(), serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn a_streamed_regional_answer_is_passed_on_as_it_comes() {
    let h = Harness::new();
    h.fake.state().stream = Some(Streaming::Whole);
    let body =
        json!({"widget_key": WIDGET_KEY, "visitor_id": "v-1", "message": "How do I get a refund?"});
    let req = chat_request(&body).with_header("Accept", "text/event-stream");
    let r = h.send(req).await;
    assert_eq!(r.status, 200);
    let ev = sse_events(&r);
    // meta first, without a seq: the edge wrote it with the first delta.
    assert_eq!(ev[0].0, "meta");
    assert!(ev[0].1.get("seq").is_none(), "{:?}", ev[0]);
    let deltas: Vec<&str> = ev
        .iter()
        .filter(|(n, _)| n == "delta")
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(deltas.len(), 10, "one per word as the regional sent them");
    let (last, done) = ev.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(done["answer"], deltas.concat());
    assert_eq!(done["source"], "kb");
    assert_eq!(done["seq"], 2);
    assert_eq!(done["citations"][0]["id"], "refund-policy");
    assert!(done["conversation_id"].as_str().is_some());
    // The regional was asked for a stream, once.
    assert_eq!(h.fake.turn_count(), 1);
}

#[tokio::test]
async fn a_stream_cut_short_keeps_the_message_and_says_so_in_done() {
    let h = Harness::new();
    h.fake.state().stream = Some(Streaming::CutShort);
    let body = json!({"widget_key": WIDGET_KEY, "visitor_id": "v-1",
        "message": "How do I get a refund?", "client_msg_id": "cut-1"});
    let r = h
        .send(chat_request(&body).with_header("Accept", "text/event-stream"))
        .await;
    assert_eq!(r.status, 200);
    let ev = sse_events(&r);
    assert!(ev.iter().any(|(n, _)| n == "delta"));
    let (last, done) = ev.last().unwrap();
    assert_eq!(last, "done");
    // Not the partial text: the message is acknowledged, queued for the
    // regional service, and the visitor is told.
    assert_eq!(done["source"], "ack", "{done}");
    assert_ne!(
        done["answer"],
        "Refunds within 7 days of delivery, from your orders page."
    );
}

#[tokio::test]
async fn a_conversation_of_another_visitor_or_unknown_is_404() {
    let h = Harness::new();
    let v = h.ask("v-1", None, "How do I get a refund?", "m-1").await;
    let conv = v["conversation_id"].as_str().unwrap();
    for (visitor, c) in [("v-2", conv), ("v-1", "r-999")] {
        let (status, v) = h
            .chat(json!({"widget_key": WIDGET_KEY, "visitor_id": visitor, "conversation_id": c, "message": "hi"}))
            .await;
        assert_eq!(status, 404, "{visitor} {c}");
        assert_eq!(error_code(&v), "not_found");
    }
}
