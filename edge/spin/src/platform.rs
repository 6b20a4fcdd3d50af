//! [`SpinPlatform`]: kefu-edge's [`Platform`] over Spin and WASI.
//!
//! | capability | Spin build | `wasmtime-serve` build |
//! |---|---|---|
//! | key-value | `spin:key-value`, store `default` ([`crate::kv`]) | instance memory ([`crate::kv`]) |
//! | settings | Spin variables (`spin:variables`) | WASI environment, `SPIN_VARIABLE_<NAME>` |
//! | fetch | `wasi:http` client via `spin_sdk::http::send` | the same |
//! | clock | `std::time::SystemTime` (`wasi:clocks/wall-clock`) | the same |
//! | randomness | `getrandom` (`wasi:random`) | the same |
//!
//! The `wasmtime-serve` settings use the names Spin's own environment
//! variable provider reads, so `SPIN_VARIABLE_REGIONAL_URL=...` configures
//! both. Instance memory is neither durable nor shared, so there the
//! outbox is not used at all ([`Platform::durable_outbox`] is false): a
//! cache hit is in the regional store before its answer, and when the
//! regional service cannot take a turn the visitor gets 503 (the widget
//! keeps the message and sends it again), never an acknowledgement that
//! could vanish with the instance.

use core::fmt;
use core::pin::pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::{Either, select};
use kefu_edge::{
    KvBucket, Method, Platform, PlatformError, UpstreamError, UpstreamRequest, UpstreamResponse,
};
use spin_sdk::http::FullBody;
use spin_sdk::http::body::IncomingBodyExt;

use crate::kv::{self, Store};

/// Wall-clock time, ms since the Unix epoch (0 before it).
pub fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The platform one component instance runs on.
#[derive(Default)]
pub struct SpinPlatform {
    store: Store,
}

impl fmt::Debug for SpinPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpinPlatform")
            .field("store", &self.store)
            .finish()
    }
}

impl Platform for SpinPlatform {
    async fn kv_get(&self, bucket: KvBucket, key: &str) -> Result<Option<Vec<u8>>, PlatformError> {
        let k = kv::store_key(bucket, key);
        let Some(stored) = self.store.get(&k).await? else {
            return Ok(None);
        };
        match kv::decode(stored, self.now_ms()) {
            Some(v) => Ok(Some(v)),
            None => {
                // Expired (or not ours): gone for every reader from now on.
                self.store.delete(&k).await?;
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
        let k = kv::store_key(bucket, key);
        self.store.set(&k, kv::encode(value, exp)).await
    }

    async fn kv_delete(&self, bucket: KvBucket, key: &str) -> Result<(), PlatformError> {
        self.store.delete(&kv::store_key(bucket, key)).await
    }

    async fn kv_list(
        &self,
        bucket: KvBucket,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<String>, PlatformError> {
        let full = kv::store_key(bucket, prefix);
        let strip = bucket.as_str().len() + 1;
        let mut live = Vec::new();
        for k in self.store.keys(&full).await? {
            if live.len() >= limit {
                break;
            }
            let Some(key) = k.get(strip..) else { continue };
            // Skips (and removes) expired entries, as `kv_get` does.
            if self.kv_get(bucket, key).await?.is_some() {
                live.push(key.to_owned());
            }
        }
        Ok(live)
    }

    fn now_ms(&self) -> u64 {
        wall_clock_ms()
    }

    fn durable_outbox(&self) -> bool {
        // Spin key-value outlives the instance; instance memory does not.
        !cfg!(feature = "wasmtime-serve")
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), PlatformError> {
        getrandom::fill(buf).map_err(|e| PlatformError::Random(e.to_string()))
    }

    async fn fetch(&self, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
        let deadline = spin_sdk::time::sleep(Duration::from_millis(req.timeout_ms));
        match select(pin!(send(req)), pin!(deadline)).await {
            Either::Left((r, _)) => r,
            Either::Right(((), _)) => Err(UpstreamError::Timeout),
        }
    }

    async fn fetch_streaming(
        &self,
        req: UpstreamRequest,
        on_chunk: &mut kefu_edge::OnChunk<'_>,
    ) -> Result<UpstreamResponse, UpstreamError> {
        // The deadline bounds the head and each silence between pieces.
        let wait = Duration::from_millis(req.timeout_ms);
        let unreachable = |e: &dyn fmt::Display| UpstreamError::Unreachable(e.to_string());
        let resp = match select(pin!(start(req)), pin!(spin_sdk::time::sleep(wait))).await {
            Either::Left((r, _)) => r?,
            Either::Right(((), _)) => return Err(UpstreamError::Timeout),
        };
        let status = resp.status().as_u16();
        let headers = header_pairs(resp.headers());
        let mut body = resp.into_body();
        let mut all = Vec::new();
        loop {
            let next = http_body_util::BodyExt::frame(&mut body);
            let frame = match select(pin!(next), pin!(spin_sdk::time::sleep(wait))).await {
                Either::Left((f, _)) => f,
                Either::Right(((), _)) => return Err(UpstreamError::Timeout),
            };
            match frame {
                None => break,
                Some(Err(e)) => return Err(unreachable(&e)),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        on_chunk(&data);
                        all.extend_from_slice(&data);
                    }
                }
            }
        }
        Ok(UpstreamResponse {
            status,
            headers,
            body: all,
        })
    }

    async fn setting(&self, name: &str) -> Option<String> {
        setting(name).await
    }
}

fn header_pairs(h: &http::HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_owned(), v)
        })
        .collect()
}

/// Sends `req` and returns the response with its body unread.
async fn start(req: UpstreamRequest) -> Result<spin_sdk::http::Response, UpstreamError> {
    let unreachable = |e: &dyn fmt::Display| UpstreamError::Unreachable(e.to_string());
    let method = match req.method {
        Method::Post => http::Method::POST,
        Method::Get => http::Method::GET,
        ref m => http::Method::from_bytes(m.as_str().as_bytes()).map_err(|e| unreachable(&e))?,
    };
    let mut b = http::Request::builder().method(method).uri(&req.url);
    for (k, v) in &req.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let outgoing = b
        .body(FullBody::new(Bytes::from(req.body)))
        .map_err(|e| unreachable(&e))?;
    spin_sdk::http::send(outgoing)
        .await
        .map_err(|e| unreachable(&e))
}

/// One outbound call, body included (the deadline covers all of it).
async fn send(req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
    let resp = start(req).await?;
    let status = resp.status().as_u16();
    let headers = header_pairs(resp.headers());
    let body = resp
        .into_body()
        .bytes()
        .await
        .map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
    Ok(UpstreamResponse {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// A Spin variable; absent, unreadable or empty (the manifest's default
/// for an optional setting) is `None`.
#[cfg(not(feature = "wasmtime-serve"))]
async fn setting(name: &str) -> Option<String> {
    spin_sdk::variables::get(name)
        .await
        .ok()
        .filter(|v| !v.is_empty())
}

/// `SPIN_VARIABLE_<NAME>` from the WASI environment (`wasmtime serve
/// --env`); empty is `None`.
#[cfg(feature = "wasmtime-serve")]
async fn setting(name: &str) -> Option<String> {
    let var = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
    std::env::var(var).ok().filter(|v| !v.is_empty())
}
