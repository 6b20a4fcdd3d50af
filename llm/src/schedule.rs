//! Per-tenant fair scheduling in front of shared model capacity.
//!
//! Deficit round robin (Shreedhar & Varghese, "Efficient Fair Queueing
//! using Deficit Round Robin", SIGCOMM 1995) with a unit cost per
//! generation, which is plain round robin over the tenants that have
//! waiting requests: whenever a slot frees up, the next tenant in the ring
//! with a waiter gets it. A tenant sending ten times its share only
//! lengthens its own queue. Caps: `capacity` generations at once in all,
//! `per_tenant` for one tenant. A [`Slot`] is held for the life of a
//! generation (its token stream) and frees itself when dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

/// Queue and wait figures for `/metrics` and the brownout level.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SchedulerStats {
    /// Generations running.
    pub in_flight: usize,
    /// Requests waiting for a slot.
    pub queued: usize,
    /// The most generations at once.
    pub capacity: usize,
    /// Moving average of the wait for a slot, ms.
    pub avg_wait_ms: f64,
    /// Median wait of the last 512 grants, ms.
    pub wait_p50_ms: f64,
    /// 99th-percentile wait of the last 512 grants, ms.
    pub wait_p99_ms: f64,
}

/// How many recent waits the percentiles look at.
const WAIT_WINDOW: usize = 512;

#[derive(Debug, Default)]
struct Inner {
    capacity: usize,
    per_tenant: usize,
    in_flight: usize,
    ring: VecDeque<String>,
    queues: HashMap<String, VecDeque<oneshot::Sender<()>>>,
    running: HashMap<String, usize>,
    avg_wait_ms: f64,
    waits: VecDeque<f64>,
}

impl Inner {
    /// Hands free slots to waiters, one tenant at a time around the ring.
    fn dispatch(&mut self) {
        // Tenants looked at since the last grant; stop once every tenant in
        // the ring was looked at without one (all capped or all gone).
        let mut checked = 0;
        while self.in_flight < self.capacity && checked < self.ring.len() {
            let Some(t) = self.ring.pop_front() else {
                break;
            };
            let mut granted = false;
            if self.running.get(&t).copied().unwrap_or(0) < self.per_tenant
                && let Some(q) = self.queues.get_mut(&t)
            {
                while let Some(w) = q.pop_front() {
                    // A waiter that gave up has closed its receiver: skip it.
                    if w.send(()).is_ok() {
                        granted = true;
                        break;
                    }
                }
            }
            if granted {
                self.in_flight += 1;
                *self.running.entry(t.clone()).or_default() += 1;
                checked = 0;
            } else {
                checked += 1;
            }
            if self.queues.get(&t).is_some_and(|q| !q.is_empty()) {
                self.ring.push_back(t);
            } else {
                self.queues.remove(&t);
                if !granted {
                    // The ring shrank by the tenant just looked at.
                    checked -= 1;
                }
            }
        }
    }

    fn release(&mut self, tenant: &str) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(n) = self.running.get_mut(tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.running.remove(tenant);
            }
        }
        self.dispatch();
    }
}

/// A request waiting for its slot. If the wait is abandoned after the
/// slot was granted, dropping this gives the slot back.
struct Pending {
    rx: Option<oneshot::Receiver<()>>,
    inner: Arc<Mutex<Inner>>,
    tenant: String,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // Under the lock, so dispatch cannot grant between the check and
            // the receiver closing.
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if rx.try_recv().is_ok() {
                g.release(&self.tenant);
            }
            drop(rx);
        }
    }
}

/// The name the design uses for [`FairScheduler`].
pub type Scheduler = FairScheduler;

/// The scheduler. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FairScheduler {
    inner: Arc<Mutex<Inner>>,
}

/// A running generation's place; frees it when dropped.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Mutex<Inner>>,
    tenant: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.release(&self.tenant);
    }
}

impl FairScheduler {
    /// `capacity` generations at once, at most `per_tenant` for one tenant.
    pub fn new(capacity: usize, per_tenant: usize) -> FairScheduler {
        FairScheduler {
            inner: Arc::new(Mutex::new(Inner {
                capacity: capacity.max(1),
                per_tenant: per_tenant.max(1),
                ..Inner::default()
            })),
        }
    }

    /// Waits for `tenant`'s turn and a free slot.
    pub async fn acquire(&self, tenant: &str) -> Slot {
        let started = Instant::now();
        let rx = {
            let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            let (tx, rx) = oneshot::channel();
            let q = g.queues.entry(tenant.to_owned()).or_default();
            q.push_back(tx);
            if q.len() == 1 && !g.ring.iter().any(|t| t == tenant) {
                g.ring.push_back(tenant.to_owned());
            }
            g.dispatch();
            rx
        };
        let mut pending = Pending {
            rx: Some(rx),
            inner: self.inner.clone(),
            tenant: tenant.to_owned(),
        };
        if let Some(rx) = pending.rx.as_mut() {
            // The sender lives in the queue until granted.
            let _ = rx.await;
        }
        pending.rx = None;
        let waited = started.elapsed().as_secs_f64() * 1000.0;
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.avg_wait_ms = 0.9 * g.avg_wait_ms + 0.1 * waited;
        if g.waits.len() == WAIT_WINDOW {
            g.waits.pop_front();
        }
        g.waits.push_back(waited);
        Slot {
            inner: self.inner.clone(),
            tenant: tenant.to_owned(),
        }
    }

    /// Current figures.
    pub fn stats(&self) -> SchedulerStats {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut w: Vec<f64> = g.waits.iter().copied().collect();
        w.sort_by(f64::total_cmp);
        let pct = |q: f64| {
            if w.is_empty() {
                0.0
            } else {
                w[((w.len() - 1) as f64 * q).round() as usize]
            }
        };
        SchedulerStats {
            in_flight: g.in_flight,
            queued: g.queues.values().map(VecDeque::len).sum(),
            capacity: g.capacity,
            avg_wait_ms: g.avg_wait_ms,
            wait_p50_ms: pct(0.5),
            wait_p99_ms: pct(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A flooding tenant cannot starve a light one: with one slot, the
    /// grants alternate between tenants that have waiters.
    #[tokio::test]
    async fn a_flooding_tenant_only_lengthens_its_own_queue() {
        let s = FairScheduler::new(1, 1);
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = s.acquire("a").await; // holds the only slot
        let mut tasks = Vec::new();
        for (i, t) in ["a", "a", "a", "a", "a", "a", "b", "b"]
            .into_iter()
            .enumerate()
        {
            let (s2, order) = (s.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let slot = s2.acquire(t).await;
                order.lock().unwrap().push(t);
                tokio::task::yield_now().await;
                drop(slot);
            }));
            // Queue them in this order.
            while s.stats().queued < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(s.stats().queued, 8);
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        // Both of b's requests are served within the first four grants,
        // although six of a's were queued before them.
        let b_done = order
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "b")
            .map(|(i, _)| i)
            .max()
            .unwrap();
        assert!(b_done <= 3, "{order:?}");
        assert_eq!(
            s.stats(),
            SchedulerStats {
                in_flight: 0,
                queued: 0,
                capacity: 1,
                ..s.stats()
            }
        );
    }

    #[tokio::test]
    async fn caps_hold_and_dropped_waiters_are_skipped() {
        let s = FairScheduler::new(2, 1);
        let a1 = s.acquire("a").await;
        // a is at its per-tenant cap: its next request waits though a slot is free.
        let s2 = s.clone();
        let waiting = tokio::spawn(async move { s2.acquire("a").await });
        while s.stats().queued < 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(s.stats().in_flight, 1);
        let b1 = s.acquire("b").await; // b is not blocked by a's queue
        assert_eq!(s.stats().in_flight, 2);
        waiting.abort();
        let _ = waiting.await;
        drop(a1);
        drop(b1);
        assert_eq!(s.stats().in_flight, 0, "the aborted waiter took no slot");
    }
}
