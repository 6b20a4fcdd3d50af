//! Answers reused across paraphrases (the similar-question cache, opt-in
//! per tenant): with multilingual-e5-small and a model behind the fake
//! OpenAI server, a question asked again in other words gets the model's
//! earlier answer with its citations (source `cache`) and no model call;
//! a different question, a tenant that did not opt in, and a new
//! knowledge-base version all go to the model again.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use kefu_fake_openai::{FakeOpenAi, Script};
use serde_json::{Value, json};

use crate::common::{Harness, OPERATOR};

const ANSWER: &str = "Electronics have a one-year warranty; water damage is not covered [1].";

fn e5() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.kefu/models/e5-small-q4");
    assert!(
        p.join("e5-small-q4.bin").exists(),
        "{} missing: run scripts/fetch-models.sh (scripts/setup.sh does)",
        p.display()
    );
    p
}

async fn system() -> (FakeOpenAi, Harness, axum::Router, String) {
    let fake = FakeOpenAi::start(Script {
        reply: Some(ANSWER.into()),
        replies_when: vec![("Reply with one word: YES or NO.".into(), "YES".into())],
        token_gap: Duration::from_millis(1),
        ..Script::default()
    })
    .await
    .unwrap();
    let url = fake.base_url();
    let dir = e5();
    let env = [
        ("KEFU_LLM_URL", url.as_str()),
        ("KEFU_LLM_MODEL", "fake"),
        ("KEFU_EMBEDDER", dir.to_str().unwrap()),
    ];
    let (h, public, key) = crate::llm::published("", &env).await;
    (fake, h, public, key)
}

async fn similar_answers(h: &Harness, on: bool) {
    let r = h
        .call(
            Method::PATCH,
            "/admin/v1/tenants/acme/settings",
            Some(OPERATOR),
            Some(json!({"similar_answers": on})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["settings"]["similar_answers"], on, "{:?}", r.body);
}

/// A new visitor's first message (so the question stands alone).
async fn ask(h: &Harness, public: &axum::Router, visitor: &str, q: &str) -> Value {
    let wk = h
        .call(Method::GET, "/admin/v1/tenants/acme", Some(OPERATOR), None)
        .await
        .body["widget_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let body =
        json!({"widget_key": wk, "visitor_id": visitor, "message": q, "client_msg_id": "m-1"});
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/chat")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let r = crate::inproc::public_call(public, req).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

#[tokio::test]
async fn a_paraphrase_reuses_the_model_answer_only_when_the_tenant_opts_in() {
    let (fake, h, public, key) = system().await;
    let first = ask(
        &h,
        &public,
        "v-1",
        "is water damage covered by the warranty?",
    )
    .await;
    assert_eq!(first["source"], "llm", "{first:?}");
    let calls = fake.requests();
    // Not opted in (the default): the paraphrase goes to the model.
    let again = ask(
        &h,
        &public,
        "v-2",
        "is water damage covered under the warranty?",
    )
    .await;
    assert_eq!(again["source"], "llm", "{again:?}");
    assert!(fake.requests() > calls);

    similar_answers(&h, true).await;
    let first = ask(&h, &public, "v-3", "does the warranty cover water damage?").await;
    assert_eq!(first["source"], "llm", "{first:?}");
    let calls = fake.requests();
    // e5 puts these two at 0.993; the edge's exact-question cache does not
    // equate them (other words).
    let reused = ask(&h, &public, "v-4", "does your warranty cover water damage?").await;
    assert_eq!(reused["source"], "cache", "{reused:?}");
    assert_eq!(reused["answer"], first["answer"]);
    assert_eq!(reused["citations"], first["citations"]);
    assert_eq!(fake.requests(), calls, "a reused answer asks no model");
    // Stored like any answer, as the visitor saw it.
    let conv = reused["conversation_id"].as_str().unwrap();
    let t = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(&key),
            None,
        )
        .await;
    let bot = &t.body["messages"][1];
    assert_eq!(
        (&bot["source"], &bot["text"]),
        (&json!("cache"), &first["answer"])
    );

    // A close question of another intent (cosine 0.947) is not reused.
    let other = ask(&h, &public, "v-5", "does the warranty cover fire damage?").await;
    assert_eq!(other["source"], "llm", "{other:?}");

    // A new knowledge-base version retires the reused answers.
    assert_eq!(
        h.call(Method::POST, "/v1/kb/publish", Some(&key), None)
            .await
            .status,
        StatusCode::OK
    );
    let after = ask(
        &h,
        &public,
        "v-6",
        "does the warranty cover any water damage?",
    )
    .await;
    assert_eq!(after["source"], "llm", "{after:?}");
}
