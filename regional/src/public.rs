//! In-process mode: the public widget API served by kefu-edge's handlers
//! inside this process, on its own listener.
//!
//! `kefu-regional serve` mounts [`kefu_edge::Edge`] over
//! [`MemoryPlatform`], whose upstream hands each signed frame to this
//! service's own router with tower's `oneshot` — no HTTP, no socket — so one
//! process serves `/v1/chat`, `/v1/conversations/{id}/messages` (long
//! poll), `/widget.js` and CORS as well as the tenant and operator API.
//!
//! # Why a separate listener
//!
//! The tenant API already has `GET /v1/conversations/{id}/messages`
//! (Bearer API key); the edge's public route is the same path with
//! `?widget_key=`. Rather than dispatch on a query parameter or a missing
//! header, the public API gets its own listener (`public_listen`,
//! `KEFU_PUBLIC_LISTEN`, default `127.0.0.1:8081`, `off` to disable): the
//! address browsers reach serves only the widget API, and the operator and
//! tenant API are never exposed there. The two never share a path space.
//!
//! # Turns answered here
//!
//! The edge's store is this process's memory, so an outbox would die with
//! the process ([`MemoryPlatform`] says so: `durable_outbox` is false): a
//! cache hit, or an acknowledgement under brownout, is recorded in the
//! regional store (through the same signed report a remote edge sends,
//! group-committed) before the visitor gets its answer, and a turn that
//! cannot be recorded gets 503 (the widget sends it again).
//!
//! # Keys
//!
//! The edge signs its frames with the service's edge key exactly as a
//! remote edge would, and the frames go through the same verification and
//! replay guard. With no edge key configured, [`with_edge_key`] generates a
//! random one for the life of the process.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kefu_edge::http::ResponseSink;
use kefu_edge::memory::{
    MemoryPlatform, StreamedFuture, StreamedResponse, Upstream, UpstreamFuture,
};
use kefu_edge::{
    Edge, EdgeConfig, EdgeRequest, EdgeResponse, Method, Secret, UpstreamError, UpstreamRequest,
    UpstreamResponse,
};
use tower::ServiceExt;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::{Error, Result};

/// The in-process edge.
pub type InProcessEdge = Arc<Edge<MemoryPlatform>>;

/// The base URL the in-process edge believes the regional service is at
/// (only the path reaches the router).
pub const IN_PROCESS_URL: &str = "http://in-process.kefu.invalid";

/// `config` with an edge key: the configured one, or a fresh random key for
/// this process (the in-process edge needs one to sign with).
pub fn with_edge_key(config: Arc<Config>) -> Arc<Config> {
    if config.edge_key.is_some() {
        return config;
    }
    tracing::info!("in-process edge: no edge key configured; using a random key for this process");
    let mut c = (*config).clone();
    c.edge_key = Some(crate::config::Secret::new(crate::rng::hex_token(32)));
    Arc::new(c)
}

/// Builds the edge over `state`'s own router. `state` must have an edge key
/// ([`with_edge_key`]).
pub fn edge(state: &AppState) -> Result<InProcessEdge> {
    let key = state
        .config
        .edge_key
        .as_ref()
        .ok_or_else(|| Error::Invalid("the in-process edge needs an edge key".into()))?;
    let upstream = InProcess(http::router(state.clone()));
    let platform = MemoryPlatform::new(Arc::new(upstream));
    let mut config = EdgeConfig::new(IN_PROCESS_URL, Secret::new(key.expose()))
        .map_err(|e| Error::Invalid(format!("in-process edge: {e}")))?;
    if let Some(l) = state.config.public_limits {
        config.limits = l;
    }
    let edge =
        Edge::new(platform, config).map_err(|e| Error::Invalid(format!("in-process edge: {e}")))?;
    Ok(Arc::new(edge))
}

/// The regional router as the in-process edge's upstream.
struct InProcess(Router);

impl Upstream for InProcess {
    fn call(&self, req: UpstreamRequest) -> UpstreamFuture {
        Box::pin(call(self.0.clone(), req))
    }

    fn call_streaming(&self, req: UpstreamRequest) -> StreamedFuture {
        let api = self.0.clone();
        Box::pin(async move {
            let resp = send(api, req).await?;
            let status = resp.status().as_u16();
            let headers = header_pairs(resp.headers());
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let mut body = resp.into_body().into_data_stream();
            tokio::spawn(async move {
                use futures_util::StreamExt;
                while let Some(piece) = body.next().await {
                    let piece = piece
                        .map(|b| b.to_vec())
                        .map_err(|_| UpstreamError::Unreachable("body".into()));
                    if tx.send(piece).is_err() {
                        return;
                    }
                }
            });
            Ok(StreamedResponse {
                status,
                headers,
                body: rx,
            })
        })
    }
}

fn header_pairs(h: &axum::http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// One request to the regional router, in-process.
async fn send(api: Router, req: UpstreamRequest) -> Result<Response, UpstreamError> {
    let unreachable = |m: &str| UpstreamError::Unreachable(m.to_owned());
    let mut b = axum::http::Request::builder()
        .method(req.method.as_str())
        .uri(req.path());
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let request = b
        .body(Body::from(req.body))
        .map_err(|_| unreachable("bad request"))?;
    api.oneshot(request)
        .await
        .map_err(|_| unreachable("router"))
}

/// One frame to the regional router, in-process.
async fn call(api: Router, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
    let resp = send(api, req).await?;
    let status = resp.status().as_u16();
    let headers = header_pairs(resp.headers());
    // The regional answers are bounded frames (a session is at most ~1 MiB).
    let body = to_bytes(resp.into_body(), 4 << 20)
        .await
        .map_err(|_| UpstreamError::Unreachable("body".into()))?;
    Ok(UpstreamResponse {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// The public widget API: every request goes to the edge.
pub fn router(edge: InProcessEdge) -> Router {
    Router::new().fallback(handle).with_state(edge)
}

async fn handle(State(edge): State<InProcessEdge>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let limit = kefu_edge::http::MAX_BODY_BYTES + 1;
    let body = match to_bytes(body, limit).await {
        Ok(b) => b.to_vec(),
        // Over the limit (or unreadable): the edge answers 413 for a body of
        // MAX_BODY_BYTES + 1 bytes without looking at it.
        Err(_) => vec![0; limit],
    };
    let (path, query) = (
        parts.uri.path().to_owned(),
        parts.uri.query().unwrap_or("").to_owned(),
    );
    let mut er = EdgeRequest::new(Method::parse(parts.method.as_str()), &path);
    er.query = query;
    er.headers = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    er.body = body;
    er.client_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    if er.method == Method::Post && er.path == "/v1/chat" {
        return stream_response(edge, er).await;
    }
    into_response(edge.handle(er).await)
}

/// A chat turn through [`Edge::handle_into`] on its own task: the head
/// comes back as soon as the edge writes it and the body follows as the
/// edge writes it (a model's answer, token by token). The turn finishes even
/// if the visitor goes away.
async fn stream_response(edge: InProcessEdge, er: EdgeRequest) -> Response {
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let (body_tx, body_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut sink = ChannelSink {
            head: Some(head_tx),
            body: body_tx,
        };
        edge.handle_into(er, &mut sink).await;
    });
    let Ok(head) = head_rx.await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = futures_util::stream::unfold(body_rx, |mut rx| async move {
        let piece: Vec<u8> = rx.recv().await?;
        Some((Ok::<_, std::convert::Infallible>(piece), rx))
    });
    into_response(head).map(|_| Body::from_stream(body))
}

/// Sends the head through a oneshot and the body through a channel.
struct ChannelSink {
    head: Option<tokio::sync::oneshot::Sender<EdgeResponse>>,
    body: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
}

impl ResponseSink for ChannelSink {
    fn head(&mut self, status: u16, headers: &[(String, String)]) {
        if let Some(tx) = self.head.take() {
            let mut r = EdgeResponse::empty(status);
            r.headers = headers.to_vec();
            let _ = tx.send(r);
        }
    }

    fn body(&mut self, bytes: &[u8]) {
        // The visitor gone is not an error: the turn is stored regardless.
        let _ = self.body.send(bytes.to_vec());
    }
}

fn into_response(r: EdgeResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, r.body).into_response();
    let h = resp.headers_mut();
    h.remove(axum::http::header::CONTENT_TYPE);
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            h.append(k, v);
        }
    }
    resp
}
