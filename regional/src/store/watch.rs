//! Wake-ups for long polls: one [`tokio::sync::Notify`] per conversation
//! that someone is waiting on, signalled after every committed change to it
//! (an append, an exchange, a state change).
//!
//! Only conversations with a live waiter have an entry: the registry holds
//! [`Weak`] references, so a conversation nobody polls costs nothing, and
//! dead entries are swept whenever the map doubles in size.
//!
//! A waiter must follow the usual `Notify` discipline: create and `enable`
//! the `notified()` future *before* reading the store, then await it; a
//! change committed between the read and the await is then not missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::{Notify, broadcast};

type Key = (String, String);

/// Per-conversation wake-ups. Cheap to share behind an `Arc`.
///
/// Agents' consoles also follow a whole tenant: [`Watchers::follow_tenant`]
/// yields the id of each conversation that changed.
#[derive(Debug, Default)]
pub struct Watchers {
    inner: Mutex<Inner>,
    tenants: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, Weak<Notify>>,
    sweep_at: usize,
}

impl Watchers {
    /// The wake-up for `(tenant, conversation)`; keep the `Arc` for as long
    /// as you wait.
    pub fn subscribe(&self, tenant: &str, conversation: &str) -> Arc<Notify> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (tenant.to_owned(), conversation.to_owned());
        if let Some(n) = inner.map.get(&key).and_then(Weak::upgrade) {
            return n;
        }
        if inner.map.len() >= inner.sweep_at {
            inner.map.retain(|_, w| w.strong_count() > 0);
            inner.sweep_at = inner.map.len().saturating_mul(2).max(64);
        }
        let n = Arc::new(Notify::new());
        inner.map.insert(key, Arc::downgrade(&n));
        n
    }

    /// Every later change in `tenant`, as conversation ids. A slow reader
    /// that falls behind gets `Lagged` and should reload what it shows.
    pub fn follow_tenant(&self, tenant: &str) -> broadcast::Receiver<String> {
        let mut m = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        m.retain(|_, tx| tx.receiver_count() > 0);
        m.entry(tenant.to_owned())
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }

    /// Wakes everyone waiting on `(tenant, conversation)`.
    pub fn notify(&self, tenant: &str, conversation: &str) {
        if let Some(tx) = self
            .tenants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
        {
            let _ = tx.send(conversation.to_owned());
        }
        let found = {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (tenant.to_owned(), conversation.to_owned());
            match inner.map.get(&key).map(Weak::upgrade) {
                Some(Some(n)) => Some(n),
                Some(None) => {
                    inner.map.remove(&key);
                    None
                }
                None => None,
            }
        };
        if let Some(n) = found {
            n.notify_waiters();
        }
    }

    /// Conversations with an entry (live or not yet swept); for tests.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }

    /// Whether no conversation has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_change_wakes_only_its_own_conversation() {
        let w = Watchers::default();
        let a = w.subscribe("t", "a");
        let b = w.subscribe("t", "b");
        let wait_a = a.notified();
        let wait_b = b.notified();
        tokio::pin!(wait_a, wait_b);
        wait_a.as_mut().enable();
        wait_b.as_mut().enable();
        w.notify("t", "a");
        tokio::time::timeout(Duration::from_secs(5), wait_a)
            .await
            .expect("a was woken");
        assert!(
            tokio::time::timeout(Duration::from_millis(50), wait_b)
                .await
                .is_err(),
            "b must not be woken by a change to a"
        );
    }

    #[test]
    fn entries_go_away_with_their_waiters() {
        let w = Watchers::default();
        drop(w.subscribe("t", "a"));
        w.notify("t", "a");
        assert!(w.is_empty());
    }
}
