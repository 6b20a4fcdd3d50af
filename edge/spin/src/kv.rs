//! The edge's key-value buckets on one store, bucket as key prefix
//! (`"{bucket}/{key}"`), with an expiry stored next to each value because
//! Spin key-value has no TTL.
//!
//! Stored value: 8 bytes big-endian expiry (ms since the epoch, `0` = never)
//! followed by the value. A read at or past the expiry deletes the entry and
//! answers "absent", as [`kefu_edge::Platform`] requires.
//!
//! Two backends, chosen at build time:
//! - default: Spin key-value (`spin:key-value`), the store labelled
//!   `default` in `spin.toml`;
//! - feature `wasmtime-serve`: instance memory (a `HashMap` in the
//!   component's linear memory), for `wasmtime serve`, which links no
//!   `spin:*` API. See the crate docs for what that means.

use kefu_edge::KvBucket;

/// The store key for `key` in `bucket`.
pub fn store_key(bucket: KvBucket, key: &str) -> String {
    format!("{}/{key}", bucket.as_str())
}

/// `value` with its expiry in front.
pub fn encode(value: &[u8], expires_at_ms: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expires_at_ms.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The value, if `stored` is well-formed and not expired at `now_ms`.
pub fn decode(mut stored: Vec<u8>, now_ms: u64) -> Option<Vec<u8>> {
    let head: [u8; 8] = stored.get(..8)?.try_into().ok()?;
    let exp = u64::from_be_bytes(head);
    if exp != 0 && now_ms >= exp {
        return None;
    }
    stored.drain(..8);
    Some(stored)
}

#[cfg(not(feature = "wasmtime-serve"))]
pub use spin_store::Store;

#[cfg(feature = "wasmtime-serve")]
pub use memory_store::Store;

#[cfg(not(feature = "wasmtime-serve"))]
mod spin_store {
    use std::cell::RefCell;
    use std::rc::Rc;

    use spin_sdk::key_value;

    use kefu_edge::PlatformError;

    fn kv_err(op: &str, e: impl core::fmt::Display) -> PlatformError {
        PlatformError::Kv(format!("{op}: {e}"))
    }

    /// The Spin key-value store labelled `default`, opened on first use.
    #[derive(Default)]
    pub struct Store(RefCell<Option<Rc<key_value::Store>>>);

    impl core::fmt::Debug for Store {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("Store(spin:key-value \"default\")")
        }
    }

    impl Store {
        async fn open(&self) -> Result<Rc<key_value::Store>, PlatformError> {
            if let Some(s) = self.0.borrow().as_ref() {
                return Ok(Rc::clone(s));
            }
            let s = Rc::new(
                key_value::Store::open_default()
                    .await
                    .map_err(|e| kv_err("open", e))?,
            );
            *self.0.borrow_mut() = Some(Rc::clone(&s));
            Ok(s)
        }

        pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PlatformError> {
            self.open()
                .await?
                .get(key)
                .await
                .map_err(|e| kv_err("get", e))
        }

        pub async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), PlatformError> {
            let s = self.open().await?;
            s.set(key, value).await.map_err(|e| kv_err("set", e))
        }

        pub async fn delete(&self, key: &str) -> Result<(), PlatformError> {
            let s = self.open().await?;
            s.delete(key).await.map_err(|e| kv_err("delete", e))
        }

        /// Every key starting with `prefix`.
        pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, PlatformError> {
            let s = self.open().await?;
            let mut keys = s
                .get_keys()
                .await
                .collect()
                .await
                .map_err(|e| kv_err("keys", e))?;
            keys.retain(|k| k.starts_with(prefix));
            Ok(keys)
        }
    }
}

#[cfg(feature = "wasmtime-serve")]
mod memory_store {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use kefu_edge::PlatformError;

    /// Entries past this count are refused, so that a long-lived instance
    /// cannot grow without bound; expired entries are swept first.
    const MAX_ENTRIES: usize = 20_000;

    thread_local! {
        /// The instance's store: it lives as long as the instance does.
        static ENTRIES: RefCell<HashMap<String, Vec<u8>>> = RefCell::new(HashMap::new());
    }

    /// Instance memory, shared by every request the instance serves.
    #[derive(Debug, Default)]
    pub struct Store;

    impl Store {
        pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PlatformError> {
            Ok(ENTRIES.with_borrow(|m| m.get(key).cloned()))
        }

        pub async fn set(&self, key: &str, value: Vec<u8>) -> Result<(), PlatformError> {
            ENTRIES.with_borrow_mut(|m| {
                if m.len() >= MAX_ENTRIES && !m.contains_key(key) {
                    let now = crate::platform::wall_clock_ms();
                    m.retain(|_, v| super::decode(v.clone(), now).is_some());
                    if m.len() >= MAX_ENTRIES {
                        return Err(PlatformError::Kv("set: instance store full".into()));
                    }
                }
                m.insert(key.to_owned(), value);
                Ok(())
            })
        }

        pub async fn delete(&self, key: &str) -> Result<(), PlatformError> {
            ENTRIES.with_borrow_mut(|m| m.remove(key));
            Ok(())
        }

        /// Every key starting with `prefix`.
        pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, PlatformError> {
            Ok(ENTRIES.with_borrow(|m| {
                m.keys()
                    .filter(|k| k.starts_with(prefix))
                    .cloned()
                    .collect()
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_carry_their_expiry() {
        let v = encode(b"abc", Some(1_000));
        assert_eq!(decode(v.clone(), 999).as_deref(), Some(&b"abc"[..]));
        assert_eq!(decode(v, 1_000), None);
        let forever = encode(b"", None);
        assert_eq!(decode(forever, u64::MAX).as_deref(), Some(&b""[..]));
        assert_eq!(decode(vec![1, 2, 3], 0), None);
        assert_eq!(store_key(KvBucket::Outbox, "a/b"), "outbox/a/b");
    }
}
