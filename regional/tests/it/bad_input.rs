//! Bad input answers with the right status and the JSON error shape, and
//! stores nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::common::{Harness, OPERATOR};

fn assert_error_shape(r: &crate::common::Resp, code: &str) {
    assert_eq!(r.body["error"]["code"], code, "{:?}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn malformed_json_wrong_type_and_unknown_fields_are_400() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    let path = format!("/v1/conversations/{conv}/messages");
    let raw = |body: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri(path.clone())
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    for body in [
        "{",
        "[]",
        "{\"role\":\"visitor\"}",
        "{\"role\":\"pirate\",\"text\":\"x\"}",
        "{\"role\":\"visitor\",\"text\":\"x\",\"extra\":1}",
        "\u{0}",
    ] {
        let r = h.send(raw(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_error_shape(&r, "bad_request");
    }
    let r = h.say(&key, &conv, "   ", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let t = h.call(Method::GET, &path, Some(&key), None).await;
    assert_eq!(
        t.body["messages"].as_array().unwrap().len(),
        0,
        "bad input stored something"
    );
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/v1/conversations")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error_shape(&r, "unsupported_media_type");
}

#[tokio::test]
async fn oversize_body_and_text_are_413_with_the_limit() {
    let h = Harness::with_config(
        "[limits]\nmax_body_bytes = 4096\nmax_message_chars = 100\n",
        &[],
    )
    .await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    let r = h.say(&key, &conv, &"x".repeat(10_000), None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error_shape(&r, "payload_too_large");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4096"),
        "{:?}",
        r.body
    );
    let r = h.say(&key, &conv, &"字".repeat(101), None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.body["error"]["message"].as_str().unwrap().contains("100"),
        "{:?}",
        r.body
    );
    assert_eq!(
        h.say(&key, &conv, &"字".repeat(100), None).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn unknown_routes_methods_and_ids_answer_in_json() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let r = h.call(Method::GET, "/no/such/route", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_error_shape(&r, "not_found");
    let r = h
        .call(Method::DELETE, "/v1/conversations", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&r, "method_not_allowed");
    for id in ["c_000000000000000000000000", "no%20such", "%E7%A7%9F"] {
        let r = h
            .call(
                Method::GET,
                &format!("/v1/conversations/{id}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
        assert_error_shape(&r, "not_found");
    }
    let r = h
        .call(Method::GET, "/v1/conversations?limit=0", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = h
        .call(Method::GET, "/v1/conversations?limit=abc", Some(&key), None)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tenant_rate_limit_is_429_with_retry_after() {
    let h = Harness::with_config("[limits]\ntenant_requests_per_minute = 5\n", &[]).await;
    let key = h.tenant("acme").await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            h.call(Method::GET, "/v1/conversations", Some(&key), None)
                .await,
        );
    }
    assert!(statuses[..5].iter().all(|r| r.status == StatusCode::OK));
    let limited = &statuses[6];
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_error_shape(limited, "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // An interpolated sliding window forgets everything within two windows,
    // so Retry-After is at most two minutes (usually about one).
    assert!((1..=120).contains(&retry), "Retry-After {retry}");
}

#[tokio::test]
async fn repeated_failed_authentication_is_429() {
    let h = Harness::with_config("[limits]\nfailed_auth_per_minute = 3\n", &[]).await;
    let key = h.tenant("acme").await;
    for _ in 0..3 {
        assert_eq!(
            h.call(
                Method::GET,
                "/v1/conversations",
                Some("kefu_sk_guess"),
                None
            )
            .await
            .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = h
        .call(
            Method::GET,
            "/v1/conversations",
            Some("kefu_sk_guess"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    // The same source with a good key is still refused this minute.
    assert_eq!(
        h.call(Method::GET, "/v1/conversations", Some(&key), None)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = h
        .call(Method::GET, "/admin/v1/tenants", Some(OPERATOR), None)
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_closed_conversation_refuses_messages_and_state_changes() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    let state = |s: &str| json!({"state": s});
    let path = format!("/v1/conversations/{conv}/state");
    let r = h
        .call(
            Method::PUT,
            &path,
            Some(&key),
            Some(state("queued_for_human")),
        )
        .await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (StatusCode::OK, Some("queued_for_human"))
    );
    let r = h
        .call(Method::PUT, &path, Some(&key), Some(state("with_agent")))
        .await;
    assert_eq!(r.body["state"], "with_agent");
    let r = h
        .call(Method::PUT, &path, Some(&key), Some(state("closed")))
        .await;
    assert_eq!(r.body["state"], "closed");
    let r = h
        .call(Method::PUT, &path, Some(&key), Some(state("ai")))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = h.say(&key, &conv, "hello?", None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = h
        .call(Method::PUT, &path, Some(&key), Some(state("asleep")))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn text_past_kefu_cores_bound_is_invalid_input() {
    let h = Harness::new().await;
    let key = h.tenant("acme").await;
    let conv = h.conversation(&key).await;
    // 4096 four-byte characters fill kefu-core's 16 KiB turn bound exactly.
    assert_eq!(
        h.say(&key, &conv, &"😀".repeat(4096), None).await.status,
        StatusCode::CREATED
    );
    let r = h.say(&key, &conv, &"a".repeat(4097), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4096")
    );
}
