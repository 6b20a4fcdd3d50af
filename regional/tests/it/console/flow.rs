//! The whole path: visitor → queue → agent → transfer → hand back.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::*;
use crate::handoff::say;
use crate::inproc::{harness, widget_key};

#[tokio::test]
async fn a_visitor_reaches_an_agent_is_transferred_and_returns_to_the_ai_with_nothing_lost() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    faq(&h, &key).await;
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );
    assert_eq!(
        agent(&h, &key, "bob", "Bob", json!({})).await,
        StatusCode::CREATED
    );
    assert_eq!(
        agent(&h, &key, "alice", "Alice 2", json!({})).await,
        StatusCode::CONFLICT
    );

    let a = say(&public, &wk, None, "how do I track my order", "v1").await;
    let conv = a["conversation_id"].as_str().unwrap().to_owned();
    let q = say(&public, &wk, Some(&conv), "转人工", "v2").await;
    assert_eq!(q["handoff"], true, "{q:?}");
    // The visitor is told their place in the queue.
    assert!(
        q["answer"].as_str().unwrap().contains("您前面还有 0 位"),
        "{q:?}"
    );

    let alice = login(&h, "acme", "alice").await;
    let bob = login(&h, "acme", "bob").await;
    let queue = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(
        queue.body["waiting"][0]["conversation_id"],
        conv.as_str(),
        "{:?}",
        queue.body
    );
    assert_eq!(
        queue.body["waiting"][0]["handoff"]["reasons"][0],
        "explicit_request"
    );

    // Opening it is audited, and the agent sees why and a summary.
    let before = audit_entries(&h, &key).await;
    let open = on_conv(&h, &alice, &conv, "").await;
    assert_eq!(open.status, StatusCode::OK, "{:?}", open.body);
    assert!(
        open.body["summary"]
            .as_str()
            .unwrap()
            .contains("how do I track my order")
    );
    assert_eq!(
        audit_entries(&h, &key).await,
        before + 1,
        "the read was audited"
    );

    // Both accept at once: exactly one wins.
    let path = format!("/console/v1/conversations/{conv}/accept");
    let (ra, rb) = tokio::join!(
        as_agent(&h, &alice, Method::POST, &path, None),
        as_agent(&h, &bob, Method::POST, &path, None)
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{:?} {:?}",
        ra.body,
        rb.body
    );
    let (winner, loser) = if ra.status == StatusCode::OK {
        (&alice, &bob)
    } else {
        (&bob, &alice)
    };
    // The loser can no longer even read it.
    let peek = as_agent(
        &h,
        loser,
        Method::GET,
        &format!("/console/v1/conversations/{conv}"),
        None,
    )
    .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);

    // Both ways: the visitor's message reaches the agent, the agent's the visitor.
    let v = say(
        &public,
        &wk,
        Some(&conv),
        "我的订单号是 A123，还没发货",
        "v3",
    )
    .await;
    assert_ne!(v["source"], "faq");
    let msg = json!({"text": "您好，我来查一下订单 A123。", "client_msg_id": "a-1"});
    let sent = as_agent(
        &h,
        winner,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/messages"),
        Some(msg.clone()),
    )
    .await;
    assert_eq!(sent.status, StatusCode::CREATED, "{:?}", sent.body);
    let again = as_agent(
        &h,
        winner,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/messages"),
        Some(msg),
    )
    .await;
    assert_eq!(
        (again.status, again.body["seq"].clone()),
        (StatusCode::OK, sent.body["seq"].clone())
    );
    let seen = as_agent(
        &h,
        winner,
        Method::GET,
        &format!("/console/v1/conversations/{conv}"),
        None,
    )
    .await;
    let texts: Vec<&str> = seen.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"我的订单号是 A123，还没发货"), "{texts:?}");

    // The loser cannot speak in it.
    let intrude = as_agent(
        &h,
        loser,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/messages"),
        Some(json!({"text": "hi"})),
    )
    .await;
    assert_eq!(intrude.status, StatusCode::CONFLICT);

    // Transfer to the other agent, who hands back to the AI.
    let other = if winner == &alice { "bob" } else { "alice" };
    let t = as_agent(
        &h,
        winner,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/transfer"),
        Some(json!({"agent_id": other})),
    )
    .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let hb = as_agent(
        &h,
        loser,
        Method::POST,
        &format!("/console/v1/conversations/{conv}/handback"),
        None,
    )
    .await;
    assert_eq!(hb.status, StatusCode::NO_CONTENT, "{:?}", hb.body);

    // The AI answers again, and the old reason does not send it back.
    // (Worded anew: the edge would answer the first wording from its cache.)
    let n = say(&public, &wk, Some(&conv), "How can I track my order?", "v4").await;
    assert_eq!(
        (n["source"].as_str(), n["handoff"].as_bool()),
        (Some("faq"), Some(false)),
        "{n:?}"
    );
    assert_eq!(n["conversation_id"], conv.as_str());

    // The stored transcript: every message once, in order, nothing lost.
    let all = transcript(&h, &key, &conv).await;
    let seqs: Vec<u64> = all.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let visitor: Vec<&str> = all
        .iter()
        .filter(|m| m["role"] == "visitor")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        visitor,
        [
            "how do I track my order",
            "转人工",
            "我的订单号是 A123，还没发货",
            "How can I track my order?"
        ]
    );
    let agents: Vec<&Value> = all.iter().filter(|m| m["role"] == "agent").collect();
    assert_eq!(agents.len(), 1, "the agent's retry was stored once");
    let system: Vec<&str> = all
        .iter()
        .filter(|m| m["role"] == "system")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        system.iter().any(|t| t.contains("已接入")),
        "the visitor was told an agent joined: {system:?}"
    );
    assert!(
        system.iter().any(|t| t.contains("转接")),
        "told of the transfer: {system:?}"
    );
    assert!(
        system.iter().any(|t| t.contains("客服已离开")),
        "told the agent left: {system:?}"
    );
    // Nothing is left in the queue.
    let q = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(
        q.body["waiting"].as_array().unwrap().len() + q.body["mine"].as_array().unwrap().len(),
        0
    );
}
