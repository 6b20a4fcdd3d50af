//! `GET /healthz`: the edge is up (it does not call the regional service).

use serde::Serialize;

use crate::edge::Edge;
use crate::http::EdgeResponse;
use crate::platform::Platform;

/// `{"status":"ok","breaker":"closed"|"open"|"half_open"}`, 200.
pub fn get<P: Platform>(edge: &Edge<P>) -> EdgeResponse {
    #[derive(Serialize)]
    struct Body {
        status: &'static str,
        breaker: kefu_core::overload::BreakerState,
    }
    let body = serde_json::to_vec(&Body {
        status: "ok",
        breaker: edge.breaker_state(),
    })
    .unwrap_or_default();
    EdgeResponse::json(200, body).with_header("cache-control", "no-store")
}
