//! The capabilities the edge needs from the platform it runs on, as one
//! small trait: key-value storage, a clock, randomness, the outbound call to
//! the regional service, and settings (config and secrets).
//!
//! Each shim (Spin, Workers, the in-process `memory` platform)
//! implements [`Platform`] over its own bindings; nothing above this module
//! names a platform type.
//!
//! # Async and `Send`
//!
//! The I/O methods return `impl Future` *without* a `Send` bound: Spin's and
//! workers-rs's futures are not `Send` (wasm is single-threaded), and a bound
//! here would shut them out. For a concrete platform whose futures are `Send`
//! (the native `memory::MemoryPlatform`), the compiler sees through
//! the concrete types, so `Edge<MemoryPlatform>::handle(..)` is itself a
//! `Send` future that a multi-threaded tokio runtime can spawn; the crate's
//! tests assert that at compile time. The edge never holds a lock across an
//! `.await`.

use core::fmt;
use core::future::Future;

use kefu_core::ratelimit::{LimitKind, MultiDecision, check_all};
use kefu_core::{Limit, SlidingWindow};
use serde::{Deserialize, Serialize};

use crate::http::Method;

/// A group of keys with one purpose. A shim may map each bucket to its own
/// store (Spin key-value store, Workers KV namespace, Durable Object) or all
/// of them to one store with [`KvBucket::as_str`] and `/` prefixed to keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvBucket {
    /// Tenant configs by widget key (and "unknown key" markers).
    Tenants,
    /// Sessions by conversation id.
    Sessions,
    /// Rate-limit windows.
    Limits,
    /// Cached answers by [`kefu_core::CacheKey`].
    Cache,
    /// Turns the edge answered itself, waiting to be reported.
    Outbox,
    /// What the edge knows about the regional service (brownout, outage).
    State,
}

impl KvBucket {
    /// Every bucket.
    pub const ALL: [KvBucket; 6] = [
        KvBucket::Tenants,
        KvBucket::Sessions,
        KvBucket::Limits,
        KvBucket::Cache,
        KvBucket::Outbox,
        KvBucket::State,
    ];

    /// A short stable name, usable as a store name or key prefix.
    pub const fn as_str(self) -> &'static str {
        match self {
            KvBucket::Tenants => "tenants",
            KvBucket::Sessions => "sessions",
            KvBucket::Limits => "limits",
            KvBucket::Cache => "cache",
            KvBucket::Outbox => "outbox",
            KvBucket::State => "state",
        }
    }
}

/// A platform capability failed. Messages name the operation, never a key's
/// value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformError {
    /// The key-value store refused or failed an operation.
    Kv(String),
    /// No random bytes could be had.
    Random(String),
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformError::Kv(m) => write!(f, "key-value store: {m}"),
            PlatformError::Random(m) => write!(f, "randomness: {m}"),
        }
    }
}

impl std::error::Error for PlatformError {}

/// A request to the regional service.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    /// `GET` or `POST`.
    pub method: Method,
    /// The full URL: the configured regional base URL and the path.
    pub url: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// A signed MessagePack frame (or nothing).
    pub body: Vec<u8>,
    /// Give up after this long, ms; the platform answers
    /// [`UpstreamError::Timeout`] then.
    pub timeout_ms: u64,
}

impl UpstreamRequest {
    /// The path and query of [`Self::url`] (everything from the first `/`
    /// after `scheme://host`), for in-process upstreams that route by path.
    pub fn path(&self) -> &str {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        rest.find('/').map_or("/", |i| &rest[i..])
    }

    /// The value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::find_header(&self.headers, name)
    }
}

impl fmt::Debug for UpstreamRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

/// The regional service's answer.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl UpstreamResponse {
    /// The value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::find_header(&self.headers, name)
    }
}

impl fmt::Debug for UpstreamResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamResponse")
            .field("status", &self.status)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish_non_exhaustive()
    }
}

/// Why no answer came back from the regional service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamError {
    /// No answer within the request's `timeout_ms`.
    Timeout,
    /// The connection failed (refused, reset, DNS, TLS, ...).
    Unreachable(String),
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamError::Timeout => f.write_str("regional service timed out"),
            UpstreamError::Unreachable(m) => write!(f, "regional service unreachable: {m}"),
        }
    }
}

impl std::error::Error for UpstreamError {}

/// One limit a chat turn is counted against
/// ([`Platform::check_limits`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitSpec {
    /// Which limit.
    pub kind: LimitKind,
    /// The window's key (`{kind}:{subject}`).
    pub key: String,
    /// Its size.
    pub limit: Limit,
}

impl LimitSpec {
    /// How long the window's state matters: two windows' worth, after
    /// which it counts nothing.
    pub fn ttl_ms(&self) -> u64 {
        self.limit.window_ms().saturating_mul(2)
    }
}

/// A chat turn's limits, checked and counted together, all-or-nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitCheck {
    /// The edge's clock, ms since the epoch.
    pub now_ms: u64,
    /// Every limit that applies.
    pub limits: Vec<LimitSpec>,
}

/// What a [`LimitCheck`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum LimitVerdict {
    /// Admitted, and counted in every window.
    Allow,
    /// Refused; nothing counted.
    Deny {
        /// The refusing limit with the longest wait.
        kind: LimitKind,
        /// When every limit admits again, ms from now.
        retry_after_ms: u64,
    },
}

impl LimitCheck {
    /// The check itself, over the current `windows` (one per
    /// [`LimitCheck::limits`], in order; fresh ones for keys never seen),
    /// which it updates when it admits. A store that serialises access
    /// runs this between its read and its write.
    pub fn decide(&self, windows: &mut [SlidingWindow]) -> LimitVerdict {
        let mut refs: Vec<(LimitKind, &mut SlidingWindow, Limit)> = self
            .limits
            .iter()
            .zip(windows.iter_mut())
            .map(|(s, w)| (s.kind, w, s.limit))
            .collect();
        match check_all(&mut refs, self.now_ms) {
            MultiDecision::Allow { .. } => LimitVerdict::Allow,
            MultiDecision::Deny {
                kind,
                retry_after_ms,
            } => LimitVerdict::Deny {
                kind,
                retry_after_ms,
            },
        }
    }
}

/// Receives the pieces of a streamed body as they arrive
/// ([`Platform::fetch_streaming`]).
pub type OnChunk<'a> = dyn FnMut(&[u8]) + Send + 'a;

/// What the edge needs from the platform it runs on.
///
/// Key-value semantics the edge relies on: `put` replaces, `get` after
/// `put` on the same instance sees the value (read-your-writes), and an
/// entry past its TTL reads as absent. Platforms whose stores are
/// eventually consistent across locations (Workers KV) give exactly that
/// and no more; see the crate docs for what that means for limits.
pub trait Platform {
    /// The value under `key` in `bucket`, if any and not expired.
    fn kv_get(
        &self,
        bucket: KvBucket,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, PlatformError>>;

    /// Stores `value` under `key`, replacing any value; it expires after
    /// `ttl_ms` if given. A platform with a minimum TTL (Workers KV: 60 s)
    /// rounds up.
    fn kv_put(
        &self,
        bucket: KvBucket,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> impl Future<Output = Result<(), PlatformError>>;

    /// Removes `key`; removing an absent key is not an error.
    fn kv_delete(
        &self,
        bucket: KvBucket,
        key: &str,
    ) -> impl Future<Output = Result<(), PlatformError>>;

    /// Up to `limit` keys in `bucket` that start with `prefix`, in any
    /// order. Only used on [`KvBucket::Outbox`].
    fn kv_list(
        &self,
        bucket: KvBucket,
        prefix: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<String>, PlatformError>>;

    /// Wall-clock time, ms since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Whether what the edge puts in [`KvBucket::Outbox`] outlives this
    /// instance and process: a store the platform keeps (Spin key-value,
    /// Workers KV). `false` for memory (plain `wasmtime serve`'s instance
    /// memory, the in-process edge's process memory): there the edge never
    /// answers a turn it could not hand to the regional service at once,
    /// because a visitor would have been told of a turn that can vanish. It
    /// answers 503 with Retry-After instead (no acknowledgement, no cache
    /// hit the regional store does not have), and the widget keeps the
    /// message and sends it again.
    fn durable_outbox(&self) -> bool {
        true
    }

    /// Fills `buf` with cryptographically secure random bytes.
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), PlatformError>;

    /// Sends `req` to the regional service, giving up after
    /// `req.timeout_ms`. Any HTTP status is an `Ok`.
    fn fetch(
        &self,
        req: UpstreamRequest,
    ) -> impl Future<Output = Result<UpstreamResponse, UpstreamError>>;

    /// Like [`Platform::fetch`], but hands each piece of the body to
    /// `on_chunk` as it arrives (and still returns the whole response).
    /// The edge uses it for a streamed turn
    /// ([`kefu_core::wire::TURN_STREAM_CONTENT_TYPE`]), so a model's text
    /// reaches the visitor while it is written. `req.timeout_ms` bounds the
    /// wait for the head and each silence between pieces (the regional
    /// service sends heartbeats), not the whole answer. The default
    /// fetches, then hands over the whole body at once: a platform that
    /// cannot stream loses the preview, never the answer.
    fn fetch_streaming(
        &self,
        req: UpstreamRequest,
        on_chunk: &mut OnChunk<'_>,
    ) -> impl Future<Output = Result<UpstreamResponse, UpstreamError>> {
        async move {
            let r = self.fetch(req).await?;
            on_chunk(&r.body);
            Ok(r)
        }
    }

    /// Checks and counts a chat turn's limits in one step where the
    /// platform has a store that serialises access (Workers: a Durable
    /// Object per tenant, `scope`; in-process: one lock), so concurrent
    /// turns can never pass more than a limit. `None` (the default): the
    /// edge reads, checks and writes the windows in [`KvBucket::Limits`]
    /// itself, which is exact only where nothing runs concurrently.
    fn check_limits(
        &self,
        scope: &str,
        check: &LimitCheck,
    ) -> impl Future<Output = Option<Result<LimitVerdict, PlatformError>>> {
        let _ = (scope, check);
        async { None }
    }

    /// A setting (platform variable or secret) by name; see
    /// [`crate::config::settings`] for the names.
    fn setting(&self, name: &str) -> impl Future<Output = Option<String>>;
}
