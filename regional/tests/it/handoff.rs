//! Routing to a human through the public widget API: an explicit request
//! queues the conversation (and says so), the AI stays silent while a human
//! has it, and after the conversation is closed the next message starts
//! fresh with the AI instead of looping back into the old handoff.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::inproc::{chat, harness, public_call, widget_key};

pub(crate) async fn say(
    public: &axum::Router,
    wk: &str,
    conv: Option<&str>,
    text: &str,
    id: &str,
) -> Value {
    let (parts, body) = chat(wk, conv, text, None).into_parts();
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    let mut v: Value = serde_json::from_slice(&bytes).unwrap();
    v["client_msg_id"] = json!(id);
    let req = axum::http::Request::from_parts(parts, axum::body::Body::from(v.to_string()));
    let r = public_call(public, req).await;
    assert_eq!(r.status, StatusCode::OK, "{text}: {:?}", r.body);
    r.body
}

#[tokio::test]
async fn asking_for_a_human_queues_the_conversation_and_the_ai_goes_quiet() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;
    let faq = json!([{"id": "faq-track", "question": "How do I track my order?", "answer": "Open My Orders to see the tracking number."}]);
    h.publish_kb(&key, &[("/v1/kb/faqs", faq)]).await;

    let a = say(&public, &wk, None, "how do I track my order", "m1").await;
    assert_eq!(
        (a["source"].as_str(), a["handoff"].as_bool()),
        (Some("faq"), Some(false)),
        "{a:?}"
    );
    let conv = a["conversation_id"].as_str().unwrap().to_owned();

    // An explicit request, in Chinese: queued, and told so.
    let q = say(&public, &wk, Some(&conv), "转人工", "m2").await;
    assert_eq!(q["handoff"], true, "{q:?}");
    assert!(q["answer"].as_str().unwrap().contains("排队"), "{q:?}");
    let t = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        t.body["conversation"]["state"], "queued_for_human",
        "{:?}",
        t.body
    );
    assert_eq!(
        t.body["messages"].as_array().unwrap().last().unwrap()["role"],
        "system"
    );

    // While queued, a question the KB could answer gets no AI answer.
    let s = say(&public, &wk, Some(&conv), "how do I track my order", "m3").await;
    assert_eq!(s["handoff"], true);
    assert_ne!(
        s["source"], "faq",
        "the AI answered while a human has the conversation: {s:?}"
    );
    assert!(!s["answer"].as_str().unwrap().contains("tracking number"));

    // An agent (through the tenant API) closes it; the next message starts
    // a new conversation with the AI, not a second handoff.
    let c = h
        .call(
            Method::PUT,
            &format!("/v1/conversations/{conv}/state"),
            Some(&key),
            Some(json!({"state": "closed"})),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{:?}", c.body);
    let n = say(&public, &wk, Some(&conv), "how do I track my order", "m4").await;
    assert_eq!(
        (n["source"].as_str(), n["handoff"].as_bool()),
        (Some("faq"), Some(false)),
        "{n:?}"
    );
    assert_ne!(n["conversation_id"], conv.as_str());
}

#[tokio::test]
async fn an_english_request_for_a_person_is_heard_and_ordinary_questions_are_not_escalated() {
    let (h, public) = harness().await;
    h.tenant("acme").await;
    let wk = widget_key(&h).await;
    let a = say(&public, &wk, None, "what are your opening hours", "e1").await;
    assert_eq!(a["handoff"], false, "{a:?}");
    let conv = a["conversation_id"].as_str().unwrap().to_owned();
    let b = say(
        &public,
        &wk,
        Some(&conv),
        "I'd like to talk to a human",
        "e2",
    )
    .await;
    assert_eq!(b["handoff"], true, "{b:?}");
    assert!(b["answer"].as_str().unwrap().contains("queue"), "{b:?}");
}
