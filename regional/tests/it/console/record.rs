//! What routing decided, and why, stays with the conversation after the
//! handoff is over; the tenant's group rules queue a handoff for the right
//! team; the offline form's contact is kept as its own field.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::handoff::say;
use crate::inproc::{harness, widget_key};

fn actions(t: &Value) -> Vec<String> {
    t["routing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

fn kinds(e: &Value) -> Vec<String> {
    e["reasons"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| x["kind"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The seq of the visitor message with this text.
fn seq_of(t: &Value, text: &str) -> u64 {
    t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "visitor" && m["text"] == text)
        .and_then(|m| m["seq"].as_u64())
        .unwrap_or_else(|| panic!("no visitor message {text:?}"))
}

#[tokio::test]
async fn offers_handoffs_and_their_reasons_stay_with_the_conversation_after_hand_back() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    faq(&h, &key).await;
    // Offer a person once the AI has answered once.
    put_settings(&h, &key, json!({"routing": {"offer_after_turns": 1}})).await;
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );

    let a = say(&public, &wk, None, "how do I track my order", "r1").await;
    let conv = a["conversation_id"].as_str().unwrap().to_owned();
    // Not the same question: the edge would answer that from its cache.
    let second = "and when will my parcel be delivered, can I track that?";
    let b = say(&public, &wk, Some(&conv), second, "r2").await;
    assert!(
        b["answer"].as_str().unwrap().contains("human"),
        "the second answer offers a person: {b:?}"
    );
    let c = say(&public, &wk, Some(&conv), "I want to talk to a human", "r3").await;
    assert_eq!(c["handoff"], true, "{c:?}");

    let alice = login(&h, "acme", "alice").await;
    let acc = on_conv(&h, &alice, &conv, "/accept").await;
    assert_eq!(acc.status, StatusCode::OK, "{:?}", acc.body);
    // The agent sees the decisions while holding the conversation.
    let open = on_conv(&h, &alice, &conv, "").await;
    assert_eq!(open.status, StatusCode::OK);
    assert_eq!(actions(&open.body), ["offer", "handoff", "accepted"]);
    let back = on_conv(&h, &alice, &conv, "/handback").await;
    assert!(back.status.is_success(), "{:?}", back.body);

    // After the hand-back the queue entry is gone; the record is not.
    let t = h.transcript(&key, &conv).await;
    assert_eq!(
        actions(&t),
        ["offer", "handoff", "accepted", "handed_back"],
        "{:?}",
        t["routing"]
    );
    let ev = t["routing"].as_array().unwrap();
    assert!(
        kinds(&ev[0]).contains(&"long_conversation".to_owned()),
        "{:?}",
        ev[0]
    );
    assert_eq!(ev[0]["seq"], seq_of(&t, second));
    assert!(ev[0].get("state").is_none(), "an offer moves nothing");
    assert!(
        kinds(&ev[1]).contains(&"explicit_request".to_owned()),
        "{:?}",
        ev[1]
    );
    assert_eq!(ev[1]["seq"], seq_of(&t, "I want to talk to a human"));
    assert_eq!(ev[1]["state"], "queued_for_human");
    assert_eq!(ev[2]["agent"], "alice");
    assert_eq!(ev[2]["state"], "with_agent");
    assert_eq!(ev[3]["agent"], "alice");
    assert_eq!(ev[3]["state"], "ai");
    assert!(
        ev.windows(2)
            .all(|w| w[0]["at_ms"].as_u64() <= w[1]["at_ms"].as_u64())
    );
    // Both decisions are audited with their reason kinds (never the text).
    {
        use redb::ReadableDatabase;
        let store = h.app.as_ref().unwrap().storage().store().clone();
        let txn = store.db().begin_read().unwrap();
        let log: Vec<(String, String)> = kefu_regional::audit::entries(&txn, "acme", 0, 10_000)
            .unwrap()
            .into_iter()
            .map(|e| (e.entry.action, e.entry.object))
            .collect();
        let audited = |action: &str, kind: &str| {
            log.iter()
                .any(|(a, o)| a == action && o.contains(&conv) && o.contains(kind))
        };
        assert!(
            audited("conversation.offer_human", "long_conversation"),
            "{log:?}"
        );
        assert!(
            audited("conversation.handoff", "explicit_request"),
            "{log:?}"
        );
        assert!(
            !log.iter().any(|(_, o)| o.contains("track")),
            "no visitor text"
        );
    }
    // The tenant API moving the state is recorded too.
    let closed = h
        .call(
            Method::PUT,
            &format!("/v1/conversations/{conv}/state"),
            Some(&key),
            Some(json!({"state": "closed"})),
        )
        .await;
    assert!(closed.status.is_success(), "{:?}", closed.body);
    let t = h.transcript(&key, &conv).await;
    let last = t["routing"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["action"].as_str(), last["state"].as_str()),
        (Some("state"), Some("closed"))
    );
}

#[tokio::test]
async fn group_rules_queue_a_handoff_for_the_team_that_handles_it() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    put_settings(
        &h,
        &key,
        json!({"groups": [
            {"group": "billing", "keywords": ["refund", "退款"]},
            {"group": "security", "reasons": ["account_security"]}
        ]}),
    )
    .await;
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );
    assert_eq!(
        agent(&h, &key, "bella", "Bella", json!({"groups": ["billing"]})).await,
        StatusCode::CREATED
    );

    // The keyword was in an earlier message; the handoff itself names none.
    let a = say(&public, &wk, None, "我的退款还没到账", "g1").await;
    let billing = a["conversation_id"].as_str().unwrap().to_owned();
    let q = say(&public, &wk, Some(&billing), "转人工", "g2").await;
    assert_eq!(q["handoff"], true, "{q:?}");
    // No keyword: any agent.
    let plain = say(&public, &wk, None, "I want to talk to a human", "g3").await;
    let plain = plain["conversation_id"].as_str().unwrap().to_owned();
    // Nobody staffs "security": queued for anyone rather than for no one.
    let sec = say(
        &public,
        &wk,
        None,
        "someone stole my card and is using it, fraud! I need a human now",
        "g4",
    )
    .await;
    assert_eq!(sec["handoff"], true, "{sec:?}");
    let sec = sec["conversation_id"].as_str().unwrap().to_owned();

    let bella = login(&h, "acme", "bella").await;
    let queue = as_agent(&h, &bella, Method::GET, "/console/v1/queue", None).await;
    let group_of = |conv: &str| {
        queue.body["waiting"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["conversation_id"] == conv)
            .map(|i| i["handoff"]["group"].clone())
            .unwrap_or_else(|| panic!("{conv} not waiting: {:?}", queue.body))
    };
    assert_eq!(group_of(&billing), "billing");
    assert_eq!(group_of(&plain), Value::Null);
    assert_eq!(group_of(&sec), Value::Null);
    // The decision records the group with its reasons.
    let t = h.transcript(&key, &billing).await;
    let handoff = t["routing"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "handoff")
        .unwrap()
        .clone();
    assert_eq!(handoff["group"], "billing");
    let t = h.transcript(&key, &sec).await;
    let handoff = &t["routing"][0];
    assert!(
        kinds(handoff).contains(&"account_security".to_owned()),
        "{handoff:?}"
    );
    assert!(handoff.get("group").is_none(), "{handoff:?}");

    // A rule naming an unknown reason is refused with the list of kinds.
    let bad = h
        .call(
            Method::PUT,
            "/v1/handoff/settings",
            Some(&key),
            Some(json!({"groups": [{"group": "x", "reasons": ["angry"]}]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("account_security"),
        "{:?}",
        bad.body
    );
}

#[tokio::test]
async fn the_offline_forms_contact_is_kept_as_its_own_field_for_agents() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    // Open one minute a week: a handoff now is "leave a message".
    put_settings(
        &h,
        &key,
        json!({"business_hours": {"utc_offset_minutes": 840, "days": [1], "open": "00:00", "close": "00:01"}}),
    )
    .await;
    assert_eq!(
        agent(&h, &key, "alice", "Alice", json!({})).await,
        StatusCode::CREATED
    );
    let q = say(&public, &wk, None, "I need a human please", "f1").await;
    // The widget shows its form under a `leave_message` answer.
    assert_eq!(q["source"], "leave_message", "{q:?}");
    let conv = q["conversation_id"].as_str().unwrap().to_owned();
    // What the widget's form sends: the message, then the contact line.
    let sent = "My parcel never came.\nContact: +44 20 7946 0958";
    let ack = say(&public, &wk, Some(&conv), sent, "f2").await;
    assert!(
        ack["answer"]
            .as_str()
            .unwrap()
            .contains("your message is recorded; an agent"),
        "a form with a contact is not asked for one again: {ack:?}"
    );

    let t = h.transcript(&key, &conv).await;
    assert_eq!(t["contact"], "+44 20 7946 0958");
    assert_eq!(actions(&t), ["leave_message", "left_message"]);
    assert!(kinds(&t["routing"][0]).contains(&"outside_business_hours".to_owned()));
    assert_eq!(t["routing"][1]["seq"], seq_of(&t, sent));

    let alice = login(&h, "acme", "alice").await;
    let queue = as_agent(&h, &alice, Method::GET, "/console/v1/queue", None).await;
    assert_eq!(
        queue.body["left_messages"][0]["conversation_id"],
        conv.as_str()
    );
    let open = on_conv(&h, &alice, &conv, "").await;
    assert_eq!(open.status, StatusCode::OK);
    assert_eq!(open.body["contact"], "+44 20 7946 0958");
    // The contact is conversation data: sealed at rest like the messages.
    let db = std::fs::read(h.data_dir().join("kefu.redb")).unwrap();
    assert!(
        !db.windows(b"7946 0958".len()).any(|w| w == b"7946 0958"),
        "the contact is stored in plaintext"
    );
}
