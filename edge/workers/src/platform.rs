//! [`WorkersPlatform`]: kefu-edge's platform over a Worker's bindings, and
//! the HTTP translation. Translation only.

use core::fmt;
use core::future::Future;
use core::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use kefu_edge::error::Error;
use kefu_edge::http::MAX_BODY_BYTES;
use kefu_edge::{
    EdgeRequest, EdgeResponse, KvBucket, LimitCheck, LimitVerdict, Method, Platform, PlatformError,
    UpstreamError, UpstreamRequest, UpstreamResponse,
};
use worker::{Env, Fetch, Headers, RequestInit};

/// The KV namespace binding holding every bucket.
pub const KV_BINDING: &str = "KEFU_KV";
/// Workers KV's shortest expiration TTL, seconds.
const MIN_KV_TTL_SECS: u64 = 60;
/// The header Cloudflare sets to the client's address.
const CLIENT_IP_HEADER: &str = "cf-connecting-ip";

/// kefu-edge's platform on Workers.
pub struct WorkersPlatform {
    env: Env,
}

impl fmt::Debug for WorkersPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkersPlatform").finish_non_exhaustive()
    }
}

impl WorkersPlatform {
    /// A platform over `env`'s bindings.
    pub fn new(env: Env) -> WorkersPlatform {
        WorkersPlatform { env }
    }

    fn kv(&self) -> Result<worker::kv::KvStore, PlatformError> {
        self.env
            .kv(KV_BINDING)
            .map_err(|e| PlatformError::Kv(format!("binding {KV_BINDING}: {e}")))
    }
}

fn store_key(bucket: KvBucket, key: &str) -> String {
    format!("{}/{key}", bucket.as_str())
}

/// `expiry ms (u64 BE, 0 = none)` then the value.
fn encode(value: &[u8], expires_ms: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The value, unless malformed or expired at `now_ms`.
fn decode(stored: Vec<u8>, now_ms: u64) -> Option<Vec<u8>> {
    let exp = u64::from_be_bytes(stored.get(..8)?.try_into().ok()?);
    (exp == 0 || exp > now_ms).then(|| stored[8..].to_vec())
}

fn kv_err(op: &str) -> impl Fn(worker::kv::KvError) -> PlatformError + '_ {
    move |e| PlatformError::Kv(format!("{op}: {e}"))
}

impl Platform for WorkersPlatform {
    async fn kv_get(&self, bucket: KvBucket, key: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        let k = store_key(bucket, key);
        let kv = self.kv()?;
        let Some(stored) = kv.get(&k).bytes().await.map_err(kv_err("get"))? else {
            return Ok(None);
        };
        match decode(stored, self.now_ms()) {
            Some(v) => Ok(Some(v)),
            None => {
                kv.delete(&k).await.map_err(kv_err("delete"))?;
                Ok(None)
            }
        }
    }

    async fn kv_put(
        &self,
        bucket: KvBucket,
        key: &str,
        value: &[u8],
        ttl_ms: Option<u64>,
    ) -> Result<(), PlatformError> {
        let exp = ttl_ms.map(|t| self.now_ms().saturating_add(t).max(1));
        let mut put = self
            .kv()?
            .put_bytes(&store_key(bucket, key), &encode(value, exp))
            .map_err(kv_err("put"))?;
        if let Some(t) = ttl_ms {
            put = put.expiration_ttl(t.div_ceil(1000).max(MIN_KV_TTL_SECS));
        }
        put.execute().await.map_err(kv_err("put"))
    }

    async fn kv_delete(&self, bucket: KvBucket, key: &str) -> Result<(), PlatformError> {
        self.kv()?
            .delete(&store_key(bucket, key))
            .await
            .map_err(kv_err("delete"))
    }

    async fn kv_list(
        &self,
        bucket: KvBucket,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, PlatformError> {
        let full = store_key(bucket, prefix);
        let strip = bucket.as_str().len() + 1;
        let listed = self
            .kv()?
            .list()
            .prefix(full)
            .limit(u64::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .execute()
            .await
            .map_err(kv_err("list"))?;
        let mut live = Vec::new();
        for k in listed.keys {
            let Some(key) = k.name.get(strip..) else {
                continue;
            };
            if self.kv_get(bucket, key).await?.is_some() {
                live.push(key.to_owned());
            }
        }
        Ok(live)
    }

    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), PlatformError> {
        getrandom::fill(buf).map_err(|e| PlatformError::Random(e.to_string()))
    }

    async fn fetch(&self, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        let timeout = req.timeout_ms;
        within(timeout, async move {
            let mut resp = send(req).await?;
            let (status, headers) = head_of(&resp);
            let body = resp.bytes().await.map_err(unreachable)?;
            Ok(UpstreamResponse {
                status,
                headers,
                body,
            })
        })
        .await
    }

    async fn fetch_streaming(
        &self,
        req: UpstreamRequest,
        on_chunk: &mut kefu_edge::OnChunk<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        // The deadline bounds the head and each silence between pieces (the
        // regional service sends heartbeats), not the whole answer.
        let timeout = req.timeout_ms;
        let mut resp = within(timeout, send(req)).await?;
        let (status, headers) = head_of(&resp);
        let mut body = Vec::new();
        match resp.stream() {
            Ok(mut pieces) => loop {
                match within(timeout, async { Ok(pieces.next().await) }).await? {
                    None => break,
                    Some(piece) => {
                        let piece = piece.map_err(unreachable)?;
                        on_chunk(&piece);
                        body.extend_from_slice(&piece);
                    }
                }
            },
            // No body stream (an empty body): nothing to hand on.
            Err(_) => {
                body = within(timeout, async { resp.bytes().await.map_err(unreachable) }).await?
            }
        }
        Ok(UpstreamResponse {
            status,
            headers,
            body,
        })
    }

    async fn check_limits(
        &self,
        scope: &str,
        check: &LimitCheck,
    ) -> Option<Result<LimitVerdict, PlatformError>> {
        // Without the binding: windows in KV, approximate.
        let ns = self
            .env
            .durable_object(crate::limiter::LIMITER_BINDING)
            .ok()?;
        Some(crate::limiter::ask(ns, scope, check).await)
    }

    async fn setting(&self, name: &str) -> Option<String> {
        if let Ok(s) = self.env.secret(name) {
            return Some(s.to_string());
        }
        self.env.var(name).ok().map(|v| v.to_string())
    }
}

fn unreachable(e: worker::Error) -> UpstreamError {
    UpstreamError::Unreachable(e.to_string())
}

/// `work`, or [`UpstreamError::Timeout`] after `timeout_ms`.
async fn within<T>(
    timeout_ms: u64,
    work: impl Future<Output = Result<T, UpstreamError>>,
) -> Result<T, UpstreamError> {
    let deadline = worker::Delay::from(Duration::from_millis(timeout_ms));
    match select(pin!(work), pin!(deadline)).await {
        Either::Left((r, _)) => r,
        Either::Right(((), _)) => Err(UpstreamError::Timeout),
    }
}

/// Sends `req`; answers once the head is in.
async fn send(req: UpstreamRequest) -> Result<worker::Response, UpstreamError> {
    let headers = Headers::new();
    for (k, v) in &req.headers {
        headers.set(k, v).map_err(unreachable)?;
    }
    let mut init = RequestInit::new();
    init.with_method(match req.method {
        Method::Post => worker::Method::Post,
        _ => worker::Method::Get,
    })
    .with_headers(headers);
    if !req.body.is_empty() {
        let body = worker::js_sys::Uint8Array::from(req.body.as_slice());
        init.with_body(Some(body.into()));
    }
    let r = worker::Request::new_with_init(&req.url, &init).map_err(unreachable)?;
    Fetch::Request(r).send().await.map_err(unreachable)
}

/// Status and lower-case headers.
fn head_of(resp: &worker::Response) -> (u16, Vec<(String, String)>) {
    let headers = resp
        .headers()
        .entries()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    (resp.status_code(), headers)
}

/// Translates an incoming request; a body over [`MAX_BODY_BYTES`] is cut
/// at one byte past it (the edge answers 413).
pub async fn edge_request(req: &mut worker::Request) -> Result<EdgeRequest, EdgeResponse> {
    let url = req.url().map_err(|_| {
        Error::bad_request("bad_url", "the request URL could not be read").to_response()
    })?;
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let client_ip = kefu_edge::http::find_header(&headers, CLIENT_IP_HEADER).map(str::to_owned);
    let mut body = match req.method() {
        worker::Method::Get | worker::Method::Head | worker::Method::Options => Vec::new(),
        _ => req.bytes().await.map_err(|_| {
            Error::bad_request("body_unreadable", "the request body could not be read")
                .to_response()
        })?,
    };
    body.truncate(MAX_BODY_BYTES + 1);
    Ok(EdgeRequest {
        method: Method::parse(req.method().as_ref()),
        path: url.path().to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        headers,
        body,
        client_ip,
    })
}

/// Translates the edge's answer.
pub fn worker_response(resp: EdgeResponse) -> worker::Result<worker::Response> {
    let headers = Headers::new();
    for (k, v) in &resp.headers {
        headers.append(k, v)?;
    }
    Ok(worker::Response::from_bytes(resp.body)?
        .with_status(resp.status)
        .with_headers(headers))
}
