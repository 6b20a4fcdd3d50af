//! kefu-edge-spin: the Spin shim of the kefu edge, a `wasm32-wasip2`
//! component exporting `wasi:http/handler@0.3`.
//!
//! It holds no logic. [`platform::SpinPlatform`] implements
//! [`kefu_edge::Platform`] over Spin and WASI, [`convert`] translates HTTP
//! types, and the handler below passes each request to
//! [`kefu_edge::Edge::handle`]. Everything the edge does (tenants, limits,
//! sessions, cache, forwarding, store-and-forward) is in kefu-edge.
//!
//! Build: `scripts/build-edge.sh`, or
//! `cargo build -p kefu-edge-spin --target wasm32-wasip2 --profile wasm-release`
//! (add `--features wasmtime-serve` for plain wasmtime).
//!
//! # Two builds
//!
//! | | Spin (default) | feature `wasmtime-serve` |
//! |---|---|---|
//! | runs on | Spin (`spin.toml`) | `wasmtime serve -S cli` |
//! | key-value | Spin key-value, store `default`; buckets are key prefixes; TTL stored with the value | instance memory |
//! | settings | Spin variables `regional_url`, `regional_secret`, `limits_json`, `breaker_json` | env `SPIN_VARIABLE_REGIONAL_URL`, ... (`--env`) |
//! | client address (per-IP limits) | Spin's `spin-client-addr` header | none: per-IP limits are off, per-visitor and per-tenant limits apply |
//!
//! The choice is at build time, not a runtime probe: a component that
//! imports `spin:key-value` fails to *link* under `wasmtime serve` before
//! any code could probe, so the `wasmtime-serve` build must not import it.
//!
//! # Consistency each platform gives
//!
//! **Spin.** State is in the Spin key-value store, shared by every instance
//! of the application on that Spin host (a SQLite file by default; what a
//! hosted Spin platform puts behind the label decides the rest).
//! - Reads see earlier writes of the same host (read-your-writes); there is
//!   no compare-and-swap, so two concurrent requests can both read a
//!   rate-limit window and both write it: a limit can admit a few more
//!   requests than configured under concurrency, never fewer.
//! - TTLs are enforced on read (the expiry is stored with the value);
//!   expired entries nobody reads again stay in the store until read or
//!   overwritten.
//! - Spin starts a fresh instance per request, so the circuit breaker
//!   (instance memory) starts closed each time; the "regional down until"
//!   marker kefu-edge writes to the store is what carries an outage across
//!   requests.
//! - The outbox (turns answered at the edge) survives instance and host
//!   restarts as far as the store does, and is delivered exactly once
//!   (idempotent reports at the regional service).
//!
//! **Plain wasmtime (`wasmtime-serve`).** State lives in the instance's
//! memory, and the regional service is the source of truth.
//! - `wasmtime serve` reuses one instance for up to 128 requests by
//!   default (`--max-instance-reuse-count`) and may run several; each has
//!   its own store. Sessions and tenant configs missing in an instance are
//!   fetched from the regional service again; cached answers and rate-limit
//!   windows are per instance, so limits are approximate (at most the
//!   configured rate per instance) and the cache hit rate is lower.
//! - With `--max-instance-reuse-count 1` nothing survives a request: every
//!   turn goes to the regional service and limits do not hold across
//!   requests.
//! - **There is no outbox.** Instance memory dies with the instance
//!   (retired after its 128th request or 1 s idle, or with the process),
//!   so nothing a visitor was told of is kept only there
//!   ([`kefu_edge::Platform::durable_outbox`] is false): each cache hit is
//!   in the regional store before its answer, and while the regional
//!   service is down the visitor gets 503 with Retry-After instead of "we
//!   received your message"; the widget keeps the message and sends it
//!   again (same client message id, so it is stored once). Store-and-forward
//!   across an outage needs the Spin build (durable key-value), Workers, or
//!   the in-process mode of `kefu-regional`.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

pub mod convert;
pub mod kv;
pub mod platform;

use std::cell::RefCell;
use std::rc::Rc;

use kefu_edge::error::Error;
use kefu_edge::{Edge, EdgeConfig};
use spin_sdk::http::{FullBody, Request};

use crate::platform::SpinPlatform;

thread_local! {
    /// The instance's edge, configured on its first request.
    static EDGE: RefCell<Option<Rc<Edge<SpinPlatform>>>> = const { RefCell::new(None) };
}

/// How long a client should wait when the edge is misconfigured, ms.
const MISCONFIGURED_RETRY_MS: u64 = 60_000;

/// The instance's edge, built from the platform settings on first use.
async fn edge() -> Result<Rc<Edge<SpinPlatform>>, kefu_edge::ConfigError> {
    if let Some(e) = EDGE.with_borrow(Clone::clone) {
        return Ok(e);
    }
    let platform = SpinPlatform::default();
    let config = EdgeConfig::from_platform(&platform).await?;
    let edge = Rc::new(Edge::new(platform, config)?);
    // Another request of this instance may have finished first; keep one.
    Ok(EDGE.with_borrow_mut(|slot| Rc::clone(slot.get_or_insert(edge))))
}

/// The response body: whole, or streamed as the edge writes it.
type Body = http_body_util::Either<FullBody<bytes::Bytes>, StreamedBody>;

/// A body the edge writes as the turn runs (the turn itself is driven by
/// polling this body).
type StreamedBody = http_body_util::StreamBody<
    std::pin::Pin<
        Box<
            dyn futures::Stream<
                    Item = Result<http_body::Frame<bytes::Bytes>, std::convert::Infallible>,
                >,
        >,
    >,
>;

/// The component's HTTP entry point.
#[spin_sdk::http_service]
async fn handle(req: Request) -> http::Response<Body> {
    let resp = match convert::edge_request(req).await {
        Err(resp) => resp,
        Ok(req) => match edge().await {
            // A chat turn asked for as an event stream: the model's text is
            // written to the visitor as the regional service streams it.
            Ok(edge) if kefu_edge::streaming::wanted(&req) => return stream(edge, req).await,
            Ok(edge) => edge.handle(req).await,
            Err(e) => {
                // Names the setting, never its value.
                eprintln!("kefu-edge-spin: configuration: {e}");
                Error::Unavailable {
                    retry_after_ms: MISCONFIGURED_RETRY_MS,
                }
                .to_response()
            }
        },
    };
    convert::spin_response(resp).map(http_body_util::Either::Left)
}

/// Answers with the head at once and a body the host's polls drive
/// ([`kefu_edge::streaming`]).
async fn stream(edge: Rc<Edge<SpinPlatform>>, req: kefu_edge::EdgeRequest) -> http::Response<Body> {
    use futures::StreamExt;
    let Some((head, pieces)) = kefu_edge::streaming::answer(edge, req).await else {
        return convert::spin_response(Error::BadUpstream.to_response())
            .map(http_body_util::Either::Left);
    };
    let frames = pieces.map(|b| Ok(http_body::Frame::data(bytes::Bytes::from(b))));
    let body: StreamedBody = http_body_util::StreamBody::new(Box::pin(frames));
    convert::spin_response(head).map(|_| http_body_util::Either::Right(body))
}
