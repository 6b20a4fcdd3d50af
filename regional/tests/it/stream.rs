//! A model's answer streams through to the visitor: the regional service
//! sends the text as the model writes it (turn-stream records), the
//! in-process edge writes each piece as an SSE `delta` the moment it
//! arrives, and `done` carries the stored answer. Against the fake
//! OpenAI-compatible server with a scripted token rate, and with a model
//! that stalls mid-answer (the preview stops, the stored answer is the
//! extractive one, and `done` says so).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use kefu_fake_openai::Script;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::{Harness, OPERATOR};
use crate::llm::system_with;

const REPLY: &str = "Electronics carry a one-year warranty from the delivery date [1]. \
    Accidental damage and water damage are not covered by it [1]. \
    Repairs go to the Hangzhou service centre, and we pay the postage both ways [1].";

/// One SSE event, with the body piece it arrived in.
#[derive(Debug)]
struct Event {
    name: String,
    data: Value,
    piece: usize,
}

async fn stream_chat(h: &Harness, public: &axum::Router, q: &str, cmid: &str) -> Vec<Event> {
    let wk = h
        .call(Method::GET, "/admin/v1/tenants/acme", Some(OPERATOR), None)
        .await
        .body["widget_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let body =
        json!({"widget_key": wk, "visitor_id": "v-stream", "message": q, "client_msg_id": cmid});
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/chat")
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = public.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut body = resp.into_body();
    let (mut events, mut buf, mut piece) = (Vec::new(), String::new(), 0);
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        piece += 1;
        buf.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(i) = buf.find("\n\n") {
            let block: String = buf.drain(..i + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            events.push(Event {
                name,
                data: serde_json::from_str(&data).unwrap(),
                piece,
            });
        }
    }
    assert!(buf.is_empty(), "a partial event at the end: {buf:?}");
    events
}

fn deltas(events: &[Event]) -> String {
    events
        .iter()
        .filter(|e| e.name == "delta")
        .map(|e| e.data["text"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_model_answer_reaches_the_visitor_while_it_is_written() {
    let script = Script {
        reply: Some(REPLY.into()),
        token_gap: Duration::from_millis(15),
        ..Script::default()
    };
    // The reader off: this is about the answer's stream (the reader's own
    // tests are in llm.rs).
    let (fake, h, public, key) = system_with("fake", script, "[llm]\nreader = false\n").await;
    let events = stream_chat(&h, &public, "What does the warranty cover?", "s-1").await;
    assert_eq!(fake.requests(), 1);
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"meta"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    // The stored answer's seq is not known while the model writes.
    assert!(events[0].data.get("seq").is_none(), "{:?}", events[0].data);
    let done = &events.last().unwrap().data;
    assert_eq!(done["source"], "llm", "{done}");
    assert!(done["seq"].as_u64().unwrap() >= 2, "{done}");
    assert!(done["conversation_id"].as_str().is_some(), "{done}");
    assert_eq!(done["citations"][0]["id"], "doc-warranty", "{done}");
    // The version it rests on, and kefu-core's cache rule: a first
    // question's grounded answer may be served to the next visitor who asks
    // it (until the next publish).
    assert_eq!(done["kb_version"], 1, "{done}");
    assert_eq!(done["cacheable"], true, "{done}");
    let answer = done["answer"].as_str().unwrap();
    assert_eq!(answer, REPLY, "the stored answer is the model's, whole");
    // The preview is the answer's beginning, sent in several pieces of the
    // body before the answer was done.
    let preview = deltas(&events);
    assert!(
        !preview.is_empty() && answer.starts_with(&preview),
        "{preview:?}"
    );
    let done_piece = events.last().unwrap().piece;
    let early: std::collections::BTreeSet<usize> = events
        .iter()
        .filter(|e| e.name == "delta" && e.piece < done_piece)
        .map(|e| e.piece)
        .collect();
    assert!(
        early.len() >= 3,
        "deltas arrived in {} body pieces before done: {events:?}",
        early.len()
    );

    // The turn is stored once, with the whole answer, and the transcript
    // agrees with what the visitor was told.
    let conv = done["conversation_id"].as_str().unwrap();
    let t = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}/messages"),
            Some(&key),
            None,
        )
        .await;
    let msgs = t.body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[1]["text"], REPLY);

    // Asked again with the same client id (a widget retry): the stored
    // answer, not a second model call.
    let again = stream_chat(&h, &public, "What does the warranty cover?", "s-1").await;
    assert_eq!(again.last().unwrap().data["answer"], REPLY);
    assert_eq!(again.last().unwrap().data["seq"], done["seq"]);
    assert_eq!(fake.requests(), 1);
}

#[tokio::test]
async fn a_model_that_stalls_mid_answer_leaves_the_extractive_answer() {
    let script = Script {
        reply: Some(REPLY.into()),
        token_gap: Duration::from_millis(5),
        stall_after: Some(30),
        ..Script::default()
    };
    let (_fake, h, public, _) =
        system_with("fake", script, "[llm]\nanswer_timeout_secs = 2\n").await;
    let events = stream_chat(&h, &public, "What does the warranty cover?", "s-2").await;
    let preview = deltas(&events);
    assert!(
        !preview.is_empty(),
        "the model's first words were shown: {events:?}"
    );
    let done = &events.last().unwrap().data;
    assert_eq!(events.last().unwrap().name, "done");
    // The partial model text is not an answer: the stored one is the
    // extractive passage, and done carries it to replace the preview.
    assert_eq!(done["source"], "kb", "{done}");
    let answer = done["answer"].as_str().unwrap();
    assert!(answer.contains("one-year warranty"), "{answer}");
    assert!(!answer.starts_with(&preview), "{answer:?} vs {preview:?}");
}

/// The in-process model (`KEFU_LLM_GGUF`): SmolLM2-135M from
/// `scripts/fetch-models.sh`, run on candle in this process. What a user
/// notices: the model is asked (the gateway counts an attempt), the answer
/// streams, and what is stored is either the model's grounded answer citing
/// the document or — a 135M model often refuses — the extractive one; never
/// nothing, never uncited.
#[tokio::test]
async fn the_in_process_model_answers_through_the_same_stream() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let gguf = root.join(".kefu/models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        gguf.is_file(),
        "{} is missing: run scripts/fetch-models.sh (scripts/setup.sh does)",
        gguf.display()
    );
    let gguf = gguf.to_str().unwrap();
    let (h, public, _) = crate::llm::published(
        // The reader off: a 135M model's yes/no is no better than chance,
        // and this test is about the answer's stream.
        "[llm]\nmax_tokens = 48\nanswer_timeout_secs = 300\nreader = false\n",
        &[("KEFU_LLM_GGUF", gguf)],
    )
    .await;
    let events = stream_chat(&h, &public, "What does the warranty cover?", "m-1").await;
    let done = &events.last().unwrap().data;
    assert_eq!(events.last().unwrap().name, "done", "{events:?}");
    let source = done["source"].as_str().unwrap();
    assert!(matches!(source, "llm" | "kb"), "{done}");
    assert!(!done["answer"].as_str().unwrap().trim().is_empty());
    assert_eq!(done["citations"][0]["id"], "doc-warranty", "{done}");
    let resp = h
        .router
        .clone()
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let attempts: f64 = text
        .lines()
        .find(|l| l.starts_with("kefu_llm_upstream_attempts_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no kefu_llm_upstream_attempts_total in /metrics:\n{text}"));
    assert!(
        attempts >= 1.0,
        "the in-process model was not asked:\n{text}"
    );
}

/// A hot switch (`PUT /admin/v1/llm`): an answer streaming from the old
/// backend finishes there; the next turn goes to the new one; no restart.
#[tokio::test]
async fn switching_model_backends_keeps_the_answer_in_flight_and_moves_new_turns() {
    let a_reply = "Electronics carry a one-year warranty from the delivery date, and repairs go to the Hangzhou service centre [1].";
    let b_reply =
        "Water damage and accidental damage are not covered by the one-year warranty [1].";
    let a = kefu_fake_openai::FakeOpenAi::start(Script {
        reply: Some(a_reply.into()),
        token_gap: Duration::from_millis(60),
        ..Script::default()
    })
    .await
    .unwrap();
    let b = kefu_fake_openai::FakeOpenAi::start(Script {
        reply: Some(b_reply.into()),
        ..Script::default()
    })
    .await
    .unwrap();
    let a_url = a.base_url();
    let (h, public, _) = crate::llm::published(
        "[llm]\nreader = false\n",
        &[("KEFU_LLM_URL", a_url.as_str()), ("KEFU_LLM_MODEL", "fake")],
    )
    .await;
    let h = std::sync::Arc::new(h);
    let in_flight = tokio::spawn({
        let (h, public) = (h.clone(), public.clone());
        async move { stream_chat(&h, &public, "What does the warranty cover?", "hot-1").await }
    });
    for _ in 0..500 {
        if a.requests() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.requests(), 1, "the first answer is being written by A");

    let switch = h
        .call(
            Method::PUT,
            "/admin/v1/llm",
            Some(OPERATOR),
            Some(json!({"backends": [{"url": b.base_url(), "model": "fake"}]})),
        )
        .await;
    assert_eq!(switch.status, StatusCode::OK, "{:?}", switch.body);
    assert_eq!(switch.body["backends"].as_array().unwrap().len(), 1);

    let next = stream_chat(&h, &public, "Is water damage covered?", "hot-2").await;
    let done = &next.last().unwrap().data;
    assert_eq!(done["answer"], b_reply, "{done}");
    assert_eq!(b.requests(), 1);
    let first = in_flight.await.unwrap();
    let done = &first.last().unwrap().data;
    assert_eq!(
        done["answer"], a_reply,
        "the answer in flight finished on A: {done}"
    );
    assert_eq!(a.requests(), 1);

    // Bad input is refused, naming the field; the service keeps B.
    let bad = h
        .call(
            Method::PUT,
            "/admin/v1/llm",
            Some(OPERATOR),
            Some(json!({"backends": [{"url": "ftp://gpu-1", "model": "fake"}]})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("backends[0].url")
    );
    let now = h
        .call(Method::GET, "/admin/v1/llm", Some(OPERATOR), None)
        .await;
    assert_eq!(now.body, switch.body);
    // Only the operator may switch.
    let tenant = h
        .call(Method::GET, "/admin/v1/llm", Some("not-the-operator"), None)
        .await;
    assert_eq!(tenant.status, StatusCode::UNAUTHORIZED);
}
