//! Grounded generation through an OpenAI-compatible server (the fake, the
//! one allowed double for a remote model): a question that retrieval
//! answers with passages goes to the model and comes back as an `llm`
//! answer citing the passage; a failing or inventing model falls back to
//! the extractive answer, never to nothing; a model that refuses is an
//! honest "I don't know". The reader (the model asked first whether the
//! passages answer at all; off by default, `[llm] reader = true`) turns a
//! "no" into "I don't know" and leaves the answer as it was when it says
//! yes, fails or says neither.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use kefu_fake_openai::{FakeOpenAi, Script};
use serde_json::{Value, json};

use crate::common::{Harness, OPERATOR};

async fn system(model: &str, reply: &str) -> (FakeOpenAi, Harness, axum::Router, String) {
    let script = Script {
        reply: Some(reply.into()),
        token_gap: Duration::from_millis(1),
        ..Script::default()
    };
    system_with(model, script, "").await
}

/// A tenant with a published warranty document, a model served by the fake
/// with `script`, the tenant API and the public (in-process edge) router.
pub(crate) async fn system_with(
    model: &str,
    script: Script,
    extra_config: &str,
) -> (FakeOpenAi, Harness, axum::Router, String) {
    let fake = FakeOpenAi::start(script).await.unwrap();
    let url = fake.base_url();
    let env = [("KEFU_LLM_URL", url.as_str()), ("KEFU_LLM_MODEL", model)];
    let (h, public, key) = published(extra_config, &env).await;
    (fake, h, public, key)
}

/// A tenant with a published warranty document on a service configured
/// with `extra_config` and `env`: the tenant API, the public (in-process
/// edge) router and the tenant key.
pub(crate) async fn published(
    extra_config: &str,
    env: &[(&str, &str)],
) -> (Harness, axum::Router, String) {
    let config = format!("[limits]\nfailed_auth_per_minute = 100000\n{extra_config}");
    let h = Harness::with_config(&config, env).await;
    let app = h.app.as_ref().unwrap();
    let config = kefu_regional::public::with_edge_key(app.state.config.clone());
    let state = kefu_regional::http::AppState::new(config, app.state.metrics.clone());
    state.set_storage(app.storage().clone());
    let public = kefu_regional::public::router(kefu_regional::public::edge(&state).unwrap());
    let mut h = h;
    h.router = kefu_regional::http::router(state);
    let key = h.tenant("acme").await;
    let doc = json!({"id": "doc-warranty", "title": "Warranty", "url": "https://shop.example/warranty",
        "text": "# Warranty\n\nElectronics carry a one-year warranty from the delivery date. Accidental damage and water damage are not covered. Send repairs to the Hangzhou service centre."});
    h.publish_kb(&key, &[("/v1/kb/documents", doc)]).await;
    (h, public, key)
}

async fn ask(h: &Harness, public: &axum::Router, q: &str) -> Value {
    let wk = h
        .call(Method::GET, "/admin/v1/tenants/acme", Some(OPERATOR), None)
        .await
        .body["widget_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"widget_key": wk, "visitor_id": "v-llm", "message": q, "client_msg_id": format!("llm-{}", q.len())});
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
async fn a_passage_question_is_answered_by_the_model_with_the_passage_cited() {
    let (fake, h, public, _) = system_with("fake", scripted("NO", ANSWER), "").await;
    let a = ask(&h, &public, "is water damage covered by the warranty?").await;
    assert_eq!(a["source"], "llm", "{a:?}");
    assert_eq!(
        a["answer"],
        "Electronics have a one-year warranty; water damage is not covered [1]."
    );
    assert_eq!(a["citations"][0]["id"], "doc-warranty");
    assert_eq!(a["citations"][0]["url"], "https://shop.example/warranty");
    // The reader is off by default: the model is asked for the answer only
    // (its "NO" to the reader's question is never asked for).
    assert_eq!(fake.requests(), 1, "the answer only");
    // The gateway's figures are in /metrics.
    let resp = tower::ServiceExt::oneshot(
        h.router.clone(),
        axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains("kefu_llm_requests_total 1"), "{text}");
    assert!(text.contains("kefu_llm_queue_depth 0"), "{text}");
    assert!(
        text.contains("kefu_llm_breaker_open{backend=\"0\"} 0"),
        "{text}"
    );
}

#[tokio::test]
async fn a_failing_or_inventing_model_falls_back_to_the_extractive_answer() {
    // An invented policy: most of its words are not in the tenant's content.
    let invented = "Our premium warranty lasts ten years, includes free replacement \
        phones, and refunds every purchase instantly without questions [1].";
    for (model, reply) in [("fail-500", "unused"), ("fake", invented)] {
        let (fake, h, public, _) = system(model, reply).await;
        let a = ask(&h, &public, "is water damage covered by the warranty?").await;
        assert_eq!(a["source"], "kb", "{model}: {a:?}");
        assert!(
            a["answer"].as_str().unwrap().contains("water damage"),
            "{a:?}"
        );
        assert_eq!(a["citations"][0]["id"], "doc-warranty");
        assert!(fake.requests() >= 1, "{model}: the model was asked");
    }
}

/// What the fake says to the reader (its system prompt's last sentence)
/// and to everything else.
fn scripted(reader: &str, answer: &str) -> Script {
    Script {
        reply: Some(answer.into()),
        replies_when: vec![(READER_ASKS.into(), reader.into())],
        token_gap: Duration::from_millis(1),
        ..Script::default()
    }
}

/// The config that turns the reader on (it is off by default).
const READER_ON: &str = "[llm]\nreader = true\n";

/// A phrase only the reader's prompt has.
const READER_ASKS: &str = "Reply with one word: YES or NO.";

const ANSWER: &str = "Electronics have a one-year warranty; water damage is not covered [1].";

/// Adds a curated FAQ to the published knowledge base and publishes again.
async fn with_payment_faq(h: &Harness, key: &str) {
    let faq = json!([{"id": "faq-payment", "question": "Which payment methods do you accept?",
        "answer": "We accept Alipay, WeChat Pay and UnionPay cards."}]);
    assert!(
        h.call(Method::POST, "/v1/kb/faqs", Some(key), Some(faq))
            .await
            .status
            .is_success()
    );
    assert_eq!(
        h.call(Method::POST, "/v1/kb/publish", Some(key), None)
            .await
            .status,
        StatusCode::OK
    );
}

/// The honest "I don't know" with an offer of a human, which routing
/// counts as a failed answer.
fn assert_dont_know(a: &Value) {
    assert_eq!(a["source"], "fallback", "{a:?}");
    let text = a["answer"].as_str().unwrap();
    assert!(text.contains("human agent"), "{a:?}");
    assert!(
        !text.contains("Alipay") && !text.contains("warranty"),
        "{a:?}"
    );
}

#[tokio::test]
async fn a_model_that_refuses_gives_i_dont_know_not_the_passage() {
    let (fake, h, public, _) = system_with("fake", scripted("YES", "NO_ANSWER"), READER_ON).await;
    let a = ask(&h, &public, "is water damage covered by the warranty?").await;
    assert_dont_know(&a);
    assert_eq!(fake.requests(), 2, "the reader, then the answer");
}

#[tokio::test]
async fn the_reader_saying_no_turns_a_faq_or_passages_into_i_dont_know() {
    let (fake, h, public, key) = system_with("fake", scripted("NO", ANSWER), READER_ON).await;
    with_payment_faq(&h, &key).await;
    let a = ask(&h, &public, "which payment methods do you accept?").await;
    assert_dont_know(&a);
    let a = ask(&h, &public, "is water damage covered by the warranty?").await;
    assert_dont_know(&a);
    // Each question was read once; no answer was generated after a no.
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn the_reader_saying_yes_keeps_the_faq_and_the_grounded_answer() {
    for yes in ["YES", "是"] {
        let (fake, h, public, key) = system_with("fake", scripted(yes, ANSWER), READER_ON).await;
        with_payment_faq(&h, &key).await;
        let a = ask(&h, &public, "which payment methods do you accept?").await;
        assert_eq!(a["source"], "faq", "{a:?}");
        assert_eq!(
            a["answer"],
            "We accept Alipay, WeChat Pay and UnionPay cards."
        );
        let a = ask(&h, &public, "is water damage covered by the warranty?").await;
        assert_eq!(a["source"], "llm", "{a:?}");
        assert_eq!(a["answer"], ANSWER);
        assert_eq!(fake.requests(), 3, "two readings and one answer");
    }
}

#[tokio::test]
async fn a_failing_or_unclear_reader_leaves_the_answer_as_it_was() {
    // A failing model: the FAQ verbatim, the passage extracted.
    let (_fake, h, public, key) = system_with("fail-500", scripted("NO", ANSWER), READER_ON).await;
    with_payment_faq(&h, &key).await;
    let a = ask(&h, &public, "which payment methods do you accept?").await;
    assert_eq!(a["source"], "faq", "{a:?}");
    let a = ask(&h, &public, "is water damage covered by the warranty?").await;
    assert_eq!(a["source"], "kb", "{a:?}");
    // A reader that answers neither yes nor no, or too slowly.
    for (reader, ttft) in [("Maybe, partly.", 0), ("NO", 3_000)] {
        let script = Script {
            ttft: Duration::from_millis(ttft),
            ..scripted(reader, ANSWER)
        };
        let (_fake, h, public, key) = system_with(
            "fake",
            script,
            "[llm]\nreader = true\nreader_timeout_ms = 300\nanswer_timeout_secs = 10\n",
        )
        .await;
        with_payment_faq(&h, &key).await;
        let a = ask(&h, &public, "which payment methods do you accept?").await;
        assert_eq!(a["source"], "faq", "{reader}: {a:?}");
    }
}

#[tokio::test]
async fn with_the_reader_off_the_model_is_asked_only_for_answers() {
    // Off is the default.
    let (fake, h, public, key) = system_with("fake", scripted("NO", ANSWER), "").await;
    with_payment_faq(&h, &key).await;
    let a = ask(&h, &public, "which payment methods do you accept?").await;
    assert_eq!(a["source"], "faq", "{a:?}");
    let a = ask(&h, &public, "is water damage covered by the warranty?").await;
    assert_eq!(a["source"], "llm", "{a:?}");
    assert_eq!(fake.requests(), 1);
}
