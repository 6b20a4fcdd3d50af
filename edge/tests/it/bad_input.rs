//! Every refusal of bad input, with its status and code, and none of them
//! reaching the regional service's turn endpoint.

use kefu_edge::http::MAX_BODY_BYTES;
use kefu_edge::{EdgeRequest, Method};
use serde_json::json;

use crate::support::*;

fn raw(body: Vec<u8>, content_type: &str) -> EdgeRequest {
    EdgeRequest::new(Method::Post, "/v1/chat")
        .with_header("Content-Type", content_type)
        .with_client_ip(IP)
        .with_body(body)
}

#[tokio::test]
async fn each_bad_chat_request_gets_its_status_and_code() {
    let h = Harness::new();
    let ok = json!({"widget_key": WIDGET_KEY, "visitor_id": "v-1", "message": "hello"});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = ok.clone();
        b[k] = v;
        serde_json::to_vec(&b).unwrap()
    };
    let json_ct = "application/json";
    let cases: Vec<(EdgeRequest, u16, &str)> = vec![
        (raw(b"{not json".to_vec(), json_ct), 400, "bad_json"),
        (
            raw(
                br#"{"widget_key":"kefu_pk_acme","message":"hi"}"#.to_vec(),
                json_ct,
            ),
            400,
            "bad_json",
        ),
        (raw(b"[1,2]".to_vec(), json_ct), 400, "bad_json"),
        (
            raw(vec![b'"', 0xff, 0xfe, b'"'], json_ct),
            400,
            "body_not_utf8",
        ),
        (
            raw(with("visitor_id", json!("has space")), json_ct),
            400,
            "bad_visitor_id",
        ),
        (
            raw(with("visitor_id", json!("x".repeat(65))), json_ct),
            400,
            "bad_visitor_id",
        ),
        (
            raw(with("conversation_id", json!("")), json_ct),
            400,
            "bad_conversation_id",
        ),
        (
            raw(with("message", json!("   \n ")), json_ct),
            400,
            "empty_message",
        ),
        (
            raw(with("message", json!("a".repeat(4001))), json_ct),
            400,
            "message_too_long",
        ),
        // 3 000 CJK characters are under 4 000 characters but over 8 KiB.
        (
            raw(with("message", json!("问".repeat(3000))), json_ct),
            400,
            "message_too_long",
        ),
        (
            raw(with("client_msg_id", json!("has space")), json_ct),
            400,
            "bad_client_msg_id",
        ),
        (
            raw(with("widget_key", json!("")), json_ct),
            400,
            "bad_widget_key",
        ),
        (
            raw(with("widget_key", json!("kefu_pk_nobody")), json_ct),
            401,
            "unknown_widget_key",
        ),
        (
            raw(vec![b' '; MAX_BODY_BYTES + 1], json_ct),
            413,
            "body_too_large",
        ),
        (
            raw(serde_json::to_vec(&ok).unwrap(), "text/plain"),
            415,
            "unsupported_media_type",
        ),
        (
            raw(serde_json::to_vec(&ok).unwrap(), "application/jsonx"),
            415,
            "unsupported_media_type",
        ),
        (
            EdgeRequest::new(Method::Post, "/v1/chat?widget_key=kefu_pk_other")
                .with_header("content-type", json_ct)
                .with_body(serde_json::to_vec(&ok).unwrap()),
            400,
            "widget_key_mismatch",
        ),
        (
            EdgeRequest::new(Method::Get, "/v1/chat"),
            405,
            "method_not_allowed",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{req:?}");
        let r = h.send(req).await;
        assert_eq!(
            (r.status, error_code(&json_of(&r))),
            (status, code),
            "{what}"
        );
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(h.fake.turn_count(), 0);
    // The maximum itself is fine: 4 000 ASCII characters, and a body of
    // exactly 16 KiB.
    let mut b = ok.clone();
    b["message"] = json!("a".repeat(4000));
    assert_eq!(h.chat(b).await.0, 200);
    let mut b = serde_json::to_vec(&ok).unwrap();
    b.resize(MAX_BODY_BYTES, b' ');
    assert_eq!(
        h.send(raw(b, "application/json; charset=utf-8"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn each_bad_catch_up_request_gets_its_status_and_code() {
    let h = Harness::new();
    let get =
        |q: &str| EdgeRequest::new(Method::Get, &format!("/v1/conversations/r-1/messages?{q}"));
    let cases = [
        (
            get("since=x&widget_key=kefu_pk_acme&visitor_id=v-1"),
            400,
            "bad_since",
        ),
        (
            get("since=-1&widget_key=kefu_pk_acme&visitor_id=v-1"),
            400,
            "bad_since",
        ),
        (get("since=1&visitor_id=v-1"), 400, "missing_widget_key"),
        (
            get("since=1&widget_key=kefu_pk_acme"),
            400,
            "bad_visitor_id",
        ),
        (
            get("since=1&widget_key=kefu_pk_nobody&visitor_id=v-1"),
            401,
            "unknown_widget_key",
        ),
        (
            get("since=1&widget_key=kefu_pk_acme&visitor_id=v-1"),
            404,
            "not_found",
        ),
        (
            EdgeRequest::new(Method::Post, "/v1/conversations/r-1/messages"),
            405,
            "method_not_allowed",
        ),
    ];
    for (req, status, code) in cases {
        let what = format!("{req:?} {}", req.query);
        let r = h.send(req).await;
        assert_eq!(
            (r.status, error_code(&json_of(&r))),
            (status, code),
            "{what}"
        );
    }
}
