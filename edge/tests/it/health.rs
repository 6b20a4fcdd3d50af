//! `/healthz`, `/widget.js`, unknown routes and methods.

use kefu_edge::{EdgeRequest, Method, WidgetAsset};

use crate::support::*;

#[tokio::test]
async fn health_answers_without_the_regional_service() {
    let h = Harness::new();
    h.fake.set_mode(Mode::Down);
    let r = h.send(EdgeRequest::new(Method::Get, "/healthz")).await;
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["status"], "ok");
    assert_eq!(h.fake.state().calls.len(), 0);
    let r = h.send(EdgeRequest::new(Method::Head, "/healthz")).await;
    assert_eq!((r.status, r.body.len()), (200, 0));
    let r = h.send(EdgeRequest::new(Method::Post, "/healthz")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(error_code(&json_of(&r)), "method_not_allowed");
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let h = Harness::new();
    for path in [
        "/",
        "/v1/chats",
        "/v1/conversations//messages",
        "/v1/conversations/a/b/messages",
    ] {
        let r = h.send(EdgeRequest::new(Method::Get, path)).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(error_code(&json_of(&r)), "not_found");
    }
}

#[tokio::test]
async fn the_widget_is_served_with_hash_based_caching() {
    let h = Harness::new();
    let hash = WidgetAsset::bundled().hash().to_owned();
    let r = h.send(EdgeRequest::new(Method::Get, "/widget.js")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, WidgetAsset::bundled().bytes());
    assert_eq!(
        r.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let etag = r.header("etag").unwrap().to_owned();
    assert_eq!(etag, format!("\"{hash}\""));

    let r = h
        .send(EdgeRequest::new(
            Method::Get,
            &format!("/widget.js?v={hash}"),
        ))
        .await;
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    // A stale hash must not be cached for a year.
    let r = h
        .send(EdgeRequest::new(
            Method::Get,
            "/widget.js?v=0000000000000000",
        ))
        .await;
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));

    let r = h
        .send(EdgeRequest::new(Method::Get, "/widget.js").with_header("If-None-Match", &etag))
        .await;
    assert_eq!((r.status, r.body.len()), (304, 0));
    let r = h
        .send(EdgeRequest::new(Method::Get, "/widget.js").with_header("If-None-Match", "\"other\""))
        .await;
    assert_eq!(r.status, 200);
}
