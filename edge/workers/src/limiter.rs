//! [`Limiter`]: the Durable Object that makes the edge's rate limits exact
//! on Workers, one object per tenant (binding [`LIMITER_BINDING`]).
//!
//! Workers KV has no compare-and-swap and is eventually consistent, so
//! windows kept there are approximate. A Durable Object runs one request
//! at a time (its input gate holds other events while storage is read) and
//! exists once worldwide, so [`kefu_edge::LimitCheck::decide`] run inside
//! it between the read and the write can never admit more than a limit.
//!
//! The windows live in the object's memory and, written through, in its
//! storage (`{start},{prev},{curr},{expires}`), so an evicted object
//! resumes its counts. An alarm sweeps expired windows every
//! [`SWEEP_MS`]. Per-address limits count per tenant here (the object is
//! the tenant's), where the KV path counts them across tenants.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use kefu_core::SlidingWindow;
use kefu_edge::{LimitCheck, LimitVerdict, PlatformError};
use worker::{DurableObject, Env, Request, RequestInit, Response, State, durable_object};

/// The Durable Object namespace binding; without it the limits fall back
/// to windows in Workers KV (approximate).
pub const LIMITER_BINDING: &str = "KEFU_LIMITER";
/// How often expired windows are removed from storage.
const SWEEP_MS: u64 = 3_600_000;

/// A window and when it stops mattering (ms since the epoch).
type Entry = (SlidingWindow, u64);

fn encode(e: &Entry) -> String {
    let (w, exp) = e;
    format!("{},{},{},{exp}", w.window_start_ms(), w.prev(), w.curr())
}

fn decode(s: &str) -> Option<Entry> {
    let mut it = s.split(',');
    let start = it.next()?.parse().ok()?;
    let prev = it.next()?.parse().ok()?;
    let curr = it.next()?.parse().ok()?;
    let exp = it.next()?.parse().ok()?;
    Some((SlidingWindow::from_parts(start, prev, curr), exp))
}

/// One tenant's rate-limit windows.
#[durable_object]
pub struct Limiter {
    state: State,
    windows: RefCell<HashMap<String, Entry>>,
    alarm_set: Cell<bool>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("windows", &self.windows.borrow().len())
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Loads the windows of `check` that are not in memory yet.
    async fn load(&self, check: &LimitCheck) -> worker::Result<()> {
        for s in &check.limits {
            if self.windows.borrow().contains_key(&s.key) {
                continue;
            }
            let stored: Option<String> = self.state.storage().get(&s.key).await?;
            if let Some(e) = stored.as_deref().and_then(decode) {
                // Another request may have loaded it meanwhile: keep theirs.
                self.windows.borrow_mut().entry(s.key.clone()).or_insert(e);
            }
        }
        Ok(())
    }

    async fn check(&self, check: &LimitCheck) -> worker::Result<LimitVerdict> {
        self.load(check).await?;
        let now = check.now_ms;
        // From here to the end of the update nothing awaits: the check and
        // the count are one step.
        let (verdict, changed) = {
            let mut map = self.windows.borrow_mut();
            let mut windows: Vec<SlidingWindow> = check
                .limits
                .iter()
                .map(|s| {
                    map.get(&s.key)
                        .filter(|(_, exp)| now < *exp)
                        .map_or_else(SlidingWindow::default, |(w, _)| *w)
                })
                .collect();
            let verdict = check.decide(&mut windows);
            let mut changed = Vec::new();
            if verdict == LimitVerdict::Allow {
                for (s, w) in check.limits.iter().zip(windows) {
                    let e = (w, now.saturating_add(s.ttl_ms()));
                    changed.push((s.key.clone(), encode(&e)));
                    map.insert(s.key.clone(), e);
                }
            }
            (verdict, changed)
        };
        let storage = self.state.storage();
        for (k, v) in changed {
            storage.put(&k, v).await?;
        }
        if !self.alarm_set.get() {
            if storage.get_alarm().await?.is_none() {
                storage.set_alarm(Duration::from_millis(SWEEP_MS)).await?;
            }
            self.alarm_set.set(true);
        }
        Ok(verdict)
    }
}

impl DurableObject for Limiter {
    fn new(state: State, _env: Env) -> Self {
        Limiter {
            state,
            windows: RefCell::new(HashMap::new()),
            alarm_set: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let check: LimitCheck = match req.json().await {
            Ok(c) => c,
            Err(_) => return Response::error("bad limit check", 400),
        };
        Response::from_json(&self.check(&check).await?)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        let now = worker::Date::now().as_millis();
        let storage = self.state.storage();
        let all = storage.list().await?;
        let mut expired = Vec::new();
        let mut left = 0usize;
        for entry in all.entries() {
            let Ok(pair) = entry else { continue };
            let pair = worker::js_sys::Array::from(&pair);
            let Some(key) = pair.get(0).as_string() else {
                continue;
            };
            match pair.get(1).as_string().as_deref().and_then(decode) {
                Some((_, exp)) if exp > now => left += 1,
                _ => expired.push(key),
            }
        }
        {
            let mut map = self.windows.borrow_mut();
            map.retain(|_, (_, exp)| *exp > now);
        }
        if !expired.is_empty() {
            storage.delete_multiple(expired).await?;
        }
        if left > 0 {
            storage.set_alarm(Duration::from_millis(SWEEP_MS)).await?;
        } else {
            self.alarm_set.set(false);
        }
        Response::ok("swept")
    }
}

/// Asks `scope`'s limiter to check and count; errors name the operation.
pub async fn ask(
    ns: worker::ObjectNamespace,
    scope: &str,
    check: &LimitCheck,
) -> Result<LimitVerdict, PlatformError> {
    let err =
        |op: &'static str| move |e: worker::Error| PlatformError::Kv(format!("limiter {op}: {e}"));
    let stub = ns
        .id_from_name(scope)
        .and_then(|id| id.get_stub())
        .map_err(err("stub"))?;
    let body = serde_json::to_string(check).map_err(|e| PlatformError::Kv(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_body(Some(body.into()));
    let req = Request::new_with_init("https://limiter/check", &init).map_err(err("request"))?;
    let mut resp = stub.fetch_with_request(req).await.map_err(err("fetch"))?;
    if resp.status_code() != 200 {
        return Err(PlatformError::Kv(format!(
            "limiter answered {}",
            resp.status_code()
        )));
    }
    resp.json().await.map_err(err("answer"))
}
