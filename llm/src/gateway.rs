//! The gateway the service calls: fair scheduling, then the backends in
//! order, each behind a circuit breaker, with a retry budget.
//!
//! - A request first waits for its tenant's turn ([`FairScheduler`]).
//! - Backends are tried in their configured order. One whose breaker is
//!   open (kefu-core's [`CircuitBreaker`]: it rests for its cool-down, then
//!   lets probes through) is skipped.
//! - A backend succeeded once it produced its first token; failures before
//!   that (error status, timeout, no connection) count against its breaker
//!   and move on to the next backend, if the retry budget allows. After the
//!   first token the stream is the caller's: a later failure ends it with
//!   an error and is not retried (the visitor has seen text).
//! - More than `max_queue` waiting requests: refused at once with
//!   [`LlmError::Overloaded`] (the caller answers extractively).
//! - The retry budget is a token bucket that earns 0.1 per request and
//!   spends 1 per retry, so under total failure upstream attempts stay
//!   below 1.1 per request on average (plus a one-retry reserve).
//!
//! [`CircuitBreaker`]: kefu_core::overload::CircuitBreaker

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::StreamExt;
use kefu_core::overload::{BreakerConfig, BreakerState, CircuitBreaker, Outcome};

use crate::{FairScheduler, GenerateRequest, LlmBackend, LlmError, TokenStream};

/// Gateway settings.
#[derive(Debug, Clone, Copy)]
pub struct GatewayConfig {
    /// Generations at once across all tenants.
    pub capacity: usize,
    /// Generations at once for one tenant.
    pub per_tenant: usize,
    /// Generations at once on one backend (0: no cap beyond `capacity`). A
    /// backend at its cap is passed over for the next one in order; when
    /// every backend is at its cap the request is refused as
    /// [`LlmError::Overloaded`] (the caller answers without a model).
    pub per_backend: usize,
    /// Each backend's breaker.
    pub breaker: BreakerConfig,
    /// Retry tokens earned per request.
    pub retry_ratio: f64,
    /// The most retry tokens saved up.
    pub retry_reserve: f64,
    /// Requests waiting beyond this many are refused with
    /// [`LlmError::Overloaded`].
    pub max_queue: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            capacity: 8,
            per_tenant: 4,
            per_backend: 0,
            breaker: BreakerConfig::default(),
            retry_ratio: 0.1,
            retry_reserve: 1.0,
            max_queue: 256,
        }
    }
}

/// One backend's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendStats {
    /// Its name.
    pub name: String,
    /// Its breaker.
    pub breaker: BreakerState,
    /// Its generations streaming now.
    pub in_flight: usize,
}

/// Gateway figures for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayStats {
    /// The scheduler.
    pub scheduler: crate::SchedulerStats,
    /// The backends, in order.
    pub backends: Vec<BackendStats>,
    /// Upstream attempts so far.
    pub attempts: u64,
    /// Requests so far.
    pub requests: u64,
}

#[derive(Debug)]
struct Counters {
    budget: f64,
    attempts: u64,
    requests: u64,
}

/// A backend, its breaker and its running generations.
type Guarded = (Arc<dyn LlmBackend>, Mutex<CircuitBreaker>, Arc<AtomicUsize>);

/// One running generation on a backend; counts itself out on drop.
struct Running(Arc<AtomicUsize>);

impl Running {
    /// Counts one more generation on the backend, unless `cap` (0: none)
    /// are running already.
    fn try_new(n: &Arc<AtomicUsize>, cap: usize) -> Option<Running> {
        n.fetch_update(Ordering::AcqRel, Ordering::Acquire, |k| {
            (cap == 0 || k < cap).then_some(k + 1)
        })
        .ok()?;
        Some(Running(n.clone()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The gateway. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    backends: Arc<Vec<Guarded>>,
    scheduler: FairScheduler,
    config: GatewayConfig,
    counters: Arc<Mutex<Counters>>,
    epoch: Instant,
}

impl Gateway {
    /// A gateway over `backends`, tried in this order.
    pub fn new(
        backends: Vec<Arc<dyn LlmBackend>>,
        config: GatewayConfig,
    ) -> Result<Gateway, LlmError> {
        let mut list = Vec::with_capacity(backends.len());
        for b in backends {
            let br = CircuitBreaker::new(config.breaker)
                .map_err(|e| LlmError::Protocol(e.to_string()))?;
            list.push((b, Mutex::new(br), Arc::new(AtomicUsize::new(0))));
        }
        Ok(Gateway {
            backends: Arc::new(list),
            scheduler: FairScheduler::new(config.capacity, config.per_tenant),
            config,
            counters: Arc::new(Mutex::new(Counters {
                budget: config.retry_reserve,
                attempts: 0,
                requests: 0,
            })),
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether any backend is configured.
    pub fn is_configured(&self) -> bool {
        !self.backends.is_empty()
    }

    /// The backends' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.backends
            .iter()
            .map(|(b, _, _)| b.name().to_owned())
            .collect()
    }

    /// Generates for `req`: the stream of the first backend that produced a
    /// token. The tenant's scheduler slot is held until the stream is dropped.
    pub async fn generate(&self, req: GenerateRequest) -> Result<TokenStream, LlmError> {
        if self.backends.is_empty() {
            return Err(LlmError::NotConfigured);
        }
        if self.scheduler.stats().queued >= self.config.max_queue {
            return Err(LlmError::Overloaded);
        }
        let slot = self.scheduler.acquire(&req.tenant).await;
        {
            let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
            c.requests += 1;
            c.budget = (c.budget + self.config.retry_ratio)
                .min(self.config.retry_reserve.max(1.0) + self.config.retry_ratio);
        }
        let mut last = LlmError::Unavailable;
        let mut tried = 0u32;
        let mut full = 0u32;
        for (backend, breaker, running) in self.backends.iter() {
            // A backend at its cap is passed over (not an attempt, no retry
            // budget spent).
            let Some(run) = Running::try_new(running, self.config.per_backend) else {
                full += 1;
                continue;
            };
            let started = self.now_ms();
            let permit = match breaker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .try_acquire(started)
            {
                Ok(p) => p,
                Err(_) => continue,
            };
            if tried > 0 {
                let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
                if c.budget < 1.0 {
                    // Out of retries: hand the permit back unused.
                    drop(c);
                    breaker.lock().unwrap_or_else(|p| p.into_inner()).record(
                        started,
                        permit,
                        Outcome::Success { latency_ms: 0 },
                    );
                    break;
                }
                c.budget -= 1.0;
            }
            tried += 1;
            self.counters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .attempts += 1;
            let first = match backend.generate(req.clone()).await {
                Ok(mut s) => match s.next().await {
                    Some(Ok(tok)) => Ok((tok, s)),
                    Some(Err(e)) => Err(e),
                    None => Err(LlmError::Protocol("an empty answer".into())),
                },
                Err(e) => Err(e),
            };
            let now = self.now_ms();
            match first {
                Ok((tok, rest)) => {
                    let latency_ms = now.saturating_sub(started);
                    breaker.lock().unwrap_or_else(|p| p.into_inner()).record(
                        now,
                        permit,
                        Outcome::Success { latency_ms },
                    );
                    let head = futures_util::stream::once(async move { Ok(tok) });
                    // The slot rides along with the stream and frees on drop.
                    let s = head.chain(rest).map(move |item| {
                        let _hold = (&slot, &run);
                        item
                    });
                    return Ok(Box::pin(s));
                }
                Err(e) => {
                    tracing::warn!(backend = backend.name(), error = %e, "model backend failed before its first token");
                    breaker.lock().unwrap_or_else(|p| p.into_inner()).record(
                        now,
                        permit,
                        Outcome::Failure,
                    );
                    last = e;
                }
            }
        }
        Err(match (tried, full) {
            (0, f) if f > 0 => LlmError::Overloaded,
            (0, _) => LlmError::CircuitOpen,
            _ => last,
        })
    }

    /// Current figures.
    pub fn stats(&self) -> GatewayStats {
        let now = self.now_ms();
        let c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        GatewayStats {
            scheduler: self.scheduler.stats(),
            backends: self
                .backends
                .iter()
                .map(|(b, br, running)| BackendStats {
                    name: b.name().to_owned(),
                    breaker: br.lock().unwrap_or_else(|p| p.into_inner()).state(now),
                    in_flight: running.load(Ordering::Relaxed),
                })
                .collect(),
            attempts: c.attempts,
            requests: c.requests,
        }
    }

    /// How loaded the model capacity is, 0.0..=1.0 (queue included), for
    /// the brownout level.
    pub fn load(&self) -> f64 {
        let s = self.scheduler.stats();
        ((s.in_flight + s.queued) as f64 / s.capacity.max(1) as f64 / 2.0).min(1.0)
    }
}
