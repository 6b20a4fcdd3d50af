//! An empty wasi-http component: answers every request `200 ok` with a
//! small JSON body, doing nothing else. The baseline for the edge's
//! cache-hit benchmark (`kefu-load edge-bench`).

use spin_sdk::http::{FullBody, Request};

/// Answers `{"status":"ok"}`.
#[spin_sdk::http_service]
async fn handle(_req: Request) -> http::Response<FullBody<bytes::Bytes>> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(FullBody::new(bytes::Bytes::from_static(b"{\"status\":\"ok\"}")))
        .unwrap_or_else(|_| http::Response::new(FullBody::new(bytes::Bytes::new())))
}
