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
use kefu_edge::memory::MemoryPlatform;
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
    let api = http::router(state.clone());
    let upstream = move |req: UpstreamRequest| {
        let api = api.clone();
        async move { call(api, req).await }
    };
    let platform = MemoryPlatform::new(Arc::new(upstream));
    let config = EdgeConfig::new(IN_PROCESS_URL, Secret::new(key.expose()))
        .map_err(|e| Error::Invalid(format!("in-process edge: {e}")))?;
    let edge =
        Edge::new(platform, config).map_err(|e| Error::Invalid(format!("in-process edge: {e}")))?;
    Ok(Arc::new(edge))
}

/// One frame to the regional router, in-process.
async fn call(api: Router, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
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
    let resp = api
        .oneshot(request)
        .await
        .map_err(|_| unreachable("router"))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    // The regional answers are bounded frames (a session is at most ~1 MiB).
    let body = to_bytes(resp.into_body(), 4 << 20)
        .await
        .map_err(|_| unreachable("body"))?;
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
    into_response(edge.handle(er).await)
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

/// Delivers the in-process edge's outbox (turns it answered itself while
/// the regional side was slow) every few seconds until `stop` flips.
pub async fn outbox_task(edge: InProcessEdge, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = edge.flush_outbox().await {
            tracing::debug!(error = %e, "in-process edge: outbox not delivered yet");
        }
    }
}
