//! The HTTP API: axum router, extractors, the one error type, OpenAPI.
//!
//! - [`routes`]: the table of method + path -> handler.
//! - [`admin`], [`conversations`], [`ops`]: thin handlers.
//! - [`extract`]: JSON/query/path extractors answering in the error shape,
//!   and the two credentials ([`extract::Operator`], [`extract::Tenant`]).
//! - [`error::ApiError`]: every failure's status and JSON body.
//! - [`openapi`]: the generated document at `/openapi.json`.

pub mod admin;
pub mod agents;
pub mod api;
pub mod audit;
pub mod console;
pub mod conversations;
pub mod edge;
pub mod error;
pub mod extract;
pub mod kb;
pub mod limit;
pub mod llm_admin;
pub mod openapi;
pub mod ops;
pub mod routes;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Storage;
use error::ApiError;
use limit::Limiter;

/// What every handler can reach. Cheap to clone (all `Arc`s).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Service metrics.
    pub metrics: Arc<Metrics>,
    /// Request counters for 429s.
    pub limiter: Arc<Limiter>,
    /// The edge's door, if an edge key is configured.
    pub edge: Option<Arc<crate::edge::EdgeDoor>>,
    /// Grounded generation, if a model is configured (hot-swappable).
    pub generator: Arc<crate::answer::GeneratorSlot>,
    /// Agent sessions and presence.
    pub console: Arc<crate::console::Console>,
    storage: Arc<OnceLock<Storage>>,
}

impl AppState {
    /// A state whose storage is not open yet (`/readyz` answers 503 until
    /// [`AppState::set_storage`]).
    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> AppState {
        let edge = config
            .edge_key
            .clone()
            .map(|k| Arc::new(crate::edge::EdgeDoor::new(k)));
        let generator = Arc::new(crate::answer::GeneratorSlot::new(
            crate::answer::Generator::from_config(&config.llm),
        ));
        AppState {
            config,
            metrics,
            limiter: Arc::default(),
            edge,
            generator,
            console: Arc::default(),
            storage: Arc::default(),
        }
    }

    /// Marks storage open; from now on the service is ready.
    pub fn set_storage(&self, storage: Storage) {
        let _ = self.storage.set(storage);
    }

    /// The storage, once open.
    pub fn storage(&self) -> Option<Storage> {
        self.storage.get().cloned()
    }
}

/// Builds the router over `state`: the route table, the body limit, JSON
/// answers for unknown routes and methods, and request logging.
pub fn router(state: AppState) -> Router {
    let limit = state.config.limits.max_body_bytes;
    let mut r = Router::new();
    for route in routes::table() {
        r = r.route(route.path, route.handler);
    }
    r.fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

/// Logs method, route template, status and latency — never the concrete
/// path (ids), the query, headers or bodies.
async fn log_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |m| m.as_str().to_owned());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    state.metrics.record_response(status);
    tracing::info!(%method, route, status, ms = started.elapsed().as_millis() as u64, "request");
    resp
}
