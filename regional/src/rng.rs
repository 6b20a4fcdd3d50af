//! The operating system's random source, as a kefu-core [`NonceSource`].

use kefu_core::ids::NonceSource;

/// Fresh bytes from the OS RNG (`getrandom`). Used for nonces, data keys and
/// API keys.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsNonces;

impl NonceSource for OsNonces {
    fn fill(&mut self, buf: &mut [u8]) {
        // The OS RNG failing leaves no safe way to continue: a repeated or
        // predictable nonce would break SM4-GCM. Abort rather than go on.
        if let Err(e) = getrandom::fill(buf) {
            tracing::error!(error = %e, "the OS random source failed; aborting");
            std::process::abort();
        }
    }
}

/// A fresh 96-bit GCM nonce.
pub fn nonce() -> [u8; 12] {
    let mut n = [0u8; 12];
    OsNonces.fill(&mut n);
    n
}

/// `n` random bytes as lowercase hex.
pub fn hex_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    OsNonces.fill(&mut b);
    hex::encode(b)
}
