//! kefu-edge-workers: the Cloudflare Workers shim of the kefu edge
//! (workers-rs 0.8, `wasm32-unknown-unknown`, built by `worker-build`).
//!
//! It holds no logic. [`WorkersPlatform`] implements [`kefu_edge::Platform`]
//! over the Worker's bindings and the fetch handler passes each request to
//! [`kefu_edge::Edge::handle`]. Everything the edge does is in kefu-edge.
//!
//! Build: `scripts/build-workers.sh` (worker-build with a pinned
//! wasm-bindgen and binaryen's wasm-opt from npm); deploy with `wrangler.toml`
//! at the repository root.
//!
//! # Bindings (`wrangler.toml`)
//!
//! | binding | kind | what |
//! |---|---|---|
//! | `regional_url` | var | the regional service's base URL |
//! | `regional_secret` | secret | the key edge -> regional frames are signed with |
//! | `limits_json`, `breaker_json` | var, optional | limits and circuit breaker (JSON) |
//! | `KEFU_KV` | KV namespace | every bucket, as `bucket/key` |
//! | `KEFU_LIMITER` | Durable Object (class `Limiter`), optional | exact rate limits, one object per tenant |
//!
//! # Consistency Workers gives
//!
//! - **Workers KV is eventually consistent across locations** (a write can
//!   take up to about a minute to be seen elsewhere) and read-your-writes
//!   only within a location. Sessions and tenant configs are re-fetched from
//!   the regional service when missing, so a visitor who moves between
//!   locations loses nothing; cached answers are keyed by KB version, so a
//!   stale read is an older version's key, never a wrong answer.
//! - **Rate limits are exact with the `KEFU_LIMITER` Durable Object**
//!   (the shipped `wrangler.toml` binds it): each tenant's windows live in
//!   one [`Limiter`] object, which checks and counts a turn in one step, so
//!   no burst, from one location or many, passes more than a limit. The
//!   price is one call to the object per turn (it lives in one location:
//!   a few ms nearby, more across the world) and per-address limits count
//!   per tenant. Without the binding, windows are KV values (no
//!   compare-and-swap), so concurrent requests, and requests in different
//!   locations, can each admit up to the limit.
//! - KV's shortest TTL is 60 s. The expiry is stored with each value and
//!   enforced on read, so a 10-second window still ends after 10 s; KV
//!   removes the entry itself at the later of the two.
//! - The outbox (turns answered at the edge while the regional service is
//!   unreachable) lives in KV: it survives isolate restarts and is delivered
//!   exactly once (reports are idempotent at the regional service).
//! - The client address for per-IP limits is Cloudflare's
//!   `cf-connecting-ip`, which a client cannot set on Cloudflare; under a
//!   local `workerd`/`wrangler dev` there is none and per-IP limits are off.
//! - A turn asked for as an event stream is streamed: the response body
//!   is a `ReadableStream` whose pulls drive the turn, so each `delta` the
//!   regional service writes reaches the visitor as it comes.

use std::cell::RefCell;
use std::rc::Rc;

use kefu_edge::{Edge, EdgeConfig};

mod limiter;
mod platform;

pub use limiter::Limiter;
pub use platform::WorkersPlatform;

/// How long a client should wait when the edge is misconfigured, ms.
const MISCONFIGURED_RETRY_MS: u64 = 60_000;

thread_local! {
    /// The isolate's edge, configured on its first request.
    static EDGE: RefCell<Option<Rc<Edge<WorkersPlatform>>>> = const { RefCell::new(None) };
}

async fn edge(env: &worker::Env) -> Result<Rc<Edge<WorkersPlatform>>, kefu_edge::ConfigError> {
    if let Some(e) = EDGE.with_borrow(Clone::clone) {
        return Ok(e);
    }
    let platform = WorkersPlatform::new(env.clone());
    let config = EdgeConfig::from_platform(&platform).await?;
    let edge = Rc::new(Edge::new(platform, config)?);
    Ok(EDGE.with_borrow_mut(|slot| Rc::clone(slot.get_or_insert(edge))))
}

/// The Worker's fetch handler.
#[worker::event(fetch)]
pub async fn fetch(
    mut req: worker::Request,
    env: worker::Env,
    _ctx: worker::Context,
) -> worker::Result<worker::Response> {
    let resp = match platform::edge_request(&mut req).await {
        Err(resp) => resp,
        Ok(er) => match edge(&env).await {
            // A chat turn asked for as an event stream: the model's text is
            // written to the visitor as the regional service streams it.
            Ok(edge) if kefu_edge::streaming::wanted(&er) => return stream(edge, er).await,
            Ok(edge) => edge.handle(er).await,
            Err(e) => {
                // Names the setting, never its value.
                worker::console_error!("kefu-edge-workers: configuration: {e}");
                kefu_edge::error::Error::Unavailable {
                    retry_after_ms: MISCONFIGURED_RETRY_MS,
                }
                .to_response()
            }
        },
    };
    platform::worker_response(resp)
}

/// Most outbox reports one cron run delivers (each up to a report's worth
/// of turns); the next run takes the rest.
const FLUSH_ROUNDS: usize = 8;

/// The cron trigger (`[triggers] crons` in `wrangler.toml`): delivers the
/// turns the edge answered itself that still wait in the outbox. Requests
/// deliver them on their way to the regional service; this is for a quiet
/// edge, whose last cache hits would otherwise wait for the next visitor.
#[worker::event(scheduled)]
pub async fn scheduled(
    _event: worker::ScheduledEvent,
    env: worker::Env,
    _ctx: worker::ScheduleContext,
) {
    let edge = match edge(&env).await {
        Ok(e) => e,
        Err(e) => {
            worker::console_error!("kefu-edge-workers: configuration: {e}");
            return;
        }
    };
    for _ in 0..FLUSH_ROUNDS {
        match edge.flush_outbox().await {
            Ok(0) => break,
            Ok(_) => {}
            Err(_) => {
                worker::console_error!(
                    "kefu-edge-workers: outbox delivery failed; the next run retries"
                );
                break;
            }
        }
    }
}

/// Answers with the head at once and a body the runtime's pulls drive
/// ([`kefu_edge::streaming`]).
async fn stream(
    edge: Rc<Edge<WorkersPlatform>>,
    req: kefu_edge::EdgeRequest,
) -> worker::Result<worker::Response> {
    use futures_util::StreamExt;
    let Some((head, pieces)) = kefu_edge::streaming::answer(edge, req).await else {
        return platform::worker_response(kefu_edge::error::Error::BadUpstream.to_response());
    };
    let headers = worker::Headers::new();
    for (k, v) in &head.headers {
        headers.append(k, v)?;
    }
    Ok(
        worker::Response::from_stream(pieces.map(Ok::<_, worker::Error>))?
            .with_status(head.status)
            .with_headers(headers),
    )
}
