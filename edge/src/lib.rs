//! kefu-edge: the platform-neutral edge handlers.
//!
//! The edge serves the widget, checks who is talking, enforces the rate
//! limits, keeps sessions at hand, answers repeated questions from a cache
//! scoped to tenant + knowledge-base version + locale, forwards everything
//! else to the regional service as signed MessagePack frames
//! ([`kefu_core::wire`]), and when the regional service is slow or down,
//! acknowledges and keeps the message instead of dropping it.
//!
//! The same code runs on Fermyon Spin (`wasm32-wasip2`), Cloudflare Workers
//! (`wasm32-unknown-unknown`) and natively inside the regional binary. It
//! never names a platform type: a shim implements [`Platform`] (key-value,
//! clock, randomness, the outbound call, settings), translates requests to
//! [`EdgeRequest`] and calls [`Edge::handle`].
//!
//! # Map
//!
//! - [`platform`]: the [`Platform`] trait and the upstream request types.
//! - [`http`]: [`EdgeRequest`], [`EdgeResponse`]; [`routes`]: the route table;
//!   [`handlers`]: parse, call the pipeline, render; [`cors`].
//! - [`pipeline`]: the logic, as plain `async fn`s over [`Edge`].
//! - [`store`]: the records kept in the platform's key-value store.
//! - [`config`]: [`EdgeConfig`], validated once; [`error`]: [`Error`] and
//!   its one mapping to status codes.
//! - `memory` (feature `native`): `memory::MemoryPlatform`, for tests and
//!   the regional binary's in-process mode.
//!
//! # The public API
//!
//! | route | what |
//! |---|---|
//! | `GET /healthz` | the edge is up |
//! | `GET /widget.js[?v=hash]` | the widget; immutable for a year under its hash |
//! | `POST /v1/chat` | one turn ([`handlers::chat`]) |
//! | `GET /v1/conversations/{id}/messages?since=N` | catch up, long-polling ([`handlers::messages`]) |
//! | `OPTIONS` on both API routes | CORS preflight (needs `?widget_key=`) |
//!
//! Errors are `{"error":{"code","message"}}`: 400 malformed, 401 unknown
//! widget key or bad visitor signature, 403 origin, 404, 405, 413 body over
//! 16 KiB, 415 not JSON, 429 with `Retry-After`, 502 unusable regional
//! answer, 503 with `Retry-After` when nothing can be done now.
//!
//! # Async, `Send` and the native mode
//!
//! [`Platform`]'s I/O methods return `impl Future` with no `Send` bound,
//! because the wasm platforms' futures are not `Send`. The native
//! `memory::MemoryPlatform`'s futures are, and for a concrete platform the
//! compiler knows that, so `Edge<MemoryPlatform>::handle` is a `Send` future
//! (asserted in the tests) that runs on tokio's multi-threaded runtime
//! directly — no `LocalSet`, no `spawn_blocking`. No lock is held across an
//! `.await`.
//!
//! # State and its consistency
//!
//! All state is in the platform's key-value store ([`store`] lists the
//! records), plus two things in instance memory: the circuit breaker, and a
//! memo (the tenant config kept decoded while fresh, the outbox's
//! per-instance count) that only saves reads and never decides alone.
//!
//! - **Sessions** are the edge's copy; the regional service is the source of
//!   truth. After a forwarded turn the copy is kept only if its sequence
//!   numbers agree with the regional answer; otherwise it is dropped and
//!   fetched again. A long poll replaces it with the regional copy.
//! - **Rate limits** are checked and counted in one serialised step where
//!   the platform offers one ([`Platform::check_limits`]: the Workers
//!   shim's Durable Object, the in-process platform's lock), exact under
//!   any concurrency. Elsewhere the edge reads, checks and writes a window
//!   per key, and concurrent requests on other instances can race (Spin
//!   key-value, Workers KV without the Durable Object: approximate). See
//!   [`pipeline::limits`].
//! - **The circuit breaker** lives in instance memory. When it opens, the
//!   instance also writes "down until" to the store, which every instance
//!   reads before calling the regional service; a Spin instance that lives
//!   for one request thus still skips a regional service another instance
//!   found down.
//! - **The outbox** is one key per turn, deleted only after the regional
//!   service took the report; reports are idempotent there, so a turn is
//!   recorded exactly once even when a delivery is repeated. Cache hits are
//!   reported in batches, or one by one where the store is instance memory
//!   (see [`pipeline::outbox`]).
//!
//! # Sequence numbers of edge-answered turns
//!
//! A cache hit or acknowledgement gets its `seq` from the edge's copy of the
//! session. The regional service assigns the same numbers when it applies
//! the report, unless it recorded turns of its own (an agent message) in the
//! meantime; then the widget's next catch-up shows the regional numbering.
//! Widgets should de-duplicate their own messages by `client_msg_id`, and
//! let a catch-up message replace what they show under the same `seq` (a
//! turn acknowledged at a deadline may have been answered regionally after
//! all; the report of the acknowledgement is then a no-op there).
//!
//! # What the regional service answers
//!
//! Every call is `POST {regional_url}{path}` with a signed MessagePack frame
//! (`content-type: application/msgpack`, [`kefu_core::wire::SIGNATURE_HEADER`]):
//!
//! | path | frame | answer |
//! |---|---|---|
//! | [`paths::TENANT_CONFIG`](kefu_core::wire::paths::TENANT_CONFIG) | `TenantConfigRequest` | `TenantConfig`, or 404 for an unknown widget key |
//! | [`paths::TURN`](kefu_core::wire::paths::TURN) | `TurnRequest` | `TurnResponse`; `conversation: None` opens one; a known `client_msg_id` returns the recorded answer |
//! | [`paths::REPORT`](kefu_core::wire::paths::REPORT) | `EdgeReport` | any 2xx once applied; must open a conversation it does not know (the edge opened it), and apply idempotently |
//! | [`paths::SESSION`](kefu_core::wire::paths::SESSION) | `SessionRequest` | `SessionResponse`, held up to `wait_ms` until a turn after `since` exists |
//!
//! For the circuit breaker, a timeout, a failed connection, a 5xx or a 429
//! is a failure; any other answer shows a live service.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
pub mod cors;
mod edge;
pub mod error;
pub mod handlers;
pub mod http;
mod memo;
#[cfg(feature = "native")]
pub mod memory;
pub mod pipeline;
pub mod platform;
pub mod routes;
pub mod store;
pub mod streaming;

pub use config::{ConfigError, EdgeConfig, Secret, WidgetAsset};
pub use edge::Edge;
pub use error::Error;
pub use http::{EdgeRequest, EdgeResponse, Method};
pub use platform::{
    KvBucket, LimitCheck, LimitSpec, LimitVerdict, OnChunk, Platform, PlatformError, UpstreamError,
    UpstreamRequest, UpstreamResponse,
};
