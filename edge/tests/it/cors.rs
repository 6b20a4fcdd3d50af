//! CORS allows exactly the tenant's origins.

use kefu_edge::{EdgeRequest, Method};
use serde_json::json;

use crate::support::*;

fn preflight(origin: &str, path: &str) -> EdgeRequest {
    EdgeRequest::new(Method::Options, path)
        .with_header("Origin", origin)
        .with_header("Access-Control-Request-Method", "POST")
        .with_header("Access-Control-Request-Headers", "content-type")
}

const NOT_ALLOWED: [&str; 5] = [
    "https://shop.example.com.evil.example",
    "http://shop.example.com",
    "https://shop.example.com:8443",
    "https://sub.shop.example.com",
    "null",
];

#[tokio::test]
async fn preflights_allow_exactly_the_configured_origins() {
    let h = Harness::new();
    let path = format!("/v1/chat?widget_key={WIDGET_KEY}");
    for origin in [ORIGIN, "https://m.example.com", "HTTPS://SHOP.EXAMPLE.COM"] {
        let r = h.send(preflight(origin, &path)).await;
        assert_eq!(r.status, 204, "{origin}");
        assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        assert_eq!(
            r.header("access-control-allow-methods"),
            Some("POST, OPTIONS")
        );
        assert_eq!(
            r.header("access-control-allow-headers"),
            Some("content-type, accept")
        );
        assert_eq!(r.header("vary"), Some("origin"));
    }
    for origin in NOT_ALLOWED {
        let r = h.send(preflight(origin, &path)).await;
        assert_eq!(r.status, 403, "{origin}");
        assert_eq!(r.header("access-control-allow-origin"), None, "{origin}");
    }
    let conv_path = format!("/v1/conversations/c1/messages?widget_key={WIDGET_KEY}");
    let r = h.send(preflight(ORIGIN, &conv_path)).await;
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, OPTIONS")
    );
    // Without the widget key the tenant is unknown.
    let r = h.send(preflight(ORIGIN, "/v1/chat")).await;
    assert_eq!(
        (r.status, error_code(&json_of(&r))),
        (400, "missing_widget_key")
    );
}

#[tokio::test]
async fn requests_from_other_origins_are_refused_before_any_work() {
    let h = Harness::new();
    let body =
        json!({"widget_key": WIDGET_KEY, "visitor_id": "v-1", "message": "How do I get a refund?"});
    for origin in NOT_ALLOWED {
        let mut req = chat_request(&body);
        req.headers.retain(|(k, _)| k != "Origin");
        let r = h.send(req.with_header("Origin", origin)).await;
        assert_eq!(r.status, 403, "{origin}");
        assert_eq!(error_code(&json_of(&r)), "origin_not_allowed");
        assert_eq!(r.header("access-control-allow-origin"), None);
    }
    assert_eq!(h.fake.turn_count(), 0);
    // The allowed origin is echoed; a request without Origin (not a
    // browser) is served without CORS headers.
    let r = h.send(chat_request(&body)).await;
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (200, Some(ORIGIN))
    );
    let mut req = chat_request(&body);
    req.headers.retain(|(k, _)| k != "Origin");
    let r = h.send(req).await;
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (200, None)
    );
}
