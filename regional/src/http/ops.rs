//! Operational routes: liveness, readiness, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;
use super::api::Health;
use super::error::{ApiError, ErrorBody};

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: storage is open and the writer is running.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Still opening storage", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    match state.storage() {
        Some(_) => Ok(axum::Json(Health {
            status: "ready".into(),
        })),
        None => Err(ApiError::Unavailable("storage is not open yet".into())),
    }
}

/// Prometheus metrics (text exposition format 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Metrics", content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let conversations = match state.storage() {
        Some(s) => {
            let store = s.store().clone();
            tokio::task::spawn_blocking(move || store.conversation_count().ok())
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut out = state.metrics.render(conversations);
            if let Some(g) = state.generator.current() {
                out.push_str(&llm_metrics(&g.gateway));
            }
            out
        },
    )
}

/// The model gateway's queue, waits and breakers, and the brownout level
/// they imply, in the exposition format.
fn llm_metrics(gw: &kefu_llm::Gateway) -> String {
    use std::fmt::Write;
    let s = gw.stats();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# HELP kefu_llm_queue_depth Generations waiting for a model slot.\n# TYPE kefu_llm_queue_depth gauge\nkefu_llm_queue_depth {}",
        s.scheduler.queued
    );
    let _ = writeln!(
        o,
        "# HELP kefu_llm_in_flight Generations running.\n# TYPE kefu_llm_in_flight gauge\nkefu_llm_in_flight {}",
        s.scheduler.in_flight
    );
    let _ = writeln!(
        o,
        "# HELP kefu_llm_queue_wait_ms Moving average of the wait for a model slot, ms.\n# TYPE kefu_llm_queue_wait_ms gauge\nkefu_llm_queue_wait_ms {:.3}",
        s.scheduler.avg_wait_ms
    );
    let _ = writeln!(
        o,
        "# HELP kefu_llm_upstream_attempts_total Upstream calls, retries and fallbacks included.\n# TYPE kefu_llm_upstream_attempts_total counter\nkefu_llm_upstream_attempts_total {}",
        s.attempts
    );
    let _ = writeln!(
        o,
        "# HELP kefu_llm_requests_total Generations asked for.\n# TYPE kefu_llm_requests_total counter\nkefu_llm_requests_total {}",
        s.requests
    );
    let _ = writeln!(
        o,
        "# HELP kefu_llm_breaker_open Whether a backend's circuit is open (1) or half-open (0.5).\n# TYPE kefu_llm_breaker_open gauge"
    );
    for (i, b) in s.backends.iter().enumerate() {
        let v = match b.breaker {
            kefu_core::overload::BreakerState::Closed => 0.0,
            kefu_core::overload::BreakerState::HalfOpen => 0.5,
            kefu_core::overload::BreakerState::Open => 1.0,
        };
        let _ = writeln!(o, "kefu_llm_breaker_open{{backend=\"{i}\"}} {v}");
    }
    let _ = writeln!(
        o,
        "# HELP kefu_llm_load Model capacity in use, queue included (0..1); feeds the brownout level.\n# TYPE kefu_llm_load gauge\nkefu_llm_load {:.3}",
        gw.load()
    );
    o
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::document_json(),
    )
}
