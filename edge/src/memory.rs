//! An in-memory [`Platform`] for tests and for the regional binary's
//! in-process mode (feature `native`).
//!
//! - Key-value: one `Mutex<HashMap>` with per-entry expiry by the
//!   platform's clock. Single process, so exact (no eventual consistency);
//!   rate limits are checked and counted under that one lock
//!   ([`Platform::check_limits`]), so concurrent turns never pass more
//!   than a limit.
//! - Clock: the system clock, or a [`ManualClock`] a test moves by hand.
//! - Randomness: the OS (`getrandom`).
//! - Upstream: any [`Upstream`], e.g. a closure that hands the request to
//!   the regional service's own router without HTTP; the deadline is a
//!   tokio timeout, so this platform needs a tokio runtime.
//!
//! Mounting in-process, in outline (the regional side owns the details):
//!
//! ```ignore
//! let upstream = Arc::new(move |req: UpstreamRequest| {
//!     let router = router.clone();
//!     async move { call_internal(router, req).await } // -> Result<UpstreamResponse, UpstreamError>
//! });
//! let platform = MemoryPlatform::new(upstream);
//! let edge = Arc::new(Edge::new(platform, EdgeConfig::new("http://in-process", secret)?)?);
//! // public routes: |http_req| async move { edge.handle(to_edge_request(http_req)).await }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::platform::{
    KvBucket, LimitCheck, LimitVerdict, Platform, PlatformError, UpstreamError, UpstreamRequest,
    UpstreamResponse,
};

/// A boxed, `Send` upstream answer.
pub type UpstreamFuture =
    Pin<Box<dyn Future<Output = Result<UpstreamResponse, UpstreamError>> + Send + 'static>>;

/// An upstream answer whose body arrives in pieces.
#[derive(Debug)]
pub struct StreamedResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body's pieces; the channel closes after the last.
    pub body: tokio::sync::mpsc::UnboundedReceiver<Result<Vec<u8>, UpstreamError>>,
}

/// A boxed, `Send` streamed upstream answer.
pub type StreamedFuture =
    Pin<Box<dyn Future<Output = Result<StreamedResponse, UpstreamError>> + Send + 'static>>;

/// Where [`MemoryPlatform`] sends regional calls.
pub trait Upstream: Send + Sync {
    /// Answers one request.
    fn call(&self, req: UpstreamRequest) -> UpstreamFuture;

    /// Answers one request with the body in pieces as they come. The
    /// default hands over [`Upstream::call`]'s whole body.
    fn call_streaming(&self, req: UpstreamRequest) -> StreamedFuture {
        let whole = self.call(req);
        Box::pin(async move {
            let r = whole.await?;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let _ = tx.send(Ok(r.body));
            Ok(StreamedResponse {
                status: r.status,
                headers: r.headers,
                body: rx,
            })
        })
    }
}

impl<F, Fut> Upstream for F
where
    F: Fn(UpstreamRequest) -> Fut + Send + Sync,
    Fut: Future<Output = Result<UpstreamResponse, UpstreamError>> + Send + 'static,
{
    fn call(&self, req: UpstreamRequest) -> UpstreamFuture {
        Box::pin(self(req))
    }
}

/// A clock a test sets and moves.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `ms`.
    pub fn at(ms: u64) -> ManualClock {
        ManualClock(Arc::new(AtomicU64::new(ms)))
    }
    /// The time shown, ms since the epoch.
    pub fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

#[derive(Clone, Debug)]
enum Clock {
    System,
    Manual(ManualClock),
}

type Entries = HashMap<(KvBucket, String), (Vec<u8>, Option<u64>)>;

/// The in-memory platform.
pub struct MemoryPlatform {
    kv: Mutex<Entries>,
    clock: Clock,
    upstream: Arc<dyn Upstream>,
    settings: HashMap<String, String>,
    durable: bool,
}

impl MemoryPlatform {
    /// A platform with an empty store, the system clock, and `upstream`.
    pub fn new(upstream: Arc<dyn Upstream>) -> MemoryPlatform {
        MemoryPlatform {
            kv: Mutex::new(HashMap::new()),
            clock: Clock::System,
            upstream,
            settings: HashMap::new(),
            durable: false,
        }
    }

    /// Treats the store as one that outlives the process (a test standing
    /// in for Spin key-value or Workers KV): turns answered here wait in
    /// the outbox. By default it is memory, and
    /// [`Platform::durable_outbox`] says so.
    pub fn with_durable_outbox(mut self) -> MemoryPlatform {
        self.durable = true;
        self
    }

    /// Uses `clock` instead of the system clock.
    pub fn with_clock(mut self, clock: ManualClock) -> MemoryPlatform {
        self.clock = Clock::Manual(clock);
        self
    }

    /// Sets a setting returned by [`Platform::setting`].
    pub fn with_setting(mut self, name: &str, value: &str) -> MemoryPlatform {
        self.settings.insert(name.to_owned(), value.to_owned());
        self
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.kv.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live (unexpired) keys of `bucket`, sorted; for tests.
    pub fn keys(&self, bucket: KvBucket) -> Vec<String> {
        let now = self.now_ms();
        let mut keys: Vec<String> = self
            .entries()
            .iter()
            .filter(|((b, _), (_, exp))| *b == bucket && exp.is_none_or(|e| now < e))
            .map(|((_, k), _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// Removes every entry of `bucket`; for tests (a restarted store).
    pub fn clear(&self, bucket: KvBucket) {
        self.entries().retain(|(b, _), _| *b != bucket);
    }
}

impl fmt::Debug for MemoryPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryPlatform")
            .field("entries", &self.entries().len())
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Platform for MemoryPlatform {
    async fn kv_get(&self, bucket: KvBucket, key: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        let now = self.now_ms();
        let mut kv = self.entries();
        let id = (bucket, key.to_owned());
        match kv.get(&id) {
            Some((_, Some(exp))) if now >= *exp => {
                kv.remove(&id);
                Ok(None)
            }
            Some((v, _)) => Ok(Some(v.clone())),
            None => Ok(None),
        }
    }

    async fn kv_put(
        &self,
        bucket: KvBucket,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), PlatformError> {
        let exp = ttl_ms.map(|t| self.now_ms().saturating_add(t));
        self.entries()
            .insert((bucket, key.to_owned()), (value.to_vec(), exp));
        Ok(())
    }

    async fn kv_delete(&self, bucket: KvBucket, key: &str) -> Result<(), PlatformError> {
        self.entries().remove(&(bucket, key.to_owned()));
        Ok(())
    }

    async fn kv_list(
        &self,
        bucket: KvBucket,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, PlatformError> {
        let mut keys = self.keys(bucket);
        keys.retain(|k| k.starts_with(prefix));
        keys.truncate(limit);
        Ok(keys)
    }

    fn now_ms(&self) -> u64 {
        match &self.clock {
            Clock::Manual(c) => c.now_ms(),
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    fn durable_outbox(&self) -> bool {
        self.durable
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), PlatformError> {
        getrandom::fill(buf).map_err(|e| PlatformError::Random(e.to_string()))
    }

    async fn fetch(&self, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        let timeout = Duration::from_millis(req.timeout_ms);
        match tokio::time::timeout(timeout, self.upstream.call(req)).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Timeout),
        }
    }

    async fn fetch_streaming(
        &self,
        req: UpstreamRequest,
        on_chunk: &mut crate::platform::OnChunk<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        // The deadline is for the head and for each silence between
        // pieces: a long answer that keeps coming (or a stream's
        // heartbeats) is not a timeout.
        let timeout = Duration::from_millis(req.timeout_ms);
        let call = self.upstream.call_streaming(req);
        let mut r = match tokio::time::timeout(timeout, call).await {
            Ok(r) => r?,
            Err(_) => return Err(UpstreamError::Timeout),
        };
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout(timeout, r.body.recv()).await {
                Err(_) => return Err(UpstreamError::Timeout),
                Ok(None) => break,
                Ok(Some(piece)) => {
                    let piece = piece?;
                    on_chunk(&piece);
                    body.extend_from_slice(&piece);
                }
            }
        }
        Ok(UpstreamResponse {
            status: r.status,
            headers: r.headers,
            body,
        })
    }

    async fn check_limits(
        &self,
        _scope: &str,
        check: &LimitCheck,
    ) -> Option<Result<LimitVerdict, PlatformError>> {
        let now = self.now_ms();
        let mut kv = self.entries();
        let mut windows: Vec<_> = check
            .limits
            .iter()
            .map(|s| {
                let stored = kv
                    .get(&(KvBucket::Limits, s.key.clone()))
                    .filter(|(_, exp)| exp.is_none_or(|e| now < e));
                crate::store::decode_window(stored.map(|(v, _)| v.as_slice()))
            })
            .collect();
        let verdict = check.decide(&mut windows);
        if verdict == LimitVerdict::Allow {
            for (s, w) in check.limits.iter().zip(&windows) {
                let bytes = match crate::store::encode_window(w) {
                    Ok(b) => b,
                    Err(e) => return Some(Err(e)),
                };
                let exp = Some(now.saturating_add(s.ttl_ms()));
                kv.insert((KvBucket::Limits, s.key.clone()), (bytes, exp));
            }
        }
        Some(Ok(verdict))
    }

    async fn setting(&self, name: &str) -> Option<String> {
        self.settings.get(name).cloned()
    }
}
