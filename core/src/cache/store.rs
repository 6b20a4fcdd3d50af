//! [`AnswerCache`]: a capacity-bounded LRU of answers with a per-entry TTL.

use core::fmt;
use core::num::NonZeroUsize;
use lru::LruCache;

use super::CacheKey;
use crate::types::TenantId;

struct Entry<V> {
    value: V,
    stored_ms: u64,
    expires_ms: u64,
}

impl<V> Entry<V> {
    /// Fresh iff `stored_ms <= now_ms < expires_ms`. An entry stored "after"
    /// now means the clock went backwards; its age is unknown, so it is not
    /// served. Staleness is thus bounded by the TTL whatever the clock does.
    fn fresh_at(&self, now_ms: u64) -> bool {
        self.stored_ms <= now_ms && now_ms < self.expires_ms
    }
}

/// An in-memory answer cache: least-recently-used eviction at capacity, and
/// a TTL per entry. Expired entries are misses and are dropped when met.
///
/// `Debug` shows sizes only, never keys or answers.
pub struct AnswerCache<V> {
    entries: LruCache<CacheKey, Entry<V>>,
}

impl<V> AnswerCache<V> {
    /// An empty cache holding at most `capacity` answers.
    pub fn new(capacity: NonZeroUsize) -> Self {
        AnswerCache {
            entries: LruCache::new(capacity),
        }
    }

    /// The answer for `key` if present and fresh at `now_ms`; marks it most
    /// recently used. An expired entry is removed and reported as a miss.
    pub fn get(&mut self, key: &CacheKey, now_ms: u64) -> Option<&V> {
        if !self.entries.peek(key)?.fresh_at(now_ms) {
            self.entries.pop(key);
            return None;
        }
        self.entries.get(key).map(|e| &e.value)
    }

    /// Stores `value` under `key` for `ttl_ms` from `now_ms`, replacing any
    /// previous answer and evicting the least recently used entry when full.
    /// A zero TTL stores nothing (and drops any previous answer).
    pub fn insert(&mut self, key: CacheKey, value: V, now_ms: u64, ttl_ms: u64) {
        if ttl_ms == 0 {
            self.entries.pop(&key);
            return;
        }
        let expires_ms = now_ms.saturating_add(ttl_ms);
        self.entries.put(
            key,
            Entry {
                value,
                stored_ms: now_ms,
                expires_ms,
            },
        );
    }

    /// Removes and returns the answer for `key`, fresh or not.
    pub fn remove(&mut self, key: &CacheKey) -> Option<V> {
        self.entries.pop(key).map(|e| e.value)
    }

    /// Drops every answer of `tenant` (e.g. when it turns caching off);
    /// returns how many were dropped.
    pub fn invalidate_tenant(&mut self, tenant: &TenantId) -> usize {
        let before = self.entries.len();
        self.entries.retain(|k, _| k.tenant() != tenant);
        before - self.entries.len()
    }

    /// Drops every entry not fresh at `now_ms`; returns how many.
    pub fn purge_expired(&mut self, now_ms: u64) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.fresh_at(now_ms));
        before - self.entries.len()
    }

    /// Number of entries, including expired ones not yet met.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most entries the cache holds.
    pub fn capacity(&self) -> NonZeroUsize {
        self.entries.cap()
    }
}

impl<V> fmt::Debug for AnswerCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{KbVersion, Locale};

    fn key(t: &str, q: &str) -> CacheKey {
        CacheKey::new(&TenantId::new(t).unwrap(), KbVersion(1), Locale::Zh, q)
    }

    fn cache(cap: usize) -> AnswerCache<&'static str> {
        AnswerCache::new(NonZeroUsize::new(cap).unwrap())
    }

    #[test]
    fn ttl_boundary_is_half_open() {
        let mut c = cache(4);
        c.insert(key("a", "退款"), "7天内可退", 1_000, 500);
        assert_eq!(c.get(&key("a", "退款"), 1_000), Some(&"7天内可退"));
        assert_eq!(c.get(&key("a", "退款？"), 1_499), Some(&"7天内可退"));
        assert_eq!(c.get(&key("a", "退款"), 1_500), None);
        // The expired entry was dropped, not just hidden.
        assert!(c.is_empty());
    }

    #[test]
    fn clock_going_backwards_is_a_miss() {
        let mut c = cache(4);
        c.insert(key("a", "运费"), "包邮", 10_000, 60_000);
        assert_eq!(c.get(&key("a", "运费"), 9_999), None);
        assert!(c.is_empty());
        // A huge TTL saturates instead of wrapping round to "already expired".
        c.insert(key("a", "运费"), "包邮", u64::MAX - 5, u64::MAX);
        assert_eq!(c.get(&key("a", "运费"), u64::MAX - 1), Some(&"包邮"));
    }

    #[test]
    fn lru_eviction_order() {
        let mut c = cache(2);
        c.insert(key("a", "one"), "1", 0, 1_000);
        c.insert(key("a", "two"), "2", 0, 1_000);
        // Reading "one" makes "two" the least recently used.
        assert_eq!(c.get(&key("a", "one"), 1), Some(&"1"));
        c.insert(key("a", "three"), "3", 2, 1_000);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&key("a", "two"), 3), None);
        assert_eq!(c.get(&key("a", "one"), 3), Some(&"1"));
        assert_eq!(c.get(&key("a", "three"), 3), Some(&"3"));
    }

    #[test]
    fn replace_zero_ttl_and_remove() {
        let mut c = cache(2);
        c.insert(key("a", "q"), "old", 0, 1_000);
        c.insert(key("a", "q"), "new", 10, 1_000);
        assert_eq!(c.get(&key("a", "q"), 20), Some(&"new"));
        c.insert(key("a", "q"), "never", 30, 0);
        assert_eq!(c.get(&key("a", "q"), 30), None);
        c.insert(key("a", "q"), "x", 40, 10);
        assert_eq!(c.remove(&key("a", "q")), Some("x"));
        assert!(c.is_empty());
    }

    #[test]
    fn tenants_are_isolated_and_invalidated_alone() {
        let mut c = cache(8);
        c.insert(key("a", "退款"), "A", 0, 1_000);
        c.insert(key("b", "退款"), "B", 0, 1_000);
        c.insert(key("a", "运费"), "A2", 0, 1_000);
        assert_eq!(c.get(&key("b", "退款"), 1), Some(&"B"));
        assert_eq!(c.invalidate_tenant(&TenantId::new("a").unwrap()), 2);
        assert_eq!(c.get(&key("a", "退款"), 1), None);
        assert_eq!(c.get(&key("b", "退款"), 1), Some(&"B"));
    }

    #[test]
    fn purge_and_debug() {
        let mut c = cache(8);
        c.insert(key("a", "x"), "secret answer", 0, 10);
        c.insert(key("a", "y"), "other", 0, 100);
        assert_eq!(c.purge_expired(50), 1);
        assert_eq!(c.len(), 1);
        let d = alloc::format!("{c:?}");
        assert!(d.contains("len: 1") && !d.contains("other"));
    }
}
