//! The route table: path and method to handler. Nothing else.

use crate::Error;
use crate::cors;
use crate::edge::Edge;
use crate::handlers::{chat, health, messages, widget};
use crate::http::{EdgeRequest, EdgeResponse, Method, ResponseSink};
use crate::platform::Platform;

/// Dispatches `req` into `sink`: a streamed chat turn writes as it goes,
/// everything else is answered whole by [`route`].
pub async fn route_into<P: Platform>(
    edge: &Edge<P>,
    req: EdgeRequest,
    sink: &mut dyn ResponseSink,
) {
    if req.method == Method::Post && req.path == "/v1/chat" && chat::wants_sse(&req) {
        return chat::post_stream(edge, &req, sink).await;
    }
    route(edge, req).await.send_to(sink);
}

/// Dispatches `req`. `HEAD` is `GET` without the body.
pub async fn route<P: Platform>(edge: &Edge<P>, req: EdgeRequest) -> EdgeResponse {
    let head = req.method == Method::Head;
    let m = if head { &Method::Get } else { &req.method };
    let mut r = match (req.path.as_str(), m) {
        ("/healthz", Method::Get) => health::get(edge),
        ("/healthz", _) => not_allowed("GET, HEAD"),
        ("/widget.js", Method::Get) => widget::get(edge, &req),
        ("/widget.js", _) => not_allowed("GET, HEAD"),
        ("/v1/chat", Method::Post) => chat::post(edge, &req).await,
        ("/v1/chat", Method::Options) => cors::preflight(edge, &req, "POST").await,
        ("/v1/chat", _) => not_allowed("POST, OPTIONS"),
        (path, m) => match messages_id(path) {
            Some(id) if *m == Method::Get => messages::get(edge, &req, id).await,
            Some(_) if *m == Method::Options => cors::preflight(edge, &req, "GET").await,
            Some(_) => not_allowed("GET, HEAD, OPTIONS"),
            None => Error::NotFound.to_response(),
        },
    };
    if head {
        r.body.clear();
    }
    r
}

/// `{id}` of `/v1/conversations/{id}/messages`.
fn messages_id(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/conversations/")?
        .strip_suffix("/messages")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

fn not_allowed(allow: &'static str) -> EdgeResponse {
    Error::MethodNotAllowed { allow }.to_response()
}
