//! A bounded memory of nonces already seen, for [`super::verify`].

use core::fmt;

use hashbrown::HashMap;

use crate::{Error, Result};

/// The suggested [`ReplayGuard`] capacity: with the default 30 s window a
/// nonce is kept at most 60 s (a timestamp may lead the clock by the window
/// too), so this sustains about 1 000 signed requests per second per guard.
/// At capacity the map takes about 3.2 MiB (2^17 buckets of 25 bytes).
pub const DEFAULT_REPLAY_CAPACITY: usize = 65_536;

/// The nonces of accepted requests, each kept until its expiry
/// (`ts + window`): after that a request carrying it is stale anyway.
///
/// Holds at most `capacity` nonces. When full it first drops expired
/// entries; if none has expired it refuses the new request
/// ([`Error::TooLarge`]) rather than forget a live nonce, which would let a
/// replay through. Size the capacity for peak rate × 2 × window.
///
/// The map uses hashbrown's default hasher. Its keys are nonces of requests
/// whose MAC already verified, so they are not attacker-chosen.
pub struct ReplayGuard {
    seen: HashMap<[u8; 16], u64>,
    capacity: usize,
    /// No entry expires before this; lets a full guard reject in O(1).
    earliest_expiry: u64,
}

impl ReplayGuard {
    /// An empty guard that holds at most `capacity` nonces. Memory grows with
    /// use, not up front.
    pub fn new(capacity: usize) -> ReplayGuard {
        ReplayGuard {
            seen: HashMap::new(),
            capacity,
            earliest_expiry: u64::MAX,
        }
    }

    /// The most nonces this guard holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Nonces held now (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records `nonce` as used until `expires_ms`. [`Error::Replay`] if it is
    /// already held and unexpired at `now_ms`; [`Error::TooLarge`] if the
    /// guard is full of unexpired nonces.
    pub fn check_and_insert(
        &mut self,
        nonce: &[u8; 16],
        expires_ms: u64,
        now_ms: u64,
    ) -> Result<()> {
        match self.seen.get(nonce) {
            Some(&exp) if exp >= now_ms => return Err(Error::Replay),
            Some(_) => {
                // Expired: a new request may use it; replace the entry.
                self.seen.remove(nonce);
            }
            None => {}
        }
        if self.seen.len() >= self.capacity {
            self.evict_expired(now_ms);
            if self.seen.len() >= self.capacity {
                return Err(Error::TooLarge("replay guard is full"));
            }
        }
        self.seen.insert(*nonce, expires_ms);
        self.earliest_expiry = self.earliest_expiry.min(expires_ms);
        Ok(())
    }

    /// Drops every nonce that expired before `now_ms`. O(1) when none can
    /// have, O(len) otherwise.
    pub fn evict_expired(&mut self, now_ms: u64) {
        if self.earliest_expiry >= now_ms {
            return;
        }
        self.seen.retain(|_, exp| *exp >= now_ms);
        self.earliest_expiry = self.seen.values().copied().min().unwrap_or(u64::MAX);
    }
}

impl fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("len", &self.seen.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}
