//! In-process mode end to end: the real app with both routers — the
//! tenant/operator API and the public widget API served by kefu-edge's
//! handlers, whose regional calls go through the app's own router.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::{Harness, OPERATOR, Resp};

pub(crate) async fn harness() -> (Harness, Router) {
    // No KEFU_EDGE_KEY: in-process mode makes one up, as `serve` does.
    let h = Harness::with_config("[limits]\nfailed_auth_per_minute = 100000\n", &[]).await;
    let app = h.app.as_ref().unwrap();
    assert!(app.state.config.edge_key.is_none());
    let config = kefu_regional::public::with_edge_key(app.state.config.clone());
    let state = kefu_regional::http::AppState::new(config, app.state.metrics.clone());
    state.set_storage(app.storage().clone());
    let edge = kefu_regional::public::edge(&state).unwrap();
    let public = kefu_regional::public::router(edge);
    // The tenant API must see the same edge key: route the harness through
    // the state that has it.
    let mut h = h;
    h.router = kefu_regional::http::router(state);
    (h, public)
}

pub(crate) async fn public_call(public: &Router, req: Request<Body>) -> Resp {
    let resp = public.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        body,
        headers,
    }
}

pub(crate) fn chat(
    widget_key: &str,
    conv: Option<&str>,
    text: &str,
    origin: Option<&str>,
) -> Request<Body> {
    let mut body = json!({
        "widget_key": widget_key,
        "visitor_id": "visitor-1",
        "message": text,
        "client_msg_id": format!("cm-{}", text.len()),
    });
    if let Some(c) = conv {
        body["conversation_id"] = c.into();
    }
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/v1/chat")
        .header("content-type", "application/json");
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

fn poll(conv: &str, widget_key: &str, since: u64) -> Request<Body> {
    Request::builder()
        .uri(format!(
            "/v1/conversations/{conv}/messages?since={since}&widget_key={widget_key}&visitor_id=visitor-1"
        ))
        .body(Body::empty())
        .unwrap()
}

pub(crate) async fn widget_key(h: &Harness) -> String {
    let r = h
        .call(Method::GET, "/admin/v1/tenants/acme", Some(OPERATOR), None)
        .await;
    r.body["widget_key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_widget_chat_lands_in_the_tenants_transcript_and_agent_replies_reach_the_poll() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let wk = widget_key(&h).await;

    // One visitor message through the public API.
    let r = public_call(&public, chat(&wk, None, "How do I get a refund?", None)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["source"], "fallback");
    let conv = r.body["conversation_id"].as_str().unwrap().to_owned();
    assert!(conv.starts_with("c_"), "{conv}");

    // The tenant sees both turns in the transcript.
    let t = h
        .call(
            Method::GET,
            &format!("/v1/conversations/{conv}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    let msgs = t.body["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["visitor", "bot"]);
    assert_eq!(msgs[0]["text"], "How do I get a refund?");
    assert_eq!(msgs[1]["source"], "fallback");

    // The widget's catch-up shows the same two messages.
    let p = public_call(&public, poll(&conv, &wk, 0)).await;
    assert_eq!(p.status, StatusCode::OK, "{:?}", p.body);
    let texts: Vec<&str> = p.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0], "How do I get a refund?");
    assert_eq!(p.body["degraded"], false);

    // A waiting poll is woken by an agent reply through the tenant API.
    let last = p.body["messages"][1]["seq"].as_u64().unwrap();
    let waiting = {
        let public = public.clone();
        let req = poll(&conv, &wk, last);
        tokio::spawn(async move { public_call(&public, req).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "nothing new yet: the poll waits");
    let a = h
        .call(
            Method::POST,
            &format!("/v1/conversations/{conv}/messages"),
            Some(&key),
            Some(json!({"role": "agent", "text": "Refunds take 3 days.", "source": "agent"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let woke = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the agent reply woke the long poll")
        .unwrap();
    assert_eq!(woke.status, StatusCode::OK, "{:?}", woke.body);
    let new = woke.body["messages"].as_array().unwrap();
    assert_eq!(new.len(), 1, "{:?}", woke.body);
    assert_eq!(new[0]["role"], "agent");
    assert_eq!(new[0]["text"], "Refunds take 3 days.");
}

#[tokio::test]
async fn an_unknown_widget_key_is_a_json_error() {
    let (h, public) = harness().await;
    h.tenant("acme").await;
    let r = public_call(&public, chat("kefu_pk_nobody", None, "hi", None)).await;
    assert!(
        matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND),
        "{}",
        r.status
    );
    assert!(r.body["error"]["code"].is_string(), "{:?}", r.body);
}

#[tokio::test]
async fn cors_follows_the_tenants_allowed_origins() {
    let (h, public) = harness().await;
    h.tenant("acme").await;
    let wk = widget_key(&h).await;
    let r = h
        .call(
            Method::PATCH,
            "/admin/v1/tenants/acme/settings",
            Some(OPERATOR),
            Some(json!({"allowed_origins": ["https://shop.example"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let ok = public_call(
        &public,
        chat(&wk, None, "hello", Some("https://shop.example")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(
        ok.headers
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://shop.example")
    );

    let bad = public_call(
        &public,
        chat(&wk, None, "hello", Some("https://evil.example")),
    )
    .await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN, "{:?}", bad.body);
    assert!(bad.headers.get("access-control-allow-origin").is_none());

    // The preflight answers the same way.
    let pre = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(format!("/v1/chat?widget_key={wk}"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    let ok = public_call(&public, pre("https://shop.example")).await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT);
    let bad = public_call(&public, pre("https://evil.example")).await;
    assert_eq!(bad.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_public_listener_serves_no_tenant_or_operator_api() {
    let (h, public) = harness().await;
    let key = h.tenant("acme").await;
    let r = public_call(
        &public,
        Request::builder()
            .uri("/admin/v1/tenants")
            .header("authorization", format!("Bearer {OPERATOR}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = public_call(
        &public,
        Request::builder()
            .uri("/v1/conversations")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let js = public
        .clone()
        .oneshot(
            Request::builder()
                .uri("/widget.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
}
