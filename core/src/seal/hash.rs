//! SM3 (GB/T 32905-2016 = GM/T 0004-2012; in English as [draft-sca-cfrg-sm3])
//! and HMAC-SM3 ([RFC 2104] over SM3), from RustCrypto's `sm3` and `hmac`.
//!
//! [draft-sca-cfrg-sm3]: https://datatracker.ietf.org/doc/draft-sca-cfrg-sm3/
//! [RFC 2104]: https://www.rfc-editor.org/rfc/rfc2104

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sm3::{Digest, Sm3};
use zeroize::Zeroize;

/// Length of an SM3 digest in bytes.
pub const SM3_LEN: usize = 32;

/// SM3's block length, which is also HMAC-SM3's padded key length.
const SM3_BLOCK_LEN: usize = 64;

/// The SM3 digest of `data`.
#[must_use]
pub fn sm3(data: &[u8]) -> [u8; SM3_LEN] {
    Sm3::digest(data).into()
}

/// Incremental SM3: feed data in pieces, get the same digest as [`sm3()`] of
/// the concatenation.
#[derive(Clone, Default)]
pub struct Sm3Hasher {
    inner: Sm3,
}

impl Sm3Hasher {
    /// An empty hasher.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) {
        Digest::update(&mut self.inner, data);
    }

    /// The digest of everything absorbed so far.
    #[must_use]
    pub fn finalize(self) -> [u8; SM3_LEN] {
        self.inner.finalize().into()
    }
}

impl fmt::Debug for Sm3Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The state is derived from possibly secret input: print nothing of it.
        f.write_str("Sm3Hasher { .. }")
    }
}

/// HMAC-SM3 of `data` under `key` (any length, as RFC 2104 allows).
#[must_use]
pub fn hmac_sm3(key: &[u8], data: &[u8]) -> [u8; SM3_LEN] {
    // RFC 2104 section 2: a key longer than the block is hashed first, and
    // then (like any shorter key) padded with zeros to the block length.
    // Doing that here gives `Hmac` a block-sized key, so keying is infallible.
    let mut padded = [0u8; SM3_BLOCK_LEN];
    if key.len() > SM3_BLOCK_LEN {
        let mut digest = sm3(key);
        padded[..SM3_LEN].copy_from_slice(&digest);
        digest.zeroize();
    } else {
        padded[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sm3> as KeyInit>::new((&padded).into());
    padded.zeroize();
    mac.update(data);
    mac.finalize().into_bytes().into()
}
