//! [`Edge`]: the configured handler a shim calls once per request.

use std::sync::{Mutex, MutexGuard, PoisonError};

use kefu_core::CircuitBreaker;
use kefu_core::overload::BreakerState;

use crate::config::{ConfigError, EdgeConfig};
use crate::http::{EdgeRequest, EdgeResponse, ResponseSink};
use crate::memo::Memo;
use crate::platform::Platform;
use crate::{Error, pipeline, routes};

/// The edge: a platform, a configuration and the per-instance circuit
/// breaker around regional calls.
///
/// Build one per instance (a Spin instance may serve one request; a Worker
/// isolate or the native process many) and call [`Edge::handle`] per
/// request. It is `Sync` when the platform is, so the native mode shares one
/// behind an `Arc`.
#[derive(Debug)]
pub struct Edge<P> {
    pub(crate) platform: P,
    pub(crate) config: EdgeConfig,
    /// In instance memory; the open state is also published to the store
    /// (see the crate docs), so instances that just started learn of it.
    pub(crate) breaker: Mutex<CircuitBreaker>,
    /// What the instance remembers between requests ([`Memo`]).
    pub(crate) memo: Mutex<Memo>,
}

impl<P: Platform> Edge<P> {
    /// An edge over `platform` with `config` (validated here).
    pub fn new(platform: P, config: EdgeConfig) -> Result<Edge<P>, ConfigError> {
        config.validate()?;
        let breaker = CircuitBreaker::new(config.breaker).map_err(|e| ConfigError {
            setting: crate::config::settings::BREAKER_JSON,
            message: e.to_string(),
        })?;
        Ok(Edge {
            platform,
            config,
            breaker: Mutex::new(breaker),
            memo: Mutex::new(Memo::default()),
        })
    }

    /// Answers one request. Never fails: every error is a JSON error
    /// response with its status.
    pub async fn handle(&self, req: EdgeRequest) -> EdgeResponse {
        let mut r = EdgeResponse::empty(500);
        self.handle_into(req, &mut r).await;
        r
    }

    /// Answers one request into `sink`, for a shim that can stream a body:
    /// a chat turn asked for as `text/event-stream` then passes the model's
    /// text on as the regional service writes it. Every other response is
    /// written whole.
    pub async fn handle_into(&self, req: EdgeRequest, sink: &mut dyn ResponseSink) {
        routes::route_into(self, req, sink).await
    }

    /// Delivers up to one report's worth of turns waiting in the outbox to
    /// the regional service; returns how many were delivered. Requests do
    /// this on their way to the regional service; a shim may also call it
    /// from a scheduled trigger (Workers cron, Spin cron, a tokio interval)
    /// so that turns answered at the edge reach the regional store even
    /// when no further request comes.
    pub async fn flush_outbox(&self) -> Result<usize, Error> {
        pipeline::outbox::deliver(self, None)
            .await
            .map_err(|_| Error::Unavailable {
                retry_after_ms: 5_000,
            })
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The configuration.
    pub fn config(&self) -> &EdgeConfig {
        &self.config
    }

    /// The instance's breaker state now.
    pub fn breaker_state(&self) -> BreakerState {
        let now = self.platform.now_ms();
        self.breaker().state(now)
    }

    /// The breaker, even if a panic elsewhere poisoned its lock (its state
    /// is always consistent between calls).
    pub(crate) fn breaker(&self) -> MutexGuard<'_, CircuitBreaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The instance's memo (see [`Memo`]); never held across an `.await`.
    pub(crate) fn memo(&self) -> MutexGuard<'_, Memo> {
        self.memo.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
